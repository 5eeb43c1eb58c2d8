"""An event as the queues hold it: serialized once, however many queues it reaches.

An action builds one ``SharedEvent`` per change and a ``Notice`` naming who
gets it. Each queue stores a reference to the shared event plus the little that
is its own (its id, a message's flags for that user). When a queue answers,
each event is spliced together from those bytes; the shared body is encoded
the first time any queue needs it, and never again.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson


def encode(value: Any) -> bytes:
    """JSON, as the API writes it; strings that are not valid UTF-8 (a lone surrogate) become escapes."""
    try:
        return orjson.dumps(value)
    except orjson.JSONEncodeError:
        return json.dumps(value, ensure_ascii=True, separators=(",", ":")).encode("ascii")


class SharedEvent:
    """One event's body (everything but ``id``), shared by every queue it goes to."""

    __slots__ = ("_members", "body")

    def __init__(self, body: Mapping[str, Any]) -> None:
        assert "type" in body
        assert "id" not in body
        self.body = body
        self._members: bytes | None = None

    @property
    def type(self) -> str:
        event_type: str = self.body["type"]
        return event_type

    def members(self) -> bytes:
        """The encoded body without its braces, ready to follow ``{"id":N,``."""
        if self._members is None:
            self._members = encode(self.body)[1:-1]
        return self._members


# What a queue renders a message with: (apply_markdown, client_gravatar).
Rendering = tuple[bool, bool]


@dataclass(frozen=True)
class Notice:
    """An event and the users it goes to, as actions hand it to the router.

    ``variants`` serves events whose body depends on how a queue asked for
    messages (``message`` events: HTML or Markdown, avatar URLs or not); it
    gives the shared event for a queue's rendering, built once per rendering.
    ``per_user`` adds fields of each user's own (a message's ``flags``), and
    ``per_queue`` those of one queue's own.
    """

    event: SharedEvent
    user_ids: Sequence[int]
    per_user: Mapping[int, Mapping[str, Any]] = field(default_factory=dict)
    # Fields one queue gets besides (the sending client's local_message_id), by queue id.
    per_queue: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    variants: Callable[[Rendering], SharedEvent] | None = None
    # For a message to a public channel: its realm, whose all_public_streams queues get it too.
    public_in_realm: int | None = None
    # (capability, declared): only queues whose client declared the capability (True), or did not (False).
    capability: tuple[str, bool] | None = None

    def for_rendering(self, rendering: Rendering) -> SharedEvent:
        return self.event if self.variants is None else self.variants(rendering)


def variants_cache(build: Callable[[Rendering], SharedEvent]) -> Callable[[Rendering], SharedEvent]:
    """``build``, called at most once per rendering."""
    built: dict[Rendering, SharedEvent] = {}

    def variant(rendering: Rendering) -> SharedEvent:
        event = built.get(rendering)
        if event is None:
            event = built[rendering] = build(rendering)
        return event

    return variant
