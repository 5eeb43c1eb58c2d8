"""Users: /users, /users/me, /users/{id}, /users/{email}."""

from __future__ import annotations

from typing import Annotated, Any

from zulipd.actions import users as actions
from zulipd.actions.messages import newest_received_message_id
from zulipd.actions.user_dicts import user_payload
from zulipd.app.api import ApiRequest, Payload
from zulipd.app.params import ApiParam, Json
from zulipd.app.routes import api
from zulipd.errors import JsonableError
from zulipd.models import Role, UserProfile
from zulipd.passwords import PASSWORD_MAX_LENGTH


def _email_domain(ctx: ApiRequest) -> str:
    return ctx.server.realms.email_domain(ctx.requester_realm)


# GET /users/me is the busiest call of bots; its answer is kept per user object.
# Users are immutable and replaced on every change, so identity says it is current.
_own_user_payloads: dict[int, tuple[UserProfile, Payload]] = {}


@api.get("users/me")
async def get_own_user(ctx: ApiRequest) -> Payload:
    user = ctx.requester
    cached = _own_user_payloads.get(user.id)
    if cached is not None and cached[0] is user:
        payload = cached[1]
    else:
        payload = user_payload(user, user, _email_domain(ctx), client_gravatar=False, profile_data=True)
        payload.pop("bot_owner_id", None)
        payload.pop("bot_type", None)
        if len(_own_user_payloads) >= 100_000:
            _own_user_payloads.clear()
        _own_user_payloads[user.id] = (user, payload)
    newest = await newest_received_message_id(ctx.server, user)
    # Zulip's value for a user who has received nothing yet.
    return {**payload, "max_message_id": -1 if newest is None else newest}


@api.delete("users/me")
async def deactivate_own_user(ctx: ApiRequest) -> Payload:
    await actions.do_deactivate_user(ctx.server, ctx.requester, ctx.requester.id)
    return {}


@api.get("users")
async def get_users(
    ctx: ApiRequest,
    *,
    client_gravatar: Json[bool] = True,
    include_custom_profile_fields: Json[bool] = False,
) -> Payload:
    users = await actions.list_users(ctx.server, ctx.requester_realm)
    domain = _email_domain(ctx)
    members = [
        user_payload(
            ctx.requester, user, domain, client_gravatar=client_gravatar, profile_data=include_custom_profile_fields
        )
        for user in users
    ]
    return {"members": members}


@api.post("users")
async def create_user(
    ctx: ApiRequest,
    *,
    email: str,
    password: Annotated[str, ApiParam(max_length=PASSWORD_MAX_LENGTH)],
    full_name: str,
) -> Payload:
    actions.check_admin(ctx.requester)
    user = await actions.do_create_user(
        ctx.server,
        ctx.requester_realm,
        email=email,
        full_name=full_name,
        password=password,
        acting_user_id=ctx.requester.id,
    )
    return {"user_id": user.id}


async def _show(
    ctx: ApiRequest, user: UserProfile, client_gravatar: bool, include_custom_profile_fields: bool
) -> Payload:
    return {
        "user": user_payload(
            ctx.requester,
            user,
            _email_domain(ctx),
            client_gravatar=client_gravatar,
            profile_data=include_custom_profile_fields,
        )
    }


@api.get("users/{user_id}")
async def get_user(
    ctx: ApiRequest,
    *,
    user_id: int,
    client_gravatar: Json[bool] = True,
    include_custom_profile_fields: Json[bool] = False,
) -> Payload:
    user = await actions.get_user(ctx.server, ctx.requester_realm, user_id)
    return await _show(ctx, user, client_gravatar, include_custom_profile_fields)


@api.get("users/{email}")
async def get_user_by_email(
    ctx: ApiRequest,
    *,
    email: str,
    client_gravatar: Json[bool] = True,
    include_custom_profile_fields: Json[bool] = False,
) -> Payload:
    user = await actions.get_user_by_email(ctx.server, ctx.requester_realm, email, viewer=ctx.requester)
    return await _show(ctx, user, client_gravatar, include_custom_profile_fields)


async def _update(
    ctx: ApiRequest,
    user: UserProfile,
    full_name: str | None,
    role: Role | None,
    new_email: str | None,
) -> Payload:
    acting = ctx.requester
    actions.check_admin(acting)
    if role is not None:
        actions.check_can_change_role(acting, user, role)
        user = await actions.do_change_role(ctx.server, user, role, acting.id)
    if full_name is not None:
        user = await actions.do_change_full_name(ctx.server, user, full_name, acting.id)
    if new_email is not None:
        user = await actions.do_change_email(ctx.server, user, new_email, acting.id)
    return {}


@api.patch("users/{user_id}")
async def update_user(
    ctx: ApiRequest,
    *,
    user_id: int,
    full_name: str | None = None,
    role: Json[Role] | None = None,
    profile_data: Json[list[dict[str, Any]]] | None = None,
    new_email: str | None = None,
) -> Payload:
    if profile_data:
        raise JsonableError("Custom profile fields are not supported by this server")
    user = await actions.get_user(ctx.server, ctx.requester_realm, user_id)
    return await _update(ctx, user, full_name, role, new_email)


@api.patch("users/{email}")
async def update_user_by_email(
    ctx: ApiRequest,
    *,
    email: str,
    full_name: str | None = None,
    role: Json[Role] | None = None,
    profile_data: Json[list[dict[str, Any]]] | None = None,
    new_email: str | None = None,
) -> Payload:
    if profile_data:
        raise JsonableError("Custom profile fields are not supported by this server")
    user = await actions.get_user_by_email(ctx.server, ctx.requester_realm, email, viewer=ctx.requester)
    return await _update(ctx, user, full_name, role, new_email)


@api.delete("users/{user_id}")
async def deactivate_user(
    ctx: ApiRequest,
    *,
    user_id: int,
    deactivation_notification_comment: Annotated[str, ApiParam(max_length=2000)] | None = None,
) -> Payload:
    user = await actions.get_user(ctx.server, ctx.requester_realm, user_id)
    if user.is_bot:
        raise JsonableError("No such user")
    actions.check_can_deactivate(ctx.requester, user)
    try:
        await actions.do_deactivate_user(ctx.server, user, ctx.requester.id)
    except actions.CannotDeactivateLastOwner:
        # entity and is_last_owner belong to DELETE /users/me only.
        raise JsonableError("Cannot deactivate the only organization owner") from None
    return {}


@api.post("users/{user_id}/reactivate")
async def reactivate_user(ctx: ApiRequest, *, user_id: int) -> Payload:
    actions.check_admin(ctx.requester)
    user = await actions.get_user(ctx.server, ctx.requester_realm, user_id)
    await actions.do_reactivate_user(ctx.server, user, ctx.requester.id)
    return {}


@api.post("users/me/api_key/regenerate")
async def regenerate_own_api_key(ctx: ApiRequest) -> Payload:
    user = await actions.do_regenerate_api_key(ctx.server, ctx.requester, ctx.requester.id)
    return {"api_key": user.api_key}
