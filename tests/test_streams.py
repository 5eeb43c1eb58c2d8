"""Channels: creating them by subscribing, listing and looking them up, changing, archiving, default channels.

Every answer is checked against Zulip's spec (``call``), and every assertion names
exact values: ids, names, flags, and Zulip's error messages and codes. The
permission rules are zulipd's (stricter than Zulip's: a private channel does not
exist for anyone not subscribed to it, administrators included); see
zulipd/actions/streams.py and tests/test_channel_permissions.py.
"""

from __future__ import annotations

import argparse
import json
import time
from typing import Any

from twisted.internet import defer

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
    fetch_ids,
    send_stream,
    success,
    term,
)
from tests.support.api import ApiHarness
from tests.support.async_tests import async_test
from tests.support.http import Response

GHOST_ID = 987654


def error_is(response: Response, msg: str, code: str = "BAD_REQUEST", status: int = 400, **extra: Any) -> None:
    """Exactly Zulip's coded error, with no other field."""
    body = failure(response, code, msg, status)
    assert body == {"result": "error", "msg": msg, "code": code, **extra}, body


async def system_groups(api: ApiHarness) -> dict[str, int]:
    body = success(await call(api, "GET", "user_groups", as_user=IAGO))
    return {group["name"]: group["id"] for group in body["user_groups"] if group["is_system_group"]}


async def get_stream(api: ApiHarness, as_user: str, stream_id: int) -> dict[str, Any]:
    stream: dict[str, Any] = success(await call(api, "GET", f"streams/{stream_id}", as_user=as_user))["stream"]
    return stream


async def listed(api: ApiHarness, as_user: str, **params: Any) -> list[str]:
    """The names GET /streams lists, in its order."""
    body = success(await call(api, "GET", "streams", params, as_user=as_user))
    return [stream["name"] for stream in body["streams"]]


async def subscribers(api: ApiHarness, as_user: str, stream_id: int) -> list[int]:
    body = success(await call(api, "GET", f"streams/{stream_id}/members", as_user=as_user))
    members: list[int] = body["subscribers"]
    return members


async def create(api: ApiHarness, as_user: str, *names: str, **params: Any) -> Response:
    subscriptions = [{"name": name} for name in names]
    return await call(
        api, "POST", "users/me/subscriptions", {"subscriptions": subscriptions, **params}, as_user=as_user
    )


async def patch(api: ApiHarness, as_user: str, stream_id: int, **params: Any) -> Response:
    return await call(api, "PATCH", f"streams/{stream_id}", params, as_user=as_user)


async def exists_for(api: ApiHarness, as_user: str, name: str) -> bool:
    response = await call(api, "GET", "get_stream_id", {"stream": name}, as_user=as_user)
    return response.status == 200


def uid(api: ApiHarness, email: str) -> int:
    return api.user(email).id


# --- creating channels by subscribing --------------------------------------------------------------


@async_test
async def test_creating_a_channel_gives_zulips_defaults(api: ApiHarness) -> None:
    groups = await system_groups(api)
    before = int(time.time())
    params = {"subscriptions": [{"name": "Denmark", "description": "A Scandinavian country"}]}
    body = success(await call(api, "POST", "users/me/subscriptions", params, as_user=HAMLET))
    assert body == {
        "result": "success",
        "msg": "",
        "subscribed": {str(uid(api, HAMLET)): ["Denmark"]},
        "already_subscribed": {},
    }
    denmark = await channel_id(api, OTHELLO, "Denmark")
    stream = await get_stream(api, OTHELLO, denmark)
    assert before - 1 <= stream.pop("date_created") <= int(time.time()) + 1
    assert stream == {
        "stream_id": denmark,
        "name": "Denmark",
        "is_archived": False,
        "description": "A Scandinavian country",
        "rendered_description": "<p>A Scandinavian country</p>",
        "creator_id": uid(api, HAMLET),
        "invite_only": False,
        "is_web_public": False,
        "stream_post_policy": 1,
        "message_retention_days": None,
        "history_public_to_subscribers": True,
        "first_message_id": None,
        "is_recently_active": True,  # Zulip's default for a new channel
        "is_announcement_only": False,
        "can_add_subscribers_group": groups["role:nobody"],
        "can_remove_subscribers_group": groups["role:administrators"],
        "can_administer_channel_group": {"direct_members": [uid(api, HAMLET)], "direct_subgroups": []},
        "can_send_message_group": groups["role:everyone"],
        "can_subscribe_group": groups["role:nobody"],
        "stream_weekly_traffic": None,
    }
    assert await subscribers(api, OTHELLO, denmark) == [uid(api, HAMLET)]
    first = await send_stream(api, OTHELLO, "Denmark", "castle", "hello")
    stream = await get_stream(api, OTHELLO, denmark)
    assert (stream["first_message_id"], stream["is_recently_active"]) == (first, True)


@async_test
async def test_private_channels_and_their_history(api: ApiHarness) -> None:
    protected = await create_channel(api, HAMLET, "secret", invite_only=True)
    shared = await create_channel(api, HAMLET, "open book", invite_only=True, history_public_to_subscribers=True)
    # A public channel always shares its history, whatever was asked.
    public = await create_channel(api, HAMLET, "town square", history_public_to_subscribers=False)
    facts = {}
    for stream_id in (protected, shared, public):
        stream = await get_stream(api, HAMLET, stream_id)
        facts[stream["name"]] = (stream["invite_only"], stream["history_public_to_subscribers"])
    assert facts == {"secret": (True, False), "open book": (True, True), "town square": (False, True)}
    # Nobody else knows the private ones exist; administrators neither.
    for email in (IAGO, DESDEMONA, OTHELLO, POLONIUS):
        assert not await exists_for(api, email, "secret"), email
        error_is(await call(api, "GET", f"streams/{protected}", as_user=email), "Invalid channel ID")
    assert await exists_for(api, OTHELLO, "town square")


