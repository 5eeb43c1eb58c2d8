"""SQL for realms (organizations)."""

from __future__ import annotations

import json
from typing import Any

from zulipd.models import Realm
from zulipd.storage.pool import Transaction

REALM_COLUMNS = "id, string_id, name, description, deactivated, date_created, settings"


def realm_from_row(row: tuple[Any, ...]) -> Realm:
    return Realm(
        id=row[0],
        string_id=row[1],
        name=row[2],
        description=row[3],
        deactivated=row[4],
        date_created=row[5],
        settings=row[6],
    )


async def get_realm_by_string_id_txn(txn: Transaction, string_id: str) -> Realm | None:
    row = await txn.fetch_one(f"SELECT {REALM_COLUMNS} FROM realm WHERE string_id = %s", (string_id,))
    return realm_from_row(row) if row else None


async def get_realm_by_id_txn(txn: Transaction, realm_id: int) -> Realm | None:
    row = await txn.fetch_one(f"SELECT {REALM_COLUMNS} FROM realm WHERE id = %s", (realm_id,))
    return realm_from_row(row) if row else None


async def list_realms_txn(txn: Transaction) -> list[Realm]:
    rows = await txn.fetch_all(f"SELECT {REALM_COLUMNS} FROM realm ORDER BY id")
    return [realm_from_row(row) for row in rows]


async def insert_realm_txn(txn: Transaction, string_id: str, name: str, description: str = "") -> Realm:
    row = await txn.fetch_one(
        f"INSERT INTO realm (string_id, name, description) VALUES (%s, %s, %s) RETURNING {REALM_COLUMNS}",
        (string_id, name, description),
    )
    assert row is not None
    return realm_from_row(row)


async def update_realm_txn(
    txn: Transaction,
    realm_id: int,
    *,
    name: str | None = None,
    description: str | None = None,
    settings: dict[str, Any] | None = None,
    deactivated: bool | None = None,
) -> Realm:
    """Change the given fields; ``settings`` are merged into the stored ones."""
    row = await txn.fetch_one(
        f"""
        UPDATE realm SET
            name = coalesce(%s, name),
            description = coalesce(%s, description),
            settings = settings || %s::jsonb,
            deactivated = coalesce(%s, deactivated)
        WHERE id = %s
        RETURNING {REALM_COLUMNS}
        """,
        (name, description, json.dumps(settings or {}), deactivated, realm_id),
    )
    assert row is not None
    return realm_from_row(row)
