"""SQL for user presence and each organization's presence update counter."""

from __future__ import annotations

import dataclasses
from datetime import datetime

from zulipd.storage.pool import Transaction


@dataclasses.dataclass(frozen=True)
class PresenceRow:
    user_id: int
    # None: the user has connected but never reported being active.
    last_active_time: datetime | None
    last_connected_time: datetime | None
    last_update_id: int


_COLUMNS = "user_id, last_active_time, last_connected_time, last_update_id"


async def get_presence_for_update_txn(txn: Transaction, user_id: int) -> PresenceRow | None:
    """One user's presence, locked until the transaction ends (concurrent pings of one user queue up)."""
    row = await txn.fetch_one(f"SELECT {_COLUMNS} FROM user_presence WHERE user_id = %s FOR UPDATE", (user_id,))
    return PresenceRow(*row) if row else None


async def get_presence_txn(txn: Transaction, user_id: int) -> PresenceRow | None:
    row = await txn.fetch_one(f"SELECT {_COLUMNS} FROM user_presence WHERE user_id = %s", (user_id,))
    return PresenceRow(*row) if row else None


async def next_presence_update_id_txn(txn: Transaction, realm_id: int) -> int:
    """The organization's next update id; its counter row stays locked until the transaction ends.

    Call this last in the transaction: every presence write of the organization waits for that lock.
    """
    row = await txn.fetch_one(
        """INSERT INTO presence_sequence AS seq (realm_id, last_update_id) VALUES (%s, 1)
           ON CONFLICT (realm_id) DO UPDATE SET last_update_id = seq.last_update_id + 1
           RETURNING last_update_id""",
        (realm_id,),
    )
    assert row is not None
    return int(row[0])


async def insert_presence_txn(
    txn: Transaction,
    *,
    user_id: int,
    realm_id: int,
    last_active_time: datetime | None,
    last_connected_time: datetime,
    last_update_id: int,
) -> bool:
    """Whether the row was created (False: a concurrent request created it first)."""
    row = await txn.fetch_one(
        """INSERT INTO user_presence (user_id, realm_id, last_active_time, last_connected_time, last_update_id)
           VALUES (%s, %s, %s, %s, %s) ON CONFLICT (user_id) DO NOTHING RETURNING user_id""",
        (user_id, realm_id, last_active_time, last_connected_time, last_update_id),
    )
    return row is not None


async def update_presence_txn(
    txn: Transaction,
    *,
    user_id: int,
    last_active_time: datetime | None,
    last_connected_time: datetime | None,
    last_update_id: int,
) -> None:
    await txn.execute(
        """UPDATE user_presence SET last_active_time = %s, last_connected_time = %s, last_update_id = %s
           WHERE user_id = %s""",
        (last_active_time, last_connected_time, last_update_id, user_id),
    )


async def delete_presence_txn(txn: Transaction, user_id: int) -> None:
    await txn.execute("DELETE FROM user_presence WHERE user_id = %s", (user_id,))


async def realm_presence_txn(
    txn: Transaction,
    realm_id: int,
    *,
    connected_since: datetime | None,
    after_update_id: int | None,
) -> list[PresenceRow]:
    """Presence of the organization's active human users, newest writes filtered as asked."""
    conditions = ["p.realm_id = %s", "u.is_active", "NOT u.is_bot"]
    parameters: list[object] = [realm_id]
    if connected_since is not None:
        conditions.append("p.last_connected_time >= %s")
        parameters.append(connected_since)
    if after_update_id is not None:
        conditions.append("p.last_update_id > %s")
        parameters.append(after_update_id)
    rows = await txn.fetch_all(
        f"""SELECT p.user_id, p.last_active_time, p.last_connected_time, p.last_update_id
            FROM user_presence p JOIN user_profile u ON u.id = p.user_id
            WHERE {" AND ".join(conditions)} ORDER BY p.user_id""",
        parameters,
    )
    return [PresenceRow(*row) for row in rows]
