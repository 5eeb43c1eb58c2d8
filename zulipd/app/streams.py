"""Channels and subscriptions: /streams, /get_stream_id, /default_streams, /users/me/subscriptions."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from zulipd.actions import streams as actions
from zulipd.actions.groups import SettingChange, SettingValue
from zulipd.actions.stream_dicts import stream_payload, subscription_payload
from zulipd.actions.subscriptions import (
    PropertyChange,
    StreamRequest,
    do_change_subscription_properties,
    do_subscribe,
    do_unsubscribe,
    get_subscription_status,
)
from zulipd.actions.users import check_admin, check_owner
from zulipd.app.api import ApiRequest, Payload
from zulipd.app.groups import SettingChangeParam, SettingParam, parse_setting_change, parse_setting_value
from zulipd.app.params import Json, check_value
from zulipd.app.routes import api
from zulipd.errors import JsonableError, RequestVariableInvalid
from zulipd.models import Stream, StreamPostPolicy

# message_retention_days: a number of days, or one of these.
RETENTION_SPECIAL_VALUES: dict[str, int | None] = {"unlimited": -1, "realm_default": None}


def _by_name(stream: Stream) -> tuple[str, int]:
    return stream.name.lower(), stream.id


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
    """The channels the user may see, from the sources asked for.

    "All" is every channel the user may see: zulipd shows nobody, administrators
    included, a private channel they are not subscribed to.
    """
    user = ctx.requester
    # The spec: the deprecated include_all_active is for administrators; include_all is for everyone.
    if include_all_active and not user.is_realm_admin:
        raise JsonableError("User not authorized for this query")
    owner_subscribed: set[int] = set()
    if include_owner_subscribed and user.is_bot and user.bot_owner_id is not None:
        owner_subscribed = set(await actions.subscribed_recipient_ids(ctx.server, user.bot_owner_id))
    chosen = []
    for stream, stream_access in await actions.visible_streams(ctx.server, user):
        if stream.deactivated and exclude_archived:
            continue
        wanted = (
            include_all_active
            or include_all
            or (include_public and not stream.invite_only and not user.is_guest)
            or (include_web_public and stream.is_web_public and not stream.deactivated)
            or (include_subscribed and stream_access.subscribed)
            or (include_can_access_content and stream_access.history != "none")
            or stream.recipient_id in owner_subscribed
        )
        if wanted:
            chosen.append(stream)
    chosen.sort(key=_by_name)
    settings = await actions.api_channel_settings(ctx.server, ctx.requester_realm, chosen)
    defaults = set(await actions.default_stream_ids(ctx.server, user.realm_id)) if include_default else set()
    return {
        "streams": [
            stream_payload(stream, settings[stream.id], is_default=stream.id in defaults if include_default else None)
            for stream in chosen
        ]
    }


async def _one_stream_payload(ctx: ApiRequest, stream: Stream) -> Payload:
    settings = await actions.api_channel_settings(ctx.server, ctx.requester_realm, [stream])
    return stream_payload(stream, settings[stream.id])


@api.get("streams/{stream_id}")
async def get_stream(ctx: ApiRequest, *, stream_id: int) -> Payload:
    stream, _ = await actions.get_visible_stream(ctx.server, ctx.requester, stream_id)
    return {"stream": await _one_stream_payload(ctx, stream)}


@api.get("get_stream_id")
async def get_stream_id(ctx: ApiRequest, *, stream: str) -> Payload:
    found, _ = await actions.get_visible_stream_by_name(ctx.server, ctx.requester, stream)
    return {"stream_id": found.id}


@api.get("streams/{stream_id}/members")
async def get_subscribers(ctx: ApiRequest, *, stream_id: int) -> Payload:
    stream, _ = await actions.get_visible_stream(ctx.server, ctx.requester, stream_id)
    subscribers = await actions.subscriber_ids(ctx.server, [stream])
    return {"subscribers": subscribers[stream.id]}


def _setting_changes(sent: Mapping[str, dict[str, Any] | None]) -> dict[str, SettingChange]:
    return {name: parse_setting_change(name, raw) for name, raw in sent.items() if raw is not None}


def _setting_values(sent: Mapping[str, int | dict[str, Any] | None]) -> dict[str, SettingValue]:
    return {name: parse_setting_value(name, raw) for name, raw in sent.items() if raw is not None}


def parse_retention_days(value: int | str) -> int | None:
    if isinstance(value, str):
        if value in RETENTION_SPECIAL_VALUES:
            return RETENTION_SPECIAL_VALUES[value]
        raise RequestVariableInvalid("message_retention_days", actions.quotable(value))
    if value <= 0:
        raise RequestVariableInvalid("message_retention_days", value)
    return value


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
    # Zulip removed these two in 10.0 (feature level 333); zulipd still takes them.
    stream_post_policy: Json[int] | None = None,
    is_announcement_only: Json[bool] | None = None,
    message_retention_days: Json[int | str] | None = None,
    can_add_subscribers_group: SettingChangeParam = None,
    can_administer_channel_group: SettingChangeParam = None,
    can_remove_subscribers_group: SettingChangeParam = None,
    can_send_message_group: SettingChangeParam = None,
    can_subscribe_group: SettingChangeParam = None,
) -> Payload:
    user = ctx.requester
    stream, stream_access = await actions.get_visible_stream(ctx.server, user, stream_id)
    await actions.check_can_administer(ctx.server, ctx.requester_realm, user, stream, stream_access)
    setting_changes = _setting_changes(
        {
            "can_add_subscribers_group": can_add_subscribers_group,
            "can_administer_channel_group": can_administer_channel_group,
            "can_remove_subscribers_group": can_remove_subscribers_group,
            "can_send_message_group": can_send_message_group,
            "can_subscribe_group": can_subscribe_group,
        }
    )

    # The state the request asks for must be one Zulip allows.
    private = is_private if is_private is not None else stream.invite_only
    web_public = is_web_public if is_web_public is not None else stream.is_web_public
    if history_public_to_subscribers is not None:
        history_public = history_public_to_subscribers
    elif is_private is not None:
        # A channel made private protects its history unless told otherwise; a public one shares it.
        history_public = not is_private
    else:
        history_public = stream.history_public_to_subscribers
    if (web_public and (private or not history_public)) or (not private and not history_public):
        raise JsonableError("Invalid parameters")
    if private and (
        is_default_stream
        or (is_default_stream is None and stream.id in await actions.default_stream_ids(ctx.server, user.realm_id))
    ):
        raise JsonableError("A default channel cannot be private.")

    changes: dict[str, Any] = {}
    if is_private is not None:
        if is_private is False and stream.invite_only and not user.is_realm_admin:
            raise JsonableError("Insufficient permission")
        changes["invite_only"] = is_private
    if is_web_public is not None:
        if is_web_public and not user.is_realm_admin:
            raise JsonableError("Insufficient permission")
        changes["is_web_public"] = is_web_public
    if is_private is not None or is_web_public is not None or history_public_to_subscribers is not None:
        changes["history_public_to_subscribers"] = history_public
    if is_default_stream is not None:
        check_admin(user)
    if message_retention_days is not None:
        check_owner(user)
        changes["message_retention_days"] = parse_retention_days(message_retention_days)
    if is_announcement_only is not None and stream_post_policy is None:
        stream_post_policy = StreamPostPolicy.ADMINS if is_announcement_only else StreamPostPolicy.EVERYONE
    if stream_post_policy is not None:
        try:
            changes["stream_post_policy"] = StreamPostPolicy(stream_post_policy)
        except ValueError:
            raise JsonableError("Invalid stream_post_policy") from None
    if description is not None:
        changes["description"] = description
    if new_name is not None:
        changes["name"] = new_name
    if changes or setting_changes or is_default_stream is not None:
        await actions.do_update_stream(
            ctx.server, ctx.requester_realm, user, stream, changes, setting_changes, make_default=is_default_stream
        )
    return {}


@api.delete("streams/{stream_id}")
async def archive_stream(ctx: ApiRequest, *, stream_id: int) -> Payload:
    user = ctx.requester
    stream, stream_access = await actions.get_visible_stream(ctx.server, user, stream_id)
    await actions.check_can_administer(ctx.server, ctx.requester_realm, user, stream, stream_access)
    await actions.do_archive_stream(ctx.server, ctx.requester_realm, user, stream)
    return {}


@api.post("default_streams")
async def add_default_stream(ctx: ApiRequest, *, stream_id: Json[int]) -> Payload:
    check_admin(ctx.requester)
    stream, _ = await actions.get_visible_stream(ctx.server, ctx.requester, stream_id)
    await actions.do_add_default_stream(ctx.server, ctx.requester_realm, stream)
    return {}


@api.delete("default_streams")
async def remove_default_stream(ctx: ApiRequest, *, stream_id: Json[int]) -> Payload:
    check_admin(ctx.requester)
    stream, _ = await actions.get_visible_stream(ctx.server, ctx.requester, stream_id)
    await actions.do_remove_default_stream(ctx.server, ctx.requester_realm, stream)
    return {}


@api.get("users/me/subscriptions")
async def get_subscriptions(ctx: ApiRequest, *, include_subscribers: Json[bool] = False) -> Payload:
    # As in Zulip, archived channels are left out: this route has no archived_channels capability.
    return await subscribed_channels(ctx, include_subscribers=include_subscribers, include_archived=False)


async def subscribed_channels(ctx: ApiRequest, *, include_subscribers: bool, include_archived: bool) -> Payload:
    """The requester's subscriptions as GET /users/me/subscriptions answers, archived channels too if asked
    (the register state of a client with the archived_channels capability)."""
    user = ctx.requester
    subscriptions = await actions.subscriptions_by_recipient(ctx.server, user)
    streams = sorted(
        (
            stream
            for stream, stream_access in await actions.visible_streams(ctx.server, user)
            if stream_access.subscribed and (include_archived or not stream.deactivated)
        ),
        key=_by_name,
    )
    settings = await actions.api_channel_settings(ctx.server, ctx.requester_realm, streams)
    subscribers = await actions.subscriber_ids(ctx.server, streams) if include_subscribers and streams else {}
    return {
        "subscriptions": [
            subscription_payload(
                stream,
                settings[stream.id],
                subscriptions[stream.recipient_id],
                subscribers.get(stream.id) if include_subscribers else None,
            )
            for stream in streams
        ]
    }


def _stream_requests(var_name: str, subscriptions: list[dict[str, Any]]) -> list[StreamRequest]:
    requests = []
    for index, item in enumerate(subscriptions):
        where = f"{var_name}[{index}]"
        if "name" not in item:
            raise JsonableError(f'{where}["name"] field is missing')
        name = check_value(f'{where}["name"]', item["name"], str)
        description = check_value(f'{where}["description"]', item.get("description", ""), str)
        color = item.get("color")
        if color is not None:
            color = actions.check_color(check_value(f'{where}["color"]', color, str), "add.color")
        requests.append(StreamRequest(name, description, color))
    return requests


@api.post("users/me/subscriptions")
async def subscribe(
    ctx: ApiRequest,
    *,
    subscriptions: Json[list[dict[str, Any]]],
    principals: Json[list[str] | list[int]] | None = None,
    authorization_errors_fatal: Json[bool] = True,
    # No announcement channel can be configured in zulipd, so there is nothing to announce in.
    announce: Json[bool] = False,
    invite_only: Json[bool] = False,
    is_web_public: Json[bool] = False,
    is_default_stream: Json[bool] = False,
    history_public_to_subscribers: Json[bool] | None = None,
    # Zulip removed this in 10.0 (feature level 333), for can_send_message_group; zulipd still takes it.
    stream_post_policy: Json[int] = 1,
    message_retention_days: Json[int | str] | None = None,
    can_add_subscribers_group: SettingParam = None,
    can_administer_channel_group: SettingParam = None,
    can_remove_subscribers_group: SettingParam = None,
    can_send_message_group: SettingParam = None,
    can_subscribe_group: SettingParam = None,
) -> Payload:
    if stream_post_policy not in (1, 2, 3, 4):
        raise JsonableError("Invalid stream_post_policy")
    if invite_only and is_web_public:
        raise JsonableError("A channel cannot be both private and web-public")
    group_settings = _setting_values(
        {
            "can_add_subscribers_group": can_add_subscribers_group,
            "can_administer_channel_group": can_administer_channel_group,
            "can_remove_subscribers_group": can_remove_subscribers_group,
            "can_send_message_group": can_send_message_group,
            "can_subscribe_group": can_subscribe_group,
        }
    )
    result = await do_subscribe(
        ctx.server,
        ctx.requester,
        ctx.requester_realm,
        _stream_requests("subscriptions", subscriptions),
        principals,
        invite_only=invite_only,
        history_public_to_subscribers=history_public_to_subscribers,
        is_web_public=is_web_public,
        is_default_stream=is_default_stream,
        stream_post_policy=stream_post_policy,
        message_retention_days=parse_retention_days(message_retention_days)
        if message_retention_days is not None
        else None,
        group_settings=group_settings,
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
        raise JsonableError('Nothing to do. Specify at least one of "add" or "delete".')
    payload: Payload = {"subscribed": {}, "already_subscribed": {}, "removed": [], "not_removed": []}
    if add:
        result = await do_subscribe(ctx.server, ctx.requester, ctx.requester_realm, _stream_requests("add", add), None)
        payload["subscribed"] = result.subscribed
        payload["already_subscribed"] = result.already_subscribed
    if delete:
        removed, not_removed = await do_unsubscribe(ctx.server, ctx.requester, ctx.requester_realm, delete, None)
        payload["removed"] = removed
        payload["not_removed"] = not_removed
    return payload


@api.post("users/me/subscriptions/properties")
async def update_subscription_properties(ctx: ApiRequest, *, subscription_data: Json[list[dict[str, Any]]]) -> Payload:
    changes = []
    for index, change in enumerate(subscription_data):
        where = f"subscription_data[{index}]"
        for key in ("stream_id", "property", "value"):
            if key not in change:
                raise JsonableError(f'{where}["{key}"] field is missing')
        stream_id = check_value(f'{where}["stream_id"]', change["stream_id"], int)
        prop = check_value(f'{where}["property"]', change["property"], str)
        changes.append(PropertyChange(stream_id, prop, change["value"]))
    await do_change_subscription_properties(ctx.server, ctx.requester, changes)
    return {}


@api.get("users/{user_id}/subscriptions/{stream_id}")
async def get_subscription_status_route(ctx: ApiRequest, *, user_id: int, stream_id: int) -> Payload:
    subscribed = await get_subscription_status(ctx.server, ctx.requester, ctx.requester_realm, user_id, stream_id)
    return {"is_subscribed": subscribed}
