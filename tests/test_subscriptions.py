"""Subscriptions: joining and leaving channels, for oneself and for others, and personal channel settings.

Every answer is checked against Zulip's spec (``call``). zulipd's rules (see
zulipd/actions/streams.py): any non-guest may join a public channel and add
others to it; a private channel takes new subscribers only from its
subscribers; guests join nothing by themselves and add nobody; removing
others takes an administrator, or a member of the channel's
can_remove_subscribers_group.
"""

from __future__ import annotations

import json
from typing import Any

from tests.chat_support import (
    AARON,
    CORDELIA,
    DESDEMONA,
    HAMLET,
    IAGO,
    OTHELLO,
    POLONIUS,
    PROSPERO,
    SHIVA,
    ZOE,
    call,
    channel_id,
    create_channel,
    failure,
    success,
)
from tests.support.api import ApiHarness
from tests.support.async_tests import async_test
from tests.support.http import Response

GHOST_ID = 987654
NOTIFICATIONS = (
    "desktop_notifications",
    "audible_notifications",
    "push_notifications",
    "email_notifications",
    "wildcard_mentions_notify",
)


def error_is(response: Response, msg: str, code: str = "BAD_REQUEST", status: int = 400, **extra: Any) -> None:
    """Exactly Zulip's coded error, with no other field."""
    body = failure(response, code, msg, status)
    assert body == {"result": "error", "msg": msg, "code": code, **extra}, body


def uid(api: ApiHarness, email: str) -> int:
    return api.user(email).id


def ids(api: ApiHarness, *emails: str) -> list[int]:
    return sorted(uid(api, email) for email in emails)


async def join(api: ApiHarness, as_user: str, *names: str, **params: Any) -> Response:
    subscriptions = [{"name": name} for name in names]
    return await call(
        api, "POST", "users/me/subscriptions", {"subscriptions": subscriptions, **params}, as_user=as_user
    )


async def leave(api: ApiHarness, as_user: str, *names: str, **params: Any) -> Response:
    return await call(
        api, "DELETE", "users/me/subscriptions", {"subscriptions": list(names), **params}, as_user=as_user
    )


async def subscribers(api: ApiHarness, as_user: str, stream_id: int) -> list[int]:
    body = success(await call(api, "GET", f"streams/{stream_id}/members", as_user=as_user))
    return sorted(body["subscribers"])


async def my_subscriptions(api: ApiHarness, as_user: str, **params: Any) -> list[dict[str, Any]]:
    body = success(await call(api, "GET", "users/me/subscriptions", params, as_user=as_user))
    subscriptions: list[dict[str, Any]] = body["subscriptions"]
    return subscriptions


async def subscription(api: ApiHarness, as_user: str, stream_id: int) -> dict[str, Any]:
    return next(item for item in await my_subscriptions(api, as_user) if item["stream_id"] == stream_id)


async def set_properties(api: ApiHarness, as_user: str, changes: list[dict[str, Any]]) -> Response:
    return await call(api, "POST", "users/me/subscriptions/properties", {"subscription_data": changes}, as_user=as_user)


async def is_subscribed(api: ApiHarness, as_user: str, user_id: int, stream_id: int) -> Response:
    return await call(api, "GET", f"users/{user_id}/subscriptions/{stream_id}", as_user=as_user)


# --- listing one's subscriptions -------------------------------------------------------------------


@async_test
async def test_listing_my_subscriptions(api: ApiHarness) -> None:
    verona = await create_channel(api, IAGO, "Verona", principals=[HAMLET, OTHELLO])
    denmark = await create_channel(api, OTHELLO, "denmark", principals=[HAMLET])
    secret = await create_channel(api, HAMLET, "Secret", invite_only=True)
    await create_channel(api, IAGO, "Alone")
    body = success(await call(api, "GET", "users/me/subscriptions", as_user=HAMLET))
    items = body["subscriptions"]
    # Sorted by name, as in Zulip; only channels hamlet is in.
    assert [item["name"] for item in items] == ["denmark", "Secret", "Verona"]
    assert [item["stream_id"] for item in items] == [denmark, secret, verona]
    assert all("subscribers" not in item for item in items)
    first = items[0]
    assert len(first["color"]) == 7, first["color"]
    assert first["color"].startswith("#"), first["color"]
    personal = {key: first[key] for key in ("is_muted", "in_home_view", "pin_to_top", *NOTIFICATIONS)}
    assert personal == {"is_muted": False, "in_home_view": True, "pin_to_top": False, **dict.fromkeys(NOTIFICATIONS)}
    channel = {key: items[1][key] for key in ("invite_only", "history_public_to_subscribers", "creator_id")}
    assert channel == {"invite_only": True, "history_public_to_subscribers": False, "creator_id": uid(api, HAMLET)}
    items = await my_subscriptions(api, HAMLET, include_subscribers=True)
    assert [(item["name"], sorted(item["subscribers"])) for item in items] == [
        ("denmark", ids(api, OTHELLO, HAMLET)),
        ("Secret", ids(api, HAMLET)),
        ("Verona", ids(api, IAGO, HAMLET, OTHELLO)),
    ]
    assert await my_subscriptions(api, CORDELIA) == []
    error_is(
        await api.call("GET", "users/me/subscriptions", {"include_subscribers": "yes"}, as_user=HAMLET),
        "include_subscribers is not valid JSON",
    )


