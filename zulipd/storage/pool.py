"""A PostgreSQL connection pool over txpostgres that survives server restarts.

txpostgres' own ConnectionPool never reconnects: after a backend is killed or
the server restarts, every later query fails. Here each connection carries a
dead-connection detector that reconnects it in the background with backoff,
and the pool only hands out connections that are believed alive.

A transaction that fails before any of its work reached the server (the
connection turned out dead at BEGIN) is retried on another connection, which
is always safe. One that fails later is not retried: its outcome is unknown to
us, so the error goes to the caller. Killing a backend therefore costs at most
the transactions that were running on it. Reads (``run_reads``) are retried
even when under way: running them again changes nothing.

Three ways to run work, by the round trips they cost:
- ``run_interaction``: BEGIN, the statements, COMMIT;
- ``run_reads``: read-only statements alone, each its own implicit transaction;
- ``run_single_statement``: one statement, writes included, atomic by itself.
Hot statements can be planned once per connection (``Transaction.fetch_all_prepared``).
A transaction can leave messages for this process's caches, handed over when it
commits (``Transaction.announce_on_commit``).
"""

from __future__ import annotations

import collections
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any, Concatenate, Literal, ParamSpec, TypeVar, cast

import psycopg2
from twisted.internet import defer
from twisted.internet.interfaces import IReactorTime
from twisted.logger import Logger
from twisted.python.failure import Failure
from txpostgres import reconnection, retrying, txpostgres

log = Logger()

T = TypeVar("T")
P = ParamSpec("P")

QueryParameters = Sequence[Any] | Mapping[str, Any] | None

# Each connection's own settings, made when it connects (and again when it reconnects).
# A prepared statement keeps its first plan, made for any parameters: by default PostgreSQL
# plans it afresh on every run once its statistics make a plan for the given values look
# cheaper, and the send's statement then spends more time being planned than running.
_SESSION_SETTINGS = "SET plan_cache_mode = force_generic_plan"

# admin_shutdown (pg_terminate_backend), crash_shutdown, cannot_connect_now
_SERVER_ENDED_CONNECTION = {"57P01", "57P02", "57P03"}


class DatabaseUnavailable(Exception):
    """No working database connection could be had in time."""


class DatabaseConnectionLost(DatabaseUnavailable):
    """The connection died while a transaction ran on it; its outcome is unknown."""


class Transaction:
    """The cursor of one transaction, as the ``*_txn`` storage functions see it."""

    def __init__(self, cursor: Any, prepared: set[str] | None = None) -> None:
        self._cursor = cursor
        # The statements prepared on this connection, by name (see fetch_all_prepared).
        self._prepared = prepared if prepared is not None else set()
        # What announce_on_commit was given, in order.
        self.announcements: list[str] = []

    def announce_on_commit(self, message: str) -> None:
        """Hand ``message`` to the pool's ``on_commit`` in this process once the transaction commits.

        For caches of this process that the transaction's changes make stale:
        they forget at once, before the caller hears of the commit. (Other
        processes hear through PostgreSQL's NOTIFY, which only arrives later.)
        """
        self.announcements.append(message)

    async def fetch_all_prepared(
        self, name: str, sql: str, parameters: Sequence[Any], types: Sequence[str] | None = None
    ) -> list[tuple[Any, ...]]:
        """``fetch_all`` through a statement the server plans once per connection.

        For hot statements whose planning costs more than running them. ``sql``
        uses ``%s`` placeholders, each cast to its type (``%s::integer[]``), and
        no other ``%`` sign. Or, given the parameters' ``types``, PostgreSQL's own
        ``$1``, ``$2``…, each of which the statement may use more than once.
        """
        if name not in self._prepared:
            if types is not None:
                assert len(types) == len(parameters)
                await self._cursor.execute(f"PREPARE {name} ({', '.join(types)}) AS {sql}")
            else:
                numbered = sql
                for number in range(1, len(parameters) + 1):
                    numbered = numbered.replace("%s", f"${number}", 1)
                await self._cursor.execute(f"PREPARE {name} AS {numbered}")
            self._prepared.add(name)
        placeholders = ", ".join(["%s"] * len(parameters))
        return await self.fetch_all(f"EXECUTE {name} ({placeholders})", parameters)

    async def execute(self, sql: str, parameters: QueryParameters = None) -> None:
        await self._cursor.execute(sql, parameters)

    async def fetch_all(self, sql: str, parameters: QueryParameters = None) -> list[tuple[Any, ...]]:
        await self._cursor.execute(sql, parameters)
        rows: list[tuple[Any, ...]] = self._cursor.fetchall()
        return rows

    async def fetch_one(self, sql: str, parameters: QueryParameters = None) -> tuple[Any, ...] | None:
        await self._cursor.execute(sql, parameters)
        row: tuple[Any, ...] | None = self._cursor.fetchone()
        return row

    @property
    def rowcount(self) -> int:
        count: int = self._cursor.rowcount
        return count


