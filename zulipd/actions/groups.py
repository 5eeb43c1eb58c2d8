"""User groups: Zulip's permission rules, validation, and changes with their audit rows.

Every organization has Zulip's system groups ("role:everyone", "role:moderators",
...). Their members follow from users' roles and are computed, never stored, and
nobody may change them. Other groups store their direct members and direct
subgroups.

Recursive membership is computed in Python over the organization's subgroup
edges, walked breadth-first with a visited set: a deep graph costs one pass and
no recursive SQL, and even a cyclic graph would terminate. Cycles are refused
anyway: adding a subgroup that already contains the group is an error. Every
change takes a per-organization lock first and reads the graph after it, so two
concurrent changes cannot close a cycle between them.

Each change runs in one transaction, which also writes its realm_audit_log rows
(the group's id is in ``extra_data.user_group_id``).
"""

from __future__ import annotations

import dataclasses
from collections import deque
from collections.abc import Collection, Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from zulipd.actions.group_dicts import user_group_payload
from zulipd.actions.group_events import GroupEvents
from zulipd.errors import JsonableError
from zulipd.models import Realm, Role, UserGroup, UserProfile
from zulipd.realm_settings import effective_realm_settings
from zulipd.storage.audit import insert_audit_log_txn
from zulipd.storage.groups import (
    active_direct_members_txn,
    active_users_with_roles_txn,
    all_subgroup_edges_txn,
    get_group_by_name_txn,
    insert_group_txn,
    list_groups_txn,
    lock_realm_groups_txn,
    set_members_txn,
    set_subgroups_txn,
    stored_groups_of_user_txn,
    update_group_txn,
)
from zulipd.storage.pool import Transaction
from zulipd.storage.realms import get_realm_by_id_txn
from zulipd.storage.streams import list_streams_txn
from zulipd.storage.users import get_user_by_id_txn, get_users_by_ids_txn

if TYPE_CHECKING:
    from zulipd.server import Server

NAME_MAX_LENGTH = 100
INVALID_NAME_PREFIXES = ("@", "role:", "user:", "stream:", "channel:")

INTERNET = "role:internet"
EVERYONE = "role:everyone"
MEMBERS = "role:members"
FULL_MEMBERS = "role:fullmembers"
MODERATORS = "role:moderators"
ADMINISTRATORS = "role:administrators"
OWNERS = "role:owners"
NOBODY = "role:nobody"

# Each system group's one direct subgroup; "role:nobody" has none.
SYSTEM_SUBGROUP = {
    INTERNET: EVERYONE,
    EVERYONE: MEMBERS,
    MEMBERS: FULL_MEMBERS,
    FULL_MEMBERS: MODERATORS,
    MODERATORS: ADMINISTRATORS,
    ADMINISTRATORS: OWNERS,
}
# The role whose users are a system group's direct members. Members of
# "role:fullmembers" are also only those past the waiting period.
SYSTEM_DIRECT_ROLE = {
    EVERYONE: Role.GUEST,
    MEMBERS: Role.MEMBER,
    FULL_MEMBERS: Role.MEMBER,
    MODERATORS: Role.MODERATOR,
    ADMINISTRATORS: Role.ADMINISTRATOR,
    OWNERS: Role.OWNER,
}

# A setting's default that means "an anonymous group of the group's creator".
GROUP_CREATOR = "group_creator"


@dataclasses.dataclass(frozen=True)
class GroupSettingConfig:
    default: str
    allow_everyone_group: bool
    # System groups this setting refuses besides "role:internet", which none accepts.
    refused_system_groups: tuple[str, ...] = ()


# Zulip's group permission settings, in its order, with its defaults for a new group.
# System groups have "role:nobody" for every one of them.
GROUP_SETTINGS: dict[str, GroupSettingConfig] = {
    "can_add_members_group": GroupSettingConfig(GROUP_CREATOR, allow_everyone_group=False),
    "can_join_group": GroupSettingConfig(NOBODY, allow_everyone_group=False),
    "can_leave_group": GroupSettingConfig(EVERYONE, allow_everyone_group=True),
    "can_manage_group": GroupSettingConfig(GROUP_CREATOR, allow_everyone_group=False),
    # The specification: "This setting cannot be set to role:internet and role:owners".
    "can_mention_group": GroupSettingConfig(EVERYONE, allow_everyone_group=True, refused_system_groups=(OWNERS,)),
    "can_remove_members_group": GroupSettingConfig(NOBODY, allow_everyone_group=False),
}
# The organization's settings about groups, read from realm.settings when present.
REALM_GROUP_SETTINGS: dict[str, GroupSettingConfig] = {
    "can_create_groups": GroupSettingConfig(MEMBERS, allow_everyone_group=False),
    "can_manage_all_groups": GroupSettingConfig(OWNERS, allow_everyone_group=False),
}


class InsufficientPermission(JsonableError):
    def __init__(self) -> None:
        super().__init__("Insufficient permission")


class PreviousSettingValueMismatched(JsonableError):
    code = "EXPECTATION_MISMATCH"

    def __init__(self) -> None:
        super().__init__("'old' value does not match the expected value.")


class CannotDeactivateGroupInUse(JsonableError):
    code = "CANNOT_DEACTIVATE_GROUP_IN_USE"

    def __init__(self, objections: list[dict[str, Any]]) -> None:
        super().__init__("Cannot deactivate user group in use.", objections=objections)


