"""The service tree: ordered start, ordered and bounded drain.

Start: secrets, the embedded PostgreSQL (if used), the database pool,
migrations, then the listeners last, so that no request arrives before the
database is ready. Stop runs the reverse order, each step with a time bound:
stop listening and drain requests, close the pool, stop PostgreSQL.
"""

from __future__ import annotations

import atexit
import os
import signal
import sys
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Any

from twisted.application import service
from twisted.internet import defer, endpoints, task
from twisted.internet.interfaces import IListeningPort
from twisted.logger import Logger

from zulipd import render
from zulipd.app.eager_writes import write_eagerly
from zulipd.app.root import make_root
from zulipd.app.server_settings import ZULIP_FEATURE_LEVEL, ZULIP_VERSION
from zulipd.app.site import ZulipdSite
from zulipd.config import ConfigError
from zulipd.config.secrets import load_or_create_secrets
from zulipd.events.persistence import restore_queues, save_queues
from zulipd.gc_tuning import tune_for_serving
from zulipd.logs import flush_buffered_logs
from zulipd.redis import RedisUnavailable, connect_redis
from zulipd.server import Server
from zulipd.storage.embedded import EmbeddedPostgresError
from zulipd.storage.migrations import MigrationError, migrate
from zulipd.storage.notifications import InvalidationListener
from zulipd.storage.pool import DatabaseUnavailable, Transaction
from zulipd.storage.sessions import delete_expired_sessions_txn
from zulipd.timing import sleep, with_timeout

log = Logger()


class StartupError(Exception):
    """A problem found while starting, explained in one line."""


# Errors that stop the start with a one-line reason rather than a traceback.
STARTUP_ERRORS = (
    ConfigError,
    EmbeddedPostgresError,
    DatabaseUnavailable,
    MigrationError,
    RedisUnavailable,
    StartupError,
)
HOUSEKEEPING_INTERVAL = 600.0


async def tidy(server: Server) -> None:
    """Periodic clean-up: idle rate-limit counters and expired sessions."""
    longest = max((rule[0] for rules in vars(server.config.ratelimit).values() for rule in rules), default=60.0)
    server.memory_rate_limits.forget_idle(longest)

    async def delete_expired(txn: Transaction) -> int:
        return await delete_expired_sessions_txn(txn)

    try:
        expired = await server.pool.run_interaction("delete expired sessions", delete_expired)
    except DatabaseUnavailable as error:
        log.warn("Housekeeping skipped: {reason}", reason=str(error))
        return
    if expired:
        log.info("Deleted {count} expired sessions", count=expired)


@dataclass
class Stage:
    name: str
    start: Callable[[], Coroutine[Any, Any, None]]
    stop: Callable[[], Coroutine[Any, Any, None]] | None = None
    stop_timeout: float = 5.0


def _exit_with_status(status: int) -> None:
    flush_buffered_logs()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(status)


