"""Channels and subscriptions: /streams, /get_stream_id, /default_streams, /users/me/subscriptions."""

from __future__ import annotations

from typing import Any

from zulipd.actions import streams as actions
from zulipd.actions.streams import Access, StreamDoesNotExist
from zulipd.actions.subscriptions import (
    StreamRequest,
    do_change_subscription_property,
    do_subscribe,
    do_unsubscribe,
)
from zulipd.actions.users import check_admin, get_user
from zulipd.app.api import ApiRequest, Payload
from zulipd.app.params import Json
from zulipd.app.routes import api
from zulipd.errors import JsonableError
from zulipd.models import Stream, StreamPostPolicy, Subscription
from zulipd.storage.streams import get_subscription_txn, subscriber_ids_txn


def stream_payload(stream: Stream, *, is_default: bool | None = None) -> Payload:
    settings = stream.settings
    payload: Payload = {
        "stream_id": stream.id,
        "name": stream.name,
        "is_archived": stream.deactivated,
        "description": stream.description,
        "rendered_description": stream.rendered_description,
        "date_created": int(stream.date_created.timestamp()),
        "creator_id": stream.creator_id,
        "invite_only": stream.invite_only,
        "is_web_public": stream.is_web_public,
        "stream_post_policy": int(stream.stream_post_policy),
        "message_retention_days": stream.message_retention_days,
        "history_public_to_subscribers": stream.history_public_to_subscribers,
        "first_message_id": stream.first_message_id,
        "is_recently_active": stream.first_message_id is not None,
        "is_announcement_only": stream.stream_post_policy == StreamPostPolicy.ADMINS,
        "can_add_subscribers_group": settings.get("can_add_subscribers_group"),
        "can_remove_subscribers_group": settings.get("can_remove_subscribers_group"),
        "can_administer_channel_group": settings.get("can_administer_channel_group"),
        "can_send_message_group": settings.get("can_send_message_group"),
        "can_subscribe_group": settings.get("can_subscribe_group"),
        # Traffic statistics are not kept; Zulip sends null for new channels too.
        "stream_weekly_traffic": None,
    }
    if is_default is not None:
        payload["is_default"] = is_default
    return payload


def subscription_payload(stream: Stream, subscription: Subscription, subscribers: list[int] | None) -> Payload:
    payload = stream_payload(stream)
    payload.update(
        {
            "color": subscription.color,
            "is_muted": subscription.is_muted,
            "in_home_view": not subscription.is_muted,
            "pin_to_top": subscription.pin_to_top,
            "desktop_notifications": subscription.desktop_notifications,
            "audible_notifications": subscription.audible_notifications,
            "push_notifications": subscription.push_notifications,
            "email_notifications": subscription.email_notifications,
            "wildcard_mentions_notify": subscription.wildcard_mentions_notify,
        }
    )
    if subscribers is not None:
        payload["subscribers"] = subscribers
    return payload


@api.get("streams")
async def get_streams(
    ctx: ApiRequest,
    *,
    include_public: Json[bool] = True,
    include_web_public: Json[bool] = False,
    include_subscribed: Json[bool] = True,
    exclude_archived: Json[bool] = True,
    include_all_active: Json[bool] = False,
    include_all: Json[bool] = False,
    include_default: Json[bool] = False,
    include_owner_subscribed: Json[bool] = False,
    include_can_access_content: Json[bool] = False,
) -> Payload:
    user = ctx.requester
    if (include_all_active or include_all) and not user.is_realm_admin:
        raise JsonableError("User not authorized for this query")
    defaults = set(await actions.default_stream_ids(ctx.server, user.realm_id))
    result = []
    for stream, stream_access in await actions.visible_streams(ctx.server, user):
        if stream.deactivated and exclude_archived and not include_all:
            continue
        wanted = (
            include_all_active
            or include_all
            or (include_public and not stream.invite_only and not user.is_guest)
            or (include_web_public and stream.is_web_public)
            or (include_subscribed and stream_access.subscribed)
            or (include_can_access_content and stream_access.history != "none")
            or (include_default and stream.id in defaults)
        )
        if wanted:
            result.append(stream_payload(stream, is_default=stream.id in defaults))
    return {"streams": result}


@api.get("streams/{stream_id}")
async def get_stream(ctx: ApiRequest, *, stream_id: int) -> Payload:
    stream, _ = await actions.get_visible_stream(ctx.server, ctx.requester, stream_id)
    return {"stream": stream_payload(stream)}


@api.get("get_stream_id")
async def get_stream_id(ctx: ApiRequest, *, stream: str) -> Payload:
    found, _ = await actions.get_visible_stream_by_name(ctx.server, ctx.requester, stream)
    return {"stream_id": found.id}


def _check_may_list_members(stream: Stream, stream_access: Access) -> None:
    if stream.invite_only and not stream_access.subscribed:
        raise StreamDoesNotExist.with_id(stream.id)


