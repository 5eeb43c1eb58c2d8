"""User status: POST /users/me/status, GET /users/{user_id}/status, the user_status state and events.

Every answer is checked against Zulip's spec; errors are also checked exactly,
since the spec lists several alternatives no single body can match alone.
"""

from __future__ import annotations

from typing import Any

from tests.chat_support import (
    CORDELIA,
    HAMLET,
    IAGO,
    OTHELLO,
    POLONIUS,
    add_realm_emoji,
    assert_bare_success,
    assert_error,
    assert_fits_spec,
    call,
    create_bot,
    queued_events,
    register,
    success,
)
from tests.support.api import DEV_PASSWORD, ApiHarness
from tests.support.async_tests import async_test
from tests.support.http import Response
from zulipd.actions.realms import do_create_realm
from zulipd.actions.users import do_create_user, do_deactivate_user
from zulipd.models import UserProfile

STATUS = "users/me/status"
LEAR_HOST = "lear.127.0.0.1:9991"


async def post_status(api: ApiHarness, email: str, **params: Any) -> Response:
    return await call(api, "POST", STATUS, params, as_user=email)


async def set_status(api: ApiHarness, email: str, **params: Any) -> None:
    assert_bare_success(await post_status(api, email, **params), "POST", STATUS)


async def status_of(api: ApiHarness, viewer: str, user_id: int) -> dict[str, Any]:
    body = success(await call(api, "GET", f"users/{user_id}/status", as_user=viewer))
    assert set(body) == {"result", "msg", "status"}, body
    status: dict[str, Any] = body["status"]
    return status


async def state_of(api: ApiHarness, viewer: str) -> dict[str, Any]:
    statuses: dict[str, Any] = (await register(api, viewer, event_types=["user_status"]))["user_status"]
    return statuses


async def create_lear(api: ApiHarness) -> tuple[UserProfile, dict[str, str]]:
    """A user of another organization, and the headers that authenticate them there."""
    lear = await do_create_realm(api.server, "lear", "Lear & Co.")
    king = await do_create_user(api.server, lear, email="king@lear.org", full_name="King Lear", password=DEV_PASSWORD)
    return king, {"Authorization": api.basic_auth("king@lear.org", king.api_key)}


async def lear_call(api: ApiHarness, headers: dict[str, str], method: str, path: str, **params: Any) -> Response:
    response = await api.call(method, path, params, headers=headers, host=LEAR_HOST)
    assert_fits_spec(method, path, response)
    return response


@async_test
async def test_setting_a_status_and_reading_it(api: ApiHarness) -> None:
    hamlet, othello = api.user(HAMLET).id, api.user(OTHELLO).id
    # Nobody has a status at first.
    assert await status_of(api, HAMLET, hamlet) == {}
    assert await state_of(api, HAMLET) == {}
    await set_status(api, HAMLET, status_text="on vacation", emoji_name="car")
    car = {"emoji_name": "car", "emoji_code": "1f697", "reaction_type": "unicode_emoji"}
    expected = {"status_text": "on vacation", **car}
    # The user themself, another user, and a guest see the same status.
    for viewer in (HAMLET, OTHELLO, POLONIUS):
        assert await status_of(api, viewer, hamlet) == expected
        assert await state_of(api, viewer) == {str(hamlet): expected}
    # An update changes only what it names.
    await set_status(api, HAMLET, status_text="back soon")
    assert await status_of(api, OTHELLO, hamlet) == {"status_text": "back soon", **car}
    await set_status(api, HAMLET, emoji_name="octopus")
    octopus = {"emoji_name": "octopus", "emoji_code": "1f419", "reaction_type": "unicode_emoji"}
    assert await status_of(api, OTHELLO, hamlet) == {"status_text": "back soon", **octopus}
    # The text is trimmed; 60 characters after trimming are fine.
    await set_status(api, OTHELLO, status_text="  " + "x" * 60 + "  ")
    assert await status_of(api, HAMLET, othello) == {"status_text": "x" * 60}
    assert await state_of(api, CORDELIA) == {str(hamlet): {"status_text": "back soon", **octopus},
                                             str(othello): {"status_text": "x" * 60}}  # fmt: skip
    # An empty emoji name clears the emoji, whatever code came with it; an empty text clears the text.
    await set_status(api, HAMLET, emoji_name="", emoji_code="1f419", reaction_type="realm_emoji")
    assert await status_of(api, OTHELLO, hamlet) == {"status_text": "back soon"}
    await set_status(api, HAMLET, status_text="")
    assert await status_of(api, OTHELLO, hamlet) == {}
    assert await state_of(api, CORDELIA) == {str(othello): {"status_text": "x" * 60}}


