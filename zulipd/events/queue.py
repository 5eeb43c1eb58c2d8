"""One client's event queue, as Zulip's long-poll protocol runs it.

Event ids count up from 0 in each queue. A client acknowledges what it has
with ``last_event_id``; those events are pruned, and the rest are answered at
once, or, when there is nothing, the request parks until an event arrives.
Queued ``update_message_flags`` events for the same op and flag merge into
one, as Zulip's do (all but removing ``read``, whose details differ per event).
"""

from __future__ import annotations

import bisect
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import orjson
from twisted.internet import defer

from zulipd.errors import JsonableError
from zulipd.events.event import Notice, Rendering, SharedEvent, encode

RESOLVED_TOPIC_PREFIX = "✔ "


class BadEventQueueId(JsonableError):
    code = "BAD_EVENT_QUEUE_ID"

    def __init__(self, queue_id: str) -> None:
        super().__init__(f"Bad event queue ID: {queue_id}", queue_id=queue_id)


NarrowTerm = tuple[str, str]


@dataclass(frozen=True)
class QueueOptions:
    """What a client asked for when it registered."""

    event_types: frozenset[str] | None = None
    narrow: tuple[NarrowTerm, ...] = ()
    all_public_streams: bool = False
    apply_markdown: bool = False
    client_gravatar: bool = False
    capabilities: frozenset[str] = frozenset()
    # Seconds without a client before the queue is collected.
    lifespan: float = 600.0

    @property
    def rendering(self) -> Rendering:
        return (self.apply_markdown, self.client_gravatar)

    def wants(self, event_type: str) -> bool:
        return self.event_types is None or event_type in self.event_types


@dataclass
class _Queued:
    id: int
    shared: SharedEvent | None
    # The queue's own members of the event: per-user fields, or all of a merged event.
    own: dict[str, Any] | None

    def encoded(self) -> orjson.Fragment:
        head = b'{"id":' + str(self.id).encode("ascii")
        if self.own:
            head += b"," + encode(self.own)[1:-1]
        if self.shared is not None:
            head += b"," + self.shared.members()
        return orjson.Fragment(head + b"}")

    def as_dict(self) -> dict[str, Any]:
        return {"id": self.id, **(self.shared.body if self.shared else {}), **(self.own or {})}


class QueueConsumer(Protocol):
    """What a queue tells an attached WebSocket."""

    def events_available(self) -> None: ...

    def replaced(self) -> None: ...

    def going_away(self) -> None: ...

    def queue_gone(self) -> None: ...


