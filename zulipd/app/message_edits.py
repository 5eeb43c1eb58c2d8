"""Editing, moving and deleting messages, and their edit history."""

from __future__ import annotations

from typing import Annotated

from zulipd.actions import message_edit as actions
from zulipd.app.api import ApiRequest, Payload
from zulipd.app.params import ApiParam, Json
from zulipd.app.routes import api


@api.patch("messages/{message_id}")
async def update_message(
    ctx: ApiRequest,
    *,
    message_id: int,
    topic: Annotated[str | None, ApiParam(aliases=("subject",))] = None,
    propagate_mode: actions.PropagateMode = "change_one",
    send_notification_to_old_thread: Json[bool] = False,
    send_notification_to_new_thread: Json[bool] = True,
    content: str | None = None,
    stream_id: Annotated[Json[int] | None, ApiParam(min_value=0)] = None,
) -> Payload:
    # zulipd has no notification bot yet, so there are no breadcrumb messages to send.
    del send_notification_to_old_thread, send_notification_to_new_thread
    await actions.check_update_message(
        ctx.server,
        ctx.requester,
        ctx.requester_realm,
        message_id,
        content=content,
        topic=topic,
        stream_id=stream_id,
        propagate_mode=propagate_mode,
    )
    # Zulip 10 always lists the uploads an edit left unreferenced; zulipd stores no uploads, so none ever are.
    return {"detached_uploads": []}


@api.delete("messages/{message_id}")
async def delete_message(ctx: ApiRequest, *, message_id: int) -> Payload:
    await actions.do_delete_message(ctx.server, ctx.requester, ctx.requester_realm, message_id)
    return {}


@api.get("messages/{message_id}/history")
async def get_message_history(
    ctx: ApiRequest, *, message_id: int, allow_empty_topic_name: Json[bool] = False
) -> Payload:
    history = await actions.message_history(ctx.server, ctx.requester, ctx.requester_realm, message_id)
    return {"message_history": history}