def invalid_user_group() -> JsonableError:
    return JsonableError("Invalid user group")


def group_is_deactivated() -> JsonableError:
    return JsonableError("User group is deactivated.")


@dataclasses.dataclass(frozen=True)
class AnonymousGroup:
    """A group-setting value that is a collection of users and groups rather than one named group."""

    direct_members: tuple[int, ...] = ()
    direct_subgroups: tuple[int, ...] = ()

    def as_json(self) -> dict[str, list[int]]:
        return {"direct_members": list(self.direct_members), "direct_subgroups": list(self.direct_subgroups)}


# A group-setting value: a group's id, or an anonymous group.
SettingValue = int | AnonymousGroup


@dataclasses.dataclass(frozen=True)
class SettingChange:
    """A PATCH of one setting: the new value and, optionally, the value the client believes is current."""

    new: SettingValue
    old: SettingValue | None = None


def setting_value_from_json(stored: Any) -> SettingValue:
    if isinstance(stored, int):
        return stored
    return AnonymousGroup(tuple(stored.get("direct_members", ())), tuple(stored.get("direct_subgroups", ())))


def setting_value_to_json(value: SettingValue) -> int | dict[str, list[int]]:
    return value if isinstance(value, int) else value.as_json()


def same_setting_value(first: SettingValue, second: SettingValue) -> bool:
    if isinstance(first, int) or isinstance(second, int):
        return first == second
    return set(first.direct_members) == set(second.direct_members) and set(first.direct_subgroups) == set(
        second.direct_subgroups
    )


def uses_group(value: Any, group_id: int) -> bool:
    """Whether a stored group-setting value names the group, directly or as a subgroup of an anonymous group."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value == group_id
    return isinstance(value, dict) and group_id in value.get("direct_subgroups", ())


@dataclasses.dataclass(frozen=True)
class UserGroupDetails:
    """A group as GET /user_groups shows it: direct members and subgroups, and API setting values."""

    group: UserGroup
    members: list[int]
    direct_subgroup_ids: list[int]
    settings: dict[str, SettingValue]


def _unique(values: Iterable[int]) -> list[int]:
    return list(dict.fromkeys(values))


class GroupGraph:
    """One organization's groups and subgroup edges, as read in one transaction.

    Stored edges only ever have a non-system supergroup (system groups cannot be
    changed); the chain of system groups is added here.
    """

    def __init__(self, realm: Realm, groups: Sequence[UserGroup], edges: Iterable[tuple[int, int]], now: datetime):
        self.realm = realm
        self.now = now
        self.groups = {group.id: group for group in groups}
        self.system_ids = {group.name: group.id for group in groups if group.is_system_group}
        self._subgroups: dict[int, set[int]] = {group.id: set() for group in groups}
        self._supergroups: dict[int, set[int]] = {group.id: set() for group in groups}
        for supergroup_name, subgroup_name in SYSTEM_SUBGROUP.items():
            if supergroup_name in self.system_ids and subgroup_name in self.system_ids:
                self.add_edges(self.system_ids[supergroup_name], [self.system_ids[subgroup_name]])
        for supergroup_id, subgroup_id in edges:
            self.add_edges(supergroup_id, [subgroup_id])

    @classmethod
    async def load(cls, txn: Transaction, realm: Realm, now: datetime) -> GroupGraph:
        return cls(realm, await list_groups_txn(txn, realm.id), await all_subgroup_edges_txn(txn, realm.id), now)

    def add_edges(self, supergroup_id: int, subgroup_ids: Iterable[int]) -> None:
        for subgroup_id in subgroup_ids:
            self._subgroups.setdefault(supergroup_id, set()).add(subgroup_id)
            self._supergroups.setdefault(subgroup_id, set()).add(supergroup_id)

    def remove_edges(self, supergroup_id: int, subgroup_ids: Iterable[int]) -> None:
        for subgroup_id in subgroup_ids:
            self._subgroups.get(supergroup_id, set()).discard(subgroup_id)
            self._supergroups.get(subgroup_id, set()).discard(supergroup_id)

    def get(self, group_id: int) -> UserGroup | None:
        return self.groups.get(group_id)

    def system_group_id(self, name: str) -> int:
        return self.system_ids[name]

    def direct_subgroups(self, group_id: int) -> list[int]:
        return sorted(self._subgroups.get(group_id, ()))

    def direct_supergroups(self, group_id: int) -> list[int]:
        return sorted(self._supergroups.get(group_id, ()))

    @staticmethod
    def _walk(starts: Iterable[int], neighbours: Mapping[int, set[int]]) -> set[int]:
        seen = set(starts)
        queue = deque(seen)
        while queue:
            for following in neighbours.get(queue.popleft(), ()):
                if following not in seen:
                    seen.add(following)
                    queue.append(following)
        return seen

    def descendants(self, group_ids: Iterable[int]) -> set[int]:
        """The groups and all their subgroups, recursively."""
        return self._walk(group_ids, self._subgroups)

    def strict_descendants(self, group_id: int) -> set[int]:
        """All subgroups of the group, recursively, without the group itself."""
        return self.descendants(self._subgroups.get(group_id, ()))

    def ancestors(self, group_ids: Iterable[int]) -> set[int]:
        """The groups and all groups they are subgroups of, recursively."""
        return self._walk(group_ids, self._supergroups)

    def is_full_member(self, date_joined: datetime) -> bool:
        threshold: int = effective_realm_settings(self.realm.settings)["waiting_period_threshold"]
        return (self.now - date_joined).days >= threshold

    def system_groups_of(self, role: int, date_joined: datetime) -> list[int]:
        """The system groups of which a user with this role is a direct member."""
        names = [name for name, direct_role in SYSTEM_DIRECT_ROLE.items() if direct_role == role]
        if FULL_MEMBERS in names and not self.is_full_member(date_joined):
            names.remove(FULL_MEMBERS)
        return [self.system_ids[name] for name in names if name in self.system_ids]

    async def direct_members(self, txn: Transaction, group_ids: Collection[int]) -> dict[int, list[int]]:
        """Each group's direct members who are active users, sorted."""
        stored = [group_id for group_id in group_ids if not self.groups[group_id].is_system_group]
        members = await active_direct_members_txn(txn, stored) if stored else {}
        system = {group_id: self.groups[group_id].name for group_id in group_ids if group_id not in members}
        roles = {SYSTEM_DIRECT_ROLE[name] for name in system.values() if name in SYSTEM_DIRECT_ROLE}
        users = await active_users_with_roles_txn(txn, self.realm.id, sorted(roles)) if roles else []
        for group_id, name in system.items():
            members[group_id] = [
                user_id
                for user_id, role, date_joined in users
                if role == SYSTEM_DIRECT_ROLE.get(name) and (name != FULL_MEMBERS or self.is_full_member(date_joined))
            ]
        return members

    async def recursive_members(self, txn: Transaction, group_ids: Iterable[int]) -> list[int]:
        """The active users in the groups or in any of their subgroups, recursively, sorted."""
        members = await self.direct_members(txn, self.descendants(group_ids))
        return sorted({user_id for group_members in members.values() for user_id in group_members})

    async def groups_of_user(self, txn: Transaction, user: UserProfile) -> set[int]:
        """Every group the user belongs to, directly or through subgroups."""
        if not user.is_active:
            return set()
        direct = [group_id for group_id in await stored_groups_of_user_txn(txn, user.id) if group_id in self.groups]
        direct += self.system_groups_of(user.role, user.date_joined)
        return self.ancestors(direct)


