"""SQL for user groups. System groups' members follow from roles and are never stored."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from zulipd.models import UserGroup
from zulipd.storage.pool import Transaction

# Zulip's system groups, in order, with the roles that belong to each.
SYSTEM_GROUPS: list[tuple[str, str, tuple[int, ...]]] = [
    ("role:internet", "Everyone on the internet", (100, 200, 300, 400, 600)),
    ("role:everyone", "Everyone including guests", (100, 200, 300, 400, 600)),
    ("role:members", "Everyone except guests", (100, 200, 300, 400)),
    ("role:fullmembers", "Members of this organization, not new members", (100, 200, 300, 400)),
    ("role:moderators", "Moderators of this organization, including administrators", (100, 200, 300)),
    ("role:administrators", "Administrators of this organization, including owners", (100, 200)),
    ("role:owners", "Owners of this organization", (100,)),
    ("role:nobody", "Nobody", ()),
]
SYSTEM_GROUP_ROLES = {name: roles for name, _, roles in SYSTEM_GROUPS}

GROUP_COLUMNS = "id, realm_id, name, description, is_system_group, deactivated, creator_id, date_created, settings"


def group_from_row(row: Sequence[Any]) -> UserGroup:
    return UserGroup(*row)


async def insert_system_groups_txn(txn: Transaction, realm_id: int) -> None:
    for name, description, _ in SYSTEM_GROUPS:
        await txn.execute(
            "INSERT INTO user_group (realm_id, name, description, is_system_group) VALUES (%s, %s, %s, true)",
            (realm_id, name, description),
        )


async def system_group_ids_txn(txn: Transaction, realm_id: int) -> dict[str, int]:
    rows = await txn.fetch_all("SELECT name, id FROM user_group WHERE realm_id = %s AND is_system_group", (realm_id,))
    return {row[0]: row[1] for row in rows}


async def list_groups_txn(txn: Transaction, realm_id: int) -> list[UserGroup]:
    rows = await txn.fetch_all(f"SELECT {GROUP_COLUMNS} FROM user_group WHERE realm_id = %s ORDER BY id", (realm_id,))
    return [group_from_row(row) for row in rows]


async def get_group_txn(txn: Transaction, realm_id: int, group_id: int) -> UserGroup | None:
    row = await txn.fetch_one(
        f"SELECT {GROUP_COLUMNS} FROM user_group WHERE realm_id = %s AND id = %s", (realm_id, group_id)
    )
    return group_from_row(row) if row else None


async def get_group_by_name_txn(txn: Transaction, realm_id: int, name: str) -> UserGroup | None:
    row = await txn.fetch_one(
        f"SELECT {GROUP_COLUMNS} FROM user_group WHERE realm_id = %s AND lower(name) = lower(%s)", (realm_id, name)
    )
    return group_from_row(row) if row else None


async def insert_group_txn(
    txn: Transaction, realm_id: int, name: str, description: str, creator_id: int | None, settings: dict[str, Any]
) -> UserGroup:
    row = await txn.fetch_one(
        f"""INSERT INTO user_group (realm_id, name, description, creator_id, settings)
            VALUES (%s, %s, %s, %s, %s::jsonb) RETURNING {GROUP_COLUMNS}""",
        (realm_id, name, description, creator_id, json.dumps(settings)),
    )
    assert row is not None
    return group_from_row(row)


async def update_group_txn(txn: Transaction, group_id: int, **changes: Any) -> UserGroup:
    assignments = ", ".join(
        f"{column} = settings || %s::jsonb" if column == "settings" else f"{column} = %s" for column in changes
    )
    values = [json.dumps(value) if column == "settings" else value for column, value in changes.items()]
    row = await txn.fetch_one(
        f"UPDATE user_group SET {assignments} WHERE id = %s RETURNING {GROUP_COLUMNS}", (*values, group_id)
    )
    assert row is not None
    return group_from_row(row)


async def direct_members_txn(txn: Transaction, group_ids: Sequence[int]) -> dict[int, list[int]]:
    """Stored direct members of each (non-system) group."""
    rows = await txn.fetch_all(
        "SELECT group_id, user_id FROM user_group_member WHERE group_id = ANY(%s) ORDER BY user_id",
        (list(group_ids),),
    )
    members: dict[int, list[int]] = {group_id: [] for group_id in group_ids}
    for group_id, user_id in rows:
        members[group_id].append(user_id)
    return members


async def direct_subgroups_txn(txn: Transaction, group_ids: Sequence[int]) -> dict[int, list[int]]:
    rows = await txn.fetch_all(
        "SELECT group_id, subgroup_id FROM user_group_subgroup WHERE group_id = ANY(%s) ORDER BY subgroup_id",
        (list(group_ids),),
    )
    subgroups: dict[int, list[int]] = {group_id: [] for group_id in group_ids}
    for group_id, subgroup_id in rows:
        subgroups[group_id].append(subgroup_id)
    return subgroups


async def set_members_txn(txn: Transaction, group_id: int, add: Sequence[int], remove: Sequence[int]) -> None:
    if remove:
        await txn.execute(
            "DELETE FROM user_group_member WHERE group_id = %s AND user_id = ANY(%s)", (group_id, list(remove))
        )
    if add:
        await txn.execute(
            """INSERT INTO user_group_member (group_id, user_id) SELECT %s, unnest(%s::integer[])
               ON CONFLICT DO NOTHING""",
            (group_id, list(add)),
        )


async def set_subgroups_txn(txn: Transaction, group_id: int, add: Sequence[int], remove: Sequence[int]) -> None:
    if remove:
        await txn.execute(
            "DELETE FROM user_group_subgroup WHERE group_id = %s AND subgroup_id = ANY(%s)", (group_id, list(remove))
        )
    if add:
        await txn.execute(
            """INSERT INTO user_group_subgroup (group_id, subgroup_id) SELECT %s, unnest(%s::integer[])
               ON CONFLICT DO NOTHING""",
            (group_id, list(add)),
        )


async def all_subgroup_edges_txn(txn: Transaction, realm_id: int) -> list[tuple[int, int]]:
    rows = await txn.fetch_all(
        """SELECT s.group_id, s.subgroup_id FROM user_group_subgroup s
           JOIN user_group g ON g.id = s.group_id WHERE g.realm_id = %s""",
        (realm_id,),
    )
    return [(row[0], row[1]) for row in rows]


# The first key of the transaction-level advisory lock that serializes group changes in one organization.
GROUP_CHANGES_LOCK = 0x6772_7073  # "grps"


async def lock_realm_groups_txn(txn: Transaction, realm_id: int) -> None:
    """Serialize changes to one organization's groups until this transaction ends.

    Subgroup edges are checked for cycles against the graph as it is after the
    lock is taken, so two concurrent changes cannot together close a cycle.
    """
    await txn.execute("SELECT pg_advisory_xact_lock(%s, %s)", (GROUP_CHANGES_LOCK, realm_id))


async def active_direct_members_txn(txn: Transaction, group_ids: Sequence[int]) -> dict[int, list[int]]:
    """Stored direct members of each (non-system) group who are active users, by user id."""
    rows = await txn.fetch_all(
        """SELECT m.group_id, m.user_id FROM user_group_member m JOIN user_profile u ON u.id = m.user_id
           WHERE m.group_id = ANY(%s) AND u.is_active ORDER BY m.user_id""",
        (list(group_ids),),
    )
    members: dict[int, list[int]] = {group_id: [] for group_id in group_ids}
    for group_id, user_id in rows:
        members[group_id].append(user_id)
    return members


async def active_users_with_roles_txn(
    txn: Transaction, realm_id: int, roles: Sequence[int]
) -> list[tuple[int, int, datetime]]:
    """(user id, role, date joined) of the organization's active users with one of ``roles``."""
    rows = await txn.fetch_all(
        """SELECT id, role, date_joined FROM user_profile
           WHERE realm_id = %s AND is_active AND role = ANY(%s) ORDER BY id""",
        (realm_id, list(roles)),
    )
    return [(row[0], row[1], row[2]) for row in rows]


async def stored_groups_of_user_txn(txn: Transaction, user_id: int) -> list[int]:
    """The (non-system) groups of which the user is a direct member."""
    rows = await txn.fetch_all("SELECT group_id FROM user_group_member WHERE user_id = %s", (user_id,))
    return [row[0] for row in rows]
