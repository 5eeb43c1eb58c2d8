"""Channels: who may see, read, post to and join them, and creating and changing them.

The security model, as zulipd enforces it:
- A public channel is visible to every member; any non-guest may read its whole
  history and post to it without subscribing.
- A private channel exists, for a user, only if they are subscribed. Everyone
  else, administrators included, can neither see, read nor post to it, nor
  subscribe themselves. Subscribers see the whole history when
  history_public_to_subscribers is set, else only messages they received.
- Guests see only the channels they are subscribed to.
- Announcement-only channels (stream_post_policy 2) take posts from administrators only.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from zulipd.errors import AccessDenied, JsonableError
from zulipd.models import Realm, Role, Stream, StreamPostPolicy, Subscription, UserProfile
from zulipd.render import render_description
from zulipd.storage.audit import insert_audit_log_txn
from zulipd.storage.groups import system_group_ids_txn
from zulipd.storage.pool import Transaction
from zulipd.storage.streams import (
    add_default_stream_txn,
    default_stream_ids_txn,
    get_stream_by_name_txn,
    get_stream_txn,
    insert_stream_txn,
    list_streams_txn,
    remove_default_stream_txn,
    subscriptions_of_user_txn,
    update_stream_txn,
)

if TYPE_CHECKING:
    from zulipd.server import Server

MAX_NAME_LENGTH = 60
MAX_DESCRIPTION_LENGTH = 1024


class StreamDoesNotExist(JsonableError):
    code = "STREAM_DOES_NOT_EXIST"

    @classmethod
    def named(cls, name: str) -> StreamDoesNotExist:
        return cls(f"Channel '{name}' does not exist", stream=name)

    @classmethod
    def with_id(cls, stream_id: int) -> StreamDoesNotExist:
        return cls(f"Channel with ID '{stream_id}' does not exist", stream_id=stream_id)


def invalid_stream_id() -> JsonableError:
    return JsonableError("Invalid channel ID")


@dataclasses.dataclass(frozen=True)
class Access:
    """What one user may do with one channel."""

    visible: bool
    # "full": the whole history; "own": only messages the user received; "none".
    history: str
    subscribed: bool


def access(user: UserProfile, stream: Stream, subscription: Subscription | None) -> Access:
    subscribed = subscription is not None and subscription.active
    if stream.deactivated and not subscribed and stream.invite_only:
        return Access(False, "none", False)
    if subscribed:
        history = "full" if stream.history_public_to_subscribers else "own"
        return Access(True, history, True)
    if stream.invite_only or user.is_guest:
        return Access(False, "none", False)
    return Access(True, "full", False)


def check_can_post(user: UserProfile, stream: Stream, stream_access: Access) -> None:
    if not stream_access.visible:
        raise StreamDoesNotExist.named(stream.name)
    if stream.deactivated:
        raise JsonableError("This channel is archived.")
    if user.is_guest and not stream_access.subscribed:
        raise StreamDoesNotExist.named(stream.name)
    policy = stream.stream_post_policy
    if policy == StreamPostPolicy.ADMINS and not user.is_realm_admin:
        raise JsonableError("Only organization administrators can send to this channel.")
    if policy == StreamPostPolicy.MODERATORS and user.role > Role.MODERATOR:
        raise JsonableError("Only organization administrators and moderators can send to this channel.")
    if policy == StreamPostPolicy.RESTRICT_NEW_MEMBERS and user.is_guest:
        raise JsonableError("New members cannot send to this channel.")


def check_stream_name(name: str) -> str:
    name = name.strip()
    if not name:
        raise JsonableError("Channel name can't be empty.")
    if len(name) > MAX_NAME_LENGTH:
        raise JsonableError(f"Channel name too long (limit: {MAX_NAME_LENGTH} characters).")
    if any(ord(character) < 32 or 0xFFF0 <= ord(character) <= 0xFFFF for character in name):
        raise JsonableError(f"Invalid character in channel name, at position {_bad_position(name)}.")
    return name


def _bad_position(name: str) -> int:
    for position, character in enumerate(name, start=1):
        if ord(character) < 32 or 0xFFF0 <= ord(character) <= 0xFFFF:
            return position
    return 0


async def subscriptions_by_recipient(server: Server, user: UserProfile) -> dict[int, Subscription]:
    subscriptions = await server.pool.run_interaction("subscriptions", subscriptions_of_user_txn, user.id, False)
    return {subscription.recipient_id: subscription for subscription in subscriptions}


async def get_visible_stream(server: Server, user: UserProfile, stream_id: int) -> tuple[Stream, Access]:
    """A channel by id, if the user may see it; STREAM_DOES_NOT_EXIST otherwise (the same answer either way)."""

    async def load(txn: Transaction) -> tuple[Stream | None, Subscription | None]:
        from zulipd.storage.streams import get_subscription_txn

        stream = await get_stream_txn(txn, user.realm_id, stream_id)
        if stream is None:
            return None, None
        return stream, await get_subscription_txn(txn, user.id, stream.recipient_id)

    stream, subscription = await server.pool.run_interaction("get stream", load)
    if stream is None:
        raise StreamDoesNotExist.with_id(stream_id)
    stream_access = access(user, stream, subscription)
    if not stream_access.visible:
        raise StreamDoesNotExist.with_id(stream_id)
    return stream, stream_access


async def get_visible_stream_by_name(server: Server, user: UserProfile, name: str) -> tuple[Stream, Access]:
    async def load(txn: Transaction) -> tuple[Stream | None, Subscription | None]:
        from zulipd.storage.streams import get_subscription_txn

        stream = await get_stream_by_name_txn(txn, user.realm_id, name.strip())
        if stream is None:
            return None, None
        return stream, await get_subscription_txn(txn, user.id, stream.recipient_id)

    stream, subscription = await server.pool.run_interaction("get stream by name", load)
    if stream is None:
        raise StreamDoesNotExist.named(name)
    stream_access = access(user, stream, subscription)
    if not stream_access.visible:
        raise StreamDoesNotExist.named(name)
    return stream, stream_access


async def visible_streams(server: Server, user: UserProfile) -> list[tuple[Stream, Access]]:
    async def load(txn: Transaction) -> tuple[list[Stream], list[Subscription]]:
        return await list_streams_txn(txn, user.realm_id), await subscriptions_of_user_txn(txn, user.id, False)

    streams, subscriptions = await server.pool.run_interaction("visible streams", load)
    by_recipient = {subscription.recipient_id: subscription for subscription in subscriptions}
    result = []
    for stream in streams:
        stream_access = access(user, stream, by_recipient.get(stream.recipient_id))
        if stream_access.visible:
            result.append((stream, stream_access))
    return result


async def system_groups(server: Server, realm_id: int) -> dict[str, int]:
    return await server.pool.run_interaction("system groups", system_group_ids_txn, realm_id)


def default_group_settings(groups: dict[str, int], creator_id: int | None, post_policy: int) -> dict[str, Any]:
    """Zulip 10's group settings for a new channel."""
    send = {
        StreamPostPolicy.EVERYONE: "role:everyone",
        StreamPostPolicy.ADMINS: "role:administrators",
        StreamPostPolicy.RESTRICT_NEW_MEMBERS: "role:fullmembers",
        StreamPostPolicy.MODERATORS: "role:moderators",
    }[StreamPostPolicy(post_policy)]
    return {
        "can_add_subscribers_group": groups["role:nobody"],
        "can_remove_subscribers_group": groups["role:administrators"],
        "can_administer_channel_group": {
            "direct_members": [creator_id] if creator_id is not None else [],
            "direct_subgroups": [],
        },
        "can_send_message_group": groups[send],
        "can_subscribe_group": groups["role:nobody"],
    }