# --- joining ---------------------------------------------------------------------------------------


@async_test
async def test_joining_a_public_channel(api: ApiHarness) -> None:
    verona = await create_channel(api, IAGO, "Verona")
    body = success(await join(api, HAMLET, "Verona"))
    assert body == {
        "result": "success",
        "msg": "",
        "subscribed": {str(uid(api, HAMLET)): ["Verona"]},
        "already_subscribed": {},
    }
    body = success(await join(api, HAMLET, "verona"))
    assert body == {
        "result": "success",
        "msg": "",
        "subscribed": {},
        "already_subscribed": {str(uid(api, HAMLET)): ["Verona"]},
    }
    assert await subscribers(api, CORDELIA, verona) == ids(api, IAGO, HAMLET)
    # Joining after leaving works, and keeps the personal settings.
    success(await set_properties(api, HAMLET, [{"stream_id": verona, "property": "pin_to_top", "value": True}]))
    success(await leave(api, HAMLET, "Verona"))
    success(await join(api, HAMLET, "Verona"))
    assert (await subscription(api, HAMLET, verona))["pin_to_top"] is True
    # Moderators, owners and administrators join like anyone.
    for email in (SHIVA, DESDEMONA):
        success(await join(api, email, "Verona"))
    assert await subscribers(api, CORDELIA, verona) == ids(api, IAGO, HAMLET, SHIVA, DESDEMONA)


@async_test
async def test_subscribing_others(api: ApiHarness) -> None:
    verona = await create_channel(api, IAGO, "Verona")
    body = success(await join(api, HAMLET, "Verona", principals=[uid(api, OTHELLO), uid(api, CORDELIA)]))
    assert body["subscribed"] == {str(uid(api, OTHELLO)): ["Verona"], str(uid(api, CORDELIA)): ["Verona"]}
    assert body["already_subscribed"] == {}
    # Ids and addresses may not be mixed; addresses are matched in any case.
    body = success(await join(api, HAMLET, "Verona", principals=[OTHELLO.upper(), PROSPERO, HAMLET]))
    assert body["subscribed"] == {str(uid(api, PROSPERO)): ["Verona"], str(uid(api, HAMLET)): ["Verona"]}
    assert body["already_subscribed"] == {str(uid(api, OTHELLO)): ["Verona"]}
    assert await subscribers(api, IAGO, verona) == ids(api, IAGO, OTHELLO, CORDELIA, PROSPERO, HAMLET)
    error_is(
        await api.call(
            "POST",
            "users/me/subscriptions",
            {"subscriptions": '[{"name": "Verona"}]', "principals": json.dumps([OTHELLO, 5])},
            as_user=HAMLET,
        ),
        "principals[1] is not a string",
    )
    for principals, msg in (
        ([GHOST_ID], "No such user"),
        ([2**40], "No such user"),
        (["ghost@zulip.com"], "No such user"),
        (["\ud800@zulip.com"], "No such user"),
        (["nul\x00@zulip.com"], "No such user"),
        ([uid(api, ZOE), GHOST_ID], "No such user"),
    ):
        error_is(await join(api, HAMLET, "Verona", principals=principals), msg)
    success(await call(api, "DELETE", f"users/{uid(api, AARON)}", as_user=IAGO))
    error_is(await join(api, HAMLET, "Verona", principals=[uid(api, AARON)]), "User is deactivated")
    error_is(await join(api, HAMLET, "Verona", principals=[AARON]), "User is deactivated")
    assert await subscribers(api, IAGO, verona) == ids(api, IAGO, OTHELLO, CORDELIA, PROSPERO, HAMLET)