@api.get("streams/{stream_id}/members")
async def get_subscribers(ctx: ApiRequest, *, stream_id: int) -> Payload:
    stream, stream_access = await actions.get_visible_stream(ctx.server, ctx.requester, stream_id)
    _check_may_list_members(stream, stream_access)
    subscribers = await ctx.server.pool.run_interaction("subscribers", subscriber_ids_txn, [stream.recipient_id])
    return {"subscribers": subscribers[stream.recipient_id]}


@api.patch("streams/{stream_id}")
async def update_stream(
    ctx: ApiRequest,
    *,
    stream_id: int,
    description: str | None = None,
    new_name: str | None = None,
    is_private: Json[bool] | None = None,
    is_web_public: Json[bool] | None = None,
    history_public_to_subscribers: Json[bool] | None = None,
    is_default_stream: Json[bool] | None = None,
    stream_post_policy: Json[int] | None = None,
    is_announcement_only: Json[bool] | None = None,
    message_retention_days: Json[int | str] | None = None,
) -> Payload:
    user = ctx.requester
    stream, stream_access = await actions.get_visible_stream(ctx.server, user, stream_id)
    actions.check_can_administer(user, stream, stream_access)
    changes: dict[str, Any] = {}
    if new_name is not None:
        changes["name"] = new_name
    if description is not None:
        changes["description"] = description
    if is_private is not None:
        if is_private is False and stream.invite_only and not user.is_realm_admin:
            raise JsonableError("Insufficient permission")
        changes["invite_only"] = is_private
    if is_web_public is not None:
        if is_web_public and not user.is_realm_admin:
            raise JsonableError("Insufficient permission")
        changes["is_web_public"] = is_web_public
    if history_public_to_subscribers is not None:
        changes["history_public_to_subscribers"] = history_public_to_subscribers
    if is_announcement_only is not None and stream_post_policy is None:
        stream_post_policy = StreamPostPolicy.ADMINS if is_announcement_only else StreamPostPolicy.EVERYONE
    if stream_post_policy is not None:
        try:
            changes["stream_post_policy"] = StreamPostPolicy(stream_post_policy)
        except ValueError:
            raise JsonableError("Invalid stream_post_policy") from None
    if message_retention_days is not None:
        if not user.is_owner:
            raise JsonableError("Must be an organization owner")
        if message_retention_days in ("unlimited", "realm_default"):
            changes["message_retention_days"] = -1 if message_retention_days == "unlimited" else None
        elif isinstance(message_retention_days, int) and message_retention_days > 0:
            changes["message_retention_days"] = message_retention_days
        else:
            raise JsonableError("Bad value for 'message_retention_days'")
    if changes.get("invite_only") is False or (is_web_public and not changes.get("invite_only", stream.invite_only)):
        changes.setdefault("history_public_to_subscribers", True)
    if changes.get("invite_only") is False:
        changes["history_public_to_subscribers"] = True
    if changes.get("invite_only") is True and history_public_to_subscribers is None:
        changes["history_public_to_subscribers"] = stream.history_public_to_subscribers
    if not changes.get("invite_only", stream.invite_only) and changes.get("history_public_to_subscribers") is False:
        raise JsonableError("Invalid parameters: public channels always share their history")
    if changes:
        await actions.do_update_stream(ctx.server, user, stream, changes)
    if is_default_stream is not None:
        check_admin(user)
        if is_default_stream:
            await actions.do_add_default_stream(ctx.server, stream)
        else:
            await actions.do_remove_default_stream(ctx.server, stream)
    return {}


@api.delete("streams/{stream_id}")
async def archive_stream(ctx: ApiRequest, *, stream_id: int) -> Payload:
    user = ctx.requester
    stream, stream_access = await actions.get_visible_stream(ctx.server, user, stream_id)
    actions.check_can_administer(user, stream, stream_access)
    if stream.deactivated:
        raise JsonableError("Channel is already deactivated")
    await actions.do_archive_stream(ctx.server, user, stream)
    return {}


@api.post("default_streams")
async def add_default_stream(ctx: ApiRequest, *, stream_id: Json[int]) -> Payload:
    check_admin(ctx.requester)
    stream, _ = await actions.get_visible_stream(ctx.server, ctx.requester, stream_id)
    await actions.do_add_default_stream(ctx.server, stream)
    return {}


@api.delete("default_streams")
async def remove_default_stream(ctx: ApiRequest, *, stream_id: Json[int]) -> Payload:
    check_admin(ctx.requester)
    stream, _ = await actions.get_visible_stream(ctx.server, ctx.requester, stream_id)
    await actions.do_remove_default_stream(ctx.server, stream)
    return {}


@api.get("users/me/subscriptions")
async def get_subscriptions(ctx: ApiRequest, *, include_subscribers: Json[bool] = False) -> Payload:
    user = ctx.requester
    subscriptions = await actions.subscriptions_by_recipient(ctx.server, user)
    streams = [
        (stream, subscriptions[stream.recipient_id])
        for stream, stream_access in await actions.visible_streams(ctx.server, user)
        if stream_access.subscribed
    ]
    subscribers: dict[int, list[int]] = {}
    if include_subscribers and streams:
        subscribers = await ctx.server.pool.run_interaction(
            "subscribers", subscriber_ids_txn, [stream.recipient_id for stream, _ in streams]
        )
    return {
        "subscriptions": [
            subscription_payload(
                stream, subscription, subscribers.get(stream.recipient_id) if include_subscribers else None
            )
            for stream, subscription in streams
        ]
    }


