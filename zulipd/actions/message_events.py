"""The ``message`` event of a new message, built once for all its receivers.

The message object is made once per rendering a queue may ask for (HTML or
Markdown, avatar URLs or not) and serialized once each; a receiver's own part
is their flags, and the sending queue's its ``local_message_id``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from zulipd.actions.message_details import MessageDetails
from zulipd.actions.message_dicts import flag_names, message_dict
from zulipd.events.event import Notice, Rendering, SharedEvent, variants_cache
from zulipd.models import Message

if TYPE_CHECKING:
    from zulipd.actions.messages import PreparedSend
    from zulipd.storage.messages import InsertedMessage


def new_message(prepared: PreparedSend, inserted: InsertedMessage) -> Message:
    rendered = prepared.rendered
    return Message(
        id=inserted.id,
        realm_id=prepared.realm_id,
        sender_id=prepared.sender.id,
        recipient_id=prepared.recipient_id,
        subject=prepared.topic,
        content=prepared.content,
        rendered_content=rendered.html,
        date_sent=inserted.date_sent,
        last_edit_time=None,
        last_moved_time=None,
        sending_client=prepared.client,
        is_channel_message=prepared.stream is not None,
        is_me_message=rendered.is_me_message,
        has_link=rendered.has_link,
        has_attachment=rendered.has_attachment,
        has_image=rendered.has_image,
    )


def message_notice(prepared: PreparedSend, inserted: InsertedMessage) -> Notice:
    message = new_message(prepared, inserted)
    stream = prepared.stream
    details = MessageDetails(
        users={prepared.sender.id: prepared.sender, **prepared.members},
        streams={} if stream is None else {prepared.recipient_id: (stream.id, stream.name)},
        conversation_members={} if stream is not None else {prepared.recipient_id: list(prepared.member_ids)},
        reactions={},
        edits={},
        linkifiers=prepared.linkifiers,
    )

    def build(rendering: Rendering) -> SharedEvent:
        apply_markdown, client_gravatar = rendering
        body: dict[str, Any] = message_dict(
            message,
            details,
            prepared.realm_string_id,
            flags=0,
            apply_markdown=apply_markdown,
            client_gravatar=client_gravatar,
        )
        del body["flags"]  # the event carries each receiver's flags beside the message
        return SharedEvent({"type": "message", "message": body})

    variants = variants_cache(build)
    per_queue = {}
    if prepared.local_echo is not None:
        queue_id, local_id = prepared.local_echo
        per_queue[queue_id] = {"local_message_id": local_id}
    return Notice(
        event=variants((True, False)),
        user_ids=[user_id for user_id, _ in inserted.receivers],
        per_user=_flags_by_user(inserted.receivers),
        per_queue=per_queue,
        variants=variants,
        public_in_realm=prepared.realm_id if stream is not None and stream.is_public else None,
    )


def _flags_by_user(receivers: list[tuple[int, int]]) -> dict[int, dict[str, Any]]:
    """Each receiver's ``flags`` field; receivers with the same flags share one (read-only) dict."""
    shared: dict[int, dict[str, Any]] = {}
    by_user = {}
    for user_id, flags in receivers:
        entry = shared.get(flags)
        if entry is None:
            entry = shared[flags] = {"flags": flag_names(flags)}
        by_user[user_id] = entry
    return by_user
