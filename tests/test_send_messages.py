"""POST /messages: addressing, aliases, limits, who receives what, durability and concurrency.

Every send is read back at once with GET /messages or GET /messages/{id}: a 200
means the message is stored (DESIGN.md, "Success means the message is durable").
"""

from __future__ import annotations

import dataclasses
import json
from typing import Any

import pytest
from twisted.internet import defer

from tests.chat_support import (
    CORDELIA,
    HAMLET,
    IAGO,
    OTHELLO,
    POLONIUS,
    PROSPERO,
    ZOE,
    call,
    create_channel,
    failure,
    fetch,
    fetch_ids,
    hold_commits,
    row_flags,
    send_direct,
    send_stream,
    success,
    term,
    wait_until,
)
from tests.support.api import ApiHarness
from tests.support.async_tests import async_test
from tests.support.http import Response
from zulipd.actions.messages import PreparedSend, prepare_direct_message


async def read_back(api: ApiHarness, as_user: str, message_id: int) -> dict[str, Any]:
    """The message as its reader gets it, with the raw content."""
    body = success(await call(api, "GET", f"messages/{message_id}", as_user=as_user))
    message: dict[str, Any] = body["message"]
    message["raw_content"] = body["raw_content"]
    return message


async def post(api: ApiHarness, as_user: str, check_spec: bool = True, **params: Any) -> Response:
    return await call(api, "POST", "messages", params, as_user=as_user, check_spec=check_spec)


# --- channel messages -------------------------------------------------------------------------------


@async_test
async def test_every_way_of_naming_the_channel(api: ApiHarness) -> None:
    denmark = await create_channel(api, IAGO, "Denmark")
    targets: list[tuple[str, str]] = [
        ("name", "Denmark"),
        ("name, other case", "denmark"),
        ("id", str(denmark)),
        ("JSON name", json.dumps("Denmark")),
        ("JSON list with a name", json.dumps(["Denmark"])),
        ("JSON list with an id", json.dumps([denmark])),
    ]
    sent: list[int] = []
    for kind in ("stream", "channel"):
        for label, to in targets:
            content = f"{kind} addressed by {label}"
            response = await post(api, HAMLET, type=kind, to=to, topic="addressing", content=content)
            message_id = success(response)["id"]
            sent.append(message_id)
            # Durable at the 200: another user finds it in the channel's history at once.
            narrow = [term("channel", "Denmark"), term("id", message_id)]
            assert await fetch_ids(api, OTHELLO, narrow) == [message_id], label
            message = await read_back(api, HAMLET, message_id)
            facts = (message["type"], message["stream_id"], message["display_recipient"], message["subject"])
            assert facts == ("stream", denmark, "Denmark", "addressing"), (label, message)
            assert message["raw_content"] == content
            assert message["content"] == f"<p>{content}</p>"
    assert sent == sorted(set(sent))
    assert await fetch_ids(api, OTHELLO, [term("channel", "Denmark")]) == sent


@async_test
async def test_unknown_channel_by_name_and_by_id(api: ApiHarness) -> None:
    response = await post(api, HAMLET, type="stream", to="Atlantis", topic="t", content="hello")
    body = failure(response, "STREAM_DOES_NOT_EXIST", "Channel 'Atlantis' does not exist")
    assert body["stream"] == "Atlantis"
    # Zulip's StreamWithIDDoesNotExistError; the spec's 400 for POST /messages omits this form.
    response = await post(api, HAMLET, check_spec=False, type="stream", to="424242", topic="t", content="hello")
    body = failure(response, "STREAM_DOES_NOT_EXIST", "Channel with ID '424242' does not exist")
    assert body["stream_id"] == 424242
    failure(await post(api, HAMLET, type="letter", to="Atlantis", topic="t", content="x"), msg="Invalid message type")
    await create_channel(api, IAGO, "Denmark")
    await create_channel(api, IAGO, "Verona")
    two = json.dumps(["Denmark", "Verona"])
    failure(await post(api, HAMLET, type="stream", to=two, topic="t", content="to both"))
    assert await fetch_ids(api, IAGO, [term("channels", "public")]) == []


@async_test
async def test_topic_and_its_alias_subject(api: ApiHarness) -> None:
    await create_channel(api, IAGO, "Denmark")
    by_subject = success(await post(api, HAMLET, type="stream", to="Denmark", subject="castle", content="by subject"))
    assert (await read_back(api, HAMLET, by_subject["id"]))["subject"] == "castle"
    # The spec does not describe REQUEST_CONFUSING_VAR's var_name1/var_name2 fields.
    response = await post(
        api, HAMLET, check_spec=False, type="stream", to="Denmark", topic="castle", subject="castle", content="both"
    )
    body = failure(response, "REQUEST_CONFUSING_VAR")
    assert {body["var_name1"], body["var_name2"]} == {"topic", "subject"}
    assert await fetch_ids(api, HAMLET, [term("channel", "Denmark")]) == [by_subject["id"]]


