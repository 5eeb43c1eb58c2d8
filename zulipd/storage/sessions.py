"""SQL for browser sessions."""

from __future__ import annotations

from datetime import datetime

from zulipd.storage.pool import Transaction


async def insert_session_txn(txn: Transaction, key_hash: str, user_id: int, csrf_token: str, expires: datetime) -> None:
    await txn.execute(
        "INSERT INTO user_session (key_hash, user_id, csrf_token, expires) VALUES (%s, %s, %s, %s)",
        (key_hash, user_id, csrf_token, expires),
    )


async def get_session_txn(txn: Transaction, key_hash: str) -> tuple[int, str] | None:
    """(user id, CSRF token) of a live session."""
    row = await txn.fetch_one(
        "SELECT user_id, csrf_token FROM user_session WHERE key_hash = %s AND expires > now()", (key_hash,)
    )
    return (row[0], row[1]) if row else None


async def delete_session_txn(txn: Transaction, key_hash: str) -> None:
    await txn.execute("DELETE FROM user_session WHERE key_hash = %s", (key_hash,))


async def delete_user_sessions_txn(txn: Transaction, user_id: int, keep_key_hash: str | None = None) -> int:
    await txn.execute(
        "DELETE FROM user_session WHERE user_id = %s AND key_hash IS DISTINCT FROM %s", (user_id, keep_key_hash)
    )
    return txn.rowcount


async def delete_realm_sessions_txn(txn: Transaction, realm_id: int) -> int:
    await txn.execute(
        "DELETE FROM user_session USING user_profile WHERE user_session.user_id = user_profile.id "
        "AND user_profile.realm_id = %s",
        (realm_id,),
    )
    return txn.rowcount


async def delete_expired_sessions_txn(txn: Transaction) -> int:
    await txn.execute("DELETE FROM user_session WHERE expires <= now()")
    return txn.rowcount
