"""Cache invalidations between zulipd processes, over PostgreSQL LISTEN/NOTIFY.

An action that changes what a cache holds (a user's key, role or status, a
realm) sends ``NOTIFY`` inside its transaction, so the message goes out
exactly when the change commits, to every zulipd process and from
``zulipd-admin`` too. Each process listens on one dedicated connection. If
that connection drops, messages may have been missed, so the listener tells
its owner to forget everything cached, then listens again.
"""

from __future__ import annotations

from collections.abc import Callable

from twisted.internet import defer
from twisted.internet.interfaces import IReactorTime
from twisted.logger import Logger
from txpostgres import reconnection, txpostgres

from zulipd.storage.pool import Transaction

log = Logger()

CHANNEL = "zulipd_invalidate"


async def notify_txn(txn: Transaction, message: str) -> None:
    """Tell every process ``message`` when the transaction commits: this one at once, the others by NOTIFY."""
    await txn.execute("SELECT pg_notify(%s, %s)", (CHANNEL, message))
    txn.announce_on_commit(message)


class _ListenDetector(reconnection.DeadConnectionDetector):  # type: ignore[misc]
    def __init__(self, clock: IReactorTime, on_lost: Callable[[], None]) -> None:
        super().__init__(reactor=clock)
        self._on_lost = on_lost
        self.stopped = False

    def startReconnecting(self, failure: object) -> None:
        if self.stopped:
            return
        log.warn("The invalidation listener lost its database connection; reconnecting")
        self._on_lost()
        super().startReconnecting(failure)

    def reconnect(self) -> object:
        if self.stopped:
            return None
        return super().reconnect()


class InvalidationListener:
    def __init__(
        self,
        dsn: str,
        clock: IReactorTime,
        on_message: Callable[[str], None],
        on_gap: Callable[[], None],
    ) -> None:
        self._dsn = dsn
        self._on_message = on_message
        self._on_gap = on_gap
        self._detector = _ListenDetector(clock, on_gap)
        self._connection = txpostgres.Connection(reactor=clock, detector=self._detector)
        self._connection.addNotifyObserver(self._notified)
        self._detector.addRecoveryHandler(lambda: defer.Deferred.fromCoroutine(self._listen()))

    def _notified(self, notify: object) -> None:
        if getattr(notify, "channel", None) == CHANNEL:
            self._on_message(str(getattr(notify, "payload", "")))

    async def _listen(self) -> None:
        await self._connection.runOperation(f"LISTEN {CHANNEL}")
        # Anything sent while we were not listening is lost: start afresh.
        self._on_gap()

    async def start(self) -> None:
        await self._connection.connect(self._dsn)
        await self._connection.runOperation(f"LISTEN {CHANNEL}")

    async def stop(self) -> None:
        self._detector.stopped = True
        if self._connection._connection is not None and not self._connection._connection.closed:
            self._connection.close()
