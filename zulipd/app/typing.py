"""Typing notifications: /typing and /messages/{message_id}/typing.

Each notice is validated and its access checked (a user may only send one where
they may send, or edit, the message), then accepted with a plain success. The
events that carry notices to the other users come with the events system.
"""

from __future__ import annotations

from typing import Annotated, Literal

from zulipd.actions import typing as actions
from zulipd.app.api import ApiRequest, Payload
from zulipd.app.params import ApiParam, Json
from zulipd.app.routes import api


@api.post("typing")
async def set_typing_status(
    ctx: ApiRequest,
    *,
    op: Literal["start", "stop"],
    type: Literal["direct", "stream", "channel"] = "direct",
    to: Json[list[int]] | None = None,
    stream_id: Json[int] | None = None,
    topic: Annotated[str | None, ApiParam(aliases=("subject",))] = None,
) -> Payload:
    if type == "direct":
        await actions.do_send_direct_typing(ctx.server, ctx.requester, ctx.requester_realm, op, to)
    else:
        await actions.do_send_stream_typing(ctx.server, ctx.requester, op, stream_id, topic)
    return {}


@api.post("messages/{message_id}/typing")
async def set_message_edit_typing_status(ctx: ApiRequest, *, message_id: int, op: Literal["start", "stop"]) -> Payload:
    await actions.do_send_message_edit_typing(ctx.server, ctx.requester, ctx.requester_realm, op, message_id)
    return {}
