"""Schema migrations against a real PostgreSQL."""

from __future__ import annotations

from pathlib import Path

import psycopg2
import pytest
from twisted.internet import defer

from tests.support.async_tests import async_test
from zulipd.storage.migrations import Migration, MigrationError, load_migrations, migrate, schema_version
from zulipd.storage.pool import DatabasePool, Transaction

FIRST = Migration(1, "first", "CREATE TABLE a (id integer PRIMARY KEY);")
SECOND = Migration(2, "second", "CREATE TABLE b (id integer PRIMARY KEY); INSERT INTO b VALUES (1), (2);")
BROKEN = Migration(3, "broken", "CREATE TABLE c (id integer); INSERT INTO nowhere VALUES (1);")


async def _tables(pool: DatabasePool) -> list[str]:
    rows = await pool.fetch_all(
        "tables", "SELECT tablename FROM pg_tables WHERE schemaname = 'public' AND tablename IN ('a', 'b', 'c')"
    )
    return sorted(row[0] for row in rows)


async def _reset(pool: DatabasePool) -> None:
    """Start from an empty schema: the test database was cloned from a migrated template."""

    async def drop_everything(txn: Transaction) -> None:
        await txn.execute("DROP SCHEMA public CASCADE; CREATE SCHEMA public;")

    await pool.run_interaction("reset", drop_everything)


@async_test
async def test_the_real_migrations_are_applied_in_the_template(db_pool: DatabasePool) -> None:
    assert await schema_version(db_pool) == len(load_migrations())


@async_test
async def test_pending_migrations_apply_in_order_once(db_pool: DatabasePool) -> None:
    await _reset(db_pool)
    assert await schema_version(db_pool) == 0
    applied = await migrate(db_pool, [FIRST, SECOND])
    assert [migration.version for migration in applied] == [1, 2]
    assert await _tables(db_pool) == ["a", "b"]
    assert await migrate(db_pool, [FIRST, SECOND]) == []
    rows = await db_pool.fetch_all("versions", "SELECT version, name FROM schema_version ORDER BY version")
    assert rows == [(1, "first"), (2, "second")]
    assert await schema_version(db_pool) == 2


@async_test
async def test_a_failing_migration_leaves_nothing_half_done(db_pool: DatabasePool) -> None:
    await _reset(db_pool)
    with pytest.raises(psycopg2.errors.UndefinedTable):
        await migrate(db_pool, [FIRST, SECOND, BROKEN])
    assert await _tables(db_pool) == ["a", "b"]  # no table c: migration 3 rolled back whole
    assert await schema_version(db_pool) == 2


@async_test
async def test_a_schema_newer_than_the_code_is_refused(db_pool: DatabasePool) -> None:
    await _reset(db_pool)
    await migrate(db_pool, [FIRST, SECOND])
    with pytest.raises(MigrationError, match="schema is at version 2, newer than this zulipd knows \\(1\\)"):
        await migrate(db_pool, [FIRST])


@async_test
async def test_a_diverging_history_is_refused(db_pool: DatabasePool) -> None:
    await _reset(db_pool)
    await migrate(db_pool, [FIRST])
    other = Migration(1, "something_else", "SELECT 1;")
    with pytest.raises(MigrationError, match="applied migration 0001_first, but this zulipd's 0001 is something_else"):
        await migrate(db_pool, [other, SECOND])


@async_test
async def test_concurrent_migrators_apply_each_migration_once(db_pool: DatabasePool) -> None:
    await _reset(db_pool)
    slow = Migration(1, "slow", "SELECT pg_sleep(0.2); CREATE TABLE a (id integer PRIMARY KEY);")
    results = await defer.gatherResults(
        [defer.ensureDeferred(migrate(db_pool, [slow, SECOND])) for _ in range(3)], consumeErrors=True
    )
    assert sorted(migration.version for applied in results for migration in applied) == [1, 2]
    assert await _tables(db_pool) == ["a", "b"]


def _write(directory: Path, name: str, sql: str = "SELECT 1;") -> None:
    (directory / name).write_text(sql)


def test_migration_files_are_numbered_without_gaps(tmp_path: Path) -> None:
    _write(tmp_path, "0001_one.sql")
    _write(tmp_path, "0002_two.sql", "CREATE TABLE t ();")
    _write(tmp_path, "README.txt")
    assert [(m.version, m.name, m.sql) for m in load_migrations(str(tmp_path))] == [
        (1, "one", "SELECT 1;"),
        (2, "two", "CREATE TABLE t ();"),
    ]
    _write(tmp_path, "0004_four.sql")
    with pytest.raises(MigrationError, match="migration 0003 is missing"):
        load_migrations(str(tmp_path))


def test_badly_named_migration_files_are_refused(tmp_path: Path) -> None:
    _write(tmp_path, "1_one.sql")
    with pytest.raises(MigrationError, match=r"expected a name like 0001_description\.sql"):
        load_migrations(str(tmp_path))