@async_test
async def test_guests_join_nothing_by_themselves(api: ApiHarness) -> None:
    verona = await create_channel(api, IAGO, "Verona", principals=[POLONIUS])
    await create_channel(api, IAGO, "Denmark")
    # Already in: a no-op. Not in: the channel does not exist for them.
    body = success(await join(api, POLONIUS, "Verona"))
    assert body["already_subscribed"] == {str(uid(api, POLONIUS)): ["Verona"]}
    error_is(await join(api, POLONIUS, "Denmark"), "Unable to access channel (Denmark).")
    error_is(await join(api, POLONIUS, "Verona", principals=[HAMLET]), "Not allowed for guest users")
    assert await subscribers(api, IAGO, verona) == ids(api, IAGO, POLONIUS)
    # Others may add a guest, to any channel they may add people to.
    success(await join(api, HAMLET, "Denmark", principals=[POLONIUS]))
    assert [item["name"] for item in await my_subscriptions(api, POLONIUS)] == ["Denmark", "Verona"]


@async_test
async def test_private_channels_take_subscribers_from_subscribers_only(api: ApiHarness) -> None:
    secret = await create_channel(api, OTHELLO, "secret", invite_only=True, principals=[HAMLET])
    # Administrators included: those outside cannot join nor add anyone (zulipd is stricter than Zulip).
    for email in (IAGO, DESDEMONA, CORDELIA):
        error_is(await join(api, email, "secret"), "Unable to access channel (secret).")
        error_is(await join(api, email, "secret", principals=[email]), "Unable to access channel (secret).")
        error_is(await join(api, email, "secret", principals=[ZOE]), "Unable to access channel (secret).")
    body = success(await join(api, IAGO, "secret", authorization_errors_fatal=False))
    assert body == {
        "result": "success",
        "msg": "",
        "subscribed": {},
        "already_subscribed": {},
        "unauthorized": ["secret"],
    }
    assert await subscribers(api, HAMLET, secret) == ids(api, OTHELLO, HAMLET)
    # A subscriber, even a plain member, may add others.
    body = success(await join(api, HAMLET, "secret", principals=[CORDELIA]))
    assert body["subscribed"] == {str(uid(api, CORDELIA)): ["secret"]}
    assert await subscribers(api, HAMLET, secret) == ids(api, OTHELLO, HAMLET, CORDELIA)
    # Once in, the channel shows up for them; after leaving, it is gone again.
    assert await channel_id(api, CORDELIA, "secret") == secret
    success(await leave(api, CORDELIA, "secret"))
    error_is(
        await call(api, "GET", "get_stream_id", {"stream": "secret"}, as_user=CORDELIA), "Invalid channel name 'secret'"
    )
    error_is(await join(api, CORDELIA, "secret"), "Unable to access channel (secret).")


@async_test
async def test_authorization_errors_that_are_not_fatal(api: ApiHarness) -> None:
    await create_channel(api, IAGO, "Verona")
    await create_channel(api, OTHELLO, "secret", invite_only=True)
    archived = await create_channel(api, IAGO, "old")
    success(await call(api, "DELETE", f"streams/{archived}", as_user=IAGO))
    body = success(await join(api, HAMLET, "Verona", "secret", "old", "Brand new", authorization_errors_fatal=False))
    assert body == {
        "result": "success",
        "msg": "",
        "subscribed": {str(uid(api, HAMLET)): ["Verona", "Brand new"]},
        "already_subscribed": {},
        "unauthorized": ["secret", "old"],
    }
    error_is(await join(api, CORDELIA, "Verona", "old"), "Unable to access channel (old).")
    # A fatal error changes nothing, not even the channels before it in the list.
    assert [item["name"] for item in await my_subscriptions(api, CORDELIA)] == []


