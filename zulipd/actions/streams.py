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
import unicodedata
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from zulipd.actions.groups import (
    ADMINISTRATORS,
    EVERYONE,
    FULL_MEMBERS,
    INTERNET,
    MODERATORS,
    NOBODY,
    AnonymousGroup,
    GroupGraph,
    Permissions,
    PreviousSettingValueMismatched,
    SettingChange,
    SettingValue,
    active_users,
    api_setting_values,
    group_in_realm,
    normalize_setting_value,
    potential_subgroups,
    same_setting_value,
    setting_value_from_json,
    setting_value_to_json,
)
from zulipd.actions.notify import publish
from zulipd.errors import JsonableError
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
    is_storable_text,
    list_streams_txn,
    remove_default_stream_txn,
    stream_and_subscription_txn,
    subscriber_ids_txn,
    subscriptions_of_user_txn,
    update_stream_txn,
)
from zulipd.storage.users import list_users_txn

if TYPE_CHECKING:
    from zulipd.server import Server

MAX_NAME_LENGTH = 60
MAX_DESCRIPTION_LENGTH = 1024

# Zulip 10's client capability (feature level 315): the client keeps archived channels, marked
# is_archived, in its state. Without it, archived channels are left out of the register state,
# archiving is told as a delete, and no stream event tells of an archived channel.
ARCHIVED_CHANNELS = "archived_channels"


class StreamDoesNotExist(JsonableError):
    """Zulip's STREAM_DOES_NOT_EXIST, naming the channel: what sending to (or leaving) a channel answers
    when it does not exist or the user may not see it."""

    code = "STREAM_DOES_NOT_EXIST"

    @classmethod
    def named(cls, name: str) -> StreamDoesNotExist:
        name = quotable(name)
        return StreamDoesNotExist(f"Channel '{name}' does not exist", stream=name)

    @classmethod
    def with_id(cls, stream_id: int) -> StreamDoesNotExist:
        return StreamDoesNotExist(f"Channel with ID '{stream_id}' does not exist", stream_id=stream_id)


class InvalidChannel(StreamDoesNotExist):
    """Zulip's plain answer elsewhere for the same case: BAD_REQUEST "Invalid channel ID" or
    "Invalid channel name 'x'", with no other field (the specification allows no other).

    It is a StreamDoesNotExist so that the routes that answer in that form instead
    (sending a message) catch both with one class and re-raise their own.
    """

    code = "BAD_REQUEST"

    @classmethod
    def by_id(cls) -> InvalidChannel:
        return cls("Invalid channel ID")

    @classmethod
    def by_name(cls, name: str) -> InvalidChannel:
        return cls(f"Invalid channel name '{quotable(name)}'")


def invalid_stream_id() -> JsonableError:
    return InvalidChannel.by_id()


class CannotAdministerChannel(JsonableError):
    code = "CANNOT_ADMINISTER_CHANNEL"

    def __init__(self) -> None:
        super().__init__("You do not have permission to administer this channel.")


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


# Unicode's 66 noncharacters: U+FDD0..U+FDEF, and the last two code points of every plane.
_NONCHARACTERS = frozenset(range(0xFDD0, 0xFDF0)) | frozenset(
    plane + offset for plane in range(0, 0x110000, 0x10000) for offset in (0xFFFE, 0xFFFF)
)


def unprintable_position(text: str) -> int | None:
    """The 1-based position of the first control character, lone surrogate or noncharacter, as Zulip counts."""
    for position, character in enumerate(text, start=1):
        if unicodedata.category(character) in ("Cc", "Cs") or ord(character) in _NONCHARACTERS:
            return position
    return None


def quotable(text: str) -> str:
    """Client text fit to quote back in an answer: a lone surrogate (possible through JSON) cannot be
    encoded, so it is shown escaped, as ``\\ud800``."""
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


def check_stream_name(name: str) -> str:
    """The name without surrounding white space, if Zulip accepts it; else Zulip's error."""
    name = name.strip()
    if not name:
        raise JsonableError("Channel name can't be empty.")
    if len(name) > MAX_NAME_LENGTH:
        raise JsonableError(f"Channel name too long (limit: {MAX_NAME_LENGTH} characters).")
    position = unprintable_position(name)
    if position is not None:
        raise JsonableError(f"Invalid character in channel name, at position {position}.")
    return name


