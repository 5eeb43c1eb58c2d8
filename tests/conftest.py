"""Shared fixtures: a real PostgreSQL, a real Redis, and zulipd daemons."""

from __future__ import annotations

import os
import shutil
from collections.abc import AsyncIterator, Iterator

import pytest
import pytest_twisted
from twisted.internet import defer, reactor

from tests.operator_tools import LiveZulipd, live_zulipd
from tests.support import postgres as pg
from tests.support import redis as redis_support
from tests.support.api import ApiHarness, start_harness, stop_harness
from tests.support.async_tests import async_fixture
from tests.support.daemon import reachable_temporary_directory
from zulipd.storage.embedded import EmbeddedPostgres
from zulipd.storage.migrations import migrate
from zulipd.storage.pool import DatabasePool


@pytest.fixture(scope="session")
def postgres_admin_dsn() -> Iterator[str]:
    """A DSN for a PostgreSQL role that may create databases."""
    configured = os.environ.get("ZULIPD_TEST_DATABASE_URL")
    if configured:
        yield configured
        return
    local = pg.find_local_server()
    if local:
        yield local
        return
    directory = reachable_temporary_directory("zulipd-test-pg-")
    embedded = EmbeddedPostgres(reactor, reactor, directory)
    pytest_twisted.blockon(defer.ensureDeferred(embedded.start()))
    try:
        yield embedded.admin_dsn()
    finally:
        pytest_twisted.blockon(defer.ensureDeferred(embedded.stop()))
        shutil.rmtree(directory, ignore_errors=True)


async def _migrate_database(dsn: str) -> None:
    pool = DatabasePool(dsn, 1, reactor)
    await pool.start()
    try:
        await migrate(pool)
    finally:
        await pool.close()


@pytest.fixture(scope="session")
def template_database(postgres_admin_dsn: str) -> str:
    """A database with every migration applied, built once and cloned per test."""
    name = pg.template_name()
    with pg.admin_connection(postgres_admin_dsn) as connection, connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_lock(%s)", (pg.TEMPLATE_LOCK,))
        try:
            cursor.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,))
            if cursor.fetchone() is None:
                building = name + "_building"
                cursor.execute(f'DROP DATABASE IF EXISTS "{building}" WITH (FORCE)')
                cursor.execute(f'CREATE DATABASE "{building}"')
                dsn = pg.with_database(postgres_admin_dsn, building)
                pytest_twisted.blockon(defer.ensureDeferred(_migrate_database(dsn)))
                cursor.execute(f'ALTER DATABASE "{building}" RENAME TO "{name}"')
                # Templates of older schemas are no longer useful.
                cursor.execute(
                    "SELECT datname FROM pg_database WHERE datname LIKE %s AND datname <> %s",
                    (pg.TEMPLATE_PREFIX + "%", name),
                )
                for (old,) in cursor.fetchall():
                    cursor.execute(f'DROP DATABASE IF EXISTS "{old}" WITH (FORCE)')
        finally:
            cursor.execute("SELECT pg_advisory_unlock(%s)", (pg.TEMPLATE_LOCK,))
    return name


@pytest.fixture
def database_dsn(postgres_admin_dsn: str, template_database: str) -> Iterator[str]:
    """A fresh, fully migrated database of this test's own."""
    name = pg.create_database(postgres_admin_dsn, template_database)
    try:
        yield pg.with_database(postgres_admin_dsn, name)
    finally:
        pg.drop_database(postgres_admin_dsn, name)


@async_fixture
async def db_pool(database_dsn: str) -> AsyncIterator[DatabasePool]:
    pool = DatabasePool(database_dsn, 3, reactor, connect_timeout=5.0)
    await pool.start()
    yield pool
    await pool.close()


@pytest.fixture(scope="module")
def live(postgres_admin_dsn: str, template_database: str) -> Iterator[LiveZulipd]:
    """A ``twistd -n zulipd`` on Zulip's development data (populate-dev), shared by one test module."""
    with live_zulipd(postgres_admin_dsn, template_database) as daemon:
        yield daemon


@pytest.fixture(scope="session")
def redis_url() -> Iterator[str]:
    """A Redis URL; unless ZULIPD_TEST_REDIS_URL names one, its database number is this xdist worker's own."""
    database = redis_support.worker_database_number()
    configured = os.environ.get("ZULIPD_TEST_REDIS_URL")
    if configured:
        yield configured
        return
    if redis_support.answers_ping(*redis_support.LOCAL):
        yield f"redis://{redis_support.LOCAL[0]}:{redis_support.LOCAL[1]}/{database}"
        return
    directory = reachable_temporary_directory("zulipd-test-redis-")
    server = redis_support.PrivateRedis(directory)
    try:
        yield f"{server.url}/{database}"
    finally:
        server.stop()
        shutil.rmtree(directory, ignore_errors=True)


@async_fixture
async def api(db_pool: DatabasePool) -> AsyncIterator[ApiHarness]:
    """zulipd's API in this process, on loopback, with Zulip's development users."""
    harness = await start_harness(db_pool)
    yield harness
    await stop_harness(harness)