@async_test
async def test_patch_adds_and_removes_in_one_request(api: ApiHarness) -> None:
    verona = await create_channel(api, IAGO, "Verona", principals=[HAMLET])
    await create_channel(api, IAGO, "Denmark")
    params = {"add": [{"name": "Denmark", "color": "#ABCDEF"}, {"name": "Rome"}], "delete": ["Verona"]}
    body = success(await call(api, "PATCH", "users/me/subscriptions", params, as_user=HAMLET))
    assert body == {
        "result": "success",
        "msg": "",
        "subscribed": {str(uid(api, HAMLET)): ["Denmark", "Rome"]},
        "already_subscribed": {},
        "removed": ["Verona"],
        "not_removed": [],
    }
    colors = {item["name"]: item["color"] for item in await my_subscriptions(api, HAMLET)}
    assert colors["Denmark"] == "#ABCDEF"
    assert sorted(colors) == ["Denmark", "Rome"]
    assert await subscribers(api, IAGO, verona) == ids(api, IAGO)
    body = success(await call(api, "PATCH", "users/me/subscriptions", {"delete": ["Verona"]}, as_user=HAMLET))
    assert (body["removed"], body["not_removed"]) == ([], ["Verona"])
    nothing: list[dict[str, Any]] = [{}, {"add": [], "delete": []}]
    for params in nothing:
        error_is(
            await call(api, "PATCH", "users/me/subscriptions", params, as_user=HAMLET),
            'Nothing to do. Specify at least one of "add" or "delete".',
        )
    error_is(
        await call(
            api, "PATCH", "users/me/subscriptions", {"add": [{"name": "Venice", "color": "blue"}]}, as_user=HAMLET
        ),
        "add.color is not a valid hex color code",
    )
    error_is(
        await call(api, "PATCH", "users/me/subscriptions", {"add": [{"color": "#aaaaaa"}]}, as_user=HAMLET),
        'add[0]["name"] field is missing',
    )


# --- leaving ---------------------------------------------------------------------------------------


@async_test
async def test_leaving_channels(api: ApiHarness) -> None:
    verona = await create_channel(api, IAGO, "Verona", principals=[HAMLET])
    await create_channel(api, IAGO, "Denmark")
    secret = await create_channel(api, OTHELLO, "secret", invite_only=True)
    body = success(await leave(api, HAMLET, "verona", "Denmark"))
    assert body == {"result": "success", "msg": "", "removed": ["Verona"], "not_removed": ["Denmark"]}
    assert await subscribers(api, IAGO, verona) == ids(api, IAGO)
    # An unknown channel and an invisible one answer alike (spec: NonExistingChannelNameError).
    for name in ("secret", "no such channel"):
        error_is(
            await leave(api, HAMLET, name), f"Channel '{name}' does not exist", "STREAM_DOES_NOT_EXIST", stream=name
        )
    error_is(
        await leave(api, HAMLET, "Denmark", "no such channel"),
        "Channel 'no such channel' does not exist",
        "STREAM_DOES_NOT_EXIST",
        stream="no such channel",
    )
    error_is(
        await api.call("DELETE", "users/me/subscriptions", {"subscriptions": '["\\ud800"]'}, as_user=HAMLET),
        "Channel '\\ud800' does not exist",
        "STREAM_DOES_NOT_EXIST",
        stream="\\ud800",
    )
    # The last subscriber of a private channel may leave it; it then exists for nobody.
    body = success(await leave(api, OTHELLO, "secret"))
    assert body["removed"] == ["secret"]
    error_is(await call(api, "GET", f"streams/{secret}", as_user=OTHELLO), "Invalid channel ID")
    # principals=[] means the requester.
    success(await join(api, HAMLET, "Verona"))
    body = success(await leave(api, HAMLET, "Verona", principals=[]))
    assert body["removed"] == ["Verona"]


