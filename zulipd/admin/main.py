"""``zulipd-admin``: manage a zulipd installation from the command line.

    zulipd-admin generate-config          print an example zulipd.conf, from the schema
    zulipd-admin check-config [-c FILE]   validate the configuration
    zulipd-admin migrate [-c FILE]        apply pending schema migrations

Commands that need the database use the configured one; with the embedded
PostgreSQL they use the running zulipd's server, or start it for the command.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from zulipd.config import Config, ConfigError, load_config
from zulipd.config.example import render_example


def _load(args: argparse.Namespace) -> Config:
    try:
        return load_config(args.config)
    except ConfigError as error:
        sys.stderr.write(f"zulipd-admin: {error}\n")
        sys.exit(2)


def generate_config(args: argparse.Namespace) -> int:
    sys.stdout.write(render_example())
    return 0


def check_config(args: argparse.Namespace) -> int:
    config = _load(args)
    sys.stdout.write(f"zulipd-admin: the configuration is valid ({config.source or 'defaults only'})\n")
    return 0


def with_database(command: Callable[[Any, argparse.Namespace], Awaitable[int]]) -> Callable[[argparse.Namespace], int]:
    """Run ``command(pool, args)`` on a reactor with the configured database."""

    def run(args: argparse.Namespace) -> int:
        from twisted.internet import defer, task

        from zulipd.server import Server
        from zulipd.service import STARTUP_ERRORS

        config = _load(args)
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
                    status = await command(pool, args)
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


@with_database
async def migrate(pool: Any, args: argparse.Namespace) -> int:
    from zulipd.storage.migrations import migrate as apply_migrations

    applied = await apply_migrations(pool)
    if applied:
        for migration in applied:
            sys.stdout.write(f"applied {migration.version:04d}_{migration.name}\n")
    else:
        sys.stdout.write("the database schema is up to date\n")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="zulipd-admin", description="Manage a zulipd installation.")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def add(name: str, handler: Callable[[argparse.Namespace], int], help: str) -> argparse.ArgumentParser:
        command = commands.add_parser(name, help=help, description=help)
        command.add_argument("-c", "--config", help="the configuration file (default: ./zulipd.conf if present)")
        command.set_defaults(handler=handler)
        return command

    add("generate-config", generate_config, "Print an example configuration file, generated from the schema.")
    add("check-config", check_config, "Validate the configuration and exit.")
    add("migrate", migrate, "Apply pending database schema migrations.")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    status: int = args.handler(args)
    return status


if __name__ == "__main__":
    sys.exit(main())