def check_description(description: str) -> str:
    # Zulip keeps descriptions on one line.
    description = description.replace("\n", " ")
    if len(description) > MAX_DESCRIPTION_LENGTH:
        raise JsonableError(f"Channel description too long (limit: {MAX_DESCRIPTION_LENGTH} characters).")
    if not is_storable_text(description):
        # NUL, or a lone surrogate (possible through JSON): PostgreSQL cannot hold either.
        raise JsonableError("Invalid character in channel description.")
    return description


async def subscriptions_by_recipient(server: Server, user: UserProfile) -> dict[int, Subscription]:
    subscriptions = await server.pool.run_interaction("subscriptions", subscriptions_of_user_txn, user.id, False)
    return {subscription.recipient_id: subscription for subscription in subscriptions}


async def _stream_and_subscription(
    server: Server, user: UserProfile, cached: bool, *, stream_id: int | None = None, name: str | None = None
) -> tuple[Stream | None, Subscription | None]:
    if cached:
        return await server.channel_access.lookup(user, stream_id=stream_id, name=name)
    return await server.pool.run_reads(
        "get stream", stream_and_subscription_txn, user.realm_id, user.id, stream_id=stream_id, name=name
    )


async def get_visible_stream(
    server: Server, user: UserProfile, stream_id: int, *, cached: bool = False
) -> tuple[Stream, Access]:
    """A channel by id, if the user may see it; InvalidChannel otherwise (the same answer either way).

    ``cached``: through the channel access cache, for sending (its channel may lag on what
    no send needs, as ``first_message_id``).
    """
    stream, subscription = await _stream_and_subscription(server, user, cached, stream_id=stream_id)
    if stream is None:
        raise InvalidChannel.by_id()
    stream_access = access(user, stream, subscription)
    if not stream_access.visible:
        raise InvalidChannel.by_id()
    return stream, stream_access


async def get_visible_stream_by_name(
    server: Server, user: UserProfile, name: str, *, cached: bool = False
) -> tuple[Stream, Access]:
    """A channel by name, any case, if the user may see it; InvalidChannel otherwise (``cached`` as above)."""
    stream, subscription = await _stream_and_subscription(server, user, cached, name=name.strip())
    if stream is None:
        raise InvalidChannel.by_name(name)
    stream_access = access(user, stream, subscription)
    if not stream_access.visible:
        raise InvalidChannel.by_name(name)
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


async def subscribed_recipient_ids(server: Server, user_id: int) -> list[int]:
    """The recipients of the channels a user is subscribed to now."""
    subscriptions = await server.pool.run_interaction("subscriptions", subscriptions_of_user_txn, user_id, True)
    return [subscription.recipient_id for subscription in subscriptions]


async def subscriber_ids(server: Server, streams: Sequence[Stream]) -> dict[int, list[int]]:
    """Each channel's active subscribers (active users only), by channel id."""
    by_recipient = await server.pool.run_interaction(
        "subscribers", subscriber_ids_txn, [stream.recipient_id for stream in streams]
    )
    return {stream.id: by_recipient[stream.recipient_id] for stream in streams}


async def system_groups(server: Server, realm_id: int) -> dict[str, int]:
    return await server.pool.run_interaction("system groups", system_group_ids_txn, realm_id)


@dataclasses.dataclass(frozen=True)
class ChannelSettingConfig:
    # A system group's name, or CHANNEL_CREATOR.
    default: str
    allow_everyone_group: bool


# A default meaning "an anonymous group of the channel's creator" (or "role:nobody" without one).
CHANNEL_CREATOR = "channel_creator"

# Zulip 10's channel permission settings, in its order, with its defaults for a new channel.
CHANNEL_GROUP_SETTINGS: dict[str, ChannelSettingConfig] = {
    "can_add_subscribers_group": ChannelSettingConfig(NOBODY, allow_everyone_group=False),
    "can_administer_channel_group": ChannelSettingConfig(CHANNEL_CREATOR, allow_everyone_group=False),
    "can_remove_subscribers_group": ChannelSettingConfig(ADMINISTRATORS, allow_everyone_group=True),
    "can_send_message_group": ChannelSettingConfig(EVERYONE, allow_everyone_group=True),
    "can_subscribe_group": ChannelSettingConfig(NOBODY, allow_everyone_group=False),
}

