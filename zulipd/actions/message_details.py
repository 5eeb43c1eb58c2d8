"""What a message's API form needs besides its row: senders, recipients, reactions, edits."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from zulipd.actions.linkifiers import realm_linkifiers
from zulipd.models import Message, RecipientType, UserProfile
from zulipd.render.linkifiers import Linkifier
from zulipd.storage.messages import edits_txn, reactions_txn
from zulipd.storage.pool import Transaction
from zulipd.storage.streams import direct_message_group_members_txn, recipient_info_txn
from zulipd.storage.users import get_users_by_ids_txn

if TYPE_CHECKING:
    from zulipd.server import Server


@dataclasses.dataclass
class MessageDetails:
    users: dict[int, UserProfile]
    # recipient id -> channel (stream id, name) for channel messages
    streams: dict[int, tuple[int, str]]
    # recipient id -> member user ids, for direct messages (a personal recipient maps to its one user)
    conversation_members: dict[int, list[int]]
    reactions: dict[int, list[tuple[str, str, str, int]]]
    edits: dict[int, list[dict[str, Any]]]
    # The organization's linkifiers, for the topic_links of channel messages.
    linkifiers: tuple[Linkifier, ...] = ()


async def load_details(server: Server, messages: Sequence[Message]) -> MessageDetails:
    async def load(txn: Transaction) -> MessageDetails:
        recipient_ids = sorted({message.recipient_id for message in messages})
        recipients = await recipient_info_txn(txn, recipient_ids)
        stream_ids = [type_id for kind, type_id in recipients.values() if kind == RecipientType.STREAM]
        streams: dict[int, tuple[int, str]] = {}
        if stream_ids:
            rows = await txn.fetch_all(
                "SELECT r.id, s.id, s.name FROM stream s JOIN recipient r ON r.type = 2 AND r.type_id = s.id "
                "WHERE s.id = ANY(%s)",
                (stream_ids,),
            )
            streams = {row[0]: (row[1], row[2]) for row in rows}
        group_ids = [type_id for kind, type_id in recipients.values() if kind == RecipientType.DIRECT_MESSAGE_GROUP]
        groups = await direct_message_group_members_txn(txn, group_ids) if group_ids else {}
        members: dict[int, list[int]] = {}
        for recipient_id, (kind, type_id) in recipients.items():
            if kind == RecipientType.PERSONAL:
                members[recipient_id] = [type_id]
            elif kind == RecipientType.DIRECT_MESSAGE_GROUP:
                members[recipient_id] = groups.get(type_id, [])
        user_ids = {message.sender_id for message in messages}
        for ids in members.values():
            user_ids.update(ids)
        message_ids = [message.id for message in messages]
        reactions = await reactions_txn(txn, message_ids)
        for entries in reactions.values():
            user_ids.update(entry[3] for entry in entries)
        users = await get_users_by_ids_txn(txn, sorted(user_ids))
        edited = [message.id for message in messages if message.last_edit_time or message.last_moved_time]
        edits = await edits_txn(txn, edited) if edited else {}
        return MessageDetails(users, streams, members, reactions, edits)

    details = await server.pool.run_reads("message details", load)
    channel_message = next((message for message in messages if message.is_channel_message), None)
    if channel_message is not None:
        details.linkifiers = await realm_linkifiers(server, channel_message.realm_id)
    return details