class ZulipdService(service.Service):
    name = "zulipd"

    def __init__(self, server: Server) -> None:
        self.server = server
        self.site: ZulipdSite | None = None
        self.ports: list[IListeningPort] = []
        self._started: list[Stage] = []
        self._starting: defer.Deferred[None] | None = None
        self._current: Stage | None = None
        self._stopping = False
        self.ready: defer.Deferred[None] = defer.Deferred()
        config = server.config
        self.stages = [Stage("secrets", self._load_secrets)]
        embedded = server.embedded_postgres
        if embedded is not None:
            embedded.on_unexpected_exit = self._fatal
            self.stages.append(
                Stage("embedded PostgreSQL", self._start_embedded_postgres, lambda: embedded.stop(5.0), 6.0)
            )
        self.stages += [
            Stage("database pool", self._start_pool, self._close_pool, 2.0),
            Stage("migrations", self._migrate),
            Stage("invalidation listener", self._start_invalidation_listener, self._stop_invalidation_listener),
        ]
        if config.redis.url:
            self.stages.append(Stage("Redis", self._connect_redis, self._disconnect_redis, 2.0))
        self.stages += [
            Stage("housekeeping", self._start_housekeeping, self._stop_housekeeping),
            # Restored before clients can reach them; saved once the listeners have drained.
            Stage("saved event queues", self._restore_event_queues, self._save_event_queues, 30.0),
            Stage("listeners", self._listen, self._stop_listening, config.server.drain_timeout + 1.0),
            # Last to start, first to stop: parked long-polls are answered before the listeners drain.
            Stage("event queues", self._start_event_queues, self._stop_event_queues),
        ]
        self._listener: InvalidationListener | None = None
        self._housekeeping: task.LoopingCall | None = None

    def startService(self) -> None:
        super().startService()  # type: ignore[no-untyped-call]
        reactor: Any = self.server.reactor
        # A closed terminal (SIGHUP) stops zulipd in order, as SIGTERM does.
        signal.signal(signal.SIGHUP, lambda signum, frame: reactor.callFromThread(reactor.stop))
        self._starting = defer.Deferred.fromCoroutine(self._start())

    async def _start(self) -> None:
        for stage in self.stages:
            self._current = stage
            try:
                await stage.start()
            except STARTUP_ERRORS as error:
                self._fatal(f"{stage.name}: {error}")
                return
            except defer.CancelledError:
                return
            except Exception:
                log.failure("Unexpected error while starting the {stage}", stage=stage.name)
                self._fatal(f"{stage.name}: unexpected error (see the traceback above)")
                return
            self._started.append(stage)
        self._current = None
        tune_for_serving()
        log.info("zulipd is ready")
        self.ready.callback(None)

    def _fatal(self, reason: str) -> None:
        """Stop zulipd with exit status 1, for a failed start or a lost embedded database."""
        if self._stopping:
            log.info("Ignoring, while stopping: {reason}", reason=reason)
            return
        if self.ready.called:
            log.critical("zulipd is stopping: {reason}", reason=reason)
        else:
            log.critical("zulipd cannot start: {reason}", reason=reason)
            self.ready.errback(StartupError(reason))
            self.ready.addErrback(lambda _: None)
        # twistd has no way to report a failure as the exit status; do it at exit.
        atexit.register(_exit_with_status, 1)
        self._stopping = True
        reactor: Any = self.server.reactor
        if reactor.running:
            reactor.stop()

    def stopService(self) -> defer.Deferred[None]:
        self._stopping = True
        super().stopService()  # type: ignore[no-untyped-call]
        return defer.Deferred.fromCoroutine(self._stop())

    async def _stop(self) -> None:
        if self._starting is not None and not self._starting.called:
            self._starting.cancel()
            # The stage that was starting may have begun something (a server process).
            if self._current is not None and self._current not in self._started:
                self._started.append(self._current)
        while self._started:
            stage = self._started.pop()
            if stage.stop is None:
                continue
            try:
                await with_timeout(self.server.clock, stage.stop_timeout, stage.stop())
            except defer.TimeoutError:
                log.warn(
                    "Stopping the {stage} took over {timeout:g} s; going on",
                    stage=stage.name,
                    timeout=stage.stop_timeout,
                )
            except Exception:
                log.failure("Error while stopping the {stage}", stage=stage.name)
        log.info("zulipd stopped")
        # twistd re-raises the SIGTERM or SIGINT that stopped the reactor, so the
        # process would end "killed by signal". After a clean drain the right
        # answer is exit status 0.
        if hasattr(self.server.reactor, "_exitSignal"):
            self.server.reactor._exitSignal = None

    async def _load_secrets(self) -> None:
        self.server.secrets = load_or_create_secrets(self.server.config)

    async def _start_embedded_postgres(self) -> None:
        assert self.server.embedded_postgres is not None
        await self.server.embedded_postgres.start()

    async def _start_pool(self) -> None:
        config = self.server.config
        embedded = self.server.embedded_postgres
        dsn = embedded.dsn if embedded is not None else config.database.url
        deadline = self.server.clock.seconds() + config.database.connect_timeout
        while True:
            pool = self.server.make_pool(dsn)
            try:
                await pool.start()
                return
            except DatabaseUnavailable as error:
                if self.server.clock.seconds() >= deadline:
                    raise DatabaseUnavailable(f"{error} (waited {config.database.connect_timeout:g} s)") from None
                log.info("Waiting for the database: {reason}", reason=str(error))
                await sleep(self.server.clock, 0.5)

    async def _close_pool(self) -> None:
        if self.server.db_pool is not None:
            await self.server.db_pool.close()

    async def _migrate(self) -> None:
        assert self.server.db_pool is not None
        await migrate(self.server.db_pool)

    async def _start_invalidation_listener(self) -> None:
        config = self.server.config
        embedded = self.server.embedded_postgres
        dsn = embedded.dsn if embedded is not None else config.database.url
        self._listener = InvalidationListener(
            dsn, self.server.clock, self.server.handle_invalidation, self.server.forget_everything
        )
        await self._listener.start()

    async def _stop_invalidation_listener(self) -> None:
        if self._listener is not None:
            await self._listener.stop()

    async def _connect_redis(self) -> None:
        config = self.server.config
        self.server.use_redis(await connect_redis(config.redis.url, config.database.connect_timeout))
        log.info("Connected to Redis; rate limits are shared through it")

    async def _disconnect_redis(self) -> None:
        if self.server.redis is not None:
            await self.server.redis.disconnect()

    async def _start_housekeeping(self) -> None:
        self._housekeeping = task.LoopingCall(self._tidy)
        self._housekeeping.clock = self.server.clock
        self._housekeeping.start(HOUSEKEEPING_INTERVAL, now=False)

    def _tidy(self) -> defer.Deferred[None]:
        return defer.Deferred.fromCoroutine(tidy(self.server))

    async def _stop_housekeeping(self) -> None:
        if self._housekeeping is not None and self._housekeeping.running:
            self._housekeeping.stop()

    async def _restore_event_queues(self) -> None:
        server = self.server
        now = server.clock.seconds()
        restart = {
            "type": "restart",
            "zulip_version": ZULIP_VERSION,
            "zulip_merge_base": ZULIP_VERSION,
            "zulip_feature_level": ZULIP_FEATURE_LEVEL,
            "server_generation": int(now),
        }
        restored = await restore_queues(server.events, server.config.state.dir, now, restart)
        if restored:
            log.info("Restored {count} event queues saved by the last stop", count=restored)

    async def _save_event_queues(self) -> None:
        saved = await save_queues(self.server.events, self.server.config.state.dir)
        log.info("Saved {count} event queues for the next start", count=saved)

    async def _start_event_queues(self) -> None:
        self.server.events.start()

    async def _stop_event_queues(self) -> None:
        self.server.events.stop()

    async def _listen(self) -> None:
        config = self.server.config
        render.warm_up()
        self.site = ZulipdSite(make_root(self.server), self.server.clock, config.loadbalancer.ips)
        for description in config.server.listen:
            endpoint = endpoints.serverFromString(self.server.reactor, description)
            try:
                port = await endpoint.listen(self.site)
            except Exception as error:
                await self._stop_listening()
                raise StartupError(f"cannot listen on {description}: {error}") from None
            write_eagerly(port)
            self.ports.append(port)
            host = port.getHost()
            log.info(
                "Listening on {endpoint} ({address})",
                endpoint=description,
                address=str(host),
                port=getattr(host, "port", None),
            )

    async def _stop_listening(self) -> None:
        ports, self.ports = self.ports, []
        for port in ports:
            await defer.maybeDeferred(port.stopListening)
        if self.site is not None:
            await self.site.drain(self.server.config.server.drain_timeout)
