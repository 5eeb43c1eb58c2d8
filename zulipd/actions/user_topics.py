"""Personal topic preferences: muting, unmuting and following topics.

A user may set a preference only in a channel they can read. Removing one is
also allowed where they already have preferences, so that someone who lost
access to a channel can still clear what they set there; a channel they cannot
read and never had preferences in answers as if it did not exist.

Topics match without regard to case, as in Zulip. An empty topic is the
channel's "(no topic)" topic, which is how zulipd stores topic-less messages.
The ``user_topic`` event that tells the user's other clients comes with the
events system.
"""

from __future__ import annotations

import enum
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from zulipd.actions.messages import MAX_TOPIC_LENGTH, NO_TOPIC
from zulipd.actions.notify import publish_user_topic
from zulipd.actions.streams import access
from zulipd.errors import JsonableError
from zulipd.models import Stream, UserProfile
from zulipd.storage.pool import Transaction
from zulipd.storage.streams import get_stream_by_name_txn, get_stream_txn, get_subscription_txn
from zulipd.storage.user_topics import has_user_topics_in_stream_txn, set_user_topic_txn

if TYPE_CHECKING:
    from zulipd.server import Server

_INTEGER_MAX = 2**31 - 1


class VisibilityPolicy(enum.IntEnum):
    INHERIT = 0
    MUTED = 1
    UNMUTED = 2
    FOLLOWED = 3


def check_user_topic_name(topic: str) -> str:
    topic = topic.strip()
    if len(topic) > MAX_TOPIC_LENGTH:
        raise JsonableError(f"Topic is too long (limit: {MAX_TOPIC_LENGTH} characters)")
    if any(ord(character) < 32 for character in topic):
        raise JsonableError("Invalid characters in topic")
    return topic or NO_TOPIC


def check_exactly_one_stream(stream_id: int | None, stream: str | None) -> None:
    """For routes that take a channel by id or by name."""
    if stream_id is None and stream is None:
        raise JsonableError("Missing 'stream_id' argument")
    if stream_id is not None and stream is not None:
        raise JsonableError("Unsupported parameter combination: stream_id, stream", parameters="stream_id, stream")


async def do_set_user_topic_visibility_policy(
    server: Server,
    user: UserProfile,
    topic: str,
    policy: VisibilityPolicy,
    *,
    stream_id: int | None = None,
    stream_name: str | None = None,
    no_access_error: JsonableError,
) -> bool:
    """Set ``user``'s preference for a topic of the channel named by id or by name; whether it changed.

    ``no_access_error`` is what a channel the user may not use answers (Zulip's wording differs by route).
    """
    topic_name = check_user_topic_name(topic)
    now = datetime.fromtimestamp(server.clock.seconds(), UTC)

    async def change(txn: Transaction) -> tuple[int, bool]:
        stream: Stream | None = None
        if stream_id is not None:
            if 0 < stream_id <= _INTEGER_MAX:
                stream = await get_stream_txn(txn, user.realm_id, stream_id)
        elif stream_name is not None:
            stream = await get_stream_by_name_txn(txn, user.realm_id, stream_name.strip())
        if stream is None:
            raise no_access_error
        subscription = await get_subscription_txn(txn, user.id, stream.recipient_id)
        readable = access(user, stream, subscription).history != "none"
        if not readable and not (
            policy == VisibilityPolicy.INHERIT and await has_user_topics_in_stream_txn(txn, user.id, stream.id)
        ):
            raise no_access_error
        return stream.id, await set_user_topic_txn(txn, user.id, stream.id, topic_name, int(policy), now)

    changed_stream_id, changed = await server.pool.run_interaction("user topic", change)
    if changed:
        publish_user_topic(server, user.id, changed_stream_id, topic_name, int(policy), now)
    return changed
