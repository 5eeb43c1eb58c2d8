"""User groups: every endpoint against Zulip's spec, its permission rules, recursive membership and cycles."""

from __future__ import annotations

import dataclasses
import json
import time
from typing import Any

import pytest
from twisted.internet import defer

from tests.support.api import ApiHarness
from tests.support.async_tests import async_test
from tests.support.http import Response
from tests.support.openapi import assert_valid
from zulipd.actions.bots import do_create_bot
from zulipd.actions.groups import (
    CannotDeactivateGroupInUse,
    do_create_user_group,
    do_deactivate_user_group,
    do_update_user_group,
    do_update_user_group_subgroups,
    get_user_group_members,
)
from zulipd.actions.users import do_create_user, do_deactivate_user
from zulipd.errors import JsonableError
from zulipd.models import BotType, Realm, UserProfile
from zulipd.storage.groups import SYSTEM_GROUP_ROLES
from zulipd.storage.pool import Transaction
from zulipd.storage.streams import get_stream_by_name_txn, update_stream_txn

HAMLET = "hamlet@zulip.com"
OTHELLO = "othello@zulip.com"
CORDELIA = "cordelia@zulip.com"
IAGO = "iago@zulip.com"
DESDEMONA = "desdemona@zulip.com"
SHIVA = "shiva@zulip.com"
POLONIUS = "polonius@zulip.com"
PROSPERO = "prospero@zulip.com"

SETTINGS = (
    "can_add_members_group",
    "can_join_group",
    "can_leave_group",
    "can_manage_group",
    "can_mention_group",
    "can_remove_members_group",
)


def realm_of(api: ApiHarness) -> Realm:
    assert api.realm is not None
    return api.realm


def uid(api: ApiHarness, email: str) -> int:
    return api.user(email).id


def check_error(response: Response, msg: str, code: str = "BAD_REQUEST", status: int = 400) -> dict[str, Any]:
    body: dict[str, Any] = response.json()
    assert (response.status, body.get("code"), body.get("msg")) == (status, code, msg), response.body
    assert body["result"] == "error"
    return body


def check_success(response: Response, method: str, path: str) -> dict[str, Any]:
    assert response.status == 200, response.body
    body: dict[str, Any] = response.json()
    assert_valid(method, path, 200, body)
    return body


async def list_groups(
    api: ApiHarness, *, include_deactivated: bool = True, as_user: str = IAGO
) -> list[dict[str, Any]]:
    params = {"include_deactivated_groups": include_deactivated}
    body = check_success(await api.call("GET", "user_groups", params, as_user=as_user), "GET", "user_groups")
    groups: list[dict[str, Any]] = body["user_groups"]
    return groups


async def group_named(api: ApiHarness, name: str) -> dict[str, Any]:
    return next(group for group in await list_groups(api) if group["name"] == name)


async def system_ids(api: ApiHarness) -> dict[str, int]:
    return {group["name"]: group["id"] for group in await list_groups(api) if group["is_system_group"]}


async def create(api: ApiHarness, name: str, members: list[int], *, as_user: str = HAMLET, **extra: Any) -> int:
    params: dict[str, Any] = {"name": name, "description": f"The {name} team", "members": members, **extra}
    response = await api.call("POST", "user_groups/create", params, as_user=as_user)
    body = check_success(response, "POST", "user_groups/create")
    group_id: int = body["group_id"]
    return group_id


async def members_of(api: ApiHarness, group_id: int, *, direct: bool = False) -> list[int]:
    path = f"user_groups/{group_id}/members"
    response = await api.call("GET", path, {"direct_member_only": direct}, as_user=IAGO)
    members: list[int] = check_success(response, "GET", path)["members"]
    return members


async def subgroups_of(api: ApiHarness, group_id: int, *, direct: bool = False) -> list[int]:
    path = f"user_groups/{group_id}/subgroups"
    response = await api.call("GET", path, {"direct_subgroup_only": direct}, as_user=IAGO)
    subgroups: list[int] = check_success(response, "GET", path)["subgroups"]
    return subgroups


async def is_member(api: ApiHarness, group_id: int, user_id: int, *, direct: bool = False) -> bool:
    path = f"user_groups/{group_id}/members/{user_id}"
    response = await api.call("GET", path, {"direct_member_only": direct}, as_user=IAGO)
    result: bool = check_success(response, "GET", path)["is_user_group_member"]
    return result


async def update_members(api: ApiHarness, group_id: int, as_user: str, **params: Any) -> Response:
    return await api.call("POST", f"user_groups/{group_id}/members", params, as_user=as_user)


async def group_audit_rows(api: ApiHarness, group_id: int) -> list[tuple[str, int | None, int | None, dict[str, Any]]]:
    rows = await api.server.pool.fetch_all(
        "group audit rows",
        """SELECT event_type, acting_user_id, modified_user_id, extra_data FROM realm_audit_log
           WHERE extra_data->>'user_group_id' = %s ORDER BY id""",
        (str(group_id),),
    )
    return [(row[0], row[1], row[2], row[3]) for row in rows]


async def generic_bot(api: ApiHarness) -> UserProfile:
    bot, _ = await do_create_bot(
        api.server, realm_of(api), api.user(HAMLET), full_name="Helper", short_name="helper",
        bot_type=BotType.GENERIC, payload_url="", interface=1, service_name="", config={},
    )  # fmt: skip
    return bot


