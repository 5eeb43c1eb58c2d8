"""Users' statuses: a short text and an emoji that a user shows everyone in the organization.

A status update changes only what it names. Its emoji is checked as a reaction's
is (``actions/reactions.py``). The deprecated ``away`` is not part of the
status: it is the user's ``presence_enabled`` setting turned around, which an
update may still set, and which every status read reports (``away`` true when
presence is off). Everyone who can see the user hears of each update.
"""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from zulipd.actions.notify import publish
from zulipd.actions.presence import can_see_user, check_human_user, do_presence_enabled_changed, presence_enabled
from zulipd.actions.reactions import UNICODE_EMOJI, check_emoji_request_txn, emoji_data_txn
from zulipd.actions.users import apply_user_change, audit_user_change
from zulipd.errors import JsonableError
from zulipd.models import UserProfile
from zulipd.storage.pool import Transaction
from zulipd.storage.user_status import (
    StoredStatus,
    get_user_status_txn,
    realm_user_statuses_txn,
    update_user_status_txn,
)
from zulipd.storage.users import get_user_by_id_txn, list_users_txn, merge_user_settings_txn
from zulipd.user_settings import USER_SETTINGS

if TYPE_CHECKING:
    from zulipd.server import Server

MAX_STATUS_TEXT_LENGTH = 60
_INTEGER_MAX = 2**31 - 1


@dataclasses.dataclass(frozen=True)
class StatusChange:
    """What one update sets; None leaves a field as it is."""

    away: bool | None
    status_text: str | None
    emoji_name: str | None
    emoji_code: str | None
    reaction_type: str | None


def check_status_change(
    away: bool | None,
    status_text: str | None,
    emoji_name: str | None,
    emoji_code: str | None,
    reaction_type: str | None,
) -> StatusChange:
    """The checks that need no database, in Zulip's order; the change, with its text trimmed."""
    if status_text is not None:
        status_text = status_text.strip()
        if len(status_text) > MAX_STATUS_TEXT_LENGTH:
            raise JsonableError(f"status_text is too long (limit: {MAX_STATUS_TEXT_LENGTH} characters)")
    if away is None and status_text is None and emoji_name is None:
        raise JsonableError("Client did not pass any new values.")
    if emoji_name is None and (emoji_code is not None or reaction_type is not None):
        raise JsonableError("Client must pass emoji_name if they pass either emoji_code or reaction_type.")
    if emoji_name == "":
        # No emoji name clears the emoji, whatever code and type came with it.
        emoji_code, reaction_type = "", UNICODE_EMOJI
    return StatusChange(away, status_text, emoji_name, emoji_code, reaction_type)


async def _resolve_emoji_txn(txn: Transaction, realm_id: int, change: StatusChange) -> StatusChange:
    """The change with its emoji's code and type filled in from its name, and checked."""
    if not change.emoji_name:
        return change
    code, kind = change.emoji_code, change.reaction_type
    if code is None or kind is None:
        data = await emoji_data_txn(txn, realm_id, change.emoji_name)
        code = data.emoji_code if code is None else code
        kind = data.reaction_type if kind is None else kind
    await check_emoji_request_txn(txn, realm_id, change.emoji_name, code, kind)
    return dataclasses.replace(change, emoji_code=code, reaction_type=kind)


def status_event(user_id: int, change: StatusChange) -> dict[str, Any]:
    """Zulip's user_status event: only the fields the update named (the emoji's three together)."""
    event: dict[str, Any] = {"type": "user_status", "user_id": user_id}
    if change.away is not None:
        event["away"] = change.away
    if change.status_text is not None:
        event["status_text"] = change.status_text
    if change.emoji_name is not None:
        event.update(emoji_name=change.emoji_name, emoji_code=change.emoji_code, reaction_type=change.reaction_type)
    return event


