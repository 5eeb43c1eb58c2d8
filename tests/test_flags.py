"""POST /messages/flags, /messages/flags/narrow, /mark_all_as_read, /mark_stream_as_read, /mark_topic_as_read."""

from __future__ import annotations

from typing import Any

import pytest

from tests.chat_support import (
    CORDELIA,
    HAMLET,
    IAGO,
    OTHELLO,
    POLONIUS,
    assert_error,
    create_channel,
    fetch_ids,
    fetch_message,
    row_flags,
    send_direct,
    send_stream,
    subscribe,
    success,
    term,
    unsubscribe,
)
from tests.support.api import ApiHarness
from tests.support.async_tests import async_test
from tests.support.openapi import assert_valid
from zulipd.actions.flags import MAX_MESSAGES_PER_UPDATE, bounded_range
from zulipd.models import MessageFlag

INVALID_MESSAGE = "Invalid message(s)"
READ, STARRED, COLLAPSED, HISTORICAL = (int(f) for f in (MessageFlag.READ, MessageFlag.STARRED,
                                                         MessageFlag.COLLAPSED, MessageFlag.HISTORICAL))  # fmt: skip


async def flags(api: ApiHarness, email: str, messages: list[int], op: str, flag: str) -> Any:
    return await api.call("POST", "messages/flags", {"messages": messages, "op": op, "flag": flag}, as_user=email)


async def flags_ok(api: ApiHarness, email: str, messages: list[int], op: str, flag: str) -> dict[str, Any]:
    body = success(await flags(api, email, messages, op, flag))
    assert_valid("POST", "messages/flags", 200, body)
    return body


async def for_narrow(api: ApiHarness, email: str, **params: Any) -> Any:
    return await api.call("POST", "messages/flags/narrow", params, as_user=email)


async def for_narrow_ok(api: ApiHarness, email: str, **params: Any) -> dict[str, Any]:
    body = success(await for_narrow(api, email, **params))
    assert_valid("POST", "messages/flags/narrow", 200, body)
    return body


async def flag_names(api: ApiHarness, email: str, message_id: int) -> list[str]:
    names: list[str] = (await fetch_message(api, email, message_id))["flags"]
    return names


async def unread_ids(api: ApiHarness, email: str) -> list[int]:
    return await fetch_ids(api, email, [term("is", "unread")], anchor="oldest", num_before=0, num_after=100)


async def denmark_messages(api: ApiHarness, count: int, topic: str = "castle") -> list[int]:
    await create_channel(api, HAMLET, "Denmark", principals=[OTHELLO])
    return [await send_stream(api, HAMLET, "Denmark", topic, f"m{n}") for n in range(count)]


# --- POST /messages/flags ------------------------------------------------------------------


@async_test
async def test_read_starred_and_collapsed(api: ApiHarness) -> None:
    ids = await denmark_messages(api, 3)
    assert await unread_ids(api, OTHELLO) == ids
    body = await flags_ok(api, OTHELLO, [ids[0], ids[1]], "add", "read")
    assert body["messages"] == [ids[0], ids[1]]
    assert await unread_ids(api, OTHELLO) == [ids[2]]
    # Only what changed is reported.
    assert (await flags_ok(api, OTHELLO, ids, "add", "read"))["messages"] == [ids[2]]
    assert (await flags_ok(api, OTHELLO, ids, "add", "read"))["messages"] == []
    body = await flags_ok(api, OTHELLO, [ids[1]], "remove", "read")
    assert body == {"result": "success", "msg": "", "messages": [ids[1]], "ignored_because_not_subscribed_channels": []}
    assert await unread_ids(api, OTHELLO) == [ids[1]]
    await flags_ok(api, OTHELLO, [ids[2]], "add", "starred")
    await flags_ok(api, OTHELLO, [ids[2]], "add", "collapsed")
    assert await flag_names(api, OTHELLO, ids[2]) == ["read", "starred", "collapsed"]
    assert (await flags_ok(api, OTHELLO, [ids[2]], "remove", "collapsed"))["messages"] == [ids[2]]
    assert await flag_names(api, OTHELLO, ids[2]) == ["read", "starred"]
    starred = [{"operator": "is", "operand": "starred"}]
    found = success(
        await api.call("GET", "messages", {"anchor": "newest", "num_before": 9, "narrow": starred}, as_user=OTHELLO)
    )
    assert [message["id"] for message in found["messages"]] == [ids[2]]
    # Other users' flags are their own.
    assert await flag_names(api, HAMLET, ids[2]) == ["read"]