def group_setting(graph: GroupGraph, group: UserGroup, setting_name: str) -> SettingValue:
    """A group's current value for a permission setting, as stored (or its default)."""
    if group.is_system_group:
        return graph.system_group_id(NOBODY)
    stored = group.settings.get(setting_name)
    if stored is not None:
        return setting_value_from_json(stored)
    default = GROUP_SETTINGS[setting_name].default
    if default == GROUP_CREATOR:
        return AnonymousGroup((group.creator_id,)) if group.creator_id is not None else graph.system_group_id(NOBODY)
    return graph.system_group_id(default)


def realm_group_setting(graph: GroupGraph, setting_name: str) -> SettingValue:
    stored = graph.realm.settings.get(setting_name)
    if stored is not None:
        return setting_value_from_json(stored)
    return graph.system_group_id(REALM_GROUP_SETTINGS[setting_name].default)


class Permissions:
    """What one user may do with groups, within one transaction; their memberships are read once."""

    def __init__(self, txn: Transaction, graph: GroupGraph, user: UserProfile) -> None:
        self.txn = txn
        self.graph = graph
        self.user = user
        self._memberships: set[int] | None = None

    def forget(self) -> None:
        """Memberships changed in this transaction: read them again when next needed."""
        self._memberships = None

    async def memberships(self) -> set[int]:
        if self._memberships is None:
            self._memberships = await self.graph.groups_of_user(self.txn, self.user)
        return self._memberships

    async def has(self, value: SettingValue, *, allow_everyone_group: bool) -> bool:
        """Whether the user is in a group-setting value. Guests never hold settings that refuse role:everyone."""
        if not allow_everyone_group and self.user.is_guest:
            return False
        memberships = await self.memberships()
        if isinstance(value, int):
            return value in memberships
        return self.user.id in value.direct_members or any(
            group_id in memberships for group_id in value.direct_subgroups
        )

    async def has_realm_permission(self, setting_name: str) -> bool:
        config = REALM_GROUP_SETTINGS[setting_name]
        return await self.has(
            realm_group_setting(self.graph, setting_name), allow_everyone_group=config.allow_everyone_group
        )

    async def has_group_permission(self, group: UserGroup, setting_name: str) -> bool:
        config = GROUP_SETTINGS[setting_name]
        return await self.has(
            group_setting(self.graph, group, setting_name), allow_everyone_group=config.allow_everyone_group
        )


def check_member_or_admin(user: UserProfile) -> None:
    """Zulip's require_member_or_admin: neither guests nor bots."""
    if user.is_guest:
        raise JsonableError("Not allowed for guest users")
    if user.is_bot:
        raise JsonableError("This endpoint does not accept bot requests.")


def check_user_group_name(name: str) -> str:
    if name.strip() == "":
        raise JsonableError("User group name can't be empty!")
    if len(name) > NAME_MAX_LENGTH:
        raise JsonableError(f"User group name cannot exceed {NAME_MAX_LENGTH} characters.")
    for prefix in INVALID_NAME_PREFIXES:
        if name.startswith(prefix):
            raise JsonableError(f"User group name cannot start with '{prefix}'.")
    return name


