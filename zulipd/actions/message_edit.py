"""Editing, moving and deleting messages, and their edit history.

The rules, as Zulip 10 applies them with its default organization permissions:
- Only the sender edits content, while ``allow_message_editing`` holds and
  within ``message_content_edit_limit_seconds`` (plus a grace of 20 seconds).
- Anyone who can read a channel message may rename its topic, within
  ``move_messages_within_stream_limit_seconds``; resolving and unresolving a
  topic (renaming it to and from "✔ topic") has no time limit. Moderators and
  administrators have no time limits.
- Moving messages to another channel needs read access to both channels and
  the right to post in the destination; guests may not, and others only within
  ``move_messages_between_streams_limit_seconds``. A move between channels
  takes along only the messages the mover may read. Subscribers of the
  destination get the rows they need to read them; users who cannot read the
  destination lose theirs.
- Administrators delete any message they can read; senders (and the owners of
  sending bots) delete their own within ``message_content_delete_limit_seconds``.

Every edit leaves a message_edit row on each message it changed.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Literal

from zulipd.actions.alert_words import realm_alert_word_matcher
from zulipd.actions.linkifiers import realm_linkifiers
from zulipd.actions.mentions import SenderRendering, render_for_sender
from zulipd.actions.message_access import AccessedMessage, access_message_txn, audience_txn
from zulipd.actions.message_dicts import flag_names
from zulipd.actions.messages import NO_TOPIC, check_content, check_topic
from zulipd.actions.narrow import RESOLVED_PREFIX
from zulipd.actions.notify import publish
from zulipd.actions.streams import Access, access, check_can_post, invalid_stream_id
from zulipd.errors import JsonableError
from zulipd.events.event import Notice, SharedEvent
from zulipd.models import Message, MessageFlag, Realm, Role, Stream, UserProfile
from zulipd.realm_settings import effective_realm_settings
from zulipd.render import Rendered
from zulipd.render.alert_words import EMPTY_MATCHER, AlertWordMatcher
from zulipd.render.linkifiers import Linkifier, topic_links
from zulipd.storage.message_updates import (
    EditRecord,
    add_user_rows_txn,
    delete_message_txn,
    delete_user_rows_txn,
    insert_edit_records_txn,
    message_dates_txn,
    move_messages_txn,
    row_holders_txn,
    set_first_message_id_txn,
    set_flag_of_users_txn,
    set_mention_flags_txn,
    subscription_user_ids_txn,
    topic_message_ids_txn,
    update_content_txn,
)
from zulipd.storage.messages import edits_txn, flags_of_users_txn, message_audience_txn
from zulipd.storage.pool import Transaction
from zulipd.storage.streams import get_stream_txn, get_subscription_txn
from zulipd.storage.users import get_user_by_id_txn

if TYPE_CHECKING:
    from zulipd.server import Server

PropagateMode = Literal["change_one", "change_later", "change_all"]
# Zulip's grace on edit and move limits: clients stop offering an edit 15 s before the limit.
EDIT_LIMIT_BUFFER_SECONDS = 20
DELETED_CONTENT = "(deleted)"


class MoveMessagesTimeLimitExceeded(JsonableError):
    code = "MOVE_MESSAGES_TIME_LIMIT_EXCEEDED"

    def __init__(self, first_allowed_id: int | None, total: int, allowed: int) -> None:
        super().__init__(
            f"You only have permission to move the {allowed}/{total} most recent messages in this topic.",
            first_message_id_allowed_to_move=first_allowed_id,
            total_messages_in_topic=total,
            total_messages_allowed_to_move=allowed,
        )


def clock_now(server: Server) -> datetime:
    return datetime.fromtimestamp(server.clock.seconds(), UTC)


def time_limit(realm: Realm, setting: str) -> int | None:
    """A time-limit setting in seconds; None when unlimited."""
    value = effective_realm_settings(realm.settings)[setting]
    if value is None or value == "unlimited":
        return None
    return int(value)


def is_moderator_or_admin(user: UserProfile) -> bool:
    return user.role <= Role.MODERATOR


def _age_seconds(message: Message, now: datetime) -> float:
    return (now - message.date_sent).total_seconds()


@dataclasses.dataclass(frozen=True)
class _Move:
    """A topic and/or channel change, decided before anything is written."""

    orig_topic: str
    new_topic: str | None
    source: Stream
    target: Stream | None
    # Only marks the topic resolved or unresolved, within its channel: no time limits, not a "move".
    resolving: bool

    @property
    def topic(self) -> str:
        return self.new_topic if self.new_topic is not None else self.orig_topic

    @property
    def destination(self) -> Stream:
        return self.target if self.target is not None else self.source


async def check_update_message(
    server: Server,
    user: UserProfile,
    realm: Realm,
    message_id: int,
    *,
    content: str | None,
    topic: str | None,
    stream_id: int | None,
    propagate_mode: PropagateMode,
) -> int:
    """Edit a message's content, topic or channel in one transaction; return how many messages changed."""
    now = clock_now(server)
    linkifiers = await realm_linkifiers(server, realm.id)
    # Read before the transaction: a first use loads it from the database.
    alert_words = await realm_alert_word_matcher(server, realm.id) if content is not None else EMPTY_MATCHER
    # The new content is rendered before the transaction too: what it mentions is looked up first.
    new_rendering = await _render_edit(server, user, realm, content) if content is not None else None

    async def edit(txn: Transaction) -> tuple[int, list[Notice]]:
        accessed = await access_message_txn(txn, user, message_id, lock=True, modifying=True)
        message = accessed.message
        audience_before = await audience_txn(txn, accessed)
        if content is not None:
            _check_can_edit_content(user, realm, message, now)
        target_id = stream_id
        if target_id is not None and accessed.stream is not None and target_id == accessed.stream.id:
            target_id = None  # "moving" to the same channel changes nothing
        requested_topic = _requested_topic(message, topic)
        new_topic = _check_edit_request(realm, message, content, requested_topic, target_id, propagate_mode)
        move: _Move | None = None
        if new_topic is not None or target_id is not None:
            target = await _target_stream(txn, user, target_id) if target_id is not None else None
            move = _check_can_move(user, realm, accessed, new_topic, target, now)
            if propagate_mode == "change_all" and not is_moderator_or_admin(user) and not move.resolving:
                await _check_whole_topic_time_limit(txn, user, realm, accessed, move, now)
        edited = None
        if new_rendering is not None:
            edited = await _apply_content_edit(txn, user, message, new_rendering, move, now, alert_words)
        moved_ids = [message.id]
        if move is not None:
            moved_ids = await _messages_to_move(txn, user, accessed, move, propagate_mode)
            await _apply_move(txn, user, message, moved_ids, move, content is not None, now)
        destination = move.destination if move is not None else accessed.stream
        shared = destination.recipient_id if destination and destination.history_public_to_subscribers else None
        audience_after = await message_audience_txn(txn, [message.id], shared)
        event = _update_event(user, message, edited, move, accessed.stream, moved_ids, propagate_mode, now, linkifiers)
        flags = await flags_of_users_txn(txn, message.id, audience_after)
        per_user = {user_id: {"flags": flag_names(flags.get(user_id))} for user_id in audience_after}
        notices = [Notice(SharedEvent(event), audience_after, per_user=per_user)]
        # Those who may no longer read the moved messages are told they are gone, as in Zulip.
        losing = sorted(set(audience_before) - set(audience_after))
        if losing and move is not None and move.target is not None:
            deleted = {"type": "delete_message", "message_type": "stream", "message_ids": moved_ids,
                       "stream_id": move.source.id, "topic": move.orig_topic}  # fmt: skip
            notices.append(Notice(SharedEvent(deleted), losing))
        return len(moved_ids), notices

    changed, notices = await server.pool.run_interaction("update message", edit)
    for notice in notices:
        server.events.publish(notice)
    return changed