@pytest.mark.parametrize(
    ("flag", "msg"),
    [
        ("mentioned", "Flag not editable: 'mentioned'"),
        ("historical", "Flag not editable: 'historical'"),
        ("has_alert_word", "Flag not editable: 'has_alert_word'"),
        ("wildcard_mentioned", "Flag not editable: 'wildcard_mentioned'"),
        ("stream_wildcard_mentioned", "Flag not editable: 'stream_wildcard_mentioned'"),
        ("is_private", "Invalid flag: 'is_private'"),
        ("active_mobile_push_notification", "Invalid flag: 'active_mobile_push_notification'"),
        ("shiny", "Invalid flag: 'shiny'"),
    ],
)
@async_test
async def test_server_flags_cannot_be_changed(api: ApiHarness, flag: str, msg: str) -> None:
    [message_id] = await denmark_messages(api, 1)
    before = await row_flags(api, OTHELLO, message_id)
    assert_error(await flags(api, OTHELLO, [message_id], "add", flag), msg)
    assert_error(
        await for_narrow(api, OTHELLO, anchor="newest", num_before=1, num_after=0, narrow=[], op="add", flag=flag), msg
    )
    assert await row_flags(api, OTHELLO, message_id) == before


@async_test
async def test_bad_requests(api: ApiHarness) -> None:
    [message_id] = await denmark_messages(api, 1)
    assert_error(await flags(api, OTHELLO, [message_id], "toggle", "read"), "Invalid message flag operation: 'toggle'")
    assert_error(
        await api.call("POST", "messages/flags", {"messages": "[1, 2", "op": "add", "flag": "read"}, as_user=OTHELLO),
        "messages is not valid JSON",
    )
    assert_error(
        await api.call("POST", "messages/flags", {"messages": ["x"], "op": "add", "flag": "read"}, as_user=OTHELLO),
        "messages[0] is not an integer",
    )
    assert_error(
        await api.call("POST", "messages/flags", {"op": "add", "flag": "read"}, as_user=OTHELLO),
        "Missing 'messages' argument",
        "REQUEST_VARIABLE_MISSING",
        var_name="messages",
    )
    assert (await flags_ok(api, OTHELLO, [], "add", "starred"))["messages"] == []


@async_test
async def test_starring_shared_history_creates_a_historical_row(api: ApiHarness) -> None:
    [message_id] = await denmark_messages(api, 1)
    assert await row_flags(api, CORDELIA, message_id) is None
    assert await flag_names(api, CORDELIA, message_id) == ["read", "historical"]
    # Marking read what already counts as read needs no row.
    assert (await flags_ok(api, CORDELIA, [message_id], "add", "read"))["messages"] == []
    assert await row_flags(api, CORDELIA, message_id) is None
    assert (await flags_ok(api, CORDELIA, [message_id], "add", "starred"))["messages"] == [message_id]
    assert await row_flags(api, CORDELIA, message_id) == READ | HISTORICAL | STARRED
    assert await flag_names(api, CORDELIA, message_id) == ["read", "starred", "historical"]
    assert (await flags_ok(api, CORDELIA, [message_id], "remove", "starred"))["messages"] == [message_id]
    assert await row_flags(api, CORDELIA, message_id) == READ | HISTORICAL
    # Collapsing works the same way.
    assert (await flags_ok(api, IAGO, [message_id], "add", "collapsed"))["messages"] == [message_id]
    assert await row_flags(api, IAGO, message_id) == READ | HISTORICAL | COLLAPSED


@async_test
async def test_flags_on_messages_one_cannot_read(api: ApiHarness) -> None:
    await create_channel(api, OTHELLO, "secret", invite_only=True)
    secret_id = await send_stream(api, OTHELLO, "secret", "plans")
    direct_id = await send_direct(api, OTHELLO, [HAMLET])
    [public_id] = await denmark_messages(api, 1)
    for caller, message_id in [
        (IAGO, secret_id),
        (CORDELIA, direct_id),
        (POLONIUS, public_id),
        (IAGO, secret_id + 1000),
    ]:
        assert_error(await flags(api, caller, [message_id], "add", "starred"), INVALID_MESSAGE)
        # All or nothing: a readable message in the same request is not starred either.
        assert_error(await flags(api, caller, [public_id, message_id], "add", "starred"), INVALID_MESSAGE)
        assert await row_flags(api, caller, public_id) is None
        # What would change nothing is skipped without an error, as in Zulip.
        assert (await flags_ok(api, caller, [message_id], "add", "read"))["messages"] == []
    assert await row_flags(api, IAGO, secret_id) is None


