"""Organization settings: the register state of the realm types, and the realm events, to exactly who may see them."""

from __future__ import annotations

import json
from typing import Any

import yaml
from twisted.internet import defer, reactor, task

from tests.chat_support import (
    DESDEMONA,
    HAMLET,
    IAGO,
    POLONIUS,
    assert_error,
    call,
    execute,
    queued_events,
    register,
    success,
)
from tests.support.api import ApiHarness
from tests.support.async_tests import async_test
from tests.support.openapi import assert_valid, spec_path
from zulipd.actions.messages import MAX_MESSAGE_LENGTH, MAX_TOPIC_LENGTH
from zulipd.actions.realms import do_create_realm, do_set_realm_deactivated
from zulipd.actions.users import do_create_user


async def stranger_queue(api: ApiHarness) -> tuple[dict[str, str], str, str]:
    """A queue of a user of another organization: their headers, host and queue id."""
    other = await do_create_realm(api.server, "elsewhere", "Elsewhere")
    stranger = await do_create_user(
        api.server, other, email="yorick@zulip.com", full_name="Yorick", password="pw-pw-pw"
    )
    headers = {"Authorization": api.basic_auth("yorick@zulip.com", stranger.api_key)}
    host = "elsewhere.127.0.0.1:9991"
    body = success(await api.call("POST", "register", {"event_types": ["realm"]}, headers=headers, host=host))
    return headers, host, body["queue_id"]


async def stranger_events(api: ApiHarness, headers: dict[str, str], host: str, queue_id: str) -> list[Any]:
    query = {"queue_id": queue_id, "last_event_id": -1, "dont_block": True}
    events: list[Any] = success(await api.call("GET", "events", query, headers=headers, host=host))["events"]
    return events


async def patch_realm(api: ApiHarness, as_user: str, **params: Any) -> dict[str, Any]:
    # PATCH /realm is not in the spec; its answers are checked here instead.
    return success(await call(api, "PATCH", "realm", params, as_user=as_user, check_spec=False))


async def system_group_ids(api: ApiHarness) -> dict[str, int]:
    groups = success(await call(api, "GET", "user_groups", as_user=IAGO))["user_groups"]
    return {group["name"]: group["id"] for group in groups if group["is_system_group"]}


def without_ids(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{key: value for key, value in event.items() if key != "id"} for event in events]


@async_test
async def test_setting_changes_reach_every_active_user_of_the_organization(api: ApiHarness) -> None:
    listeners = [DESDEMONA, IAGO, HAMLET, POLONIUS]  # owner, administrator, member, guest
    queues = {email: (await register(api, email, event_types=["realm"]))["queue_id"] for email in listeners}
    headers, host, stranger = await stranger_queue(api)
    await patch_realm(api, IAGO, mandatory_topics=True, allow_message_editing=False, name="Elsinore")
    await patch_realm(api, IAGO, message_content_delete_limit_seconds=json.dumps("unlimited"))
    expected = [
        {"type": "realm", "op": "update", "property": "mandatory_topics", "value": True},
        {"type": "realm", "op": "update_dict", "property": "default", "data": {"allow_message_editing": False}},
        {"type": "realm", "op": "update", "property": "name", "value": "Elsinore"},
        {"type": "realm", "op": "update", "property": "message_content_delete_limit_seconds", "value": None},
    ]
    for email, queue_id in queues.items():
        events = without_ids(await queued_events(api, email, queue_id))
        assert sorted(events, key=json.dumps) == sorted(expected, key=json.dumps), email
    assert await stranger_events(api, headers, host, stranger) == []
    # Nothing changed, nothing said.
    await patch_realm(api, IAGO, mandatory_topics=True)
    assert len(await queued_events(api, HAMLET, queues[HAMLET])) == len(expected)


@async_test
async def test_settings_shown_as_other_settings_say_so(api: ApiHarness) -> None:
    queue_id = (await register(api, HAMLET, event_types=["realm"]))["queue_id"]
    ids = await system_group_ids(api)
    await patch_realm(api, IAGO, bot_creation_policy=2, allow_edit_history=False)
    events = without_ids(await queued_events(api, HAMLET, queue_id))
    bots = {
        "can_create_bots_group": ids["role:administrators"],
        "can_create_write_only_bots_group": ids["role:members"],
    }
    assert {"type": "realm", "op": "update_dict", "property": "default", "data": bots} in events
    history = {"type": "realm", "op": "update", "property": "message_edit_history_visibility_policy", "value": "none"}
    assert history in events
    assert {"type": "realm", "op": "update", "property": "allow_edit_history", "value": False} in events