class _Detector(reconnection.DeadConnectionDetector):  # type: ignore[misc]
    """txpostgres' detector, made stoppable, and telling the pool what happens.

    txpostgres counts every OperationalError as a dead connection, but a
    deadlock or a serialization failure is an OperationalError on a healthy
    one. Here a connection is dead only when psycopg2 says it is closed.
    """

    def __init__(self, clock: IReactorTime, connection: _Connection, on_death: Callable[[], None]) -> None:
        super().__init__(reactor=clock, deathChecker=lambda failure: connection.is_dead(failure))
        self._on_death = on_death
        self._retrying: defer.Deferred[Any] | None = None
        self._connecting = False
        self.stopped = False
        self.was_connected = False

    def startReconnecting(self, failure: Failure) -> None:
        if self.stopped:
            return
        if self.was_connected:  # failures to connect at all are reported by the pool, once
            log.warn("Database connection lost ({reason}); reconnecting", reason=_first_line(failure.value))
        self._on_death()
        call = retrying.RetryingCall(self.reconnect)
        call.reactor = self.reactor
        self._retrying = call.start(self.reconnectionIterator())
        self._retrying.addCallback(lambda _: self.connectionRecovered())
        self._retrying.addErrback(lambda failure: failure.trap(defer.CancelledError))

    def reconnect(self) -> defer.Deferred[Any] | None:
        if self.stopped:
            return None

        def done(result: object) -> object:
            self._connecting = False
            if not isinstance(result, Failure):
                self.was_connected = True
            return result

        self._connecting = True
        reconnecting: defer.Deferred[Any] = super().reconnect()
        return reconnecting.addBoth(done)

    def stop(self) -> None:
        """Stop reconnecting. An attempt already connecting finishes, and the pool closes it."""
        self.stopped = True
        if self._retrying is not None and not self._connecting:
            self._retrying.cancel()