@async_test
async def test_marking_unread_needs_a_subscription(api: ApiHarness) -> None:
    denmark = await create_channel(api, HAMLET, "Denmark", principals=[OTHELLO])
    message_id = await send_stream(api, HAMLET, "Denmark", "castle")
    direct_id = await send_direct(api, HAMLET, [OTHELLO])
    await flags_ok(api, OTHELLO, [message_id, direct_id], "add", "read")
    await unsubscribe(api, OTHELLO, "Denmark")
    body = await flags_ok(api, OTHELLO, [message_id, direct_id], "remove", "read")
    assert body["messages"] == [direct_id]
    assert body["ignored_because_not_subscribed_channels"] == [denmark]
    assert await unread_ids(api, OTHELLO) == [direct_id]
    # Never subscribed: skipped too (no row is created), and the channel reported.
    body = await flags_ok(api, CORDELIA, [message_id], "remove", "read")
    assert body["messages"] == []
    assert body["ignored_because_not_subscribed_channels"] == [denmark]
    assert await row_flags(api, CORDELIA, message_id) is None
    # A private channel one cannot read is not reported.
    secret = await create_channel(api, IAGO, "secret", invite_only=True)
    secret_id = await send_stream(api, IAGO, "secret", "plans")
    body = await flags_ok(api, CORDELIA, [secret_id], "remove", "read")
    assert body["ignored_because_not_subscribed_channels"] == []
    assert secret not in body["ignored_because_not_subscribed_channels"]
    # A subscriber may mark history unread: the row is created without "read".
    await subscribe(api, CORDELIA, "Denmark", [CORDELIA])
    body = await flags_ok(api, CORDELIA, [message_id], "remove", "read")
    assert body["messages"] == [message_id]
    assert await row_flags(api, CORDELIA, message_id) == HISTORICAL
    assert await unread_ids(api, CORDELIA) == [message_id]


# --- POST /messages/flags/narrow -----------------------------------------------------------


@async_test
async def test_flags_for_narrow(api: ApiHarness) -> None:
    ids = await denmark_messages(api, 5)
    await send_stream(api, HAMLET, "Denmark", "other topic")
    topic = [{"operator": "channel", "operand": "Denmark"}, {"operator": "topic", "operand": "castle"}]
    body = await for_narrow_ok(
        api, OTHELLO, anchor=str(ids[2]), num_before=1, num_after=1, narrow=topic, op="add", flag="read"
    )
    assert body == {
        "result": "success",
        "msg": "",
        "processed_count": 3,
        "updated_count": 3,
        "first_processed_id": ids[1],
        "last_processed_id": ids[3],
        "found_oldest": False,
        "found_newest": False,
    }
    body = await for_narrow_ok(
        api, OTHELLO, anchor="oldest", num_before=0, num_after=10, narrow=topic, op="add", flag="read"
    )
    assert (body["processed_count"], body["updated_count"]) == (5, 2)
    assert (body["first_processed_id"], body["last_processed_id"]) == (ids[0], ids[4])
    assert body["found_oldest"] is True
    assert body["found_newest"] is True
    # Excluding the anchor at one end.
    body = await for_narrow_ok(
        api,
        OTHELLO,
        anchor=str(ids[4]),
        include_anchor=False,
        num_before=2,
        num_after=0,
        narrow=topic,
        op="add",
        flag="starred",
    )
    assert (body["processed_count"], body["first_processed_id"], body["last_processed_id"]) == (2, ids[2], ids[3])
    assert [await flag_names(api, OTHELLO, i) == ["read", "starred"] for i in ids] == [False, False, True, True, False]