@async_test
async def test_system_groups_have_members_computed_from_roles(api: ApiHarness) -> None:
    groups = {group["name"]: group for group in await list_groups(api)}
    assert set(SYSTEM_GROUP_ROLES) <= set(groups)
    ids = {name: groups[name]["id"] for name in SYSTEM_GROUP_ROLES}
    by_role: dict[int, list[int]] = {}
    for user in api.users.values():
        by_role.setdefault(int(user.role), []).append(user.id)
    assert groups["role:owners"]["members"] == sorted(by_role[100])
    assert groups["role:administrators"]["members"] == sorted(by_role[200])
    assert groups["role:administrators"]["direct_subgroup_ids"] == [ids["role:owners"]]
    assert groups["role:moderators"]["members"] == sorted(by_role[300])
    assert groups["role:fullmembers"]["members"] == sorted(by_role[400])
    assert groups["role:members"]["members"] == sorted(by_role[400])
    assert groups["role:members"]["direct_subgroup_ids"] == [ids["role:fullmembers"]]
    assert groups["role:everyone"]["members"] == sorted(by_role[600])
    assert groups["role:internet"]["members"] == []
    assert groups["role:internet"]["direct_subgroup_ids"] == [ids["role:everyone"]]
    assert groups["role:nobody"]["members"] == []
    assert groups["role:nobody"]["direct_subgroup_ids"] == []
    for name in SYSTEM_GROUP_ROLES:
        group = groups[name]
        assert group["is_system_group"] is True
        assert group["deactivated"] is False
        assert all(group[setting] == ids["role:nobody"] for setting in SETTINGS)
        # Recursive membership agrees with storage's table of roles per system group.
        expected = sorted(user_id for role in SYSTEM_GROUP_ROLES[name] for user_id in by_role.get(role, []))
        assert await members_of(api, group["id"]) == expected, name
    assert await subgroups_of(api, ids["role:moderators"]) == sorted([ids["role:administrators"], ids["role:owners"]])
    assert await subgroups_of(api, ids["role:moderators"], direct=True) == [ids["role:administrators"]]
    assert await is_member(api, ids["role:moderators"], uid(api, DESDEMONA))
    assert not await is_member(api, ids["role:moderators"], uid(api, DESDEMONA), direct=True)
    assert not await is_member(api, ids["role:members"], uid(api, POLONIUS))


@async_test
async def test_waiting_period_decides_full_membership(api: ApiHarness) -> None:
    realm = dataclasses.replace(realm_of(api), settings={"waiting_period_threshold": 3})
    newcomer = await do_create_user(
        api.server, realm_of(api), email="newcomer@zulip.com", full_name="Newcomer", password=None
    )
    ids = await system_ids(api)
    full = await get_user_group_members(
        api.server, realm, api.user(IAGO), ids["role:fullmembers"], direct_member_only=True
    )
    members = await get_user_group_members(
        api.server, realm, api.user(IAGO), ids["role:members"], direct_member_only=True
    )
    assert newcomer.id in members
    assert newcomer.id not in full
    # With Zulip's default threshold of 0 days, everyone is a full member at once.
    assert newcomer.id in await members_of(api, ids["role:fullmembers"], direct=True)


@async_test
async def test_create_a_group_with_zulips_defaults(api: ApiHarness) -> None:
    hamlet, othello = uid(api, HAMLET), uid(api, OTHELLO)
    started = int(time.time())
    group_id = await create(api, "hamletcharacters", [othello, hamlet, othello])
    ids = await system_ids(api)
    group = await group_named(api, "hamletcharacters")
    creator_only = {"direct_members": [hamlet], "direct_subgroups": []}
    assert group == {
        "id": group_id,
        "name": "hamletcharacters",
        "description": "The hamletcharacters team",
        "members": sorted([hamlet, othello]),
        "direct_subgroup_ids": [],
        "creator_id": hamlet,
        "date_created": group["date_created"],
        "is_system_group": False,
        "can_add_members_group": creator_only,
        "can_join_group": ids["role:nobody"],
        "can_leave_group": ids["role:everyone"],
        "can_manage_group": creator_only,
        "can_mention_group": ids["role:everyone"],
        "can_remove_members_group": ids["role:nobody"],
        "deactivated": False,
    }
    assert started - 5 <= group["date_created"] <= time.time() + 5
    rows = await group_audit_rows(api, group_id)
    assert [(event, acting, modified) for event, acting, modified, _ in rows] == [
        ("user_group_created", hamlet, None),
        ("user_group_direct_user_membership_added", hamlet, othello),
        ("user_group_direct_user_membership_added", hamlet, hamlet),
    ]
    assert rows[0][3]["name"] == "hamletcharacters"


