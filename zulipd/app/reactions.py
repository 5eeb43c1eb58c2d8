"""Emoji reactions to messages."""

from __future__ import annotations

from zulipd.actions import reactions as actions
from zulipd.app.api import ApiRequest, Payload
from zulipd.app.routes import api


@api.post("messages/{message_id}/reactions")
async def add_reaction(
    ctx: ApiRequest,
    *,
    message_id: int,
    emoji_name: str,
    emoji_code: str | None = None,
    reaction_type: str | None = None,
) -> Payload:
    await actions.do_add_reaction(ctx.server, ctx.requester, message_id, emoji_name, emoji_code, reaction_type)
    return {}


@api.delete("messages/{message_id}/reactions")
async def remove_reaction(
    ctx: ApiRequest,
    *,
    message_id: int,
    emoji_name: str | None = None,
    emoji_code: str | None = None,
    reaction_type: str | None = None,
) -> Payload:
    await actions.do_remove_reaction(ctx.server, ctx.requester, message_id, emoji_name, emoji_code, reaction_type)
    return {}
