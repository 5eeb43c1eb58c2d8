"""Schema migrations: numbered ``.sql`` files, each applied in one transaction.

Files in ``schema/`` are named ``NNNN_description.sql`` and numbered from 0001
without gaps. Applied versions are recorded in ``schema_version``. Several
zulipd processes may start at once against one database: an advisory lock
makes them apply each migration exactly once. zulipd refuses to run against a
schema newer than it knows, and against one whose history differs from its own.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass

from twisted.logger import Logger

from zulipd.storage.pool import DatabasePool, Transaction

log = Logger()

SCHEMA_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "schema")
_FILE_NAME = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")
# An arbitrary constant: the advisory lock id that serializes migrators.
_MIGRATION_LOCK = 7_314_002_001


class MigrationError(Exception):
    """The database schema cannot be brought to this zulipd's version."""


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    sql: str


def load_migrations(directory: str = SCHEMA_DIR) -> list[Migration]:
    migrations = []
    try:
        file_names = sorted(os.listdir(directory))
    except OSError as error:
        raise MigrationError(f"cannot read the migrations in {directory}: {error.strerror}") from None
    for file_name in file_names:
        if not file_name.endswith(".sql"):
            continue
        match = _FILE_NAME.match(file_name)
        if match is None:
            raise MigrationError(f"{os.path.join(directory, file_name)}: expected a name like 0001_description.sql")
        with open(os.path.join(directory, file_name), encoding="utf-8") as sql_file:
            migrations.append(Migration(int(match.group(1)), match.group(2), sql_file.read()))
    for expected, migration in enumerate(migrations, start=1):
        if migration.version != expected:
            raise MigrationError(f"{directory}: migration {expected:04d} is missing or numbered twice")
    return migrations


async def schema_version(pool: DatabasePool) -> int:
    """The newest applied migration, 0 for an empty database."""

    async def read(txn: Transaction) -> int:
        row = await txn.fetch_one("SELECT to_regclass('schema_version') IS NOT NULL")
        if row is None or not row[0]:
            return 0
        row = await txn.fetch_one("SELECT coalesce(max(version), 0) FROM schema_version")
        return int(row[0]) if row else 0

    return await pool.run_interaction("schema_version", read)


async def migrate(pool: DatabasePool, migrations: list[Migration] | None = None) -> list[Migration]:
    """Apply every pending migration, one transaction each; return those applied."""
    known = load_migrations() if migrations is None else migrations
    applied: list[Migration] = []
    while True:
        migration = await pool.run_interaction("migrate", _apply_next_txn, known)
        if migration is None:
            return applied
        log.info("Applied schema migration {version:04d}_{name}", version=migration.version, name=migration.name)
        applied.append(migration)


async def _apply_next_txn(txn: Transaction, known: list[Migration]) -> Migration | None:
    await txn.execute("SELECT pg_advisory_xact_lock(%s)", (_MIGRATION_LOCK,))
    await txn.execute(
        """
        CREATE TABLE IF NOT EXISTS schema_version (
            version integer PRIMARY KEY,
            name text NOT NULL,
            applied_at timestamptz NOT NULL DEFAULT now()
        )
        """
    )
    rows = await txn.fetch_all("SELECT version, name FROM schema_version ORDER BY version")
    newest = rows[-1][0] if rows else 0
    if newest > len(known):
        raise MigrationError(
            f"the database schema is at version {newest}, newer than this zulipd knows ({len(known)}); "
            "run a newer zulipd or restore a matching backup"
        )
    for version, name in rows:
        if version <= len(known) and known[version - 1].name != name:
            raise MigrationError(
                f"the database applied migration {version:04d}_{name}, but this zulipd's "
                f"{version:04d} is {known[version - 1].name}"
            )
    if newest == len(known):
        return None
    migration = known[newest]
    await txn.execute(migration.sql)
    await txn.execute("INSERT INTO schema_version (version, name) VALUES (%s, %s)", (migration.version, migration.name))
    return migration