@async_test
async def test_create_with_settings_and_subgroups(api: ApiHarness) -> None:
    ids = await system_ids(api)
    hamlet, cordelia = uid(api, HAMLET), uid(api, CORDELIA)
    inner = await create(api, "inner", [cordelia])
    group_id = await create(
        api,
        "outer",
        [hamlet],
        subgroups=[inner, ids["role:moderators"]],
        can_join_group=ids["role:members"],
        can_leave_group={"direct_members": [], "direct_subgroups": []},
        can_manage_group={"direct_members": [], "direct_subgroups": [inner]},
        can_mention_group={"direct_members": [cordelia, hamlet], "direct_subgroups": [ids["role:moderators"]]},
    )
    group = await group_named(api, "outer")
    assert group["direct_subgroup_ids"] == sorted([inner, ids["role:moderators"]])
    assert group["can_join_group"] == ids["role:members"]
    # An empty collection is "role:nobody"; a collection of exactly one group is that group.
    assert group["can_leave_group"] == ids["role:nobody"]
    assert group["can_manage_group"] == inner
    assert group["can_mention_group"] == {
        "direct_members": sorted([cordelia, hamlet]),
        "direct_subgroups": [ids["role:moderators"]],
    }
    assert await members_of(api, group_id) == sorted(
        [hamlet, cordelia, *[uid(api, e) for e in (SHIVA, IAGO, DESDEMONA)]]
    )
    events = [event for event, *_ in await group_audit_rows(api, group_id)]
    assert events.count("user_group_direct_subgroup_membership_added") == 1
    assert "user_group_direct_supergroup_membership_added" in [
        event for event, *_ in await group_audit_rows(api, inner)
    ]


@async_test
async def test_who_may_create_groups(api: ApiHarness) -> None:
    response = await api.call(
        "POST", "user_groups/create", {"name": "spies", "description": "", "members": []}, as_user=POLONIUS
    )
    check_error(response, "Not allowed for guest users")
    bot = await generic_bot(api)
    response = await api.call(
        "POST",
        "user_groups/create",
        {"name": "robots", "description": "", "members": []},
        headers={"Authorization": api.basic_auth(bot.email, bot.api_key)},
    )
    check_error(response, "This endpoint does not accept bot requests.")
    for email in (HAMLET, SHIVA, IAGO, DESDEMONA):
        await create(api, f"made by {email}", [], as_user=email)
    # An organization that lets only administrators create groups (can_create_groups).
    ids = await system_ids(api)
    strict = dataclasses.replace(realm_of(api), settings={"can_create_groups": ids["role:administrators"]})
    with pytest.raises(JsonableError, match=r"^Insufficient permission$"):
        await do_create_user_group(api.server, strict, api.user(HAMLET), name="nope", description="", members=[])
    created = await do_create_user_group(api.server, strict, api.user(IAGO), name="yes", description="", members=[])
    assert created.creator_id == uid(api, IAGO)


@async_test
async def test_create_refuses_bad_input(api: ApiHarness) -> None:
    ids = await system_ids(api)
    hamlet = uid(api, HAMLET)
    await create(api, "support", [hamlet])
    retired = await do_create_user(api.server, realm_of(api), email="retired@zulip.com", full_name="R", password=None)
    await do_deactivate_user(api.server, retired, None)
    deactivated = await create(api, "old team", [])
    check_success(await api.call("POST", f"user_groups/{deactivated}/deactivate", as_user=HAMLET),
                  "POST", f"user_groups/{deactivated}/deactivate")  # fmt: skip

    async def refused(msg: str, code: str = "BAD_REQUEST", **params: Any) -> None:
        sent: dict[str, Any] = {"name": "newgroup", "description": "d", "members": [hamlet], **params}
        response = await api.call("POST", "user_groups/create", sent, as_user=HAMLET)
        body = check_error(response, msg, code)
        if set(body) == {"result", "msg", "code"}:
            assert_valid("POST", "user_groups/create", 400, body)

    await refused("Invalid user ID: 99999", members=[hamlet, 99999])
    await refused(f"Invalid user ID: {retired.id}", members=[retired.id])
    await refused("User group 'support' already exists.", name="support")
    await refused("User group 'SUPPORT' already exists.", name="SUPPORT")
    await refused("User group name can't be empty!", name="  ")
    await refused("User group name cannot exceed 100 characters.", name="x" * 101)
    for prefix in ("@", "role:", "user:", "stream:", "channel:"):
        await refused(f"User group name cannot start with '{prefix}'.", name=f"{prefix}team")
    await refused("Invalid user group ID: 99999", subgroups=[99999])
    await refused("User group is deactivated.", subgroups=[deactivated])
    await refused("Invalid user group", can_mention_group=99999)
    await refused("User group is deactivated.", can_mention_group=deactivated)
    await refused("'can_mention_group' setting cannot be set to 'role:internet' group.",
                  can_mention_group=ids["role:internet"])  # fmt: skip
    await refused("'can_mention_group' setting cannot be set to 'role:owners' group.",
                  can_mention_group=ids["role:owners"])  # fmt: skip
    await refused("'can_manage_group' setting cannot be set to 'role:everyone' group.",
                  can_manage_group=ids["role:everyone"])  # fmt: skip
    await refused("Invalid user ID: 99999", can_manage_group={"direct_members": [99999], "direct_subgroups": []})
    await refused(
        "Invalid user group ID: 99999",
        can_manage_group={"direct_members": [], "direct_subgroups": [ids["role:members"], 99999]},
    )
    await refused('can_manage_group["direct_subgroups"] field is missing', can_manage_group={"direct_members": []})
    await refused('Argument "everyone" at can_manage_group is unexpected',
                  can_manage_group={"direct_members": [], "direct_subgroups": [], "everyone": True})  # fmt: skip
    await refused("can_manage_group is not an integer", can_manage_group=True)
    await refused("members is not a list", members={"a": 1})
    response = await api.call("POST", "user_groups/create", {"name": "x", "members": []}, as_user=HAMLET)
    check_error(response, "Missing 'description' argument", "REQUEST_VARIABLE_MISSING")
    # Nothing was created by any refused request.
    assert "newgroup" not in [group["name"] for group in await list_groups(api)]