def group_in_realm(graph: GroupGraph, group_id: int, *, allow_deactivated: bool) -> UserGroup:
    group = graph.get(group_id)
    if group is None:
        raise invalid_user_group()
    if group.deactivated and not allow_deactivated:
        raise group_is_deactivated()
    return group


async def access_group_for_update(
    permissions: Permissions, group_id: int, permission_setting: str, *, allow_deactivated: bool
) -> UserGroup:
    """The group, if the user may change it in the way ``permission_setting`` governs.

    Whoever may manage the group (can_manage_all_groups of the organization, or
    the group's can_manage_group) may do everything else with it too.
    """
    group = group_in_realm(permissions.graph, group_id, allow_deactivated=allow_deactivated)
    if group.is_system_group:
        raise InsufficientPermission()
    if await permissions.has_realm_permission("can_manage_all_groups"):
        return group
    if await permissions.has_group_permission(group, "can_manage_group"):
        return group
    if permission_setting != "can_manage_group" and await permissions.has_group_permission(group, permission_setting):
        return group
    raise InsufficientPermission()


async def active_users(txn: Transaction, realm: Realm, user_ids: Sequence[int]) -> list[UserProfile]:
    """The users, each an active user of the organization; else "Invalid user ID"."""
    found = await get_users_by_ids_txn(txn, user_ids) if user_ids else {}
    users = []
    for user_id in _unique(user_ids):
        user = found.get(user_id)
        if user is None or user.realm_id != realm.id or not user.is_active:
            raise JsonableError(f"Invalid user ID: {user_id}")
        users.append(user)
    return users


def potential_subgroups(graph: GroupGraph, subgroup_ids: Sequence[int]) -> list[UserGroup]:
    """The groups to add or remove as subgroups: each must exist here and be active."""
    missing = [group_id for group_id in subgroup_ids if graph.get(group_id) is None]
    if missing:
        raise JsonableError(f"Invalid user group ID: {missing[0]}")
    groups = [graph.groups[group_id] for group_id in _unique(subgroup_ids)]
    if any(group.deactivated for group in groups):
        raise group_is_deactivated()
    return groups


def normalize_setting_value(graph: GroupGraph, value: SettingValue) -> SettingValue:
    """An anonymous group that is exactly one group is that group; an empty one is "role:nobody"."""
    if isinstance(value, AnonymousGroup) and not value.direct_members:
        if not value.direct_subgroups:
            return graph.system_group_id(NOBODY)
        if len(set(value.direct_subgroups)) == 1:
            return value.direct_subgroups[0]
    return value


async def check_setting_value(
    txn: Transaction, graph: GroupGraph, setting_name: str, value: SettingValue
) -> SettingValue:
    """A valid value for a group's setting, normalized; else Zulip's error."""
    return await check_group_setting_value(txn, graph, setting_name, GROUP_SETTINGS[setting_name], value)


async def check_group_setting_value(
    txn: Transaction, graph: GroupGraph, setting_name: str, config: GroupSettingConfig, value: SettingValue
) -> SettingValue:
    """A valid value for a group-valued setting (of a group, or of the organization), normalized."""
    value = normalize_setting_value(graph, value)
    if isinstance(value, int):
        group = group_in_realm(graph, value, allow_deactivated=False)
        refused = [INTERNET, *config.refused_system_groups] + ([] if config.allow_everyone_group else [EVERYONE])
        if group.is_system_group and group.name in refused:
            raise JsonableError(f"'{setting_name}' setting cannot be set to '{group.name}' group.")
        return value
    members = await active_users(txn, graph.realm, value.direct_members)
    subgroups = potential_subgroups(graph, value.direct_subgroups)
    return AnonymousGroup(tuple(sorted(user.id for user in members)), tuple(sorted(group.id for group in subgroups)))


async def api_setting_values(
    txn: Transaction, graph: GroupGraph, values: Iterable[SettingValue]
) -> dict[SettingValue, SettingValue]:
    """Each value as the API shows it: anonymous groups list active users only."""
    values = list(values)
    member_ids = {user_id for value in values if isinstance(value, AnonymousGroup) for user_id in value.direct_members}
    found = await get_users_by_ids_txn(txn, sorted(member_ids)) if member_ids else {}
    active = {user_id for user_id, user in found.items() if user.is_active}
    shown: dict[SettingValue, SettingValue] = {}
    for value in values:
        if isinstance(value, AnonymousGroup):
            shown[value] = dataclasses.replace(
                value, direct_members=tuple(user_id for user_id in value.direct_members if user_id in active)
            )
        else:
            shown[value] = value
    return shown


def _now(server: Server) -> datetime:
    return datetime.fromtimestamp(server.clock.seconds(), UTC)


async def audit_group_change(
    txn: Transaction,
    group: UserGroup,
    event_type: str,
    acting: UserProfile | None,
    modified_user_id: int | None = None,
    **extra: Any,
) -> None:
    await insert_audit_log_txn(
        txn,
        realm_id=group.realm_id,
        event_type=event_type,
        acting_user_id=acting.id if acting is not None else None,
        modified_user_id=modified_user_id,
        extra_data={"user_group_id": group.id, **extra},
    )


# Reading


