"""The realm_bot events, sent once a change to a bot has committed.

As in Zulip 10, they go to those who administer the bot: its owner and the
organization's administrators who are people (``bot_administrator_ids``).
A new bot is ``add`` with the whole ``Bot`` object; a change is ``update``
with the bot's id and what changed (its name, key, services, owner, or
``is_active`` for deactivation and reactivation). ``delete`` only tells a
previous owner who is not an administrator that the bot left their list; the
deprecated ``remove`` is no longer sent.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from zulipd.actions.bot_dicts import bot_administrator_ids, bot_dict, human_administrator_ids
from zulipd.actions.notify import publish
from zulipd.models import BotService, UserProfile
from zulipd.storage.users import list_users_txn

if TYPE_CHECKING:
    from zulipd.server import Server


async def publish_bot_added(server: Server, bot: UserProfile, service: BotService | None) -> None:
    body = {"type": "realm_bot", "op": "add", "bot": bot_dict(bot, service)}
    publish(server, body, await bot_administrator_ids(server, bot))


async def publish_bot_update(server: Server, bot: UserProfile, **fields: Any) -> None:
    body = {"type": "realm_bot", "op": "update", "bot": {"user_id": bot.id, **fields}}
    publish(server, body, await bot_administrator_ids(server, bot))


async def publish_bot_owner_change(
    server: Server, bot: UserProfile, service: BotService | None, previous_owner_id: int | None
) -> None:
    """A new owner who is not an administrator gains the bot (``add``), a previous one loses it
    (``delete``); the administrators, who see every bot, hear of the new ``owner_id``."""
    users = await server.pool.run_reads("realm users", list_users_txn, bot.realm_id)
    administrators = human_administrator_ids(users)
    update_ids = set(administrators)
    if previous_owner_id is not None and previous_owner_id not in administrators:
        publish(server, {"type": "realm_bot", "op": "delete", "bot": {"user_id": bot.id}}, [previous_owner_id])
    if bot.bot_owner_id is not None:
        if bot.bot_owner_id in administrators:
            update_ids.add(bot.bot_owner_id)
        else:
            publish(server, {"type": "realm_bot", "op": "add", "bot": bot_dict(bot, service)}, [bot.bot_owner_id])
    body = {"type": "realm_bot", "op": "update", "bot": {"user_id": bot.id, "owner_id": bot.bot_owner_id}}
    publish(server, body, update_ids)