def _update_event(
    user: UserProfile,
    message: Message,
    edited: tuple[str, Rendered] | None,
    move: _Move | None,
    stream: Stream | None,
    moved_ids: list[int],
    propagate_mode: PropagateMode,
    now: datetime,
    linkifiers: Sequence[Linkifier] = (),
) -> dict[str, Any]:
    """Zulip's update_message event: who, when, which messages, and what changed."""
    event: dict[str, Any] = {
        "type": "update_message",
        "user_id": user.id,
        "edit_timestamp": int(now.timestamp()),
        "message_id": message.id,
        "message_ids": sorted(moved_ids),
        "rendering_only": False,
    }
    if stream is not None:
        event.update({"stream_name": stream.name, "stream_id": stream.id})
    if edited is not None:
        new_content, rendered = edited
        event.update(
            {
                "orig_content": message.content,
                "orig_rendered_content": message.rendered_content,
                "content": new_content,
                "rendered_content": rendered.html,
                "is_me_message": rendered.is_me_message,
            }
        )
    if move is not None:
        event.update(
            {
                "propagate_mode": propagate_mode,
                "orig_subject": move.orig_topic,
                "subject": move.topic,
                "topic_links": topic_links(move.topic, linkifiers),
            }
        )
        if move.target is not None:
            event["new_stream_id"] = move.target.id
    return event