@async_test
async def test_content_limits(api: ApiHarness) -> None:
    await create_channel(api, IAGO, "Denmark")
    longest = "a" * 10_000
    exact = success(await post(api, HAMLET, type="stream", to="Denmark", topic="limits", content=longest))
    assert (await read_back(api, HAMLET, exact["id"]))["raw_content"] == longest
    too_long = "b" * 12_345
    cut = success(await post(api, HAMLET, type="stream", to="Denmark", topic="limits", content=too_long))
    raw = (await read_back(api, HAMLET, cut["id"]))["raw_content"]
    assert len(raw) == 10_000
    assert raw.endswith("[message truncated]")
    assert raw == "b" * (10_000 - len("\n[message truncated]")) + "\n[message truncated]"
    for empty in ("", "   ", "\n\n"):
        response = await post(api, HAMLET, type="stream", to="Denmark", topic="limits", content=empty)
        failure(response, msg="Message must not be empty")
    assert await fetch_ids(api, HAMLET, [term("channel", "Denmark")]) == [exact["id"], cut["id"]]


@async_test
async def test_a_topic_of_sixty_characters_is_kept(api: ApiHarness) -> None:
    await create_channel(api, IAGO, "Denmark")
    topic = "t" * 60
    sent = success(await post(api, HAMLET, type="stream", to="Denmark", topic=topic, content="sixty"))
    assert (await read_back(api, HAMLET, sent["id"]))["subject"] == topic


@async_test
async def test_a_longer_topic_is_truncated_like_zulip(api: ApiHarness) -> None:
    await create_channel(api, IAGO, "Denmark")
    topic = "abcdefghij" * 7
    sent = success(await post(api, HAMLET, type="stream", to="Denmark", topic=topic, content="seventy"))
    assert (await read_back(api, HAMLET, sent["id"]))["subject"] == topic[:57] + "..."


@async_test
async def test_a_topic_with_a_control_character_is_refused(api: ApiHarness) -> None:
    await create_channel(api, IAGO, "Denmark")
    for topic, position in (("bell\x07", 5), ("  \x00lead", 1), ("ok\ufffe", 3)):
        response = await post(api, HAMLET, type="stream", to="Denmark", topic=topic, content="x")
        failure(response, "BAD_REQUEST", f"Invalid character in topic, at position {position}!")
    assert await fetch_ids(api, HAMLET, [term("channel", "Denmark")]) == []


# --- direct messages --------------------------------------------------------------------------------


@async_test
async def test_every_way_of_addressing_a_direct_message(api: ApiHarness) -> None:
    cordelia, othello = api.user(CORDELIA), api.user(OTHELLO)
    forms: list[tuple[str, str, str]] = [
        ("direct", "JSON list of ids", json.dumps([cordelia.id])),
        ("private", "JSON list of ids", json.dumps([cordelia.id])),
        ("direct", "JSON list of emails", json.dumps([CORDELIA])),
        ("direct", "an email", CORDELIA),
        ("private", "comma-separated emails", f"{CORDELIA}, {OTHELLO}"),
        ("direct", "JSON list of ids, group", json.dumps([othello.id, cordelia.id])),
        ("direct", "JSON list of emails, group", json.dumps([OTHELLO, CORDELIA])),
    ]
    pairs, groups = [], []
    for kind, label, to in forms:
        response = await post(api, HAMLET, type=kind, to=to, content=f"{kind} to {label}")
        message_id = success(response)["id"]
        message = await read_back(api, CORDELIA, message_id)
        members = sorted(member["id"] for member in message["display_recipient"])
        assert message["type"] == "private", (label, message)
        assert "stream_id" not in message, (label, message)
        assert message["subject"] == "", (label, message)
        if othello.id in members:
            groups.append(message_id)
            assert members == sorted([api.user(HAMLET).id, cordelia.id, othello.id]), (label, message)
        else:
            pairs.append(message_id)
            assert members == sorted([api.user(HAMLET).id, cordelia.id]), (label, message)
    assert (len(pairs), len(groups)) == (4, 3)
    assert await fetch_ids(api, CORDELIA, [term("dm", [api.user(HAMLET).id])]) == pairs
    assert await fetch_ids(api, OTHELLO, [term("is", "dm")]) == groups


