"""Each action's events, applied to the state from before, give the state a fresh POST /register gives.

This is Zulip's own check of its events: register, act, apply what the queue
received to the registered state, and compare with a new registration.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any

from tests.chat_support import (
    CORDELIA,
    DESDEMONA,
    HAMLET,
    IAGO,
    MENTIONED,
    OTHELLO,
    POLONIUS,
    STREAM_WILDCARD_MENTIONED,
    call,
    create_channel,
    post_bot,
    queued_events,
    register,
    send_direct,
    send_stream,
    set_flag_bits,
    subscribe,
    success,
)
from tests.event_state import STATE_TYPES, apply_event, comparable
from tests.support.api import ApiHarness
from tests.support.async_tests import async_test

Action = Callable[[], Awaitable[object]]


async def verify(
    api: ApiHarness, email: str, action: Action, *, expect_events: bool = True, **register_options: Any
) -> list[dict[str, Any]]:
    """Do ``action``; check that ``email``'s events turn the old state into the new one. Return the events.

    ``register_options`` go to both registrations (``client_capabilities``, say)."""
    before = await register(api, email, event_types=STATE_TYPES, include_subscribers=True, **register_options)
    await action()
    events = await queued_events(api, email, before["queue_id"], before["last_event_id"])
    assert bool(events) == expect_events, events
    state = dict(before)
    for event in events:
        apply_event(state, event)
    fresh = await register(api, email, event_types=STATE_TYPES, include_subscribers=True, **register_options)
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


def flags_route(api: ApiHarness, email: str, op: str, flag: str, message_ids: list[int]) -> Action:
    params = {"messages": message_ids, "op": op, "flag": flag}
    return lambda: call(api, "POST", "messages/flags", params, as_user=email)


@async_test
async def test_unread_messages(api: ApiHarness) -> None:
    await create_channel(api, IAGO, "garden", principals=[HAMLET, CORDELIA])
    await create_channel(api, IAGO, "quiet", principals=[HAMLET, CORDELIA])
    quiet = await channel_id(api, "quiet")()
    muted = [{"stream_id": quiet, "property": "is_muted", "value": True}]
    success(await call(api, "POST", "users/me/subscriptions/properties", {"subscription_data": muted}, as_user=HAMLET))
    follow = {"stream_id": quiet, "topic": "kept", "visibility_policy": 3}
    success(await call(api, "POST", "user_topics", follow, as_user=HAMLET))
    # New unread messages: a channel topic, a muted channel (not counted), a followed topic in it (counted),
    # one-on-one and group conversations.
    await verify(api, HAMLET, lambda: send_stream(api, CORDELIA, "garden", "roses", "red"))
    await verify(api, HAMLET, lambda: send_stream(api, CORDELIA, "quiet", "hushed", "shh"))
    await verify(api, HAMLET, lambda: send_stream(api, CORDELIA, "quiet", "kept", "loud"))
    await verify(api, HAMLET, lambda: send_direct(api, OTHELLO, [HAMLET], "hi"))
    await verify(api, HAMLET, lambda: send_direct(api, OTHELLO, [HAMLET, CORDELIA], "all of us"))
    # Own messages are read already: nothing unread changes.
    own = await verify(api, HAMLET, lambda: send_direct(api, HAMLET, [OTHELLO], "reply"))
    assert "read" in own[0]["flags"]
    state = await register(api, HAMLET, event_types=["message", "update_message_flags"])
    unread = state["unread_msgs"]
    assert unread["count"] == 4
    assert unread["old_unreads_missing"] is False
    assert {entry["topic"] for entry in unread["streams"]} == {"roses", "hushed", "kept"}
    ids = sorted(
        i for key in ("pms", "streams", "huddles") for entry in unread[key] for i in entry["unread_message_ids"]
    )
    roses, hushed, kept = ids[:3]
    # Reading, and marking unread again with mentions set behind the API's back (as rendering will set them).
    await verify(api, HAMLET, flags_route(api, HAMLET, "add", "read", ids[:3]))
    await set_flag_bits(api, HAMLET, [roses], MENTIONED)
    await set_flag_bits(api, HAMLET, [hushed, kept], STREAM_WILDCARD_MENTIONED)
    events = await verify(api, HAMLET, flags_route(api, HAMLET, "remove", "read", ids[:3]))
    # A wildcard mention in a muted topic is no mention; one in a followed topic of a muted channel is.
    details = events[0]["message_details"]
    assert [details[str(i)].get("mentioned") for i in (roses, hushed, kept)] == [True, None, True]
    state = await register(api, HAMLET, event_types=["message", "update_message_flags"])
    assert state["unread_msgs"]["mentions"] == [roses, kept]
    # Muting a topic takes its messages out of the count (a direct mention stays one); deleting and
    # leaving take them out of the lists.
    garden = await channel_id(api, "garden")()
    mute = {"stream_id": garden, "topic": "roses", "visibility_policy": 1}
    await verify(api, HAMLET, lambda: call(api, "POST", "user_topics", mute, as_user=HAMLET))

    async def delete_roses() -> None:
        success(await call(api, "DELETE", f"messages/{roses}", {}, as_user=IAGO))

    delete = await verify(api, HAMLET, delete_roses)
    assert delete[0]["type"] == "delete_message"
    leave = {"subscriptions": ["quiet"]}
    await verify(api, HAMLET, lambda: call(api, "DELETE", "users/me/subscriptions", leave, as_user=HAMLET))
    await verify(api, HAMLET, lambda: call(api, "POST", "mark_all_as_read", {}, as_user=HAMLET))
    state = await register(api, HAMLET, event_types=["message", "update_message_flags"])
    assert state["unread_msgs"] == {
        "count": 0, "pms": [], "streams": [], "huddles": [], "mentions": [], "old_unreads_missing": False,
    }  # fmt: skip


@async_test
async def test_unread_messages_need_the_message_type_too(api: ApiHarness) -> None:
    await send_direct(api, OTHELLO, [HAMLET], "hi")
    assert "unread_msgs" not in await register(api, HAMLET, fetch_event_types=["update_message_flags"])
    state = await register(api, HAMLET, fetch_event_types=["update_message_flags", "message"])
    assert state["unread_msgs"]["pms"][0]["other_user_id"] == api.user(OTHELLO).id


@async_test
async def test_recent_direct_conversations(api: ApiHarness) -> None:
    await verify(api, HAMLET, lambda: send_direct(api, OTHELLO, [HAMLET], "hi"))
    await verify(api, HAMLET, lambda: send_direct(api, HAMLET, [HAMLET], "a note to self"))
    await verify(api, HAMLET, lambda: send_direct(api, CORDELIA, [HAMLET, OTHELLO], "three of us"))
    last = await verify(api, HAMLET, lambda: send_direct(api, HAMLET, [OTHELLO], "back to you"))
    await verify(api, HAMLET, lambda: send_direct(api, OTHELLO, [CORDELIA], "not hamlet's"), expect_events=False)
    state = await register(api, HAMLET, fetch_event_types=["recent_private_conversations"])
    me, othello, cordelia = (api.user(email).id for email in (HAMLET, OTHELLO, CORDELIA))
    conversations = state["recent_private_conversations"]
    assert [c["user_ids"] for c in conversations] == [[othello], sorted([othello, cordelia]), []]
    assert conversations[0]["max_message_id"] == last[0]["message"]["id"]
    assert me not in {user_id for c in conversations for user_id in c["user_ids"]}


# --- users and bots --------------------------------------------------------------------------------------


def create_user(api: ApiHarness, email: str) -> Action:
    params = {"email": email, "password": "a long enough password", "full_name": email.split("@")[0].title()}
    return lambda: call(api, "POST", "users", params, as_user=IAGO)


def bot_creation(api: ApiHarness, owner: str, short_name: str, **extra: Any) -> Action:
    return lambda: post_bot(api, owner, short_name, **extra)


def change_bot(api: ApiHarness, acting: str, bot_id: int, **params: Any) -> Action:
    return lambda: call(api, "PATCH", f"bots/{bot_id}", params, as_user=acting, check_spec=False)


def bot_events_of(events: list[dict[str, Any]]) -> list[str]:
    return [event["op"] for event in events if event["type"] == "realm_bot"]


@async_test
async def test_creating_users(api: ApiHarness) -> None:
    for number, viewer in enumerate([IAGO, HAMLET, OTHELLO]):
        events = await verify(api, viewer, create_user(api, f"ariel{number}@zulip.com"))
        assert [event["op"] for event in events if event["type"] == "realm_user"] == ["add"]


@async_test
async def test_creating_bots(api: ApiHarness) -> None:
    # Hamlet creates bots; he and the administrators hear of each with its key, the others only of a new user.
    url = json.dumps("https://bots.example.com/hook")
    kinds: list[dict[str, Any]] = [
        {"bot_type": 1},
        {"bot_type": 3, "payload_url": url},
        {"bot_type": 4, "service_name": "converter"},
    ]
    for number, kind in enumerate(kinds):
        for viewer, expected in [(HAMLET, ["add"]), (IAGO, ["add"]), (OTHELLO, [])]:
            events = await verify(api, viewer, bot_creation(api, HAMLET, f"b{number}{viewer[:3]}", **kind))
            assert bot_events_of(events) == expected, events


@async_test
async def test_changing_a_bot(api: ApiHarness) -> None:
    hook = await post_bot(api, HAMLET, "hook", bot_type=3, payload_url=json.dumps("https://bots.example.com/a"))
    helper = await post_bot(api, HAMLET, "helper", bot_type=4, service_name="converter")
    regenerate = lambda: call(api, "POST", f"bots/{hook}/api_key/regenerate", as_user=HAMLET, check_spec=False)  # noqa: E731
    for viewer in (HAMLET, IAGO, OTHELLO):
        told = viewer != OTHELLO
        events = await verify(api, viewer, change_bot(api, HAMLET, hook, full_name=f"Hook for {viewer[:4]}"))
        assert bot_events_of(events) == (["update"] if told else [])
        new_url = json.dumps(f"https://bots.example.com/{viewer[:4]}")
        await verify(api, viewer, change_bot(api, IAGO, hook, service_payload_url=new_url), expect_events=told)
        config = json.dumps({"key": viewer[:4]})
        await verify(api, viewer, change_bot(api, HAMLET, helper, config_data=config), expect_events=told)
        # Nobody else may learn the new key: Othello hears nothing at all.
        await verify(api, viewer, regenerate, expect_events=told)


@async_test
async def test_changing_a_bots_owner(api: ApiHarness) -> None:
    bot = await post_bot(api, HAMLET, "relay")
    hamlet, othello, iago = (api.user(email).id for email in (HAMLET, OTHELLO, IAGO))
    # From Hamlet to Othello: Hamlet loses the bot, Othello gains it, the administrators see its owner
    # change, and Cordelia only its user's bot_owner_id.
    for viewer, expected in [(HAMLET, ["delete"]), (OTHELLO, ["add"]), (IAGO, ["update"]), (CORDELIA, [])]:
        await change_bot(api, IAGO, bot, bot_owner_id=hamlet)()
        events = await verify(api, viewer, change_bot(api, IAGO, bot, bot_owner_id=othello))
        assert bot_events_of(events) == expected, events
    # From Othello to an administrator: Othello loses it; the administrators, the new owner among them, see an update.
    for viewer, expected in [(OTHELLO, ["delete"]), (IAGO, ["update"])]:
        await change_bot(api, IAGO, bot, bot_owner_id=othello)()
        events = await verify(api, viewer, change_bot(api, IAGO, bot, bot_owner_id=iago))
        assert bot_events_of(events) == expected, events
    # The same owner again: nothing changes, nothing is said.
    await verify(api, IAGO, change_bot(api, IAGO, bot, bot_owner_id=iago), expect_events=False)


@async_test
async def test_deactivating_and_reactivating_bots(api: ApiHarness) -> None:
    bot = await post_bot(api, HAMLET, "relay")
    for viewer in (HAMLET, IAGO, OTHELLO):
        deactivate = lambda: call(api, "DELETE", f"bots/{bot}", as_user=HAMLET, check_spec=False)  # noqa: E731
        events = await verify(api, viewer, deactivate)
        assert bot_events_of(events) == ([] if viewer == OTHELLO else ["update"])
        await verify(api, viewer, lambda: call(api, "POST", f"users/{bot}/reactivate", as_user=IAGO))
    # Deactivating Hamlet deactivates his bots too; each is told as if deactivated on its own.
    second = await post_bot(api, HAMLET, "second")
    hamlet = api.user(HAMLET).id
    events = await verify(api, IAGO, lambda: call(api, "DELETE", f"users/{hamlet}", as_user=IAGO))
    deactivated = [event["person"]["user_id"] for event in events if event["type"] == "realm_user"]
    assert deactivated == [bot, second, hamlet]
    assert bot_events_of(events) == ["update", "update"]
    await verify(api, OTHELLO, lambda: call(api, "POST", f"users/{hamlet}/reactivate", as_user=IAGO))


async def _group_ids(api: ApiHarness) -> dict[str, int]:
    body = success(await call(api, "GET", "user_groups", {"include_deactivated_groups": True}, as_user=IAGO))
    return {group["name"]: group["id"] for group in body["user_groups"]}


def _group_call(api: ApiHarness, method: str, path: str, params: dict[str, Any], as_user: str = HAMLET) -> Action:
    return lambda: call(api, method, path, params, as_user=as_user)


@async_test
async def test_user_group_changes(api: ApiHarness) -> None:
    cordelia, othello, iago = api.user(CORDELIA).id, api.user(OTHELLO).id, api.user(IAGO).id
    create = {"name": "alpha", "description": "first", "members": [cordelia]}
    events = await verify(api, OTHELLO, _group_call(api, "POST", "user_groups/create", create))
    assert [(event["type"], event["op"]) for event in events] == [("user_group", "add")]
    alpha = (await _group_ids(api))["alpha"]
    # Created with members and a subgroup: all of it is in the one add event.
    create = {"name": "beta", "description": "second", "members": [othello, cordelia], "subgroups": [alpha]}
    events = await verify(api, OTHELLO, _group_call(api, "POST", "user_groups/create", create))
    assert (events[0]["group"]["members"], events[0]["group"]["direct_subgroup_ids"]) == ([othello, cordelia],
                                                                                         [alpha])  # fmt: skip
    beta = (await _group_ids(api))["beta"]
    await verify(api, OTHELLO, _group_call(api, "PATCH", f"user_groups/{beta}", {"name": "gamma", "description": "3"}))
    system = await _group_ids(api)
    mention = {"new": {"direct_members": [iago], "direct_subgroups": [alpha]}}
    settings = {"can_mention_group": json.dumps(mention), "can_join_group": json.dumps({"new": system["role:members"]})}
    await verify(api, OTHELLO, _group_call(api, "PATCH", f"user_groups/{beta}", settings))
    await verify(api, OTHELLO, _group_call(api, "POST", f"user_groups/{beta}/members", {"add": [iago]}))
    await verify(api, OTHELLO, _group_call(api, "POST", f"user_groups/{beta}/members", {"delete": [cordelia]}))
    both = {"delete": [othello], "delete_subgroups": [alpha]}
    await verify(api, OTHELLO, _group_call(api, "POST", f"user_groups/{beta}/members", both))
    await verify(api, OTHELLO, _group_call(api, "POST", f"user_groups/{beta}/subgroups", {"add": [alpha]}))
    await verify(api, OTHELLO, _group_call(api, "POST", f"user_groups/{beta}/subgroups", {"delete": [alpha]}))
    # Nothing changed, nothing said.
    await verify(api, OTHELLO, _group_call(api, "PATCH", f"user_groups/{beta}", {"name": "gamma"}),
                 expect_events=False)  # fmt: skip


@async_test
async def test_deactivating_user_groups(api: ApiHarness) -> None:
    cordelia = api.user(CORDELIA).id
    capable: dict[str, Any] = {"client_capabilities": {"include_deactivated_groups": True}}
    for name in ("kept", "dropped"):
        success(await call(api, "POST", "user_groups/create", {"name": name, "description": "", "members": [cordelia]},
                           as_user=HAMLET))  # fmt: skip
    ids = await _group_ids(api)
    # A client that keeps deactivated groups hears of an update; one that does not, of a remove.
    (update,) = await verify(api, OTHELLO, _group_call(api, "POST", f"user_groups/{ids['kept']}/deactivate", {}),
                             **capable)  # fmt: skip
    assert (update["op"], update["data"]) == ("update", {"deactivated": True})
    (removal,) = await verify(api, OTHELLO, _group_call(api, "POST", f"user_groups/{ids['dropped']}/deactivate", {}))
    assert (removal["op"], removal["group_id"]) == ("remove", ids["dropped"])
    # Renaming a deactivated group is news only to clients that keep deactivated groups.
    rename = _group_call(api, "PATCH", f"user_groups/{ids['kept']}", {"name": "kept still"})
    await verify(api, OTHELLO, rename, **capable)
    rename = _group_call(api, "PATCH", f"user_groups/{ids['kept']}", {"name": "kept again"})
    await verify(api, OTHELLO, rename, expect_events=False)


@async_test
async def test_user_changes_that_move_group_members(api: ApiHarness) -> None:
    cordelia = api.user(CORDELIA).id
    mention = json.dumps({"direct_members": [cordelia], "direct_subgroups": []})
    create = {"name": "poets", "description": "", "members": [cordelia], "can_mention_group": mention}
    success(await call(api, "POST", "user_groups/create", create, as_user=HAMLET))
    # A role changes the system groups the user is in.
    await verify(api, OTHELLO, _group_call(api, "PATCH", f"users/{cordelia}", {"role": 300}, as_user=IAGO))
    # Deactivated users are in no group: the realm_user update says so. Reactivated, they are back.
    await verify(api, OTHELLO, _group_call(api, "DELETE", f"users/{cordelia}", {}, as_user=IAGO))
    await verify(api, OTHELLO, _group_call(api, "POST", f"users/{cordelia}/reactivate", {}, as_user=IAGO))
    # A new user joins the system groups of their role.
    new_user = {"email": "newbie@zulip.com", "password": "a-long-enough-password", "full_name": "Newbie"}
    await verify(api, OTHELLO, _group_call(api, "POST", "users", new_user, as_user=DESDEMONA))
    # A waiting period makes the newcomer no full member yet.
    waiting = {"waiting_period_threshold": 3}
    # PATCH /realm is not in the spec, so its answer is not held to it.
    await verify(api, OTHELLO, lambda: call(api, "PATCH", "realm", waiting, as_user=IAGO, check_spec=False))


def _change_realm(api: ApiHarness, params: dict[str, Any], as_user: str = IAGO) -> Action:
    # PATCH /realm is not in the spec (Zulip documents it elsewhere): its answer is not held to it.
    async def change() -> None:
        success(await call(api, "PATCH", "realm", params, as_user=as_user, check_spec=False))

    return change


@async_test
async def test_organization_settings(api: ApiHarness) -> None:
    # A guest hears of every kind of setting too; update and update_dict both apply.
    for params in (
        {"mandatory_topics": True},  # a bool: update
        {"allow_message_editing": False},  # a message-editing bool: update_dict
        {"digest_weekday": 4},  # an int
        {"message_content_delete_limit_seconds": 120},
        {"message_content_delete_limit_seconds": json.dumps("unlimited")},  # "unlimited" is null
        {"message_content_edit_limit_seconds": json.dumps("unlimited")},
        {"allow_edit_history": False},  # also message_edit_history_visibility_policy
        {"bot_creation_policy": 3},  # shown as the bot-creation group settings
        {"name": "Elsinore"},
        {"description": "A castle **by the sea**"},
        {"name": "Elsinore again", "enable_read_receipts": False, "default_code_block_language": json.dumps("python")},
    ):
        await verify(api, POLONIUS, _change_realm(api, params))
    # Unchanged values say nothing.
    await verify(api, POLONIUS, _change_realm(api, {"mandatory_topics": True}), expect_events=False)


@async_test
async def test_organization_group_settings(api: ApiHarness) -> None:
    ids = await _group_ids(api)
    moderators = json.dumps({"new": ids["role:moderators"]})
    await verify(api, HAMLET, _change_realm(api, {"can_create_groups": moderators}, as_user=DESDEMONA))
    anonymous = {"direct_members": [api.user(HAMLET).id], "direct_subgroups": [ids["role:administrators"]]}
    change = json.dumps({"new": anonymous, "old": ids["role:owners"]})
    await verify(api, HAMLET, _change_realm(api, {"can_manage_all_groups": change}, as_user=DESDEMONA))


@async_test
async def test_user_status_changes(api: ApiHarness) -> None:
    def set_status(email: str, **params: Any) -> Action:
        return lambda: call(api, "POST", "users/me/status", params, as_user=email)

    # Hamlet watches his own status and Othello's; a guest watches too.
    for watcher in (HAMLET, POLONIUS):
        await verify(api, watcher, set_status(OTHELLO, status_text="out to lunch"))
    await verify(api, HAMLET, set_status(OTHELLO, emoji_name="car"))
    await verify(api, HAMLET, set_status(HAMLET, status_text="  in a meeting ", emoji_name="zulip"))
    octopus = {"emoji_name": "octopus", "emoji_code": "1f419", "reaction_type": "unicode_emoji"}
    await verify(api, HAMLET, set_status(OTHELLO, **octopus))
    # The deprecated away, on and off, alone and with the rest.
    await verify(api, HAMLET, set_status(OTHELLO, away=True))
    await verify(api, HAMLET, set_status(CORDELIA, away=True))
    await verify(api, HAMLET, set_status(OTHELLO, away=False, status_text=""))
    # Clearing the text and the emoji takes the user out of the state.
    await verify(api, HAMLET, set_status(OTHELLO, emoji_name=""))
    await verify(api, HAMLET, set_status(CORDELIA, away=False))
    events = await verify(api, HAMLET, set_status(HAMLET, status_text="", emoji_name=""))
    assert events == [{"type": "user_status", "user_id": api.user(HAMLET).id, "status_text": "", "emoji_name": "",
                       "emoji_code": "", "reaction_type": "unicode_emoji", "id": events[0]["id"]}]  # fmt: skip
    fresh = await register(api, HAMLET, event_types=["user_status"])
    assert fresh["user_status"] == {}


@async_test
async def test_archiving_channels_with_and_without_archived_channels(api: ApiHarness) -> None:
    capable: dict[str, Any] = {"client_capabilities": {"archived_channels": True}}

    def archive(stream_id: int, acting: str = IAGO) -> Action:
        async def run() -> None:
            success(await call(api, "DELETE", f"streams/{stream_id}", as_user=acting))

        return run

    # Hamlet is subscribed, Othello was and left, Cordelia never was: each is told, the way the client asks.
    for number, (viewer, options) in enumerate(
        (viewer, options) for viewer in (HAMLET, OTHELLO, CORDELIA) for options in (capable, {})
    ):
        name = f"garden {number}"
        stream_id = await create_channel(api, IAGO, name, principals=[HAMLET, OTHELLO])
        success(await call(api, "DELETE", "users/me/subscriptions", {"subscriptions": [name]}, as_user=OTHELLO))
        (event,) = await verify(api, viewer, archive(stream_id), **options)
        if options:
            assert event == {"type": "stream", "op": "update", "stream_id": stream_id, "name": name,
                             "property": "is_archived", "value": True, "id": event["id"]}  # fmt: skip
        else:
            assert (event["op"], event["stream_ids"]) == ("delete", [stream_id])
    # The archived channels stay in the state of a client that keeps them, marked archived.
    state = await register(api, CORDELIA, event_types=["stream", "subscription"], **capable)
    archived = {entry["name"] for entry in state["streams"] if entry["is_archived"]}
    assert archived == {f"garden {number}" for number in range(6)}
    assert all(entry["is_archived"] for entry in state["never_subscribed"])
    # Renaming an archived channel is news only to clients that keep archived channels.
    rename = lambda: call(api, "PATCH", f"streams/{stream_id}", {"new_name": "old garden"}, as_user=IAGO)  # noqa: E731
    await verify(api, HAMLET, rename, **capable)
    rename = lambda: call(api, "PATCH", f"streams/{stream_id}", {"new_name": "older garden"}, as_user=IAGO)  # noqa: E731
    await verify(api, HAMLET, rename, expect_events=False)
    # A private channel: its subscriber is told; nobody else, administrators and guests included, hears
    # of it or finds it in their state, capability or not.
    vaults = [await create_channel(api, HAMLET, f"vault {n}", invite_only=True) for n in range(3)]
    await verify(api, HAMLET, archive(vaults[0], HAMLET), **capable)
    await verify(api, CORDELIA, archive(vaults[1], HAMLET), expect_events=False, **capable)
    await verify(api, POLONIUS, archive(vaults[2], HAMLET), expect_events=False, **capable)
    for outsider in (CORDELIA, IAGO, POLONIUS):
        state = await register(api, outsider, event_types=["stream", "subscription"], **capable)
        names = {entry["name"] for key in ("streams", "subscriptions", "unsubscribed", "never_subscribed")
                 for entry in state[key]}  # fmt: skip
        assert not any(name.startswith("vault") for name in names), names
    state = await register(api, HAMLET, event_types=["subscription"], **capable)
    assert sorted(entry["name"] for entry in state["subscriptions"] if entry["name"].startswith("vault")) == [
        "vault 0", "vault 1", "vault 2",
    ]  # fmt: skip


@async_test
async def test_linkifier_changes(api: ApiHarness) -> None:
    capable: dict[str, Any] = {"client_capabilities": {"linkifier_url_template": True}}
    ids: list[int] = []

    def change(method: str, path: str, params: dict[str, Any] | None = None) -> Action:
        async def run() -> None:
            body = success(await call(api, method, path, params, as_user=IAGO))
            if "id" in body:
                ids.append(body["id"])

        return run

    trac = {"pattern": "#(?P<id>[0-9]+)", "url_template": "https://trac.example.com/ticket/{id}"}
    zul = {"pattern": "ZUL-(?P<id>\\d+)", "url_template": "https://zulip.example.com/{id}"}
    for watcher in (HAMLET, POLONIUS):
        await verify(api, watcher, change("POST", "realm/filters", trac if not ids else zul), **capable)
    first, second = ids
    await verify(api, HAMLET, change("PATCH", f"realm/filters/{first}", {**trac, "url_template": "https://t/{id}"}),
                 **capable)  # fmt: skip
    await verify(api, HAMLET, change("PATCH", "realm/linkifiers", {"ordered_linkifier_ids": [second, first]}),
                 **capable)  # fmt: skip
    await verify(api, HAMLET, change("DELETE", f"realm/filters/{second}"), **capable)
    # Clients without the capability keep an empty list, and hear nothing.
    await verify(api, HAMLET, change("DELETE", f"realm/filters/{first}"), expect_events=False)


@async_test
async def test_alert_word_changes(api: ApiHarness) -> None:
    def change(method: str, words: list[str], as_user: str = HAMLET) -> Action:
        return lambda: call(api, method, "users/me/alert_words", {"alert_words": words}, as_user=as_user)

    await verify(api, HAMLET, change("POST", ["roses", "Tulips"]))
    await verify(api, HAMLET, change("POST", ["ROSES", " lilies "]))
    await verify(api, HAMLET, change("DELETE", ["tulips", "missing"]))
    # Another user's words are not Hamlet's business.
    await verify(api, HAMLET, change("POST", ["roses"], as_user=CORDELIA), expect_events=False)
    # A message with Hamlet's words: the flag is no state of its own, and the message still applies.
    await create_channel(api, IAGO, "garden", principals=[HAMLET])
    events = await verify(api, HAMLET, lambda: send_stream(api, CORDELIA, "garden", "spring", "lilies"))
    assert "has_alert_word" in events[0]["flags"]


@async_test
async def test_default_channel_changes(api: ApiHarness) -> None:
    async def default_ids(email: str) -> list[int]:
        ids: list[int] = (await register(api, email, fetch_event_types=["default_streams"]))["realm_default_streams"]
        return ids

    def change(method: str, path: str, params: dict[str, Any] | None = None) -> Action:
        return lambda: call(api, method, path, params, as_user=IAGO)

    at_first = await default_ids(HAMLET)
    garden = await create_channel(api, IAGO, "garden")
    await verify(api, HAMLET, change("POST", "default_streams", {"stream_id": garden}))
    # Already a default channel: nothing changes, nothing is told.
    await verify(api, HAMLET, change("POST", "default_streams", {"stream_id": garden}), expect_events=False)
    await verify(api, HAMLET, change("DELETE", "default_streams", {"stream_id": garden}))
    await verify(api, HAMLET, change("PATCH", f"streams/{garden}", {"is_default_stream": True}))
    created = {"subscriptions": [{"name": "orchard"}], "is_default_stream": True}
    await verify(api, HAMLET, change("POST", "users/me/subscriptions", created))
    orchard = await channel_id(api, "orchard")()
    # The state holds the ids alone (feature level 330); guests are told of no default channels.
    assert await default_ids(HAMLET) == sorted([*at_first, garden, orchard])
    assert await default_ids(POLONIUS) == []
    await verify(api, POLONIUS, change("PATCH", f"streams/{garden}", {"is_default_stream": False}), expect_events=False)
    # Archiving a default channel takes it out of the defaults.
    events = await verify(api, HAMLET, change("DELETE", f"streams/{orchard}"))
    assert events[-1] == {"id": events[-1]["id"], "type": "default_streams", "default_streams": sorted(at_first)}
