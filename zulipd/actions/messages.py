"""Sending and reading messages.

Sends are checked and rendered one by one, then committed together: every
send that arrives while a commit is running waits for the next one, and that
commit inserts all of them and their per-user rows in a handful of statements
and one fsync (group commit). A send's answer goes out only after its commit.
"""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from twisted.internet import defer
from twisted.logger import Logger

from zulipd.actions.alert_words import realm_alert_word_matcher
from zulipd.actions.mentions import render_for_sender
from zulipd.actions.message_access import access_message_txn
from zulipd.actions.message_events import message_notice
from zulipd.actions.narrow import Term, build_narrow, near_anchor
from zulipd.actions.notify import publish_user_topic
from zulipd.actions.streams import (
    StreamDoesNotExist,
    check_can_post,
    get_visible_stream,
    get_visible_stream_by_name,
)
from zulipd.errors import JsonableError
from zulipd.models import Message, MessageFlag, Realm, RecipientType, Stream, UserProfile
from zulipd.printable import unprintable_position
from zulipd.render.linkifiers import Linkifier
from zulipd.storage.messages import (
    NEVER,
    ON_SEND,
    ON_START,
    InsertedMessage,
    NewMessage,
    first_unread_id_txn,
    get_messages_txn,
    insert_messages_txn,
    match_texts_txn,
    narrow_ids_txn,
    newest_received_id_txn,
)
from zulipd.storage.pool import Transaction
from zulipd.storage.streams import (
    direct_message_group_recipient_txn,
    personal_recipient_txn,
)
from zulipd.storage.users import get_user_by_email_txn, get_user_by_id_txn
from zulipd.user_settings import effective_user_setting

if TYPE_CHECKING:
    from zulipd.server import Server

log = Logger()

MAX_MESSAGE_LENGTH = 10000
MAX_TOPIC_LENGTH = 60
MAX_MESSAGES_PER_FETCH = 5000
TRUNCATION_NOTICE = "\n[message truncated]"
TOPIC_TRUNCATION = "..."
LARGER_THAN_MAX_MESSAGE_ID = 10**16
NO_TOPIC = "(no topic)"


def check_content(content: str) -> str:
    if not content.strip():
        raise JsonableError("Message must not be empty")
    if "\x00" in content:
        raise JsonableError("Message must not contain null bytes")
    if len(content) > MAX_MESSAGE_LENGTH:
        content = content[: MAX_MESSAGE_LENGTH - len(TRUNCATION_NOTICE)] + TRUNCATION_NOTICE
    return content


def truncate_topic(topic: str) -> str:
    """Zulip shortens an over-long topic rather than refusing the message."""
    if len(topic) <= MAX_TOPIC_LENGTH:
        return topic
    return topic[: MAX_TOPIC_LENGTH - len(TOPIC_TRUNCATION)] + TOPIC_TRUNCATION


def check_topic(topic: str | None, realm: Realm) -> str:
    topic = (topic or "").strip()
    position = unprintable_position(topic)
    if position is not None:
        raise JsonableError(f"Invalid character in topic, at position {position}!")
    topic = truncate_topic(topic)
    if not topic:
        if realm.settings.get("mandatory_topics", False):
            raise JsonableError("Topics are required in this organization.")
        return NO_TOPIC
    return topic


@dataclasses.dataclass
class PreparedSend:
    realm_id: int
    sender: UserProfile
    recipient_id: int
    stream: Stream | None
    # Direct messages: everyone in the conversation, the sender included.
    member_ids: list[int]
    topic: str
    content: str
    rendered: Any
    client: str
    read_by_sender: bool
    realm_string_id: str = ""
    # Direct messages: the members' profiles, by id (for the message's display_recipient).
    members: Mapping[int, UserProfile] = dataclasses.field(default_factory=dict)
    # The sending client's (queue_id, local_id), for its local echo.
    local_echo: tuple[str, str] | None = None
    # Channel messages: the organization's linkifiers, for the topic's topic_links.
    linkifiers: tuple[Linkifier, ...] = ()
    # Those whose alert words the message contains (they get has_alert_word if they receive it).
    alert_word_user_ids: frozenset[int] = frozenset()
    # user id -> the mention flags the message gives them, if they receive it (zulipd.actions.mentions).
    mention_flags: Mapping[int, int] = dataclasses.field(default_factory=dict)


