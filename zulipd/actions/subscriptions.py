"""Subscribing and unsubscribing users, and personal channel settings."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from zulipd.actions.streams import (
    StreamDoesNotExist,
    access,
    check_can_create_streams,
    check_color,
    do_create_stream_txn,
    pick_color,
)
from zulipd.errors import JsonableError
from zulipd.models import Realm, Stream, StreamPostPolicy, UserProfile
from zulipd.storage.audit import insert_audit_log_txn
from zulipd.storage.pool import Transaction
from zulipd.storage.streams import (
    add_default_stream_txn,
    get_stream_by_name_txn,
    get_subscription_txn,
    subscribe_txn,
    unsubscribe_txn,
    update_subscription_txn,
)
from zulipd.storage.users import get_user_by_email_txn, get_user_by_id_txn

if TYPE_CHECKING:
    from zulipd.server import Server


@dataclasses.dataclass(frozen=True)
class StreamRequest:
    name: str
    description: str = ""


@dataclasses.dataclass
class SubscribeResult:
    subscribed: dict[str, list[str]] = dataclasses.field(default_factory=dict)
    already_subscribed: dict[str, list[str]] = dataclasses.field(default_factory=dict)
    unauthorized: list[str] = dataclasses.field(default_factory=list)
    created: list[Stream] = dataclasses.field(default_factory=list)


async def resolve_principals(txn: Transaction, realm: Realm, principals: Sequence[str | int]) -> list[UserProfile]:
    users = []
    for principal in principals:
        if isinstance(principal, int):
            user = await get_user_by_id_txn(txn, realm.id, principal)
        else:
            user = await get_user_by_email_txn(txn, realm.id, principal)
        if user is None or not user.is_active:
            raise JsonableError("No such user")
        users.append(user)
    return users


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
    authorization_errors_fatal: bool = True,
) -> SubscribeResult:
    """Subscribe users (the acting user unless ``principals``) to channels, creating the missing ones."""
    if not requests:
        raise JsonableError("Nothing to do. Specify at least one channel.")
    names = [request.name.strip() for request in requests]

    async def subscribe(txn: Transaction) -> SubscribeResult:
        result = SubscribeResult()
        users = await resolve_principals(txn, realm, principals) if principals is not None else [acting]
        for_others = any(user.id != acting.id for user in users)
        if for_others and acting.is_guest:
            raise JsonableError("Not allowed for guest users")
        streams: list[Stream] = []
        for request, name in zip(requests, names, strict=True):
            stream = await get_stream_by_name_txn(txn, realm.id, name)
            if stream is None:
                check_can_create_streams(acting, invite_only, is_web_public)
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
                )
                result.created.append(stream)
                if is_default_stream:
                    if not acting.is_realm_admin:
                        raise JsonableError("Insufficient permission")
                    await add_default_stream_txn(txn, realm.id, stream.id)
                streams.append(stream)
                continue
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
                    raise JsonableError(f"Unable to access channel ({name}).")
                result.unauthorized.append(name)
                continue
            streams.append(stream)
        now = datetime.now(UTC)
        for stream in streams:
            to_add = []
            for user in users:
                subscription = await get_subscription_txn(txn, user.id, stream.recipient_id)
                if subscription is not None and subscription.active:
                    result.already_subscribed.setdefault(str(user.id), []).append(stream.name)
                else:
                    to_add.append(user)
                    result.subscribed.setdefault(str(user.id), []).append(stream.name)
            if to_add:
                await subscribe_txn(
                    txn, [user.id for user in to_add], stream.recipient_id, [pick_color(stream.id)] * len(to_add), now
                )
                for user in to_add:
                    await insert_audit_log_txn(
                        txn, realm_id=realm.id, event_type="subscription_created", acting_user_id=acting.id,
                        modified_user_id=user.id, extra_data={"stream_id": stream.id},
                    )  # fmt: skip
        return result

    return await server.pool.run_interaction("subscribe", subscribe)


async def do_unsubscribe(
    server: Server,
    acting: UserProfile,
    realm: Realm,
    names: Sequence[str],
    principals: Sequence[str | int] | None,
) -> tuple[list[str], list[str]]:
    """(removed, not_removed) channel names."""

    async def unsubscribe(txn: Transaction) -> tuple[list[str], list[str]]:
        users = await resolve_principals(txn, realm, principals) if principals is not None else [acting]
        if any(user.id != acting.id for user in users) and not acting.is_realm_admin:
            raise JsonableError("Insufficient permission")
        removed: list[str] = []
        not_removed: list[str] = []
        for name in names:
            stream = await get_stream_by_name_txn(txn, realm.id, name.strip())
            subscription = await get_subscription_txn(txn, acting.id, stream.recipient_id) if stream else None
            if stream is None or not access(acting, stream, subscription).visible:
                raise StreamDoesNotExist.named(name)
            for user in users:
                subscription = await get_subscription_txn(txn, user.id, stream.recipient_id)
                if subscription is not None and subscription.active:
                    await unsubscribe_txn(txn, [user.id], stream.recipient_id)
                    await insert_audit_log_txn(
                        txn, realm_id=realm.id, event_type="subscription_deactivated", acting_user_id=acting.id,
                        modified_user_id=user.id, extra_data={"stream_id": stream.id},
                    )  # fmt: skip
                    removed.append(stream.name)
                else:
                    not_removed.append(stream.name)
        return removed, not_removed

    return await server.pool.run_interaction("unsubscribe", unsubscribe)


SUBSCRIPTION_PROPERTIES: dict[str, Any] = {
    "color": str,
    "is_muted": bool,
    "in_home_view": bool,  # the legacy inverse of is_muted
    "pin_to_top": bool,
    "desktop_notifications": bool,
    "audible_notifications": bool,
    "push_notifications": bool,
    "email_notifications": bool,
    "wildcard_mentions_notify": bool,
}


async def do_change_subscription_property(
    server: Server, user: UserProfile, stream: Stream, prop: str, value: Any
) -> tuple[str, Any]:
    """Set one personal setting of a subscribed channel; return the property and value as stored."""
    if prop not in SUBSCRIPTION_PROPERTIES:
        raise JsonableError(f"Unknown subscription property: {prop}")
    expected = SUBSCRIPTION_PROPERTIES[prop]
    if not isinstance(value, expected) or (expected is int and isinstance(value, bool)):
        raise JsonableError(f"{prop} is not a {'boolean' if expected is bool else 'string'}")
    if prop == "color":
        value = check_color(value)
    if prop == "in_home_view":
        prop, value = "is_muted", not value

    async def change(txn: Transaction) -> None:
        subscription = await get_subscription_txn(txn, user.id, stream.recipient_id)
        if subscription is None or not subscription.active:
            raise JsonableError(f"Not subscribed to channel ID {stream.id}")
        await update_subscription_txn(txn, user.id, stream.recipient_id, prop, value)

    await server.pool.run_interaction("subscription property", change)
    return prop, value