@async_test
async def test_removing_others(api: ApiHarness) -> None:
    groups_body = success(await call(api, "GET", "user_groups", as_user=IAGO))
    groups = {group["name"]: group["id"] for group in groups_body["user_groups"]}
    verona = await create_channel(api, HAMLET, "Verona", principals=[OTHELLO, CORDELIA, PROSPERO, POLONIUS])
    secret = await create_channel(api, HAMLET, "secret", invite_only=True, principals=[OTHELLO])
    # Members, even the channel's creator, remove only themselves and their own bots.
    for email in (HAMLET, OTHELLO, SHIVA, POLONIUS):
        error_is(await leave(api, email, "Verona", principals=[CORDELIA]), "Insufficient permission")
    bot = success(await api.call("POST", "bots", {"full_name": "Helper", "short_name": "helper"}, as_user=HAMLET))
    success(await join(api, HAMLET, "Verona", principals=[bot["user_id"]]))
    body = success(await leave(api, HAMLET, "Verona", principals=[bot["user_id"]]))
    assert body["removed"] == ["Verona"]
    # Administrators remove anyone from channels they see.
    body = success(await leave(api, IAGO, "Verona", principals=[uid(api, CORDELIA), uid(api, PROSPERO), uid(api, ZOE)]))
    assert body == {"result": "success", "msg": "", "removed": ["Verona", "Verona"], "not_removed": ["Verona"]}
    assert await subscribers(api, HAMLET, verona) == ids(api, HAMLET, OTHELLO, POLONIUS)
    error_is(
        await leave(api, IAGO, "secret", principals=[OTHELLO]),
        "Channel 'secret' does not exist",
        "STREAM_DOES_NOT_EXIST",
        stream="secret",
    )
    assert await subscribers(api, HAMLET, secret) == ids(api, HAMLET, OTHELLO)
    # can_remove_subscribers_group widens it: here to moderators.
    change = {"new": groups["role:moderators"], "old": groups["role:administrators"]}
    success(await call(api, "PATCH", f"streams/{verona}", {"can_remove_subscribers_group": change}, as_user=HAMLET))
    body = success(await leave(api, SHIVA, "Verona", principals=[OTHELLO]))
    assert body["removed"] == ["Verona"]
    error_is(await leave(api, HAMLET, "Verona", principals=[POLONIUS]), "Insufficient permission")
    change = {"new": {"direct_members": [uid(api, HAMLET)], "direct_subgroups": []}}
    success(await call(api, "PATCH", f"streams/{secret}", {"can_remove_subscribers_group": change}, as_user=HAMLET))
    body = success(await leave(api, HAMLET, "secret", principals=[OTHELLO]))
    assert body["removed"] == ["secret"]
    assert await subscribers(api, HAMLET, secret) == ids(api, HAMLET)
    assert await subscribers(api, HAMLET, verona) == ids(api, HAMLET, POLONIUS)
    for principals, msg in (([GHOST_ID], "No such user"), (["nobody@zulip.com"], "No such user")):
        error_is(await leave(api, IAGO, "Verona", principals=principals), msg)


@async_test
async def test_malformed_unsubscribe_requests(api: ApiHarness) -> None:
    await create_channel(api, IAGO, "Verona", principals=[HAMLET])
    cases: list[tuple[dict[str, str], str]] = [
        ({"subscriptions": "Verona"}, "subscriptions is not valid JSON"),
        ({"subscriptions": '{"name": "Verona"}'}, "subscriptions is not a list"),
        ({"subscriptions": "[1]"}, "subscriptions[0] is not a string"),
        ({"subscriptions": '["Verona"]', "principals": "[true]"}, "principals[0] is not a string"),
    ]
    for params, msg in cases:
        error_is(await api.call("DELETE", "users/me/subscriptions", params, as_user=HAMLET), msg)
    response = await api.call("DELETE", "users/me/subscriptions", {}, as_user=HAMLET)
    error_is(response, "Missing 'subscriptions' argument", "REQUEST_VARIABLE_MISSING", var_name="subscriptions")
    assert [item["name"] for item in await my_subscriptions(api, HAMLET)] == ["Verona"]


# --- personal settings -----------------------------------------------------------------------------


@async_test
async def test_changing_personal_settings(api: ApiHarness) -> None:
    verona = await create_channel(api, IAGO, "Verona", principals=[HAMLET])
    changes = [
        {"stream_id": verona, "property": "color", "value": "#FF0000"},
        {"stream_id": verona, "property": "pin_to_top", "value": True},
        {"stream_id": verona, "property": "is_muted", "value": True},
        *({"stream_id": verona, "property": name, "value": index % 2 == 0} for index, name in enumerate(NOTIFICATIONS)),
    ]
    body = success(await set_properties(api, HAMLET, changes))
    assert body == {"result": "success", "msg": ""}
    item = await subscription(api, HAMLET, verona)
    assert {key: item[key] for key in ("color", "pin_to_top", "is_muted", "in_home_view", *NOTIFICATIONS)} == {
        "color": "#FF0000",
        "pin_to_top": True,
        "is_muted": True,
        "in_home_view": False,
        "desktop_notifications": True,
        "audible_notifications": False,
        "push_notifications": True,
        "email_notifications": False,
        "wildcard_mentions_notify": True,
    }
    # in_home_view is the legacy inverse of is_muted; three-digit colors are accepted as sent.
    success(
        await set_properties(
            api,
            HAMLET,
            [
                {"stream_id": verona, "property": "in_home_view", "value": True},
                {"stream_id": verona, "property": "color", "value": "#abc"},
            ],
        )
    )
    item = await subscription(api, HAMLET, verona)
    assert (item["is_muted"], item["in_home_view"], item["color"]) == (False, True, "#abc")
    # Nobody else's settings changed.
    assert (await subscription(api, IAGO, verona))["pin_to_top"] is False


