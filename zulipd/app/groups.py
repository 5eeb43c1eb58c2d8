"""User groups: /user_groups, /user_groups/create, /user_groups/{id}, and their members and subgroups."""

from __future__ import annotations

from typing import Any

from zulipd.actions import groups as actions
from zulipd.actions.group_dicts import user_group_payload
from zulipd.actions.groups import AnonymousGroup, SettingChange, SettingValue, UserGroupDetails
from zulipd.app.api import ApiRequest, Payload
from zulipd.app.params import Json, check_value
from zulipd.app.routes import api
from zulipd.errors import JsonableError

# A group-setting value as a request sends it: a group's id, or {"direct_members": [...], "direct_subgroups": [...]}.
SettingParam = Json[int | dict[str, Any]] | None
# A change of one: {"new": value, "old": value}, "old" optional.
SettingChangeParam = Json[dict[str, Any]] | None

_ANONYMOUS_FIELDS = ("direct_members", "direct_subgroups")


def _check_fields(var_name: str, value: dict[str, Any], allowed: tuple[str, ...], required: tuple[str, ...]) -> None:
    for key in value:
        if key not in allowed:
            raise JsonableError(f'Argument "{key}" at {var_name} is unexpected')
    for key in required:
        if key not in value:
            raise JsonableError(f'{var_name}["{key}"] field is missing')


def parse_setting_value(var_name: str, raw: Any) -> SettingValue:
    value = check_value(var_name, raw, int | dict[str, Any])
    if isinstance(value, int):
        return value
    _check_fields(var_name, value, _ANONYMOUS_FIELDS, _ANONYMOUS_FIELDS)
    members = check_value(f'{var_name}["direct_members"]', value["direct_members"], list[int])
    subgroups = check_value(f'{var_name}["direct_subgroups"]', value["direct_subgroups"], list[int])
    return AnonymousGroup(tuple(members), tuple(subgroups))


def parse_setting_change(var_name: str, raw: dict[str, Any]) -> SettingChange:
    _check_fields(var_name, raw, ("new", "old"), ("new",))
    new = parse_setting_value(f'{var_name}["new"]', raw["new"])
    old = parse_setting_value(f'{var_name}["old"]', raw["old"]) if "old" in raw else None
    return SettingChange(new, old)


def group_payload(details: UserGroupDetails) -> Payload:
    return user_group_payload(details)


async def realm_user_groups_state(ctx: ApiRequest, *, include_deactivated: bool) -> list[Payload]:
    """The register state: every user of the organization gets it, guests and bots too (as in Zulip)."""
    groups = await actions.realm_user_groups(ctx.server, ctx.requester_realm, include_deactivated=include_deactivated)
    return [group_payload(details) for details in groups]


@api.get("user_groups")
async def get_user_groups(ctx: ApiRequest, *, include_deactivated_groups: Json[bool] = False) -> Payload:
    groups = await actions.list_user_groups(
        ctx.server, ctx.requester_realm, ctx.requester, include_deactivated=include_deactivated_groups
    )
    return {"user_groups": [group_payload(details) for details in groups]}


@api.post("user_groups/create")
async def create_user_group(
    ctx: ApiRequest,
    *,
    name: str,
    description: str,
    members: Json[list[int]],
    subgroups: Json[list[int]] | None = None,
    can_add_members_group: SettingParam = None,
    can_join_group: SettingParam = None,
    can_leave_group: SettingParam = None,
    can_manage_group: SettingParam = None,
    can_mention_group: SettingParam = None,
    can_remove_members_group: SettingParam = None,
) -> Payload:
    sent = {
        "can_add_members_group": can_add_members_group,
        "can_join_group": can_join_group,
        "can_leave_group": can_leave_group,
        "can_manage_group": can_manage_group,
        "can_mention_group": can_mention_group,
        "can_remove_members_group": can_remove_members_group,
    }
    settings = {key: parse_setting_value(key, value) for key, value in sent.items() if value is not None}
    group = await actions.do_create_user_group(
        ctx.server,
        ctx.requester_realm,
        ctx.requester,
        name=name,
        description=description,
        members=members,
        subgroups=subgroups or [],
        settings=settings,
    )
    return {"group_id": group.id}


