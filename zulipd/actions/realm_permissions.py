"""The organization's group permission settings, as the API shows them.

Zulip 10 expresses every organization-wide permission as a group-setting
value. zulipd stores two of them (``can_create_groups`` and
``can_manage_all_groups``, in ``realm.settings``); the others are rules fixed
in zulipd's code, or follow ``bot_creation_policy``, and are shown here as the
system group whose members those rules allow. Settings of features zulipd does
not have take Zulip's default for a new organization.
"""

from __future__ import annotations

from datetime import datetime

from zulipd.actions.groups import (
    ADMINISTRATORS,
    EVERYONE,
    MEMBERS,
    REALM_GROUP_SETTINGS,
    GroupGraph,
    PreviousSettingValueMismatched,
    SettingChange,
    SettingValue,
    api_setting_values,
    check_group_setting_value,
    normalize_setting_value,
    realm_group_setting,
    same_setting_value,
    setting_value_to_json,
)
from zulipd.models import Realm
from zulipd.storage.pool import Transaction

# bot_creation_policy: 1 everyone, 2 only administrators create generic bots, 3 administrators only.
_BOT_GROUPS: dict[int, tuple[str, str]] = {
    1: (MEMBERS, MEMBERS),
    2: (ADMINISTRATORS, MEMBERS),
    3: (ADMINISTRATORS, ADMINISTRATORS),
}

# Settings whose rule is fixed in zulipd: the system group whose members the rule lets through.
FIXED_REALM_GROUP_SETTINGS: dict[str, str] = {
    # Everyone sees every user of the organization.
    "can_access_all_users_group": EVERYONE,
    # Guests may not subscribe others (actions/subscriptions.py).
    "can_add_subscribers_group": MEMBERS,
    # Guests may not create channels; web-public ones need an administrator (actions/streams.py).
    "can_create_public_channel_group": MEMBERS,
    "can_create_private_channel_group": MEMBERS,
    "can_create_web_public_channel_group": ADMINISTRATORS,
    # Administrators delete anyone's messages; everyone may delete their own (actions/message_edit.py).
    "can_delete_any_message_group": ADMINISTRATORS,
    "can_delete_own_message_group": EVERYONE,
    # Guests may not move messages to another channel; anyone who may edit a topic may resolve it.
    "can_move_messages_between_channels_group": MEMBERS,
    "can_move_messages_between_topics_group": EVERYONE,
    "can_resolve_topics_group": EVERYONE,
    # Anyone may start or hold a direct message conversation.
    "direct_message_initiator_group": EVERYONE,
    "direct_message_permission_group": EVERYONE,
}

# Settings of features zulipd does not have: Zulip's default for a new organization.
UNUSED_REALM_GROUP_SETTINGS: dict[str, str] = {
    "can_add_custom_emoji_group": MEMBERS,
    "can_invite_users_group": MEMBERS,
    "can_manage_billing_group": ADMINISTRATORS,
    "can_mention_many_users_group": ADMINISTRATORS,
    "can_summarize_topics_group": EVERYONE,
    "create_multiuse_invite_group": ADMINISTRATORS,
}

BOT_CREATION_GROUP_SETTINGS = ("can_create_bots_group", "can_create_write_only_bots_group")

# Every realm group setting the API shows, stored or not.
REALM_GROUP_SETTING_NAMES: tuple[str, ...] = tuple(
    sorted([*REALM_GROUP_SETTINGS, *FIXED_REALM_GROUP_SETTINGS, *UNUSED_REALM_GROUP_SETTINGS,
            *BOT_CREATION_GROUP_SETTINGS])
)  # fmt: skip


def bot_creation_group_values(graph: GroupGraph, bot_creation_policy: int) -> dict[str, int]:
    """can_create_bots_group and can_create_write_only_bots_group for a bot_creation_policy."""
    bots, write_only = _BOT_GROUPS.get(bot_creation_policy, _BOT_GROUPS[1])
    return {
        "can_create_bots_group": graph.system_group_id(bots),
        "can_create_write_only_bots_group": graph.system_group_id(write_only),
    }


async def realm_group_setting_values(txn: Transaction, graph: GroupGraph) -> dict[str, int | dict[str, list[int]]]:
    """Every realm group setting's API value: a group id, or {direct_members, direct_subgroups} of active users."""
    settings = graph.realm.settings
    values: dict[str, int | dict[str, list[int]]] = {}
    fixed = {**FIXED_REALM_GROUP_SETTINGS, **UNUSED_REALM_GROUP_SETTINGS}
    for name, group_name in fixed.items():
        values[name] = graph.system_group_id(group_name)
    values.update(bot_creation_group_values(graph, int(settings.get("bot_creation_policy", 1))))
    stored = {name: realm_group_setting(graph, name) for name in REALM_GROUP_SETTINGS}
    shown = await api_setting_values(txn, graph, stored.values())
    for name, value in stored.items():
        values[name] = setting_value_to_json(shown[value])
    return dict(sorted(values.items()))


async def _check_value(txn: Transaction, graph: GroupGraph, name: str, value: SettingValue) -> SettingValue:
    """A valid value for a stored realm group setting, normalized; else Zulip's error."""
    return await check_group_setting_value(txn, graph, name, REALM_GROUP_SETTINGS[name], value)


async def realm_group_setting_changes_txn(
    txn: Transaction, realm: Realm, changes: dict[str, SettingChange], now: datetime
) -> dict[str, tuple[int | dict[str, list[int]], int | dict[str, list[int]]]]:
    """The stored group settings that change: name -> (old, new) as stored JSON.

    Each value is checked; an ``old`` that is not the current value refuses the whole change.
    """
    graph = await GroupGraph.load(txn, realm, now)
    changed: dict[str, tuple[int | dict[str, list[int]], int | dict[str, list[int]]]] = {}
    for name, change in changes.items():
        current = realm_group_setting(graph, name)
        if change.old is not None and not same_setting_value(normalize_setting_value(graph, change.old), current):
            raise PreviousSettingValueMismatched()
        new = await _check_value(txn, graph, name, change.new)
        if not same_setting_value(new, current):
            changed[name] = (setting_value_to_json(current), setting_value_to_json(new))
    return changed
