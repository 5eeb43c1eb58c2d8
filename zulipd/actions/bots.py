"""Bots: owned by a user, of one of Zulip's four types."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from zulipd.actions.auth import generate_api_key
from zulipd.actions.bot_dicts import bot_services
from zulipd.actions.bot_events import publish_bot_added, publish_bot_owner_change, publish_bot_update
from zulipd.actions.users import (
    apply_user_change,
    audit_user_change,
    check_full_name,
    do_create_user,
    publish_person_update,
)
from zulipd.errors import JsonableError
from zulipd.models import BotService, BotType, Realm, Role, UserProfile
from zulipd.storage.pool import Transaction
from zulipd.storage.users import (
    get_bot_services_txn,
    get_user_by_id_txn,
    insert_bot_service_txn,
    list_bots_owned_by_txn,
    update_bot_service_txn,
    update_user_txn,
)

if TYPE_CHECKING:
    from zulipd.server import Server

_SHORT_NAME = re.compile(r"^[a-z0-9][a-z0-9._-]{0,60}$")
# bot_creation_policy: 1 everyone, 2 only administrators create generic bots, 3 administrators only.
_POLICY_EVERYONE, _POLICY_LIMIT_GENERIC, _POLICY_ADMINS_ONLY = 1, 2, 3
INTERFACES = {1, 2}  # 1 Zulip's own payload format, 2 Slack-compatible


def check_bot_creation(acting: UserProfile, realm: Realm, bot_type: BotType) -> None:
    if acting.is_bot:
        raise JsonableError("Bots cannot create other bots")
    if acting.is_guest:
        raise JsonableError("Not allowed for guest users")
    policy = realm.settings.get("bot_creation_policy", _POLICY_EVERYONE)
    if acting.is_realm_admin:
        return
    if policy == _POLICY_ADMINS_ONLY or (policy == _POLICY_LIMIT_GENERIC and bot_type == BotType.GENERIC):
        raise JsonableError("Must be an organization administrator")


def check_payload_url(url: str) -> str:
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise JsonableError("payload_url is not a URL")
    return url.strip()


def bot_email(server: Server, realm: Realm, short_name: str) -> str:
    return f"{short_name}-bot@{server.realms.email_domain(realm)}"


async def do_create_bot(
    server: Server,
    realm: Realm,
    owner: UserProfile,
    *,
    full_name: str,
    short_name: str,
    bot_type: BotType,
    payload_url: str,
    interface: int,
    service_name: str,
    config: dict[str, str],
) -> tuple[UserProfile, BotService | None]:
    check_bot_creation(owner, realm, bot_type)
    full_name = check_full_name(full_name)
    short_name = short_name.strip().lower()
    if not _SHORT_NAME.match(short_name):
        raise JsonableError("Bad name or username")
    if interface not in INTERFACES:
        raise JsonableError("Invalid interface type")
    if bot_type == BotType.OUTGOING_WEBHOOK:
        payload_url = check_payload_url(payload_url)
    if bot_type == BotType.EMBEDDED and not service_name:
        raise JsonableError("Embedded bots need a service_name")
    service: BotService | None = None

    async def create_service(txn: Transaction, bot: UserProfile) -> None:
        # The service commits with the bot, so that nobody ever sees the bot without it.
        nonlocal service
        service = None
        if bot_type in (BotType.OUTGOING_WEBHOOK, BotType.EMBEDDED):
            service = BotService(bot.id, payload_url, generate_api_key(), interface, service_name or short_name, config)
            await insert_bot_service_txn(txn, service)

    try:
        bot = await do_create_user(
            server,
            realm,
            email=bot_email(server, realm, short_name),
            full_name=full_name,
            password=None,
            role=Role.MEMBER,
            acting_user_id=owner.id,
            bot_type=bot_type,
            bot_owner_id=owner.id,
            also_in_transaction=create_service,
        )
    except JsonableError as error:
        if "already in use" in error.msg:
            raise JsonableError("Username already in use") from None
        raise
    await publish_bot_added(server, bot, service)
    return bot, service


async def get_bot(server: Server, acting: UserProfile, bot_id: int) -> UserProfile:
    """A bot the acting user may administer: its owner, or an organization administrator."""
    bot = await server.pool.run_interaction("get bot", get_user_by_id_txn, acting.realm_id, bot_id)
    if bot is None or not bot.is_bot:
        raise JsonableError("No such bot")
    if bot.bot_owner_id != acting.id and not acting.is_realm_admin:
        raise JsonableError("Insufficient permission")
    return bot


async def list_own_bots(server: Server, owner: UserProfile) -> list[tuple[UserProfile, BotService | None]]:
    async def load(txn: Transaction) -> list[tuple[UserProfile, BotService | None]]:
        bots = [bot for bot in await list_bots_owned_by_txn(txn, owner.id) if bot.is_active]
        services = await get_bot_services_txn(txn, [bot.id for bot in bots])
        return [(bot, services.get(bot.id)) for bot in bots]

    return await server.pool.run_interaction("list bots", load)


async def get_service(server: Server, bot: UserProfile) -> BotService | None:
    services = await server.pool.run_interaction("bot service", get_bot_services_txn, [bot.id])
    return services.get(bot.id)


async def do_update_service(server: Server, bot: UserProfile, **changes: Any) -> BotService | None:
    """Change the bot's service; those who administer the bot hear of its new ``services`` if they changed."""

    async def update(txn: Transaction) -> tuple[BotService | None, BotService | None]:
        before = (await get_bot_services_txn(txn, [bot.id])).get(bot.id)
        await update_bot_service_txn(txn, bot.id, **changes)
        return before, (await get_bot_services_txn(txn, [bot.id])).get(bot.id)

    before, service = await server.pool.run_interaction("update bot service", update)
    shown = bot_services(bot, service)
    if service is not None and shown != bot_services(bot, before):
        await publish_bot_update(server, bot, services=shown)
    return service


async def do_change_bot_owner(server: Server, bot: UserProfile, owner: UserProfile, acting_user_id: int) -> UserProfile:
    if owner.is_bot or not owner.is_active or owner.realm_id != bot.realm_id:
        raise JsonableError("Failed to change owner, bots can't own other bots")
    previous_owner: int | None = None

    async def change(txn: Transaction, current: UserProfile) -> UserProfile:
        nonlocal previous_owner
        previous_owner = current.bot_owner_id
        if previous_owner == owner.id:
            return current
        updated = await update_user_txn(txn, current.id, bot_owner_id=owner.id)
        await audit_user_change(txn, current, "bot_owner_changed", acting_user_id,
                                old_value=previous_owner, new_value=owner.id)  # fmt: skip
        return updated

    updated = await apply_user_change(server, bot, "change bot owner", change)
    if previous_owner != owner.id:
        await publish_person_update(server, updated, bot_owner_id=owner.id)
        await publish_bot_owner_change(server, updated, await get_service(server, updated), previous_owner)
    return updated