@api.patch("user_groups/{user_group_id}")
async def update_user_group(
    ctx: ApiRequest,
    *,
    user_group_id: int,
    name: str | None = None,
    description: str | None = None,
    can_add_members_group: SettingChangeParam = None,
    can_join_group: SettingChangeParam = None,
    can_leave_group: SettingChangeParam = None,
    can_manage_group: SettingChangeParam = None,
    can_mention_group: SettingChangeParam = None,
    can_remove_members_group: SettingChangeParam = None,
) -> Payload:
    sent = {
        "can_add_members_group": can_add_members_group,
        "can_join_group": can_join_group,
        "can_leave_group": can_leave_group,
        "can_manage_group": can_manage_group,
        "can_mention_group": can_mention_group,
        "can_remove_members_group": can_remove_members_group,
    }
    changes = {key: parse_setting_change(key, value) for key, value in sent.items() if value is not None}
    await actions.do_update_user_group(
        ctx.server,
        ctx.requester_realm,
        ctx.requester,
        user_group_id,
        name=name,
        description=description,
        setting_changes=changes,
    )
    return {}


@api.post("user_groups/{user_group_id}/members")
async def update_user_group_members(
    ctx: ApiRequest,
    *,
    user_group_id: int,
    add: Json[list[int]] | None = None,
    delete: Json[list[int]] | None = None,
    add_subgroups: Json[list[int]] | None = None,
    delete_subgroups: Json[list[int]] | None = None,
) -> Payload:
    await actions.do_update_user_group_members(
        ctx.server,
        ctx.requester_realm,
        ctx.requester,
        user_group_id,
        add=add or [],
        delete=delete or [],
        add_subgroups=add_subgroups or [],
        delete_subgroups=delete_subgroups or [],
    )
    return {}


@api.get("user_groups/{user_group_id}/members")
async def get_user_group_members(
    ctx: ApiRequest, *, user_group_id: int, direct_member_only: Json[bool] = False
) -> Payload:
    members = await actions.get_user_group_members(
        ctx.server, ctx.requester_realm, ctx.requester, user_group_id, direct_member_only=direct_member_only
    )
    return {"members": members}


@api.get("user_groups/{user_group_id}/members/{user_id}")
async def get_is_user_group_member(
    ctx: ApiRequest, *, user_group_id: int, user_id: int, direct_member_only: Json[bool] = False
) -> Payload:
    is_member = await actions.is_user_group_member(
        ctx.server, ctx.requester_realm, ctx.requester, user_group_id, user_id, direct_member_only=direct_member_only
    )
    return {"is_user_group_member": is_member}


@api.post("user_groups/{user_group_id}/subgroups")
async def update_user_group_subgroups(
    ctx: ApiRequest,
    *,
    user_group_id: int,
    add: Json[list[int]] | None = None,
    delete: Json[list[int]] | None = None,
) -> Payload:
    await actions.do_update_user_group_subgroups(
        ctx.server, ctx.requester_realm, ctx.requester, user_group_id, add=add or [], delete=delete or []
    )
    return {}


@api.get("user_groups/{user_group_id}/subgroups")
async def get_user_group_subgroups(
    ctx: ApiRequest, *, user_group_id: int, direct_subgroup_only: Json[bool] = False
) -> Payload:
    subgroups = await actions.get_user_group_subgroups(
        ctx.server, ctx.requester_realm, ctx.requester, user_group_id, direct_subgroup_only=direct_subgroup_only
    )
    return {"subgroups": subgroups}


@api.post("user_groups/{user_group_id}/deactivate")
async def deactivate_user_group(ctx: ApiRequest, *, user_group_id: int) -> Payload:
    await actions.do_deactivate_user_group(ctx.server, ctx.requester_realm, ctx.requester, user_group_id)
    return {}
