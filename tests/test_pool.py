"""The database pool against a real PostgreSQL: transactions, waiting, and surviving killed backends."""

from __future__ import annotations

import psycopg2
import pytest
from twisted.internet import defer, reactor

from tests.support.async_tests import async_test, captured_logs
from zulipd.storage.pool import DatabaseConnectionLost, DatabasePool, DatabaseUnavailable, Transaction
from zulipd.timing import sleep


async def _make_table(pool: DatabasePool) -> None:
    async def create(txn: Transaction) -> None:
        await txn.execute("CREATE TABLE items (id serial PRIMARY KEY, name text NOT NULL UNIQUE)")

    await pool.run_interaction("create items", create)


async def _insert(txn: Transaction, name: str) -> int:
    row = await txn.fetch_one("INSERT INTO items (name) VALUES (%s) RETURNING id", (name,))
    assert row is not None
    return int(row[0])


async def _names(pool: DatabasePool) -> list[str]:
    return [row[0] for row in await pool.fetch_all("names", "SELECT name FROM items ORDER BY id")]


def _terminate_backends(dsn: str) -> int:
    """Kill every other backend connected to this test's database, as an operator might."""
    connection = psycopg2.connect(dsn)
    connection.autocommit = True
    try:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
            row = cursor.fetchone()
            return int(row[0]) if row else 0
    finally:
        connection.close()


@async_test
async def test_interaction_commits_and_returns_its_result(db_pool: DatabasePool) -> None:
    await _make_table(db_pool)
    new_id = await db_pool.run_interaction("insert", _insert, "first")
    assert new_id == 1
    assert await _names(db_pool) == ["first"]


@async_test
async def test_interaction_that_raises_rolls_back_everything(db_pool: DatabasePool) -> None:
    await _make_table(db_pool)

    async def half_then_fail(txn: Transaction) -> None:
        await _insert(txn, "half")
        raise ValueError("changed my mind")

    with pytest.raises(ValueError, match="changed my mind"):
        await db_pool.run_interaction("half", half_then_fail)
    assert await _names(db_pool) == []


@async_test
async def test_sql_error_rolls_back_and_the_connection_stays_usable(db_pool: DatabasePool) -> None:
    await _make_table(db_pool)

    async def duplicate(txn: Transaction) -> None:
        await _insert(txn, "same")
        await _insert(txn, "same")

    with pytest.raises(psycopg2.IntegrityError):
        await db_pool.run_interaction("duplicate", duplicate)
    for _ in range(db_pool.size + 1):
        await db_pool.run_interaction("insert", _insert, f"after-{_}")
    assert len(await _names(db_pool)) == db_pool.size + 1


@async_test
async def test_callers_wait_for_a_free_connection(database_dsn: str) -> None:
    pool = DatabasePool(database_dsn, 1, reactor, connect_timeout=5.0)
    await pool.start()
    try:
        order: list[str] = []

        async def slow(txn: Transaction, name: str) -> None:
            order.append(f"start {name}")
            await txn.execute("SELECT pg_sleep(0.1)")
            order.append(f"end {name}")

        await defer.gatherResults(
            [defer.ensureDeferred(pool.run_interaction("slow", slow, name)) for name in ("a", "b", "c")]
        )
        assert order == ["start a", "end a", "start b", "end b", "start c", "end c"]
    finally:
        await pool.close()


@async_test
async def test_waiting_for_a_connection_times_out_with_a_clear_error(database_dsn: str) -> None:
    pool = DatabasePool(database_dsn, 1, reactor, connect_timeout=0.2)
    await pool.start()
    try:
        blocker = defer.ensureDeferred(pool.fetch_all("sleep", "SELECT pg_sleep(1)"))
        with pytest.raises(DatabaseUnavailable, match="no database connection became available"):
            await pool.fetch_all("waiting", "SELECT 1")
        await blocker
    finally:
        await pool.close()


