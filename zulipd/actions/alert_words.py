"""Alert words: words or phrases that flag the messages containing them for the user who set them.

As in Zulip, a word keeps the case it was added with and words are compared
without regard to case (``str.lower()``): adding ``ALERT`` when ``alert`` is
there adds nothing, and removing ``Alert`` removes ``alert``. Added words are
trimmed, and those left empty are dropped; each may be 100 characters long
before trimming. Removing a word the user does not have is not an error. Every
add or remove, whether or not it changed anything, answers with the user's
whole list and sends it in an ``alert_words`` event to the user's own queues,
as Zulip's do. Bots may have alert words too: Zulip does not restrict them.

The message send and edit paths find whose words a message contains with the
organization's ``AlertWordMatcher`` (``realm_alert_word_matcher``), kept in
memory per organization and dropped whenever a user of it changes their words,
in this process at once and in the others through the database's NOTIFY.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import TYPE_CHECKING, Any

from twisted.internet.defer import Deferred
from twisted.python.failure import Failure

from zulipd.actions.notify import publish
from zulipd.errors import JsonableError
from zulipd.models import UserProfile
from zulipd.render.alert_words import AlertWordMatcher
from zulipd.storage.alert_words import (
    add_alert_words_txn,
    realm_alert_words_txn,
    remove_alert_words_txn,
    user_alert_words_txn,
)
from zulipd.storage.notifications import notify_txn
from zulipd.storage.pool import Transaction
from zulipd.storage.streams import is_storable_text
from zulipd.storage.users import lock_user_txn

if TYPE_CHECKING:
    from zulipd.server import Server

MAX_ALERT_WORD_LENGTH = 100
# The invalidation message (storage/notifications.py) of an organization's alert words.
INVALIDATION_KIND = "alert_words"


def check_alert_words_to_add(words: Sequence[Any]) -> list[str]:
    """The words of ``POST /users/me/alert_words``, checked in order as Zulip checks them, then trimmed,
    without the empty ones."""
    checked = []
    for index, word in enumerate(words):
        if not isinstance(word, str):
            raise JsonableError(f"alert_words[{index}] is not a string")
        if len(word) > MAX_ALERT_WORD_LENGTH:
            raise JsonableError(f"alert_words[{index}] is too long (limit: {MAX_ALERT_WORD_LENGTH} characters)")
        if not is_storable_text(word):
            # NUL or a lone surrogate: PostgreSQL cannot hold either (Zulip fails on them).
            raise JsonableError(f"Invalid character in alert_words[{index}]")
        checked.append(word.strip())
    return [word for word in checked if word]


def _new_words(existing: Sequence[str], added: Sequence[str]) -> list[tuple[str, str]]:
    """Zulip's rule: a word whose lower-cased form the user has is skipped; of several added words with one
    lower-cased form, the last one's spelling is kept, in the place the first one had."""
    have = {word.lower() for word in existing}
    by_lowered: dict[str, str] = {}
    for word in added:
        lowered = word.lower()
        if lowered not in have:
            by_lowered[lowered] = word
    return [(word, lowered) for lowered, word in by_lowered.items()]


async def _change_alert_words(
    server: Server, user: UserProfile, description: str, change: Callable[[Transaction], Awaitable[None]]
) -> list[str]:
    """Run ``change(txn)`` with the user's row locked, so that each change reads the list the last one left;
    then (the matcher dropped by its invalidation, see notify_txn) tell the user's queues the new list."""

    async def run(txn: Transaction) -> list[str]:
        if await lock_user_txn(txn, user.id) is None:
            raise JsonableError("No such user")
        await change(txn)
        await notify_txn(txn, f"{INVALIDATION_KIND}:{user.realm_id}")
        return await user_alert_words_txn(txn, user.id)

    # The commit's announcement has this process drop the matcher; others hear by NOTIFY.
    words = await server.pool.run_interaction(description, run)
    publish(server, {"type": "alert_words", "alert_words": words}, [user.id])
    return words


