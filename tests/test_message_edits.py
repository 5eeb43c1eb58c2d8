"""PATCH and DELETE /messages/{id}, and GET /messages/{id}/history.

The specification's 400 answers for PATCH and DELETE are a oneOf of
CodedError variants that no body can match exactly one of, so errors are
checked field by field, exactly (no field beyond Zulip's).
"""

from __future__ import annotations

from typing import Any

from tests.chat_support import (
    CORDELIA,
    DESDEMONA,
    HAMLET,
    IAGO,
    OTHELLO,
    POLONIUS,
    PROSPERO,
    SHIVA,
    age_messages,
    assert_error,
    create_channel,
    fetch_message,
    row_flags,
    send_direct,
    send_stream,
    set_realm,
    subscribe,
    success,
    unsubscribe,
)
from tests.support.api import ApiHarness
from tests.support.async_tests import async_test
from tests.support.openapi import assert_valid
from zulipd.models import MessageFlag

INVALID_MESSAGE = "Invalid message(s)"
NO_PERMISSION = "You don't have permission to edit this message"
WEEK = 7 * 24 * 3600


async def edit(api: ApiHarness, email: str, message_id: int, **params: Any) -> Any:
    return await api.call("PATCH", f"messages/{message_id}", params, as_user=email)


async def edit_ok(api: ApiHarness, email: str, message_id: int, **params: Any) -> None:
    response = await edit(api, email, message_id, **params)
    body = success(response)
    assert_valid("PATCH", f"messages/{message_id}", 200, body)
    # As Zulip 10 answers every successful edit (zulipd keeps no uploads to detach).
    assert body["detached_uploads"] == [], body


async def history(api: ApiHarness, email: str, message_id: int) -> list[dict[str, Any]]:
    body = success(await api.call("GET", f"messages/{message_id}/history", as_user=email))
    assert_valid("GET", f"messages/{message_id}/history", 200, body)
    entries: list[dict[str, Any]] = body["message_history"]
    return entries


async def topic_of(api: ApiHarness, email: str, message_id: int) -> str:
    subject: str = (await fetch_message(api, email, message_id))["subject"]
    return subject


# --- content -------------------------------------------------------------------------------


@async_test
async def test_sender_edits_content(api: ApiHarness) -> None:
    await create_channel(api, HAMLET, "Denmark", principals=[OTHELLO])
    message_id = await send_stream(api, HAMLET, "Denmark", "castle", "first **draft**")
    before = await fetch_message(api, HAMLET, message_id)
    assert "last_edit_timestamp" not in before
    await edit_ok(api, HAMLET, message_id, content="second <draft>")

    body = success(await api.call("GET", f"messages/{message_id}", {"apply_markdown": False}, as_user=OTHELLO))
    assert_valid("GET", f"messages/{message_id}", 200, body)
    assert body["raw_content"] == "second <draft>"
    message = await fetch_message(api, OTHELLO, message_id)
    assert message["content"] == "<p>second &lt;draft&gt;</p>"
    assert "last_edit_timestamp" in message
    assert "last_moved_timestamp" not in message
    [entry] = message["edit_history"]
    assert entry["prev_content"] == "first **draft**"
    assert entry["prev_rendered_content"] == before["content"]
    assert entry["user_id"] == api.user(HAMLET).id
    assert entry["timestamp"] == message["last_edit_timestamp"]

    snapshots = await history(api, OTHELLO, message_id)
    assert [snapshot["content"] for snapshot in snapshots] == ["first **draft**", "second <draft>"]
    original, edited = snapshots
    assert set(original) == {"content", "rendered_content", "topic", "timestamp", "user_id"}
    assert original["timestamp"] == before["timestamp"]
    assert edited["prev_content"] == "first **draft**"
    assert edited["prev_rendered_content"] == original["rendered_content"]
    assert edited["rendered_content"] == "<p>second &lt;draft&gt;</p>"
    assert edited["topic"] == original["topic"] == "castle"
    assert "prev_topic" not in edited


