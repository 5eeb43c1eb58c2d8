"""The events of organization changes, in Zulip 10.2's formats, to every active user of the organization.

Zulip sends ``realm`` ``update`` (``property``, ``value``) for most settings,
and ``realm`` ``update_dict`` (``property: "default"``, ``data``) for the
message-editing settings and for group-valued settings. zulipd's
``bot_creation_policy`` is shown to clients as the two bot-creation group
settings, and ``allow_edit_history`` also as
``message_edit_history_visibility_policy``; their events say so.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from zulipd.actions.groups import REALM_GROUP_SETTINGS
from zulipd.actions.notify import publish
from zulipd.models import Realm
from zulipd.storage.users import list_users_txn

if TYPE_CHECKING:
    from zulipd.server import Server

# Settings whose changes Zulip announces with update_dict rather than update.
UPDATE_DICT_SETTINGS = frozenset({"allow_message_editing", "message_content_edit_limit_seconds"})


def edit_history_policy(allow_edit_history: bool) -> str:
    """message_edit_history_visibility_policy, which replaced allow_edit_history in Zulip 10."""
    return "all" if allow_edit_history else "none"


def _update(name: str, value: Any) -> dict[str, Any]:
    return {"type": "realm", "op": "update", "property": name, "value": value}


def _update_dict(data: Mapping[str, Any]) -> dict[str, Any]:
    return {"type": "realm", "op": "update_dict", "property": "default", "data": dict(data)}


def realm_change_events(
    changed: Mapping[str, Any], bot_groups: Mapping[str, int] | None = None
) -> list[dict[str, Any]]:
    """The events of ``changed`` (name -> new value, group settings as API values), one per property.

    ``bot_groups`` are the bot-creation group settings after a change of bot_creation_policy.
    """
    events = []
    for name, value in changed.items():
        if name in UPDATE_DICT_SETTINGS or name in REALM_GROUP_SETTINGS:
            events.append(_update_dict({name: value}))
        elif name == "bot_creation_policy":
            assert bot_groups is not None
            events.append(_update_dict(bot_groups))
        elif name == "allow_edit_history":
            events.append(_update("message_edit_history_visibility_policy", edit_history_policy(value)))
            events.append(_update(name, value))
        else:
            events.append(_update(name, value))
    return events


async def active_user_ids(server: Server, realm: Realm) -> list[int]:
    """Who hears of an organization change: every active user, guests and bots included."""
    users = await server.pool.run_reads("realm users", list_users_txn, realm.id)
    return [user.id for user in users if user.is_active]


async def publish_realm_changes(
    server: Server, realm: Realm, changed: Mapping[str, Any], bot_groups: Mapping[str, int] | None = None
) -> None:
    if not changed:
        return
    audience = await active_user_ids(server, realm)
    for body in realm_change_events(changed, bot_groups):
        publish(server, body, audience)


async def publish_realm_deactivated(server: Server, realm: Realm) -> None:
    audience = await active_user_ids(server, realm)
    publish(server, {"type": "realm", "op": "deactivated", "realm_id": realm.id}, audience)
