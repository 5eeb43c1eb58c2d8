"""/bot_storage: the key-value store of zulip_bots' StateHandler (a Zulip route outside its spec)."""

from __future__ import annotations

from zulipd.actions import bot_storage as actions
from zulipd.app.api import ApiRequest, Payload
from zulipd.app.params import Json
from zulipd.app.routes import api


@api.get("bot_storage")
async def get_bot_storage(ctx: ApiRequest, *, keys: Json[list[str]] | None = None) -> Payload:
    return {"storage": await actions.get_storage(ctx.server, ctx.requester, keys)}


@api.put("bot_storage")
async def update_bot_storage(ctx: ApiRequest, *, storage: Json[dict[str, str]]) -> Payload:
    await actions.set_storage(ctx.server, ctx.requester, storage)
    return {}


@api.delete("bot_storage")
async def remove_bot_storage(ctx: ApiRequest, *, keys: Json[list[str]] | None = None) -> Payload:
    await actions.remove_storage(ctx.server, ctx.requester, keys)
    return {}
