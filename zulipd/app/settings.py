"""Personal and organization settings: PATCH /settings (and its legacy aliases), PATCH /realm."""

from __future__ import annotations

from typing import Any

from zulipd.actions.auth import hash_session_key, session_cookie_name
from zulipd.actions.realms import do_update_realm
from zulipd.actions.user_settings import do_change_settings, do_change_timezone
from zulipd.actions.users import check_admin, check_owner, do_change_full_name, do_change_password
from zulipd.app.api import ApiRequest, Payload
from zulipd.app.groups import SettingChangeParam, parse_setting_change
from zulipd.app.params import ABSENT, table_parameters
from zulipd.app.routes import api
from zulipd.errors import JsonableError
from zulipd.realm_settings import REALM_SETTINGS
from zulipd.user_settings import USER_SETTINGS


async def _update_settings(
    ctx: ApiRequest,
    full_name: str | None,
    email: str | None,
    old_password: str | None,
    new_password: str | None,
    timezone: str | None,
    settings: dict[str, Any],
) -> Payload:
    user = ctx.requester
    result: Payload = {}
    if email is not None and email.strip().lower() != user.delivery_email.lower():
        raise JsonableError("Changing your email address needs a confirmation email, which this server cannot send")
    if new_password is not None:
        if old_password is None:
            raise JsonableError("Please enter your current password")
        await ctx.server.authenticator.check_login(ctx.realm, user.delivery_email, old_password)
        session_key = ctx.request.cookie(session_cookie_name(ctx.request.isSecure())) if ctx.prefix == "json" else None
        await do_change_password(
            ctx.server, user, new_password, user.id, hash_session_key(session_key) if session_key else None
        )
    if full_name is not None:
        if ctx.requester_realm.settings.get("name_changes_disabled") and not user.is_realm_admin:
            raise JsonableError("Name changes are disabled in this organization.")
        user = await do_change_full_name(ctx.server, user, full_name, user.id)
    if timezone is not None:
        await do_change_timezone(ctx.server, user, timezone)
    changes = {name: value for name, value in settings.items() if value is not ABSENT}
    if changes:
        await do_change_settings(ctx.server, user, changes)
    return result


USER_SETTINGS_PARAMETERS = table_parameters(USER_SETTINGS)


@api.patch("settings", extra_params=USER_SETTINGS_PARAMETERS)
@api.patch("settings/notifications", extra_params=USER_SETTINGS_PARAMETERS)
@api.patch("settings/display", extra_params=USER_SETTINGS_PARAMETERS)
async def update_settings(
    ctx: ApiRequest,
    *,
    full_name: str | None = None,
    email: str | None = None,
    old_password: str | None = None,
    new_password: str | None = None,
    timezone: str | None = None,
    **settings: Any,
) -> Payload:
    return await _update_settings(ctx, full_name, email, old_password, new_password, timezone, settings)


@api.patch("realm", extra_params=table_parameters(REALM_SETTINGS))
async def update_realm(
    ctx: ApiRequest,
    *,
    name: str | None = None,
    description: str | None = None,
    can_create_groups: SettingChangeParam = None,
    can_manage_all_groups: SettingChangeParam = None,
    **settings: Any,
) -> Payload:
    check_admin(ctx.requester)
    group_changes = {
        setting_name: parse_setting_change(setting_name, raw)
        for setting_name, raw in (("can_create_groups", can_create_groups),
                                  ("can_manage_all_groups", can_manage_all_groups))
        if raw is not None
    }  # fmt: skip
    if group_changes:
        # As in Zulip, only owners decide who may create and manage groups.
        check_owner(ctx.requester)
    if name is not None and len(name) > 40:
        raise JsonableError("Organization name is too long.")
    if description is not None and len(description) > 1000:
        raise JsonableError("Organization description is too long.")
    # "unlimited" lifts a time limit, as in Zulip; it is stored as null.
    changes = {key: None if value == "unlimited" else value for key, value in settings.items() if value is not ABSENT}
    if name is not None:
        changes["name"] = name
    if description is not None:
        changes["description"] = description
    changes.update(group_changes)
    return await do_update_realm(ctx.server, ctx.requester_realm, ctx.requester.id, changes)