@async_test
async def test_announce_is_accepted_and_posts_nothing_without_an_announcement_channel(api: ApiHarness) -> None:
    # zulipd has no setting for a new-channel announcement channel, so there is nowhere to announce.
    body = success(await create(api, IAGO, "Denmark", announce=True))
    assert body == {
        "result": "success",
        "msg": "",
        "subscribed": {str(uid(api, IAGO)): ["Denmark"]},
        "already_subscribed": {},
    }
    assert "ignored_parameters_unsupported" not in body
    assert await fetch_ids(api, IAGO, [term("channels", "public")]) == []
    assert await fetch_ids(api, IAGO) == []


@async_test
async def test_creating_default_channels(api: ApiHarness) -> None:
    success(await create(api, IAGO, "Verona", is_default_stream=True))
    verona = await channel_id(api, IAGO, "Verona")
    body = success(await call(api, "GET", "streams", {"include_default": True}, as_user=HAMLET))
    assert [(stream["name"], stream["is_default"]) for stream in body["streams"]] == [("Verona", True)]
    # Only administrators make default channels, and a private one never is.
    error_is(await create(api, HAMLET, "Rome", is_default_stream=True), "Insufficient permission")
    error_is(
        await create(api, IAGO, "Venice", is_default_stream=True, invite_only=True),
        "A default channel cannot be private.",
    )
    for name in ("Rome", "Venice"):
        assert not await exists_for(api, IAGO, name), name
    assert await listed(api, HAMLET) == ["Verona"]
    assert verona > 0


@async_test
async def test_creating_with_group_settings(api: ApiHarness) -> None:
    groups = await system_groups(api)
    administrators = {"direct_members": [uid(api, OTHELLO)], "direct_subgroups": [groups["role:moderators"]]}
    params = {
        "can_send_message_group": groups["role:administrators"],
        "can_administer_channel_group": administrators,
        "can_remove_subscribers_group": groups["role:moderators"],
    }
    success(await create(api, HAMLET, "Denmark", **params))
    stream = await get_stream(api, HAMLET, await channel_id(api, HAMLET, "Denmark"))
    assert {key: stream[key] for key in (*params, "stream_post_policy", "is_announcement_only")} == {
        **params,
        "stream_post_policy": 2,
        "is_announcement_only": True,
    }
    # The creator named others as administrators: they are not one any more.
    error_is(
        await patch(api, HAMLET, stream["stream_id"], description="no"),
        "You do not have permission to administer this channel.",
        "CANNOT_ADMINISTER_CHANNEL",
    )
    success(await patch(api, OTHELLO, stream["stream_id"], description="by othello"))
    success(await patch(api, SHIVA, stream["stream_id"], description="by a moderator"))
    refused: list[tuple[dict[str, Any], str]] = [
        (
            {"can_subscribe_group": groups["role:everyone"]},
            "'can_subscribe_group' setting cannot be set to 'role:everyone' group.",
        ),
        (
            {"can_send_message_group": groups["role:nobody"]},
            "'can_send_message_group' can only be one of the groups "
            "role:everyone, role:fullmembers, role:moderators and role:administrators on this server.",
        ),
        ({"can_add_subscribers_group": GHOST_ID}, "Invalid user group"),
        (
            {"can_add_subscribers_group": {"direct_members": []}},
            'can_add_subscribers_group["direct_subgroups"] field is missing',
        ),
    ]
    for extra, msg in refused:
        error_is(await create(api, HAMLET, "Venice", **extra), msg)
    assert not await exists_for(api, HAMLET, "Venice")


@async_test
async def test_guests_cannot_create_channels(api: ApiHarness) -> None:
    error_is(await create(api, POLONIUS, "Elsinore"), "Not allowed for guest users")
    error_is(await create(api, POLONIUS, "Elsinore", invite_only=True), "Not allowed for guest users")
    assert not await exists_for(api, IAGO, "Elsinore")


@async_test
async def test_only_owners_set_message_retention(api: ApiHarness) -> None:
    error_is(
        await create(api, IAGO, "Denmark", message_retention_days=30),
        "Must be an organization owner",
        "UNAUTHORIZED_PRINCIPAL",
    )
    assert not await exists_for(api, IAGO, "Denmark")
    success(await create(api, DESDEMONA, "Denmark", message_retention_days=30))
    success(await create(api, DESDEMONA, "Rome", message_retention_days=json.dumps("unlimited")))
    retention = {}
    for name in ("Denmark", "Rome"):
        stream = await get_stream(api, DESDEMONA, await channel_id(api, DESDEMONA, name))
        retention[name] = stream["message_retention_days"]
    assert retention == {"Denmark": 30, "Rome": -1}
    # Zulip's REQUEST_VARIABLE_INVALID carries var_name and bad_value, which the spec's 400 does not list.
    for bad in (0, -5, "forever", "\ud800"):
        response = await call(
            api,
            "POST",
            "users/me/subscriptions",
            {"subscriptions": [{"name": "Venice"}], "message_retention_days": json.dumps(bad)},
            as_user=DESDEMONA,
            check_spec=False,
        )
        shown = "\\ud800" if bad == "\ud800" else bad  # a lone surrogate is quoted back escaped
        error_is(
            response,
            f"Bad value for 'message_retention_days': {shown}",
            "REQUEST_VARIABLE_INVALID",
            var_name="message_retention_days",
            bad_value=shown,
        )
    assert not await exists_for(api, DESDEMONA, "Venice")


@async_test
async def test_channel_names(api: ApiHarness) -> None:
    longest = "x" * 60
    body = success(await create(api, HAMLET, longest))
    assert body["subscribed"] == {str(uid(api, HAMLET)): [longest]}
    # Surrounding white space is dropped; other printable characters are kept.
    body = success(await create(api, HAMLET, "  padded name\t"))
    assert body["subscribed"] == {str(uid(api, HAMLET)): ["padded name"]}
    body = success(await create(api, HAMLET, "caf\u00e9 \U0001f600 \ufffd"))
    assert body["subscribed"] == {str(uid(api, HAMLET)): ["caf\u00e9 \U0001f600 \ufffd"]}
    refused = [
        ("y" * 61, "Channel name too long (limit: 60 characters)."),
        ("", "Channel name can't be empty."),
        ("   ", "Channel name can't be empty."),
        ("bell\x07", "Invalid character in channel name, at position 5."),
        ("a\tb", "Invalid character in channel name, at position 2."),
        ("\x00nul", "Invalid character in channel name, at position 1."),
        ("del\x7f", "Invalid character in channel name, at position 4."),
        ("c1\x85control", "Invalid character in channel name, at position 3."),
        ("lone \ud800 surrogate", "Invalid character in channel name, at position 6."),
        ("non\ufdd0character", "Invalid character in channel name, at position 4."),
        ("plane \U0001fffe", "Invalid character in channel name, at position 7."),
    ]
    for name, msg in refused:
        error_is(await create(api, HAMLET, name), msg)
    body = success(await call(api, "GET", "streams", as_user=HAMLET))
    assert sorted(stream["name"] for stream in body["streams"]) == sorted(
        [longest, "padded name", "caf\u00e9 \U0001f600 \ufffd"]
    )


