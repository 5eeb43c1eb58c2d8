"""A bot as those who administer it see it: Zulip's ``Bot`` object, who those people are, and their bots.

The ``Bot`` object carries the bot's API key, so it only ever goes to the
bot's owner and the organization's administrators: the realm_bots register
state and the realm_bot events alike.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from zulipd.avatars import gravatar_url
from zulipd.models import BotService, BotType, UserProfile
from zulipd.storage.pool import Transaction
from zulipd.storage.users import get_bot_services_txn, list_bots_owned_by_txn, list_users_txn

if TYPE_CHECKING:
    from zulipd.server import Server


def bot_avatar_url(bot: UserProfile) -> str:
    return gravatar_url(bot.email, bot.avatar_version)


def bot_services(bot: UserProfile, service: BotService | None) -> list[dict[str, Any]]:
    """The bot's ``services``, in the shape the spec gives for its type (empty for the other types)."""
    if service is None:
        return []
    if bot.bot_type == BotType.OUTGOING_WEBHOOK:
        return [{"base_url": service.base_url, "interface": service.interface, "token": service.token}]
    if bot.bot_type == BotType.EMBEDDED:
        return [{"service_name": service.service_name, "config_data": dict(service.config)}]
    return []


def bot_dict(bot: UserProfile, service: BotService | None) -> dict[str, Any]:
    return {
        "user_id": bot.id,
        "email": bot.email,
        "full_name": bot.full_name,
        "bot_type": int(bot.bot_type) if bot.bot_type is not None else None,
        "is_active": bot.is_active,
        "api_key": bot.api_key,
        # zulipd cannot set a bot's default channels yet (PATCH /bots refuses them).
        "default_sending_stream": None,
        "default_events_register_stream": None,
        "default_all_public_streams": False,
        "avatar_url": bot_avatar_url(bot),
        "owner_id": bot.bot_owner_id,
        "services": bot_services(bot, service),
    }


def human_administrator_ids(users: Iterable[UserProfile]) -> set[int]:
    """The active organization administrators (owners too) who are people, as Zulip counts them for bots."""
    return {user.id for user in users if user.is_active and user.is_realm_admin and not user.is_bot}


async def bot_administrator_ids(server: Server, bot: UserProfile) -> set[int]:
    """Who hears of changes to the bot: its owner and the organization's administrators."""
    users = await server.pool.run_reads("realm users", list_users_txn, bot.realm_id)
    ids = human_administrator_ids(users)
    if bot.bot_owner_id is not None:
        ids.add(bot.bot_owner_id)
    return ids


async def administered_bot_dicts(server: Server, viewer: UserProfile) -> list[dict[str, Any]]:
    """The realm_bots state: every bot of the organization for an administrator, else the viewer's own.

    Deactivated bots are included (with ``is_active`` false), as Zulip does.
    """

    async def load(txn: Transaction) -> list[dict[str, Any]]:
        if viewer.is_realm_admin:
            bots = [user for user in await list_users_txn(txn, viewer.realm_id) if user.is_bot]
        else:
            bots = await list_bots_owned_by_txn(txn, viewer.id)
        services = await get_bot_services_txn(txn, [bot.id for bot in bots])
        return [bot_dict(bot, services.get(bot.id)) for bot in sorted(bots, key=lambda bot: bot.id)]

    return await server.pool.run_reads("administered bots", load)