# How JSON values other than true, false and null start.
_JSON_STARTS = frozenset('[{"-0123456789')
_JSON_LITERALS = frozenset({"true", "false", "null"})


def parse_stream_target(to: Any) -> int | str:
    """``to`` for a channel message: a name, an id, or either one JSON-encoded (possibly in a list)."""
    value: Any = to
    if isinstance(to, str):
        name = to.strip()
        if name[:1] not in _JSON_STARTS and name not in _JSON_LITERALS:
            return name  # no JSON: a channel's name, as most clients send it
        try:
            value = json.loads(to)
        except ValueError:
            return name
    if isinstance(value, list) and len(value) == 1:
        value = value[0]
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        raise JsonableError("Invalid 'to' for a channel message: give one channel name or id")
    return value if isinstance(value, int) else value.strip()


def parse_direct_targets(to: Any) -> list[int | str]:
    """``to`` for a direct message: a JSON list of ids or emails, or comma-separated emails."""
    value: Any = to
    if isinstance(to, str):
        try:
            value = json.loads(to)
        except ValueError:
            value = [part for part in re.split(r"\s*,\s*", to.strip()) if part]
    if isinstance(value, (int, str)) and not isinstance(value, bool):
        value = [value]
    if (
        not isinstance(value, list)
        or not value
        or not all(isinstance(item, (int, str)) and not isinstance(item, bool) for item in value)
    ):
        raise JsonableError("Invalid user ID" if isinstance(value, list) else "Invalid 'to' for a direct message")
    return value


async def prepare_stream_message(
    server: Server, sender: UserProfile, realm: Realm, to: Any, topic: str | None, content: str, client: str,
    read_by_sender: bool, *, secure: bool = True,
) -> PreparedSend:  # fmt: skip
    target = parse_stream_target(to)
    try:
        if isinstance(target, int):
            stream, stream_access = await get_visible_stream(server, sender, target, cached=True)
        else:
            stream, stream_access = await get_visible_stream_by_name(server, sender, target, cached=True)
    except StreamDoesNotExist:
        if isinstance(target, int):
            raise StreamDoesNotExist.with_id(target) from None
        raise StreamDoesNotExist.named(target) from None
    check_can_post(sender, stream, stream_access)
    content = check_content(content)
    topic = check_topic(topic, realm)
    rendering = await render_for_sender(server, sender, realm, content, stream, topic, secure=secure)
    prepared = PreparedSend(
        realm_id=realm.id,
        sender=sender,
        recipient_id=stream.recipient_id,
        stream=stream,
        member_ids=[],
        topic=topic,
        content=content,
        rendered=rendering.rendered,
        mention_flags=rendering.mention_flags,
        client=client,
        read_by_sender=read_by_sender,
        realm_string_id=realm.string_id,
        linkifiers=rendering.linkifiers,
    )
    prepared.alert_word_user_ids = await _alert_word_user_ids(server, prepared)
    return prepared


