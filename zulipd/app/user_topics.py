"""Personal topic preferences: /user_topics, and the legacy /users/me/subscriptions/muted_topics."""

from __future__ import annotations

from typing import Literal

from zulipd.actions import user_topics as actions
from zulipd.actions.user_topics import VisibilityPolicy
from zulipd.app.api import ApiRequest, Payload
from zulipd.app.params import Json
from zulipd.app.routes import api
from zulipd.errors import JsonableError


@api.post("user_topics")
async def update_user_topic(
    ctx: ApiRequest, *, stream_id: Json[int], topic: str, visibility_policy: Json[VisibilityPolicy]
) -> Payload:
    await actions.do_set_user_topic_visibility_policy(
        ctx.server,
        ctx.requester,
        topic,
        visibility_policy,
        stream_id=stream_id,
        no_access_error=JsonableError("Invalid channel ID"),
    )
    return {}


@api.patch("users/me/subscriptions/muted_topics")
async def update_muted_topic(
    ctx: ApiRequest,
    *,
    topic: str,
    op: Literal["add", "remove"],
    stream_id: Json[int] | None = None,
    stream: str | None = None,
) -> Payload:
    actions.check_exactly_one_stream(stream_id, stream)
    if op == "add":
        policy = VisibilityPolicy.MUTED
        error = JsonableError("Invalid channel ID" if stream is None else f"Invalid channel name '{stream}'")
    else:
        policy = VisibilityPolicy.INHERIT
        error = JsonableError("Topic is not muted")
    await actions.do_set_user_topic_visibility_policy(
        ctx.server, ctx.requester, topic, policy, stream_id=stream_id, stream_name=stream, no_access_error=error
    )
    return {}
