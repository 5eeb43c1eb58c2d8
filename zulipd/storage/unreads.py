"""SQL for a user's unread messages and recent direct-message conversations, as POST /register reports them."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

from zulipd.storage.pool import Transaction

RECIPIENT_USER, RECIPIENT_STREAM, RECIPIENT_GROUP = 1, 2, 3


@dataclasses.dataclass(frozen=True)
class ConversationRow:
    """A message of the user's, with where it was sent: a user, a channel or a direct-message group."""

    message_id: int
    flags: int
    sender_id: int
    recipient_type: int
    # The receiving user's id, the channel's id, or the direct-message group's id.
    recipient_type_id: int
    topic: str
    # A direct-message group's members (everyone, the user included); None otherwise.
    group_member_ids: list[int] | None
    # A channel message in a topic the user muted, or in a muted channel outside unmuted or followed topics.
    muted: bool
    # A channel message in a channel the user muted (whatever the topic's own preference).
    channel_muted: bool


_SELECT = """
    SELECT um.message_id, um.flags, m.sender_id, r.type, r.type_id, m.subject, g.member_ids,
           r.type = 2 AND (coalesce(ut.visibility_policy, 0) = 1
                            OR (coalesce(sub.is_muted, false) AND coalesce(ut.visibility_policy, 0) NOT IN (2, 3))),
           r.type = 2 AND coalesce(sub.is_muted, false)
      FROM user_message um
      JOIN message m ON m.id = um.message_id
      JOIN recipient r ON r.id = m.recipient_id
      LEFT JOIN direct_message_group g ON r.type = 3 AND g.id = r.type_id
      LEFT JOIN subscription sub ON r.type = 2 AND sub.user_id = um.user_id AND sub.recipient_id = r.id
      LEFT JOIN user_topic ut ON r.type = 2 AND ut.user_id = um.user_id AND ut.stream_id = r.type_id
                             AND lower(ut.topic_name) = lower(m.subject)
"""


def _row(row: tuple[object, ...]) -> ConversationRow:
    message_id, flags, sender_id, kind, type_id, topic, members, muted, channel_muted = row
    return ConversationRow(
        int(message_id),  # type: ignore[call-overload]
        int(flags),  # type: ignore[call-overload]
        int(sender_id),  # type: ignore[call-overload]
        int(kind),  # type: ignore[call-overload]
        int(type_id),  # type: ignore[call-overload]
        str(topic),
        None if members is None else [int(member) for member in members],  # type: ignore[attr-defined]
        bool(muted),
        bool(channel_muted),
    )


async def newest_unread_rows_txn(txn: Transaction, user_id: int, limit: int) -> list[ConversationRow]:
    """The user's ``limit`` newest unread messages, oldest first: direct messages, and channel messages of
    channels the user is subscribed to (the unread partial index serves it)."""
    rows = await txn.fetch_all(
        _SELECT
        + """ WHERE um.user_id = %s AND um.flags & 1 = 0 AND (r.type <> 2 OR sub.active)
              ORDER BY um.message_id DESC LIMIT %s""",
        (user_id, limit),
    )
    return [_row(row) for row in reversed(rows)]


async def newest_direct_rows_txn(txn: Transaction, user_id: int, limit: int) -> list[ConversationRow]:
    """The user's ``limit`` newest direct messages, sent or received, newest first (the private partial index)."""
    rows = await txn.fetch_all(
        _SELECT + " WHERE um.user_id = %s AND um.flags & 256 <> 0 ORDER BY um.message_id DESC LIMIT %s",
        (user_id, limit),
    )
    return [_row(row) for row in rows]


async def conversation_rows_txn(txn: Transaction, user_id: int, message_ids: Sequence[int]) -> list[ConversationRow]:
    """The user's rows of these messages, in id order (messages without a row are left out)."""
    rows = await txn.fetch_all(
        _SELECT + " WHERE um.user_id = %s AND um.message_id = ANY(%s) ORDER BY um.message_id",
        (user_id, list(message_ids)),
    )
    return [_row(row) for row in rows]