@async_test
async def test_get_user_groups_is_for_members_only_and_hides_deactivated_groups(api: ApiHarness) -> None:
    check_error(await api.call("GET", "user_groups", as_user=POLONIUS), "Not allowed for guest users")
    group_id = await create(api, "temporary", [])
    check_success(await api.call("POST", f"user_groups/{group_id}/deactivate", as_user=HAMLET),
                  "POST", f"user_groups/{group_id}/deactivate")  # fmt: skip
    visible = await list_groups(api, include_deactivated=False, as_user=HAMLET)
    assert group_id not in [group["id"] for group in visible]
    body = check_success(await api.call("GET", "user_groups", as_user=HAMLET), "GET", "user_groups")
    assert body["user_groups"] == visible
    everything = await list_groups(api, as_user=HAMLET)
    assert next(group for group in everything if group["id"] == group_id)["deactivated"] is True


@async_test
async def test_update_name_description_and_permissions(api: ApiHarness) -> None:
    ids = await system_ids(api)
    group_id = await create(api, "support", [uid(api, HAMLET), uid(api, OTHELLO)])
    await create(api, "marketing", [])
    path = f"user_groups/{group_id}"

    async def patch(as_user: str, **params: Any) -> Response:
        return await api.call("PATCH", path, params, as_user=as_user)

    check_success(await patch(HAMLET, name="helpdesk", description="Answers questions"), "PATCH", path)
    group = await group_named(api, "helpdesk")
    assert group["description"] == "Answers questions"
    # A member who may not manage the group, an administrator who is not an owner, a guest.
    check_error(await patch(OTHELLO, description="mine now"), "Insufficient permission")
    check_error(await patch(IAGO, description="mine now"), "Insufficient permission")
    check_error(await patch(POLONIUS, description="mine now"), "Not allowed for guest users")
    # Owners may manage every group (can_manage_all_groups).
    check_success(await patch(DESDEMONA, description="by the owner"), "PATCH", path)
    body = check_error(await patch(HAMLET), "No new data supplied")
    assert_valid("PATCH", path, 400, body)
    check_error(await patch(HAMLET, name="marketing"), "User group 'marketing' already exists.")
    check_error(await patch(HAMLET, name="role:x"), "User group name cannot start with 'role:'.")
    body = check_error(
        await api.call("PATCH", "user_groups/99999", {"name": "n"}, as_user=HAMLET), "Invalid user group"
    )
    assert_valid("PATCH", "user_groups/99999", 400, body)
    check_error(await api.call("PATCH", f"user_groups/{ids['role:members']}", {"name": "n"}, as_user=DESDEMONA),
                "Insufficient permission")  # fmt: skip
    # Renaming to a different capitalization of its own name is allowed.
    check_success(await patch(HAMLET, name="HelpDesk"), "PATCH", path)
    # Handing management to othello through can_manage_group lets him in.
    change = {"new": {"direct_members": [uid(api, OTHELLO)], "direct_subgroups": []}}
    check_success(await patch(HAMLET, can_manage_group=change), "PATCH", path)
    check_success(await patch(OTHELLO, description="mine now"), "PATCH", path)
    check_error(await patch(HAMLET, description="and back"), "Insufficient permission")
    events = [event for event, *_ in await group_audit_rows(api, group_id)]
    assert events.count("user_group_name_changed") == 2
    assert events.count("user_group_description_changed") == 3
    assert events.count("user_group_group_based_setting_changed") == 1


