"""Typing notifications: composing a message, or editing one.

A notice is allowed exactly where its message would be: the sender must be
able to post to the channel, or to message every recipient, or to edit the
message. Composing notices become ``typing`` events, and notices of editing a
message ``typing_edit_message`` events, for the users who have
``receives_typing_notifications`` and would see the message.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Literal

from zulipd.actions.message_access import InvalidMessage
from zulipd.actions.message_details import load_details
from zulipd.actions.messages import MAX_TOPIC_LENGTH, access_message
from zulipd.actions.notify import publish
from zulipd.actions.streams import access, check_can_post, invalid_stream_id, subscriber_ids
from zulipd.actions.users import api_email
from zulipd.errors import JsonableError
from zulipd.models import Message, Realm, Stream, Subscription, UserProfile
from zulipd.storage.pool import Transaction
from zulipd.storage.streams import get_stream_by_recipient_txn, get_stream_txn, get_subscription_txn
from zulipd.storage.users import get_users_by_ids_txn

if TYPE_CHECKING:
    from zulipd.server import Server

TypingOp = Literal["start", "stop"]

_INTEGER_MAX = 2**31 - 1
_BIGINT_MAX = 2**63 - 1


def check_sends_stream_typing(user: UserProfile) -> None:
    if not user.settings.get("send_stream_typing_notifications", True):
        raise JsonableError("User has disabled typing notifications for channel messages")


def check_sends_direct_typing(user: UserProfile) -> None:
    if not user.settings.get("send_private_typing_notifications", True):
        raise JsonableError("User has disabled typing notifications for direct messages")


def check_typing_topic(topic: str) -> str:
    """The topic being typed to, checked as a message's topic is (a missing topic is fine while composing)."""
    topic = topic.strip()
    if len(topic) > MAX_TOPIC_LENGTH:
        raise JsonableError(f"Topic is too long (limit: {MAX_TOPIC_LENGTH} characters)")
    if any(ord(character) < 32 for character in topic):
        raise JsonableError("Invalid characters in topic")
    return topic


async def check_send_stream_typing(
    server: Server, sender: UserProfile, op: TypingOp, stream_id: int | None, topic: str | None
) -> Stream:
    """A notice of composing in a channel's topic; the channel it goes to."""
    if stream_id is None:
        raise JsonableError("Missing 'stream_id' argument")
    if topic is None:
        raise JsonableError("Missing topic")
    check_sends_stream_typing(sender)
    check_typing_topic(topic)
    if not 0 < stream_id <= _INTEGER_MAX:
        raise invalid_stream_id()

    async def load(txn: Transaction) -> tuple[Stream | None, Subscription | None]:
        stream = await get_stream_txn(txn, sender.realm_id, stream_id)
        if stream is None:
            return None, None
        return stream, await get_subscription_txn(txn, sender.id, stream.recipient_id)

    stream, subscription = await server.pool.run_interaction("typing channel", load)
    if stream is None:
        raise invalid_stream_id()
    stream_access = access(sender, stream, subscription)
    if not stream_access.visible:
        raise invalid_stream_id()
    check_can_post(sender, stream, stream_access)
    return stream


async def check_send_direct_typing(
    server: Server, sender: UserProfile, realm: Realm, op: TypingOp, to: list[int] | None
) -> list[int]:
    """A notice of composing a direct message; everyone in the conversation, the sender included."""
    if to is None:
        raise JsonableError("Missing 'to' argument")
    if not to:
        raise JsonableError("Empty 'to' list")
    check_sends_direct_typing(sender)
    wanted = sorted({*to, sender.id})
    in_range = [user_id for user_id in wanted if 0 < user_id <= _INTEGER_MAX]
    users = await server.pool.run_interaction("typing recipients", get_users_by_ids_txn, in_range)
    for user_id in to:
        user = users.get(user_id)
        if user is None or user.realm_id != sender.realm_id:
            raise JsonableError(f"Invalid user ID {user_id}")
    for user_id in wanted:
        user = users[user_id]
        if not user.is_active:
            email = api_email(user, server.realms.email_domain(realm))
            raise JsonableError(f"'{email}' is no longer using Zulip.")
    return wanted


# Zulip sends no notices of typing to a channel with more subscribers than this.
MAX_CHANNEL_SIZE_FOR_TYPING = 100


def _receives_typing(user: UserProfile) -> bool:
    return user.is_active and bool(user.settings.get("receives_typing_notifications", True))


def _person(user: UserProfile) -> dict[str, object]:
    return {"user_id": user.id, "email": user.email}