@async_test
async def test_names_differing_in_case_are_one_channel(api: ApiHarness) -> None:
    denmark = await create_channel(api, IAGO, "Denmark")
    body = success(await create(api, HAMLET, "DENMARK"))
    assert body["subscribed"] == {str(uid(api, HAMLET)): ["Denmark"]}
    body = success(await create(api, HAMLET, "denmark", "Denmark "))
    assert body["subscribed"] == {}
    assert body["already_subscribed"] == {str(uid(api, HAMLET)): ["Denmark"]}
    # One request naming a new channel twice creates it once.
    body = success(await create(api, OTHELLO, "Venice", "VENICE"))
    assert body["subscribed"] == {str(uid(api, OTHELLO)): ["Venice"]}
    assert await listed(api, IAGO) == ["Denmark", "Venice"]
    assert sorted(await subscribers(api, IAGO, denmark)) == sorted([uid(api, IAGO), uid(api, HAMLET)])


@async_test
async def test_malformed_subscribe_requests(api: ApiHarness) -> None:
    cases: list[tuple[dict[str, str], str]] = [
        ({"subscriptions": "not json"}, "subscriptions is not valid JSON"),
        ({"subscriptions": "[{"}, "subscriptions is not valid JSON"),
        ({"subscriptions": '{"name": "Denmark"}'}, "subscriptions is not a list"),
        ({"subscriptions": '"Denmark"'}, "subscriptions is not a list"),
        ({"subscriptions": "[1]"}, "subscriptions[0] is not a dict"),
        ({"subscriptions": '[{"description": "x"}]'}, 'subscriptions[0]["name"] field is missing'),
        ({"subscriptions": '[{"name": 5}]'}, 'subscriptions[0]["name"] is not a string'),
        ({"subscriptions": '[{"name": null}]'}, 'subscriptions[0]["name"] is not a string'),
        ({"subscriptions": '[{"name": "a", "description": 3}]'}, 'subscriptions[0]["description"] is not a string'),
        ({"subscriptions": "[]"}, "Nothing to do. Specify at least one channel."),
        ({"subscriptions": '[{"name": "a"}]', "invite_only": "yes"}, "invite_only is not valid JSON"),
        ({"subscriptions": '[{"name": "a"}]', "invite_only": "1"}, "invite_only is not a boolean"),
        ({"subscriptions": '[{"name": "a"}]', "principals": "[1.5]"}, "principals[0] is not a string"),
        ({"subscriptions": '[{"name": "a"}]', "principals": '"iago@zulip.com"'}, "principals is not a list"),
    ]
    for params, msg in cases:
        error_is(await api.call("POST", "users/me/subscriptions", params, as_user=HAMLET), msg)
    # A missing parameter is Zulip's REQUEST_VARIABLE_MISSING, whose var_name the spec's 400 does not list.
    response = await api.call("POST", "users/me/subscriptions", {"announce": "true"}, as_user=HAMLET)
    error_is(response, "Missing 'subscriptions' argument", "REQUEST_VARIABLE_MISSING", var_name="subscriptions")
    assert await listed(api, IAGO) == []


@async_test
async def test_creating_for_others_with_principals(api: ApiHarness) -> None:
    body = success(await create(api, HAMLET, "Denmark", principals=[OTHELLO, CORDELIA.upper()]))
    assert body["subscribed"] == {str(uid(api, OTHELLO)): ["Denmark"], str(uid(api, CORDELIA)): ["Denmark"]}
    denmark = await channel_id(api, OTHELLO, "Denmark")
    # The creator named others only: they are the subscribers. The creator still administers it.
    assert sorted(await subscribers(api, OTHELLO, denmark)) == sorted([uid(api, OTHELLO), uid(api, CORDELIA)])
    stream = await get_stream(api, OTHELLO, denmark)
    assert stream["can_administer_channel_group"] == {"direct_members": [uid(api, HAMLET)], "direct_subgroups": []}
    # An empty list means the requester, as in Zulip.
    body = success(await create(api, PROSPERO, "Venice", principals=[]))
    assert body["subscribed"] == {str(uid(api, PROSPERO)): ["Venice"]}
    for principals, msg in (([GHOST_ID], "No such user"), (["nobody@zulip.com"], "No such user")):
        error_is(await create(api, HAMLET, "Rome", principals=principals), msg)
    assert not await exists_for(api, HAMLET, "Rome")


@async_test
async def test_two_people_creating_the_same_channel_at_once(api: ApiHarness) -> None:
    responses = await defer.gatherResults(
        [defer.Deferred.fromCoroutine(create(api, email, "Denmark")) for email in (HAMLET, OTHELLO, CORDELIA, ZOE)]
    )
    for response in responses:
        success(response)
    denmark = await channel_id(api, IAGO, "Denmark")
    assert await listed(api, IAGO) == ["Denmark"]
    expected = sorted(uid(api, email) for email in (HAMLET, OTHELLO, CORDELIA, ZOE))
    assert sorted(await subscribers(api, IAGO, denmark)) == expected


# --- listing and looking up ------------------------------------------------------------------------