def _stream_requests(subscriptions: list[dict[str, Any]]) -> list[StreamRequest]:
    requests = []
    for item in subscriptions:
        name = item.get("name")
        if not isinstance(name, str):
            raise JsonableError("Invalid subscription: each one needs a name")
        description = item.get("description", "")
        if not isinstance(description, str):
            raise JsonableError("Invalid subscription: description is not a string")
        requests.append(StreamRequest(name, description))
    return requests


@api.post("users/me/subscriptions")
async def subscribe(
    ctx: ApiRequest,
    *,
    subscriptions: Json[list[dict[str, Any]]],
    principals: Json[list[str] | list[int]] | None = None,
    authorization_errors_fatal: Json[bool] = True,
    announce: Json[bool] = False,
    invite_only: Json[bool] = False,
    is_web_public: Json[bool] = False,
    is_default_stream: Json[bool] = False,
    history_public_to_subscribers: Json[bool] | None = None,
    stream_post_policy: Json[int] = 1,
    message_retention_days: Json[int | str] | None = None,
) -> Payload:
    if stream_post_policy not in (1, 2, 3, 4):
        raise JsonableError("Invalid stream_post_policy")
    if invite_only and is_web_public:
        raise JsonableError("A channel cannot be both private and web-public")
    result = await do_subscribe(
        ctx.server,
        ctx.requester,
        ctx.requester_realm,
        _stream_requests(subscriptions),
        principals,
        invite_only=invite_only,
        history_public_to_subscribers=history_public_to_subscribers,
        is_web_public=is_web_public,
        is_default_stream=is_default_stream,
        stream_post_policy=stream_post_policy,
        message_retention_days=message_retention_days if isinstance(message_retention_days, int) else None,
        authorization_errors_fatal=authorization_errors_fatal,
    )
    payload: Payload = {"subscribed": result.subscribed, "already_subscribed": result.already_subscribed}
    if not authorization_errors_fatal:
        payload["unauthorized"] = result.unauthorized
    return payload


@api.delete("users/me/subscriptions")
async def unsubscribe(
    ctx: ApiRequest, *, subscriptions: Json[list[str]], principals: Json[list[str] | list[int]] | None = None
) -> Payload:
    removed, not_removed = await do_unsubscribe(
        ctx.server, ctx.requester, ctx.requester_realm, subscriptions, principals
    )
    return {"removed": removed, "not_removed": not_removed}


@api.patch("users/me/subscriptions")
async def update_subscriptions(
    ctx: ApiRequest,
    *,
    delete: Json[list[str]] | None = None,
    add: Json[list[dict[str, Any]]] | None = None,
) -> Payload:
    if not delete and not add:
        raise JsonableError("Nothing to do. Specify at least one of 'add' or 'delete'.")
    payload: Payload = {"subscribed": {}, "already_subscribed": {}, "removed": [], "not_removed": []}
    if add:
        result = await do_subscribe(ctx.server, ctx.requester, ctx.requester_realm, _stream_requests(add), None)
        payload["subscribed"] = result.subscribed
        payload["already_subscribed"] = result.already_subscribed
    if delete:
        removed, not_removed = await do_unsubscribe(ctx.server, ctx.requester, ctx.requester_realm, delete, None)
        payload["removed"] = removed
        payload["not_removed"] = not_removed
    return payload


@api.post("users/me/subscriptions/properties")
async def update_subscription_properties(ctx: ApiRequest, *, subscription_data: Json[list[dict[str, Any]]]) -> Payload:
    user = ctx.requester
    changed = []
    for change in subscription_data:
        stream_id, prop, value = change.get("stream_id"), change.get("property"), change.get("value")
        if not isinstance(stream_id, int) or isinstance(stream_id, bool) or not isinstance(prop, str):
            raise JsonableError("Invalid subscription_data: each item needs stream_id, property and value")
        stream, stream_access = await actions.get_visible_stream(ctx.server, user, stream_id)
        if not stream_access.subscribed:
            raise JsonableError(f"Not subscribed to channel ID {stream_id}")
        prop, value = await do_change_subscription_property(ctx.server, user, stream, prop, value)
        changed.append({"stream_id": stream_id, "property": prop, "value": value})
    return {}


@api.get("users/{user_id}/subscriptions/{stream_id}")
async def get_subscription_status(ctx: ApiRequest, *, user_id: int, stream_id: int) -> Payload:
    stream, stream_access = await actions.get_visible_stream(ctx.server, ctx.requester, stream_id)
    _check_may_list_members(stream, stream_access)
    target = await get_user(ctx.server, ctx.requester_realm, user_id)
    subscription = await ctx.server.pool.run_interaction(
        "subscription status", get_subscription_txn, target.id, stream.recipient_id
    )
    return {"is_subscribed": subscription is not None and subscription.active}
