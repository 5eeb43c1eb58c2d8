"""The channels messages are sent to, and their senders' subscriptions, kept in memory.

Every channel message needs its channel (by id or by name) and the sender's
subscription to it before it can be checked and rendered: a database round trip
on each send, for rows that rarely change. This cache holds both.

It forgets what a change makes stale:
- in this process, at once, when the transaction that changed it commits: the
  storage functions that change channels and subscriptions announce it
  (``Transaction.announce_on_commit``), and ``Server.handle_invalidation`` calls
  ``forget_channels`` or ``forget_subscribers``;
- in every process, through the database: triggers on ``stream`` and
  ``subscription`` send ``channels:<realm id>`` and ``subscribers:<recipient id>``
  over LISTEN/NOTIFY when any change commits, whoever made it
  (``zulipd.storage.notifications``);
- all of it, when the invalidation listener may have missed messages.

A lookup that an invalidation overtook is answered but not kept. Misses (no
such channel) are not kept either: a new channel needs no invalidation.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from zulipd.models import Stream, Subscription, UserProfile
from zulipd.storage.streams import stream_and_subscription_txn

if TYPE_CHECKING:
    from zulipd.server import Server

# Past this many entries of a kind, the cache starts again empty rather than grow.
MAX_CHANNELS = 10_000
MAX_SUBSCRIPTIONS = 100_000


class ChannelAccessCache:
    def __init__(self, server: Server) -> None:
        self._server = server
        # (realm id, channel id) and (realm id, name as asked) -> the channel.
        self._by_id: dict[tuple[int, int], Stream] = {}
        self._by_name: dict[tuple[int, str], Stream] = {}
        # (user id, recipient id) -> the user's subscription, or None for none.
        self._subscriptions: dict[tuple[int, int], Subscription | None] = {}
        # Recipient id -> the users whose subscription to it is kept.
        self._users_by_recipient: dict[int, set[int]] = {}
        # Bumped by every forget: a lookup that started before must not be kept.
        self._generation = 0

    @property
    def cached_subscriptions(self) -> int:
        return len(self._subscriptions)

    async def lookup(
        self, user: UserProfile, *, stream_id: int | None = None, name: str | None = None
    ) -> tuple[Stream | None, Subscription | None]:
        """The channel of the user's organization with this id or this name (any case), and the user's
        subscription to it: what ``stream_and_subscription_txn`` reads, from memory when it can."""
        stream = self._by_id.get((user.realm_id, stream_id)) if stream_id is not None else None
        if name is not None:
            stream = self._by_name.get((user.realm_id, name))
        if stream is not None:
            key = (user.id, stream.recipient_id)
            if key in self._subscriptions:
                return stream, self._subscriptions[key]
        generation = self._generation
        stream, subscription = await self._server.pool.run_reads(
            "get stream", stream_and_subscription_txn, user.realm_id, user.id, stream_id=stream_id, name=name
        )
        if stream is not None and generation == self._generation:
            self._keep(user, stream, subscription, name)
        return stream, subscription

    def _keep(self, user: UserProfile, stream: Stream, subscription: Subscription | None, name: str | None) -> None:
        if len(self._by_id) + len(self._by_name) >= MAX_CHANNELS:
            self._by_id.clear()
            self._by_name.clear()
        if len(self._subscriptions) >= MAX_SUBSCRIPTIONS:
            self._subscriptions.clear()
            self._users_by_recipient.clear()
        self._by_id[(user.realm_id, stream.id)] = stream
        if name is not None:
            self._by_name[(user.realm_id, name)] = stream
        self._subscriptions[(user.id, stream.recipient_id)] = subscription
        self._users_by_recipient.setdefault(stream.recipient_id, set()).add(user.id)

    def forget_channels(self, realm_id: int) -> None:
        """A channel of the organization changed (its name, its settings, archived): forget them all."""
        self._generation += 1
        for stream_key in [key for key in self._by_id if key[0] == realm_id]:
            del self._by_id[stream_key]
        for name_key in [key for key in self._by_name if key[0] == realm_id]:
            del self._by_name[name_key]

    def forget_subscribers(self, recipient_id: int) -> None:
        """Someone's subscription to this recipient changed, or was made."""
        self._generation += 1
        for user_id in self._users_by_recipient.pop(recipient_id, ()):
            self._subscriptions.pop((user_id, recipient_id), None)

    def forget(self) -> None:
        self._generation += 1
        self._by_id.clear()
        self._by_name.clear()
        self._subscriptions.clear()
        self._users_by_recipient.clear()