@async_test
async def test_group_settings_are_for_owners_and_checked(api: ApiHarness) -> None:
    ids = await system_group_ids(api)
    queue_id = (await register(api, POLONIUS, event_types=["realm"]))["queue_id"]

    async def change(as_user: str, setting: dict[str, Any]) -> Any:
        params = {"can_create_groups": json.dumps(setting)}
        return await call(api, "PATCH", "realm", params, as_user=as_user, check_spec=False)

    assert_error(
        await change(IAGO, {"new": ids["role:moderators"]}), "Must be an organization owner", "UNAUTHORIZED_PRINCIPAL"
    )
    assert_error(
        await change(DESDEMONA, {"new": ids["role:everyone"]}),
        "'can_create_groups' setting cannot be set to 'role:everyone' group.",
    )
    assert_error(await change(DESDEMONA, {"new": 999999}), "Invalid user group")
    assert_error(await change(DESDEMONA, {"newest": 1}), 'Argument "newest" at can_create_groups is unexpected')
    assert_error(
        await change(DESDEMONA, {"new": ids["role:moderators"], "old": ids["role:owners"]}),
        "'old' value does not match the expected value.",
        "EXPECTATION_MISMATCH",
    )
    assert await queued_events(api, POLONIUS, queue_id) == []
    success(await change(DESDEMONA, {"new": ids["role:moderators"], "old": ids["role:members"]}))
    events = without_ids(await queued_events(api, POLONIUS, queue_id))
    data = {"can_create_groups": ids["role:moderators"]}
    assert events == [{"type": "realm", "op": "update_dict", "property": "default", "data": data}]
    # The setting is enforced: members may no longer create groups.
    create = {"name": "poets", "description": "", "members": json.dumps([])}
    assert_error(await call(api, "POST", "user_groups/create", create, as_user=HAMLET), "Insufficient permission")


@async_test
async def test_deactivating_the_organization_tells_waiting_clients(api: ApiHarness) -> None:
    assert api.realm is not None
    queue_id = (await register(api, POLONIUS, event_types=["realm"]))["queue_id"]
    waiting = defer.ensureDeferred(
        api.call("GET", "events", {"queue_id": queue_id, "last_event_id": -1}, as_user=POLONIUS)
    )
    await task.deferLater(reactor, 0.2, lambda: None)
    assert not waiting.called
    await do_set_realm_deactivated(api.server, api.realm, True, None)
    response = await waiting
    body = response.json()
    assert_valid("GET", "/events", response.status, body)
    assert without_ids(body["events"]) == [{"type": "realm", "op": "deactivated", "realm_id": api.realm.id}]


def spec_realm_keys() -> set[str]:
    """The register keys the spec documents as present when the realm type is fetched."""
    path = spec_path()
    assert path is not None
    with open(path, encoding="utf-8") as spec_file:
        spec = yaml.safe_load(spec_file)
    schema = spec["paths"]["/register"]["post"]["responses"]["200"]["content"]["application/json"]["schema"]
    keys = set()
    for part in schema["allOf"]:
        for name, prop in part.get("properties", {}).items():
            texts = [prop.get("description", "")] + [sub.get("description", "") for sub in prop.get("allOf", [])]
            if any("Present if `realm` is present" in text for text in texts):
                keys.add(name)
    return keys


@async_test
async def test_the_realm_state_fits_the_spec_and_agrees_with_server_settings(api: ApiHarness) -> None:
    await patch_realm(api, IAGO, name="Elsinore", description="By the sea", waiting_period_threshold=3)
    # register() holds the answer to the spec's register response.
    state = await register(api, HAMLET, fetch_event_types=["realm"], event_types=["realm"])
    missing = spec_realm_keys() - set(state)
    assert not missing, missing
    assert "realm_users" not in state
    assert "max_message_id" not in state
    assert (state["max_message_length"], state["max_topic_length"]) == (MAX_MESSAGE_LENGTH, MAX_TOPIC_LENGTH)
    assert state["password_min_length"] == api.server.config.auth.password_min_length
    assert (state["realm_name"], state["realm_description"]) == ("Elsinore", "By the sea")
    assert state["realm_waiting_period_threshold"] == 3
    assert state["realm_message_content_edit_limit_seconds"] == 600
    ids = await system_group_ids(api)
    assert state["realm_can_create_groups"] == ids["role:members"]
    assert state["realm_can_manage_all_groups"] == ids["role:owners"]
    server = success(await call(api, "GET", "server_settings", as_user=HAMLET))
    assert state["realm_name"] == server["realm_name"]
    assert state["realm_url"] == state["realm_uri"] == server["realm_url"] == server["realm_uri"]
    assert state["realm_icon_url"] == server["realm_icon"]
    assert state["realm_push_notifications_enabled"] == server["push_notifications_enabled"]
    assert state["realm_email_auth_enabled"] == server["email_auth_enabled"]
    assert state["zulip_feature_level"] == server["zulip_feature_level"]
    assert state["zulip_version"] == server["zulip_version"]
    enabled = {name for name, method in state["realm_authentication_methods"].items() if method["enabled"]}
    assert enabled == {"Email"}
    assert server["authentication_methods"]["email"]


@async_test
async def test_custom_emoji_and_linkifier_state(api: ApiHarness) -> None:
    assert api.realm is not None
    iago = api.user(IAGO).id
    for name, deactivated in (("green_tick", False), ("retired", True)):
        await execute(
            api,
            "INSERT INTO realm_emoji (realm_id, name, file_name, author_id, deactivated) VALUES (%s, %s, %s, %s, %s)",
            [api.realm.id, name, f"{name}.png", iago, deactivated],
        )
    state = await register(api, HAMLET, fetch_event_types=["realm_emoji", "realm_linkifiers", "realm_filters"])
    emoji = sorted(state["realm_emoji"].values(), key=lambda entry: entry["name"])
    assert [(entry["name"], entry["deactivated"], entry["author_id"]) for entry in emoji] == [
        ("green_tick", False, iago),
        ("retired", True, iago),
    ]
    for key, entry in state["realm_emoji"].items():
        assert entry["id"] == key
        assert entry["source_url"].endswith(f"/emoji/images/{entry['name']}.png")
    assert (state["realm_linkifiers"], state["realm_filters"]) == ([], [])