class EventQueue:
    def __init__(self, queue_id: str, user_id: int, realm_id: int, options: QueueOptions, now: float) -> None:
        self.id = queue_id
        self.user_id = user_id
        self.realm_id = realm_id
        self.options = options
        self.last_seen = now
        self.next_event_id = 0
        self._pruned_through = -1
        self._events: list[_Queued] = []
        # Merged update_message_flags events, by (op, flag): the queue entry to extend.
        self._merged_flags: dict[tuple[str, str], _Queued] = {}
        self._waiter: defer.Deferred[None] | None = None
        # An attached WebSocket, told of every event as it arrives (see attach).
        self._consumer: QueueConsumer | None = None
        # Deleted or collected: a parked request wakes and answers BAD_EVENT_QUEUE_ID.
        self.closed = False

    # --- what the shard calls --------------------------------------------------------------------

    def accepts(self, notice: Notice) -> bool:
        event = notice.event
        if not self.options.wants(event.type):
            return False
        if notice.capability is not None:
            name, declared = notice.capability
            if (name in self.options.capabilities) != declared:
                return False
        if event.type == "message" and self.options.narrow:
            own = notice.per_user.get(self.user_id, {})
            return narrow_matches(self.options.narrow, event.body["message"], own.get("flags", []))
        if event.type == "typing" and event.body.get("message_type") == "stream":
            return "stream_typing_notifications" in self.options.capabilities
        return True

    def push(self, shared: SharedEvent | None, own: Mapping[str, Any] | None = None) -> int:
        """Queue an event (a shared body, this queue's own members, or both); wake a parked request."""
        event_id = self.next_event_id
        self.next_event_id += 1
        merge_key = _flag_merge_key(shared, own)
        if merge_key is not None:
            assert shared is not None
            merged = self._merged_flags.get(merge_key)
            if merged is not None and merged.own is not None:
                merged.id = event_id
                merged.own["messages"] = [*merged.own["messages"], *shared.body["messages"]]
                self._events.remove(merged)
                self._events.append(merged)
            else:
                entry = _Queued(event_id, None, {**shared.body, **(own or {})})
                self._merged_flags[merge_key] = entry
                self._events.append(entry)
        else:
            self._events.append(_Queued(event_id, shared, dict(own) if own else None))
        self._wake()
        return event_id

    def push_notice(self, notice: Notice) -> int:
        if notice.event.type == "delete_message" and "bulk_message_deletion" not in self.options.capabilities:
            return self._push_legacy_deletions(notice.event)
        own = notice.per_user.get(self.user_id)
        queue_own = notice.per_queue.get(self.id)
        if queue_own is not None:
            own = {**(own or {}), **queue_own}
        return self.push(notice.for_rendering(self.options.rendering), own)

    def _push_legacy_deletions(self, event: SharedEvent) -> int:
        """Clients without bulk_message_deletion get one event per message, with ``message_id``."""
        fields = {key: value for key, value in event.body.items() if key != "message_ids"}
        event_id = -1
        for message_id in event.body["message_ids"]:
            event_id = self.push(SharedEvent({**fields, "message_id": message_id}))
        return event_id

    # --- saving across a restart --------------------------------------------------------------

    def snapshot(self) -> dict[str, Any]:
        """Everything needed to rebuild the queue in a later process (JSON-ready)."""
        options = self.options
        return {
            "id": self.id,
            "user_id": self.user_id,
            "realm_id": self.realm_id,
            "next_event_id": self.next_event_id,
            "pruned_through": self._pruned_through,
            "options": {
                "event_types": None if options.event_types is None else sorted(options.event_types),
                "narrow": [list(term) for term in options.narrow],
                "all_public_streams": options.all_public_streams,
                "apply_markdown": options.apply_markdown,
                "client_gravatar": options.client_gravatar,
                "capabilities": sorted(options.capabilities),
                "lifespan": options.lifespan,
            },
            "events": self.events(),
        }

    @classmethod
    def from_snapshot(cls, saved: Mapping[str, Any], now: float) -> EventQueue:
        raw = saved["options"]
        options = QueueOptions(
            event_types=None if raw["event_types"] is None else frozenset(raw["event_types"]),
            narrow=tuple((str(operator), str(operand)) for operator, operand in raw["narrow"]),
            all_public_streams=bool(raw["all_public_streams"]),
            apply_markdown=bool(raw["apply_markdown"]),
            client_gravatar=bool(raw["client_gravatar"]),
            capabilities=frozenset(raw["capabilities"]),
            lifespan=float(raw["lifespan"]),
        )
        queue = cls(str(saved["id"]), int(saved["user_id"]), int(saved["realm_id"]), options, now)
        queue.next_event_id = int(saved["next_event_id"])
        queue._pruned_through = int(saved["pruned_through"])
        for event in saved["events"]:
            body = {key: value for key, value in event.items() if key != "id"}
            queue._events.append(_Queued(int(event["id"]), SharedEvent(body), None))
        return queue

    # --- what GET /events calls ------------------------------------------------------------------

    def prune(self, last_event_id: int | None) -> None:
        """Drop the events the client acknowledged (``id <= last_event_id``)."""
        if last_event_id is None:
            return
        if last_event_id < self._pruned_through:
            raise JsonableError(f"An event newer than {last_event_id} has already been pruned!")
        # (An id this queue gave out may be gone from it without being pruned: a merged flags
        # event takes the id of the newest event merged into it.)
        if last_event_id >= self.next_event_id:
            raise JsonableError(f"Event {last_event_id} was not in this queue")
        cut = self._first_after(last_event_id)
        if cut:
            del self._events[:cut]
            if self._merged_flags:
                kept = {id(entry) for entry in self._events}
                self._merged_flags = {key: entry for key, entry in self._merged_flags.items() if id(entry) in kept}
            self._pruned_through = last_event_id

    @property
    def empty(self) -> bool:
        return not self._events

    @property
    def newest_event_id(self) -> int:
        return self.next_event_id - 1

    def encoded_events(self) -> list[orjson.Fragment]:
        return [entry.encoded() for entry in self._events]

    def events(self) -> list[dict[str, Any]]:
        """The queued events as dicts (for tests and for saving the queue)."""
        return [entry.as_dict() for entry in self._events]

    def encoded_events_after(self, event_id: int) -> list[orjson.Fragment]:
        return [entry.encoded() for entry in self._events[self._first_after(event_id) :]]

    def _first_after(self, event_id: int) -> int:
        """The index of the first queued event newer than ``event_id`` (events are kept in id order)."""
        events = self._events
        # Most asks are for the newest event or two (a listener that keeps up): look from the end first.
        index = len(events)
        for _ in range(4):
            if index == 0 or events[index - 1].id <= event_id:
                return index
            index -= 1
        return bisect.bisect_right(events, event_id, 0, index, key=_event_id)

    @property
    def parked(self) -> bool:
        """Whether a client is waiting on the queue now (a long-poll, or a WebSocket)."""
        return self._waiter is not None or self._consumer is not None

    def attach(self, consumer: QueueConsumer) -> None:
        """A WebSocket takes the queue over: a parked long-poll is answered, an older WebSocket let go."""
        self._wake()
        if self._consumer is not None and self._consumer is not consumer:
            self._consumer.replaced()
        self._consumer = consumer

    def detach(self, consumer: QueueConsumer, now: float) -> None:
        if self._consumer is consumer:
            self._consumer = None
            self.last_seen = now

    def park(self) -> defer.Deferred[None]:
        """A Deferred that fires when an event arrives; a newer request replaces (and releases) an older one."""
        self._wake()
        if self._consumer is not None:
            self._consumer.replaced()
            self._consumer = None
        waiter: defer.Deferred[None] = defer.Deferred()
        self._waiter = waiter
        return waiter

    def unpark(self, waiter: defer.Deferred[None], now: float) -> None:
        """The parked request is over (answered, or its client went away)."""
        if self._waiter is waiter:
            self._waiter = None
        self.last_seen = now

    def release(self) -> None:
        """Answer a parked request now, with whatever is queued, and let a WebSocket go (zulipd stops)."""
        self._wake()
        consumer, self._consumer = self._consumer, None
        if consumer is not None:
            consumer.going_away()

    def close(self) -> None:
        self.closed = True
        self._wake()
        consumer, self._consumer = self._consumer, None
        if consumer is not None:
            consumer.queue_gone()

    def _wake(self) -> None:
        waiter, self._waiter = self._waiter, None
        if waiter is not None and not waiter.called:
            waiter.callback(None)
        if self._consumer is not None:
            self._consumer.events_available()


