"""The embedded PostgreSQL manager, run in-process against the machine's (or pgserver's) binaries."""

from __future__ import annotations

import os
import shutil
import stat
from collections.abc import Iterator

import psycopg2
import pytest
from twisted.internet import reactor

from tests.support.async_tests import async_test
from tests.support.daemon import processes_using, reachable_temporary_directory
from zulipd.storage import embedded
from zulipd.storage.embedded import EmbeddedPostgres, EmbeddedPostgresError, find_server_binaries, server_account


@pytest.fixture
def state_dir() -> Iterator[str]:
    directory = reachable_temporary_directory("zulipd-test-embedded-")
    try:
        yield os.path.join(directory, "var")
    finally:
        for pid in processes_using(directory):  # never leave a server behind, even on failure
            try:
                os.kill(pid, 9)
            except ProcessLookupError:
                pass
        shutil.rmtree(directory, ignore_errors=True)


def query(dsn: str, sql: str) -> list[tuple[object, ...]]:
    connection = psycopg2.connect(dsn)
    try:
        connection.autocommit = True
        with connection.cursor() as cursor:
            cursor.execute(sql)
            return cursor.fetchall() if cursor.description else []
    finally:
        connection.close()


@async_test
async def test_first_start_creates_a_private_cluster_and_a_restart_reuses_it(state_dir: str) -> None:
    server = EmbeddedPostgres(reactor, reactor, state_dir)
    dsn = await server.start()
    data_dir = os.path.join(state_dir, "postgresql", "data")
    try:
        assert server.data_dir == data_dir
        assert stat.S_IMODE(os.stat(data_dir).st_mode) == 0o700
        account = server_account("")
        if account is not None:
            assert os.stat(data_dir).st_uid == account.uid
        assert query(dsn, "SELECT current_database(), current_user") == [("zulipd", "zulipd")]
        assert query(dsn, "SHOW listen_addresses") == [("",)]  # Unix socket only
        query(dsn, "CREATE TABLE kept (note text); INSERT INTO kept VALUES ('still here')")
        created = os.stat(os.path.join(data_dir, "PG_VERSION")).st_mtime_ns
    finally:
        await server.stop()
    assert processes_using(data_dir) == []

    again = EmbeddedPostgres(reactor, reactor, state_dir)
    dsn = await again.start()
    try:
        assert os.stat(os.path.join(data_dir, "PG_VERSION")).st_mtime_ns == created  # no second initdb
        assert query(dsn, "SELECT note FROM kept") == [("still here",)]
    finally:
        await again.stop()


@async_test
async def test_a_stale_lock_file_does_not_stop_the_start(state_dir: str) -> None:
    server = EmbeddedPostgres(reactor, reactor, state_dir)
    await server.start()
    await server.stop()
    lock = os.path.join(server.data_dir, "postmaster.pid")
    # A crash leaves postmaster.pid behind; here it names a live process that is
    # not PostgreSQL (this test process), the hardest case for PostgreSQL itself.
    with open(lock, "w") as lock_file:
        lock_file.write(f"{os.getpid()}\n{server.data_dir}\n0\n5432\n/nonexistent\n\n0 0\nready\n")
    again = EmbeddedPostgres(reactor, reactor, state_dir)
    dsn = await again.start()
    try:
        assert query(dsn, "SELECT 1") == [(1,)]
    finally:
        await again.stop()


@async_test
async def test_a_long_state_path_gets_a_short_private_socket_directory(state_dir: str) -> None:
    deep = os.path.join(state_dir, *(["deeper-and-deeper"] * 5))
    server = EmbeddedPostgres(reactor, reactor, deep)
    dsn = await server.start()
    socket_dir = server.socket_dir
    try:
        assert not socket_dir.startswith(deep)
        assert len(socket_dir) <= embedded.MAX_SOCKET_DIR_LENGTH
        assert query(dsn, "SELECT 1") == [(1,)]
    finally:
        await server.stop()
    assert not os.path.exists(socket_dir)


@pytest.mark.skipif(os.geteuid() != 0, reason="only root runs the server as another account")
@async_test
async def test_a_state_dir_the_server_account_cannot_reach_is_relocated(
    state_dir: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    parent = os.path.dirname(state_dir)
    relocation_root = os.path.join(parent, "relocated")
    monkeypatch.setattr(embedded, "RELOCATION_ROOT", relocation_root)
    private = os.path.join(parent, "private")
    os.mkdir(private, 0o700)
    server = EmbeddedPostgres(reactor, reactor, os.path.join(private, "var"))
    dsn = await server.start()
    try:
        link = os.path.join(private, "var", "postgresql")
        assert os.path.islink(link)
        assert os.path.realpath(link).startswith(relocation_root)
        assert query(dsn, "SELECT 1") == [(1,)]
    finally:
        await server.stop()


def test_a_configured_binary_directory_must_hold_postgres(tmp_path: object) -> None:
    with pytest.raises(EmbeddedPostgresError, match="does not hold executable postgres and initdb"):
        find_server_binaries("/nonexistent/bin")
    found = find_server_binaries("")
    assert os.access(os.path.join(found, "postgres"), os.X_OK)


@pytest.mark.skipif(os.geteuid() != 0, reason="only root picks an unprivileged account")
def test_root_never_runs_the_server_as_root() -> None:
    with pytest.raises(EmbeddedPostgresError, match="is root"):
        server_account("root")
    account = server_account("")
    assert account is not None
    assert account.uid != 0