@async_test
async def test_slow_transactions_are_logged(database_dsn: str) -> None:
    pool = DatabasePool(database_dsn, 1, reactor, slow_transaction=0.05)
    await pool.start()
    try:
        with captured_logs() as logs:
            await pool.fetch_all("the slow one", "SELECT pg_sleep(0.1)")
            await pool.fetch_all("the fast one", "SELECT 1")
    finally:
        await pool.close()
    slow = [event.get("description") for event in logs.events if event.get("log_format", "").startswith("Slow")]
    assert slow == ["the slow one"]


@async_test
async def test_idle_connections_recover_after_their_backends_are_killed(database_dsn: str) -> None:
    pool = DatabasePool(database_dsn, 3, reactor)
    await pool.start()
    try:
        assert _terminate_backends(database_dsn) == 3
        # Every request after the kill succeeds: nothing was in flight.
        for _ in range(10):
            assert await pool.fetch_all("after kill", "SELECT 42") == [(42,)]
        # And the pool is whole again.
        await sleep(reactor, 0.2)
        results = await defer.gatherResults(
            [defer.ensureDeferred(pool.fetch_all("parallel", "SELECT 1")) for _ in range(6)]
        )
        assert results == [[(1,)]] * 6
    finally:
        await pool.close()


@async_test
async def test_a_killed_backend_costs_only_the_transaction_running_on_it(database_dsn: str) -> None:
    pool = DatabasePool(database_dsn, 2, reactor)
    await pool.start()
    try:

        async def sleeper(txn: Transaction) -> None:
            await txn.execute("SELECT pg_sleep(5)")

        running = defer.ensureDeferred(pool.run_interaction("victim", sleeper))
        await sleep(reactor, 0.2)
        assert _terminate_backends(database_dsn) == 2
        # A transaction that was under way may or may not have committed: the caller is told.
        with pytest.raises(DatabaseConnectionLost, match="lost during victim"):
            await running
        for _ in range(5):
            assert await pool.fetch_all("after kill", "SELECT 7") == [(7,)]
    finally:
        await pool.close()


@async_test
async def test_a_read_under_way_when_its_backend_is_killed_runs_again(database_dsn: str) -> None:
    pool = DatabasePool(database_dsn, 2, reactor)
    await pool.start()
    try:

        async def slow_read(txn: Transaction) -> list[tuple[object, ...]]:
            return await txn.fetch_all("SELECT 5 FROM pg_sleep(0.5)")

        running = defer.ensureDeferred(pool.run_reads("slow read", slow_read))
        await sleep(reactor, 0.2)
        assert _terminate_backends(database_dsn) == 2
        assert await running == [(5,)]
    finally:
        await pool.close()


@async_test
async def test_start_fails_clearly_when_the_database_does_not_exist(postgres_admin_dsn: str) -> None:
    from tests.support.postgres import with_database

    pool = DatabasePool(with_database(postgres_admin_dsn, "zulipd_no_such_database"), 2, reactor)
    with pytest.raises(DatabaseUnavailable, match="zulipd_no_such_database"):
        await pool.start()


@async_test
async def test_a_serialization_failure_is_an_sql_error_not_a_lost_connection(db_pool: DatabasePool) -> None:
    async def conflict(txn: Transaction) -> None:
        await txn.execute("SET TRANSACTION ISOLATION LEVEL SERIALIZABLE")
        await txn.execute("DO $$ BEGIN RAISE EXCEPTION 'simulated' USING ERRCODE = 'serialization_failure'; END $$")

    with pytest.raises(psycopg2.errors.SerializationFailure):
        await db_pool.run_interaction("conflict", conflict)
    # The connection was healthy and stays in the pool: every connection answers at once.
    results = await defer.gatherResults(
        [defer.ensureDeferred(db_pool.fetch_all("after", "SELECT 1")) for _ in range(db_pool.size)]
    )
    assert results == [[(1,)]] * db_pool.size
    assert db_pool.idle_count == db_pool.size