async def build_listing(api: ApiHarness) -> dict[str, int]:
    """Channels of every kind; hamlet and polonius are in "joined" ones only."""
    ids = {
        "public": await create_channel(api, IAGO, "public"),
        "joined public": await create_channel(api, IAGO, "joined public", principals=[HAMLET, POLONIUS]),
        "private": await create_channel(api, OTHELLO, "private", invite_only=True),
        "joined private": await create_channel(
            api, OTHELLO, "joined private", invite_only=True, principals=[HAMLET, POLONIUS]
        ),
        "archived": await create_channel(api, IAGO, "archived", principals=[HAMLET, POLONIUS]),
        "default": await create_channel(api, IAGO, "default"),
    }
    success(await create(api, IAGO, "web public", is_web_public=True))
    ids["web public"] = await channel_id(api, IAGO, "web public")
    success(await call(api, "DELETE", f"streams/{ids['archived']}", as_user=IAGO))
    success(await call(api, "POST", "default_streams", {"stream_id": ids["default"]}, as_user=IAGO))
    return ids


@async_test
async def test_listing_channels_with_each_filter(api: ApiHarness) -> None:
    await build_listing(api)
    public = ["default", "joined public", "public", "web public"]
    member = sorted([*public, "joined private"])
    assert await listed(api, HAMLET) == member
    assert await listed(api, HAMLET, include_public=False) == ["joined private", "joined public"]
    assert await listed(api, HAMLET, include_public=False, include_subscribed=False) == []
    assert await listed(api, HAMLET, include_public=False, include_subscribed=False, include_web_public=True) == [
        "web public"
    ]
    assert await listed(api, HAMLET, exclude_archived=False) == sorted([*member, "archived"])
    assert await listed(api, HAMLET, include_public=False, exclude_archived=False) == [
        "archived",
        "joined private",
        "joined public",
    ]
    # include_all is every channel the caller may see, for everyone; include_all_active is for administrators.
    assert await listed(api, HAMLET, include_all=True, include_public=False, include_subscribed=False) == member
    assert await listed(api, HAMLET, include_all=True, exclude_archived=False) == sorted([*member, "archived"])
    error_is(
        await call(api, "GET", "streams", {"include_all_active": True}, as_user=HAMLET),
        "User not authorized for this query",
    )
    # Administrators do not see private channels they are not in (zulipd is stricter than Zulip here).
    assert await listed(api, OTHELLO, include_all=True) == sorted([*public, "private", "joined private"])
    assert await listed(api, IAGO, include_all_active=True) == sorted(public)
    assert await listed(api, IAGO, include_all=True, exclude_archived=False) == sorted([*public, "archived"])
    assert await listed(api, IAGO, include_can_access_content=True, include_public=False) == sorted(public)
    # Guests see the channels they are in, and nothing else, web-public ones included.
    assert await listed(api, POLONIUS) == ["joined private", "joined public"]
    assert await listed(api, POLONIUS, include_web_public=True, include_all=True) == ["joined private", "joined public"]
    assert await listed(api, POLONIUS, exclude_archived=False) == ["archived", "joined private", "joined public"]


@async_test
async def test_listing_marks_default_channels_only_when_asked(api: ApiHarness) -> None:
    await build_listing(api)
    body = success(await call(api, "GET", "streams", as_user=HAMLET))
    assert all("is_default" not in stream for stream in body["streams"]), body
    body = success(await call(api, "GET", "streams", {"include_default": True}, as_user=HAMLET))
    assert {stream["name"]: stream["is_default"] for stream in body["streams"]} == {
        "default": True,
        "joined private": False,
        "joined public": False,
        "public": False,
        "web public": False,
    }
    # include_default marks; it adds nothing the other filters did not choose.
    params = {"include_default": True, "include_public": False, "include_subscribed": False}
    assert success(await call(api, "GET", "streams", params, as_user=HAMLET))["streams"] == []


@async_test
async def test_a_bot_lists_the_channels_its_owner_is_in(api: ApiHarness) -> None:
    ids = await build_listing(api)
    bot = success(await api.call("POST", "bots", {"full_name": "Helper", "short_name": "helper"}, as_user=HAMLET))
    bot_email = success(await call(api, "GET", f"users/{bot['user_id']}", as_user=HAMLET))["user"]["email"]
    auth = {"Authorization": api.basic_auth(bot_email, bot["api_key"])}
    params = {"include_public": "false", "include_subscribed": "false", "include_owner_subscribed": "true"}
    response = await api.call("GET", "streams", params, headers=auth)
    body = success(response)
    # The owner's public channels; a private one only if the bot itself is subscribed (it is not).
    assert [stream["name"] for stream in body["streams"]] == ["joined public"]
    response = await api.call("GET", "streams", params, as_user=HAMLET)
    assert success(response)["streams"] == []
    assert ids["joined private"] > 0


@async_test
async def test_looking_up_a_channel(api: ApiHarness) -> None:
    ids = await build_listing(api)
    for name in ("joined public", "JOINED PUBLIC", " joined public "):
        body = success(await call(api, "GET", "get_stream_id", {"stream": name}, as_user=HAMLET))
        assert body == {"result": "success", "msg": "", "stream_id": ids["joined public"]}, name
    assert (await get_stream(api, HAMLET, ids["archived"]))["is_archived"] is True
    for name in ("private", "no such channel", "\x00", "a" * 500):
        error_is(
            await call(api, "GET", "get_stream_id", {"stream": name}, as_user=HAMLET), f"Invalid channel name '{name}'"
        )
    for stream_id in (ids["private"], GHOST_ID, 0, 2**31, 10**30):
        error_is(await call(api, "GET", f"streams/{stream_id}", as_user=HAMLET), "Invalid channel ID")
        error_is(await call(api, "GET", f"streams/{stream_id}/members", as_user=HAMLET), "Invalid channel ID")
    # A lone surrogate, possible through JSON, names no channel and is quoted back escaped.
    params = {"type": "stream", "to": '"\\ud800"', "topic": "t", "content": "x"}
    error_is(
        await call(api, "POST", "messages", params, as_user=HAMLET),
        "Channel '\\ud800' does not exist",
        "STREAM_DOES_NOT_EXIST",
        stream="\\ud800",
    )
    narrow = json.dumps([{"operator": "channel", "operand": "\ud800"}])
    fetch_params: dict[str, Any] = {"anchor": "newest", "num_before": 1, "num_after": 0, "narrow": narrow}
    response = await call(api, "GET", "messages", fetch_params, as_user=HAMLET)
    assert response.status == 400, response.body
    response = await call(api, "GET", "get_stream_id", as_user=HAMLET, check_spec=False)
    error_is(response, "Missing 'stream' argument", "REQUEST_VARIABLE_MISSING", var_name="stream")


