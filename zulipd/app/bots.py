"""Bots: /bots, /bots/{id}, /bots/{id}/api_key/regenerate (routes Zulip has, outside its spec)."""

from __future__ import annotations

from typing import Any

from zulipd.actions import bots as actions
from zulipd.actions.users import do_change_full_name, do_deactivate_user, do_regenerate_api_key, get_user
from zulipd.app.api import ApiRequest, Payload
from zulipd.app.params import Json
from zulipd.app.routes import api
from zulipd.avatars import gravatar_url
from zulipd.errors import JsonableError
from zulipd.models import BotService, BotType, UserProfile


def _stream_defaults() -> Payload:
    # Default channels for bots arrive with channels; until then they are unset.
    return {"default_sending_stream": None, "default_events_register_stream": None, "default_all_public_streams": False}


def _bot_info(bot: UserProfile, service: BotService | None) -> Payload:
    info: Payload = {
        "username": bot.email,
        "user_id": bot.id,
        "full_name": bot.full_name,
        "api_key": bot.api_key,
        "avatar_url": gravatar_url(bot.email, bot.avatar_version),
        "bot_type": int(bot.bot_type) if bot.bot_type is not None else None,
        **_stream_defaults(),
    }
    if service is not None:
        info["services"] = [_service_info(service)]
    return info


def _service_info(service: BotService) -> Payload:
    return {
        "base_url": service.base_url,
        "interface": service.interface,
        "token": service.token,
        "service_name": service.service_name,
        "config_data": service.config,
    }


@api.get("bots")
async def get_bots(ctx: ApiRequest) -> Payload:
    bots = await actions.list_own_bots(ctx.server, ctx.requester)
    return {"bots": [_bot_info(bot, service) for bot, service in bots]}


@api.post("bots")
async def create_bot(
    ctx: ApiRequest,
    *,
    full_name: str,
    short_name: str,
    bot_type: Json[BotType] = BotType.GENERIC,
    payload_url: Json[str] = "",
    service_name: str = "",
    config_data: Json[dict[str, str]] | None = None,
    interface_type: Json[int] = 1,
    default_sending_stream: str | None = None,
    default_events_register_stream: str | None = None,
    default_all_public_streams: Json[bool] | None = None,
) -> Payload:
    if default_sending_stream or default_events_register_stream or default_all_public_streams:
        raise JsonableError("Default channels for bots are not supported by this server yet")
    bot, _ = await actions.do_create_bot(
        ctx.server,
        ctx.requester_realm,
        ctx.requester,
        full_name=full_name,
        short_name=short_name,
        bot_type=bot_type,
        payload_url=payload_url,
        interface=interface_type,
        service_name=service_name,
        config=config_data or {},
    )
    return {
        "user_id": bot.id,
        "api_key": bot.api_key,
        "avatar_url": gravatar_url(bot.email, bot.avatar_version),
        **_stream_defaults(),
    }


@api.patch("bots/{bot_id}")
async def update_bot(
    ctx: ApiRequest,
    *,
    bot_id: int,
    full_name: str | None = None,
    bot_owner_id: Json[int] | None = None,
    service_payload_url: Json[str] | None = None,
    service_interface: Json[int] | None = None,
    config_data: Json[dict[str, str]] | None = None,
    default_sending_stream: str | None = None,
    default_events_register_stream: str | None = None,
    default_all_public_streams: Json[bool] | None = None,
) -> Payload:
    if default_sending_stream or default_events_register_stream or default_all_public_streams:
        raise JsonableError("Default channels for bots are not supported by this server yet")
    bot = await actions.get_bot(ctx.server, ctx.requester, bot_id)
    result: Payload = {}
    if full_name is not None:
        bot = await do_change_full_name(ctx.server, bot, full_name, ctx.requester.id)
        result["full_name"] = bot.full_name
    if bot_owner_id is not None:
        owner = await get_user(ctx.server, ctx.requester_realm, bot_owner_id)
        bot = await actions.do_change_bot_owner(ctx.server, bot, owner, ctx.requester.id)
        result["bot_owner"] = owner.email
    service_changes: dict[str, Any] = {}
    if service_payload_url is not None:
        service_changes["base_url"] = actions.check_payload_url(service_payload_url)
    if service_interface is not None:
        if service_interface not in actions.INTERFACES:
            raise JsonableError("Invalid interface type")
        service_changes["interface"] = service_interface
    if config_data is not None:
        service_changes["config"] = config_data
    if service_changes:
        if bot.bot_type not in (BotType.OUTGOING_WEBHOOK, BotType.EMBEDDED):
            raise JsonableError("This bot has no service to configure")
        service = await actions.do_update_service(ctx.server, bot, **service_changes)
        if service is not None:
            result.update(service_interface=service.interface, service_payload_url=service.base_url,
                          config_data=service.config)  # fmt: skip
    result["avatar_url"] = gravatar_url(bot.email, bot.avatar_version)
    return {**result, **_stream_defaults()}


@api.delete("bots/{bot_id}")
async def deactivate_bot(ctx: ApiRequest, *, bot_id: int) -> Payload:
    bot = await actions.get_bot(ctx.server, ctx.requester, bot_id)
    await do_deactivate_user(ctx.server, bot, ctx.requester.id)
    return {}


@api.post("bots/{bot_id}/api_key/regenerate")
async def regenerate_bot_api_key(ctx: ApiRequest, *, bot_id: int) -> Payload:
    bot = await actions.get_bot(ctx.server, ctx.requester, bot_id)
    bot = await do_regenerate_api_key(ctx.server, bot, ctx.requester.id)
    return {"api_key": bot.api_key}