def _check_edit_request(
    realm: Realm,
    message: Message,
    content: str | None,
    new_topic: str | None,
    target_id: int | None,
    propagate_mode: PropagateMode,
) -> str | None:
    """That the request makes sense, whoever sends it; the new topic, normalized, if there is one."""
    if new_topic is None and content is None and target_id is None:
        raise JsonableError("Nothing to change")
    if not message.is_channel_message:
        if target_id is not None:
            raise JsonableError("Direct messages cannot be moved to channels.")
        if new_topic is not None:
            raise JsonableError("Direct messages cannot have topics.")
    if propagate_mode != "change_one" and new_topic is None and target_id is None:
        raise JsonableError("Invalid propagate_mode without topic edit")
    if new_topic is not None:
        if new_topic in (RESOLVED_PREFIX.strip(), RESOLVED_PREFIX + NO_TOPIC):
            raise JsonableError("General chat cannot be marked as resolved")
        new_topic = check_topic(new_topic, realm)
    if target_id is not None and content is not None:
        raise JsonableError("Cannot change message content while changing channel")
    return new_topic


def _check_can_edit_content(user: UserProfile, realm: Realm, message: Message, now: datetime) -> None:
    if not effective_realm_settings(realm.settings)["allow_message_editing"]:
        raise JsonableError("Your organization has turned off message editing")
    if message.sender_id != user.id:
        raise JsonableError("You don't have permission to edit this message")
    limit = time_limit(realm, "message_content_edit_limit_seconds")
    if limit is not None and _age_seconds(message, now) > limit + EDIT_LIMIT_BUFFER_SECONDS:
        raise JsonableError("The time limit for editing this message has passed")


def _requested_topic(message: Message, topic: str | None) -> str | None:
    """The new topic as sent (stripped), or None when it is absent or the same as now."""
    if topic is None:
        return None
    stripped = topic.strip()
    if not message.is_channel_message:
        return stripped or None
    return None if (stripped or NO_TOPIC) == message.subject else stripped


async def _target_stream(txn: Transaction, user: UserProfile, stream_id: int) -> tuple[Stream, Access]:
    target = await get_stream_txn(txn, user.realm_id, stream_id)
    if target is None:
        raise invalid_stream_id()
    target_access = access(user, target, await get_subscription_txn(txn, user.id, target.recipient_id))
    if not target_access.visible or target_access.history == "none":
        raise invalid_stream_id()
    return target, target_access


def _is_resolving(orig_topic: str, new_topic: str) -> bool:
    """Whether a rename only marks the topic resolved, or only unmarks it."""
    resolved = (
        new_topic.startswith(RESOLVED_PREFIX)
        and not orig_topic.startswith(RESOLVED_PREFIX)
        and new_topic[len(RESOLVED_PREFIX) :] == orig_topic
    )
    unresolved = (
        orig_topic.startswith(RESOLVED_PREFIX)
        and not new_topic.startswith(RESOLVED_PREFIX)
        and orig_topic.lstrip(RESOLVED_PREFIX) == new_topic
    )
    return resolved or unresolved


def _check_can_move(
    user: UserProfile,
    realm: Realm,
    accessed: AccessedMessage,
    new_topic: str | None,
    target: tuple[Stream, Access] | None,
    now: datetime,
) -> _Move:
    message = accessed.message
    assert accessed.stream is not None
    exempt = is_moderator_or_admin(user)
    age = _age_seconds(message, now)
    resolves_topic = new_topic is not None and _is_resolving(message.subject, new_topic)
    if new_topic is not None and not resolves_topic:
        limit = time_limit(realm, "move_messages_within_stream_limit_seconds")
        if limit is not None and not exempt and age > limit + EDIT_LIMIT_BUFFER_SECONDS:
            raise JsonableError("The time limit for editing this message's topic has passed.")
    if target is not None:
        target_stream, target_access = target
        if user.is_guest:
            raise JsonableError("You don't have permission to move this message")
        check_can_post(user, target_stream, target_access)
        limit = time_limit(realm, "move_messages_between_streams_limit_seconds")
        if limit is not None and not exempt and age > limit + EDIT_LIMIT_BUFFER_SECONDS:
            raise JsonableError("The time limit for editing this message's channel has passed")
    return _Move(
        orig_topic=message.subject,
        new_topic=new_topic,
        source=accessed.stream,
        target=target[0] if target is not None else None,
        resolving=resolves_topic and target is None,
    )


