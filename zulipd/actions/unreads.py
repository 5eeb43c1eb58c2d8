"""A user's unread messages by conversation, and their recent direct-message conversations (POST /register).

``unread_msgs`` groups the newest unread messages (at most MAX_UNREAD_MESSAGES)
by one-on-one conversation, channel topic and group conversation. Its
``count`` leaves out muted channel messages (muted topics, and muted channels
outside unmuted or followed topics); ``mentions`` holds every unread direct
mention, and wildcard mentions outside muted conversations. Channels the user
has left are not in it, as in Zulip.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from zulipd.models import MessageFlag
from zulipd.storage.unreads import (
    RECIPIENT_GROUP,
    RECIPIENT_STREAM,
    RECIPIENT_USER,
    ConversationRow,
    newest_direct_rows_txn,
    newest_unread_rows_txn,
)

if TYPE_CHECKING:
    from zulipd.server import Server

MAX_UNREAD_MESSAGES = 50_000
MAX_RECENT_DIRECT_MESSAGES = 1_000
_DIRECT_MENTION = int(MessageFlag.MENTIONED)
_WILDCARD_MENTION = int(MessageFlag.STREAM_WILDCARD_MENTIONED | MessageFlag.TOPIC_WILDCARD_MENTIONED)


def _other_user_id(row: ConversationRow, user_id: int) -> int:
    """The other side of a one-on-one conversation (the user themself for messages to themself)."""
    return row.sender_id if row.recipient_type_id == user_id else row.recipient_type_id


def _counts_as_mention(row: ConversationRow) -> bool:
    """Direct mentions always; wildcard mentions only outside muted topics."""
    return bool(row.flags & _DIRECT_MENTION or (row.flags & _WILDCARD_MENTION and not row.muted))


def message_details(rows: list[ConversationRow], user_id: int) -> dict[str, Any]:
    """Zulip's ``message_details`` of messages marked unread: what a client needs to count them again.

    ``mentioned`` appears only for messages that count as mentions in ``unread_msgs``."""
    details: dict[str, Any] = {}
    for row in rows:
        entry: dict[str, Any]
        if row.recipient_type == RECIPIENT_STREAM:
            entry = {"type": "stream", "stream_id": row.recipient_type_id, "topic": row.topic,
                     "unmuted_stream_msg": not row.channel_muted}  # fmt: skip
        else:
            if row.recipient_type == RECIPIENT_GROUP:
                members = set(row.group_member_ids or ())
            else:
                members = {row.sender_id, row.recipient_type_id}
            entry = {"type": "private", "user_ids": sorted(members - {user_id})}
        if _counts_as_mention(row):
            entry["mentioned"] = True
        details[str(row.message_id)] = entry
    return details


def unread_state(rows: list[ConversationRow], user_id: int, truncated: bool) -> dict[str, Any]:
    """``unread_msgs`` from the newest unread rows, oldest first."""
    direct: dict[int, list[int]] = {}
    topics: dict[tuple[int, str], list[int]] = {}
    groups: dict[str, list[int]] = {}
    mentions: list[int] = []
    count = 0
    for row in rows:
        if row.recipient_type == RECIPIENT_STREAM:
            topics.setdefault((row.recipient_type_id, row.topic), []).append(row.message_id)
        elif row.recipient_type == RECIPIENT_USER:
            direct.setdefault(_other_user_id(row, user_id), []).append(row.message_id)
        elif row.recipient_type == RECIPIENT_GROUP and row.group_member_ids is not None:
            key = ",".join(str(member) for member in sorted(row.group_member_ids))
            groups.setdefault(key, []).append(row.message_id)
        else:
            continue
        if not row.muted:
            count += 1
        if _counts_as_mention(row):
            mentions.append(row.message_id)
    return {
        "count": count,
        "pms": [
            {"other_user_id": other, "sender_id": other, "unread_message_ids": ids}
            for other, ids in sorted(direct.items())
        ],
        "streams": [
            {"stream_id": stream_id, "topic": topic, "unread_message_ids": ids}
            for (stream_id, topic), ids in sorted(topics.items())
        ],
        "huddles": [{"user_ids_string": key, "unread_message_ids": ids} for key, ids in sorted(groups.items())],
        "mentions": mentions,
        "old_unreads_missing": truncated,
    }


def recent_direct_conversations(rows: list[ConversationRow], user_id: int) -> list[dict[str, Any]]:
    """``recent_private_conversations`` from the newest direct-message rows, newest first."""
    newest: dict[tuple[int, ...], int] = {}
    for row in rows:
        if row.recipient_type == RECIPIENT_USER:
            other = _other_user_id(row, user_id)
            others: tuple[int, ...] = () if other == user_id else (other,)
        elif row.recipient_type == RECIPIENT_GROUP and row.group_member_ids is not None:
            others = tuple(sorted(member for member in row.group_member_ids if member != user_id))
        else:
            continue
        newest.setdefault(others, row.message_id)  # rows come newest first
    return [
        {"max_message_id": message_id, "user_ids": list(others)}
        for others, message_id in sorted(newest.items(), key=lambda item: -item[1])
    ]


async def get_unread_state(server: Server, user_id: int) -> dict[str, Any]:
    rows = await server.pool.run_reads("unread messages", newest_unread_rows_txn, user_id, MAX_UNREAD_MESSAGES + 1)
    truncated = len(rows) > MAX_UNREAD_MESSAGES
    return unread_state(rows[1:] if truncated else rows, user_id, truncated)


async def get_recent_direct_conversations(server: Server, user_id: int) -> list[dict[str, Any]]:
    rows = await server.pool.run_reads(
        "recent direct messages", newest_direct_rows_txn, user_id, MAX_RECENT_DIRECT_MESSAGES
    )
    return recent_direct_conversations(rows, user_id)