def _event_id(entry: _Queued) -> int:
    return entry.id


def _flag_merge_key(shared: SharedEvent | None, own: Mapping[str, Any] | None) -> tuple[str, str] | None:
    if shared is None or own or shared.type != "update_message_flags":
        return None
    body = shared.body
    if body.get("all") or (body.get("op") == "remove" and body.get("flag") == "read"):
        return None
    return (str(body.get("op")), str(body.get("flag")))


# --- narrows of a queue (Zulip's register narrow: a few operators, no negation) --------------------

NARROW_OPERATORS = ("channel", "stream", "topic", "sender", "is")
NARROW_IS_OPERANDS = ("dm", "private", "starred", "unread", "mentioned", "alerted", "resolved")


def parse_queue_narrow(narrow: Sequence[Any]) -> tuple[NarrowTerm, ...]:
    """Register's ``narrow``: ``[operator, operand]`` pairs (or ``{"operator", "operand"}`` objects)."""
    terms: list[NarrowTerm] = []
    for term in narrow:
        if isinstance(term, dict):
            operator, operand = term.get("operator"), term.get("operand")
        elif isinstance(term, list) and len(term) == 2:
            operator, operand = term
        else:
            raise JsonableError("Invalid narrow")
        if not isinstance(operator, str) or not isinstance(operand, str):
            raise JsonableError("Invalid narrow")
        if operator not in NARROW_OPERATORS:
            raise JsonableError(f"Operator {operator} not supported.")
        if operator == "is" and operand not in NARROW_IS_OPERANDS:
            raise JsonableError(f"Operand {operand} not supported.")
        terms.append((operator, operand))
    return tuple(terms)


def narrow_matches(narrow: Sequence[NarrowTerm], message: Mapping[str, Any], flags: Sequence[str]) -> bool:
    is_channel = message.get("type") == "stream"
    topic = str(message.get("subject", ""))
    for operator, operand in narrow:
        if operator in ("channel", "stream"):
            if not is_channel or operand.lower() != str(message.get("display_recipient", "")).lower():
                return False
        elif operator == "topic":
            if not is_channel or operand.lower() != topic.lower():
                return False
        elif operator == "sender":
            if operand.lower() != str(message.get("sender_email", "")).lower():
                return False
        elif operand in ("dm", "private"):
            if is_channel:
                return False
        elif operand == "starred":
            if "starred" not in flags:
                return False
        elif operand == "unread":
            if "read" in flags:
                return False
        elif operand in ("mentioned", "alerted"):
            if "mentioned" not in flags:
                return False
        elif operand == "resolved" and not (is_channel and topic.startswith(RESOLVED_TOPIC_PREFIX)):
            return False
    return True