async def do_create_stream_txn(
    txn: Transaction,
    realm: Realm,
    creator: UserProfile | None,
    name: str,
    *,
    description: str = "",
    invite_only: bool = False,
    history_public_to_subscribers: bool | None = None,
    is_web_public: bool = False,
    stream_post_policy: int = StreamPostPolicy.EVERYONE,
    message_retention_days: int | None = None,
) -> Stream:
    name = check_stream_name(name)
    if len(description) > MAX_DESCRIPTION_LENGTH:
        raise JsonableError(f"Channel description too long (limit: {MAX_DESCRIPTION_LENGTH} characters).")
    if history_public_to_subscribers is None:
        history_public_to_subscribers = not invite_only
    if not invite_only:
        history_public_to_subscribers = True  # public channels always share their history
    groups = await system_group_ids_txn(txn, realm.id)
    stream = await insert_stream_txn(
        txn,
        realm_id=realm.id,
        name=name,
        description=description,
        rendered_description=render_description(description),
        invite_only=invite_only,
        history_public_to_subscribers=history_public_to_subscribers,
        is_web_public=is_web_public,
        stream_post_policy=stream_post_policy,
        message_retention_days=message_retention_days,
        creator_id=creator.id if creator else None,
        settings=default_group_settings(groups, creator.id if creator else None, stream_post_policy),
    )
    await insert_audit_log_txn(
        txn,
        realm_id=realm.id,
        event_type="channel_created",
        acting_user_id=creator.id if creator else None,
        modified_user_id=None,
        extra_data={"stream_id": stream.id, "name": name, "invite_only": invite_only},
    )
    return stream


def check_can_create_streams(user: UserProfile, invite_only: bool, is_web_public: bool) -> None:
    if user.is_guest:
        raise JsonableError("Not allowed for guest users")
    if is_web_public and not user.is_realm_admin:
        raise JsonableError("Insufficient permission")