@async_test
async def test_only_the_sender_edits_content(api: ApiHarness) -> None:
    await create_channel(api, HAMLET, "Denmark")
    message_id = await send_stream(api, HAMLET, "Denmark", "castle", "mine")
    for other in (OTHELLO, IAGO, DESDEMONA):  # administrators and owners too
        assert_error(await edit(api, other, message_id, content="theirs"), NO_PERMISSION)
    assert (await fetch_message(api, HAMLET, message_id))["content"] == "<p>mine</p>"


@async_test
async def test_direct_message_content_edit(api: ApiHarness) -> None:
    message_id = await send_direct(api, HAMLET, [OTHELLO], "hi")
    await edit_ok(api, HAMLET, message_id, content="hello")
    assert (await fetch_message(api, OTHELLO, message_id))["content"] == "<p>hello</p>"
    assert_error(await edit(api, OTHELLO, message_id, content="x"), NO_PERMISSION)
    # Nobody outside the conversation learns that it exists.
    assert_error(await edit(api, CORDELIA, message_id, content="x"), INVALID_MESSAGE)
    assert_error(await edit(api, HAMLET, message_id, topic="a topic"), "Direct messages cannot have topics.")
    stream_id = await create_channel(api, HAMLET, "Denmark")
    assert_error(
        await edit(api, HAMLET, message_id, stream_id=stream_id), "Direct messages cannot be moved to channels."
    )


@async_test
async def test_content_rules(api: ApiHarness) -> None:
    await create_channel(api, HAMLET, "Denmark")
    message_id = await send_stream(api, HAMLET, "Denmark", "castle", "text")
    await edit_ok(api, HAMLET, message_id, content="   ")
    assert (await fetch_message(api, HAMLET, message_id))["content"] == "<p>(deleted)</p>"
    await edit_ok(api, HAMLET, message_id, content="x" * 10001)
    body = success(await api.call("GET", f"messages/{message_id}", {"apply_markdown": False}, as_user=HAMLET))
    assert len(body["raw_content"]) == 10000
    assert body["raw_content"].endswith("\n[message truncated]")
    assert_error(await edit(api, HAMLET, message_id, content="nul\x00byte"), "Message must not contain null bytes")
    assert_error(await edit(api, HAMLET, message_id), "Nothing to change")
    assert_error(
        await edit(api, HAMLET, message_id, content="x", propagate_mode="change_all"),
        "Invalid propagate_mode without topic edit",
    )
    assert_error(await edit(api, HAMLET, message_id, content="x", propagate_mode="sideways"), "Invalid propagate_mode")
    assert len(await history(api, HAMLET, message_id)) == 3


@async_test
async def test_content_edit_limits(api: ApiHarness) -> None:
    await create_channel(api, HAMLET, "Denmark")
    message_id = await send_stream(api, HAMLET, "Denmark", "castle", "text")
    await age_messages(api, [message_id], 600 + 10)  # within Zulip's 20-second grace
    await edit_ok(api, HAMLET, message_id, content="still in time")
    await age_messages(api, [message_id], 20)
    assert_error(
        await edit(api, HAMLET, message_id, content="too late"), "The time limit for editing this message has passed"
    )
    await set_realm(api, message_content_edit_limit_seconds="unlimited")
    await edit_ok(api, HAMLET, message_id, content="no limit now")
    await set_realm(api, allow_message_editing=False)
    assert_error(await edit(api, HAMLET, message_id, content="off"), "Your organization has turned off message editing")
    # Editing is about content: topics can still be changed.
    await edit_ok(api, HAMLET, message_id, topic="moat")
    assert (await fetch_message(api, HAMLET, message_id))["content"] == "<p>no limit now</p>"


