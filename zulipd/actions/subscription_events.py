"""The events of joining and leaving channels, sent once the change has committed.

As in Zulip: a new channel is announced (``stream``/``create``) to everyone
who may see it, and an existing one to a new subscriber who could not see it
before; each new subscriber gets its subscription objects
(``subscription``/``add``, with the subscriber lists); and everyone else who
may see the channel's subscribers hears who joined (``peer_add``). Leaving is
``subscription``/``remove`` for the one who left and ``peer_remove`` for the
others. Who may see a channel's subscribers: for a public channel, every
active member who is not a guest, plus its subscribers; for a private one, its
subscribers.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from zulipd.actions.notify import publish
from zulipd.actions.stream_dicts import stream_payload, subscription_payload
from zulipd.actions.streams import ARCHIVED_CHANNELS, api_channel_settings, public_channel_viewers, subscriber_ids
from zulipd.models import Realm, Stream
from zulipd.storage.streams import subscriptions_of_user_txn

if TYPE_CHECKING:
    from zulipd.server import Server


def _who_sees(stream: Stream, subscribers: Sequence[int], members: set[int]) -> set[int]:
    return set(subscribers) if stream.invite_only else members | set(subscribers)


def archived_only(stream: Stream) -> tuple[str, bool] | None:
    """For an archived channel, only the queues that keep archived channels (``archived_channels``) hear of it."""
    return (ARCHIVED_CHANNELS, True) if stream.deactivated else None


def _peer_event(op: str, stream: Stream, user_ids: Sequence[int]) -> dict[str, Any]:
    return {"type": "subscription", "op": op, "stream_ids": [stream.id], "user_ids": sorted(user_ids)}


async def publish_subscribed(
    server: Server, realm: Realm, created: Sequence[Stream], added: Sequence[tuple[Stream, list[int]]]
) -> None:
    streams = {stream.id: stream for stream in created}
    streams.update((stream.id, stream) for stream, user_ids in added if user_ids)
    if not streams:
        return
    ordered = list(streams.values())
    settings = await api_channel_settings(server, realm, ordered)
    subscribers = await subscriber_ids(server, ordered)
    members = await public_channel_viewers(server, realm)
    for stream in created:
        body = {"type": "stream", "op": "create", "streams": [stream_payload(stream, settings[stream.id])]}
        publish(server, body, _who_sees(stream, subscribers[stream.id], members))
    # Those who could not see a channel before joining it are told of it first, as in Zulip.
    for stream, user_ids in added:
        newly_seeing = [user_id for user_id in user_ids if stream.invite_only or user_id not in members]
        if stream.id not in {new.id for new in created} and newly_seeing:
            body = {"type": "stream", "op": "create", "streams": [stream_payload(stream, settings[stream.id])]}
            publish(server, body, newly_seeing)
    joined: dict[int, list[Stream]] = {}
    for stream, user_ids in added:
        for user_id in user_ids:
            joined.setdefault(user_id, []).append(stream)
    for user_id, their_streams in joined.items():
        rows = await server.pool.run_reads("subscriptions", subscriptions_of_user_txn, user_id)
        by_recipient = {row.recipient_id: row for row in rows}
        payloads = [
            subscription_payload(stream, settings[stream.id], by_recipient[stream.recipient_id], subscribers[stream.id])
            for stream in their_streams
            if stream.recipient_id in by_recipient
        ]
        publish(server, {"type": "subscription", "op": "add", "subscriptions": payloads}, [user_id])
    for stream, user_ids in added:
        if not user_ids:
            continue
        peers = _who_sees(stream, subscribers[stream.id], members) - set(user_ids)
        publish(server, _peer_event("peer_add", stream, user_ids), peers, capability=archived_only(stream))


async def publish_unsubscribed(server: Server, realm: Realm, removed: Sequence[tuple[Stream, int]]) -> None:
    if not removed:
        return
    left: dict[int, list[Stream]] = {}
    by_stream: dict[int, tuple[Stream, list[int]]] = {}
    for stream, user_id in removed:
        left.setdefault(user_id, []).append(stream)
        by_stream.setdefault(stream.id, (stream, []))[1].append(user_id)
    for user_id, their_streams in left.items():
        for archived in (False, True):
            gone = [{"name": s.name, "stream_id": s.id} for s in their_streams if s.deactivated == archived]
            if gone:
                body = {"type": "subscription", "op": "remove", "subscriptions": gone}
                publish(server, body, [user_id], capability=(ARCHIVED_CHANNELS, True) if archived else None)
    streams = [stream for stream, _ in by_stream.values()]
    subscribers = await subscriber_ids(server, streams)
    members = await public_channel_viewers(server, realm)
    for stream, user_ids in by_stream.values():
        peers = _who_sees(stream, subscribers[stream.id], members) - set(user_ids)
        publish(server, _peer_event("peer_remove", stream, user_ids), peers, capability=archived_only(stream))