@async_test
async def test_subscribers_of_a_channel(api: ApiHarness) -> None:
    ids = await build_listing(api)
    joined = sorted(uid(api, email) for email in (IAGO, HAMLET, POLONIUS))
    assert await subscribers(api, CORDELIA, ids["joined public"]) == joined
    assert await subscribers(api, HAMLET, ids["joined private"]) == sorted(
        uid(api, email) for email in (OTHELLO, HAMLET, POLONIUS)
    )
    assert await subscribers(api, POLONIUS, ids["joined public"]) == joined
    error_is(await call(api, "GET", f"streams/{ids['public']}/members", as_user=POLONIUS), "Invalid channel ID")
    error_is(await call(api, "GET", f"streams/{ids['joined private']}/members", as_user=IAGO), "Invalid channel ID")
    # Deactivated users are not listed.
    success(await call(api, "DELETE", f"users/{uid(api, HAMLET)}", as_user=IAGO))
    assert await subscribers(api, CORDELIA, ids["joined public"]) == sorted(uid(api, e) for e in (IAGO, POLONIUS))


# --- changing channels -----------------------------------------------------------------------------


@async_test
async def test_renaming_a_channel(api: ApiHarness) -> None:
    denmark = await create_channel(api, IAGO, "Denmark")
    await create_channel(api, IAGO, "Venice")
    success(await patch(api, IAGO, denmark, new_name="  Danmark "))
    assert (await get_stream(api, HAMLET, denmark))["name"] == "Danmark"
    assert await channel_id(api, HAMLET, "danmark") == denmark
    assert not await exists_for(api, HAMLET, "Denmark")
    # Changing only the case is a rename too.
    success(await patch(api, IAGO, denmark, new_name="DANMARK"))
    assert (await get_stream(api, HAMLET, denmark))["name"] == "DANMARK"
    refused = [
        ("DANMARK", "Channel already has that name."),
        ("venice", "Channel name already in use."),
        ("Venice", "Channel name already in use."),
        ("z" * 61, "Channel name too long (limit: 60 characters)."),
        ("  ", "Channel name can't be empty."),
        ("tab\there", "Invalid character in channel name, at position 4."),
    ]
    for new_name, msg in refused:
        error_is(await patch(api, IAGO, denmark, new_name=new_name), msg)
    assert (await get_stream(api, HAMLET, denmark))["name"] == "DANMARK"
    assert await listed(api, HAMLET) == ["DANMARK", "Venice"]


@async_test
async def test_describing_a_channel(api: ApiHarness) -> None:
    denmark = await create_channel(api, IAGO, "Denmark")
    success(await patch(api, IAGO, denmark, description='Hamlet <script>alert("x")</script> & co'))
    stream = await get_stream(api, HAMLET, denmark)
    assert stream["description"] == 'Hamlet <script>alert("x")</script> & co'
    assert stream["rendered_description"] == '<p>Hamlet &lt;script&gt;alert("x")&lt;/script&gt; &amp; co</p>'
    # Descriptions stay on one line, as in Zulip.
    success(await patch(api, IAGO, denmark, description="one\ntwo"))
    stream = await get_stream(api, HAMLET, denmark)
    assert (stream["description"], stream["rendered_description"]) == ("one two", "<p>one two</p>")
    success(await patch(api, IAGO, denmark, description=""))
    stream = await get_stream(api, HAMLET, denmark)
    assert (stream["description"], stream["rendered_description"]) == ("", "")
    success(await patch(api, IAGO, denmark, description="tab\there"))
    assert (await get_stream(api, HAMLET, denmark))["description"] == "tab\there"
    error_is(await patch(api, IAGO, denmark, description="nul\x00"), "Invalid character in channel description.")
    params = {"subscriptions": json.dumps([{"name": "Venice", "description": "lone \ud800"}])}
    error_is(
        await api.call("POST", "users/me/subscriptions", params, as_user=IAGO),
        "Invalid character in channel description.",
    )
    success(await patch(api, IAGO, denmark, description="d" * 1024))
    error_is(
        await patch(api, IAGO, denmark, description="d" * 1025),
        "Channel description too long (limit: 1024 characters).",
    )
    assert (await get_stream(api, HAMLET, denmark))["description"] == "d" * 1024


@async_test
async def test_changing_privacy_and_history(api: ApiHarness) -> None:
    denmark = await create_channel(api, IAGO, "Denmark", principals=[HAMLET])

    async def state() -> tuple[bool, bool]:
        stream = await get_stream(api, IAGO, denmark)
        return stream["invite_only"], stream["history_public_to_subscribers"]

    # Made private, a channel protects its history unless told otherwise (as in Zulip).
    success(await patch(api, IAGO, denmark, is_private=True))
    assert await state() == (True, False)
    assert not await exists_for(api, OTHELLO, "Denmark")
    success(await patch(api, IAGO, denmark, history_public_to_subscribers=True))
    assert await state() == (True, True)
    success(await patch(api, IAGO, denmark, is_private=False))
    assert await state() == (False, True)
    success(await patch(api, IAGO, denmark, is_private=True, history_public_to_subscribers=True))
    assert await state() == (True, True)
    success(await patch(api, IAGO, denmark, is_private=False, history_public_to_subscribers=True))
    assert await state() == (False, True)
    for params in (
        {"history_public_to_subscribers": False},
        {"is_private": False, "history_public_to_subscribers": False},
    ):
        error_is(await patch(api, IAGO, denmark, **params), "Invalid parameters")
    error_is(await patch(api, IAGO, denmark, is_private=True, is_web_public=True), "Invalid parameters")
    assert await state() == (False, True)
    assert await exists_for(api, OTHELLO, "Denmark")


