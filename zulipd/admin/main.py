"""``zulipd-admin``: manage a zulipd installation from the command line.

    zulipd-admin generate-config          print an example zulipd.conf, from the schema
    zulipd-admin check-config [-c FILE]   validate the configuration
    zulipd-admin migrate [-c FILE]        apply pending schema migrations
    zulipd-admin populate-dev             create Zulip's development organization and users
    (and create-realm, list-realms, create-user, change-user-role, deactivate-user,
    reactivate-user, regenerate-api-key, show-admins, reset-authentication-attempt-count)

Commands that need the database use the configured one; with the embedded
PostgreSQL they use the running zulipd's server, or start it for the command.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from typing import Any

from zulipd.admin.runner import load_or_exit, with_database
from zulipd.admin.users import add_user_commands
from zulipd.config.example import render_example


def generate_config(args: argparse.Namespace) -> int:
    sys.stdout.write(render_example())
    return 0


def check_config(args: argparse.Namespace) -> int:
    config = load_or_exit(args)
    sys.stdout.write(f"zulipd-admin: the configuration is valid ({config.source or 'defaults only'})\n")
    return 0


async def _migrate(server: Any, args: argparse.Namespace) -> int:
    from zulipd.storage.migrations import migrate as apply_migrations

    applied = await apply_migrations(server.pool)
    if applied:
        for migration in applied:
            sys.stdout.write(f"applied {migration.version:04d}_{migration.name}\n")
    else:
        sys.stdout.write("the database schema is up to date\n")
    return 0


migrate = with_database(_migrate, needs_current_schema=False)


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
    add_user_commands(add)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    status: int = args.handler(args)
    return status


if __name__ == "__main__":
    sys.exit(main())