@async_test
async def test_who_receives_one_to_one_group_and_self_messages(api: ApiHarness) -> None:
    one_to_one = await send_direct(api, HAMLET, [CORDELIA], "just us two")
    group = await send_direct(api, HAMLET, [CORDELIA, OTHELLO], "the three of us")
    to_self = await send_direct(api, HAMLET, [HAMLET], "a note to myself")
    reply = await send_direct(api, CORDELIA, [HAMLET], "a reply")
    expected = {
        HAMLET: [one_to_one, group, to_self, reply],
        CORDELIA: [one_to_one, group, reply],
        OTHELLO: [group],
        IAGO: [],
        POLONIUS: [],
    }
    for email, ids in expected.items():
        assert await fetch_ids(api, email, [term("is", "dm")]) == ids, email
        for message_id in (one_to_one, group, to_self):
            response = await call(api, "GET", f"messages/{message_id}", as_user=email)
            if message_id in ids:
                success(response)
            else:
                failure(response, msg="Invalid message(s)")  # administrators included
    self_message = await read_back(api, HAMLET, to_self)
    assert [member["id"] for member in self_message["display_recipient"]] == [api.user(HAMLET).id]
    group_message = await read_back(api, OTHELLO, group)
    assert sorted(member["email"] for member in group_message["display_recipient"]) == sorted(
        [HAMLET, CORDELIA, OTHELLO]
    )
    # Either side of a one-to-one conversation finds the whole of it.
    for email, other in ((HAMLET, CORDELIA), (CORDELIA, HAMLET)):
        assert await fetch_ids(api, email, [term("dm", [api.user(other).id])]) == [one_to_one, reply], email


@async_test
async def test_direct_messages_to_deactivated_or_unknown_users(api: ApiHarness) -> None:
    prospero = api.user(PROSPERO)
    success(await call(api, "DELETE", f"users/{prospero.id}", as_user=IAGO))
    gone = f"'{PROSPERO}' is no longer using Zulip."
    for to in (json.dumps([prospero.id]), json.dumps([CORDELIA, PROSPERO]), PROSPERO):
        failure(await post(api, HAMLET, type="direct", to=to, content="hello?"), msg=gone)
    failure(await post(api, HAMLET, type="direct", to=json.dumps([987654]), content="x"), msg="Invalid user ID 987654")
    failure(
        await post(api, HAMLET, type="direct", to="nobody@zulip.com", content="x"),
        msg="Invalid email 'nobody@zulip.com'",
    )
    assert await fetch_ids(api, HAMLET, [term("is", "dm")]) == []
    assert await fetch_ids(api, CORDELIA, [term("is", "dm")]) == []


# --- flags, bots, durability ------------------------------------------------------------------------


@async_test
async def test_the_sender_has_read_their_own_message(api: ApiHarness) -> None:
    await create_channel(api, IAGO, "Denmark", principals=[HAMLET, CORDELIA])
    channel_message = await send_stream(api, HAMLET, "Denmark", "flags", "mine")
    direct_message = await send_direct(api, HAMLET, [CORDELIA], "mine too")
    unread_for_me = success(
        await post(api, HAMLET, type="stream", to="Denmark", topic="flags", content="later", read_by_sender=False)
    )["id"]
    mine = await fetch(api, HAMLET, anchor="oldest", num_before=0, num_after=10)
    flags = {message["id"]: message["flags"] for message in mine["messages"]}
    assert "read" in flags[channel_message]
    assert "read" in flags[direct_message]
    assert "read" not in flags[unread_for_me]
    theirs = await fetch(api, CORDELIA, anchor="oldest", num_before=0, num_after=10)
    assert {message["id"]: message["flags"] for message in theirs["messages"]} == {
        channel_message: [],
        direct_message: [],
        unread_for_me: [],
    }


@async_test
async def test_an_incoming_webhook_bot_can_send_and_only_send(api: ApiHarness) -> None:
    await create_channel(api, IAGO, "Denmark")
    params = {"full_name": "Hook Bot", "short_name": "hook", "bot_type": 2}
    created = success(await api.call("POST", "bots", params, as_user=HAMLET))
    bot = success(await call(api, "GET", f"users/{created['user_id']}", as_user=HAMLET))["user"]
    headers = {"Authorization": api.basic_auth(bot["email"], created["api_key"])}
    message = {"type": "stream", "to": "Denmark", "topic": "alerts", "content": "deploy finished"}
    response = await api.call("POST", "messages", message, headers=headers)
    message_id = success(response)["id"]
    dm = {"type": "direct", "to": json.dumps([api.user(HAMLET).id]), "content": "a note for my owner"}
    dm_id = success(await api.call("POST", "messages", dm, headers=headers))["id"]
    read = await read_back(api, HAMLET, message_id)
    assert (read["sender_id"], read["subject"], read["raw_content"]) == (bot["user_id"], "alerts", "deploy finished")
    assert await fetch_ids(api, HAMLET, [term("is", "dm")]) == [dm_id]
    fetched = await api.call("GET", "messages", {"anchor": "newest", "num_before": 5, "num_after": 0}, headers=headers)
    failure(fetched, msg="This API is not available to incoming webhook bots.")