async def _check_whole_topic_time_limit(
    txn: Transaction, user: UserProfile, realm: Realm, accessed: AccessedMessage, move: _Move, now: datetime
) -> None:
    """For change_all: every message of the topic (that the user may read) must be within the move limits."""
    limits = []
    if move.new_topic is not None:
        limits.append(time_limit(realm, "move_messages_within_stream_limit_seconds"))
    if move.target is not None:
        limits.append(time_limit(realm, "move_messages_between_streams_limit_seconds"))
    deadlines = [limit + EDIT_LIMIT_BUFFER_SECONDS for limit in limits if limit is not None]
    if not deadlines:
        return
    deadline = min(deadlines)
    assert accessed.stream_access is not None
    rows_of = None if accessed.stream_access.history == "full" else user.id
    ids = await topic_message_ids_txn(txn, accessed.message.recipient_id, move.orig_topic, with_rows_of=rows_of)
    dates = await message_dates_txn(txn, ids)
    allowed = [message_id for message_id, sent in dates if (now - sent).total_seconds() <= deadline]
    if len(allowed) != len(dates):
        raise MoveMessagesTimeLimitExceeded(allowed[0] if allowed else None, len(dates), len(allowed))


@dataclasses.dataclass(frozen=True)
class _EditRendering:
    content: str
    rendering: SenderRendering


async def _render_edit(server: Server, editor: UserProfile, realm: Realm, content: str) -> _EditRendering:
    new_content = check_content(content if content.strip() else DELETED_CONTENT)
    return _EditRendering(new_content, await render_for_sender(server, editor, realm, new_content))


async def _apply_content_edit(
    txn: Transaction,
    user: UserProfile,
    message: Message,
    rendering: _EditRendering,
    move: _Move | None,
    now: datetime,
    alert_words: AlertWordMatcher,
) -> tuple[str, Rendered]:
    """Store the new content; it and its rendering."""
    new_content, rendered = rendering.content, rendering.rendering.rendered
    await update_content_txn(
        txn,
        message.id,
        content=new_content,
        rendered_content=rendered.html,
        is_me_message=rendered.is_me_message,
        has_link=rendered.has_link,
        has_image=rendered.has_image,
        has_attachment=rendered.has_attachment,
        edit_time=now,
    )
    await set_mention_flags_txn(
        txn,
        message.id,
        int(MessageFlag.MENTIONED),
        int(MessageFlag.STREAM_WILDCARD_MENTIONED),
        rendering.rendering.mentioned_user_ids,
        rendered.mentions_stream_wildcard and message.is_channel_message,
    )
    # As in Zulip, every copy's has_alert_word follows the new text, the sender's included.
    alerted = alert_words.user_ids_in(rendered.alert_word_text)
    await set_flag_of_users_txn(txn, message.id, int(MessageFlag.HAS_ALERT_WORD), sorted(alerted))
    if move is None:  # a move writes the one edit row for both changes
        await insert_edit_records_txn(
            txn,
            [EditRecord(message.id, user.id, now, message.content, message.rendered_content)],
        )
    return new_content, rendered


async def _messages_to_move(
    txn: Transaction, user: UserProfile, accessed: AccessedMessage, move: _Move, propagate_mode: PropagateMode
) -> list[int]:
    message = accessed.message
    if propagate_mode == "change_one":
        return [message.id]
    assert accessed.stream_access is not None
    # Moving to another channel takes only what the mover may read: a move must not reveal history.
    rows_of = user.id if move.target is not None and accessed.stream_access.history != "full" else None
    later_only = message.id if propagate_mode == "change_later" else None
    ids = await topic_message_ids_txn(
        txn, message.recipient_id, move.orig_topic, after_id=later_only, with_rows_of=rows_of
    )
    return sorted({message.id, *ids})


async def _apply_move(
    txn: Transaction,
    user: UserProfile,
    message: Message,
    moved_ids: list[int],
    move: _Move,
    content_edited: bool,
    now: datetime,
) -> int:
    destination = move.destination
    await move_messages_txn(
        txn,
        moved_ids,
        subject=move.topic,
        recipient_id=destination.recipient_id,
        moved_time=None if move.resolving else now,
    )
    records = []
    for moved_id in moved_ids:
        fields: dict[str, Any] = {}
        if moved_id == message.id and content_edited:
            fields.update(prev_content=message.content, prev_rendered_content=message.rendered_content)
        if move.new_topic is not None:
            fields.update(prev_topic=move.orig_topic, topic=move.new_topic)
        if move.target is not None:
            fields.update(prev_stream_id=move.source.id, stream_id=move.target.id)
        records.append(EditRecord(moved_id, user.id, now, **fields))
    await insert_edit_records_txn(txn, records)
    if move.target is not None:
        await _move_user_rows(txn, moved_ids, move.source, move.target)
        await set_first_message_id_txn(txn, move.target.id, moved_ids[0])
    return len(moved_ids)


