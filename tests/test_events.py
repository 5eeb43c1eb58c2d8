"""POST /register, GET /events and DELETE /events over HTTP, with message events from real sends."""

from __future__ import annotations

from typing import Any

import pytest
from twisted.internet import defer, reactor, task

from tests.chat_support import (
    CORDELIA,
    HAMLET,
    IAGO,
    OTHELLO,
    POLONIUS,
    assert_error,
    call,
    create_channel,
    first_commit_done_second_under_way,
    hold_commits,
    queued_events,
    register,
    send_direct,
    send_stream,
    success,
)
from tests.support.api import ApiHarness
from tests.support.async_tests import async_test
from tests.support.openapi import assert_valid
from zulipd.actions.notify import publish


async def poll(api: ApiHarness, email: str, queue_id: str, last_event_id: int, **params: Any) -> dict[str, Any]:
    query = {"queue_id": queue_id, "last_event_id": last_event_id, **params}
    return success(await call(api, "GET", "events", query, as_user=email))


@async_test
async def test_register_answers_a_queue_and_the_state_asked_for(api: ApiHarness) -> None:
    body = await register(api, HAMLET, event_types=["message"], fetch_event_types=["message", "realm_user"])
    assert isinstance(body["queue_id"], str)
    assert body["last_event_id"] == -1
    assert body["zulip_feature_level"] == 372
    assert body["max_message_id"] == -1
    assert body["user_id"] == api.user(HAMLET).id
    assert {user["email"] for user in body["realm_users"]} >= {HAMLET, IAGO}
    # As Zulip gives logged-in clients: each user's custom profile field values (zulipd has no fields).
    assert all(user["profile_data"] == {} for user in body["realm_users"])
    assert "subscriptions" not in body
    # Without event types, every type zulipd serves.
    everything = await register(api, HAMLET)
    keys = ("max_message_id", "realm_users", "subscriptions", "never_subscribed", "streams", "user_settings",
            "realm_user_groups", "presences", "user_topics", "starred_messages", "realm_default_streams")  # fmt: skip
    for key in keys:
        assert key in everything, key


@async_test
async def test_a_message_reaches_the_queues_of_its_receivers_only(api: ApiHarness) -> None:
    await create_channel(api, IAGO, "garden", principals=[HAMLET, CORDELIA])
    hamlet = await register(api, HAMLET, event_types=["message"])
    othello = await register(api, OTHELLO, event_types=["message"])
    message_id = await send_stream(api, CORDELIA, "garden", "roses", "in bloom")
    events = await queued_events(api, HAMLET, hamlet["queue_id"])
    assert [event["type"] for event in events] == ["message"]
    event = events[0]
    assert event["id"] == 0
    assert event["message"]["id"] == message_id
    assert event["message"]["content"] == "in bloom"  # apply_markdown defaults to false
    assert event["message"]["content_type"] == "text/x-markdown"
    assert event["message"]["display_recipient"] == "garden"
    assert event["flags"] == []
    # Othello is not subscribed to garden.
    assert await queued_events(api, OTHELLO, othello["queue_id"]) == []


@async_test
async def test_a_parked_request_returns_when_the_message_arrives(api: ApiHarness) -> None:
    queue = await register(api, HAMLET, event_types=["message"], apply_markdown=True)
    parked = defer.ensureDeferred(poll(api, HAMLET, queue["queue_id"], -1))
    await task.deferLater(reactor, 0.2, lambda: None)
    assert not parked.called
    message_id = await send_direct(api, CORDELIA, [HAMLET], "psst")
    body = await parked
    (event,) = body["events"]
    assert body["queue_id"] == queue["queue_id"]
    assert event["message"]["id"] == message_id
    assert event["message"]["content"] == "<p>psst</p>"
    assert event["flags"] == []
    # The sender's own queue sees its message as read.
    assert (await queued_events(api, HAMLET, queue["queue_id"], 0)) == []