async def do_add_alert_words(server: Server, user: UserProfile, words: Sequence[str]) -> list[str]:
    """Add checked words (``check_alert_words_to_add``); the user's words afterwards."""

    async def add(txn: Transaction) -> None:
        existing = await user_alert_words_txn(txn, user.id)
        await add_alert_words_txn(txn, user.id, user.realm_id, _new_words(existing, words))

    return await _change_alert_words(server, user, "add alert words", add)


async def do_remove_alert_words(server: Server, user: UserProfile, words: Sequence[str]) -> list[str]:
    """Remove the user's words equal to any of ``words`` but for case (as sent: Zulip trims nothing here);
    the user's words afterwards."""
    # A word PostgreSQL could not hold was never stored, so there is nothing to remove for it.
    lowered = sorted({word.lower() for word in words if is_storable_text(word)})

    async def remove(txn: Transaction) -> None:
        await remove_alert_words_txn(txn, user.id, lowered)

    return await _change_alert_words(server, user, "remove alert words", remove)


async def get_alert_words(server: Server, user: UserProfile) -> list[str]:
    """The user's alert words, in the order they were added (``GET /users/me/alert_words``, the register state)."""
    return await server.pool.run_reads("alert words", user_alert_words_txn, user.id)


class AlertWordMatchers:
    """Each organization's ``AlertWordMatcher``, built on first use and kept until its words change.

    Requests that need a matcher while it is being built wait for that build
    instead of starting their own. A build that an invalidation overtook is
    handed to those who asked before it, and not kept.
    """

    def __init__(self, server: Server) -> None:
        self._server = server
        self._matchers: dict[int, AlertWordMatcher] = {}
        # Realm id -> those waiting for the build in progress.
        self._loading: dict[int, list[Deferred[AlertWordMatcher]]] = {}
        # Bumped by forget(): a build that started before must not be kept.
        self._generation = 0

    async def for_realm(self, realm_id: int) -> AlertWordMatcher:
        matcher = self._matchers.get(realm_id)
        if matcher is not None:
            return matcher
        waiting = self._loading.get(realm_id)
        if waiting is not None:
            waiter: Deferred[AlertWordMatcher] = Deferred()
            waiting.append(waiter)
            return await waiter
        waiting = self._loading[realm_id] = []
        generation = self._generation
        try:
            words = await self._server.pool.run_reads("realm alert words", realm_alert_words_txn, realm_id)
            matcher = AlertWordMatcher.build(words)
        except BaseException:
            failure = Failure()
            self._done_loading(realm_id, waiting)
            for waiter in waiting:
                waiter.errback(failure)
            raise
        self._done_loading(realm_id, waiting)
        if generation == self._generation:
            self._matchers[realm_id] = matcher
        for waiter in waiting:
            waiter.callback(matcher)
        return matcher

    def _done_loading(self, realm_id: int, waiting: list[Deferred[AlertWordMatcher]]) -> None:
        if self._loading.get(realm_id) is waiting:
            del self._loading[realm_id]

    def forget(self, realm_id: int | None = None) -> None:
        """Drop one organization's matcher (or all): its words changed, or may have."""
        self._generation += 1
        if realm_id is None:
            self._matchers.clear()
            self._loading.clear()
        else:
            self._matchers.pop(realm_id, None)
            # Later requests start a build of their own, which sees the change.
            self._loading.pop(realm_id, None)


async def realm_alert_word_matcher(server: Server, realm_id: int) -> AlertWordMatcher:
    """The organization's alert words, ready to match messages; cheap to call for every message.

    The matcher holds every user of the organization who has alert words,
    deactivated users included: intersect ``matcher.user_ids_in(text)`` with
    the message's recipients (and skip the match when ``matcher.user_ids`` and
    the recipients do not meet).

    The sender's own words count, as in Zulip: Zulip sets ``has_alert_word`` on
    every recipient's copy of a message whose rendering found that user's
    words, the sender's own copy included (a user who writes one of their own
    alert words gets the flag on their copy). It shows no notification for
    one's own messages, but that is the client's doing, not the flag's. On an
    edit of the content Zulip matches the new text and sets or clears the flag
    on each copy, the sender's included.
    """
    return await server.alert_word_matchers.for_realm(realm_id)