@async_test
async def test_concurrent_sends_are_all_stored(api: ApiHarness) -> None:
    await create_channel(api, IAGO, "Denmark")
    before = await send_stream(api, IAGO, "Denmark", "burst", "before the burst")
    senders = [HAMLET, CORDELIA, OTHELLO, IAGO, ZOE]
    requests = [
        api.call(
            "POST",
            "messages",
            {"type": "stream", "to": "Denmark", "topic": "burst", "content": f"burst message {number}"},
            as_user=senders[number % len(senders)],
        )
        for number in range(30)
    ]
    results = await defer.DeferredList(
        [defer.ensureDeferred(request) for request in requests], fireOnOneErrback=True, consumeErrors=True
    )
    ids_by_content: dict[str, int] = {}
    for number, (_, response) in enumerate(results):
        ids_by_content[f"burst message {number}"] = success(response)["id"]
    ids = sorted(ids_by_content.values())
    assert len(set(ids)) == 30
    assert ids[0] > before
    stored = await fetch(api, HAMLET, [term("channel", "Denmark"), term("topic", "burst")], num_before=100)
    assert [message["id"] for message in stored["messages"]] == [before, *ids]
    for message in stored["messages"][1:]:
        content = message["content"].removeprefix("<p>").removesuffix("</p>")
        assert ids_by_content[content] == message["id"]
        assert message["sender_email"] == api.user(senders[int(content.split()[-1]) % len(senders)]).email


@async_test
async def test_users_me_gives_the_newest_message_received(api: ApiHarness) -> None:
    assert success(await call(api, "GET", "users/me", as_user=CORDELIA))["max_message_id"] == -1
    await create_channel(api, IAGO, "Denmark", principals=[CORDELIA])
    received = await send_stream(api, IAGO, "Denmark", "news", "for cordelia")
    await send_direct(api, IAGO, [OTHELLO], "not for cordelia")
    assert success(await call(api, "GET", "users/me", as_user=CORDELIA))["max_message_id"] == received
    newer = await send_direct(api, OTHELLO, [CORDELIA], "a reply")
    assert success(await call(api, "GET", "users/me", as_user=CORDELIA))["max_message_id"] == newer


@async_test
async def test_deactivated_subscribers_receive_no_channel_messages(api: ApiHarness) -> None:
    await create_channel(api, IAGO, "Denmark", principals=[HAMLET, OTHELLO, CORDELIA])
    othello = api.user(OTHELLO).id
    success(await call(api, "DELETE", f"users/{othello}", as_user=IAGO))
    while_away = await send_stream(api, HAMLET, "Denmark", "news")
    assert await row_flags(api, OTHELLO, while_away) is None
    assert await row_flags(api, CORDELIA, while_away) is not None
    assert await row_flags(api, HAMLET, while_away) is not None
    success(await call(api, "POST", f"users/{othello}/reactivate", as_user=IAGO))
    back = await send_stream(api, HAMLET, "Denmark", "news")
    assert await row_flags(api, OTHELLO, back) is not None


# --- batches that fail ------------------------------------------------------------------------------


async def prepared_direct(api: ApiHarness, sender: str, recipient: str, content: str) -> PreparedSend:
    assert api.realm is not None
    return await prepare_direct_message(api.server, api.user(sender), api.realm, [recipient], content, "test", True)


@async_test
async def test_a_failed_commit_fails_its_own_senders_only(api: ApiHarness, monkeypatch: pytest.MonkeyPatch) -> None:
    gates = hold_commits(api, monkeypatch)
    sender = api.server.message_sender
    doomed = sender.send(dataclasses.replace(await prepared_direct(api, CORDELIA, HAMLET, "doomed"), realm_id=-1))
    await wait_until(lambda: len(gates) == 1)
    kept = sender.send(await prepared_direct(api, OTHELLO, HAMLET, "kept"))
    gates[0].callback(None)
    with pytest.raises(Exception, match="foreign key"):
        await doomed
    await wait_until(lambda: len(gates) == 2)
    gates[1].callback(None)
    kept_id = (await kept).id
    assert (await read_back(api, HAMLET, kept_id))["raw_content"] == "kept"
    rows = await api.server.pool.fetch_all("doomed", "SELECT count(*) FROM message WHERE content = 'doomed'", ())
    assert rows == [(0,)]