async def prepare_direct_message(
    server: Server, sender: UserProfile, realm: Realm, to: Any, content: str, client: str, read_by_sender: bool,
    *, secure: bool = True,
) -> PreparedSend:  # fmt: skip
    targets = parse_direct_targets(to)
    content = check_content(content)

    async def resolve(txn: Transaction) -> tuple[dict[int, UserProfile], int]:
        profiles = {sender.id: sender}
        for target in targets:
            if isinstance(target, int):
                user = await get_user_by_id_txn(txn, realm.id, target)
                if user is None:
                    raise JsonableError(f"Invalid user ID {target}")
            else:
                user = await get_user_by_email_txn(txn, realm.id, target.strip())
                if user is None:
                    raise JsonableError(f"Invalid email '{target}'")
            if not user.is_active:
                raise JsonableError(f"'{user.delivery_email}' is no longer using Zulip.")
            profiles[user.id] = user
        members = sorted(profiles)
        if len(members) == 1:
            recipient_id = await personal_recipient_txn(txn, sender.id)
        elif len(members) == 2:
            other = members[0] if members[1] == sender.id else members[1]
            recipient_id = await personal_recipient_txn(txn, other)
        else:
            recipient_id = await direct_message_group_recipient_txn(txn, realm.id, members)
        return profiles, recipient_id

    profiles, recipient_id = await server.pool.run_interaction("resolve recipients", resolve)
    rendering = await render_for_sender(server, sender, realm, content, secure=secure)
    prepared = PreparedSend(
        realm_id=realm.id,
        sender=sender,
        recipient_id=recipient_id,
        stream=None,
        member_ids=sorted(profiles),
        topic="",
        content=content,
        rendered=rendering.rendered,
        mention_flags=rendering.mention_flags,
        client=client,
        read_by_sender=read_by_sender,
        realm_string_id=realm.string_id,
        members=profiles,
    )
    prepared.alert_word_user_ids = await _alert_word_user_ids(server, prepared)
    return prepared


async def _alert_word_user_ids(server: Server, prepared: PreparedSend) -> frozenset[int]:
    """Whose alert words the message contains: one look in the organization's matcher, kept in memory.

    For a channel message this may name users who will not receive it; storage flags receivers only."""
    matcher = await realm_alert_word_matcher(server, prepared.realm_id)
    if prepared.stream is not None:
        return matcher.user_ids_in(prepared.rendered.alert_word_text)
    members = frozenset(prepared.member_ids)
    if matcher.user_ids.isdisjoint(members):
        return frozenset()
    return matcher.user_ids_in(prepared.rendered.alert_word_text) & members


# The longest a listener waits for a commit under way before it is sent what it has.
LISTENER_WAIT_SECONDS = 0.1


