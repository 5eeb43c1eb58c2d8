"""Presence: /users/me/presence, /realm/presence, /users/{user_id_or_email}/presence."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from zulipd.actions import presence as actions
from zulipd.actions.users import api_email
from zulipd.app.api import ApiRequest, Payload
from zulipd.app.params import ApiParam, Json
from zulipd.app.routes import api


def _timestamp(moment: datetime) -> int:
    return int(moment.timestamp())


def modern_presence(presence: actions.UserPresence) -> Payload:
    return {
        "active_timestamp": _timestamp(presence.last_active_time),
        "idle_timestamp": _timestamp(presence.last_connected_time),
    }


def legacy_presence(presence: actions.UserPresence) -> Payload:
    """Zulip 7+'s legacy format: one client, always "website", and the same data as "aggregated"."""
    status, moment = actions.legacy_status(presence)
    timestamp = _timestamp(moment)
    return {
        "aggregated": {"client": "website", "status": status, "timestamp": timestamp},
        "website": {"client": "website", "status": status, "timestamp": timestamp, "pushable": False},
    }


def _presences(ctx: ApiRequest, found: actions.RealmPresence, modern: bool) -> Payload:
    """Modern entries by user id; legacy ones by the API email."""
    if modern:
        return {str(presence.user.id): modern_presence(presence) for presence in found.presences}
    domain = ctx.server.realms.email_domain(ctx.requester_realm)
    return {api_email(presence.user, domain): legacy_presence(presence) for presence in found.presences}


@api.post("users/me/presence")
async def update_presence(
    ctx: ApiRequest,
    *,
    status: str,
    ping_only: Json[bool] = False,
    new_user_input: Json[bool] = False,
    slim_presence: Json[bool] = False,
    # Update ids are PostgreSQL bigints, and they are echoed back.
    last_update_id: Annotated[Json[int] | None, ApiParam(min_value=-(2**63), max_value=2**63 - 1)] = None,
    history_limit_days: Json[int] | None = None,
) -> Payload:
    user = ctx.requester
    actions.check_human_user(user)
    await actions.update_user_presence(ctx.server, user, actions.check_status(status), new_user_input)
    if ping_only:
        return {}
    found = await actions.fetch_realm_presence(
        ctx.server, user, last_update_id=last_update_id, history_limit_days=history_limit_days
    )
    # Passing last_update_id is how a modern client asks for the modern format.
    modern = slim_presence or last_update_id is not None
    return {
        "presences": _presences(ctx, found, modern),
        "server_timestamp": found.server_timestamp,
        "presence_last_update_id": found.last_update_id,
    }


@api.get("realm/presence")
async def get_realm_presence(ctx: ApiRequest) -> Payload:
    found = await actions.fetch_realm_presence(ctx.server, ctx.requester)
    return {"presences": _presences(ctx, found, modern=False), "server_timestamp": found.server_timestamp}


@api.get("users/{user_id_or_email}/presence")
async def get_user_presence(ctx: ApiRequest, *, user_id_or_email: str) -> Payload:
    presence = await actions.fetch_user_presence(ctx.server, ctx.requester, ctx.requester_realm, user_id_or_email)
    entries = legacy_presence(presence)
    aggregated = entries["aggregated"]
    if int(ctx.server.clock.seconds()) - aggregated["timestamp"] > actions.OFFLINE_THRESHOLD_SECS:
        aggregated["status"] = "offline"
    # This endpoint's entries carry only status and timestamp.
    return {
        "presence": {
            name: {"status": entry["status"], "timestamp": entry["timestamp"]} for name, entry in entries.items()
        }
    }


async def register_presence_state(ctx: ApiRequest, *, slim: bool) -> Payload:
    """POST /register's presence state: by user id when ``slim_presence``, else by email, as in Zulip."""
    found = await actions.fetch_realm_presence(ctx.server, ctx.requester)
    return {
        "presences": _presences(ctx, found, modern=slim),
        "server_timestamp": found.server_timestamp,
        "presence_last_update_id": found.last_update_id,
    }