async def group_details_txn(txn: Transaction, graph: GroupGraph, groups: Sequence[UserGroup]) -> list[UserGroupDetails]:
    """The groups as GET /user_groups shows them, in the order given."""
    members = await graph.direct_members(txn, [group.id for group in groups])
    settings = {group.id: {name: group_setting(graph, group, name) for name in GROUP_SETTINGS} for group in groups}
    shown = await api_setting_values(txn, graph, [value for values in settings.values() for value in values.values()])
    return [
        UserGroupDetails(
            group=group,
            members=members[group.id],
            direct_subgroup_ids=graph.direct_subgroups(group.id),
            settings={name: shown[value] for name, value in settings[group.id].items()},
        )
        for group in groups
    ]


async def list_user_groups(
    server: Server, realm: Realm, acting: UserProfile, *, include_deactivated: bool
) -> list[UserGroupDetails]:
    check_member_or_admin(acting)
    return await realm_user_groups(server, realm, include_deactivated=include_deactivated)


async def realm_user_groups(server: Server, realm: Realm, *, include_deactivated: bool) -> list[UserGroupDetails]:
    """Every group of the organization, by id: what any of its users, guests too, gets at register."""

    async def load(txn: Transaction) -> list[UserGroupDetails]:
        graph = await GroupGraph.load(txn, realm, _now(server))
        groups = [group for group in graph.groups.values() if include_deactivated or not group.deactivated]
        groups.sort(key=lambda group: group.id)
        return await group_details_txn(txn, graph, groups)

    return await server.pool.run_interaction("list user groups", load)


async def get_user_group_members(
    server: Server, realm: Realm, acting: UserProfile, group_id: int, *, direct_member_only: bool
) -> list[int]:
    check_member_or_admin(acting)

    async def load(txn: Transaction) -> list[int]:
        graph = await GroupGraph.load(txn, realm, _now(server))
        group = group_in_realm(graph, group_id, allow_deactivated=False)
        if direct_member_only:
            return (await graph.direct_members(txn, [group.id]))[group.id]
        return await graph.recursive_members(txn, [group.id])

    return await server.pool.run_interaction("user group members", load)


async def is_user_group_member(
    server: Server, realm: Realm, acting: UserProfile, group_id: int, user_id: int, *, direct_member_only: bool
) -> bool:
    check_member_or_admin(acting)

    async def load(txn: Transaction) -> bool:
        graph = await GroupGraph.load(txn, realm, _now(server))
        group = group_in_realm(graph, group_id, allow_deactivated=False)
        target = await get_user_by_id_txn(txn, realm.id, user_id)
        # Zulip's access_user_by_id: bots are not found here.
        if target is None or target.is_bot:
            raise JsonableError("No such user")
        if not target.is_active:
            raise JsonableError("User is deactivated")
        if direct_member_only:
            return target.id in (await graph.direct_members(txn, [group.id]))[group.id]
        return group.id in await graph.groups_of_user(txn, target)

    return await server.pool.run_interaction("user group membership", load)


async def get_user_group_subgroups(
    server: Server, realm: Realm, acting: UserProfile, group_id: int, *, direct_subgroup_only: bool
) -> list[int]:
    check_member_or_admin(acting)

    async def load(txn: Transaction) -> list[int]:
        graph = await GroupGraph.load(txn, realm, _now(server))
        group = group_in_realm(graph, group_id, allow_deactivated=False)
        if direct_subgroup_only:
            return graph.direct_subgroups(group.id)
        return sorted(graph.strict_descendants(group.id))

    return await server.pool.run_interaction("user group subgroups", load)


# Changing


async def do_create_user_group(
    server: Server,
    realm: Realm,
    acting: UserProfile,
    *,
    name: str,
    description: str,
    members: Sequence[int],
    subgroups: Sequence[int] = (),
    settings: Mapping[str, SettingValue] | None = None,
) -> UserGroup:
    """Create a group: members and subgroups as given, settings as given or Zulip's defaults."""
    check_member_or_admin(acting)
    requested = dict(settings or {})
    events = GroupEvents(realm.id)

    async def create(txn: Transaction) -> UserGroup:
        await lock_realm_groups_txn(txn, realm.id)
        graph = await GroupGraph.load(txn, realm, _now(server))
        permissions = Permissions(txn, graph, acting)
        if not await permissions.has_realm_permission("can_create_groups"):
            raise InsufficientPermission()
        member_users = await active_users(txn, realm, members)
        check_user_group_name(name)
        values: dict[str, SettingValue] = {}
        for setting_name, config in GROUP_SETTINGS.items():
            if setting_name in requested:
                values[setting_name] = await check_setting_value(txn, graph, setting_name, requested[setting_name])
            elif config.default == GROUP_CREATOR:
                values[setting_name] = AnonymousGroup((acting.id,))
            else:
                values[setting_name] = graph.system_group_id(config.default)
        if await get_group_by_name_txn(txn, realm.id, name) is not None:
            raise JsonableError(f"User group '{name}' already exists.")
        group = await insert_group_txn(
            txn,
            realm.id,
            name,
            description,
            acting.id,
            {key: setting_value_to_json(value) for key, value in values.items()},
        )
        await audit_group_change(txn, group, "user_group_created", acting, name=name, description=description)
        await _add_members_txn(txn, group, [user.id for user in member_users], acting)
        graph.groups[group.id] = group
        if subgroups:
            await _add_subgroups_txn(txn, graph, group, potential_subgroups(graph, subgroups), acting)
        (details,) = await group_details_txn(txn, graph, [group])
        events.created(user_group_payload(details))
        await events.load_audience_txn(txn)
        return group

    group = await server.pool.run_interaction("create user group", create)
    events.publish(server)
    return group


