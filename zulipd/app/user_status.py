"""User status: POST /users/me/status and GET /users/{user_id}/status.

As in Zulip, ``/users/me/status`` takes POST only (a GET there answers 405);
a user reads their own status at ``/users/{their id}/status``.
"""

from __future__ import annotations

from zulipd.actions import user_status as actions
from zulipd.app.api import ApiRequest, Payload
from zulipd.app.params import Json
from zulipd.app.routes import api


@api.post("users/me/status")
async def update_user_status(
    ctx: ApiRequest,
    *,
    away: Json[bool] | None = None,
    status_text: str | None = None,
    emoji_name: str | None = None,
    emoji_code: str | None = None,
    reaction_type: str | None = None,
) -> Payload:
    await actions.do_update_user_status(
        ctx.server,
        ctx.requester,
        away=away,
        status_text=status_text,
        emoji_name=emoji_name,
        emoji_code=emoji_code,
        reaction_type=reaction_type,
    )
    return {}


@api.get("users/{user_id}/status")
async def get_user_status(ctx: ApiRequest, *, user_id: int) -> Payload:
    return {"status": await actions.get_user_status(ctx.server, ctx.requester, user_id)}
