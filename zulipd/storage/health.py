"""The database side of ``/health``."""

from __future__ import annotations

from zulipd.storage.pool import DatabasePool


async def check_database(pool: DatabasePool) -> None:
    """Return when the database answers a query; raise otherwise."""
    await pool.fetch_all("health check", "SELECT 1")
