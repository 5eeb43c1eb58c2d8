"""The container that builds zulipd's components once and hands them out."""

from __future__ import annotations

from typing import Any

from twisted.internet.interfaces import IReactorTime

from zulipd.config import Config
from zulipd.config.secrets import Secrets
from zulipd.storage.embedded import EmbeddedPostgres
from zulipd.storage.pool import DatabasePool


class Server:
    """Everything one zulipd process runs, built from its configuration.

    ``reactor`` is injected so that tests can pass a fake clock. Components
    that need the service tree to have started (the database pool) are
    ``None`` until it has.
    """

    def __init__(self, config: Config, reactor: Any, *, share_embedded_database: bool = False) -> None:
        self.config = config
        self.reactor = reactor
        self.clock: IReactorTime = reactor
        self.secrets: Secrets | None = None
        self.embedded_postgres: EmbeddedPostgres | None = None
        self.db_pool: DatabasePool | None = None
        if not config.database.url:
            self.embedded_postgres = EmbeddedPostgres(
                reactor,
                reactor,
                config.state.dir,
                configured_bindir=config.database.embedded_bindir,
                configured_user=config.database.embedded_user,
                share_running_server=share_embedded_database,
            )

    def make_pool(self, dsn: str) -> DatabasePool:
        self.db_pool = DatabasePool(
            dsn,
            self.config.database.pool_size,
            self.clock,
            connect_timeout=self.config.database.connect_timeout,
            slow_transaction=self.config.database.slow_transaction,
        )
        return self.db_pool