def check_can_administer(user: UserProfile, stream: Stream, stream_access: Access) -> None:
    """Changing a channel: an administrator for public channels; for private ones, a subscribed administrator."""
    if not stream_access.visible:
        raise StreamDoesNotExist.with_id(stream.id)
    if not user.is_realm_admin:
        administrators = stream.settings.get("can_administer_channel_group")
        if not (isinstance(administrators, dict) and user.id in administrators.get("direct_members", [])):
            raise AccessDenied("Must be an organization administrator")
    if stream.invite_only and not stream_access.subscribed:
        raise StreamDoesNotExist.with_id(stream.id)


async def do_update_stream(
    server: Server, acting: UserProfile, stream: Stream, changes: dict[str, Any]
) -> tuple[Stream, dict[str, Any]]:
    """Apply ``changes`` to a channel in one transaction; return it and what changed."""

    async def update(txn: Transaction) -> tuple[Stream, dict[str, Any]]:
        current = await get_stream_txn(txn, stream.realm_id, stream.id)
        assert current is not None
        values = dict(changes)
        if "name" in values:
            values["name"] = check_stream_name(values["name"])
            other = await get_stream_by_name_txn(txn, stream.realm_id, values["name"])
            if other is not None and other.id != stream.id:
                raise JsonableError(f"Channel name '{values['name']}' is already taken.")
        if "description" in values:
            if len(values["description"]) > MAX_DESCRIPTION_LENGTH:
                raise JsonableError(f"Channel description too long (limit: {MAX_DESCRIPTION_LENGTH} characters).")
            values["rendered_description"] = render_description(values["description"])
        if values.get("invite_only") is False:
            values["history_public_to_subscribers"] = True
        if values.get("invite_only") is True:
            values["is_web_public"] = False
        changed = {key: value for key, value in values.items() if getattr(current, key, None) != value}
        if not changed:
            return current, {}
        if "stream_post_policy" in changed:
            groups = await system_group_ids_txn(txn, stream.realm_id)
            changed_settings = default_group_settings(groups, current.creator_id, changed["stream_post_policy"])
            await update_stream_txn(txn, current, settings={"can_send_message_group": changed_settings[
                "can_send_message_group"]})  # fmt: skip
        updated = await update_stream_txn(txn, current, **changed)
        for key, value in changed.items():
            if key == "rendered_description":
                continue
            await insert_audit_log_txn(
                txn,
                realm_id=stream.realm_id,
                event_type="channel_property_changed",
                acting_user_id=acting.id,
                modified_user_id=None,
                extra_data={"stream_id": stream.id, "property": key, "old_value": getattr(current, key),
                            "new_value": value},
            )  # fmt: skip
        return updated, changed

    return await server.pool.run_interaction("update stream", update)


async def do_archive_stream(server: Server, acting: UserProfile, stream: Stream) -> None:
    async def archive(txn: Transaction) -> None:
        await update_stream_txn(txn, stream, deactivated=True)
        await remove_default_stream_txn(txn, stream.realm_id, stream.id)
        await insert_audit_log_txn(
            txn, realm_id=stream.realm_id, event_type="channel_deactivated", acting_user_id=acting.id,
            modified_user_id=None, extra_data={"stream_id": stream.id},
        )  # fmt: skip

    await server.pool.run_interaction("archive stream", archive)


async def default_stream_ids(server: Server, realm_id: int) -> list[int]:
    return await server.pool.run_interaction("default streams", default_stream_ids_txn, realm_id)


async def do_add_default_stream(server: Server, stream: Stream) -> None:
    if stream.invite_only:
        raise JsonableError("Private channels cannot be made default.")
    await server.pool.run_interaction("add default stream", add_default_stream_txn, stream.realm_id, stream.id)


async def do_remove_default_stream(server: Server, stream: Stream) -> None:
    await server.pool.run_interaction("remove default stream", remove_default_stream_txn, stream.realm_id, stream.id)


STREAM_COLORS = [
    "#76ce90", "#fae589", "#a6c7e5", "#e79ab5", "#bfd56f", "#f4ae55", "#b0a5fd", "#addfe5", "#f5ce6e",
    "#c2726a", "#94c849", "#bd86e5", "#ee7e4a", "#a6dcbf", "#95a5fd", "#53a063", "#9987e1", "#e4523d",
    "#c2c2c2", "#4f8de4", "#c6a8ad", "#e7cc4d", "#c8bebf", "#a47462",
]  # fmt: skip


def pick_color(stream_id: int) -> str:
    return STREAM_COLORS[stream_id % len(STREAM_COLORS)]


_COLOR = re.compile(r"^#[0-9a-fA-F]{6}$")


def check_color(color: str) -> str:
    if not _COLOR.match(color):
        raise JsonableError("color is not a valid hex color code")
    return color.lower()


def stream_ids_of(streams: Sequence[tuple[Stream, Access]]) -> list[int]:
    return [stream.id for stream, _ in streams]