async def do_update_user_group(
    server: Server,
    realm: Realm,
    acting: UserProfile,
    group_id: int,
    *,
    name: str | None = None,
    description: str | None = None,
    setting_changes: Mapping[str, SettingChange] | None = None,
) -> None:
    """Rename, describe, or change the settings of a group: whoever may manage it."""
    check_member_or_admin(acting)
    changes = dict(setting_changes or {})
    if name is None and description is None and not changes:
        raise JsonableError("No new data supplied")
    events = GroupEvents(realm.id)

    async def update(txn: Transaction) -> None:
        await lock_realm_groups_txn(txn, realm.id)
        graph = await GroupGraph.load(txn, realm, _now(server))
        permissions = Permissions(txn, graph, acting)
        group = await access_group_for_update(permissions, group_id, "can_manage_group", allow_deactivated=True)
        if name is not None and name != group.name:
            check_user_group_name(name)
            other = await get_group_by_name_txn(txn, realm.id, name)
            if other is not None and other.id != group.id:
                raise JsonableError(f"User group '{name}' already exists.")
            await update_group_txn(txn, group.id, name=name)
            await audit_group_change(
                txn, group, "user_group_name_changed", acting, old_value=group.name, new_value=name
            )
            events.updated(group, {"name": name})
        if description is not None and description != group.description:
            await update_group_txn(txn, group.id, description=description)
            await audit_group_change(txn, group, "user_group_description_changed", acting,
                                     old_value=group.description, new_value=description)  # fmt: skip
            events.updated(group, {"description": description})
        for setting_name in GROUP_SETTINGS:
            change = changes.get(setting_name)
            if change is None:
                continue
            current = group_setting(graph, group, setting_name)
            current = (await api_setting_values(txn, graph, [current]))[current]
            new = normalize_setting_value(graph, change.new)
            if change.old is not None and not same_setting_value(normalize_setting_value(graph, change.old), current):
                raise PreviousSettingValueMismatched()
            if same_setting_value(current, new):
                continue
            new = await check_setting_value(txn, graph, setting_name, new)
            await update_group_txn(txn, group.id, settings={setting_name: setting_value_to_json(new)})
            await audit_group_change(txn, group, "user_group_group_based_setting_changed", acting,
                                     property=setting_name, old_value=setting_value_to_json(current),
                                     new_value=setting_value_to_json(new))  # fmt: skip
            events.updated(group, {setting_name: setting_value_to_json(new)})
        await events.load_audience_txn(txn)

    await server.pool.run_interaction("update user group", update)
    events.publish(server)


async def do_update_user_group_members(
    server: Server,
    realm: Realm,
    acting: UserProfile,
    group_id: int,
    *,
    add: Sequence[int] = (),
    delete: Sequence[int] = (),
    add_subgroups: Sequence[int] = (),
    delete_subgroups: Sequence[int] = (),
) -> None:
    """Add and remove members and subgroups, in that order, all or nothing."""
    check_member_or_admin(acting)
    if not add and not delete and not add_subgroups and not delete_subgroups:
        raise JsonableError(
            'Nothing to do. Specify at least one of "add", "delete", "add_subgroups" or "delete_subgroups".'
        )
    events = GroupEvents(realm.id)

    async def update(txn: Transaction) -> None:
        await lock_realm_groups_txn(txn, realm.id)
        graph = await GroupGraph.load(txn, realm, _now(server))
        permissions = Permissions(txn, graph, acting)
        if add:
            await _add_members(txn, permissions, group_id, add, events)
        if delete:
            await _remove_members(txn, permissions, group_id, delete, events)
        if add_subgroups:
            await _add_subgroups(txn, permissions, group_id, add_subgroups, events)
        if delete_subgroups:
            await _remove_subgroups(txn, permissions, group_id, delete_subgroups, events)
        await events.load_audience_txn(txn)

    await server.pool.run_interaction("update user group members", update)
    events.publish(server)


async def do_update_user_group_subgroups(
    server: Server,
    realm: Realm,
    acting: UserProfile,
    group_id: int,
    *,
    add: Sequence[int] = (),
    delete: Sequence[int] = (),
) -> None:
    check_member_or_admin(acting)
    if not add and not delete:
        raise JsonableError('Nothing to do. Specify at least one of "add" or "delete".')
    events = GroupEvents(realm.id)

    async def update(txn: Transaction) -> None:
        await lock_realm_groups_txn(txn, realm.id)
        graph = await GroupGraph.load(txn, realm, _now(server))
        permissions = Permissions(txn, graph, acting)
        if add:
            await _add_subgroups(txn, permissions, group_id, add, events)
        if delete:
            await _remove_subgroups(txn, permissions, group_id, delete, events)
        await events.load_audience_txn(txn)

    await server.pool.run_interaction("update user group subgroups", update)
    events.publish(server)