@async_test
async def test_invisible_messages_are_invalid(api: ApiHarness) -> None:
    await create_channel(api, OTHELLO, "secret", invite_only=True)
    message_id = await send_stream(api, OTHELLO, "secret", "plans", "hush")
    for caller in (HAMLET, IAGO):  # administrators cannot read private channels they are not in
        assert_error(await edit(api, caller, message_id, topic="leak"), INVALID_MESSAGE)
        assert_error(await edit(api, caller, message_id, content="leak"), INVALID_MESSAGE)
        assert_error(await api.call("DELETE", f"messages/{message_id}", as_user=caller), INVALID_MESSAGE)
        response = await api.call("GET", f"messages/{message_id}/history", as_user=caller)
        assert_error(response, INVALID_MESSAGE)
        assert_valid("GET", f"messages/{message_id}/history", 400, response.json())
    for missing in (message_id + 1000, 0):
        assert_error(await edit(api, HAMLET, missing, content="x"), INVALID_MESSAGE)
    # A guest cannot read a public channel it is not subscribed to.
    await create_channel(api, HAMLET, "Denmark")
    public_id = await send_stream(api, HAMLET, "Denmark", "castle")
    assert_error(await edit(api, POLONIUS, public_id, topic="x"), INVALID_MESSAGE)
    assert (await topic_of(api, OTHELLO, message_id)) == "plans"


# --- topics --------------------------------------------------------------------------------


async def three_in_a_topic(api: ApiHarness, topic: str = "castle") -> list[int]:
    await create_channel(api, HAMLET, "Denmark", principals=[OTHELLO])
    return [await send_stream(api, HAMLET, "Denmark", topic, f"message {n}") for n in range(3)]


@async_test
async def test_topic_change_one(api: ApiHarness) -> None:
    first, second, third = await three_in_a_topic(api)
    await edit_ok(api, OTHELLO, second, topic="  moat  ")  # anyone may rename a topic
    assert [await topic_of(api, HAMLET, i) for i in (first, second, third)] == ["castle", "moat", "castle"]
    message = await fetch_message(api, HAMLET, second)
    assert "last_moved_timestamp" in message
    assert "last_edit_timestamp" not in message
    [entry] = message["edit_history"]
    assert entry["prev_topic"] == "castle"
    assert entry["topic"] == "moat"
    assert entry["user_id"] == api.user(OTHELLO).id
    snapshots = await history(api, HAMLET, second)
    assert [(s["topic"], s.get("prev_topic")) for s in snapshots] == [("castle", None), ("moat", "castle")]
    assert "prev_content" not in snapshots[1]


@async_test
async def test_topic_change_later_and_change_all(api: ApiHarness) -> None:
    first, second, third = await three_in_a_topic(api)
    await edit_ok(api, HAMLET, second, topic="moat", propagate_mode="change_later")
    assert [await topic_of(api, HAMLET, i) for i in (first, second, third)] == ["castle", "moat", "moat"]
    # Topics match case-insensitively.
    await send_stream(api, HAMLET, "Denmark", "MOAT", "shouting")
    await edit_ok(api, HAMLET, third, topic="bridge", propagate_mode="change_all")
    assert [await topic_of(api, HAMLET, i) for i in (first, second, third)] == ["castle", "bridge", "bridge"]
    for message_id in (second, third):
        topics = [(s["topic"], s.get("prev_topic")) for s in await history(api, OTHELLO, message_id)]
        assert topics == [("castle", None), ("moat", "castle"), ("bridge", "moat")]
    assert [s["topic"] for s in await history(api, OTHELLO, first)] == ["castle"]


@async_test
async def test_content_and_topic_together(api: ApiHarness) -> None:
    first, second, _ = await three_in_a_topic(api)
    await edit_ok(api, HAMLET, first, topic="moat", content="rewritten", propagate_mode="change_all")
    message = await fetch_message(api, HAMLET, first)
    assert message["content"] == "<p>rewritten</p>"
    assert "last_edit_timestamp" in message
    assert "last_moved_timestamp" in message
    [entry] = message["edit_history"]
    assert entry["prev_content"] == "message 0"
    assert entry["prev_topic"] == "castle"
    [other] = (await fetch_message(api, HAMLET, second))["edit_history"]
    assert "prev_content" not in other
    assert (await fetch_message(api, HAMLET, second))["content"] == "<p>message 1</p>"