@async_test
async def test_emoji_are_resolved_as_reactions_resolve_them(api: ApiHarness) -> None:
    hamlet = api.user(HAMLET).id
    green_tick = await add_realm_emoji(api, "green_tick")
    octopus = await add_realm_emoji(api, "octopus")  # a custom emoji takes over a Unicode name
    await set_status(api, HAMLET, emoji_name="green_tick")
    assert await status_of(api, OTHELLO, hamlet) == {
        "emoji_name": "green_tick", "emoji_code": str(green_tick), "reaction_type": "realm_emoji"
    }  # fmt: skip
    await set_status(api, HAMLET, emoji_name="octopus")
    assert (await status_of(api, OTHELLO, hamlet))["emoji_code"] == str(octopus)
    # With the code and type given, the Unicode emoji is still reachable.
    await set_status(api, HAMLET, emoji_name="octopus", emoji_code="1f419", reaction_type="unicode_emoji")
    assert (await status_of(api, OTHELLO, hamlet))["reaction_type"] == "unicode_emoji"
    await set_status(api, HAMLET, emoji_name="zulip")
    assert await status_of(api, OTHELLO, hamlet) == {
        "emoji_name": "zulip", "emoji_code": "zulip", "reaction_type": "zulip_extra_emoji"
    }  # fmt: skip
    # An alias resolves to its emoji's code.
    await set_status(api, HAMLET, emoji_name="+1")
    assert (await status_of(api, OTHELLO, hamlet))["emoji_code"] == "1f44d"


@async_test
async def test_invalid_updates_are_refused_and_change_nothing(api: ApiHarness) -> None:
    hamlet = api.user(HAMLET).id
    green_tick = await add_realm_emoji(api, "green_tick")
    retired = await add_realm_emoji(api, "retired", deactivated=True)
    await set_status(api, HAMLET, status_text="reading", emoji_name="car")
    before = await status_of(api, OTHELLO, hamlet)
    custom = {"reaction_type": "realm_emoji"}
    for params, msg in (
        ({}, "Client did not pass any new values."),
        # Without a text, an away or an emoji name, a code or type alone is no new value.
        ({"emoji_code": "1f697"}, "Client did not pass any new values."),
        ({"reaction_type": "unicode_emoji"}, "Client did not pass any new values."),
        ({"status_text": "x", "emoji_code": "1f697"},
         "Client must pass emoji_name if they pass either emoji_code or reaction_type."),
        ({"away": False, "reaction_type": "unicode_emoji"},
         "Client must pass emoji_name if they pass either emoji_code or reaction_type."),
        ({"status_text": "x" * 61}, "status_text is too long (limit: 60 characters)"),
        ({"status_text": "x" * 61, "emoji_name": "car"}, "status_text is too long (limit: 60 characters)"),
        ({"emoji_name": "invalid"}, "Emoji 'invalid' does not exist"),
        ({"emoji_name": "invalid", "emoji_code": "1f697"}, "Emoji 'invalid' does not exist"),
        ({"emoji_name": "car", "emoji_code": "1f419"}, "Invalid emoji name."),
        ({"emoji_name": "car", "emoji_code": "nope", "reaction_type": "unicode_emoji"}, "Invalid emoji code."),
        ({"emoji_name": "car", "emoji_code": "1f697", "reaction_type": "bogus"}, "Invalid emoji type."),
        ({"emoji_name": "car", "emoji_code": "zulip", "reaction_type": "zulip_extra_emoji"}, "Invalid emoji name."),
        ({"emoji_name": "zulip", "emoji_code": "car", "reaction_type": "zulip_extra_emoji"}, "Invalid emoji code."),
        ({"emoji_name": "green_tick", "emoji_code": "99999", **custom}, "Invalid custom emoji."),
        ({"emoji_name": "green_tick", "emoji_code": str(2**40), **custom}, "Invalid custom emoji."),
        ({"emoji_name": "green_tick", "emoji_code": "\u00b2", **custom}, "Invalid custom emoji."),
        ({"emoji_name": "car", "emoji_code": str(green_tick), **custom}, "Invalid custom emoji name."),
        ({"emoji_name": "retired", "emoji_code": str(retired), **custom}, "This custom emoji has been deactivated."),
        # A deactivated custom emoji is not found by its name.
        ({"emoji_name": "retired"}, "Emoji 'retired' does not exist"),
        ({"status_text": "x", "away": "maybe"}, "away is not valid JSON"),
        ({"status_text": "x", "away": 1}, "away is not a boolean"),
    ):  # fmt: skip
        assert_error(await post_status(api, HAMLET, **params), msg)
    assert await status_of(api, OTHELLO, hamlet) == before
    # An invalid update with away does not change the setting either.
    assert_error(await post_status(api, HAMLET, away=True, emoji_name="invalid"), "Emoji 'invalid' does not exist")
    assert await status_of(api, OTHELLO, hamlet) == before
    settings = (await register(api, HAMLET, event_types=["user_settings"]))["user_settings"]
    assert settings["presence_enabled"] is True