@async_test
async def test_who_may_change_a_channel(api: ApiHarness) -> None:
    mine = await create_channel(api, HAMLET, "mine", principals=[POLONIUS, OTHELLO])
    private = await create_channel(api, HAMLET, "private mine", invite_only=True, principals=[IAGO])
    # The creator administers their channel; other members and guests do not.
    success(await patch(api, HAMLET, mine, description="by the creator"))
    success(await patch(api, IAGO, mine, description="by an administrator"))
    success(await patch(api, DESDEMONA, mine, description="by the owner"))
    for email in (OTHELLO, POLONIUS, SHIVA):
        error_is(
            await patch(api, email, mine, description="no"),
            "You do not have permission to administer this channel.",
            "CANNOT_ADMINISTER_CHANNEL",
        )
        error_is(
            await call(api, "DELETE", f"streams/{mine}", as_user=email),
            "You do not have permission to administer this channel.",
            "CANNOT_ADMINISTER_CHANNEL",
        )
    assert (await get_stream(api, OTHELLO, mine))["description"] == "by the owner"
    # A private channel is changed only by subscribers: iago is one, desdemona (the owner) is not.
    success(await patch(api, IAGO, private, description="by a subscribed administrator"))
    error_is(await patch(api, DESDEMONA, private, description="no"), "Invalid channel ID")
    error_is(await call(api, "DELETE", f"streams/{private}", as_user=DESDEMONA), "Invalid channel ID")
    error_is(await patch(api, IAGO, GHOST_ID, description="no"), "Invalid channel ID")
    assert (await get_stream(api, HAMLET, private))["description"] == "by a subscribed administrator"
    # Making a private channel public takes an organization administrator.
    error_is(await patch(api, HAMLET, private, is_private=False), "Insufficient permission")
    success(await patch(api, IAGO, private, is_private=False))
    assert (await get_stream(api, DESDEMONA, private))["invite_only"] is False


@async_test
async def test_posting_policy(api: ApiHarness) -> None:
    groups = await system_groups(api)
    denmark = await create_channel(api, IAGO, "Denmark")

    async def policy() -> tuple[int, bool, int]:
        stream = await get_stream(api, HAMLET, denmark)
        return stream["stream_post_policy"], stream["is_announcement_only"], stream["can_send_message_group"]

    success(await patch(api, IAGO, denmark, stream_post_policy=2))
    assert await policy() == (2, True, groups["role:administrators"])
    response = await call(
        api, "POST", "messages", {"type": "stream", "to": "Denmark", "topic": "t", "content": "x"}, as_user=HAMLET
    )
    error_is(response, "Only organization administrators can send to this channel.")
    await send_stream(api, IAGO, "Denmark", "t", "from an administrator")
    success(await patch(api, IAGO, denmark, is_announcement_only=False))
    assert await policy() == (1, False, groups["role:everyone"])
    await send_stream(api, HAMLET, "Denmark", "t", "from a member")
    success(await patch(api, IAGO, denmark, is_announcement_only=True))
    assert await policy() == (2, True, groups["role:administrators"])
    # can_send_message_group and stream_post_policy are two views of one setting.
    change = {"new": groups["role:moderators"], "old": groups["role:administrators"]}
    success(await patch(api, IAGO, denmark, can_send_message_group=change))
    assert await policy() == (4, False, groups["role:moderators"])
    await send_stream(api, SHIVA, "Denmark", "t", "from a moderator")
    response = await call(
        api, "POST", "messages", {"type": "stream", "to": "Denmark", "topic": "t", "content": "x"}, as_user=HAMLET
    )
    error_is(response, "Only organization administrators and moderators can send to this channel.")
    success(await patch(api, IAGO, denmark, can_send_message_group={"new": groups["role:fullmembers"]}))
    assert await policy() == (3, False, groups["role:fullmembers"])
    error_is(await patch(api, IAGO, denmark, stream_post_policy=7), "Invalid stream_post_policy")
    error_is(
        await patch(api, IAGO, denmark, can_send_message_group={"new": groups["role:everyone"], "old": 1}),
        "'old' value does not match the expected value.",
        "EXPECTATION_MISMATCH",
    )
    # Posting rights zulipd could not enforce are refused rather than stored.
    unsupported = (
        "'can_send_message_group' can only be one of the groups role:everyone, role:fullmembers, "
        "role:moderators and role:administrators on this server."
    )
    for value in (
        groups["role:nobody"],
        groups["role:members"],
        {"direct_members": [uid(api, HAMLET)], "direct_subgroups": []},
    ):
        error_is(await patch(api, IAGO, denmark, can_send_message_group={"new": value}), unsupported)
    error_is(
        await patch(api, IAGO, denmark, can_send_message_group={"new": groups["role:internet"]}),
        "'can_send_message_group' setting cannot be set to 'role:internet' group.",
    )
    assert await policy() == (3, False, groups["role:fullmembers"])


