"""Personal message flags, and marking messages read."""

from __future__ import annotations

from typing import Annotated, Any

from zulipd.actions import flags as actions
from zulipd.actions.narrow import parse_narrow
from zulipd.app.api import ApiRequest, Payload
from zulipd.app.messages import _parse_anchor
from zulipd.app.params import ApiParam, Json
from zulipd.app.routes import api
from zulipd.errors import JsonableError

NonNegative = ApiParam(min_value=0)


@api.post("messages/flags")
async def update_message_flags(ctx: ApiRequest, *, messages: Json[list[int]], op: str, flag: str) -> Payload:
    update = actions.check_flag_update(op, flag)
    result = await actions.do_update_message_flags(ctx.server, ctx.requester, update, messages)
    return _with_skipped({"messages": result.changed}, result)


@api.post("messages/flags/narrow")
async def update_message_flags_for_narrow(
    ctx: ApiRequest,
    *,
    anchor: str,
    include_anchor: Json[bool] = True,
    num_before: Annotated[Json[int], NonNegative],
    num_after: Annotated[Json[int], NonNegative],
    narrow: Json[list[Any] | None],
    op: str,
    flag: str,
) -> Payload:
    update = actions.check_flag_update(op, flag)
    parsed_anchor = _parse_anchor(anchor)
    if parsed_anchor is None:
        raise JsonableError("Invalid anchor")
    terms = parse_narrow(narrow or [])
    done = await actions.do_update_flags_for_narrow(
        ctx.server, ctx.requester, update, terms, parsed_anchor, include_anchor, num_before, num_after
    )
    payload: Payload = {
        "processed_count": len(done.processed),
        "updated_count": len(done.result.changed),
        "first_processed_id": done.processed[0] if done.processed else None,
        "last_processed_id": done.processed[-1] if done.processed else None,
        "found_oldest": done.found_oldest,
        "found_newest": done.found_newest,
    }
    return _with_skipped(payload, done.result)


def _with_skipped(payload: Payload, result: actions.FlagResult) -> Payload:
    if result.skipped_channel_ids is not None:
        payload["ignored_because_not_subscribed_channels"] = result.skipped_channel_ids
    return payload


@api.post("mark_all_as_read")
async def mark_all_as_read(ctx: ApiRequest) -> Payload:
    await actions.do_mark_all_as_read(ctx.server, ctx.requester)
    return {"complete": True}


@api.post("mark_stream_as_read")
async def mark_stream_as_read(ctx: ApiRequest, *, stream_id: Json[int]) -> Payload:
    await actions.do_mark_stream_as_read(ctx.server, ctx.requester, stream_id)
    return {}


@api.post("mark_topic_as_read")
async def mark_topic_as_read(ctx: ApiRequest, *, stream_id: Json[int], topic_name: str) -> Payload:
    await actions.do_mark_topic_as_read(ctx.server, ctx.requester, stream_id, topic_name)
    return {}
