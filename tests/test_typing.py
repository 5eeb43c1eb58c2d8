"""Typing notifications: POST /typing and POST /messages/{message_id}/typing.

Notices are validated and access-checked, then accepted; their events come with
the events system, so these tests look at the answers only.
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
    SHIVA,
    age_messages,
    assert_bare_success,
    assert_error,
    dev_channel_ids,
    send_direct,
    send_stream,
)
from tests.support.api import DEV_PASSWORD, ApiHarness
from tests.support.async_tests import async_test
from tests.support.http import Response
from tests.support.openapi import assert_valid
from zulipd.actions.realms import do_create_realm
from zulipd.actions.users import do_create_user, do_deactivate_user


async def typing(api: ApiHarness, email: str, params: dict[str, Any]) -> Response:
    return await api.call("POST", "typing", params, as_user=email)


def assert_accepted(response: Response, path: str = "typing") -> None:
    assert_bare_success(response, "POST", path)


def assert_typing_error(response: Response, msg: str, code: str = "BAD_REQUEST", **extra: Any) -> None:
    """An error of POST /typing; the specification documents those without extra fields."""
    assert_error(response, msg, code, **extra)
    if not extra:
        assert_valid("POST", "typing", 400, response.json())


@async_test
async def test_direct_typing_notices(api: ApiHarness) -> None:
    othello, iago = api.user(OTHELLO).id, api.user(IAGO).id
    for op in ("start", "stop"):
        assert_accepted(await typing(api, HAMLET, {"op": op, "to": [othello]}))
        assert_accepted(await typing(api, HAMLET, {"op": op, "type": "direct", "to": [othello, iago]}))
    # To oneself, and with the sender listed too.
    assert_accepted(await typing(api, HAMLET, {"op": "start", "to": [api.user(HAMLET).id]}))
    assert_accepted(await typing(api, HAMLET, {"op": "start", "to": [othello, api.user(HAMLET).id, othello]}))
    # Guests may message anyone, so they may type to anyone.
    assert_accepted(await typing(api, POLONIUS, {"op": "start", "to": [othello]}))


@async_test
async def test_direct_typing_refusals(api: ApiHarness) -> None:
    othello = api.user(OTHELLO).id
    assert_typing_error(await typing(api, HAMLET, {"op": "start"}), "Missing 'to' argument")
    assert_typing_error(await typing(api, HAMLET, {"op": "start", "to": []}), "Empty 'to' list")
    assert_typing_error(await typing(api, HAMLET, {"op": "start", "to": [othello, 99999]}), "Invalid user ID 99999")
    assert_typing_error(await typing(api, HAMLET, {"op": "start", "to": [-1]}), "Invalid user ID -1")
    assert_typing_error(await typing(api, HAMLET, {"op": "start", "to": [2**40]}), f"Invalid user ID {2**40}")
    assert_typing_error(await typing(api, HAMLET, {"op": "start", "to": "[nope"}), "to is not valid JSON")
    assert_typing_error(await typing(api, HAMLET, {"op": "start", "to": [HAMLET]}), "to[0] is not an integer")
    assert_typing_error(await typing(api, HAMLET, {"op": "start", "to": othello}), "to is not a list")
    assert_typing_error(
        await typing(api, HAMLET, {"to": [othello]}), "Missing 'op' argument", "REQUEST_VARIABLE_MISSING", var_name="op"
    )
    assert_typing_error(await typing(api, HAMLET, {"op": "begin", "to": [othello]}), "Invalid op")
    # Zulip 8 stopped accepting "private".
    assert_typing_error(await typing(api, HAMLET, {"op": "start", "type": "private", "to": [othello]}), "Invalid type")
    # Users of another organization are not there.
    lear = await do_create_realm(api.server, "lear", "Lear & Co.")
    king = await do_create_user(api.server, lear, email="king@lear.org", full_name="King Lear", password=DEV_PASSWORD)
    assert_typing_error(await typing(api, HAMLET, {"op": "start", "to": [king.id]}), f"Invalid user ID {king.id}")
    # Nobody can message a deactivated user.
    await do_deactivate_user(api.server, api.user(CORDELIA), None)
    response = await typing(api, HAMLET, {"op": "start", "to": [othello, api.user(CORDELIA).id]})
    assert_typing_error(response, f"'{CORDELIA}' is no longer using Zulip.")
    # A user who turned these notices off may not send them.
    response = await api.call("PATCH", "settings", {"send_private_typing_notifications": False}, as_user=HAMLET)
    assert response.status == 200
    response = await typing(api, HAMLET, {"op": "start", "to": [othello]})
    assert_typing_error(response, "User has disabled typing notifications for direct messages")


@async_test
async def test_channel_typing_notices(api: ApiHarness) -> None:
    channels = await dev_channel_ids(api)
    for kind in ("stream", "channel"):
        for op in ("start", "stop"):
            params = {"type": kind, "op": op, "stream_id": channels["Verona"], "topic": "lunch"}
            assert_accepted(await typing(api, HAMLET, params))
    # Public channels take posts from non-subscribers; private ones from subscribers only.
    assert_accepted(await typing(api, HAMLET, {"type": "stream", "op": "start", "stream_id": channels["Scotland"],
                                              "topic": "castle"}))  # fmt: skip
    assert_accepted(await typing(api, HAMLET, {"type": "stream", "op": "start", "stream_id": channels["core team"],
                                              "topic": "plans"}))  # fmt: skip
    # "subject" is Zulip's old name for the topic; an empty topic is fine while composing.
    assert_accepted(await typing(api, HAMLET, {"type": "stream", "op": "start", "stream_id": channels["Verona"],
                                              "subject": "lunch"}))  # fmt: skip
    assert_accepted(await typing(api, HAMLET, {"type": "stream", "op": "start", "stream_id": channels["Verona"],
                                              "topic": ""}))  # fmt: skip
    # "to" is ignored for channels.
    response = await typing(api, HAMLET, {"type": "stream", "op": "start", "stream_id": channels["Verona"],
                                          "topic": "x", "to": [1]})  # fmt: skip
    assert_accepted(response)
    # A guest may type where subscribed.
    assert_accepted(await typing(api, POLONIUS, {"type": "stream", "op": "start", "stream_id": channels["Verona"],
                                                "topic": "lunch"}))  # fmt: skip


@async_test
async def test_channel_typing_refusals(api: ApiHarness) -> None:
    channels = await dev_channel_ids(api)

    def params(stream: str, **more: Any) -> dict[str, Any]:
        return {"type": "stream", "op": "start", "stream_id": channels[stream], "topic": "lunch", **more}

    response = await typing(api, HAMLET, {"type": "stream", "op": "start", "topic": "lunch"})
    assert_typing_error(response, "Missing 'stream_id' argument")
    response = await typing(api, HAMLET, {"type": "channel", "op": "start", "stream_id": channels["Verona"]})
    assert_typing_error(response, "Missing topic")
    response = await typing(api, HAMLET, {**params("Verona"), "subject": "lunch"})
    assert_typing_error(response, "Can't decide between 'topic' and 'subject' arguments", "REQUEST_CONFUSING_VAR",
                        var_name1="topic", var_name2="subject")  # fmt: skip
    assert_typing_error(await typing(api, HAMLET, params("Verona", topic="x" * 61)),
                        "Topic is too long (limit: 60 characters)")  # fmt: skip
    assert_typing_error(await typing(api, HAMLET, params("Verona", stream_id="seven")), "stream_id is not valid JSON")
    for stream_id in (99999, 0, -4, 2**40):
        assert_typing_error(await typing(api, HAMLET, params("Verona", stream_id=stream_id)), "Invalid channel ID")
    # A private channel one is not subscribed to is not there, for administrators too.
    response = await api.call("DELETE", "users/me/subscriptions", {"subscriptions": ["core team"]}, as_user=IAGO)
    assert response.status == 200, response.body
    for email in (OTHELLO, SHIVA, IAGO):
        assert_typing_error(await typing(api, email, params("core team")), "Invalid channel ID")
    # Guests only see the channels they are subscribed to.
    assert_typing_error(await typing(api, POLONIUS, params("Denmark")), "Invalid channel ID")
    # Announcement-only channels take posts from administrators only.
    response = await api.call("PATCH", f"streams/{channels['Denmark']}", {"stream_post_policy": 2}, as_user=IAGO)
    assert response.status == 200, response.body
    assert_typing_error(await typing(api, HAMLET, params("Denmark")),
                        "Only organization administrators can send to this channel.")  # fmt: skip
    assert_accepted(await typing(api, IAGO, params("Denmark")))
    # Archived channels take no posts.
    response = await api.call("DELETE", f"streams/{channels['Rome']}", as_user=DESDEMONA)
    assert response.status == 200, response.body
    assert_typing_error(await typing(api, HAMLET, params("Rome")), "This channel is archived.")
    # A user who turned these notices off may not send them.
    response = await api.call("PATCH", "settings", {"send_stream_typing_notifications": False}, as_user=HAMLET)
    assert response.status == 200
    response = await typing(api, HAMLET, params("Verona"))
    assert_typing_error(response, "User has disabled typing notifications for channel messages")


async def edit_typing(api: ApiHarness, email: str, message_id: int, op: str = "start") -> Response:
    return await api.call("POST", f"messages/{message_id}/typing", {"op": op}, as_user=email)


@async_test
async def test_message_edit_typing_notices(api: ApiHarness) -> None:
    await dev_channel_ids(api)
    in_channel = await send_stream(api, HAMLET, "Verona", "lunch")
    direct = await send_direct(api, HAMLET, [OTHELLO], "hello")
    group = await send_direct(api, HAMLET, [OTHELLO, IAGO], "hello")
    for message_id in (in_channel, direct, group):
        for op in ("start", "stop"):
            assert_accepted(await edit_typing(api, HAMLET, message_id, op), f"messages/{message_id}/typing")


@async_test
async def test_message_edit_typing_refusals(api: ApiHarness) -> None:
    channels = await dev_channel_ids(api)
    in_channel = await send_stream(api, HAMLET, "Verona", "lunch")
    private = await send_stream(api, HAMLET, "core team", "plans")
    direct = await send_direct(api, HAMLET, [OTHELLO], "hello")
    response = await api.call("POST", f"messages/{in_channel}/typing", {}, as_user=HAMLET)
    assert_error(response, "Missing 'op' argument", "REQUEST_VARIABLE_MISSING", var_name="op")
    assert_error(await edit_typing(api, HAMLET, in_channel, "begin"), "Invalid op")
    for message_id in (99999, 2**70):
        assert_error(await edit_typing(api, HAMLET, message_id), "Invalid message(s)")
    # Only the sender edits a message's content.
    for message_id in (in_channel, direct):
        response = await edit_typing(api, OTHELLO, message_id)
        assert_error(response, "You don't have permission to edit this message")
    # Messages one cannot read are not there.
    assert_error(await edit_typing(api, OTHELLO, private), "Invalid message(s)")
    assert_error(await edit_typing(api, CORDELIA, direct), "Invalid message(s)")
    # Nor are those of a private channel the sender has left.
    response = await api.call("DELETE", "users/me/subscriptions", {"subscriptions": ["core team"]}, as_user=HAMLET)
    assert response.status == 200, response.body
    assert_error(await edit_typing(api, HAMLET, private), "Invalid message(s)")
    # The organization's edit time limit (ten minutes by default).
    await age_messages(api, [direct], 11 * 60)
    response = await edit_typing(api, HAMLET, direct)
    assert_error(response, "The time limit for editing this message has passed")
    response = await api.call("PATCH", "realm", {"message_content_edit_limit_seconds": '"unlimited"'}, as_user=IAGO)
    assert response.status == 200, response.body
    assert_accepted(await edit_typing(api, HAMLET, direct), f"messages/{direct}/typing")
    # Archived channels.
    rome = await send_stream(api, HAMLET, "Rome", "ruins")
    response = await api.call("DELETE", f"streams/{channels['Rome']}", as_user=DESDEMONA)
    assert response.status == 200, response.body
    assert_error(await edit_typing(api, HAMLET, rome), "This channel is archived.")
    # The user's own settings.
    response = await api.call("PATCH", "settings", {"send_stream_typing_notifications": False}, as_user=HAMLET)
    assert response.status == 200
    response = await edit_typing(api, HAMLET, in_channel)
    assert_error(response, "User has disabled typing notifications for channel messages")
    assert_accepted(await edit_typing(api, HAMLET, direct), f"messages/{direct}/typing")
    response = await api.call("PATCH", "settings", {"send_private_typing_notifications": False}, as_user=HAMLET)
    assert response.status == 200
    response = await edit_typing(api, HAMLET, direct)
    assert_error(response, "User has disabled typing notifications for direct messages")
    # And an organization that turned message editing off.
    response = await api.call("PATCH", "realm", {"allow_message_editing": False}, as_user=IAGO)
    assert response.status == 200, response.body
    response = await edit_typing(api, HAMLET, direct)
    assert_error(response, "Your organization has turned off message editing")
