"""Who may read which message: the one check every message route goes through.

A user reads a message they have a row for (they received it, or reached it
through shared history and marked it), or a channel message whose channel
history they may read in full. Everything else, including messages of other
organizations and ids that do not exist, gets the same "Invalid message(s)".
"""

from __future__ import annotations

import dataclasses

from zulipd.actions.streams import Access, access
from zulipd.errors import JsonableError
from zulipd.models import Message, Stream, UserProfile
from zulipd.storage.message_updates import lock_message_txn
from zulipd.storage.messages import get_messages_txn, message_audience_txn, user_flags_txn
from zulipd.storage.pool import Transaction
from zulipd.storage.streams import get_stream_by_recipient_txn, get_subscription_txn


class InvalidMessage(JsonableError):
    def __init__(self) -> None:
        super().__init__("Invalid message(s)")


@dataclasses.dataclass(frozen=True)
class AccessedMessage:
    message: Message
    # The user's flags; None when the message is read through the channel's shared history.
    flags: int | None
    # For channel messages: the channel and what the user may do there.
    stream: Stream | None
    stream_access: Access | None


async def access_message_txn(
    txn: Transaction, user: UserProfile, message_id: int, *, lock: bool = False, modifying: bool = False
) -> AccessedMessage:
    """A message the user may read, else "Invalid message(s)" (the same answer whether it exists or not).

    ``lock`` holds the message row until the transaction ends, so that changes to one message queue up.
    ``modifying``: the caller changes the message (edit, move, delete, react), which an archived
    channel's messages refuse, as in Zulip.
    """
    if lock:
        message = await lock_message_txn(txn, message_id)
    else:
        found = await get_messages_txn(txn, [message_id])
        message = found[0] if found else None
    if message is None or message.realm_id != user.realm_id:
        raise InvalidMessage()
    flags = (await user_flags_txn(txn, user.id, [message_id])).get(message_id)
    stream: Stream | None = None
    stream_access: Access | None = None
    if message.is_channel_message:
        stream = await get_stream_by_recipient_txn(txn, message.recipient_id)
        if stream is not None:
            subscription = await get_subscription_txn(txn, user.id, stream.recipient_id)
            stream_access = access(user, stream, subscription)
    if flags is None and (stream_access is None or stream_access.history != "full"):
        raise InvalidMessage()
    if modifying and stream is not None and stream.deactivated:
        raise InvalidMessage()
    return AccessedMessage(message, flags, stream, stream_access)


async def audience_txn(txn: Transaction, accessed: AccessedMessage) -> list[int]:
    """Who hears of a change to the message: everyone who may read it now."""
    stream = accessed.stream
    shared = stream.recipient_id if stream is not None and stream.history_public_to_subscribers else None
    return await message_audience_txn(txn, [accessed.message.id], shared)