@async_test
async def test_a_parked_request_answers_with_every_event_published_in_the_same_turn(api: ApiHarness) -> None:
    queue_id = (await register(api, HAMLET, event_types=["alert_words"]))["queue_id"]
    parked = defer.ensureDeferred(poll(api, HAMLET, queue_id, -1))
    await task.deferLater(reactor, 0.2, lambda: None)
    hamlet = api.user(HAMLET).id
    # As the events of one commit are published: one after another, with no turn of the reactor between.
    for words in (["one"], ["one", "two"]):
        publish(api.server, {"type": "alert_words", "alert_words": words}, [hamlet])
    body = await parked
    assert [(e["id"], e["alert_words"]) for e in body["events"]] == [(0, ["one"]), (1, ["one", "two"])]


@async_test
async def test_a_woken_request_also_takes_the_messages_of_the_commit_under_way(
    api: ApiHarness, monkeypatch: pytest.MonkeyPatch
) -> None:
    queue_id = (await register(api, HAMLET, event_types=["message"]))["queue_id"]
    gates = hold_commits(api, monkeypatch)
    parked = defer.ensureDeferred(poll(api, HAMLET, queue_id, -1))
    second = await first_commit_done_second_under_way(api, gates, HAMLET)
    await task.deferLater(reactor, 0.03, lambda: None)
    # The first message woke the request, and it waits for the commit under way.
    assert not parked.called
    gates[1].callback(None)
    body = await parked
    assert [event["message"]["content"] for event in body["events"]] == ["first", "second"]
    await second


@async_test
async def test_a_woken_request_waits_for_a_slow_commit_a_tenth_of_a_second_at_most(
    api: ApiHarness, monkeypatch: pytest.MonkeyPatch
) -> None:
    queue_id = (await register(api, HAMLET, event_types=["message"]))["queue_id"]
    gates = hold_commits(api, monkeypatch)
    parked = defer.ensureDeferred(poll(api, HAMLET, queue_id, -1))
    second = await first_commit_done_second_under_way(api, gates, HAMLET)
    # The second commit never finishes meanwhile: the request answers with what it has.
    body = await parked.addTimeout(5, reactor)
    assert [event["message"]["content"] for event in body["events"]] == ["first"]
    gates[1].callback(None)
    await second


@async_test
async def test_acknowledged_events_are_pruned_and_ids_count_up(api: ApiHarness) -> None:
    queue_id = (await register(api, HAMLET, event_types=["message"]))["queue_id"]
    sent = [await send_direct(api, CORDELIA, [HAMLET], f"number {n}") for n in range(3)]
    events = await queued_events(api, HAMLET, queue_id)
    assert [event["id"] for event in events] == [0, 1, 2]
    assert [event["message"]["id"] for event in events] == sent
    assert [event["id"] for event in await queued_events(api, HAMLET, queue_id, 1)] == [2]
    response = await call(api, "GET", "events", {"queue_id": queue_id, "last_event_id": 0, "dont_block": True},
                          as_user=HAMLET)  # fmt: skip
    assert_error(response, "An event newer than 0 has already been pruned!")
    response = await call(api, "GET", "events", {"queue_id": queue_id, "last_event_id": 7, "dont_block": True},
                          as_user=HAMLET)  # fmt: skip
    assert_error(response, "Event 7 was not in this queue")


@async_test
async def test_unknown_and_other_users_queues(api: ApiHarness) -> None:
    queue_id = (await register(api, HAMLET))["queue_id"]
    for email, asked in ((CORDELIA, queue_id), (HAMLET, "no-such-queue")):
        response = await call(api, "GET", "events", {"queue_id": asked, "dont_block": True}, as_user=email)
        assert_error(response, f"Bad event queue ID: {asked}", "BAD_EVENT_QUEUE_ID", queue_id=asked)
        response = await call(api, "DELETE", "events", {"queue_id": asked}, as_user=email)
        assert_error(response, f"Bad event queue ID: {asked}", "BAD_EVENT_QUEUE_ID", queue_id=asked)
    success(await call(api, "DELETE", "events", {"queue_id": queue_id}, as_user=HAMLET))
    response = await call(api, "GET", "events", {"queue_id": queue_id, "dont_block": True}, as_user=HAMLET)
    assert_error(response, f"Bad event queue ID: {queue_id}", "BAD_EVENT_QUEUE_ID", queue_id=queue_id)


