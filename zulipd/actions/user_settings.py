"""Personal settings and the profile time zone."""

from __future__ import annotations

import zoneinfo
from typing import TYPE_CHECKING, Any

from zulipd.actions.notify import publish
from zulipd.actions.users import apply_user_change, audit_user_change, publish_person_update
from zulipd.errors import JsonableError
from zulipd.models import UserProfile
from zulipd.storage.pool import Transaction
from zulipd.storage.users import merge_user_settings_txn, update_user_txn
from zulipd.user_settings import USER_SETTINGS

if TYPE_CHECKING:
    from zulipd.server import Server


async def do_change_settings(server: Server, user: UserProfile, changes: dict[str, Any]) -> UserProfile:
    unknown = set(changes) - set(USER_SETTINGS)
    assert not unknown, unknown

    async def change(txn: Transaction, current: UserProfile) -> UserProfile:
        updated = await merge_user_settings_txn(txn, current.id, changes)
        for name, value in changes.items():
            old = current.settings.get(name, USER_SETTINGS[name][1])
            if old != value:
                await audit_user_change(txn, current, "user_setting_changed", current.id,
                                        property=name, old_value=old, new_value=value)  # fmt: skip
        return updated

    updated = await apply_user_change(server, user, "change settings", change)
    for name, value in changes.items():
        if user.settings.get(name, USER_SETTINGS[name][1]) != value:
            # (Zulip adds language_name for default_language; zulipd has no table of language names.)
            body = {"type": "user_settings", "op": "update", "property": name, "value": value}
            publish(server, body, [user.id])
    return updated


async def do_change_timezone(server: Server, user: UserProfile, timezone: str) -> UserProfile:
    if timezone and timezone not in zoneinfo.available_timezones():
        raise JsonableError(f"{timezone} is not a recognized time zone")

    async def change(txn: Transaction, current: UserProfile) -> UserProfile:
        updated = await update_user_txn(txn, current.id, timezone=timezone)
        await audit_user_change(txn, current, "user_setting_changed", current.id,
                                property="timezone", old_value=current.timezone, new_value=timezone)  # fmt: skip
        return updated

    updated = await apply_user_change(server, user, "change time zone", change)
    if updated.timezone != user.timezone:
        publish(server, {"type": "user_settings", "op": "update", "property": "timezone", "value": timezone}, [user.id])
        await publish_person_update(server, updated, timezone=timezone)
    return updated