@async_test
async def test_bad_personal_settings_change_nothing(api: ApiHarness) -> None:
    verona = await create_channel(api, IAGO, "Verona", principals=[HAMLET])
    denmark = await create_channel(api, IAGO, "Denmark")
    secret = await create_channel(api, OTHELLO, "secret", invite_only=True)
    good = {"stream_id": verona, "property": "pin_to_top", "value": True}
    refused: list[tuple[dict[str, Any], str]] = [
        ({"stream_id": verona, "property": "color", "value": "red"}, "color is not a valid hex color code"),
        ({"stream_id": verona, "property": "color", "value": "#12345g"}, "color is not a valid hex color code"),
        ({"stream_id": verona, "property": "color", "value": "#1234567"}, "color is not a valid hex color code"),
        ({"stream_id": verona, "property": "color", "value": 5}, "color is not a valid hex color code"),
        ({"stream_id": verona, "property": "pin_to_top", "value": "yes"}, "pin_to_top is not a boolean"),
        ({"stream_id": verona, "property": "is_muted", "value": 1}, "is_muted is not a boolean"),
        ({"stream_id": verona, "property": "name", "value": "x"}, "Unknown subscription property: name"),
        ({"stream_id": denmark, "property": "pin_to_top", "value": True}, f"Not subscribed to channel ID {denmark}"),
        ({"stream_id": secret, "property": "pin_to_top", "value": True}, "Invalid channel ID"),
        ({"stream_id": GHOST_ID, "property": "pin_to_top", "value": True}, "Invalid channel ID"),
        ({"stream_id": 10**20, "property": "pin_to_top", "value": True}, "Invalid channel ID"),
        ({"property": "pin_to_top", "value": True}, 'subscription_data[1]["stream_id"] field is missing'),
        ({"stream_id": verona, "value": True}, 'subscription_data[1]["property"] field is missing'),
        (
            {"stream_id": "1", "property": "pin_to_top", "value": True},
            'subscription_data[1]["stream_id"] is not an integer',
        ),
    ]
    for change, msg in refused:
        # The good change comes first: it must not be applied when a later one is refused.
        error_is(await set_properties(api, HAMLET, [good, change]), msg)
    assert (await subscription(api, HAMLET, verona))["pin_to_top"] is False
    # A lone surrogate (possible in JSON) is quoted back escaped, not crashing the answer.
    raw = json.dumps([good, {"stream_id": verona, "property": "\ud800", "value": True}])
    error_is(
        await api.call("POST", "users/me/subscriptions/properties", {"subscription_data": raw}, as_user=HAMLET),
        "Unknown subscription property: \\ud800",
    )
    for raw, msg in (
        ("[", "subscription_data is not valid JSON"),
        ("{}", "subscription_data is not a list"),
        ("[1]", "subscription_data[0] is not a dict"),
    ):
        error_is(
            await api.call("POST", "users/me/subscriptions/properties", {"subscription_data": raw}, as_user=HAMLET), msg
        )


# --- another user's subscription status ------------------------------------------------------------


@async_test
async def test_subscription_status(api: ApiHarness) -> None:
    verona = await create_channel(api, IAGO, "Verona", principals=[HAMLET])
    secret = await create_channel(api, OTHELLO, "secret", invite_only=True, principals=[HAMLET])

    async def status(as_user: str, user_id: int, stream_id: int) -> bool:
        body = success(await is_subscribed(api, as_user, user_id, stream_id))
        assert set(body) == {"result", "msg", "is_subscribed"}
        value: bool = body["is_subscribed"]
        return value

    assert await status(CORDELIA, uid(api, HAMLET), verona) is True
    assert await status(CORDELIA, uid(api, OTHELLO), verona) is False
    assert await status(HAMLET, uid(api, OTHELLO), secret) is True
    assert await status(HAMLET, uid(api, IAGO), secret) is False
    success(await leave(api, HAMLET, "Verona"))
    assert await status(CORDELIA, uid(api, HAMLET), verona) is False
    # A channel the caller may not see answers as an unknown one; an unknown user is "No such user".
    for email in (IAGO, CORDELIA, POLONIUS):
        error_is(await is_subscribed(api, email, uid(api, OTHELLO), secret), "Invalid channel ID")
        error_is(await is_subscribed(api, email, uid(api, OTHELLO), GHOST_ID), "Invalid channel ID")
    error_is(await is_subscribed(api, POLONIUS, uid(api, IAGO), verona), "Invalid channel ID")
    error_is(await is_subscribed(api, HAMLET, GHOST_ID, verona), "No such user")
