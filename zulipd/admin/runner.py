"""Running zulipd-admin commands: the configuration, and a reactor with the database."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Awaitable, Callable
from typing import Any

from zulipd.config import Config, ConfigError, load_config


def load_or_exit(args: argparse.Namespace) -> Config:
    try:
        return load_config(args.config)
    except ConfigError as error:
        sys.stderr.write(f"zulipd-admin: {error}\n")
        sys.exit(2)


def with_database(
    command: Callable[[Any, argparse.Namespace], Awaitable[int]], *, needs_current_schema: bool = True
) -> Callable[[argparse.Namespace], int]:
    """Run ``command(server, args)`` on a reactor with the configured database."""

    def run(args: argparse.Namespace) -> int:
        from twisted.internet import defer, task

        from zulipd.errors import JsonableError
        from zulipd.server import Server
        from zulipd.service import STARTUP_ERRORS
        from zulipd.storage.migrations import load_migrations, schema_version

        config = load_or_exit(args)
        status = 1

        async def main(reactor: Any) -> None:
            nonlocal status
            server = Server(config, reactor, share_embedded_database=True)
            embedded = server.embedded_postgres
            try:
                dsn = await embedded.start() if embedded is not None else config.database.url
                pool = server.make_pool(dsn)
                await pool.start()
                try:
                    if needs_current_schema and await schema_version(pool) != len(load_migrations()):
                        sys.stderr.write(
                            "zulipd-admin: the database schema is not current; run: zulipd-admin migrate\n"
                        )
                        return
                    status = await command(server, args)
                except JsonableError as error:
                    sys.stderr.write(f"zulipd-admin: {error.msg}\n")
                finally:
                    await pool.close()
            except STARTUP_ERRORS as error:
                sys.stderr.write(f"zulipd-admin: {error}\n")
            finally:
                if embedded is not None:
                    await embedded.stop()

        try:
            task.react(lambda reactor: defer.Deferred.fromCoroutine(main(reactor)))
        except SystemExit as exit_:
            if exit_.code not in (0, None):
                return int(exit_.code) if isinstance(exit_.code, int) else 1
        return status

    return run