@async_test
async def test_a_long_new_topic_is_truncated_like_zulip(api: ApiHarness) -> None:
    first, second, _ = await three_in_a_topic(api)
    await edit_ok(api, HAMLET, second, topic="abcdefghij" * 7)
    assert await topic_of(api, HAMLET, second) == ("abcdefghij" * 7)[:57] + "..."
    assert await topic_of(api, HAMLET, first) == "castle"


@async_test
async def test_topic_errors(api: ApiHarness) -> None:
    [message_id, *_] = await three_in_a_topic(api)
    assert_error(await edit(api, HAMLET, message_id, topic="castle"), "Nothing to change")
    assert_error(await edit(api, HAMLET, message_id, topic="a\nb"), "Invalid character in topic, at position 2!")
    assert_error(await edit(api, HAMLET, message_id, topic="✔"), "General chat cannot be marked as resolved")
    response = await edit(api, HAMLET, message_id, topic="a", subject="b")
    assert_error(
        response,
        "Can't decide between 'topic' and 'subject' arguments",
        "REQUEST_CONFUSING_VAR",
        var_name1="topic",
        var_name2="subject",
    )
    await edit_ok(api, HAMLET, message_id, subject="legacy name")
    assert await topic_of(api, HAMLET, message_id) == "legacy name"
    await edit_ok(api, HAMLET, message_id, topic="")
    assert await topic_of(api, HAMLET, message_id) == "(no topic)"
    await set_realm(api, mandatory_topics=True)
    await edit_ok(api, HAMLET, message_id, topic="named")
    assert_error(await edit(api, HAMLET, message_id, topic=""), "Topics are required in this organization.")


@async_test
async def test_resolve_and_unresolve(api: ApiHarness) -> None:
    ids = await three_in_a_topic(api)
    await age_messages(api, ids, 2 * WEEK)  # resolving has no time limit
    await edit_ok(api, OTHELLO, ids[0], topic="✔ castle", propagate_mode="change_all")
    for message_id in ids:
        message = await fetch_message(api, HAMLET, message_id)
        assert message["subject"] == "✔ castle"
        # Resolving is not a move.
        assert "last_moved_timestamp" not in message
        assert "last_edit_timestamp" not in message
        assert [(s["topic"], s.get("prev_topic")) for s in await history(api, HAMLET, message_id)] == [
            ("castle", None),
            ("✔ castle", "castle"),
        ]
    narrow = [{"operator": "is", "operand": "resolved"}]
    found = success(
        await api.call("GET", "messages", {"anchor": "newest", "num_before": 10, "narrow": narrow}, as_user=HAMLET)
    )
    assert [message["id"] for message in found["messages"]] == ids
    await edit_ok(api, OTHELLO, ids[2], topic="castle", propagate_mode="change_all")
    assert [await topic_of(api, HAMLET, i) for i in ids] == ["castle"] * 3
    # Renaming an old topic to something else is a move, and is refused.
    assert_error(
        await edit(api, OTHELLO, ids[0], topic="✔ keep", propagate_mode="change_all"),
        "The time limit for editing this message's topic has passed.",
    )


@async_test
async def test_topic_time_limits(api: ApiHarness) -> None:
    old = await three_in_a_topic(api)
    recent = await send_stream(api, HAMLET, "Denmark", "castle", "fresh")
    await age_messages(api, old, WEEK + 60)
    late = "The time limit for editing this message's topic has passed."
    assert_error(await edit(api, HAMLET, old[0], topic="moat"), late)  # the sender too
    response = await edit(api, OTHELLO, recent, topic="moat", propagate_mode="change_all")
    assert_error(
        response,
        "You only have permission to move the 1/4 most recent messages in this topic.",
        "MOVE_MESSAGES_TIME_LIMIT_EXCEEDED",
        first_message_id_allowed_to_move=recent,
        total_messages_in_topic=4,
        total_messages_allowed_to_move=1,
    )
    assert [await topic_of(api, HAMLET, i) for i in (*old, recent)] == ["castle"] * 4
    # change_later from the first movable message is what the error suggests, and works.
    await edit_ok(api, OTHELLO, recent, topic="moat", propagate_mode="change_later")
    assert await topic_of(api, HAMLET, recent) == "moat"
    # Moderators and administrators have no time limits.
    await edit_ok(api, SHIVA, old[0], topic="keep", propagate_mode="change_all")
    assert [await topic_of(api, HAMLET, i) for i in old] == ["keep"] * 3
    await set_realm(api, move_messages_within_stream_limit_seconds="unlimited")
    await edit_ok(api, OTHELLO, old[1], topic="anyone", propagate_mode="change_all")
    assert [await topic_of(api, HAMLET, i) for i in old] == ["anyone"] * 3