async def do_send_direct_typing(
    server: Server, sender: UserProfile, realm: Realm, op: TypingOp, to: list[int] | None
) -> None:
    """Tell everyone in the conversation (the sender too, as Zulip does) that the sender is typing."""
    wanted = await check_send_direct_typing(server, sender, realm, op, to)
    users = await server.pool.run_reads("typing recipients", get_users_by_ids_txn, wanted)
    event = {
        "type": "typing",
        "op": op,
        "message_type": "direct",
        "sender": _person(sender),
        "recipients": [_person(users[user_id]) for user_id in wanted],
    }
    publish(server, event, [user_id for user_id in wanted if _receives_typing(users[user_id])])


async def do_send_stream_typing(
    server: Server, sender: UserProfile, op: TypingOp, stream_id: int | None, topic: str | None
) -> None:
    """Tell the channel's subscribers, unless it has too many for that to be useful."""
    stream = await check_send_stream_typing(server, sender, op, stream_id, topic)
    subscribers = (await subscriber_ids(server, [stream]))[stream.id]
    if len(subscribers) > MAX_CHANNEL_SIZE_FOR_TYPING:
        return
    users = await server.pool.run_reads("typing subscribers", get_users_by_ids_txn, subscribers)
    event = {
        "type": "typing",
        "op": op,
        "message_type": "stream",
        "sender": _person(sender),
        "stream_id": stream.id,
        "topic": check_typing_topic(topic or ""),
    }
    publish(server, event, [user.id for user in users.values() if _receives_typing(user)])


async def check_send_message_edit_typing(
    server: Server, user: UserProfile, realm: Realm, op: TypingOp, message_id: int
) -> tuple[Message, Stream | None]:
    """A notice of editing a message: only its sender, while the organization lets them edit it.

    The message, and its channel (None for a direct message)."""
    if message_id > _BIGINT_MAX:
        raise InvalidMessage()
    message, _ = await access_message(server, user, message_id)
    check_can_edit_message(server, user, realm, message)
    if message.is_channel_message:
        check_sends_stream_typing(user)

        async def load(txn: Transaction) -> tuple[Stream | None, Subscription | None]:
            stream = await get_stream_by_recipient_txn(txn, message.recipient_id)
            if stream is None:
                return None, None
            return stream, await get_subscription_txn(txn, user.id, stream.recipient_id)

        stream, subscription = await server.pool.run_interaction("typing edit channel", load)
        # Having received the message is not enough: the sender must still have the channel.
        if stream is None or not access(user, stream, subscription).visible:
            raise InvalidMessage()
        if stream.deactivated:
            raise JsonableError("This channel is archived.")
        return message, stream
    check_sends_direct_typing(user)
    return message, None


async def do_send_message_edit_typing(
    server: Server, user: UserProfile, realm: Realm, op: TypingOp, message_id: int
) -> None:
    """Tell whoever would see the edit: the channel's subscribers (unless there are too many), or everyone in
    the direct-message conversation, the editor included."""
    message, stream = await check_send_message_edit_typing(server, user, realm, op, message_id)
    recipient: dict[str, object]
    if stream is not None:
        audience = (await subscriber_ids(server, [stream]))[stream.id]
        if len(audience) > MAX_CHANNEL_SIZE_FOR_TYPING:
            return
        recipient = {"type": "channel", "channel_id": stream.id, "topic": message.subject}
    else:
        members = (await load_details(server, [message])).conversation_members.get(message.recipient_id, [])
        audience = sorted({message.sender_id, *members})
        recipient = {"type": "direct", "user_ids": audience}
    users = await server.pool.run_reads("typing edit audience", get_users_by_ids_txn, audience)
    event = {"type": "typing_edit_message", "op": op, "sender_id": user.id, "message_id": message.id,
             "recipient": recipient}  # fmt: skip
    publish(server, event, [user_id for user_id, person in users.items() if _receives_typing(person)])


def check_can_edit_message(server: Server, user: UserProfile, realm: Realm, message: Message) -> None:
    """Zulip's rule for editing a message's content: its sender, within the organization's time limit."""
    if not realm.settings.get("allow_message_editing", True):
        raise JsonableError("Your organization has turned off message editing")
    if message.sender_id != user.id:
        raise JsonableError("You don't have permission to edit this message")
    limit = realm.settings.get("message_content_edit_limit_seconds", 600)
    now = datetime.fromtimestamp(server.clock.seconds(), UTC)
    if limit is not None and now - message.date_sent > timedelta(seconds=limit):
        raise JsonableError("The time limit for editing this message has passed")