# Posting is enforced through stream_post_policy, so can_send_message_group takes the
# groups that policy can express, and only those: a value zulipd would not enforce is refused.
POST_POLICY_GROUPS: dict[str, StreamPostPolicy] = {
    EVERYONE: StreamPostPolicy.EVERYONE,
    ADMINISTRATORS: StreamPostPolicy.ADMINS,
    FULL_MEMBERS: StreamPostPolicy.RESTRICT_NEW_MEMBERS,
    MODERATORS: StreamPostPolicy.MODERATORS,
}
_POLICY_GROUP = {policy: name for name, policy in POST_POLICY_GROUPS.items()}


def default_group_settings(groups: dict[str, int], creator_id: int | None, post_policy: int) -> dict[str, Any]:
    """Zulip 10's group settings for a new channel, as stored."""
    settings: dict[str, Any] = {}
    for name, config in CHANNEL_GROUP_SETTINGS.items():
        if config.default == CHANNEL_CREATOR:
            members = [creator_id] if creator_id is not None else []
            settings[name] = {"direct_members": members, "direct_subgroups": []}
        else:
            settings[name] = groups[config.default]
    settings["can_send_message_group"] = groups[_POLICY_GROUP[StreamPostPolicy(post_policy)]]
    return settings


def channel_setting(stream: Stream, groups: Mapping[str, int], setting_name: str) -> SettingValue:
    """A channel's current value of a permission setting (its default if never stored)."""
    stored = stream.settings.get(setting_name)
    if stored is not None:
        return setting_value_from_json(stored)
    config = CHANNEL_GROUP_SETTINGS[setting_name]
    if config.default == CHANNEL_CREATOR:
        return AnonymousGroup((stream.creator_id,)) if stream.creator_id is not None else groups[NOBODY]
    return groups[config.default]


async def check_channel_setting_value(
    txn: Transaction, graph: GroupGraph, setting_name: str, value: SettingValue
) -> SettingValue:
    """A valid value for a channel setting, normalized; else Zulip's error."""
    config = CHANNEL_GROUP_SETTINGS[setting_name]
    value = normalize_setting_value(graph, value)
    if isinstance(value, int):
        group = group_in_realm(graph, value, allow_deactivated=False)
        refused = [INTERNET] + ([] if config.allow_everyone_group else [EVERYONE])
        if group.is_system_group and group.name in refused:
            raise JsonableError(f"'{setting_name}' setting cannot be set to '{group.name}' group.")
    else:
        members = await active_users(txn, graph.realm, value.direct_members)
        subgroups = potential_subgroups(graph, value.direct_subgroups)
        value = AnonymousGroup(
            tuple(sorted(user.id for user in members)), tuple(sorted(group.id for group in subgroups))
        )
    if setting_name == "can_send_message_group":
        post_policy_for(graph, value)
    return value


def post_policy_for(graph: GroupGraph, value: SettingValue) -> StreamPostPolicy:
    group = graph.get(value) if isinstance(value, int) else None
    if group is None or not group.is_system_group or group.name not in POST_POLICY_GROUPS:
        raise JsonableError(
            "'can_send_message_group' can only be one of the groups role:everyone, role:fullmembers, "
            "role:moderators and role:administrators on this server."
        )
    return POST_POLICY_GROUPS[group.name]


def _now(server: Server) -> datetime:
    return datetime.fromtimestamp(server.clock.seconds(), UTC)


async def api_channel_settings(server: Server, realm: Realm, streams: Sequence[Stream]) -> dict[int, dict[str, Any]]:
    """Each channel's permission settings as the API shows them: anonymous groups list active users only."""

    async def load(txn: Transaction) -> dict[int, dict[str, Any]]:
        groups = await system_group_ids_txn(txn, realm.id)
        values = {
            stream.id: {name: channel_setting(stream, groups, name) for name in CHANNEL_GROUP_SETTINGS}
            for stream in streams
        }
        if not any(isinstance(value, AnonymousGroup) for settings in values.values() for value in settings.values()):
            return {stream_id: _as_json(settings) for stream_id, settings in values.items()}
        graph = await GroupGraph.load(txn, realm, _now(server))
        shown = await api_setting_values(txn, graph, [value for item in values.values() for value in item.values()])
        return {
            stream_id: _as_json({name: shown[value] for name, value in settings.items()})
            for stream_id, settings in values.items()
        }

    return await server.pool.run_interaction("channel settings", load)


