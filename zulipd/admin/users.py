"""zulipd-admin commands for organizations and users, and ``populate-dev``."""

from __future__ import annotations

import argparse
import dataclasses
import getpass
import json
import sys
from collections.abc import Callable
from typing import Any

from zulipd.admin.runner import with_database
from zulipd.errors import JsonableError
from zulipd.models import Realm, Role, UserProfile

ROLE_NAMES = {
    "owner": Role.OWNER,
    "admin": Role.ADMINISTRATOR,
    "moderator": Role.MODERATOR,
    "member": Role.MEMBER,
    "guest": Role.GUEST,
}

# Zulip's development organization: (email, full name, role), in its creation order.
DEV_REALM = ("zulip", "Zulip Dev")
DEV_USERS: list[tuple[str, str, Role]] = [
    ("ZOE@zulip.com", "Zoe", Role.MEMBER),
    ("othello@zulip.com", "Othello, the Moor of Venice", Role.MEMBER),
    ("iago@zulip.com", "Iago", Role.ADMINISTRATOR),
    ("prospero@zulip.com", "Prospero from The Tempest", Role.MEMBER),
    ("cordelia@zulip.com", "Cordelia, Lear's daughter", Role.MEMBER),
    ("hamlet@zulip.com", "King Hamlet", Role.MEMBER),
    ("AARON@zulip.com", "aaron", Role.MEMBER),
    ("polonius@zulip.com", "Polonius", Role.GUEST),
    ("desdemona@zulip.com", "Desdemona", Role.OWNER),
    ("shiva@zulip.com", "शिव", Role.MODERATOR),
]


@dataclasses.dataclass(frozen=True)
class DevChannel:
    name: str
    description: str
    invite_only: bool = False
    is_web_public: bool = False
    is_default: bool = False


# Zulip's development channels, in creation order (so Verona is the first default channel). Verona is the
# organization's announcements channel; Zulip and sandbox are what Zulip creates with every organization.
DEV_OWNER = "desdemona@zulip.com"
DEV_CHANNELS: list[DevChannel] = [
    DevChannel("Verona", "A city in Italy", is_default=True),
    DevChannel("Denmark", "A Scandinavian country"),
    DevChannel("Scotland", "Located in the United Kingdom"),
    DevChannel("Venice", "A northeastern Italian city"),
    DevChannel("Rome", "Yet another Italian city", is_web_public=True),
    DevChannel("core team", "A private channel for core team members", invite_only=True),
    DevChannel("Zulip", "Questions and discussion about using Zulip.", is_default=True),
    DevChannel("sandbox", "Experiment with Zulip here. :test_tube:", is_default=True),
]
# Who is subscribed where, as in Zulip's test database (populate_db --test-suite).
DEV_SUBSCRIPTIONS: dict[str, list[str]] = {
    "ZOE@zulip.com": ["Verona", "Denmark", "Scotland", "Venice", "Rome"],
    "othello@zulip.com": ["Verona", "Denmark", "Scotland"],
    "iago@zulip.com": ["Verona", "Denmark", "Scotland", "core team", "Zulip", "sandbox"],
    "prospero@zulip.com": ["Verona", "Denmark", "Scotland", "Venice"],
    "cordelia@zulip.com": ["Verona"],
    "hamlet@zulip.com": ["Verona", "Denmark", "core team", "Zulip", "sandbox"],
    "AARON@zulip.com": ["Verona"],
    "polonius@zulip.com": ["Verona"],
    "desdemona@zulip.com": ["Verona", "Denmark", "Venice", "core team", "Zulip", "sandbox"],
    "shiva@zulip.com": ["Verona", "Denmark", "Scotland"],
}


async def _realm(server: Any, string_id: str) -> Realm:
    realm: Realm | None = await server.realms.by_string_id(string_id)
    if realm is None:
        raise JsonableError(f"no organization with the subdomain {string_id!r} (see: zulipd-admin list-realms)")
    return realm


async def _user(server: Any, args: argparse.Namespace) -> UserProfile:
    from zulipd.actions.users import get_user_by_email

    return await get_user_by_email(server, await _realm(server, args.realm), args.email)


