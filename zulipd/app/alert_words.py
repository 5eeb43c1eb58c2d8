"""Alert words: GET, POST and DELETE /users/me/alert_words; each answers with the user's whole list."""

from __future__ import annotations

from typing import Any

from zulipd.actions import alert_words as actions
from zulipd.app.api import ApiRequest, Payload
from zulipd.app.params import Json
from zulipd.app.routes import api


@api.get("users/me/alert_words")
async def list_alert_words(ctx: ApiRequest) -> Payload:
    return {"alert_words": await actions.get_alert_words(ctx.server, ctx.requester)}


@api.post("users/me/alert_words")
async def add_alert_words(ctx: ApiRequest, *, alert_words: Json[list[Any]]) -> Payload:
    # The items are checked by the action, in order, each for its type and then its length, as Zulip does.
    words = actions.check_alert_words_to_add(alert_words)
    return {"alert_words": await actions.do_add_alert_words(ctx.server, ctx.requester, words)}


@api.delete("users/me/alert_words")
async def remove_alert_words(ctx: ApiRequest, *, alert_words: Json[list[str]]) -> Payload:
    return {"alert_words": await actions.do_remove_alert_words(ctx.server, ctx.requester, alert_words)}