@async_test
async def test_start_gives_up_on_a_server_that_never_answers() -> None:
    from twisted.internet.endpoints import TCP4ServerEndpoint
    from twisted.internet.protocol import Factory, Protocol

    silent = await TCP4ServerEndpoint(reactor, 0, interface="127.0.0.1").listen(Factory.forProtocol(Protocol))
    try:
        dsn = f"host=127.0.0.1 port={silent.getHost().port} dbname=x user=x"
        pool = DatabasePool(dsn, 2, reactor, connect_timeout=0.3)
        with pytest.raises(DatabaseUnavailable, match=r"did not answer within 0\.3 s"):
            await pool.start()
    finally:
        await silent.stopListening()


@async_test
async def test_a_prepared_statement_is_prepared_again_on_a_new_server_connection(database_dsn: str) -> None:
    pool = DatabasePool(database_dsn, 1, reactor)
    await pool.start()

    async def add_one(txn: Transaction, value: int) -> list[tuple[object, ...]]:
        return await txn.fetch_all_prepared("zulipd_test_add_one", "SELECT %s::integer + 1", [value])

    async def prepared_names(txn: Transaction) -> list[tuple[object, ...]]:
        return await txn.fetch_all("SELECT name FROM pg_prepared_statements")

    try:
        assert await pool.run_interaction("add", add_one, 1) == [(2,)]
        assert await pool.run_interaction("add", add_one, 2) == [(3,)]
        assert await pool.run_reads("names", prepared_names) == [("zulipd_test_add_one",)]
        assert _terminate_backends(database_dsn) == 1
        for _ in range(50):  # until the connection is back
            try:
                assert await pool.run_interaction("add after kill", add_one, 41) == [(42,)]
                break
            except DatabaseUnavailable:
                await sleep(reactor, 0.1)
        else:
            raise AssertionError("the pool did not recover")
    finally:
        await pool.close()


@async_test
async def test_a_prepared_statement_with_typed_parameters_may_use_each_one_twice(db_pool: DatabasePool) -> None:
    async def both(txn: Transaction, number: int | None, text: str) -> list[tuple[object, ...]]:
        return await txn.fetch_all_prepared(
            "zulipd_test_typed", "SELECT $1 + $1, $2 || $2, $1 IS NULL", [number, text], types=["integer", "text"]
        )

    assert await db_pool.run_reads("typed", both, 20, "ab") == [(40, "abab", False)]
    assert await db_pool.run_reads("typed", both, None, "c") == [(None, "cc", True)]


@async_test
async def test_what_a_transaction_announces_is_handed_over_when_it_commits(database_dsn: str) -> None:
    heard: list[str] = []
    pool = DatabasePool(database_dsn, 1, reactor, on_commit=heard.append)
    await pool.start()
    try:
        await _make_table(pool)

        async def add(txn: Transaction, name: str, fail: bool) -> None:
            await _insert(txn, name)
            txn.announce_on_commit(f"added:{name}")
            assert f"added:{name}" not in heard, "announced before the commit"
            if fail:
                raise ValueError("rolled back")

        await pool.run_interaction("add", add, "one", False)
        assert heard == ["added:one"]
        with pytest.raises(ValueError, match="rolled back"):
            await pool.run_interaction("add", add, "two", True)
        # A single statement commits too; a failed one announces nothing.
        await pool.run_single_statement("add", add, "three", False)
        with pytest.raises(psycopg2.IntegrityError):
            await pool.run_single_statement("add", add, "one", False)
        assert heard == ["added:one", "added:three"]
        assert await _names(pool) == ["one", "three"]
    finally:
        await pool.close()


@async_test
async def test_prepared_statements_keep_their_plan_after_reconnecting(database_dsn: str) -> None:
    pool = DatabasePool(database_dsn, 2, reactor)
    await pool.start()
    try:
        assert await pool.fetch_all("mode", "SHOW plan_cache_mode") == [("force_generic_plan",)]
        assert _terminate_backends(database_dsn) == 2
        assert await pool.fetch_all("mode", "SHOW plan_cache_mode") == [("force_generic_plan",)]
        await sleep(reactor, 0.2)
        modes = await defer.gatherResults(
            [defer.ensureDeferred(pool.fetch_all("mode", "SHOW plan_cache_mode")) for _ in range(4)]
        )
        assert modes == [[("force_generic_plan",)]] * 4
    finally:
        await pool.close()