class MessageSender:
    """Commits prepared sends in batches: one transaction for all that arrived meanwhile."""

    def __init__(self, server: Server) -> None:
        self._server = server
        self._queue: list[tuple[PreparedSend, defer.Deferred[InsertedMessage]]] = []
        self._committing = False
        # Called once the batch being committed now has been published (see after_publishing),
        # or after LISTENER_WAIT_SECONDS if the commit takes longer.
        self._after_commit: list[Callable[[], object]] = []
        self._wait_timer: Any = None

    def send(self, prepared: PreparedSend) -> defer.Deferred[InsertedMessage]:
        done: defer.Deferred[InsertedMessage] = defer.Deferred()
        self._queue.append((prepared, done))
        if not self._committing:
            defer.ensureDeferred(self._commit_batches())
        return done

    def after_publishing(self, work: Callable[[], object]) -> None:
        """Call ``work`` at the end of this reactor turn, or, while a batch commits, once it is published.

        A listener woken by one batch thus waits for the next one, already on its way, and
        takes both at once; it waits for one commit at most, LISTENER_WAIT_SECONDS at most.
        """
        after_turn = self._server.after_turn
        if not self._committing:
            after_turn.call(work)
            return
        if not self._after_commit:
            self._wait_timer = self._server.reactor.callLater(LISTENER_WAIT_SECONDS, self._stop_waiting)
        self._after_commit.append(lambda: after_turn.call(work))

    def _stop_waiting(self) -> None:
        """A slow commit: what waits for it goes ahead without it."""
        self._wait_timer = None
        self._release(self._take_waiting())

    async def _commit_batches(self) -> None:
        self._committing = True
        try:
            while self._queue:
                batch, self._queue = self._queue, []
                try:
                    inserted = await self._server.pool.run_single_statement(
                        "send messages", insert_messages_txn, [_new_message(prepared) for prepared, _ in batch]
                    )
                except Exception as error:
                    for _, done in batch:
                        done.errback(error)
                    self._release(self._take_waiting())
                    continue
                # The senders hear first: waking every listener can take a while.
                self._server.reactor.callLater(0, self._publish_batch, batch, inserted, self._take_waiting())
                for (_, done), message in zip(batch, inserted, strict=True):
                    done.callback(message)
        finally:
            self._committing = False
            self._release(self._take_waiting())

    def _take_waiting(self) -> list[Callable[[], object]]:
        waiting, self._after_commit = self._after_commit, []
        timer, self._wait_timer = self._wait_timer, None
        if timer is not None and timer.active():
            timer.cancel()
        return waiting

    def _publish_batch(
        self,
        batch: list[tuple[PreparedSend, defer.Deferred[InsertedMessage]]],
        inserted: list[InsertedMessage],
        waiting: list[Callable[[], object]],
    ) -> None:
        for (prepared, _), message in zip(batch, inserted, strict=True):
            self._publish(prepared, message)
        self._release(waiting)

    @staticmethod
    def _release(waiting: list[Callable[[], object]]) -> None:
        for work in waiting:
            try:
                work()
            except Exception:
                log.failure("Work waiting for a commit failed")

    def _publish(self, prepared: PreparedSend, message: InsertedMessage) -> None:
        """The message's event, to everyone who received it (just after the sender hears it is sent)."""
        try:
            self._server.events.publish(message_notice(prepared, message))
            if message.new_visibility_policy is not None and prepared.stream is not None:
                publish_user_topic(
                    self._server, prepared.sender.id, prepared.stream.id, prepared.topic,
                    message.new_visibility_policy, message.date_sent,
                )  # fmt: skip
        except Exception:
            # The message is stored whatever happens here; its sender must hear so.
            log.failure("Could not publish the event of message {id}", id=message.id)


_STREAM_WILDCARD_MENTIONED = int(MessageFlag.STREAM_WILDCARD_MENTIONED)
_IS_PRIVATE = int(MessageFlag.IS_PRIVATE)
_READ = int(MessageFlag.READ)
_HAS_ALERT_WORD = int(MessageFlag.HAS_ALERT_WORD)


def _new_message(prepared: PreparedSend) -> NewMessage:
    rendered = prepared.rendered
    flags_for_all = _IS_PRIVATE if prepared.stream is None else 0
    if rendered.mentions_stream_wildcard and prepared.stream is not None:
        flags_for_all |= _STREAM_WILDCARD_MENTIONED
    # Mentions count only for those who get the message; storage applies them to receivers alone.
    extra_flags = dict(prepared.mention_flags)
    if prepared.read_by_sender:
        extra_flags[prepared.sender.id] = extra_flags.get(prepared.sender.id, 0) | _READ
    for user_id in prepared.alert_word_user_ids:
        extra_flags[user_id] = extra_flags.get(user_id, 0) | _HAS_ALERT_WORD
    stored = prepared.sender.settings
    return NewMessage(
        realm_id=prepared.realm_id,
        sender_id=prepared.sender.id,
        recipient_id=prepared.recipient_id,
        subject=prepared.topic,
        content=prepared.content,
        rendered_content=rendered.html,
        sending_client=prepared.client,
        is_channel_message=prepared.stream is not None,
        is_me_message=rendered.is_me_message,
        has_link=rendered.has_link,
        has_attachment=rendered.has_attachment,
        has_image=rendered.has_image,
        direct_member_ids=prepared.member_ids,
        flags_for_all=flags_for_all,
        extra_flags=extra_flags,
        follow_when=_WHEN_SENDING[effective_user_setting(stored, "automatically_follow_topics_policy")],
        unmute_when=_WHEN_SENDING[
            effective_user_setting(stored, "automatically_unmute_topics_in_muted_streams_policy")
        ],
    )