@async_test
async def test_channel_administrators_group(api: ApiHarness) -> None:
    groups = await system_groups(api)
    denmark = await create_channel(api, IAGO, "Denmark", principals=[HAMLET, OTHELLO, POLONIUS])
    created = success(
        await call(
            api,
            "POST",
            "user_groups/create",
            {"name": "stewards", "description": "", "members": [uid(api, OTHELLO)]},
            as_user=IAGO,
        )
    )
    stewards = created["group_id"]
    error_is(
        await patch(api, HAMLET, denmark, description="no"),
        "You do not have permission to administer this channel.",
        "CANNOT_ADMINISTER_CHANNEL",
    )
    change = {"new": {"direct_members": [uid(api, HAMLET)], "direct_subgroups": [stewards]}}
    success(await patch(api, IAGO, denmark, can_administer_channel_group=change))
    stream = await get_stream(api, CORDELIA, denmark)
    assert stream["can_administer_channel_group"] == {
        "direct_members": [uid(api, HAMLET)],
        "direct_subgroups": [stewards],
    }
    success(await patch(api, HAMLET, denmark, description="by hamlet"))
    success(await patch(api, OTHELLO, denmark, new_name="Danmark"))
    error_is(
        await patch(api, CORDELIA, denmark, description="no"),
        "You do not have permission to administer this channel.",
        "CANNOT_ADMINISTER_CHANNEL",
    )
    assert (
        (await get_stream(api, CORDELIA, denmark))["name"],
        (await get_stream(api, CORDELIA, denmark))["description"],
    ) == ("Danmark", "by hamlet")
    # Guests never hold it, even named one by one; "everyone" and "internet" are refused.
    success(
        await patch(
            api,
            IAGO,
            denmark,
            can_administer_channel_group={"new": {"direct_members": [uid(api, POLONIUS)], "direct_subgroups": []}},
        )
    )
    error_is(
        await patch(api, POLONIUS, denmark, description="no"),
        "You do not have permission to administer this channel.",
        "CANNOT_ADMINISTER_CHANNEL",
    )
    for name in ("role:everyone", "role:internet"):
        error_is(
            await patch(api, IAGO, denmark, can_administer_channel_group={"new": groups[name]}),
            f"'can_administer_channel_group' setting cannot be set to '{name}' group.",
        )
    error_is(
        await patch(
            api,
            IAGO,
            denmark,
            can_administer_channel_group={"new": {"direct_members": [GHOST_ID], "direct_subgroups": []}},
        ),
        f"Invalid user ID: {GHOST_ID}",
    )
    error_is(await patch(api, IAGO, denmark, can_administer_channel_group={"new": GHOST_ID}), "Invalid user group")
    error_is(
        await patch(api, IAGO, denmark, can_administer_channel_group={"old": 1}),
        'can_administer_channel_group["new"] field is missing',
    )
    error_is(
        await patch(api, IAGO, denmark, can_administer_channel_group="[1]"),
        "can_administer_channel_group is not a dict",
    )
    # The other settings are stored and shown.
    success(
        await patch(
            api,
            IAGO,
            denmark,
            can_add_subscribers_group={"new": groups["role:members"]},
            can_subscribe_group={"new": groups["role:moderators"]},
            can_remove_subscribers_group={"new": groups["role:everyone"]},
        )
    )
    stream = await get_stream(api, CORDELIA, denmark)
    assert (
        stream["can_add_subscribers_group"],
        stream["can_subscribe_group"],
        stream["can_remove_subscribers_group"],
    ) == (groups["role:members"], groups["role:moderators"], groups["role:everyone"])
    error_is(
        await patch(api, IAGO, denmark, can_subscribe_group={"new": groups["role:everyone"]}),
        "'can_subscribe_group' setting cannot be set to 'role:everyone' group.",
    )


@async_test
async def test_retention_and_default_flags_through_patch(api: ApiHarness) -> None:
    denmark = await create_channel(api, IAGO, "Denmark")
    error_is(
        await patch(api, IAGO, denmark, message_retention_days=10),
        "Must be an organization owner",
        "UNAUTHORIZED_PRINCIPAL",
    )
    success(await patch(api, DESDEMONA, denmark, message_retention_days=10))
    assert (await get_stream(api, IAGO, denmark))["message_retention_days"] == 10
    success(await patch(api, DESDEMONA, denmark, message_retention_days=json.dumps("realm_default")))
    assert (await get_stream(api, IAGO, denmark))["message_retention_days"] is None
    success(await patch(api, IAGO, denmark, is_default_stream=True))
    body = success(await call(api, "GET", "streams", {"include_default": True}, as_user=HAMLET))
    assert [(stream["stream_id"], stream["is_default"]) for stream in body["streams"]] == [(denmark, True)]
    error_is(await patch(api, IAGO, denmark, is_private=True), "A default channel cannot be private.")
    success(await patch(api, IAGO, denmark, is_private=True, is_default_stream=False))
    body = success(await call(api, "GET", "streams", {"include_default": True}, as_user=IAGO))
    assert [(stream["stream_id"], stream["is_default"], stream["invite_only"]) for stream in body["streams"]] == [
        (denmark, False, True)
    ]
    error_is(await patch(api, IAGO, denmark, is_default_stream=True), "A default channel cannot be private.")
    venice = await create_channel(api, HAMLET, "Venice")
    error_is(
        await patch(api, HAMLET, venice, is_default_stream=True),
        "Must be an organization administrator",
        "UNAUTHORIZED_PRINCIPAL",
    )


@async_test
async def test_patch_with_bad_input_never_fails_hard(api: ApiHarness) -> None:
    denmark = await create_channel(api, IAGO, "Denmark")
    cases: list[tuple[dict[str, str], str]] = [
        ({"is_private": "maybe"}, "is_private is not valid JSON"),
        ({"is_private": "1"}, "is_private is not a boolean"),
        ({"stream_post_policy": '"2"'}, "stream_post_policy is not an integer"),
        ({"can_send_message_group": "{"}, "can_send_message_group is not valid JSON"),
        ({"can_send_message_group": '{"new": "x"}'}, 'can_send_message_group["new"] is not an integer'),
        ({"message_retention_days": "[]"}, "message_retention_days is not an integer"),
    ]
    for params, msg in cases:
        error_is(await api.call("PATCH", f"streams/{denmark}", params, as_user=DESDEMONA), msg)
    # Nothing to change is no error.
    body = success(await call(api, "PATCH", f"streams/{denmark}", {}, as_user=IAGO))
    assert body == {"result": "success", "msg": ""}
    stream = await get_stream(api, IAGO, denmark)
    assert (stream["name"], stream["invite_only"], stream["stream_post_policy"]) == ("Denmark", False, 1)


# --- archiving -------------------------------------------------------------------------------------


@async_test
async def test_archiving_a_channel(api: ApiHarness) -> None:
    denmark = await create_channel(api, IAGO, "Denmark", principals=[HAMLET])
    success(await call(api, "POST", "default_streams", {"stream_id": denmark}, as_user=IAGO))
    await send_stream(api, HAMLET, "Denmark", "before", "said before the archive")
    body = success(await call(api, "DELETE", f"streams/{denmark}", as_user=IAGO))
    assert body == {"result": "success", "msg": ""}
    stream = await get_stream(api, HAMLET, denmark)
    assert (stream["is_archived"], stream["name"]) == (True, "Denmark")
    assert await listed(api, HAMLET) == []
    assert await listed(api, HAMLET, exclude_archived=False) == ["Denmark"]
    body = success(await call(api, "GET", "users/me/subscriptions", as_user=HAMLET))
    assert body["subscriptions"] == []  # as in Zulip, archived channels are left out
    # An archived channel is no default channel, takes no message, and cannot be archived again.
    body = success(
        await call(api, "GET", "streams", {"include_default": True, "exclude_archived": False}, as_user=IAGO)
    )
    assert [(item["stream_id"], item["is_default"]) for item in body["streams"]] == [(denmark, False)]
    error_is(
        await call(api, "POST", "default_streams", {"stream_id": denmark}, as_user=IAGO),
        "Archived channels cannot be made default.",
    )
    response = await call(
        api, "POST", "messages", {"type": "stream", "to": "Denmark", "topic": "t", "content": "x"}, as_user=HAMLET
    )
    error_is(response, "This channel is archived.")
    error_is(await call(api, "DELETE", f"streams/{denmark}", as_user=IAGO), "Channel is already deactivated")
    error_is(await call(api, "DELETE", f"streams/{GHOST_ID}", as_user=IAGO), "Invalid channel ID")
    # Its history stays readable.
    assert len(await fetch_ids(api, HAMLET, [term("channel", denmark)])) == 1


