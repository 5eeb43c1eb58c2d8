"""A message as the API shows it to one reader: GET /messages items and ``message`` events."""

from __future__ import annotations

import functools
from typing import Any

from zulipd.actions.message_details import MessageDetails
from zulipd.avatars import gravatar_url
from zulipd.models import Message, MessageFlag
from zulipd.render.linkifiers import topic_links


def flag_names(flags: int | None) -> list[str]:
    """Zulip's flag names; a message read through shared history is read and historical."""
    return list(_flag_names(flags))


@functools.lru_cache(maxsize=4096)
def _flag_names(flags: int | None) -> tuple[str, ...]:
    # Cached: a message's receivers mostly share a few values, and walking the enum is slow.
    if flags is None:
        return ("read", "historical")
    names = [flag.name.lower() for flag in MessageFlag if flag & flags and flag.name is not None]
    names = [name for name in names if name not in ("is_private", "active_mobile_push_notification")]
    if flags & (MessageFlag.STREAM_WILDCARD_MENTIONED | MessageFlag.TOPIC_WILDCARD_MENTIONED):
        names.append("wildcard_mentioned")  # Zulip's deprecated union of the two
    return tuple(names)


def display_recipient(message: Message, details: MessageDetails) -> Any:
    if message.is_channel_message:
        return details.streams.get(message.recipient_id, (0, ""))[1]
    members = set(details.conversation_members.get(message.recipient_id, [])) | {message.sender_id}
    return [
        {
            "id": user.id,
            "email": user.email,
            "full_name": user.full_name,
            "is_mirror_dummy": False,
        }
        for user in sorted(
            (details.users[user_id] for user_id in members if user_id in details.users), key=lambda u: u.id
        )
    ]


def message_dict(
    message: Message,
    details: MessageDetails,
    realm_string_id: str,
    *,
    flags: int | None,
    apply_markdown: bool,
    client_gravatar: bool,
    highlight: tuple[str, str] | None = None,
) -> dict[str, Any]:
    sender = details.users.get(message.sender_id)
    payload: dict[str, Any] = {
        "id": message.id,
        "sender_id": message.sender_id,
        "sender_email": sender.email if sender else "",
        "sender_full_name": sender.full_name if sender else "",
        "sender_realm_str": realm_string_id,
        "avatar_url": None
        if client_gravatar or sender is None
        else gravatar_url(sender.delivery_email, sender.avatar_version),
        "client": message.sending_client or "Unspecified",
        "content": message.rendered_content if apply_markdown else message.content,
        "content_type": "text/html" if apply_markdown else "text/x-markdown",
        "recipient_id": message.recipient_id,
        "display_recipient": display_recipient(message, details),
        "subject": message.subject,
        "topic_links": topic_links(message.subject, details.linkifiers) if message.is_channel_message else [],
        "timestamp": int(message.date_sent.timestamp()),
        "flags": flag_names(flags),
        "reactions": [
            {"emoji_name": name, "emoji_code": code, "reaction_type": kind, "user_id": user_id}
            for name, code, kind, user_id in details.reactions.get(message.id, [])
        ],
        "submessages": [],
        "is_me_message": message.is_me_message,
        "type": "stream" if message.is_channel_message else "private",
    }
    if message.is_channel_message:
        payload["stream_id"] = details.streams.get(message.recipient_id, (0, ""))[0]
    if message.last_edit_time is not None:
        payload["last_edit_timestamp"] = int(message.last_edit_time.timestamp())
    if message.last_moved_time is not None:
        payload["last_moved_timestamp"] = int(message.last_moved_time.timestamp())
    edits = details.edits.get(message.id)
    if edits:
        payload["edit_history"] = [_edit_entry(edit) for edit in reversed(edits)]
    if highlight is not None:
        payload["match_content"] = highlight[0]
        payload["match_subject"] = highlight[1]
    return payload


def _edit_entry(edit: dict[str, Any]) -> dict[str, Any]:
    entry: dict[str, Any] = {"timestamp": edit["timestamp"], "user_id": edit["user_id"]}
    if edit["prev_content"] is not None:
        entry["prev_content"] = edit["prev_content"]
        entry["prev_rendered_content"] = edit["prev_rendered_content"]
    if edit["prev_topic"] is not None:
        entry["prev_topic"] = edit["prev_topic"]
        entry["topic"] = edit["topic"]
    if edit["prev_stream"] is not None:
        entry["prev_stream"] = edit["prev_stream"]
        entry["stream"] = edit["stream"]
    return entry