@async_test
async def test_away_is_the_presence_setting_turned_around(api: ApiHarness) -> None:
    hamlet = api.user(HAMLET).id
    queue = await register(api, HAMLET, event_types=["user_settings"])
    await set_status(api, HAMLET, away=True)
    assert await status_of(api, OTHELLO, hamlet) == {"away": True}
    assert await state_of(api, OTHELLO) == {str(hamlet): {"away": True}}
    settings = (await register(api, HAMLET, event_types=["user_settings"]))["user_settings"]
    assert settings["presence_enabled"] is False
    # The user is told of the setting's change, as when changing it directly; once.
    await set_status(api, HAMLET, away=True, status_text="busy")
    assert await status_of(api, OTHELLO, hamlet) == {"away": True, "status_text": "busy"}
    await set_status(api, HAMLET, away=False)
    assert await status_of(api, OTHELLO, hamlet) == {"status_text": "busy"}
    events = await queued_events(api, HAMLET, queue["queue_id"])
    assert [(event["type"], event["property"], event["value"]) for event in events] == [
        ("user_settings", "presence_enabled", False),
        ("user_settings", "presence_enabled", True),
    ]
    # Turning presence off elsewhere shows as away for a user who has a status (as in Zulip).
    success(await call(api, "PATCH", "settings", {"presence_enabled": False}, as_user=HAMLET))
    assert await status_of(api, OTHELLO, hamlet) == {"away": True, "status_text": "busy"}


@async_test
async def test_reading_statuses_of_users_who_are_not_there(api: ApiHarness) -> None:
    await set_status(api, CORDELIA, status_text="gone fishing")
    bot = await create_bot(api)
    king, _ = await create_lear(api)
    for user_id in (99999, 0, 2**31, 2**40, bot.id, king.id):
        assert_error(await call(api, "GET", f"users/{user_id}/status", as_user=HAMLET), "No such user")
    await do_deactivate_user(api.server, api.user(CORDELIA), None)
    response = await call(api, "GET", f"users/{api.user(CORDELIA).id}/status", as_user=HAMLET)
    assert_error(response, "User is deactivated")
    # A deactivated user's status is not in the state either.
    assert await state_of(api, HAMLET) == {}
    # Not an id at all: no such route.
    response = await call(api, "GET", "users/hamlet/status", as_user=HAMLET)
    assert_error(response, "Not Found", status=404)
    # As in Zulip, the caller's own status is read by id: /users/me/status takes POST only.
    response = await api.call("GET", STATUS, as_user=HAMLET)
    assert response.status == 405
    assert response.json() == {"result": "error", "msg": "Method Not Allowed", "allowed_methods": ["POST"]}