def _password(args: argparse.Namespace) -> str | None:
    if getattr(args, "password_file", None):
        try:
            with open(args.password_file, encoding="utf-8") as password_file:
                return password_file.read().rstrip("\n")
        except (OSError, UnicodeDecodeError) as error:
            reason = error.strerror if isinstance(error, OSError) else "not UTF-8 text"
            raise JsonableError(f"cannot read the password file {args.password_file}: {reason}") from None
    if getattr(args, "prompt_password", False):
        return getpass.getpass("Password: ")
    return None


async def create_realm(server: Any, args: argparse.Namespace) -> int:
    from zulipd.actions.realms import do_create_realm

    realm = await do_create_realm(server, args.subdomain, args.name)
    sys.stdout.write(
        f"created organization {realm.string_id!r} (id {realm.id}) at {server.realms.url_for(realm, False)}\n"
    )
    return 0


async def list_realms(server: Any, args: argparse.Namespace) -> int:
    from zulipd.actions.realms import list_realms as load

    for realm in await load(server):
        state = "deactivated" if realm.deactivated else "active"
        sys.stdout.write(
            f"{realm.id}\t{realm.string_id}\t{realm.name}\t{state}\t{server.realms.url_for(realm, False)}\n"
        )
    return 0


async def create_user(server: Any, args: argparse.Namespace) -> int:
    from zulipd.actions.users import do_create_user

    user = await do_create_user(
        server,
        await _realm(server, args.realm),
        email=args.email,
        full_name=args.full_name,
        password=_password(args),
        role=ROLE_NAMES[args.role],
    )
    sys.stdout.write(f"created {user.delivery_email} (id {user.id}, {args.role}); API key: {user.api_key}\n")
    return 0


async def change_user_role(server: Any, args: argparse.Namespace) -> int:
    from zulipd.actions.users import do_change_role

    user = await do_change_role(server, await _user(server, args), ROLE_NAMES[args.role], None)
    sys.stdout.write(f"{user.delivery_email} is now {args.role}\n")
    return 0


async def deactivate_user(server: Any, args: argparse.Namespace) -> int:
    from zulipd.actions.users import do_deactivate_user

    user = await do_deactivate_user(server, await _user(server, args), None)
    sys.stdout.write(f"deactivated {user.delivery_email} and the bots it owns\n")
    return 0


async def reactivate_user(server: Any, args: argparse.Namespace) -> int:
    from zulipd.actions.users import do_reactivate_user

    user = await do_reactivate_user(server, await _user(server, args), None)
    sys.stdout.write(f"reactivated {user.delivery_email}\n")
    return 0


async def regenerate_api_key(server: Any, args: argparse.Namespace) -> int:
    from zulipd.actions.users import do_regenerate_api_key

    user = await do_regenerate_api_key(server, await _user(server, args), None)
    sys.stdout.write(f"{user.api_key}\n")
    return 0


async def show_admins(server: Any, args: argparse.Namespace) -> int:
    from zulipd.actions.users import list_users

    for user in await list_users(server, await _realm(server, args.realm)):
        if user.is_realm_admin and user.is_active and not user.is_bot:
            role = "owner" if user.is_owner else "admin"
            sys.stdout.write(f"{user.delivery_email}\t{user.full_name}\t{role}\n")
    return 0


async def reset_authentication_attempt_count(server: Any, args: argparse.Namespace) -> int:
    from zulipd.redis import connect_redis
    from zulipd.storage.notifications import notify_txn

    if server.config.redis.url:
        server.use_redis(await connect_redis(server.config.redis.url, server.config.database.connect_timeout))
        await server.rate_limits.clear_authentication_attempts(args.username)
        await server.redis.disconnect()
    # Without Redis the counts live in each zulipd process's memory: tell them.
    await server.pool.run_interaction("reset attempts", notify_txn, f"auth-attempts:{args.username.strip().lower()}")
    sys.stdout.write(f"reset the failed login count of {args.username}\n")
    return 0