# --- default channels ------------------------------------------------------------------------------


@async_test
async def test_managing_default_channels(api: ApiHarness) -> None:
    verona = await create_channel(api, IAGO, "Verona")
    secret = await create_channel(api, IAGO, "secret", invite_only=True)
    othello_secret = await create_channel(api, OTHELLO, "othello secret", invite_only=True)

    async def defaults() -> list[int]:
        body = success(await call(api, "GET", "streams", {"include_default": True}, as_user=IAGO))
        return [stream["stream_id"] for stream in body["streams"] if stream["is_default"]]

    body = success(await call(api, "POST", "default_streams", {"stream_id": verona}, as_user=IAGO))
    assert body == {"result": "success", "msg": ""}
    success(await call(api, "POST", "default_streams", {"stream_id": verona}, as_user=IAGO))  # twice is fine
    assert await defaults() == [verona]
    for email in (HAMLET, SHIVA, POLONIUS):
        for method in ("POST", "DELETE"):
            error_is(
                await call(api, method, "default_streams", {"stream_id": verona}, as_user=email),
                "Must be an organization administrator",
                "UNAUTHORIZED_PRINCIPAL",
            )
    error_is(
        await call(api, "POST", "default_streams", {"stream_id": secret}, as_user=IAGO),
        "Private channels cannot be made default.",
    )
    for stream_id in (othello_secret, GHOST_ID):
        for method in ("POST", "DELETE"):
            error_is(
                await call(api, method, "default_streams", {"stream_id": stream_id}, as_user=IAGO), "Invalid channel ID"
            )
    error_is(
        await api.call("POST", "default_streams", {"stream_id": '"1"'}, as_user=IAGO), "stream_id is not an integer"
    )
    assert await defaults() == [verona]
    success(await call(api, "DELETE", "default_streams", {"stream_id": verona}, as_user=IAGO))
    success(await call(api, "DELETE", "default_streams", {"stream_id": verona}, as_user=IAGO))
    assert await defaults() == []


async def subscriptions_of_new_user(api: ApiHarness, user_id: int) -> list[str]:
    from zulipd.actions.users import get_user

    assert api.realm is not None
    user = await get_user(api.server, api.realm, user_id)
    response = await api.call(
        "GET", "users/me/subscriptions", headers={"Authorization": api.basic_auth(user.email, user.api_key)}
    )
    return [item["name"] for item in success(response)["subscriptions"]]


@async_test
async def test_new_users_join_the_default_channels(api: ApiHarness) -> None:
    from zulipd.admin.users import create_user

    verona = await create_channel(api, IAGO, "Verona")
    denmark = await create_channel(api, IAGO, "Denmark")
    await create_channel(api, IAGO, "Venice")
    await create_channel(api, IAGO, "secret", invite_only=True)
    for stream_id in (verona, denmark):
        success(await call(api, "POST", "default_streams", {"stream_id": stream_id}, as_user=IAGO))
    success(await call(api, "DELETE", f"streams/{denmark}", as_user=IAGO))  # no longer a default channel
    params = {"email": "newbie@zulip.com", "password": "a-long-password", "full_name": "Newbie"}
    created = success(await call(api, "POST", "users", params, as_user=IAGO))
    assert await subscriptions_of_new_user(api, created["user_id"]) == ["Verona"]
    assert uid(api, IAGO) in await subscribers(api, IAGO, verona)
    assert created["user_id"] in await subscribers(api, IAGO, verona)
    # zulipd-admin create-user does the same.
    args = argparse.Namespace(
        realm="zulip",
        email="admin-made@zulip.com",
        full_name="Admin Made",
        role="member",
        password_file=None,
        prompt_password=False,
    )
    assert await create_user(api.server, args) == 0
    body = success(await call(api, "GET", "users/admin-made@zulip.com", as_user=IAGO))
    assert await subscriptions_of_new_user(api, body["user"]["user_id"]) == ["Verona"]
    # Bots do not.
    bot = success(await api.call("POST", "bots", {"full_name": "Helper", "short_name": "helper"}, as_user=HAMLET))
    assert await subscriptions_of_new_user(api, bot["user_id"]) == []
    # Existing users are not subscribed when a channel becomes a default one.
    assert await subscriptions_of_new_user(api, uid(api, AARON)) == []


@async_test
async def test_unknown_and_invisible_channels_answer_alike(api: ApiHarness) -> None:
    secret = await create_channel(api, OTHELLO, "secret", invite_only=True)
    for stream_id, name in ((secret, "secret"), (GHOST_ID, "no such channel")):
        answers = [
            await call(api, "GET", f"streams/{stream_id}", as_user=IAGO),
            await call(api, "GET", f"streams/{stream_id}/members", as_user=IAGO),
            await patch(api, IAGO, stream_id, description="x"),
            await call(api, "DELETE", f"streams/{stream_id}", as_user=IAGO),
            await call(api, "POST", "default_streams", {"stream_id": stream_id}, as_user=IAGO),
            await call(api, "GET", f"users/{uid(api, OTHELLO)}/subscriptions/{stream_id}", as_user=IAGO),
        ]
        for response in answers:
            error_is(response, "Invalid channel ID")
        error_is(
            await call(api, "GET", "get_stream_id", {"stream": name}, as_user=IAGO), f"Invalid channel name '{name}'"
        )
    assert json.loads((await call(api, "GET", f"streams/{secret}", as_user=OTHELLO)).body)["stream"]["name"] == "secret"