async def do_update_user_status(
    server: Server,
    user: UserProfile,
    *,
    away: bool | None = None,
    status_text: str | None = None,
    emoji_name: str | None = None,
    emoji_code: str | None = None,
    reaction_type: str | None = None,
) -> None:
    """Change the user's status (and, for ``away``, their presence_enabled setting) in one transaction."""
    check_human_user(user)
    requested = check_status_change(away, status_text, emoji_name, emoji_code, reaction_type)
    now = datetime.fromtimestamp(server.clock.seconds(), UTC)
    # Filled in by the transaction: the checked change, who hears of it, and presence_enabled's new value if changed.
    resolved: list[StatusChange] = []
    audience: list[int] = []
    presence_now: list[bool] = []

    async def change(txn: Transaction, current: UserProfile) -> UserProfile:
        checked = await _resolve_emoji_txn(txn, current.realm_id, requested)
        updated = current
        if checked.away is not None and presence_enabled(current) == checked.away:
            enabled = not checked.away
            updated = await merge_user_settings_txn(txn, current.id, {"presence_enabled": enabled})
            await audit_user_change(txn, current, "user_setting_changed", current.id,
                                    property="presence_enabled", old_value=not enabled, new_value=enabled)  # fmt: skip
            presence_now[:] = [enabled]
        await update_user_status_txn(
            txn,
            current.id,
            current.realm_id,
            now,
            status_text=checked.status_text,
            emoji_name=checked.emoji_name,
            emoji_code=checked.emoji_code,
            reaction_type=checked.reaction_type,
        )
        everyone = await list_users_txn(txn, current.realm_id)
        audience[:] = [other.id for other in everyone if other.is_active and can_see_user(other, current)]
        resolved[:] = [checked]
        return updated

    if requested.away is None:
        # The user's row is not changed, so no lock on it and no cache to empty.
        await server.pool.run_interaction("update status", lambda txn: change(txn, user))
        publish(server, status_event(user.id, resolved[0]), audience)
        return
    updated = await apply_user_change(server, user, "update status", change)
    if presence_now:
        # What Zulip's change of the setting sends: the setting's event (and, below, an immediate presence write).
        body = {"type": "user_settings", "op": "update", "property": "presence_enabled", "value": presence_now[0]}
        publish(server, body, [user.id])
    publish(server, status_event(user.id, resolved[0]), audience)
    if presence_now:
        # Last: it is a write of its own, and the status change has committed whether or not it succeeds.
        await do_presence_enabled_changed(server, updated, presence_now[0])


def status_dict(stored: StoredStatus) -> dict[str, Any]:
    """A status as Zulip shows it: each field only when set, ``away`` only when true."""
    enabled = stored.presence_enabled
    if enabled is None:
        enabled = bool(USER_SETTINGS["presence_enabled"][1])
    shown: dict[str, Any] = {}
    if not enabled:
        shown["away"] = True
    if stored.status_text:
        shown["status_text"] = stored.status_text
    if stored.emoji_name:
        shown.update(emoji_name=stored.emoji_name, emoji_code=stored.emoji_code, reaction_type=stored.reaction_type)
    return shown


async def get_user_status(server: Server, viewer: UserProfile, user_id: int) -> dict[str, Any]:
    """``GET /users/{user_id}/status``: a user of the viewer's organization, found as Zulip's
    ``access_user_by_id`` finds one (no bots, no deactivated users)."""

    async def load(txn: Transaction) -> tuple[UserProfile | None, StoredStatus | None]:
        if not 0 < user_id <= _INTEGER_MAX:
            return None, None
        target = await get_user_by_id_txn(txn, viewer.realm_id, user_id)
        if target is None:
            return None, None
        return target, await get_user_status_txn(txn, target.id)

    target, stored = await server.pool.run_reads("user status", load)
    if target is None or target.is_bot:
        raise JsonableError("No such user")
    if not target.is_active:
        raise JsonableError("User is deactivated")
    if not can_see_user(viewer, target):
        raise JsonableError("Insufficient permission")
    # Zulip shows nothing for a user who never set a status, even one whose presence is off.
    return status_dict(stored) if stored is not None else {}


async def realm_user_statuses(server: Server, viewer: UserProfile) -> dict[str, dict[str, Any]]:
    """The register state: every active user the viewer can see who shows a status, by user id.

    Everyone sees everyone in their own organization (``can_see_user``), so that is every active user of it."""
    rows = await server.pool.run_reads("user statuses", realm_user_statuses_txn, viewer.realm_id)
    statuses = {str(row.user_id): status_dict(row) for row in rows}
    return {user_id: shown for user_id, shown in statuses.items() if shown}