@async_test
async def test_who_may_set_and_read_a_status(api: ApiHarness) -> None:
    hamlet = api.user(HAMLET).id
    bot = await create_bot(api)
    headers = {"Authorization": api.basic_auth(bot.email, bot.api_key)}
    response = await api.call("POST", STATUS, {"status_text": "beep"}, headers=headers)
    assert_fits_spec("POST", STATUS, response)
    assert_error(response, "This endpoint does not accept bot requests.")
    # Bots may read statuses.
    await set_status(api, HAMLET, status_text="reading")
    response = await api.call("GET", f"users/{hamlet}/status", headers=headers)
    assert_fits_spec("GET", f"users/{hamlet}/status", response)
    assert success(response)["status"] == {"status_text": "reading"}
    # Guests may set their own.
    await set_status(api, POLONIUS, status_text="eavesdropping")
    assert await status_of(api, HAMLET, api.user(POLONIUS).id) == {"status_text": "eavesdropping"}
    # Without credentials, nothing.
    for method, path in (("POST", STATUS), ("GET", f"users/{hamlet}/status")):
        response = await api.call(method, path, {"status_text": "x"} if method == "POST" else None)
        assert response.status == 401, (method, path, response.body)
        assert response.json()["result"] == "error"


@async_test
async def test_each_update_is_an_event_to_everyone_in_the_organization(api: ApiHarness) -> None:
    hamlet = api.user(HAMLET).id
    king, lear_headers = await create_lear(api)
    lear_queue = success(await lear_call(api, lear_headers, "POST", "register", event_types=["user_status"]))
    await do_deactivate_user(api.server, api.user(CORDELIA), None)
    listeners = [HAMLET, OTHELLO, IAGO, POLONIUS]
    queues = {email: (await register(api, email, event_types=["user_status"]))["queue_id"] for email in listeners}
    await set_status(api, HAMLET, status_text="out to lunch")
    await set_status(api, HAMLET, emoji_name="car")
    await set_status(api, HAMLET, away=True)
    await set_status(api, HAMLET, away=False, status_text="", emoji_name="")
    expected = [
        {"type": "user_status", "user_id": hamlet, "status_text": "out to lunch"},
        {"type": "user_status", "user_id": hamlet, "emoji_name": "car", "emoji_code": "1f697",
         "reaction_type": "unicode_emoji"},
        {"type": "user_status", "user_id": hamlet, "away": True},
        {"type": "user_status", "user_id": hamlet, "away": False, "status_text": "", "emoji_name": "",
         "emoji_code": "", "reaction_type": "unicode_emoji"},
    ]  # fmt: skip
    for email, queue_id in queues.items():
        events = await queued_events(api, email, queue_id)
        assert [{key: value for key, value in event.items() if key != "id"} for event in events] == expected, email
    # Refused updates say nothing.
    assert_error(await post_status(api, HAMLET, emoji_name="invalid"), "Emoji 'invalid' does not exist")
    assert len(await queued_events(api, OTHELLO, queues[OTHELLO])) == len(expected)
    # Another organization hears nothing, and its users' statuses stay there.
    query = {"queue_id": lear_queue["queue_id"], "last_event_id": -1, "dont_block": True}
    assert success(await lear_call(api, lear_headers, "GET", "events", **query))["events"] == []
    await set_status(api, OTHELLO, status_text="here")
    assert_bare_success(await lear_call(api, lear_headers, "POST", STATUS, status_text="ruling"), "POST", STATUS)
    assert await state_of(api, HAMLET) == {str(api.user(OTHELLO).id): {"status_text": "here"}}
    lear_state = success(await lear_call(api, lear_headers, "POST", "register", event_types=["user_status"]))
    assert lear_state["user_status"] == {str(king.id): {"status_text": "ruling"}}
    (heard,) = success(await lear_call(api, lear_headers, "GET", "events", **query))["events"]
    assert heard == {"type": "user_status", "user_id": king.id, "status_text": "ruling", "id": heard["id"]}
    assert not [event for event in await queued_events(api, HAMLET, queues[HAMLET]) if event["user_id"] == king.id]
    response = await lear_call(api, lear_headers, "GET", f"users/{hamlet}/status")
    assert_error(response, "No such user")