@async_test
async def test_topic_rename_in_protected_history_counts_only_readable_messages(api: ApiHarness) -> None:
    await create_channel(api, OTHELLO, "vault", invite_only=True, history_public_to_subscribers=False)
    before_hamlet = await send_stream(api, OTHELLO, "vault", "gold")
    await subscribe(api, OTHELLO, "vault", [HAMLET])
    seen = await send_stream(api, OTHELLO, "vault", "gold")
    await age_messages(api, [before_hamlet], WEEK + 60)
    # Hamlet never received the old message: the limit is checked on what he may read.
    assert_error(await edit(api, HAMLET, before_hamlet, topic="silver"), INVALID_MESSAGE)
    await edit_ok(api, HAMLET, seen, topic="silver", propagate_mode="change_all")
    assert await topic_of(api, HAMLET, seen) == "silver"
    # Within a channel, a topic moves whole, as in Zulip: the message Hamlet cannot read moves along.
    assert await topic_of(api, OTHELLO, before_hamlet) == "silver"


# --- moves between channels ----------------------------------------------------------------


@async_test
async def test_move_to_another_channel(api: ApiHarness) -> None:
    denmark = await create_channel(api, HAMLET, "Denmark", principals=[OTHELLO])
    verona = await create_channel(api, HAMLET, "Verona", principals=[CORDELIA])
    first, second, third = [await send_stream(api, HAMLET, "Denmark", "castle", f"m{n}") for n in range(3)]
    await edit_ok(api, HAMLET, second, stream_id=verona, propagate_mode="change_later")
    for message_id in (second, third):
        message = await fetch_message(api, CORDELIA, message_id)
        assert message["stream_id"] == verona
        assert message["display_recipient"] == "Verona"
        assert message["subject"] == "castle"
        assert "last_moved_timestamp" in message
        [entry] = message["edit_history"]
        assert entry["prev_stream"] == denmark
        assert entry["stream"] == verona
        assert "prev_topic" not in entry
        snapshots = await history(api, HAMLET, message_id)
        assert snapshots[1]["prev_stream"] == denmark
        assert snapshots[1]["stream"] == verona
    assert (await fetch_message(api, HAMLET, first))["stream_id"] == denmark
    narrow = [{"operator": "channel", "operand": "Verona"}]
    found = success(
        await api.call("GET", "messages", {"anchor": "newest", "num_before": 10, "narrow": narrow}, as_user=HAMLET)
    )
    assert [message["id"] for message in found["messages"]] == [second, third]
    streams = success(await api.call("GET", "streams", as_user=HAMLET))["streams"]
    assert {s["stream_id"]: s["first_message_id"] for s in streams}[verona] == second
    # A topic and a channel can change together.
    await edit_ok(api, HAMLET, first, stream_id=verona, topic="balcony")
    message = await fetch_message(api, HAMLET, first)
    assert (message["stream_id"], message["subject"]) == (verona, "balcony")
    assert {s["stream_id"]: s["first_message_id"] for s in success(await api.call("GET", "streams", as_user=HAMLET))[
        "streams"]}[verona] == first  # fmt: skip


