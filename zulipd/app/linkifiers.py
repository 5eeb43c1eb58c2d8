"""Linkifiers: GET and PATCH /realm/linkifiers, POST /realm/filters, PATCH and DELETE /realm/filters/{filter_id}.

As in Zulip, a user who is not an administrator is refused before the
parameters of a change are looked at, so a missing parameter is reported to
administrators only.
"""

from __future__ import annotations

from zulipd.actions import linkifiers as actions
from zulipd.actions.users import check_admin
from zulipd.app.api import ApiRequest, Payload
from zulipd.app.params import Json
from zulipd.app.routes import api
from zulipd.errors import RequestVariableMissing


def _required(name: str, value: str | None) -> str:
    if value is None:
        raise RequestVariableMissing(name)
    return value


@api.get("realm/linkifiers")
async def get_linkifiers(ctx: ApiRequest) -> Payload:
    return {"linkifiers": await actions.get_linkifiers(ctx.server, ctx.requester)}


@api.patch("realm/linkifiers")
async def reorder_linkifiers(ctx: ApiRequest, *, ordered_linkifier_ids: Json[list[int]] | None = None) -> Payload:
    check_admin(ctx.requester)
    if ordered_linkifier_ids is None:
        raise RequestVariableMissing("ordered_linkifier_ids")
    await actions.check_reorder_linkifiers(ctx.server, ctx.requester_realm, ctx.requester, ordered_linkifier_ids)
    return {}


@api.post("realm/filters")
async def add_linkifier(ctx: ApiRequest, *, pattern: str | None = None, url_template: str | None = None) -> Payload:
    check_admin(ctx.requester)
    linkifier_id = await actions.do_add_linkifier(
        ctx.server,
        ctx.requester_realm,
        ctx.requester,
        _required("pattern", pattern),
        _required("url_template", url_template),
    )
    return {"id": linkifier_id}


@api.patch("realm/filters/{filter_id}")
async def update_linkifier(
    ctx: ApiRequest, *, filter_id: int, pattern: str | None = None, url_template: str | None = None
) -> Payload:
    check_admin(ctx.requester)
    await actions.do_update_linkifier(
        ctx.server,
        ctx.requester_realm,
        ctx.requester,
        filter_id,
        _required("pattern", pattern),
        _required("url_template", url_template),
    )
    return {}


@api.delete("realm/filters/{filter_id}")
async def remove_linkifier(ctx: ApiRequest, *, filter_id: int) -> Payload:
    await actions.do_remove_linkifier(ctx.server, ctx.requester_realm, ctx.requester, filter_id)
    return {}