def _as_json(settings: Mapping[str, SettingValue]) -> dict[str, Any]:
    return {name: setting_value_to_json(value) for name, value in settings.items()}


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
    group_settings: Mapping[str, SettingValue] | None = None,
    now: datetime | None = None,
) -> Stream:
    """Create a channel; ``group_settings`` override Zulip's defaults and are checked here."""
    name = check_stream_name(name)
    description = check_description(description)
    if history_public_to_subscribers is None:
        history_public_to_subscribers = not invite_only
    if not invite_only:
        history_public_to_subscribers = True  # public channels always share their history
    groups = await system_group_ids_txn(txn, realm.id)
    settings = default_group_settings(groups, creator.id if creator else None, stream_post_policy)
    if group_settings:
        graph = await GroupGraph.load(txn, realm, now or datetime.now(UTC))
        for setting_name, value in group_settings.items():
            checked = await check_channel_setting_value(txn, graph, setting_name, value)
            settings[setting_name] = setting_value_to_json(checked)
            if setting_name == "can_send_message_group":
                stream_post_policy = post_policy_for(graph, checked)
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
        settings=settings,
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


async def has_channel_permission(
    server: Server, realm: Realm, user: UserProfile, stream: Stream, setting_name: str
) -> bool:
    """Whether the user is in the channel's group-setting value, directly or through groups."""
    config = CHANNEL_GROUP_SETTINGS[setting_name]

    async def check(txn: Transaction) -> bool:
        graph = await GroupGraph.load(txn, realm, _now(server))
        value = channel_setting(stream, graph.system_ids, setting_name)
        return await Permissions(txn, graph, user).has(value, allow_everyone_group=config.allow_everyone_group)

    return await server.pool.run_interaction("channel permission", check)


async def check_can_administer(
    server: Server, realm: Realm, user: UserProfile, stream: Stream, stream_access: Access
) -> None:
    """Changing or archiving a channel: an administrator, or a member of can_administer_channel_group;
    either must see the channel (for a private one: be subscribed)."""
    if not stream_access.visible or (stream.invite_only and not stream_access.subscribed):
        raise InvalidChannel.by_id()
    if user.is_realm_admin:
        return
    if not await has_channel_permission(server, realm, user, stream, "can_administer_channel_group"):
        raise CannotAdministerChannel()