@async_test
async def test_flags_for_narrow_anchors(api: ApiHarness) -> None:
    ids = await denmark_messages(api, 4)
    await flags_ok(api, OTHELLO, ids[:2], "add", "read")
    body = await for_narrow_ok(
        api, OTHELLO, anchor="first_unread", num_before=0, num_after=0, narrow=[], op="add", flag="read"
    )
    assert (body["processed_count"], body["first_processed_id"]) == (1, ids[2])
    body = await for_narrow_ok(
        api, OTHELLO, anchor="newest", num_before=10, num_after=0, narrow=[], op="add", flag="read"
    )
    assert (body["processed_count"], body["updated_count"], body["found_newest"]) == (4, 1, True)
    # Nothing unread: first_unread falls back to the newest end, and the range is empty after it.
    body = await for_narrow_ok(
        api, OTHELLO, anchor="first_unread", num_before=0, num_after=5, narrow=[], op="add", flag="read"
    )
    assert body["processed_count"] == 0
    assert body["first_processed_id"] is None
    assert body["last_processed_id"] is None
    assert body["found_newest"] is True
    # JSON-encoded anchors, as clients send them.
    body = await for_narrow_ok(
        api, OTHELLO, anchor='"oldest"', num_before=0, num_after=1, narrow=None, op="remove", flag="read"
    )
    assert (body["first_processed_id"], body["updated_count"]) == (ids[0], 1)
    assert body["ignored_because_not_subscribed_channels"] == []


@async_test
async def test_flags_for_narrow_errors(api: ApiHarness) -> None:
    await denmark_messages(api, 1)
    base = {"anchor": "newest", "num_before": 1, "num_after": 0, "narrow": [], "op": "add", "flag": "read"}
    cases: list[tuple[dict[str, Any], str, str, dict[str, Any]]] = [
        ({"anchor": "sideways"}, "Invalid anchor", "BAD_REQUEST", {}),
        ({"num_before": -1}, "num_before is too small", "BAD_REQUEST", {}),
        ({"num_after": "many"}, "num_after is not valid JSON", "BAD_REQUEST", {}),
        (
            {"anchor": "5", "num_before": 2, "num_after": 2, "include_anchor": False},
            "The anchor can only be excluded at an end of the range",
            "BAD_REQUEST",
            {},
        ),
        (
            {"narrow": [{"operator": "bogus", "operand": "x"}]},
            "Invalid narrow operator: unknown operator bogus",
            "BAD_NARROW",
            {},
        ),
        (
            {"narrow": [{"operator": "channel", "operand": "nowhere"}]},
            "Invalid narrow operator: unknown channel",
            "BAD_NARROW",
            {},
        ),
        ({"op": "flip"}, "Invalid message flag operation: 'flip'", "BAD_REQUEST", {}),
    ]
    for change, msg, code, extra in cases:
        assert_error(await for_narrow(api, OTHELLO, **{**base, **change}), msg, code, **extra)
    missing = {key: value for key, value in base.items() if key != "narrow"}
    assert_error(
        await for_narrow(api, OTHELLO, **missing),
        "Missing 'narrow' argument",
        "REQUEST_VARIABLE_MISSING",
        var_name="narrow",
    )


@async_test
async def test_flags_for_narrow_stays_within_what_one_may_read(api: ApiHarness) -> None:
    await create_channel(api, OTHELLO, "secret", invite_only=True)
    secret_id = await send_stream(api, OTHELLO, "secret", "plans")
    [public_id] = await denmark_messages(api, 1)
    body = await for_narrow_ok(
        api,
        IAGO,
        anchor="oldest",
        num_before=0,
        num_after=100,
        narrow=[{"operator": "channels", "operand": "public"}],
        op="add",
        flag="starred",
    )
    assert (body["processed_count"], body["first_processed_id"]) == (1, public_id)
    assert await row_flags(api, IAGO, public_id) == READ | HISTORICAL | STARRED
    assert await row_flags(api, IAGO, secret_id) is None
    # A private channel one is not in is no narrow at all.
    response = await for_narrow(
        api, IAGO, anchor="oldest", num_before=0, num_after=9, narrow=[{"operator": "channel", "operand": "secret"}],
        op="add", flag="starred",
    )  # fmt: skip
    assert_error(response, "Invalid narrow operator: unknown channel", "BAD_NARROW")