# Zulip's automatically_*_policy values (1 participating, 2 sending, 3 starting a topic, 4 never):
# what each means for the sender of a message. Sending is a way of participating.
_WHEN_SENDING = {1: ON_SEND, 2: ON_SEND, 3: ON_START, 4: NEVER}


@dataclasses.dataclass
class Fetched:
    anchor: int
    found_anchor: bool
    found_newest: bool
    found_oldest: bool
    messages: list[Message]
    flags: dict[int, int | None]
    highlights: dict[int, tuple[str, str]]


async def fetch_messages(
    server: Server,
    user: UserProfile,
    terms: list[Term],
    anchor: int | str | None,
    num_before: int,
    num_after: int,
    include_anchor: bool,
) -> Fetched:
    if num_before < 0 or num_after < 0:
        raise JsonableError("num_before and num_after must not be negative")
    if num_before + num_after > MAX_MESSAGES_PER_FETCH:
        raise JsonableError(f"Too many messages requested (maximum {MAX_MESSAGES_PER_FETCH}).")
    if not include_anchor and num_before > 0 and num_after > 0:
        raise JsonableError("The anchor can only be excluded at an end of the range")
    narrow = await build_narrow(server, user, terms)
    if anchor is None:
        near = near_anchor(terms)
        if near is None:
            raise JsonableError("Missing 'anchor' argument")
        anchor = near
    if anchor == "first_unread":
        first_unread = await server.pool.run_reads("first unread", first_unread_id_txn, narrow)
        anchor_id = first_unread if first_unread is not None else LARGER_THAN_MAX_MESSAGE_ID
    elif anchor == "newest":
        anchor_id = LARGER_THAN_MAX_MESSAGE_ID
    elif anchor == "oldest":
        anchor_id = 0
    elif (isinstance(anchor, int) and not isinstance(anchor, bool)) or (isinstance(anchor, str) and anchor.isdigit()):
        anchor_id = int(anchor)
        if anchor_id < 0:
            raise JsonableError("Invalid anchor")
    else:
        raise JsonableError("Invalid anchor")
    before, after = await server.pool.run_reads(
        "fetch messages", narrow_ids_txn, narrow, anchor_id, num_before, num_after, include_anchor
    )
    # `after` holds one row more than asked for in case the anchor is among them; drop it when it is not.
    found_anchor = bool(after) and include_anchor and after[0][0] == anchor_id
    anchor_rows = after[:1] if found_anchor else []
    after_anchor = [row for row in after if row[0] != anchor_id][:num_after]
    found_oldest = len(before) < num_before or anchor_id == 0
    found_newest = len(after_anchor) < num_after or anchor_id == LARGER_THAN_MAX_MESSAGE_ID
    rows = list(reversed(before)) + anchor_rows + after_anchor
    ids = [row[0] for row in rows]
    messages = await server.pool.run_reads("load messages", get_messages_txn, ids) if ids else []
    highlights: dict[int, tuple[str, str]] = {}
    if narrow.search_query and ids:
        highlights = await server.pool.run_reads("highlight", match_texts_txn, narrow.search_query, ids)
    return Fetched(
        anchor=anchor_id,
        found_anchor=found_anchor,
        found_newest=found_newest,
        found_oldest=found_oldest,
        messages=messages,
        flags=dict(rows),
        highlights=highlights,
    )


async def access_message(server: Server, user: UserProfile, message_id: int) -> tuple[Message, int | None]:
    """A message the user may read, with their flags (None: read through shared history)."""
    accessed = await server.pool.run_reads("access message", access_message_txn, user, message_id)
    return accessed.message, accessed.flags


async def newest_received_message_id(server: Server, user: UserProfile) -> int | None:
    return await server.pool.run_reads("newest received", newest_received_id_txn, user.id)


def recipient_kind(message: Message) -> RecipientType:
    return RecipientType.STREAM if message.is_channel_message else RecipientType.PERSONAL


def ids_of(messages: Sequence[Message]) -> list[int]:
    return [message.id for message in messages]