@async_test
async def test_deleting_a_queue_answers_its_parked_request(api: ApiHarness) -> None:
    queue_id = (await register(api, HAMLET))["queue_id"]
    parked = defer.ensureDeferred(call(api, "GET", "events", {"queue_id": queue_id}, as_user=HAMLET))
    await task.deferLater(reactor, 0.2, lambda: None)
    success(await call(api, "DELETE", "events", {"queue_id": queue_id}, as_user=HAMLET))
    assert_error(await parked, f"Bad event queue ID: {queue_id}", "BAD_EVENT_QUEUE_ID", queue_id=queue_id)


@async_test
async def test_narrowed_queues_get_matching_messages_only(api: ApiHarness) -> None:
    await create_channel(api, IAGO, "garden", principals=[HAMLET, CORDELIA])
    topic_queue = (await register(api, HAMLET, narrow=[["channel", "Garden"], ["topic", "ROSES"]]))["queue_id"]
    dm_queue = (await register(api, HAMLET, narrow=[["is", "dm"]]))["queue_id"]
    roses = await send_stream(api, CORDELIA, "garden", "roses", "red")
    await send_stream(api, CORDELIA, "garden", "tulips", "yellow")
    direct = await send_direct(api, CORDELIA, [HAMLET], "hi")
    assert [e["message"]["id"] for e in await queued_events(api, HAMLET, topic_queue)] == [roses]
    assert [e["message"]["id"] for e in await queued_events(api, HAMLET, dm_queue)] == [direct]
    for narrow, msg in (([["search", "x"]], "Operator search not supported."),
                        ([["is", "followed"]], "Operand followed not supported."),
                        (["channel"], "Invalid narrow")):  # fmt: skip
        assert_error(await call(api, "POST", "register", {"narrow": narrow}, as_user=HAMLET), msg)


@async_test
async def test_all_public_streams_sees_channels_one_is_not_in(api: ApiHarness) -> None:
    await create_channel(api, IAGO, "garden", principals=[CORDELIA])
    await create_channel(api, IAGO, "vault", principals=[CORDELIA], invite_only=True)
    queue_id = (await register(api, HAMLET, all_public_streams=True, event_types=["message"]))["queue_id"]
    public = await send_stream(api, CORDELIA, "garden", "roses", "red")
    await send_stream(api, CORDELIA, "vault", "gold", "secret")
    assert [e["message"]["id"] for e in await queued_events(api, HAMLET, queue_id)] == [public]
    response = await call(api, "POST", "register", {"all_public_streams": True}, as_user=POLONIUS)
    assert_error(response, "User not authorized for this query")


@async_test
async def test_local_echo_reaches_the_sending_queue_only(api: ApiHarness) -> None:
    first = (await register(api, HAMLET, event_types=["message"]))["queue_id"]
    second = (await register(api, HAMLET, event_types=["message"]))["queue_id"]
    params = {"type": "direct", "to": [CORDELIA], "content": "echo", "queue_id": first, "local_id": "12.01"}
    success(await call(api, "POST", "messages", params, as_user=HAMLET))
    # Zulip sends local_message_id, and its web client relies on it, but the spec's message event
    # does not list it; the rest of the answer must fit.
    query = {"queue_id": first, "last_event_id": -1, "dont_block": True}
    body = success(await call(api, "GET", "events", query, as_user=HAMLET, check_spec=False))
    (echoed,) = body["events"]
    assert echoed.pop("local_message_id") == "12.01"
    assert_valid("GET", "events", 200, body)
    (plain,) = await queued_events(api, HAMLET, second)
    assert "local_message_id" not in plain
    assert echoed["flags"] == ["read"]