async def _move_user_rows(txn: Transaction, moved_ids: list[int], source: Stream, target: Stream) -> None:
    """Rows follow who may read the messages in their new channel.

    As in Zulip, subscribers of the old channel who are not subscribed to the
    new one lose their rows (unread messages live only in subscribed
    channels). When the new channel is private, so does everyone else who is
    not subscribed to it, and in a public one, so do guests who are not: a
    row would otherwise keep granting them access. When the new channel does
    not share its history, each of its subscribers gets a row (read), since
    subscribers may read what was moved in.
    """
    new_subscribers = await subscription_user_ids_txn(txn, target.recipient_id, active_only=True)
    holders = await row_holders_txn(txn, moved_ids)
    if target.invite_only:
        losing = set(holders) - new_subscribers
    else:
        old_subscribers = await subscription_user_ids_txn(txn, source.recipient_id, active_only=False)
        guests = {user_id for user_id, role in holders.items() if role == Role.GUEST}
        losing = ((old_subscribers | guests) & set(holders)) - new_subscribers
    await delete_user_rows_txn(txn, moved_ids, sorted(losing))
    if not target.history_public_to_subscribers:
        await add_user_rows_txn(txn, sorted(new_subscribers), moved_ids, int(MessageFlag.READ))


async def do_delete_message(server: Server, user: UserProfile, realm: Realm, message_id: int) -> None:
    now = clock_now(server)

    async def delete(txn: Transaction) -> tuple[Message, Stream | None, list[int]]:
        accessed = await access_message_txn(txn, user, message_id, lock=True, modifying=True)
        message = accessed.message
        if not user.is_realm_admin:
            if message.sender_id != user.id:
                sender = await get_user_by_id_txn(txn, realm.id, message.sender_id)
                if sender is None or sender.bot_owner_id != user.id:
                    raise JsonableError("You don't have permission to delete this message")
            limit = time_limit(realm, "message_content_delete_limit_seconds")
            if limit is not None and _age_seconds(message, now) > limit:
                raise JsonableError("The time limit for deleting this message has passed")
        audience = await audience_txn(txn, accessed)
        if not await delete_message_txn(txn, message.id):
            raise JsonableError("Message already deleted")
        return message, accessed.stream, audience

    message, stream, audience = await server.pool.run_interaction("delete message", delete)
    event: dict[str, Any] = {
        "type": "delete_message",
        "message_type": "stream" if stream is not None else "private",
        "message_ids": [message.id],
    }
    if stream is not None:
        event.update({"stream_id": stream.id, "topic": message.subject})
    publish(server, event, audience)


async def message_history(server: Server, user: UserProfile, realm: Realm, message_id: int) -> list[dict[str, Any]]:
    """Snapshots of the message after each edit, oldest first, the original included."""
    if not effective_realm_settings(realm.settings)["allow_edit_history"]:
        raise JsonableError("Message edit history is disabled in this organization")

    async def load(txn: Transaction) -> tuple[Message, list[dict[str, Any]]]:
        message = (await access_message_txn(txn, user, message_id)).message
        return message, (await edits_txn(txn, [message.id])).get(message.id, [])

    message, edits = await server.pool.run_interaction("message history", load)
    content, rendered, topic = message.content, message.rendered_content, message.subject
    snapshots: list[dict[str, Any]] = []
    for edit in reversed(edits):  # newest first, walking back from the message as it is now
        snapshot: dict[str, Any] = {
            "content": content,
            "rendered_content": rendered,
            "topic": topic,
            "timestamp": edit["timestamp"],
            "user_id": edit["user_id"],
        }
        if edit["prev_topic"] is not None:
            snapshot["prev_topic"] = topic = edit["prev_topic"]
        if edit["prev_content"] is not None:
            snapshot["prev_content"] = content = edit["prev_content"]
            snapshot["prev_rendered_content"] = rendered = edit["prev_rendered_content"]
        if edit["prev_stream"] is not None:
            snapshot["prev_stream"] = edit["prev_stream"]
            snapshot["stream"] = edit["stream"]
        snapshots.append(snapshot)
    snapshots.append(
        {
            "content": content,
            "rendered_content": rendered,
            "topic": topic,
            "timestamp": int(message.date_sent.timestamp()),
            "user_id": message.sender_id,
        }
    )
    snapshots.reverse()
    return snapshots