@async_test
async def test_update_settings_with_expected_old_values(api: ApiHarness) -> None:
    ids = await system_ids(api)
    hamlet, othello = uid(api, HAMLET), uid(api, OTHELLO)
    group_id = await create(api, "support", [hamlet])
    marketing = await create(api, "marketing", [hamlet])
    path = f"user_groups/{group_id}"

    async def change_mention(new: Any, old: Any = None) -> Response:
        value = {"new": new} if old is None else {"new": new, "old": old}
        return await api.call("PATCH", path, {"can_mention_group": value}, as_user=HAMLET)

    mismatch = "'old' value does not match the expected value."
    check_error(await change_mention(marketing, ids["role:moderators"]), mismatch, "EXPECTATION_MISMATCH")
    check_error(await change_mention(marketing, {"direct_members": [othello], "direct_subgroups": []}), mismatch,
                "EXPECTATION_MISMATCH")  # fmt: skip
    check_success(await change_mention(marketing, ids["role:everyone"]), "PATCH", path)
    assert (await group_named(api, "support"))["can_mention_group"] == marketing
    anonymous = {"direct_members": [othello], "direct_subgroups": [ids["role:moderators"]]}
    # An "old" that names one group as a collection means that group.
    check_success(
        await change_mention(anonymous, {"direct_members": [], "direct_subgroups": [marketing]}), "PATCH", path
    )
    assert (await group_named(api, "support"))["can_mention_group"] == anonymous
    reordered = {"direct_members": [othello], "direct_subgroups": [ids["role:moderators"]]}
    check_success(await change_mention({"direct_members": [hamlet], "direct_subgroups": []}, reordered), "PATCH", path)
    # Setting the current value again changes nothing and writes no audit row.
    rows_before = len(await group_audit_rows(api, group_id))
    check_success(await change_mention({"direct_members": [hamlet], "direct_subgroups": []}), "PATCH", path)
    assert len(await group_audit_rows(api, group_id)) == rows_before
    check_error(await change_mention(123456), "Invalid user group")
    check_error(
        await change_mention(ids["role:owners"]), "'can_mention_group' setting cannot be set to 'role:owners' group."
    )
    response = await api.call("PATCH", path, {"can_join_group": {"old": 1}}, as_user=HAMLET)
    check_error(response, 'can_join_group["new"] field is missing')
    response = await api.call("PATCH", path, {"can_join_group": {"new": 1, "older": 2}}, as_user=HAMLET)
    check_error(response, 'Argument "older" at can_join_group is unexpected')
    response = await api.call("PATCH", path, {"can_join_group": {"new": "everyone"}}, as_user=HAMLET)
    check_error(response, 'can_join_group["new"] is not an integer')
    check_error(await api.call("PATCH", path, {"can_join_group": {"new": ids["role:everyone"]}}, as_user=HAMLET),
                "'can_join_group' setting cannot be set to 'role:everyone' group.")  # fmt: skip
    rows = [row for row in await group_audit_rows(api, group_id) if row[0] == "user_group_group_based_setting_changed"]
    assert rows[0][3] == {
        "user_group_id": group_id,
        "property": "can_mention_group",
        "old_value": ids["role:everyone"],
        "new_value": marketing,
    }


@async_test
async def test_member_changes_follow_group_permissions(api: ApiHarness) -> None:
    ids = await system_ids(api)
    hamlet, othello, cordelia, prospero = (uid(api, e) for e in (HAMLET, OTHELLO, CORDELIA, PROSPERO))
    group_id = await create(api, "support", [hamlet, cordelia])
    path = f"user_groups/{group_id}/members"
    check_success(await update_members(api, group_id, HAMLET, add=[othello]), "POST", path)
    assert await members_of(api, group_id) == sorted([hamlet, othello, cordelia])
    # A member who is neither manager nor in can_add_members_group / can_remove_members_group.
    check_error(await update_members(api, group_id, OTHELLO, add=[prospero]), "Insufficient permission")
    check_error(await update_members(api, group_id, OTHELLO, delete=[cordelia]), "Insufficient permission")
    # Joining yourself needs can_join_group (role:nobody by default), or can_add_members_group.
    check_error(await update_members(api, group_id, PROSPERO, add=[prospero]), "Insufficient permission")
    check_success(await api.call("PATCH", f"user_groups/{group_id}",
                                 {"can_join_group": {"new": ids["role:members"]}}, as_user=HAMLET),
                  "PATCH", f"user_groups/{group_id}")  # fmt: skip
    check_success(await update_members(api, group_id, PROSPERO, add=[prospero]), "POST", path)
    # Leaving yourself needs can_leave_group (role:everyone by default).
    check_success(await update_members(api, group_id, CORDELIA, delete=[cordelia]), "POST", path)
    check_error(await update_members(api, group_id, POLONIUS, add=[uid(api, POLONIUS)]), "Not allowed for guest users")
    # can_add_members_group given to othello lets him add others, but not remove them.
    check_success(await api.call("PATCH", f"user_groups/{group_id}",
                                 {"can_add_members_group": {"new": {"direct_members": [othello],
                                                                    "direct_subgroups": []}}}, as_user=HAMLET),
                  "PATCH", f"user_groups/{group_id}")  # fmt: skip
    check_success(await update_members(api, group_id, OTHELLO, add=[cordelia]), "POST", path)
    check_error(await update_members(api, group_id, OTHELLO, delete=[cordelia]), "Insufficient permission")
    assert await members_of(api, group_id) == sorted([hamlet, othello, cordelia, prospero])
    # Owners manage every group.
    check_success(await update_members(api, group_id, DESDEMONA, delete=[prospero]), "POST", path)
    rows = await group_audit_rows(api, group_id)
    assert ("user_group_direct_user_membership_removed", uid(api, DESDEMONA), prospero) in [r[:3] for r in rows]