async def populate_dev(server: Any, args: argparse.Namespace) -> int:
    """Zulip's development organization, users, channels and subscriptions; safe to run again."""
    from zulipd.actions.realms import do_create_realm
    from zulipd.actions.users import do_change_password, do_change_role, do_create_user
    from zulipd.storage.users import get_user_by_email_txn

    realm = await server.realms.by_string_id(DEV_REALM[0])
    if realm is None:
        realm = await do_create_realm(server, *DEV_REALM)
    keys: dict[str, str] = {}
    for email, full_name, role in DEV_USERS:
        user = await server.pool.run_interaction("dev user", get_user_by_email_txn, realm.id, email)
        if user is None:
            user = await do_create_user(server, realm, email=email, full_name=full_name, password=args.password,
                                        role=role)  # fmt: skip
        else:
            if user.role != role:
                user = await do_change_role(server, user, role, None)
            if args.password is not None:
                user = await do_change_password(server, user, args.password, None)
        keys[user.delivery_email] = user.api_key
    await create_dev_channels(server, realm)
    if args.json:
        sys.stdout.write(json.dumps(keys) + "\n")
    else:
        sys.stdout.write(f"organization {realm.string_id!r} at {server.realms.url_for(realm, False)}\n")
        for email, key in keys.items():
            sys.stdout.write(f"{email}\t{key}\n")
    return 0


async def create_dev_channels(server: Any, realm: Realm) -> None:
    """Zulip's development channels and their subscribers; channels and subscriptions that exist are left alone.

    The owner creates each channel and subscribes its members (principals), so
    the normal rules and audit rows apply. Deactivated users are left out.
    """
    from zulipd.actions.subscriptions import StreamRequest, do_subscribe
    from zulipd.storage.users import get_user_by_email_txn

    users: dict[str, UserProfile] = {}
    for email in DEV_SUBSCRIPTIONS:
        user = await server.pool.run_interaction("dev user", get_user_by_email_txn, realm.id, email)
        if user is None:
            raise JsonableError(f"the development user {email} does not exist")
        users[email] = user
    owner = users[DEV_OWNER]
    for channel in DEV_CHANNELS:
        principals: list[str | int] = [
            users[email].id
            for email, channels in DEV_SUBSCRIPTIONS.items()
            if channel.name in channels and users[email].is_active
        ]
        await do_subscribe(
            server,
            owner,
            realm,
            [StreamRequest(channel.name, channel.description)],
            principals,
            invite_only=channel.invite_only,
            is_web_public=channel.is_web_public,
            is_default_stream=channel.is_default,
        )


def add_user_commands(add: Callable[[str, Callable[[argparse.Namespace], int], str], argparse.ArgumentParser]) -> None:
    roles = list(ROLE_NAMES)

    command = add("create-realm", with_database(create_realm), "Create an organization.")
    command.add_argument("subdomain", help="its subdomain; [server] root_realm is served at external_host itself")
    command.add_argument("name", help="its name")

    add("list-realms", with_database(list_realms), "List the organizations.")

    command = add("create-user", with_database(create_user), "Create a user and print its API key.")
    command.add_argument("--realm", required=True, help="the organization's subdomain")
    command.add_argument("--email", required=True)
    command.add_argument("--full-name", required=True)
    command.add_argument("--role", choices=roles, default="member")
    command.add_argument("--password-file", help="read the password from this file (default: no password login)")
    command.add_argument("--prompt-password", action="store_true", help="ask for the password")

    for name, handler, description in (
        ("deactivate-user", deactivate_user, "Deactivate a user (and the bots it owns) and end its sessions."),
        ("reactivate-user", reactivate_user, "Reactivate a user."),
        ("regenerate-api-key", regenerate_api_key, "Give a user a new API key and print it."),
    ):
        command = add(name, with_database(handler), description)
        command.add_argument("--realm", required=True, help="the organization's subdomain")
        command.add_argument("email")

    command = add("change-user-role", with_database(change_user_role), "Change a user's role.")
    command.add_argument("--realm", required=True, help="the organization's subdomain")
    command.add_argument("email")
    command.add_argument("role", choices=roles)

    command = add("show-admins", with_database(show_admins), "List an organization's owners and administrators.")
    command.add_argument("--realm", required=True, help="the organization's subdomain")

    command = add(
        "reset-authentication-attempt-count",
        with_database(reset_authentication_attempt_count),
        "Clear a username's failed login count, so that it may try again at once.",
    )
    command.add_argument("username")

    command = add(
        "populate-dev", with_database(populate_dev), "Create Zulip's development organization, users and channels."
    )
    command.add_argument("--json", action="store_true", help="print one JSON object mapping each email to its API key")
    command.add_argument("--password", help="set every development user's password to this")