class _Connection(txpostgres.Connection):  # type: ignore[misc]
    """txpostgres' connection, reporting a dead socket quietly.

    A backend that dies while the connection is idle surfaces as an exception
    from ``doRead``, which the reactor would log as "Unhandled Error". Returning
    it instead makes the reactor call ``connectionLost``, which starts the
    detector's reconnection; the detector logs one warning.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Prepared statements live as long as the server connection: a new one has none.
        self.prepared: set[str] = set()

    def connect(self, *args: Any, **kwargs: Any) -> defer.Deferred[Any]:
        self.prepared = set()
        connecting: defer.Deferred[Any] = super().connect(*args, **kwargs)

        def configure(connected: object) -> defer.Deferred[Any]:
            # On the cursor itself: runOperation would ask the detector, which still
            # counts a reconnecting connection as dead.
            configuring: defer.Deferred[Any] = self.cursor().execute(_SESSION_SETTINGS)
            return configuring.addCallback(lambda _: connected)

        return connecting.addCallback(configure)

    def is_broken(self) -> bool:
        return self._connection is None or bool(self._connection.closed)

    def is_dead(self, failure: Failure) -> bool:
        """Whether ``failure`` means this connection cannot be used any more."""
        if self.is_broken() or failure.check(reconnection.ConnectionDead, txpostgres.RollbackFailed):
            return True
        error = failure.value
        if isinstance(error, psycopg2.InterfaceError):
            return True
        if isinstance(error, psycopg2.OperationalError):
            # No SQLSTATE: libpq lost the connection. Class 08 and 57P0x: the
            # server ended it. Other codes (deadlock, serialization failure,
            # lock timeout) are errors on a healthy connection.
            code = error.pgcode
            return code is None or code.startswith("08") or code in _SERVER_ENDED_CONNECTION
        return False

    def doRead(self) -> BaseException | None:
        try:
            super().doRead()
        except psycopg2.Error as error:
            return error
        return None

    def run_statements(self, statements: Callable[[Any], defer.Deferred[Any]]) -> defer.Deferred[Any]:
        """``statements(cursor)`` with no transaction around them, watched by the dead-connection detector."""
        return self.detector.callChecking(lambda: statements(self.cursor()))  # type: ignore[no-any-return]

    def _runInteraction(self, interaction: Callable[..., Any], *args: Any, **kwargs: Any) -> defer.Deferred[Any]:
        # As txpostgres does, minus its log.err() of a failed rollback: that only
        # happens on a dead connection, which the detector already reports.
        cursor = self.cursor()
        running: defer.Deferred[Any] = cursor.execute("begin")
        running.addCallback(interaction, *args, **kwargs)

        def commit(result: object) -> defer.Deferred[object]:
            committing: defer.Deferred[object] = cursor.execute("commit")
            return committing.addCallback(lambda _: result)

        def rollback(failure: Failure) -> defer.Deferred[Failure]:
            rolling_back: defer.Deferred[Any] = defer.maybeDeferred(cursor.execute, "rollback")
            rolling_back.addErrback(lambda _: defer.fail(txpostgres.RollbackFailed(self, failure)))
            return rolling_back.addCallback(lambda _: failure)

        running.addCallback(commit)
        return running.addErrback(rollback)


class DatabasePool:
    def __init__(
        self,
        dsn: str,
        size: int,
        clock: IReactorTime,
        connect_timeout: float = 10.0,
        slow_transaction: float = 1.0,
        on_commit: Callable[[str], None] | None = None,
    ) -> None:
        self._dsn = dsn
        # Given each announcement of a transaction that committed (Transaction.announce_on_commit).
        self.on_commit = on_commit
        self._size = size
        self._clock = clock
        self._connect_timeout = connect_timeout
        self._slow_transaction = slow_transaction
        self._connections: list[_Connection] = []
        self._idle: collections.deque[_Connection] = collections.deque()
        self._busy: set[_Connection] = set()
        self._waiters: collections.deque[defer.Deferred[_Connection]] = collections.deque()
        self._closed = False

    @property
    def size(self) -> int:
        return self._size

    @property
    def idle_count(self) -> int:
        return len(self._idle)

    async def start(self) -> None:
        """Open every connection. Fails only if none of them can be opened in time."""
        attempts = [self._open_connection() for _ in range(self._size)]
        timed_out = False

        def abandon_pending() -> None:
            # An async libpq connect has no timeout of its own: a server that
            # accepts and never answers would keep us waiting forever.
            nonlocal timed_out
            timed_out = True
            for connection in self._connections:
                if not connection.detector.was_connected and not connection.is_broken():
                    _close_quietly(connection)

        timer = self._clock.callLater(self._connect_timeout, abandon_pending)
        results = await defer.DeferredList(attempts, consumeErrors=True)
        if timer.active():
            timer.cancel()
        failures = [cast(Failure, result) for ok, result in results if not ok]
        if len(failures) == self._size:
            await self.close()
            if timed_out:
                reason = f"the server did not answer within {self._connect_timeout:g} s"
            else:
                reason = _first_line(failures[0].value)
            raise DatabaseUnavailable(f"cannot connect to the database: {reason}")

    def _open_connection(self) -> defer.Deferred[None]:
        connection = _Connection(reactor=self._clock)
        detector = _Detector(self._clock, connection, on_death=lambda: self._forget_idle(connection))
        detector.addRecoveryHandler(lambda: self._recovered(connection))
        connection.detector = detector
        self._connections.append(connection)

        def connected(_: object) -> None:
            detector.was_connected = True
            self._release(connection)

        def failed(failure: Failure) -> Failure:
            detector.connectionIsDead = True
            detector.startReconnecting(failure)  # keeps trying in the background
            return failure

        opening: defer.Deferred[None] = connection.connect(self._dsn)
        return opening.addCallbacks(connected, failed)

    def _forget_idle(self, connection: _Connection) -> None:
        try:
            self._idle.remove(connection)
        except ValueError:
            pass

    def _recovered(self, connection: _Connection) -> None:
        if self._closed:
            _close_quietly(connection)
            return
        log.info("Database connection recovered")
        self._release(connection)

    def _release(self, connection: _Connection) -> None:
        self._busy.discard(connection)
        if self._closed:
            _close_quietly(connection)
            return
        if connection.detector.connectionIsDead:
            return  # comes back through _recovered
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.called:
                self._busy.add(connection)
                waiter.callback(connection)
                return
        if connection not in self._idle:
            self._idle.append(connection)

    async def _acquire(self) -> _Connection:
        if self._closed:
            raise DatabaseUnavailable("the database pool is closed")
        while self._idle:
            # The connection used last: its server process, and the caches of the CPU it
            # ran on, are the warmest. (Taking the oldest would cycle through all of them.)
            connection = self._idle.pop()
            if not connection.detector.connectionIsDead:
                self._busy.add(connection)
                return connection
        waiter: defer.Deferred[_Connection] = defer.Deferred()
        self._waiters.append(waiter)
        waiter.addTimeout(self._connect_timeout, self._clock)
        try:
            return await waiter
        except defer.TimeoutError:
            raise DatabaseUnavailable(
                f"no database connection became available within {self._connect_timeout:g} s"
            ) from None

    async def run_interaction(
        self,
        description: str,
        interaction: Callable[Concatenate[Transaction, P], Awaitable[T]],
        *args: P.args,
        **kwargs: P.kwargs,
    ) -> T:
        """Run ``interaction(txn, *args, **kwargs)`` in one transaction and return its result.

        The transaction commits if the interaction returns and rolls back if it
        raises. ``description`` names it in the slow-transaction log.
        """
        return await self._run(description, "transaction", interaction, *args, **kwargs)

    async def run_reads(
        self,
        description: str,
        interaction: Callable[Concatenate[Transaction, P], Awaitable[T]],
        *args: P.args,
        **kwargs: P.kwargs,
    ) -> T:
        """Run read-only statements with no BEGIN and COMMIT around them: two round trips fewer.

        Each statement is then a transaction of its own, so use this for one
        statement, or for reads that need no snapshot in common. Never for writes.
        """
        return await self._run(description, "reads", interaction, *args, **kwargs)

    async def run_single_statement(
        self,
        description: str,
        interaction: Callable[Concatenate[Transaction, P], Awaitable[T]],
        *args: P.args,
        **kwargs: P.kwargs,
    ) -> T:
        """Run an interaction that makes exactly one statement, writes included, with no BEGIN and COMMIT.

        PostgreSQL runs a lone statement as a transaction of its own, so it is
        atomic and durable when it returns, two round trips sooner. (Preparing a
        statement for ``fetch_all_prepared`` first does not count: it writes nothing.)
        """
        return await self._run(description, "statement", interaction, *args, **kwargs)

    async def _run(
        self,
        description: str,
        mode: Literal["transaction", "reads", "statement"],
        interaction: Callable[Concatenate[Transaction, P], Awaitable[T]],
        *args: P.args,
        **kwargs: P.kwargs,
    ) -> T:
        retries_left = self._size
        while True:
            connection = await self._acquire()
            started_at = self._clock.seconds()
            began = False
            txn: Transaction | None = None

            def body(cursor: Any, prepared: set[str] = connection.prepared) -> defer.Deferred[T]:
                nonlocal began, txn
                began = True
                txn = Transaction(cursor, prepared)
                return defer.Deferred.fromCoroutine(_as_coroutine(interaction(txn, *args, **kwargs)))

            try:
                result: T = await (
                    connection.runInteraction(body) if mode == "transaction" else connection.run_statements(body)
                )
            except Exception as failure:
                if not connection.is_dead(Failure(failure)):
                    raise
                # Work that reached the server may have committed; reads can always run again.
                if (not began or mode == "reads") and retries_left > 0:
                    retries_left -= 1
                    continue
                raise DatabaseConnectionLost(
                    f"the database connection was lost during {description}: {_first_line(failure)}"
                ) from failure
            finally:
                self._release(connection)
            if txn is not None and txn.announcements and mode != "reads":
                self._announce(txn.announcements)
            elapsed = self._clock.seconds() - started_at
            if elapsed >= self._slow_transaction:
                log.warn(
                    "Slow transaction {description}: {elapsed:.3f} s",
                    description=description,
                    elapsed=elapsed,
                )
            return result

    def _announce(self, announcements: list[str]) -> None:
        if self.on_commit is None:
            return
        for message in announcements:
            try:
                self.on_commit(message)
            except Exception:
                log.failure("Handling the announcement {message!r} of a commit failed", message=message)

    async def fetch_all(self, description: str, sql: str, parameters: QueryParameters = None) -> list[tuple[Any, ...]]:
        """Run one query in its own transaction and return its rows."""

        async def query(txn: Transaction) -> list[tuple[Any, ...]]:
            return await txn.fetch_all(sql, parameters)

        return await self.run_reads(description, query)

    async def close(self) -> None:
        self._closed = True
        for waiter in self._waiters:
            if not waiter.called:
                waiter.errback(DatabaseUnavailable("the database pool is closed"))
        self._waiters.clear()
        for connection in self._connections:
            connection.detector.stop()
            if connection not in self._busy:  # busy ones close when released
                _close_quietly(connection)
        self._idle.clear()


def _close_quietly(connection: _Connection) -> None:
    if connection._connection is None:  # never connected
        return
    try:
        connection.close()
    except psycopg2.Error:
        pass


def _first_line(error: BaseException | None) -> str:
    if isinstance(error, txpostgres.RollbackFailed):
        error = error.originalFailure.value
    lines = str(error).strip().splitlines()
    return lines[0] if lines else type(error).__name__


async def _as_coroutine(awaitable: Awaitable[T]) -> T:
    return await awaitable