def test_batches_are_bounded() -> None:
    assert bounded_range(10, 20) == (10, 20)
    assert bounded_range(100_000, 0) == (MAX_MESSAGES_PER_UPDATE, 0)
    assert bounded_range(0, 100_000) == (0, MAX_MESSAGES_PER_UPDATE)
    assert bounded_range(100_000, 100_000) == (MAX_MESSAGES_PER_UPDATE // 2, MAX_MESSAGES_PER_UPDATE // 2)
    assert bounded_range(100, 100_000) == (100, MAX_MESSAGES_PER_UPDATE - 100)


@async_test
async def test_flags_for_narrow_clamps_large_ranges(api: ApiHarness) -> None:
    ids = await denmark_messages(api, 3)
    body = await for_narrow_ok(
        api, OTHELLO, anchor="newest", num_before=10**9, num_after=10**9, narrow=[], op="add", flag="read"
    )
    assert (body["processed_count"], body["first_processed_id"], body["last_processed_id"]) == (3, ids[0], ids[2])


# --- the mark-as-read helpers --------------------------------------------------------------


@async_test
async def test_mark_all_as_read(api: ApiHarness) -> None:
    ids = await denmark_messages(api, 2)
    direct_id = await send_direct(api, HAMLET, [OTHELLO])
    assert await unread_ids(api, OTHELLO) == [*ids, direct_id]
    body = success(await api.call("POST", "mark_all_as_read", as_user=OTHELLO))
    assert_valid("POST", "mark_all_as_read", 200, body)
    assert body["complete"] is True
    assert await unread_ids(api, OTHELLO) == []
    # Other users' messages stay unread.
    assert await unread_ids(api, HAMLET) == []
    await send_stream(api, OTHELLO, "Denmark", "castle")
    assert len(await unread_ids(api, HAMLET)) == 1


@async_test
async def test_mark_stream_and_topic_as_read(api: ApiHarness) -> None:
    denmark = await create_channel(api, HAMLET, "Denmark", principals=[OTHELLO])
    verona = await create_channel(api, HAMLET, "Verona", principals=[OTHELLO])
    castle = [await send_stream(api, HAMLET, "Denmark", "castle") for _ in range(2)]
    moat = await send_stream(api, HAMLET, "Denmark", "Moat")
    elsewhere = await send_stream(api, HAMLET, "Verona", "castle")
    body = success(
        await api.call("POST", "mark_topic_as_read", {"stream_id": denmark, "topic_name": "CASTLE"}, as_user=OTHELLO)
    )
    assert_valid("POST", "mark_topic_as_read", 200, body)
    assert await unread_ids(api, OTHELLO) == [moat, elsewhere]
    assert castle
    body = success(await api.call("POST", "mark_stream_as_read", {"stream_id": denmark}, as_user=OTHELLO))
    assert_valid("POST", "mark_stream_as_read", 200, body)
    assert await unread_ids(api, OTHELLO) == [elsewhere]
    assert_error(
        await api.call("POST", "mark_topic_as_read", {"stream_id": verona, "topic_name": "nothing"}, as_user=OTHELLO),
        "No such topic 'nothing'",
    )
    assert await unread_ids(api, OTHELLO) == [elsewhere]


@async_test
async def test_mark_as_read_needs_a_readable_channel(api: ApiHarness) -> None:
    secret = await create_channel(api, OTHELLO, "secret", invite_only=True)
    await send_stream(api, OTHELLO, "secret", "plans")
    denmark = await create_channel(api, HAMLET, "Denmark")
    for params in ({"stream_id": secret}, {"stream_id": 99999}):
        assert_error(await api.call("POST", "mark_stream_as_read", params, as_user=IAGO), "Invalid channel ID")
        response = await api.call("POST", "mark_topic_as_read", {**params, "topic_name": "plans"}, as_user=IAGO)
        assert_error(response, "Invalid channel ID")
    assert_error(
        await api.call("POST", "mark_stream_as_read", {"stream_id": denmark}, as_user=POLONIUS), "Invalid channel ID"
    )
    # Topic existence is not revealed beyond one's own messages.
    await send_stream(api, HAMLET, "Denmark", "news")
    response = await api.call(
        "POST", "mark_topic_as_read", {"stream_id": denmark, "topic_name": "news"}, as_user=CORDELIA
    )
    assert_error(response, "No such topic 'news'")
    assert_error(
        await api.call("POST", "mark_stream_as_read", {"stream_id": "x"}, as_user=IAGO), "stream_id is not valid JSON"
    )