@async_test
async def test_move_rules(api: ApiHarness) -> None:
    await create_channel(api, HAMLET, "Denmark", principals=[POLONIUS])
    verona = await create_channel(api, HAMLET, "Verona", principals=[POLONIUS])
    secret = await create_channel(api, OTHELLO, "secret", invite_only=True)
    message_id = await send_stream(api, HAMLET, "Denmark", "castle")
    denied = "You don't have permission to move this message"
    assert_error(await edit(api, POLONIUS, message_id, stream_id=verona), denied)  # guests may not
    # A private channel one is not in does not exist, for the mover.
    assert_error(await edit(api, HAMLET, message_id, stream_id=secret), "Invalid channel ID")
    assert_error(await edit(api, HAMLET, message_id, stream_id=99999), "Invalid channel ID")
    assert_error(await edit(api, HAMLET, message_id, stream_id=-1), "stream_id is too small")
    assert_error(
        await edit(api, HAMLET, message_id, stream_id=verona, content="x"),
        "Cannot change message content while changing channel",
    )
    # The same channel is no move at all.
    denmark = (await fetch_message(api, HAMLET, message_id))["stream_id"]
    assert_error(await edit(api, HAMLET, message_id, stream_id=denmark), "Nothing to change")
    # Posting rights in the destination count.
    announce = await create_channel(api, IAGO, "announce", principals=[HAMLET])
    success(await api.call("PATCH", f"streams/{announce}", {"stream_post_policy": 2}, as_user=IAGO))
    assert_error(
        await edit(api, HAMLET, message_id, stream_id=announce),
        "Only organization administrators can send to this channel.",
    )
    # Time limit for moves between channels (a week by default), but not for moderators.
    await age_messages(api, [message_id], WEEK + 60)
    assert_error(
        await edit(api, HAMLET, message_id, stream_id=verona),
        "The time limit for editing this message's channel has passed",
    )
    await edit_ok(api, IAGO, message_id, stream_id=verona)
    assert (await fetch_message(api, HAMLET, message_id))["stream_id"] == verona


@async_test
async def test_move_change_all_time_limit(api: ApiHarness) -> None:
    await create_channel(api, HAMLET, "Denmark")
    verona = await create_channel(api, HAMLET, "Verona")
    old = await send_stream(api, HAMLET, "Denmark", "castle")
    recent = await send_stream(api, HAMLET, "Denmark", "castle")
    await set_realm(api, move_messages_between_streams_limit_seconds=3600)
    await age_messages(api, [old], 7200)
    assert_error(
        await edit(api, HAMLET, recent, stream_id=verona, propagate_mode="change_all"),
        "You only have permission to move the 1/2 most recent messages in this topic.",
        "MOVE_MESSAGES_TIME_LIMIT_EXCEEDED",
        first_message_id_allowed_to_move=recent,
        total_messages_in_topic=2,
        total_messages_allowed_to_move=1,
    )
    await edit_ok(api, HAMLET, recent, stream_id=verona, propagate_mode="change_one")
    assert (await fetch_message(api, HAMLET, recent))["stream_id"] == verona


@async_test
async def test_moving_into_a_private_channel_keeps_it_private(api: ApiHarness) -> None:
    await create_channel(api, HAMLET, "Denmark", principals=[OTHELLO, CORDELIA])
    secret = await create_channel(
        api, HAMLET, "secret", invite_only=True, history_public_to_subscribers=False, principals=[PROSPERO]
    )
    message_id = await send_stream(api, HAMLET, "Denmark", "castle")
    # Prospero never saw it; Iago reached it through public history and starred it.
    success(
        await api.call(
            "POST", "messages/flags", {"messages": [message_id], "op": "add", "flag": "starred"}, as_user=IAGO
        )
    )
    assert await row_flags(api, IAGO, message_id) is not None
    assert await row_flags(api, PROSPERO, message_id) is None
    await edit_ok(api, HAMLET, message_id, stream_id=secret)
    for outsider in (OTHELLO, CORDELIA, IAGO):
        assert await row_flags(api, outsider, message_id) is None
        response = await api.call("GET", f"messages/{message_id}", as_user=outsider)
        assert_error(response, INVALID_MESSAGE)
    # Every subscriber of a channel without shared history gets a row to read it by.
    assert await row_flags(api, PROSPERO, message_id) == int(MessageFlag.READ)
    assert (await fetch_message(api, PROSPERO, message_id))["flags"] == ["read"]
    assert (await fetch_message(api, HAMLET, message_id))["stream_id"] == secret