async def do_update_stream(
    server: Server,
    realm: Realm,
    acting: UserProfile,
    stream: Stream,
    changes: dict[str, Any],
    setting_changes: Mapping[str, SettingChange] | None = None,
    *,
    make_default: bool | None = None,
) -> tuple[Stream, dict[str, Any]]:
    """Apply ``changes`` (columns), ``setting_changes`` (group settings) and ``make_default`` (whether
    it is a default channel) to a channel in one transaction; return it and what changed."""
    setting_changes = dict(setting_changes or {})
    defaults_changed = False

    async def update(txn: Transaction) -> tuple[Stream, dict[str, Any]]:
        nonlocal defaults_changed
        current = await get_stream_txn(txn, stream.realm_id, stream.id)
        assert current is not None
        # As in Zulip, taking a channel out of the defaults is told even when it was not in them.
        defaults_changed = make_default is False
        if make_default is False:
            await remove_default_stream_txn(txn, stream.realm_id, stream.id)
        values = dict(changes)
        if "name" in values:
            values["name"] = check_stream_name(values["name"])
            if values["name"] == current.name:
                raise JsonableError("Channel already has that name.")
            other = await get_stream_by_name_txn(txn, stream.realm_id, values["name"])
            if other is not None and other.id != stream.id:
                raise JsonableError("Channel name already in use.")
        if "description" in values:
            values["description"] = check_description(values["description"])
            values["rendered_description"] = render_description(values["description"])
        if values.get("invite_only") is False:
            values["history_public_to_subscribers"] = True
        if values.get("invite_only") is True:
            values["is_web_public"] = False
        groups = await system_group_ids_txn(txn, stream.realm_id)
        new_settings: dict[str, SettingValue] = {}
        if "stream_post_policy" in values:
            new_settings["can_send_message_group"] = groups[_POLICY_GROUP[values["stream_post_policy"]]]
        if setting_changes:
            graph = await GroupGraph.load(txn, realm, _now(server))
            currents = {name: channel_setting(current, groups, name) for name in setting_changes}
            shown = await api_setting_values(txn, graph, currents.values())
            for setting_name, change in setting_changes.items():
                current_value = shown[currents[setting_name]]
                if change.old is not None and not same_setting_value(
                    normalize_setting_value(graph, change.old), current_value
                ):
                    raise PreviousSettingValueMismatched()
                checked = await check_channel_setting_value(txn, graph, setting_name, change.new)
                new_settings[setting_name] = checked
                if setting_name == "can_send_message_group":
                    values["stream_post_policy"] = post_policy_for(graph, checked)
        changed = {key: value for key, value in values.items() if getattr(current, key, None) != value}
        changed_settings = {
            name: setting_value_to_json(value)
            for name, value in new_settings.items()
            if not same_setting_value(channel_setting(current, groups, name), value)
        }
        if make_default:
            defaults_changed = await _add_default_stream_txn(txn, dataclasses.replace(current, **changed))
        if not changed and not changed_settings:
            return current, {}
        updated = await update_stream_txn(txn, current, settings=changed_settings, **changed)
        audit = [(key, getattr(current, key), value) for key, value in changed.items() if key != "rendered_description"]
        audit += [
            (name, setting_value_to_json(channel_setting(current, groups, name)), value)
            for name, value in changed_settings.items()
        ]
        for key, old_value, new_value in audit:
            await insert_audit_log_txn(
                txn,
                realm_id=stream.realm_id,
                event_type="channel_property_changed",
                acting_user_id=acting.id,
                modified_user_id=None,
                extra_data={"stream_id": stream.id, "property": key, "old_value": old_value,
                            "new_value": new_value},
            )  # fmt: skip
        return updated, {**changed, **changed_settings}

    updated, changed = await server.pool.run_interaction("update stream", update)
    if changed:
        await _publish_stream_update(server, realm, stream, updated, changed)
    if defaults_changed:
        await publish_default_streams(server, realm)
    return updated, changed


async def public_channel_viewers(server: Server, realm: Realm) -> set[int]:
    """Who sees every public channel: the organization's active members who are not guests."""
    users = await server.pool.run_reads("realm users", list_users_txn, realm.id)
    return {user.id for user in users if user.is_active and not user.is_guest}


async def channel_audience(server: Server, realm: Realm, streams: Sequence[Stream]) -> dict[int, set[int]]:
    """Who may see each channel (and its subscribers): for a public channel every active member
    who is not a guest, and its subscribers; for a private one, its subscribers."""
    subscribers = await subscriber_ids(server, streams)
    members = await public_channel_viewers(server, realm) if any(not s.invite_only for s in streams) else set()
    return {stream.id: set(subscribers[stream.id]) | (set() if stream.invite_only else members) for stream in streams}


# Properties whose stream update events carry other fields besides, as Zulip's do.
_UPDATE_EXTRAS = {
    "description": ("rendered_description",),
    "invite_only": ("history_public_to_subscribers", "is_web_public"),
}


async def _publish_stream_update(
    server: Server, realm: Realm, before: Stream, after: Stream, changed: Mapping[str, Any]
) -> None:
    """One stream/update event per changed property, to everyone who could or can now see the channel."""
    audience = (await channel_audience(server, realm, [before]))[before.id]
    if after.invite_only != before.invite_only:
        audience |= (await channel_audience(server, realm, [after]))[after.id]
    for prop, value in changed.items():
        if prop in ("rendered_description",) or (prop == "history_public_to_subscribers" and "invite_only" in changed):
            continue
        body: dict[str, Any] = {"type": "stream", "op": "update", "stream_id": after.id, "name": after.name,
                                "property": prop, "value": value}  # fmt: skip
        for extra in _UPDATE_EXTRAS.get(prop, ()):
            body[extra] = getattr(after, extra)
        # Only clients that keep archived channels know of this one.
        publish(server, body, audience, capability=(ARCHIVED_CHANNELS, True) if after.deactivated else None)