async def do_deactivate_user_group(server: Server, realm: Realm, acting: UserProfile, group_id: int) -> None:
    """Deactivate a group that nothing active uses: no active supergroup, channel, group or organization setting."""
    events = GroupEvents(realm.id)

    async def deactivate(txn: Transaction) -> None:
        await lock_realm_groups_txn(txn, realm.id)
        graph = await GroupGraph.load(txn, realm, _now(server))
        permissions = Permissions(txn, graph, acting)
        group = await access_group_for_update(permissions, group_id, "can_manage_group", allow_deactivated=False)
        objections = await _objections_to_deactivation(txn, graph, group)
        if objections:
            raise CannotDeactivateGroupInUse(objections)
        await update_group_txn(txn, group.id, deactivated=True)
        await audit_group_change(txn, group, "user_group_deactivated", acting)
        events.deactivated(group.id)
        await events.load_audience_txn(txn)

    await server.pool.run_interaction("deactivate user group", deactivate)
    events.publish(server)


async def _objections_to_deactivation(txn: Transaction, graph: GroupGraph, group: UserGroup) -> list[dict[str, Any]]:
    objections: list[dict[str, Any]] = []
    supergroup_ids = [
        supergroup_id
        for supergroup_id in graph.direct_supergroups(group.id)
        if not graph.groups[supergroup_id].deactivated
    ]
    if supergroup_ids:
        objections.append({"type": "subgroup", "supergroup_ids": supergroup_ids})
    for stream in await list_streams_txn(txn, group.realm_id):
        if stream.deactivated:
            continue
        settings = [name for name, value in sorted(stream.settings.items()) if uses_group(value, group.id)]
        if settings:
            objections.append({"type": "channel", "channel_id": stream.id, "settings": settings})
    for other in sorted(graph.groups.values(), key=lambda other: other.id):
        if other.deactivated or other.is_system_group:
            continue
        settings = [name for name in GROUP_SETTINGS if uses_group(other.settings.get(name), group.id)]
        if settings:
            objections.append({"type": "user_group", "group_id": other.id, "settings": settings})
    realm_settings = [
        name
        for name, value in sorted(graph.realm.settings.items())
        if name.endswith(("_group", "_groups")) and uses_group(value, group.id)
    ]
    if realm_settings:
        objections.append({"type": "realm", "settings": realm_settings})
    return objections


async def _add_members(
    txn: Transaction, permissions: Permissions, group_id: int, user_ids: Sequence[int], events: GroupEvents
) -> None:
    if list(user_ids) == [permissions.user.id]:
        try:
            group = await access_group_for_update(permissions, group_id, "can_join_group", allow_deactivated=True)
        except JsonableError:
            # Whoever may add anyone may add themselves.
            group = await access_group_for_update(
                permissions, group_id, "can_add_members_group", allow_deactivated=True
            )
    else:
        group = await access_group_for_update(permissions, group_id, "can_add_members_group", allow_deactivated=True)
    users = await active_users(txn, permissions.graph.realm, user_ids)
    existing = set((await active_direct_members_txn(txn, [group.id]))[group.id])
    for user in users:
        if user.id in existing:
            raise JsonableError(f"User {user.id} is already a member of this group")
    added = [user.id for user in users]
    await _add_members_txn(txn, group, added, permissions.user)
    events.members_added(group.id, added)
    permissions.forget()


async def _add_members_txn(txn: Transaction, group: UserGroup, user_ids: Sequence[int], acting: UserProfile) -> None:
    await set_members_txn(txn, group.id, add=user_ids, remove=())
    for user_id in user_ids:
        await audit_group_change(txn, group, "user_group_direct_user_membership_added", acting, user_id)


async def _remove_members(
    txn: Transaction, permissions: Permissions, group_id: int, user_ids: Sequence[int], events: GroupEvents
) -> None:
    users = await active_users(txn, permissions.graph.realm, user_ids)
    if list(user_ids) == [permissions.user.id]:
        try:
            group = await access_group_for_update(permissions, group_id, "can_leave_group", allow_deactivated=True)
        except JsonableError:
            # Whoever may remove anyone may remove themselves.
            group = await access_group_for_update(
                permissions, group_id, "can_remove_members_group", allow_deactivated=True
            )
    else:
        group = await access_group_for_update(permissions, group_id, "can_remove_members_group", allow_deactivated=True)
    members = set((await active_direct_members_txn(txn, [group.id]))[group.id])
    for user_id in user_ids:
        if user_id not in members:
            raise JsonableError(f"There is no member '{user_id}' in this user group")
    removed = [user.id for user in users]
    await set_members_txn(txn, group.id, add=(), remove=removed)
    for user_id in removed:
        await audit_group_change(txn, group, "user_group_direct_user_membership_removed", permissions.user, user_id)
    events.members_removed(group.id, removed)
    permissions.forget()


async def _add_subgroups(
    txn: Transaction, permissions: Permissions, group_id: int, subgroup_ids: Sequence[int], events: GroupEvents
) -> None:
    graph = permissions.graph
    group = await access_group_for_update(permissions, group_id, "can_add_members_group", allow_deactivated=False)
    subgroups = potential_subgroups(graph, subgroup_ids)
    existing = set(graph.direct_subgroups(group.id))
    for subgroup in subgroups:
        if subgroup.id in existing:
            raise JsonableError(f"User group {subgroup.id} is already a subgroup of this group.")
    await _add_subgroups_txn(txn, graph, group, subgroups, permissions.user)
    events.subgroups_added(group.id, [subgroup.id for subgroup in subgroups])
    permissions.forget()


