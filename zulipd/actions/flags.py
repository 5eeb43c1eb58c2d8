"""Personal message flags: read, starred, collapsed; by ids, by narrow, and the mark-as-read helpers.

A message the user reads through a channel's shared history has no row; it
counts as ``read`` and ``historical``. Changing a flag away from those
defaults (starring it, marking it unread) creates the row, with the
``historical`` flag. Unread messages live only in subscribed channels, so
marking a message unread in a channel the user is not subscribed to is
skipped, and the channel reported.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from zulipd.actions.message_access import InvalidMessage
from zulipd.actions.messages import LARGER_THAN_MAX_MESSAGE_ID, NO_TOPIC
from zulipd.actions.narrow import Term, build_narrow
from zulipd.actions.notify import publish_flags
from zulipd.actions.streams import StreamDoesNotExist, access, get_visible_stream, invalid_stream_id
from zulipd.actions.unreads import message_details
from zulipd.errors import JsonableError
from zulipd.models import MessageFlag, Stream, UserProfile
from zulipd.storage.message_updates import (
    mark_read_txn,
    message_recipients_txn,
    subscribed_recipient_ids_txn,
    user_has_topic_rows_txn,
)
from zulipd.storage.messages import (
    NarrowSql,
    add_historical_rows_txn,
    first_unread_id_txn,
    narrow_ids_txn,
    set_flag_txn,
    user_flags_txn,
)
from zulipd.storage.pool import Transaction
from zulipd.storage.streams import get_stream_by_recipient_txn, get_subscription_txn
from zulipd.storage.unreads import conversation_rows_txn

if TYPE_CHECKING:
    from zulipd.server import Server

EDITABLE_FLAGS = {"read": MessageFlag.READ, "starred": MessageFlag.STARRED, "collapsed": MessageFlag.COLLAPSED}
SERVER_SET_FLAGS = frozenset(
    {
        "mentioned",
        "stream_wildcard_mentioned",
        "topic_wildcard_mentioned",
        "wildcard_mentioned",
        "group_mentioned",
        "has_alert_word",
        "historical",
    }
)
# What a message read through shared history counts as.
HISTORICAL_DEFAULT = MessageFlag.READ | MessageFlag.HISTORICAL
# Zulip bounds one flags-by-narrow request: num_before + num_after is at most this.
MAX_MESSAGES_PER_UPDATE = 5000


@dataclasses.dataclass(frozen=True)
class FlagUpdate:
    flag: MessageFlag
    add: bool

    @property
    def marks_unread(self) -> bool:
        return self.flag == MessageFlag.READ and not self.add


def check_flag_update(op: str, flag: str) -> FlagUpdate:
    if flag not in EDITABLE_FLAGS:
        if flag in SERVER_SET_FLAGS:
            raise JsonableError(f"Flag not editable: '{flag}'")
        raise JsonableError(f"Invalid flag: '{flag}'")
    if op not in ("add", "remove"):
        raise JsonableError(f"Invalid message flag operation: '{op}'")
    return FlagUpdate(EDITABLE_FLAGS[flag], op == "add")


@dataclasses.dataclass
class FlagResult:
    # The messages whose flag changed, ascending.
    changed: list[int]
    # Marking unread: channels whose messages were skipped because the user is not subscribed.
    skipped_channel_ids: list[int] | None


async def update_flags_txn(
    txn: Transaction, user: UserProfile, update: FlagUpdate, message_ids: Sequence[int]
) -> FlagResult:
    """Apply one flag change to messages; "Invalid message(s)" if a row is needed for one the user may not read."""
    ids = sorted(set(message_ids))
    skipped_channels: list[int] | None = None
    if update.marks_unread:
        ids, skipped_channels = await _drop_unsubscribed(txn, user, ids)
    rows = await user_flags_txn(txn, user.id, ids)
    target = int(update.flag) if update.add else 0
    # Without a row a message counts as read and historical; only a change from that needs a row.
    need_rows = [] if (HISTORICAL_DEFAULT & update.flag) == target else [i for i in ids if i not in rows]
    if need_rows:
        readable = await _readable_through_history(txn, user, need_rows)
        if len(readable) != len(need_rows):
            raise InvalidMessage()
        flags = (HISTORICAL_DEFAULT | update.flag) if update.add else (HISTORICAL_DEFAULT & ~update.flag)
        await add_historical_rows_txn(txn, user.id, need_rows, int(flags))
    changed = await set_flag_txn(txn, user.id, sorted(rows), int(update.flag), update.add) if rows else []
    return FlagResult(sorted({*changed, *need_rows}), skipped_channels)


async def _drop_unsubscribed(txn: Transaction, user: UserProfile, ids: list[int]) -> tuple[list[int], list[int]]:
    """The ids without channel messages outside the user's subscriptions, and those channels' ids.

    Only channels the user may read are reported, so that ids cannot be used to probe for private channels.
    """
    recipients = await message_recipients_txn(txn, user.realm_id, ids)
    channel_recipients = {recipient for recipient, is_channel in recipients.values() if is_channel}
    subscribed = await subscribed_recipient_ids_txn(txn, user.id, sorted(channel_recipients))
    unsubscribed = channel_recipients - subscribed
    if not unsubscribed:
        return ids, []
    kept = [i for i in ids if i not in recipients or recipients[i][0] not in unsubscribed]
    skipped = [i for i in ids if i in recipients and recipients[i][0] in unsubscribed]
    rows = await user_flags_txn(txn, user.id, skipped)
    reported: set[int] = set()
    for recipient_id in sorted(unsubscribed):
        stream = await get_stream_by_recipient_txn(txn, recipient_id)
        if stream is None:
            continue
        has_row = any(rows.get(i) is not None for i in skipped if recipients[i][0] == recipient_id)
        if has_row or await _channel_history(txn, user, stream) == "full":
            reported.add(stream.id)
    return kept, sorted(reported)


async def _channel_history(txn: Transaction, user: UserProfile, stream: Stream) -> str:
    return access(user, stream, await get_subscription_txn(txn, user.id, stream.recipient_id)).history


async def _readable_through_history(txn: Transaction, user: UserProfile, ids: list[int]) -> list[int]:
    """The ids among ``ids`` that the user may read without a row: channel messages with shared history."""
    recipients = await message_recipients_txn(txn, user.realm_id, ids)
    history: dict[int, str] = {}
    readable = []
    for message_id in ids:
        if message_id not in recipients:
            continue
        recipient_id, is_channel = recipients[message_id]
        if not is_channel:
            continue
        if recipient_id not in history:
            stream = await get_stream_by_recipient_txn(txn, recipient_id)
            history[recipient_id] = "none" if stream is None else await _channel_history(txn, user, stream)
        if history[recipient_id] == "full":
            readable.append(message_id)
    return readable


async def do_update_message_flags(
    server: Server, user: UserProfile, update: FlagUpdate, message_ids: Sequence[int]
) -> FlagResult:
    async def run(txn: Transaction) -> tuple[FlagResult, dict[str, Any] | None]:
        result = await update_flags_txn(txn, user, update, message_ids)
        return result, await _unread_details(txn, user, update, result)

    result, details = await server.pool.run_interaction("update message flags", run)
    _publish(server, user, update, result, details)
    return result


async def _unread_details(
    txn: Transaction, user: UserProfile, update: FlagUpdate, result: FlagResult
) -> dict[str, Any] | None:
    """Marking unread: Zulip's message_details, read with the change."""
    if not update.marks_unread or not result.changed:
        return None
    return message_details(await conversation_rows_txn(txn, user.id, result.changed), user.id)