@async_test
async def test_moving_from_a_private_channel(api: ApiHarness) -> None:
    await create_channel(api, HAMLET, "secret", invite_only=True, principals=[OTHELLO])
    verona_id = await create_channel(api, HAMLET, "Verona", principals=[POLONIUS, CORDELIA])
    message_id = await send_stream(api, HAMLET, "secret", "plans")
    assert await row_flags(api, OTHELLO, message_id) == 0
    await edit_ok(api, HAMLET, message_id, stream_id=verona_id)
    # Othello was in the old channel only: his row goes, and with it his unread message.
    assert await row_flags(api, OTHELLO, message_id) is None
    # The public channel's history is open to him, and to its subscribers, guests included.
    assert (await fetch_message(api, OTHELLO, message_id))["flags"] == ["read", "historical"]
    assert (await fetch_message(api, POLONIUS, message_id))["flags"] == ["read", "historical"]
    assert (await fetch_message(api, CORDELIA, message_id))["flags"] == ["read", "historical"]


@async_test
async def test_guests_lose_rows_when_moved_to_a_public_channel_they_are_not_in(api: ApiHarness) -> None:
    await create_channel(api, HAMLET, "Denmark", principals=[POLONIUS])
    verona = await create_channel(api, HAMLET, "Verona")
    message_id = await send_stream(api, HAMLET, "Denmark", "castle")
    assert await row_flags(api, POLONIUS, message_id) == 0
    await unsubscribe(api, POLONIUS, "Denmark")
    await edit_ok(api, HAMLET, message_id, stream_id=verona)
    assert await row_flags(api, POLONIUS, message_id) is None
    assert_error(await api.call("GET", f"messages/{message_id}", as_user=POLONIUS), INVALID_MESSAGE)


@async_test
async def test_move_between_channels_takes_only_readable_history(api: ApiHarness) -> None:
    await create_channel(api, OTHELLO, "vault", invite_only=True, history_public_to_subscribers=False)
    hidden = await send_stream(api, OTHELLO, "vault", "gold")
    await subscribe(api, OTHELLO, "vault", [HAMLET])
    seen = await send_stream(api, OTHELLO, "vault", "gold")
    verona = await create_channel(api, HAMLET, "Verona", principals=[OTHELLO])
    await edit_ok(api, HAMLET, seen, stream_id=verona, propagate_mode="change_all")
    assert (await fetch_message(api, OTHELLO, seen))["stream_id"] == verona
    hidden_message = await fetch_message(api, OTHELLO, hidden)
    assert hidden_message["display_recipient"] == "vault"


# --- deletion ------------------------------------------------------------------------------


async def delete(api: ApiHarness, email: str, message_id: int) -> Any:
    return await api.call("DELETE", f"messages/{message_id}", as_user=email)


@async_test
async def test_sender_deletes_own_message(api: ApiHarness) -> None:
    await create_channel(api, HAMLET, "Denmark", principals=[OTHELLO])
    message_id = await send_stream(api, HAMLET, "Denmark", "castle")
    success(await api.call("POST", f"messages/{message_id}/reactions", {"emoji_name": "octopus"}, as_user=OTHELLO))
    await edit_ok(api, HAMLET, message_id, content="edited")
    not_yours = "You don't have permission to delete this message"
    assert_error(await delete(api, OTHELLO, message_id), not_yours)
    assert_error(await delete(api, SHIVA, message_id), not_yours)  # moderators are not administrators
    response = await delete(api, HAMLET, message_id)
    assert_valid("DELETE", f"messages/{message_id}", 200, success(response))
    assert_error(await api.call("GET", f"messages/{message_id}", as_user=HAMLET), INVALID_MESSAGE)
    assert_error(await delete(api, HAMLET, message_id), INVALID_MESSAGE)
    rows = await api.server.pool.fetch_all(
        "leftovers",
        "SELECT (SELECT count(*) FROM user_message WHERE message_id = %s) "
        "+ (SELECT count(*) FROM reaction WHERE message_id = %s) "
        "+ (SELECT count(*) FROM message_edit WHERE message_id = %s)",
        (message_id, message_id, message_id),
    )
    assert rows == [(0,)]