@async_test
async def test_member_changes_refuse_bad_input_and_apply_all_or_nothing(api: ApiHarness) -> None:
    hamlet, othello, cordelia = uid(api, HAMLET), uid(api, OTHELLO), uid(api, CORDELIA)
    group_id = await create(api, "support", [hamlet])
    other = await create(api, "other", [])
    check_error(
        await update_members(api, group_id, HAMLET),
        'Nothing to do. Specify at least one of "add", "delete", "add_subgroups" or "delete_subgroups".',
    )
    check_error(
        await update_members(api, group_id, HAMLET, add=[hamlet]), f"User {hamlet} is already a member of this group"
    )
    check_error(await update_members(api, group_id, HAMLET, add=[99999]), "Invalid user ID: 99999")
    check_error(await update_members(api, group_id, HAMLET, delete=[othello]),
                f"There is no member '{othello}' in this user group")  # fmt: skip
    check_error(await update_members(api, 99999, HAMLET, add=[othello]), "Invalid user group")
    check_error(await update_members(api, group_id, HAMLET, add=["x"]), "add[0] is not an integer")
    # The addition is valid, the removal is not: neither happens.
    response = await update_members(api, group_id, HAMLET, add=[othello, cordelia], delete=[99999])
    check_error(response, "Invalid user ID: 99999")
    response = await update_members(api, group_id, HAMLET, add=[othello], delete_subgroups=[other])
    check_error(response, f"User group {other} is not a subgroup of this group.")
    assert await members_of(api, group_id) == [hamlet]
    assert await subgroups_of(api, group_id) == []
    # All four at once.
    check_success(await update_members(api, group_id, HAMLET, add=[othello], add_subgroups=[other]),
                  "POST", f"user_groups/{group_id}/members")  # fmt: skip
    check_success(await update_members(api, group_id, HAMLET, delete=[othello], delete_subgroups=[other]),
                  "POST", f"user_groups/{group_id}/members")  # fmt: skip
    assert await members_of(api, group_id) == [hamlet]
    assert await subgroups_of(api, group_id) == []


@async_test
async def test_recursive_membership_through_subgroups(api: ApiHarness) -> None:
    ids = await system_ids(api)
    hamlet, othello, cordelia, prospero = (uid(api, e) for e in (HAMLET, OTHELLO, CORDELIA, PROSPERO))
    leaves = await create(api, "leaves", [prospero])
    branch = await create(api, "branch", [cordelia], subgroups=[leaves])
    root = await create(api, "root", [hamlet])
    path = f"user_groups/{root}/subgroups"
    check_success(await api.call("POST", path, {"add": [branch]}, as_user=HAMLET), "POST", path)
    check_success(await update_members(api, leaves, HAMLET, add=[othello]), "POST", f"user_groups/{leaves}/members")
    assert await members_of(api, root) == sorted([hamlet, othello, cordelia, prospero])
    assert await members_of(api, root, direct=True) == [hamlet]
    assert await subgroups_of(api, root) == sorted([branch, leaves])
    assert await subgroups_of(api, root, direct=True) == [branch]
    assert await is_member(api, root, prospero)
    assert not await is_member(api, root, prospero, direct=True)
    assert not await is_member(api, leaves, hamlet)
    # A system group as a subgroup brings its role-based members.
    check_success(await api.call("POST", f"user_groups/{leaves}/subgroups", {"add": [ids["role:moderators"]]},
                                 as_user=HAMLET), "POST", f"user_groups/{leaves}/subgroups")  # fmt: skip
    moderators_and_up = [uid(api, e) for e in (SHIVA, IAGO, DESDEMONA)]
    assert await members_of(api, root) == sorted([hamlet, othello, cordelia, prospero, *moderators_and_up])
    assert await subgroups_of(api, root) == sorted(
        [branch, leaves, ids["role:moderators"], ids["role:administrators"], ids["role:owners"]]
    )
    assert await is_member(api, root, uid(api, DESDEMONA))
    # Deactivated users are no one's members.
    await do_deactivate_user(api.server, api.user(PROSPERO), None)
    assert prospero not in await members_of(api, root)
    assert prospero not in (await group_named(api, "leaves"))["members"]
    check_error(await api.call("GET", f"user_groups/{root}/members/{prospero}", as_user=IAGO), "User is deactivated")
    check_error(await api.call("GET", f"user_groups/{root}/members/99999", as_user=IAGO), "No such user")
    bot = await generic_bot(api)
    check_error(await api.call("GET", f"user_groups/{root}/members/{bot.id}", as_user=IAGO), "No such user")
    check_error(await api.call("GET", "user_groups/99999/members", as_user=IAGO), "Invalid user group")
    check_error(await api.call("GET", f"user_groups/{root}/subgroups", as_user=POLONIUS), "Not allowed for guest users")