async def do_archive_stream(server: Server, realm: Realm, acting: UserProfile, stream: Stream) -> None:
    """Archive a channel, and tell everyone who could see it: an is_archived update to queues that
    declared archived_channels (the channel stays in their state), a delete to the others."""

    async def archive(txn: Transaction) -> tuple[Stream, bool]:
        current = await get_stream_txn(txn, stream.realm_id, stream.id)
        if current is None or current.deactivated:
            raise JsonableError("Channel is already deactivated")
        await update_stream_txn(txn, current, deactivated=True)
        was_default = await remove_default_stream_txn(txn, stream.realm_id, stream.id)
        await insert_audit_log_txn(
            txn, realm_id=stream.realm_id, event_type="channel_deactivated", acting_user_id=acting.id,
            modified_user_id=None, extra_data={"stream_id": stream.id},
        )  # fmt: skip
        return current, was_default

    audience = (await channel_audience(server, realm, [stream]))[stream.id]
    archived, was_default = await server.pool.run_interaction("archive stream", archive)
    update = {"type": "stream", "op": "update", "stream_id": archived.id, "name": archived.name,
              "property": "is_archived", "value": True}  # fmt: skip
    publish(server, update, audience, capability=(ARCHIVED_CHANNELS, True))
    delete = {"type": "stream", "op": "delete", "streams": [{"stream_id": archived.id}], "stream_ids": [archived.id]}
    publish(server, delete, audience, capability=(ARCHIVED_CHANNELS, False))
    if was_default:
        await publish_default_streams(server, realm)


async def default_stream_ids(server: Server, realm_id: int) -> list[int]:
    return await server.pool.run_interaction("default streams", default_stream_ids_txn, realm_id)


def check_may_be_default(stream: Stream) -> None:
    if stream.invite_only:
        raise JsonableError("Private channels cannot be made default.")


async def _add_default_stream_txn(txn: Transaction, stream: Stream) -> bool:
    """Whether the channel was not a default one already."""
    check_may_be_default(stream)
    if stream.deactivated:
        raise JsonableError("Archived channels cannot be made default.")
    return await add_default_stream_txn(txn, stream.realm_id, stream.id)


async def do_add_default_stream(server: Server, realm: Realm, stream: Stream) -> None:
    async def add(txn: Transaction) -> bool:
        # Read again under the transaction: the channel may have become private or archived meanwhile.
        current = await get_stream_txn(txn, stream.realm_id, stream.id)
        assert current is not None
        return await _add_default_stream_txn(txn, current)

    if await server.pool.run_interaction("add default stream", add):
        await publish_default_streams(server, realm)


async def do_remove_default_stream(server: Server, realm: Realm, stream: Stream) -> None:
    await server.pool.run_interaction("remove default stream", remove_default_stream_txn, stream.realm_id, stream.id)
    # Told even when the channel was not a default one, as Zulip does.
    await publish_default_streams(server, realm)


async def publish_default_streams(server: Server, realm: Realm) -> None:
    """The organization's default channels, as they are now, to its active members who are not guests
    (Zulip's audience: guests are told of none)."""
    stream_ids = await default_stream_ids(server, realm.id)
    publish(
        server, {"type": "default_streams", "default_streams": stream_ids}, await public_channel_viewers(server, realm)
    )


STREAM_COLORS = [
    "#76ce90", "#fae589", "#a6c7e5", "#e79ab5", "#bfd56f", "#f4ae55", "#b0a5fd", "#addfe5", "#f5ce6e",
    "#c2726a", "#94c849", "#bd86e5", "#ee7e4a", "#a6dcbf", "#95a5fd", "#53a063", "#9987e1", "#e4523d",
    "#c2c2c2", "#4f8de4", "#c6a8ad", "#e7cc4d", "#c8bebf", "#a47462",
]  # fmt: skip


def pick_color(stream_id: int) -> str:
    return STREAM_COLORS[stream_id % len(STREAM_COLORS)]


# Zulip's rule: "#" and three to six hex digits, kept as sent.
_COLOR = re.compile(r"#[0-9a-fA-F]{3,6}")


def check_color(color: str, var_name: str = "color") -> str:
    if not _COLOR.fullmatch(color):
        raise JsonableError(f"{var_name} is not a valid hex color code")
    return color


def stream_ids_of(streams: Sequence[tuple[Stream, Access]]) -> list[int]:
    return [stream.id for stream, _ in streams]