@async_test
async def test_delete_time_limit(api: ApiHarness) -> None:
    await create_channel(api, HAMLET, "Denmark")
    message_id = await send_stream(api, HAMLET, "Denmark", "castle")
    await age_messages(api, [message_id], 601)  # no grace for deletion
    assert_error(await delete(api, HAMLET, message_id), "The time limit for deleting this message has passed")
    await set_realm(api, message_content_delete_limit_seconds="unlimited")
    success(await delete(api, HAMLET, message_id))


@async_test
async def test_administrators_delete_what_they_can_read(api: ApiHarness) -> None:
    await create_channel(api, HAMLET, "Denmark")
    public_id = await send_stream(api, HAMLET, "Denmark", "castle")
    await age_messages(api, [public_id], 10 * WEEK)
    success(await delete(api, IAGO, public_id))
    direct_id = await send_direct(api, HAMLET, [OTHELLO])
    await create_channel(api, OTHELLO, "secret", invite_only=True)
    secret_id = await send_stream(api, OTHELLO, "secret", "plans")
    for message_id in (direct_id, secret_id):
        assert_error(await delete(api, IAGO, message_id), INVALID_MESSAGE)
        assert_error(await delete(api, DESDEMONA, message_id), INVALID_MESSAGE)
    assert (await fetch_message(api, OTHELLO, secret_id))["id"] == secret_id


@async_test
async def test_bot_owners_delete_their_bots_messages(api: ApiHarness) -> None:
    from zulipd.actions.bots import do_create_bot
    from zulipd.models import BotType

    assert api.realm is not None
    bot, _ = await do_create_bot(
        api.server,
        api.realm,
        api.user(HAMLET),
        full_name="Helper",
        short_name="helper",
        bot_type=BotType.GENERIC,
        payload_url="",
        interface=1,
        service_name="",
        config={},
    )
    await create_channel(api, HAMLET, "Denmark")
    sent = await api.call(
        "POST",
        "messages",
        {"type": "stream", "to": "Denmark", "topic": "bots", "content": "beep"},
        headers={"Authorization": api.basic_auth(bot.email, bot.api_key)},
    )
    message_id = success(sent)["id"]
    assert_error(await delete(api, OTHELLO, message_id), "You don't have permission to delete this message")
    success(await delete(api, HAMLET, message_id))


@async_test
async def test_history_can_be_disabled(api: ApiHarness) -> None:
    await create_channel(api, HAMLET, "Denmark")
    message_id = await send_stream(api, HAMLET, "Denmark", "castle")
    assert len(await history(api, HAMLET, message_id)) == 1
    await set_realm(api, allow_edit_history=False)
    response = await api.call("GET", f"messages/{message_id}/history", as_user=HAMLET)
    assert_error(response, "Message edit history is disabled in this organization")


@async_test
async def test_failed_edit_changes_nothing(api: ApiHarness) -> None:
    await create_channel(api, HAMLET, "Denmark")
    verona = await create_channel(api, HAMLET, "Verona")
    old = await send_stream(api, HAMLET, "Denmark", "castle", "old")
    recent = await send_stream(api, HAMLET, "Denmark", "castle", "recent")
    await age_messages(api, [old], WEEK + 60)
    response = await edit(api, HAMLET, recent, stream_id=verona, topic="moved", propagate_mode="change_all")
    assert response.json()["code"] == "MOVE_MESSAGES_TIME_LIMIT_EXCEEDED"
    for message_id in (old, recent):
        message = await fetch_message(api, HAMLET, message_id)
        assert message["subject"] == "castle"
        assert "edit_history" not in message
        assert "last_moved_timestamp" not in message