async def _add_subgroups_txn(
    txn: Transaction, graph: GroupGraph, group: UserGroup, subgroups: Sequence[UserGroup], acting: UserProfile
) -> None:
    """Add the edges, unless one would close a cycle: the group must not be inside any of the subgroups."""
    subgroup_ids = [subgroup.id for subgroup in subgroups]
    if group.id in graph.descendants(subgroup_ids):
        raise JsonableError(f"User group {group.id} is already a subgroup of one of the passed subgroups.")
    await set_subgroups_txn(txn, group.id, add=subgroup_ids, remove=())
    graph.add_edges(group.id, subgroup_ids)
    await audit_group_change(txn, group, "user_group_direct_subgroup_membership_added", acting,
                             subgroup_ids=subgroup_ids)  # fmt: skip
    for subgroup in subgroups:
        await audit_group_change(txn, subgroup, "user_group_direct_supergroup_membership_added", acting,
                                 supergroup_ids=[group.id])  # fmt: skip


async def _remove_subgroups(
    txn: Transaction, permissions: Permissions, group_id: int, subgroup_ids: Sequence[int], events: GroupEvents
) -> None:
    graph = permissions.graph
    group = await access_group_for_update(permissions, group_id, "can_manage_group", allow_deactivated=False)
    subgroups = potential_subgroups(graph, subgroup_ids)
    existing = set(graph.direct_subgroups(group.id))
    for subgroup in subgroups:
        if subgroup.id not in existing:
            raise JsonableError(f"User group {subgroup.id} is not a subgroup of this group.")
    removed = [subgroup.id for subgroup in subgroups]
    await set_subgroups_txn(txn, group.id, add=(), remove=removed)
    graph.remove_edges(group.id, removed)
    await audit_group_change(txn, group, "user_group_direct_subgroup_membership_removed", permissions.user,
                             subgroup_ids=removed)  # fmt: skip
    for subgroup in subgroups:
        await audit_group_change(txn, subgroup, "user_group_direct_supergroup_membership_removed", permissions.user,
                                 supergroup_ids=[group.id])  # fmt: skip
    events.subgroups_removed(group.id, removed)
    permissions.forget()


# Users joining, changing role, coming back: the group memberships that follow, told as user_group events.
# (Deactivating a user needs none: the realm_user update tells every client to drop the user from its
# groups, as in Zulip, where everyone who may see the user gets that event.)


async def publish_system_group_changes(
    server: Server, realm_id: int, before: UserProfile | None, after: UserProfile
) -> None:
    """remove_members and add_members for the system groups a new user, or one whose role changed, left and joined.

    ``before`` is None for a user just created.
    """

    async def gather(txn: Transaction) -> GroupEvents:
        events = GroupEvents(realm_id)
        realm = await get_realm_by_id_txn(txn, realm_id)
        assert realm is not None
        graph = await GroupGraph.load(txn, realm, _now(server))
        old = graph.system_groups_of(before.role, before.date_joined) if before is not None else []
        new = graph.system_groups_of(after.role, after.date_joined)
        for group_id in old:
            if group_id not in new:
                events.members_removed(group_id, [after.id])
        for group_id in new:
            if group_id not in old:
                events.members_added(group_id, [after.id])
        await events.load_audience_txn(txn)
        return events

    (await server.pool.run_interaction("system group changes", gather)).publish(server)


async def publish_reactivated_memberships(server: Server, user: UserProfile) -> None:
    """A reactivated user is back in every group they are a direct member of, and in the anonymous
    group-setting values that name them: add_members for each group, an update for each such setting."""

    async def gather(txn: Transaction) -> GroupEvents:
        events = GroupEvents(user.realm_id)
        realm = await get_realm_by_id_txn(txn, user.realm_id)
        assert realm is not None
        graph = await GroupGraph.load(txn, realm, _now(server))
        stored = [group_id for group_id in await stored_groups_of_user_txn(txn, user.id) if group_id in graph.groups]
        for group_id in sorted({*stored, *graph.system_groups_of(user.role, user.date_joined)}):
            events.members_added(group_id, [user.id])
        for group in sorted(graph.groups.values(), key=lambda group: group.id):
            if group.is_system_group:
                continue
            naming = {
                name: value
                for name in GROUP_SETTINGS
                if isinstance(value := group_setting(graph, group, name), AnonymousGroup)
                and user.id in value.direct_members
            }
            if naming:
                shown = await api_setting_values(txn, graph, naming.values())
                for name, value in naming.items():
                    events.updated(group, {name: setting_value_to_json(shown[value])})
        await events.load_audience_txn(txn)
        return events

    (await server.pool.run_interaction("reactivated memberships", gather)).publish(server)


async def publish_full_members_changes(server: Server, before: Realm, after: Realm) -> None:
    """A new waiting period moves users into or out of "role:fullmembers"."""

    async def gather(txn: Transaction) -> GroupEvents:
        events = GroupEvents(after.id)
        now = _now(server)
        old_graph = await GroupGraph.load(txn, before, now)
        new_graph = await GroupGraph.load(txn, after, now)
        group_id = new_graph.system_group_id(FULL_MEMBERS)
        old = set((await old_graph.direct_members(txn, [group_id]))[group_id])
        new = set((await new_graph.direct_members(txn, [group_id]))[group_id])
        events.members_removed(group_id, sorted(old - new))
        events.members_added(group_id, sorted(new - old))
        await events.load_audience_txn(txn)
        return events

    (await server.pool.run_interaction("full members changes", gather)).publish(server)
