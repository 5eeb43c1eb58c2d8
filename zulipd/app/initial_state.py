"""What POST /register returns besides the queue: the state of each fetched event type.

Each type's state is what the matching GET route answers, under the keys the
spec gives for it; the events that follow describe changes to exactly that.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from zulipd.actions import streams as stream_actions
from zulipd.actions.alert_words import get_alert_words
from zulipd.actions.bot_dicts import administered_bot_dicts
from zulipd.actions.group_events import INCLUDE_DEACTIVATED_GROUPS
from zulipd.actions.linkifiers import LINKIFIER_URL_TEMPLATE
from zulipd.actions.messages import newest_received_message_id
from zulipd.actions.stream_dicts import stream_payload, subscription_payload
from zulipd.actions.unreads import get_recent_direct_conversations, get_unread_state
from zulipd.actions.user_status import realm_user_statuses
from zulipd.actions.users import api_email
from zulipd.app import groups, presence, realm_state, streams, users
from zulipd.app.api import ApiRequest, Payload
from zulipd.storage.messages import starred_message_ids_txn
from zulipd.storage.user_topics import user_topics_txn
from zulipd.user_settings import effective_user_settings


@dataclass(frozen=True)
class StateRequest:
    """The register parameters that shape the state."""

    client_gravatar: bool
    include_subscribers: bool
    slim_presence: bool
    # The client_capabilities the client declared (set to true).
    capabilities: frozenset[str] = frozenset()


StateFetcher = Callable[[ApiRequest, StateRequest], Awaitable[Payload]]


async def _message(ctx: ApiRequest, request: StateRequest) -> Payload:
    newest = await newest_received_message_id(ctx.server, ctx.requester)
    return {"max_message_id": -1 if newest is None else newest}


async def _realm_user(ctx: ApiRequest, request: StateRequest) -> Payload:
    # With custom profile field values (always {} in zulipd), as Zulip gives every logged-in client.
    everyone = (
        await users.get_users(ctx, client_gravatar=request.client_gravatar, include_custom_profile_fields=True)
    )["members"]
    me = ctx.requester
    return {
        "realm_users": [user for user in everyone if user["is_active"]],
        "realm_non_active_users": [user for user in everyone if not user["is_active"]],
        "user_id": me.id,
        "email": api_email(me, ctx.server.realms.email_domain(ctx.requester_realm)),
        "delivery_email": me.delivery_email,
        "full_name": me.full_name,
        "is_admin": me.is_realm_admin,
        "is_owner": me.is_owner,
        "is_moderator": me.is_moderator,
        "is_guest": me.is_guest,
    }


async def _subscription(ctx: ApiRequest, request: StateRequest) -> Payload:
    # Archived channels the user may see, marked is_archived, only for clients that keep them (Zulip 10).
    archived = stream_actions.ARCHIVED_CHANNELS in request.capabilities
    subscribed = await streams.subscribed_channels(
        ctx, include_subscribers=request.include_subscribers, include_archived=archived
    )
    user = ctx.requester
    subscriptions = await stream_actions.subscriptions_by_recipient(ctx.server, user)
    others = sorted(
        (
            stream
            for stream, stream_access in await stream_actions.visible_streams(ctx.server, user)
            if not stream_access.subscribed and (archived or not stream.deactivated)
        ),
        key=lambda stream: (stream.name.lower(), stream.id),
    )
    settings = await stream_actions.api_channel_settings(ctx.server, ctx.requester_realm, others)
    subscribers = (
        await stream_actions.subscriber_ids(ctx.server, others) if request.include_subscribers and others else {}
    )
    unsubscribed, never_subscribed = [], []
    for stream in others:
        members = subscribers.get(stream.id) if request.include_subscribers else None
        former = subscriptions.get(stream.recipient_id)
        if former is not None:
            unsubscribed.append(subscription_payload(stream, settings[stream.id], former, members))
        else:
            entry = stream_payload(stream, settings[stream.id])
            if members is not None:
                entry["subscribers"] = members
            never_subscribed.append(entry)
    return {
        "subscriptions": subscribed["subscriptions"],
        "unsubscribed": unsubscribed,
        "never_subscribed": never_subscribed,
    }


async def _stream(ctx: ApiRequest, request: StateRequest) -> Payload:
    # GET /streams with exclude_archived false, for clients that keep archived channels.
    return await streams.get_streams(ctx, exclude_archived=stream_actions.ARCHIVED_CHANNELS not in request.capabilities)


async def _default_streams(ctx: ApiRequest, request: StateRequest) -> Payload:
    # Their ids (feature level 330); guests, who may not see them all, are told of none, as in Zulip.
    if ctx.requester.is_guest:
        return {"realm_default_streams": []}
    return {"realm_default_streams": await stream_actions.default_stream_ids(ctx.server, ctx.requester.realm_id)}


async def _realm_user_groups(ctx: ApiRequest, request: StateRequest) -> Payload:
    # Deactivated groups only for clients that handle them (Zulip's include_deactivated_groups, feature level 294).
    include_deactivated = INCLUDE_DEACTIVATED_GROUPS in request.capabilities
    return {"realm_user_groups": await groups.realm_user_groups_state(ctx, include_deactivated=include_deactivated)}


async def _presence(ctx: ApiRequest, request: StateRequest) -> Payload:
    return await presence.register_presence_state(ctx, slim=request.slim_presence)


async def _user_topic(ctx: ApiRequest, request: StateRequest) -> Payload:
    rows = await ctx.server.pool.run_reads("user topics", user_topics_txn, ctx.requester.id)
    return {
        "user_topics": [
            {
                "stream_id": row.stream_id,
                "topic_name": row.topic_name,
                "visibility_policy": row.visibility_policy,
                "last_updated": int(row.last_updated.timestamp()),
            }
            for row in rows
        ]
    }


async def _user_settings(ctx: ApiRequest, request: StateRequest) -> Payload:
    return {"user_settings": effective_user_settings(ctx.requester.settings)}


async def _starred_messages(ctx: ApiRequest, request: StateRequest) -> Payload:
    ids = await ctx.server.pool.run_reads("starred messages", starred_message_ids_txn, ctx.requester.id)
    return {"starred_messages": ids}


async def _unread_msgs(ctx: ApiRequest, request: StateRequest) -> Payload:
    return {"unread_msgs": await get_unread_state(ctx.server, ctx.requester.id)}


async def _recent_private_conversations(ctx: ApiRequest, request: StateRequest) -> Payload:
    conversations = await get_recent_direct_conversations(ctx.server, ctx.requester.id)
    return {"recent_private_conversations": conversations}


async def _realm_bot(ctx: ApiRequest, request: StateRequest) -> Payload:
    return {"realm_bots": await administered_bot_dicts(ctx.server, ctx.requester)}


async def _alert_words(ctx: ApiRequest, request: StateRequest) -> Payload:
    return {"alert_words": await get_alert_words(ctx.server, ctx.requester)}


async def _user_status(ctx: ApiRequest, request: StateRequest) -> Payload:
    return {"user_status": await realm_user_statuses(ctx.server, ctx.requester)}


async def _muted_users(ctx: ApiRequest, request: StateRequest) -> Payload:
    # Muting users is not served yet, so nobody has muted anyone.
    return {"muted_users": []}


FETCHERS: dict[str, StateFetcher] = {
    "message": _message,
    "realm_user": _realm_user,
    "realm_bot": _realm_bot,
    "subscription": _subscription,
    "stream": _stream,
    "default_streams": _default_streams,
    "realm_user_groups": _realm_user_groups,
    "presence": _presence,
    "user_topic": _user_topic,
    "user_settings": _user_settings,
    "starred_messages": _starred_messages,
    "update_message_flags": _unread_msgs,
    "recent_private_conversations": _recent_private_conversations,
    "alert_words": _alert_words,
    "muted_users": _muted_users,
    "user_status": _user_status,
    # Organization settings and server limits, and the organization's emoji and linkifiers (app/realm_state.py).
    "realm": lambda ctx, request: realm_state.realm_state(ctx),
    "realm_emoji": lambda ctx, request: realm_state.realm_emoji_state(ctx),
    "realm_linkifiers": lambda ctx, request: realm_state.realm_linkifiers_state(
        ctx, url_template_capable=LINKIFIER_URL_TEMPLATE in request.capabilities
    ),
    "realm_filters": lambda ctx, request: realm_state.realm_filters_state(ctx),
}


# Unread messages come with the message state only: Zulip sends unread_msgs when both types are fetched.
ALSO_NEEDED: dict[str, tuple[str, ...]] = {"update_message_flags": ("message",)}


async def fetch_initial_state(ctx: ApiRequest, types: list[str] | None, request: StateRequest) -> dict[str, Any]:
    """The state of ``types`` (every type zulipd serves, when None); unknown types are ignored, as in Zulip."""
    state: dict[str, Any] = {}
    for name, fetch in FETCHERS.items():
        if types is None or (name in types and all(needed in types for needed in ALSO_NEEDED.get(name, ()))):
            state.update(await fetch(ctx, request))
    return state