def _publish(
    server: Server, user: UserProfile, update: FlagUpdate, result: FlagResult, details: dict[str, Any] | None
) -> None:
    flag = next(name for name, value in EDITABLE_FLAGS.items() if value == update.flag)
    op = "add" if update.add else "remove"
    publish_flags(server, user.id, op, flag, result.changed, message_details=details)


@dataclasses.dataclass
class NarrowFlagResult:
    processed: list[int]
    result: FlagResult
    found_oldest: bool
    found_newest: bool
    message_details: dict[str, Any] | None = None


def bounded_range(num_before: int, num_after: int) -> tuple[int, int]:
    """Zulip's clamp: num_before + num_after at most MAX_MESSAGES_PER_UPDATE, each side keeping at least half."""
    num_before = min(num_before, max(MAX_MESSAGES_PER_UPDATE - num_after, MAX_MESSAGES_PER_UPDATE // 2))
    num_after = min(num_after, MAX_MESSAGES_PER_UPDATE - num_before)
    return num_before, num_after


async def do_update_flags_for_narrow(
    server: Server,
    user: UserProfile,
    update: FlagUpdate,
    terms: list[Term],
    anchor: int | str,
    include_anchor: bool,
    num_before: int,
    num_after: int,
) -> NarrowFlagResult:
    """Change a flag on a range of a narrow, the range found and changed in one transaction."""
    if num_before > 0 and num_after > 0 and not include_anchor:
        raise JsonableError("The anchor can only be excluded at an end of the range")
    num_before, num_after = bounded_range(num_before, num_after)
    narrow = await build_narrow(server, user, terms)

    async def run(txn: Transaction) -> NarrowFlagResult:
        anchor_id = await _anchor_id(txn, narrow, anchor)
        before, after = await narrow_ids_txn(txn, narrow, anchor_id, num_before, num_after, include_anchor)
        # The query reads one row more than num_after in case it is the anchor; when it is not, drop it.
        at_anchor = [row[0] for row in after if row[0] == anchor_id]
        after_anchor = [row[0] for row in after if row[0] != anchor_id]
        processed = [row[0] for row in reversed(before)] + at_anchor + after_anchor[:num_after]
        result = await update_flags_txn(txn, user, update, processed)
        return NarrowFlagResult(
            processed=processed,
            result=result,
            found_oldest=len(before) < num_before or anchor_id == 0,
            found_newest=len(after_anchor) < num_after or anchor_id == LARGER_THAN_MAX_MESSAGE_ID,
            message_details=await _unread_details(txn, user, update, result),
        )

    done = await server.pool.run_interaction("update flags for narrow", run)
    _publish(server, user, update, done.result, done.message_details)
    return done


async def _anchor_id(txn: Transaction, narrow: NarrowSql, anchor: int | str) -> int:
    if anchor == "newest":
        return LARGER_THAN_MAX_MESSAGE_ID
    if anchor == "oldest":
        return 0
    if anchor == "first_unread":
        first_unread = await first_unread_id_txn(txn, narrow)
        return first_unread if first_unread is not None else LARGER_THAN_MAX_MESSAGE_ID
    if isinstance(anchor, int) and anchor >= 0:
        return anchor
    raise JsonableError("Invalid anchor")


async def do_mark_all_as_read(server: Server, user: UserProfile) -> list[int]:
    changed = await server.pool.run_interaction("mark all as read", mark_read_txn, user.id, None, None)
    publish_flags(server, user.id, "add", "read", changed)
    return changed


async def readable_stream(server: Server, user: UserProfile, stream_id: int) -> Stream:
    """An active channel whose messages the user may read, else "Invalid channel ID"."""
    try:
        stream, stream_access = await get_visible_stream(server, user, stream_id)
    except StreamDoesNotExist:
        raise invalid_stream_id() from None
    if stream_access.history == "none" or stream.deactivated:
        raise invalid_stream_id()
    return stream


async def do_mark_stream_as_read(server: Server, user: UserProfile, stream_id: int) -> list[int]:
    stream = await readable_stream(server, user, stream_id)
    changed = await server.pool.run_interaction(
        "mark stream as read", mark_read_txn, user.id, stream.recipient_id, None
    )
    publish_flags(server, user.id, "add", "read", changed)
    return changed


async def do_mark_topic_as_read(server: Server, user: UserProfile, stream_id: int, topic_name: str) -> list[int]:
    stream = await readable_stream(server, user, stream_id)
    # The empty topic is stored under its display name, as sending does.
    topic = topic_name.strip() or NO_TOPIC

    async def mark(txn: Transaction) -> list[int]:
        if not await user_has_topic_rows_txn(txn, user.id, stream.recipient_id, topic):
            raise JsonableError(f"No such topic '{topic_name}'")
        return await mark_read_txn(txn, user.id, stream.recipient_id, topic)

    changed = await server.pool.run_interaction("mark topic as read", mark)
    publish_flags(server, user.id, "add", "read", changed)
    return changed
