"""SQL for the audit log."""

from __future__ import annotations

import json
from typing import Any

from zulipd.storage.pool import Transaction


async def insert_audit_log_txn(
    txn: Transaction,
    *,
    realm_id: int,
    event_type: str,
    acting_user_id: int | None,
    modified_user_id: int | None,
    extra_data: dict[str, Any] | None = None,
) -> None:
    await txn.execute(
        """INSERT INTO realm_audit_log (realm_id, event_type, acting_user_id, modified_user_id, extra_data)
           VALUES (%s, %s, %s, %s, %s::jsonb)""",
        (realm_id, event_type, acting_user_id, modified_user_id, json.dumps(extra_data or {}, default=str)),
    )


async def audit_log_for_user_txn(txn: Transaction, user_id: int) -> list[tuple[str, int | None, dict[str, Any]]]:
    """(event type, acting user id, extra data) for one user, oldest first."""
    rows = await txn.fetch_all(
        "SELECT event_type, acting_user_id, extra_data FROM realm_audit_log WHERE modified_user_id = %s ORDER BY id",
        (user_id,),
    )
    return [(row[0], row[1], row[2]) for row in rows]