@async_test
async def test_subgroup_cycles_are_refused(api: ApiHarness) -> None:
    first = await create(api, "first", [])
    second = await create(api, "second", [], subgroups=[first])
    third = await create(api, "third", [], subgroups=[second])

    async def add_subgroups(group_id: int, subgroup_ids: list[int]) -> Response:
        return await api.call("POST", f"user_groups/{group_id}/subgroups", {"add": subgroup_ids}, as_user=HAMLET)

    cycle = "User group {} is already a subgroup of one of the passed subgroups."
    check_error(await add_subgroups(first, [third]), cycle.format(first))
    check_error(await add_subgroups(first, [second]), cycle.format(first))
    check_error(await add_subgroups(first, [first]), cycle.format(first))
    check_error(await update_members(api, second, HAMLET, add_subgroups=[third]), cycle.format(second))
    check_error(await add_subgroups(third, [second]), f"User group {second} is already a subgroup of this group.")
    check_error(await add_subgroups(third, [99999]), "Invalid user group ID: 99999")
    check_error(await api.call("POST", f"user_groups/{third}/subgroups", as_user=HAMLET),
                'Nothing to do. Specify at least one of "add" or "delete".')  # fmt: skip
    check_error(await api.call("POST", f"user_groups/{third}/subgroups", {"delete": [first]}, as_user=HAMLET),
                f"User group {first} is not a subgroup of this group.")  # fmt: skip
    assert await subgroups_of(api, third) == sorted([first, second])
    # Two requests that would together close a cycle: the per-organization lock lets one through.
    one = await create(api, "one", [])
    two = await create(api, "two", [])
    responses = await defer.gatherResults(
        [
            defer.Deferred.fromCoroutine(add_subgroups(one, [two])),
            defer.Deferred.fromCoroutine(add_subgroups(two, [one])),
        ]
    )
    assert sorted(response.status for response in responses) == [200, 400]
    refused = next(response for response in responses if response.status == 400)
    assert "is already a subgroup of one of the passed subgroups." in refused.json()["msg"]
    # Removing an edge makes room for the reverse one.
    path = f"user_groups/{second}/subgroups"
    check_success(await api.call("POST", path, {"delete": [first]}, as_user=HAMLET), "POST", path)
    check_success(await add_subgroups(first, [second]), "POST", f"user_groups/{first}/subgroups")
    assert await subgroups_of(api, third) == [second]
    assert await subgroups_of(api, first) == [second]


@async_test
async def test_a_deep_chain_of_subgroups_is_walked_without_recursion(api: ApiHarness) -> None:
    realm, hamlet = realm_of(api), api.user(HAMLET)
    members = [uid(api, e) for e in (HAMLET, OTHELLO, CORDELIA, PROSPERO)]
    previous: list[int] = []
    for depth in range(150):
        group = await do_create_user_group(
            api.server, realm, hamlet, name=f"level {depth}", description="", members=[members[depth % 4]],
            subgroups=previous,
        )  # fmt: skip
        previous = [group.id]
    top = previous[0]
    assert await members_of(api, top) == sorted(members)
    assert len(await subgroups_of(api, top)) == 149
    bottom = (await group_named(api, "level 0"))["id"]
    with pytest.raises(JsonableError, match=f"^User group {bottom} is already a subgroup of one of the passed"):
        await do_update_user_group_subgroups(api.server, realm, hamlet, bottom, add=[top])


@async_test
async def test_system_groups_cannot_be_changed(api: ApiHarness) -> None:
    ids = await system_ids(api)
    team = await create(api, "team", [])
    for name in ("role:members", "role:owners", "role:nobody"):
        group_id = ids[name]
        for response in (
            await api.call("PATCH", f"user_groups/{group_id}", {"description": "x"}, as_user=DESDEMONA),
            await update_members(api, group_id, DESDEMONA, add=[uid(api, HAMLET)]),
            await update_members(api, group_id, DESDEMONA, delete=[uid(api, HAMLET)]),
            await api.call("POST", f"user_groups/{group_id}/subgroups", {"add": [team]}, as_user=DESDEMONA),
            await api.call("POST", f"user_groups/{group_id}/deactivate", as_user=DESDEMONA),
        ):
            check_error(response, "Insufficient permission")
    groups = {group["name"]: group for group in await list_groups(api)}
    assert groups["role:members"]["direct_subgroup_ids"] == [ids["role:fullmembers"]]
    assert groups["role:members"]["description"] != "x"


@async_test
async def test_deactivation(api: ApiHarness) -> None:
    ids = await system_ids(api)
    hamlet = uid(api, HAMLET)
    group_id = await create(api, "support", [hamlet])
    path = f"user_groups/{group_id}/deactivate"
    check_error(await api.call("POST", path, as_user=OTHELLO), "Insufficient permission")
    check_error(await api.call("POST", path, as_user=POLONIUS), "Insufficient permission")
    check_error(await api.call("POST", "user_groups/99999/deactivate", as_user=HAMLET), "Invalid user group")
    check_success(await api.call("POST", path, as_user=HAMLET), "POST", path)
    check_error(await api.call("POST", path, as_user=HAMLET), "User group is deactivated.")
    # A deactivated group cannot be read, used as a subgroup, or used in a setting...
    check_error(await api.call("GET", f"user_groups/{group_id}/members", as_user=IAGO), "User group is deactivated.")
    check_error(await api.call("GET", f"user_groups/{group_id}/subgroups", as_user=IAGO), "User group is deactivated.")
    check_error(await api.call("GET", f"user_groups/{group_id}/members/{hamlet}", as_user=IAGO),
                "User group is deactivated.")  # fmt: skip
    other = await create(api, "other", [])
    check_error(await api.call("POST", f"user_groups/{other}/subgroups", {"add": [group_id]}, as_user=HAMLET),
                "User group is deactivated.")  # fmt: skip
    mention = {"can_mention_group": {"new": group_id}}
    check_error(await api.call("PATCH", f"user_groups/{other}", mention, as_user=HAMLET), "User group is deactivated.")
    # ...but its name, settings and members can still be changed.
    check_success(await api.call("PATCH", f"user_groups/{group_id}", {"name": "old support"}, as_user=HAMLET),
                  "PATCH", f"user_groups/{group_id}")  # fmt: skip
    check_success(await update_members(api, group_id, HAMLET, add=[uid(api, OTHELLO)]),
                  "POST", f"user_groups/{group_id}/members")  # fmt: skip
    check_success(await api.call("PATCH", f"user_groups/{group_id}",
                                 {"can_mention_group": {"new": ids["role:members"]}}, as_user=HAMLET),
                  "PATCH", f"user_groups/{group_id}")  # fmt: skip
    events = [event for event, *_ in await group_audit_rows(api, group_id)]
    assert events.count("user_group_deactivated") == 1


