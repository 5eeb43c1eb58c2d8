"""Subscribing and unsubscribing users, personal channel settings, and new users' default channels."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from psycopg2 import errors as sql_errors

from zulipd.actions.groups import GroupGraph, Permissions, SettingValue
from zulipd.actions.notify import publish
from zulipd.actions.streams import (
    CHANNEL_GROUP_SETTINGS,
    StreamDoesNotExist,
    access,
    channel_setting,
    check_can_create_streams,
    check_color,
    check_stream_name,
    do_create_stream_txn,
    get_visible_stream,
    pick_color,
    publish_default_streams,
    quotable,
)
from zulipd.actions.subscription_events import archived_only, publish_subscribed, publish_unsubscribed
from zulipd.errors import AccessDenied, JsonableError
from zulipd.models import Realm, Stream, StreamPostPolicy, Subscription, UserProfile
from zulipd.storage.audit import insert_audit_log_txn
from zulipd.storage.pool import Transaction
from zulipd.storage.streams import (
    add_default_stream_txn,
    default_stream_ids_txn,
    get_stream_by_name_txn,
    get_streams_by_ids_txn,
    get_subscription_txn,
    is_storable_text,
    subscribe_txn,
    unsubscribe_txn,
    update_subscription_txn,
)

if TYPE_CHECKING:
    from zulipd.server import Server


@dataclasses.dataclass(frozen=True)
class StreamRequest:
    name: str
    description: str = ""
    # The subscriber's color for the channel; None picks one.
    color: str | None = None


@dataclasses.dataclass
class SubscribeResult:
    subscribed: dict[str, list[str]] = dataclasses.field(default_factory=dict)
    already_subscribed: dict[str, list[str]] = dataclasses.field(default_factory=dict)
    unauthorized: list[str] = dataclasses.field(default_factory=list)
    created: list[Stream] = dataclasses.field(default_factory=list)
    # Each channel joined, with the ids of the users who joined it.
    added: list[tuple[Stream, list[int]]] = dataclasses.field(default_factory=list)
    # Whether a channel created became a default one.
    defaults_changed: bool = False


async def resolve_principals(
    server: Server, acting: UserProfile, realm: Realm, principals: Sequence[str | int]
) -> list[UserProfile]:
    """The users that ``principals`` (ids, or addresses the acting user may see) name, once each."""
    from zulipd.actions.users import get_user, get_user_by_email

    users: dict[int, UserProfile] = {}
    for principal in principals:
        if isinstance(principal, str) and not is_storable_text(principal):
            raise JsonableError("No such user")
        if isinstance(principal, int):
            user = await get_user(server, realm, principal)
        else:
            user = await get_user_by_email(server, realm, principal, viewer=acting)
        if not user.is_active:
            raise JsonableError("User is deactivated")
        users.setdefault(user.id, user)
    return list(users.values())


def acts_only_for_self(acting: UserProfile, users: Sequence[UserProfile]) -> bool:
    """Whether every target is the acting user or one of their own bots (Zulip's rule for "others")."""
    return all(user.id == acting.id or (user.is_bot and user.bot_owner_id == acting.id) for user in users)


async def do_subscribe(
    server: Server,
    acting: UserProfile,
    realm: Realm,
    requests: Sequence[StreamRequest],
    principals: Sequence[str | int] | None,
    *,
    invite_only: bool = False,
    history_public_to_subscribers: bool | None = None,
    is_web_public: bool = False,
    is_default_stream: bool = False,
    stream_post_policy: int = StreamPostPolicy.EVERYONE,
    message_retention_days: int | None = None,
    group_settings: Mapping[str, SettingValue] | None = None,
    authorization_errors_fatal: bool = True,
) -> SubscribeResult:
    """Subscribe users (the acting user unless ``principals``) to channels, creating the missing ones.

    The channel options apply only to the channels this call creates.
    """
    if not requests:
        raise JsonableError("Nothing to do. Specify at least one channel.")
    names = [check_stream_name(request.name) for request in requests]
    users = await resolve_principals(server, acting, realm, principals) if principals else [acting]
    for_others = not all(user.id == acting.id for user in users)
    if for_others and acting.is_guest:
        raise JsonableError("Not allowed for guest users")
    now = datetime.fromtimestamp(server.clock.seconds(), UTC)

    async def subscribe(txn: Transaction) -> SubscribeResult:
        result = SubscribeResult()
        streams: dict[int, Stream] = {}
        colors: dict[int, str] = {}
        for request, name in zip(requests, names, strict=True):
            stream = await get_stream_by_name_txn(txn, realm.id, name)
            if stream is None:
                check_can_create_streams(acting, invite_only, is_web_public)
                if is_default_stream and not acting.is_realm_admin:
                    raise JsonableError("Insufficient permission")
                if is_default_stream and invite_only:
                    raise JsonableError("A default channel cannot be private.")
                if message_retention_days is not None and not acting.is_owner:
                    raise AccessDenied("Must be an organization owner")
                stream = await do_create_stream_txn(
                    txn,
                    realm,
                    acting,
                    name,
                    description=request.description,
                    invite_only=invite_only,
                    history_public_to_subscribers=history_public_to_subscribers,
                    is_web_public=is_web_public,
                    stream_post_policy=stream_post_policy,
                    message_retention_days=message_retention_days,
                    group_settings=group_settings,
                    now=now,
                )
                result.created.append(stream)
                if is_default_stream and await add_default_stream_txn(txn, realm.id, stream.id):
                    result.defaults_changed = True
            elif stream.id not in streams:
                subscription = await get_subscription_txn(txn, acting.id, stream.recipient_id)
                stream_access = access(acting, stream, subscription)
                # Joining a private channel needs a subscriber; nobody else, administrators included.
                may_join = (
                    stream_access.visible
                    and not stream.deactivated
                    and (stream_access.subscribed or not stream.invite_only)
                )
                if not may_join:
                    if authorization_errors_fatal:
                        raise JsonableError(f"Unable to access channel ({stream.name}).")
                    result.unauthorized.append(stream.name)
                    continue
            streams.setdefault(stream.id, stream)
            if request.color is not None:
                colors.setdefault(stream.id, request.color)
        for stream in streams.values():
            await _add_subscribers_txn(txn, realm, acting, stream, users, colors.get(stream.id), now, result)
        return result

    try:
        result = await server.pool.run_interaction("subscribe", subscribe)
    except sql_errors.UniqueViolation:
        # A concurrent request created one of the channels first: they exist now, so join them.
        result = await server.pool.run_interaction("subscribe", subscribe)
    await publish_subscribed(server, realm, result.created, result.added)
    if result.defaults_changed:
        await publish_default_streams(server, realm)
    return result


async def _add_subscribers_txn(
    txn: Transaction,
    realm: Realm,
    acting: UserProfile,
    stream: Stream,
    users: Sequence[UserProfile],
    color: str | None,
    now: datetime,
    result: SubscribeResult,
) -> None:
    to_add = []
    for user in users:
        subscription = await get_subscription_txn(txn, user.id, stream.recipient_id)
        if subscription is not None and subscription.active:
            result.already_subscribed.setdefault(str(user.id), []).append(stream.name)
        else:
            to_add.append(user)
            result.subscribed.setdefault(str(user.id), []).append(stream.name)
    if not to_add:
        return
    result.added.append((stream, [user.id for user in to_add]))
    await subscribe_txn(
        txn, [user.id for user in to_add], stream.recipient_id, [color or pick_color(stream.id)] * len(to_add), now
    )
    for user in to_add:
        await insert_audit_log_txn(
            txn, realm_id=realm.id, event_type="subscription_created", acting_user_id=acting.id,
            modified_user_id=user.id, extra_data={"stream_id": stream.id},
        )  # fmt: skip


async def subscribe_to_default_streams_txn(txn: Transaction, realm: Realm, user: UserProfile, now: datetime) -> None:
    """A new user joins the organization's default channels (archived or private ones never are)."""
    stream_ids = await default_stream_ids_txn(txn, realm.id)
    if not stream_ids:
        return
    for stream in await get_streams_by_ids_txn(txn, realm.id, stream_ids):
        if stream.deactivated or stream.invite_only:
            continue
        await subscribe_txn(txn, [user.id], stream.recipient_id, [pick_color(stream.id)], now)
        await insert_audit_log_txn(
            txn, realm_id=realm.id, event_type="subscription_created", acting_user_id=None,
            modified_user_id=user.id, extra_data={"stream_id": stream.id, "default_stream": True},
        )  # fmt: skip


async def do_unsubscribe(
    server: Server,
    acting: UserProfile,
    realm: Realm,
    names: Sequence[str],
    principals: Sequence[str | int] | None,
) -> tuple[list[str], list[str]]:
    """(removed, not_removed) channel names.

    Removing others takes an administrator, or a member of the channel's
    can_remove_subscribers_group; either must see the channel.
    """
    users = await resolve_principals(server, acting, realm, principals) if principals else [acting]
    removing_others = not acts_only_for_self(acting, users)
    if removing_others and acting.is_guest:
        raise JsonableError("Insufficient permission")

    gone: list[tuple[Stream, int]] = []

    async def unsubscribe(txn: Transaction) -> tuple[list[str], list[str]]:
        gone.clear()
        streams: list[Stream] = []
        for name in names:
            stream = await get_stream_by_name_txn(txn, realm.id, name.strip())
            subscription = await get_subscription_txn(txn, acting.id, stream.recipient_id) if stream else None
            if stream is None or not access(acting, stream, subscription).visible:
                raise StreamDoesNotExist.named(name)
            if stream.id not in {known.id for known in streams}:
                streams.append(stream)
        if removing_others and not acting.is_realm_admin:
            graph = await GroupGraph.load(txn, realm, datetime.fromtimestamp(server.clock.seconds(), UTC))
            permissions = Permissions(txn, graph, acting)
            config = CHANNEL_GROUP_SETTINGS["can_remove_subscribers_group"]
            for stream in streams:
                value = channel_setting(stream, graph.system_ids, "can_remove_subscribers_group")
                if not await permissions.has(value, allow_everyone_group=config.allow_everyone_group):
                    raise JsonableError("Insufficient permission")
        removed: list[str] = []
        not_removed: list[str] = []
        for stream in streams:
            for user in users:
                subscription = await get_subscription_txn(txn, user.id, stream.recipient_id)
                if subscription is not None and subscription.active:
                    await unsubscribe_txn(txn, [user.id], stream.recipient_id)
                    await insert_audit_log_txn(
                        txn, realm_id=realm.id, event_type="subscription_deactivated", acting_user_id=acting.id,
                        modified_user_id=user.id, extra_data={"stream_id": stream.id},
                    )  # fmt: skip
                    removed.append(stream.name)
                    gone.append((stream, user.id))
                else:
                    not_removed.append(stream.name)
        return removed, not_removed

    answer = await server.pool.run_interaction("unsubscribe", unsubscribe)
    await publish_unsubscribed(server, realm, gone)
    return answer


BOOLEAN_PROPERTIES = frozenset(
    {
        "is_muted",
        "in_home_view",  # the legacy inverse of is_muted
        "pin_to_top",
        "desktop_notifications",
        "audible_notifications",
        "push_notifications",
        "email_notifications",
        "wildcard_mentions_notify",
    }
)


@dataclasses.dataclass(frozen=True)
class PropertyChange:
    stream_id: int
    property: str
    value: Any


def check_property_change(change: PropertyChange) -> PropertyChange:
    """The change as stored (in_home_view becomes is_muted), if Zulip accepts it; else Zulip's error."""
    prop, value = change.property, change.value
    if prop == "color":
        if not isinstance(value, str):
            raise JsonableError("color is not a valid hex color code")
        return dataclasses.replace(change, value=check_color(value))
    if prop not in BOOLEAN_PROPERTIES:
        raise JsonableError(f"Unknown subscription property: {quotable(prop)}")
    if not isinstance(value, bool):
        raise JsonableError(f"{prop} is not a boolean")
    if prop == "in_home_view":
        return PropertyChange(change.stream_id, "is_muted", not value)
    return change


async def do_change_subscription_properties(
    server: Server, user: UserProfile, changes: Sequence[PropertyChange]
) -> None:
    """Check every change, then apply them all in one transaction: all or nothing."""
    checked = [check_property_change(change) for change in changes]
    targets: dict[int, Stream] = {}
    for change in checked:
        if change.stream_id not in targets:
            stream, stream_access = await get_visible_stream(server, user, change.stream_id)
            if not stream_access.subscribed:
                raise JsonableError(f"Not subscribed to channel ID {change.stream_id}")
            targets[change.stream_id] = stream

    async def apply(txn: Transaction) -> None:
        for change in checked:
            stream = targets[change.stream_id]
            subscription = await get_subscription_txn(txn, user.id, stream.recipient_id)
            if subscription is None or not subscription.active:
                raise JsonableError(f"Not subscribed to channel ID {change.stream_id}")
            await update_subscription_txn(txn, user.id, stream.recipient_id, change.property, change.value)

    await server.pool.run_interaction("subscription properties", apply)
    for change in checked:
        body = {"type": "subscription", "op": "update", "stream_id": change.stream_id,
                "property": change.property, "value": change.value}  # fmt: skip
        publish(server, body, [user.id], capability=archived_only(targets[change.stream_id]))


async def do_change_subscription_property(
    server: Server, user: UserProfile, stream: Stream, prop: str, value: Any
) -> tuple[str, Any]:
    """One personal setting of a subscribed channel; the property and value as stored."""
    change = check_property_change(PropertyChange(stream.id, prop, value))
    await do_change_subscription_properties(server, user, [change])
    return change.property, change.value


async def get_subscription_status(
    server: Server, acting: UserProfile, realm: Realm, user_id: int, stream_id: int
) -> bool:
    from zulipd.actions.users import get_user

    target = await get_user(server, realm, user_id)
    stream, _ = await get_visible_stream(server, acting, stream_id)
    subscription: Subscription | None = await server.pool.run_interaction(
        "subscription status", get_subscription_txn, target.id, stream.recipient_id
    )
    return subscription is not None and subscription.active
