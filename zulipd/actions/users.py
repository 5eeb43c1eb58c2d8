"""Users: creating them, changing their names, roles, keys and passwords, deactivating them.

Each change is one transaction that also writes an audit-log row with the
old and new values, and a notification that drops the user from every
process's authentication cache when the change commits.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from psycopg2 import errors as sql_errors

from zulipd.actions.auth import generate_api_key
from zulipd.actions.bot_events import publish_bot_update
from zulipd.actions.groups import publish_reactivated_memberships, publish_system_group_changes
from zulipd.actions.notify import publish
from zulipd.actions.subscriptions import subscribe_to_default_streams_txn

# The address rules live with the User object; other modules import them from here too.
from zulipd.actions.user_dicts import api_email as api_email
from zulipd.actions.user_dicts import can_see_delivery_email as can_see_delivery_email
from zulipd.actions.user_dicts import user_payload
from zulipd.errors import AccessDenied, JsonableError
from zulipd.events.event import Notice, SharedEvent
from zulipd.models import BotType, Realm, Role, UserProfile
from zulipd.passwords import PASSWORD_MAX_LENGTH, hash_password
from zulipd.storage.audit import insert_audit_log_txn
from zulipd.storage.notifications import notify_txn
from zulipd.storage.pool import Transaction
from zulipd.storage.sessions import delete_user_sessions_txn
from zulipd.storage.users import (
    count_active_owners_txn,
    get_user_by_email_txn,
    get_user_by_id_txn,
    insert_user_txn,
    list_bots_owned_by_txn,
    list_users_txn,
    lock_user_txn,
    update_user_txn,
)

if TYPE_CHECKING:
    from zulipd.server import Server

NAME_MAX_LENGTH = 100
_NAME_FORBIDDEN = set('*`\\>"@')
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+$")


class CannotDeactivateLastOwner(JsonableError):
    code = "CANNOT_DEACTIVATE_LAST_USER"

    def __init__(self) -> None:
        super().__init__(
            "Cannot deactivate the only organization owner", entity="organization owner", is_last_owner=True
        )


_API_EMAIL = re.compile(r"^user(\d+)@(.+)$", re.IGNORECASE)


def check_full_name(full_name: str) -> str:
    name = full_name.strip()
    if len(name) > NAME_MAX_LENGTH:
        raise JsonableError("Name too long!")
    if len(name) < 1:
        raise JsonableError("Name too short!")
    if any(character in _NAME_FORBIDDEN or unicodedata.category(character) == "Cc" for character in name):
        raise JsonableError("Invalid characters in name!")
    return name


def check_email(email: str) -> str:
    email = email.strip()
    if len(email) > 254 or not _EMAIL.match(email):
        raise JsonableError(f"Invalid email '{email}'")
    return email


def check_password_strength(server: Server, password: str) -> None:
    minimum = server.config.auth.password_min_length
    if len(password) < minimum:
        raise JsonableError(f"The password is too short: use at least {minimum} characters.")
    if len(password) > PASSWORD_MAX_LENGTH:
        raise JsonableError(f"The password is too long: use at most {PASSWORD_MAX_LENGTH} characters.")


def check_admin(acting: UserProfile) -> None:
    if not acting.is_realm_admin:
        raise AccessDenied("Must be an organization administrator")


def check_owner(acting: UserProfile) -> None:
    if not acting.is_owner:
        raise AccessDenied("Must be an organization owner")


async def get_user(server: Server, realm: Realm, user_id: int) -> UserProfile:
    user = await server.pool.run_interaction("get user", get_user_by_id_txn, realm.id, user_id)
    if user is None:
        raise JsonableError("No such user")
    return user


async def get_user_by_email(server: Server, realm: Realm, email: str, viewer: UserProfile | None = None) -> UserProfile:
    """By real address, or by the API address ``user<id>@<domain>``.

    With a ``viewer``, a real address they may not see finds nobody, so that
    hidden addresses cannot be probed.
    """
    email_domain = server.realms.email_domain(realm)
    generated = _API_EMAIL.match(email.strip())
    user = None
    if generated and generated.group(2).lower() == email_domain.lower():
        user = await server.pool.run_interaction("get user", get_user_by_id_txn, realm.id, int(generated.group(1)))
        if user is not None and api_email(user, email_domain).lower() != email.strip().lower():
            user = None
    if user is None:
        user = await server.pool.run_interaction("get user by email", get_user_by_email_txn, realm.id, email)
        hidden = user is not None and viewer is not None and not can_see_delivery_email(viewer, user)
        if hidden and user is not None and api_email(user, email_domain).lower() != email.strip().lower():
            user = None
    if user is None:
        raise JsonableError("No such user")
    return user


async def list_users(server: Server, realm: Realm) -> list[UserProfile]:
    return await server.pool.run_interaction("list users", list_users_txn, realm.id)


async def audit_user_change(
    txn: Transaction,
    user: UserProfile,
    event_type: str,
    acting_user_id: int | None,
    **extra: Any,
) -> None:
    await insert_audit_log_txn(
        txn,
        realm_id=user.realm_id,
        event_type=event_type,
        acting_user_id=acting_user_id,
        modified_user_id=user.id,
        extra_data=extra,
    )


async def do_create_user(
    server: Server,
    realm: Realm,
    *,
    email: str,
    full_name: str,
    password: str | None,
    role: Role = Role.MEMBER,
    acting_user_id: int | None = None,
    bot_type: BotType | None = None,
    bot_owner_id: int | None = None,
    timezone: str = "",
    also_in_transaction: Callable[[Transaction, UserProfile], Awaitable[None]] | None = None,
) -> UserProfile:
    """Create the user (``also_in_transaction`` adds what must commit with it: a bot's service), and
    announce them with a realm_user ``add``."""
    email = check_email(email)
    full_name = check_full_name(full_name)
    password_hash = None
    if password is not None:
        check_password_strength(server, password)
        password_hash = await hash_password(password, server.config.auth.password_hash_rounds)

    async def create(txn: Transaction) -> UserProfile:
        if await get_user_by_email_txn(txn, realm.id, email) is not None:
            raise JsonableError(f"Email '{email}' already in use")
        user = await insert_user_txn(
            txn,
            realm_id=realm.id,
            email=email,
            delivery_email=email,
            full_name=full_name,
            role=role,
            api_key=generate_api_key(),
            password_hash=password_hash,
            timezone=timezone,
            bot_type=bot_type,
            bot_owner_id=bot_owner_id,
        )
        await audit_user_change(txn, user, "user_created", acting_user_id, role=int(role), bot_type=bot_type)
        if bot_type is None:
            # As in Zulip, people (not bots) start out in the organization's default channels.
            now = datetime.fromtimestamp(server.clock.seconds(), UTC)
            await subscribe_to_default_streams_txn(txn, realm, user, now)
        if also_in_transaction is not None:
            await also_in_transaction(txn, user)
        return user

    try:
        user = await server.pool.run_interaction("create user", create)
    except sql_errors.UniqueViolation:  # a concurrent request created the same address first
        raise JsonableError(f"Email '{email}' already in use") from None
    await publish_person_added(server, realm, user)
    await publish_system_group_changes(server, realm.id, None, user)
    return user


async def publish_person_added(server: Server, realm: Realm, user: UserProfile) -> None:
    """A realm_user add event, ``person`` as GET /users shows the user, to every active user of the organization.

    (zulipd has no can_access_all_users_group: everyone may see everyone.) The person differs by
    whether the receiver may see the real address (``delivery_email``, and with it whether
    client_gravatar leaves ``avatar_url`` out), so those who may and those who may not get separate
    events, each built once per client_gravatar.
    """
    users = await server.pool.run_reads("realm users", list_users_txn, realm.id)
    domain = server.realms.email_domain(realm)
    by_visibility: dict[bool, list[UserProfile]] = {True: [], False: []}
    for viewer in users:
        if viewer.is_active:
            by_visibility[can_see_delivery_email(viewer, user)].append(viewer)
    for viewers in by_visibility.values():
        if viewers:
            server.events.publish(_person_added_notice(viewers[0], user, domain, [viewer.id for viewer in viewers]))


def _person_added_notice(viewer: UserProfile, user: UserProfile, domain: str, user_ids: list[int]) -> Notice:
    """The event as ``viewer`` (and everyone who sees the address as they do) should get it."""
    by_gravatar = {
        client_gravatar: SharedEvent(
            {
                "type": "realm_user",
                "op": "add",
                "person": user_payload(viewer, user, domain, client_gravatar=client_gravatar, profile_data=True),
            }
        )
        for client_gravatar in (False, True)
    }
    return Notice(by_gravatar[False], user_ids, variants=lambda rendering: by_gravatar[rendering[1]])


async def apply_user_change(
    server: Server,
    user: UserProfile,
    description: str,
    change: Any,
) -> UserProfile:
    """Run ``change(txn, current)`` on the locked current row; its commit drops ``user`` from the caches
    (and any other user the change announces with notify_txn, as a deactivated user's bots)."""

    async def run(txn: Transaction) -> UserProfile:
        current = await lock_user_txn(txn, user.id)
        if current is None:
            raise JsonableError("No such user")
        updated: UserProfile = await change(txn, current)
        await notify_txn(txn, f"user:{user.id}")
        return updated

    # Each user's invalidation (notify_txn) drops them from this process's caches as the change commits.
    return await server.pool.run_interaction(description, run)


async def publish_person_update(server: Server, user: UserProfile, **fields: Any) -> None:
    """A realm_user update event (the changed fields of one person) to everyone in the organization."""
    users = await server.pool.run_reads("realm users", list_users_txn, user.realm_id)
    body = {"type": "realm_user", "op": "update", "person": {"user_id": user.id, **fields}}
    publish(server, body, [other.id for other in users if other.is_active])


async def do_change_full_name(
    server: Server, user: UserProfile, full_name: str, acting_user_id: int | None
) -> UserProfile:
    full_name = check_full_name(full_name)

    async def change(txn: Transaction, current: UserProfile) -> UserProfile:
        if current.full_name == full_name:
            return current
        updated = await update_user_txn(txn, current.id, full_name=full_name)
        await audit_user_change(txn, current, "user_full_name_changed", acting_user_id,
                     old_value=current.full_name, new_value=full_name)  # fmt: skip
        return updated

    updated = await apply_user_change(server, user, "change full name", change)
    if updated.full_name != user.full_name:
        await publish_person_update(server, updated, full_name=updated.full_name)
        if updated.is_bot:
            await publish_bot_update(server, updated, full_name=updated.full_name)
    return updated


async def do_change_email(server: Server, user: UserProfile, new_email: str, acting_user_id: int | None) -> UserProfile:
    new_email = check_email(new_email)

    async def change(txn: Transaction, current: UserProfile) -> UserProfile:
        other = await get_user_by_email_txn(txn, current.realm_id, new_email)
        if other is not None and other.id != current.id:
            raise JsonableError(f"Email '{new_email}' already in use")
        updated = await update_user_txn(txn, current.id, email=new_email, delivery_email=new_email)
        await audit_user_change(txn, current, "user_email_changed", acting_user_id,
                     old_value=current.delivery_email, new_value=new_email)  # fmt: skip
        return updated

    return await apply_user_change(server, user, "change email", change)


async def do_change_role(server: Server, user: UserProfile, role: Role, acting_user_id: int | None) -> UserProfile:
    async def change(txn: Transaction, current: UserProfile) -> UserProfile:
        if current.role == role:
            return current
        if current.role == Role.OWNER and await count_active_owners_txn(txn, current.realm_id) <= 1:
            raise JsonableError("The owner permission cannot be removed from the only organization owner.")
        updated = await update_user_txn(txn, current.id, role=role)
        await audit_user_change(txn, current, "user_role_changed", acting_user_id,
                     old_value=int(current.role), new_value=int(role))  # fmt: skip
        return updated

    updated = await apply_user_change(server, user, "change role", change)
    if updated.role != user.role:
        await publish_person_update(server, updated, role=int(updated.role))
        await publish_system_group_changes(server, updated.realm_id, user, updated)
    return updated


async def do_regenerate_api_key(server: Server, user: UserProfile, acting_user_id: int | None) -> UserProfile:
    async def change(txn: Transaction, current: UserProfile) -> UserProfile:
        updated = await update_user_txn(txn, current.id, api_key=generate_api_key())
        # The keys themselves are secrets and stay out of the log.
        await audit_user_change(txn, current, "user_api_key_changed", acting_user_id)
        return updated

    updated = await apply_user_change(server, user, "regenerate API key", change)
    if updated.is_bot:
        # The new key goes only to those who administer the bot.
        await publish_bot_update(server, updated, api_key=updated.api_key)
    return updated


async def do_change_password(
    server: Server,
    user: UserProfile,
    password: str,
    acting_user_id: int | None,
    keep_session_key_hash: str | None = None,
) -> UserProfile:
    """Set a new password and end the user's browser sessions, except the one making the change."""
    check_password_strength(server, password)
    password_hash = await hash_password(password, server.config.auth.password_hash_rounds)

    async def change(txn: Transaction, current: UserProfile) -> UserProfile:
        updated = await update_user_txn(txn, current.id, password_hash=password_hash)
        ended = await delete_user_sessions_txn(txn, current.id, keep_session_key_hash)
        await audit_user_change(txn, current, "user_password_changed", acting_user_id, sessions_ended=ended)
        return updated

    return await apply_user_change(server, user, "change password", change)


async def do_deactivate_user(server: Server, user: UserProfile, acting_user_id: int | None) -> UserProfile:
    """Deactivate the user's bots, then the user, and end the user's sessions."""
    bots: list[UserProfile] = []

    async def change(txn: Transaction, current: UserProfile) -> UserProfile:
        bots.clear()  # (in case the transaction is run again)
        if not current.is_active:
            raise JsonableError("User is already deactivated" if not current.is_bot else "Bot is already deactivated")
        if (
            current.role == Role.OWNER
            and not current.is_bot
            and await count_active_owners_txn(txn, current.realm_id) <= 1
        ):
            raise CannotDeactivateLastOwner()
        for bot in await list_bots_owned_by_txn(txn, current.id):
            if bot.is_active:
                bots.append(await update_user_txn(txn, bot.id, is_active=False))
                await delete_user_sessions_txn(txn, bot.id)
                await audit_user_change(
                    txn, bot, "user_deactivated", acting_user_id, because_owner_deactivated=current.id
                )
                await notify_txn(txn, f"user:{bot.id}")
        updated = await update_user_txn(txn, current.id, is_active=False)
        ended = await delete_user_sessions_txn(txn, current.id)
        await audit_user_change(txn, current, "user_deactivated", acting_user_id, sessions_ended=ended)
        return updated

    updated = await apply_user_change(server, user, "deactivate user", change)
    # As in Zulip, the bots go first, each as if deactivated on its own.
    for deactivated in [*bots, updated]:
        await publish_person_update(server, deactivated, is_active=False)
        if deactivated.is_bot:
            await publish_bot_update(server, deactivated, is_active=False)
    return updated


async def do_reactivate_user(server: Server, user: UserProfile, acting_user_id: int | None) -> UserProfile:
    async def change(txn: Transaction, current: UserProfile) -> UserProfile:
        if current.is_active:
            raise JsonableError("User is already active")
        if current.is_bot and current.bot_owner_id is not None:
            owner = await get_user_by_id_txn(txn, current.realm_id, current.bot_owner_id)
            if owner is None or not owner.is_active:
                raise JsonableError("Can't reactivate a bot whose owner is deactivated")
        updated = await update_user_txn(txn, current.id, is_active=True)
        await audit_user_change(txn, current, "user_reactivated", acting_user_id)
        return updated

    updated = await apply_user_change(server, user, "reactivate user", change)
    await publish_person_update(server, updated, is_active=True)
    if updated.is_bot:
        await publish_bot_update(server, updated, is_active=True)
    await publish_reactivated_memberships(server, updated)
    return updated


def check_can_change_role(acting: UserProfile, target: UserProfile, role: Role) -> None:
    check_admin(acting)
    if (role == Role.OWNER or target.role == Role.OWNER) and not acting.is_owner:
        raise AccessDenied("Must be an organization owner")


def check_can_deactivate(acting: UserProfile, target: UserProfile) -> None:
    check_admin(acting)
    if target.is_owner and not acting.is_owner:
        raise AccessDenied("Must be an organization owner")
