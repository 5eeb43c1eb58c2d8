"""SQL for bots' key-value storage."""

from __future__ import annotations

from collections.abc import Sequence

from zulipd.storage.pool import Transaction


async def get_bot_storage_txn(txn: Transaction, bot_id: int, keys: Sequence[str] | None) -> dict[str, str]:
    if keys is None:
        rows = await txn.fetch_all("SELECT key, value FROM bot_storage WHERE bot_id = %s", (bot_id,))
    else:
        rows = await txn.fetch_all(
            "SELECT key, value FROM bot_storage WHERE bot_id = %s AND key = ANY(%s)", (bot_id, list(keys))
        )
    return {row[0]: row[1] for row in rows}


async def bot_storage_size_txn(txn: Transaction, bot_id: int, excluding: Sequence[str] = ()) -> int:
    row = await txn.fetch_one(
        "SELECT coalesce(sum(length(key) + length(value)), 0) FROM bot_storage WHERE bot_id = %s AND NOT key = ANY(%s)",
        (bot_id, list(excluding)),
    )
    return int(row[0]) if row else 0


async def set_bot_storage_txn(txn: Transaction, bot_id: int, entries: dict[str, str]) -> None:
    for key, value in entries.items():
        await txn.execute(
            """INSERT INTO bot_storage (bot_id, key, value) VALUES (%s, %s, %s)
               ON CONFLICT (bot_id, key) DO UPDATE SET value = excluded.value""",
            (bot_id, key, value),
        )


async def delete_bot_storage_txn(txn: Transaction, bot_id: int, keys: Sequence[str] | None) -> list[str]:
    """Delete the given keys (all if None); return the keys that were missing."""
    if keys is None:
        await txn.execute("DELETE FROM bot_storage WHERE bot_id = %s", (bot_id,))
        return []
    rows = await txn.fetch_all(
        "DELETE FROM bot_storage WHERE bot_id = %s AND key = ANY(%s) RETURNING key", (bot_id, list(keys))
    )
    deleted = {row[0] for row in rows}
    return [key for key in keys if key not in deleted]
