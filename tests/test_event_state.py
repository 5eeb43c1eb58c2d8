"""Each action's events, applied to the state from before, give the state a fresh POST /register gives.

This is Zulip's own check of its events: register, act, apply what the queue
received to the registered state, and compare with a new registration.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from tests.chat_support import (
    CORDELIA,
    HAMLET,
    IAGO,
    OTHELLO,
    call,
    create_channel,
    queued_events,
    register,
    send_direct,
    send_stream,
    subscribe,
    success,
)
from tests.event_state import STATE_TYPES, apply_event, comparable
from tests.support.api import ApiHarness
from tests.support.async_tests import async_test

Action = Callable[[], Awaitable[object]]


async def verify(api: ApiHarness, email: str, action: Action, *, expect_events: bool = True) -> list[dict[str, Any]]:
    """Do ``action``; check that ``email``'s events turn the old state into the new one. Return the events."""
    before = await register(api, email, event_types=STATE_TYPES, include_subscribers=True)
    await action()
    events = await queued_events(api, email, before["queue_id"], before["last_event_id"])
    assert bool(events) == expect_events, events
    state = dict(before)
    for event in events:
        apply_event(state, event)
    fresh = await register(api, email, event_types=STATE_TYPES, include_subscribers=True)
    applied, expected = comparable(state), comparable(fresh)
    differing = {
        key: (applied.get(key), expected.get(key)) for key in expected if applied.get(key) != expected.get(key)
    }
    assert not differing, f"events {events}\nstate after the events, then from a fresh register: {differing}"
    return events


def channel_id(api: ApiHarness, name: str) -> Callable[[], Awaitable[int]]:
    async def find() -> int:
        body = success(await call(api, "GET", "get_stream_id", {"stream": name}, as_user=IAGO))
        stream_id: int = body["stream_id"]
        return stream_id

    return find


@async_test
async def test_messages(api: ApiHarness) -> None:
    await create_channel(api, IAGO, "garden", principals=[HAMLET])
    await verify(api, HAMLET, lambda: send_stream(api, CORDELIA, "garden", "roses", "red"))
    await verify(api, HAMLET, lambda: send_direct(api, OTHELLO, [HAMLET], "hi"))
    # Hamlet starts a topic: the message, and the topic followed.
    events = await verify(api, HAMLET, lambda: send_stream(api, HAMLET, "garden", "tulips", "new"))
    assert [event["type"] for event in events] == ["message", "user_topic"]
    await verify(api, HAMLET, lambda: send_direct(api, OTHELLO, [CORDELIA], "not for hamlet"), expect_events=False)


@async_test
async def test_starring_and_unstarring(api: ApiHarness) -> None:
    ids = [await send_direct(api, CORDELIA, [HAMLET], f"n{n}") for n in range(3)]

    def flag(op: str, message_ids: list[int]) -> Action:
        params = {"messages": message_ids, "op": op, "flag": "starred"}
        return lambda: call(api, "POST", "messages/flags", params, as_user=HAMLET)

    await verify(api, HAMLET, flag("add", ids))
    await verify(api, HAMLET, flag("remove", ids[1:]))


@async_test
async def test_topic_preferences(api: ApiHarness) -> None:
    await create_channel(api, IAGO, "garden", principals=[HAMLET])
    garden = await channel_id(api, "garden")()

    def set_policy(topic: str, policy: int) -> Action:
        params = {"stream_id": garden, "topic": topic, "visibility_policy": policy}
        return lambda: call(api, "POST", "user_topics", params, as_user=HAMLET)

    await verify(api, HAMLET, set_policy("roses", 1))
    await verify(api, HAMLET, set_policy("ROSES", 3))
    await verify(api, HAMLET, set_policy("roses", 0))


@async_test
async def test_channels_and_subscriptions(api: ApiHarness) -> None:
    # Hamlet watches a public channel being created, joined by others, joined by him, and left.
    await verify(api, HAMLET, lambda: create_channel(api, IAGO, "garden", principals=[CORDELIA]))
    await verify(api, HAMLET, lambda: subscribe(api, IAGO, "garden", [OTHELLO]))
    await verify(api, HAMLET, lambda: subscribe(api, IAGO, "garden", [HAMLET]))
    garden = await channel_id(api, "garden")()
    changes = [{"stream_id": garden, "property": "is_muted", "value": True}]
    await verify(
        api, HAMLET, lambda: call(api, "POST", "users/me/subscriptions/properties", {"subscription_data": changes},
                                  as_user=HAMLET),
    )  # fmt: skip
    await verify(api, HAMLET, lambda: subscribe(api, IAGO, "garden", [HAMLET]), expect_events=False)
    leave = {"subscriptions": ["garden"]}
    await verify(api, HAMLET, lambda: call(api, "DELETE", "users/me/subscriptions", leave, as_user=CORDELIA))
    await verify(api, HAMLET, lambda: call(api, "DELETE", "users/me/subscriptions", leave, as_user=HAMLET))
    # A private channel: Cordelia hears of it only when added.
    await verify(api, CORDELIA, lambda: create_channel(api, HAMLET, "secret", invite_only=True), expect_events=False)
    await verify(api, CORDELIA, lambda: subscribe(api, HAMLET, "secret", [CORDELIA]))