@async_test
async def test_groups_in_use_cannot_be_deactivated(api: ApiHarness) -> None:
    leaf = await create(api, "leaf", [])
    parent = await create(api, "parent", [], subgroups=[leaf])
    path = f"user_groups/{leaf}/deactivate"
    body = check_error(await api.call("POST", path, as_user=HAMLET), "Cannot deactivate user group in use.",
                       "CANNOT_DEACTIVATE_GROUP_IN_USE")  # fmt: skip
    assert body["objections"] == [{"type": "subgroup", "supergroup_ids": [parent]}]
    # An inactive supergroup does not object.
    check_success(await api.call("POST", f"user_groups/{parent}/deactivate", as_user=HAMLET),
                  "POST", f"user_groups/{parent}/deactivate")  # fmt: skip
    user = await create(api, "user", [])
    mention = {"new": {"direct_members": [uid(api, HAMLET)], "direct_subgroups": [leaf]}}
    check_success(await api.call("PATCH", f"user_groups/{user}", {"can_mention_group": mention}, as_user=HAMLET),
                  "PATCH", f"user_groups/{user}")  # fmt: skip
    check_success(await api.call("PATCH", f"user_groups/{user}", {"can_leave_group": {"new": leaf}}, as_user=HAMLET),
                  "PATCH", f"user_groups/{user}")  # fmt: skip
    response = await api.call("POST", "users/me/subscriptions", {"subscriptions": [{"name": "Denmark"}]}, as_user=IAGO)
    assert response.status == 200, response.body

    async def use_in_channel(txn: Transaction) -> int:
        stream = await get_stream_by_name_txn(txn, realm_of(api).id, "Denmark")
        assert stream is not None
        await update_stream_txn(txn, stream, settings={"can_remove_subscribers_group": leaf})
        return stream.id

    stream_id = await api.server.pool.run_interaction("use group", use_in_channel)
    body = check_error(await api.call("POST", path, as_user=HAMLET), "Cannot deactivate user group in use.",
                       "CANNOT_DEACTIVATE_GROUP_IN_USE")  # fmt: skip
    assert body["objections"] == [
        {"type": "channel", "channel_id": stream_id, "settings": ["can_remove_subscribers_group"]},
        {"type": "user_group", "group_id": user, "settings": ["can_leave_group", "can_mention_group"]},
    ]
    realm = dataclasses.replace(realm_of(api), settings={"can_create_groups": {"direct_members": [],
                                                                             "direct_subgroups": [leaf]}})  # fmt: skip
    with pytest.raises(CannotDeactivateGroupInUse) as refused:
        await do_deactivate_user_group(api.server, realm, api.user(HAMLET), leaf)
    assert refused.value.data["objections"][-1] == {"type": "realm", "settings": ["can_create_groups"]}


@async_test
async def test_realm_can_manage_all_groups_widens_who_may_manage(api: ApiHarness) -> None:
    ids = await system_ids(api)
    group_id = await create(api, "support", [])
    moderators = dataclasses.replace(realm_of(api), settings={"can_manage_all_groups": ids["role:moderators"]})
    await do_update_user_group(api.server, moderators, api.user(SHIVA), group_id, description="by a moderator")
    with pytest.raises(JsonableError, match=r"^Insufficient permission$"):
        await do_update_user_group(api.server, realm_of(api), api.user(SHIVA), group_id, description="again")
    assert (await group_named(api, "support"))["description"] == "by a moderator"


@async_test
async def test_anonymous_settings_list_active_users_only(api: ApiHarness) -> None:
    temporary = await do_create_user(api.server, realm_of(api), email="temp@zulip.com", full_name="T", password=None)
    value = {"direct_members": [uid(api, HAMLET), temporary.id], "direct_subgroups": []}
    await create(api, "support", [temporary.id], can_mention_group=value)
    await do_deactivate_user(api.server, temporary, None)
    group = await group_named(api, "support")
    assert group["members"] == []
    assert group["can_mention_group"] == {"direct_members": [uid(api, HAMLET)], "direct_subgroups": []}


@async_test
async def test_routes_answer_405_and_ignore_unknown_parameters(api: ApiHarness) -> None:
    response = await api.call("POST", "user_groups", as_user=HAMLET)
    assert response.status == 405
    assert response.json()["allowed_methods"] == ["GET", "HEAD"]
    # The official client's remove_user_group: no such route in Zulip 10.2.
    group_id = await create(api, "support", [])
    response = await api.call("DELETE", f"user_groups/{group_id}", as_user=HAMLET)
    assert response.status == 405
    response = await api.call("GET", "user_groups", {"allow_deactivated": json.dumps(True)}, as_user=HAMLET)
    body = check_success(response, "GET", "user_groups")
    assert body["ignored_parameters_unsupported"] == ["allow_deactivated"]
