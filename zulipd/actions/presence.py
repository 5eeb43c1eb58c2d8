"""User presence, as Zulip models it.

Each user has one row: ``last_active_time``, the last time a client said the user
was actually using it, and ``last_connected_time``, the last time any client of
theirs was connected at all. Clients ping every minute; a field is rewritten at
most once per ``PRESENCE_UPDATE_MIN_FREQ_SECONDS``, so that several open windows
do not multiply the writes. Every write takes the organization's next update id
(``presence_sequence``), which is how a client fetches only what changed since
its last fetch (``last_update_id``).

A user who turned ``presence_enabled`` off is not tracked: their pings are
accepted and dropped, and everyone sees them as last online well before the
offline threshold.

Presence events (Zulip sends one when a user appears or comes back online) come
with the events system; ``do_update_user_presence`` already says when one is due.
"""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Literal

from zulipd.actions.notify import publish
from zulipd.actions.users import get_user, get_user_by_email
from zulipd.errors import JsonableError
from zulipd.models import Realm, UserProfile
from zulipd.storage.pool import Transaction
from zulipd.storage.presence import (
    PresenceRow,
    delete_presence_txn,
    get_presence_for_update_txn,
    get_presence_txn,
    insert_presence_txn,
    next_presence_update_id_txn,
    realm_presence_txn,
    update_presence_txn,
)
from zulipd.storage.users import get_users_by_ids_txn, list_users_txn

if TYPE_CHECKING:
    from zulipd.server import Server

# Zulip's settings, with Zulip's values.
PRESENCE_PING_INTERVAL_SECS = 60
# A user whose newest timestamp is older than this is offline.
OFFLINE_THRESHOLD_SECS = 140
PRESENCE_UPDATE_MIN_FREQ_SECONDS = 55
# In the legacy format, a user is "active" while their last activity is at most this much older than their last
# connection, and "idle" otherwise.
PRESENCE_LEGACY_EVENT_OFFSET_FOR_ACTIVITY_SECONDS = 70
# What a fetch returns when the client names no history_limit_days.
DEFAULT_HISTORY_LIMIT_DAYS = 14
# A user who disabled presence appears to have been last online this long before (Zulip's offset: the
# offline threshold and two minutes for clock skew).
PRESENCE_DISABLED_OFFSET_SECS = OFFLINE_THRESHOLD_SECS + 120

Status = Literal["active", "idle"]
ACTIVE: Status = "active"
IDLE: Status = "idle"

_BIGINT_MAX = 2**63 - 1
_INTEGER_MAX = 2**31 - 1
# Bounds for history_limit_days that keep date arithmetic within datetime's range.
_MAX_HISTORY_DAYS = 700_000


def check_status(status: str) -> Status:
    if status == ACTIVE:
        return ACTIVE
    if status == IDLE:
        return IDLE
    raise JsonableError(f"Invalid status: {status}")


def check_human_user(user: UserProfile) -> None:
    """Zulip's ``human_users_only``: bots have no presence to report."""
    if user.is_bot:
        raise JsonableError("This endpoint does not accept bot requests.")


def presence_enabled(user: UserProfile) -> bool:
    return bool(user.settings.get("presence_enabled", True))


def can_see_user(viewer: UserProfile, user: UserProfile) -> bool:
    """Whether ``viewer`` may see ``user`` (and so their presence).

    zulipd has no ``can_access_all_users_group`` yet: every member of an
    organization, guests included, sees every user of it, as ``GET /users``
    shows. This is the one place to narrow when that setting arrives.
    """
    return viewer.realm_id == user.realm_id


def server_now(server: Server) -> datetime:
    return datetime.fromtimestamp(server.clock.seconds(), UTC)


async def update_user_presence(server: Server, user: UserProfile, status: Status, new_user_input: bool) -> None:
    """A client's ping: record it, unless the user disabled presence.

    ``new_user_input`` feeds Zulip's usage statistics, which zulipd does not keep.
    """
    check_human_user(user)
    if not presence_enabled(user):
        return
    now = server_now(server)
    if await do_update_user_presence(server, user, now, status):
        await publish_presence(server, user, status, now)


async def publish_presence(server: Server, user: UserProfile, status: Status, when: datetime) -> None:
    """Zulip's presence event, to everyone who may see the user: who, and how they were seen."""
    seen = {"client": "website", "status": status, "timestamp": int(when.timestamp()), "pushable": False}
    body = {
        "type": "presence",
        "user_id": user.id,
        "email": user.email,
        "server_timestamp": server.clock.seconds(),
        "presence": {"website": seen},
    }
    users = await server.pool.run_reads("realm users", list_users_txn, user.realm_id)
    publish(server, body, [viewer.id for viewer in users if viewer.is_active and can_see_user(viewer, user)])


async def do_update_user_presence(
    server: Server, user: UserProfile, log_time: datetime, status: Status, *, replace: bool = False
) -> bool:
    """Record that ``user`` was connected (and, if ``status`` is active, active) at ``log_time``.

    ``replace`` drops what was stored first. Returns whether Zulip would send a
    presence event now: the user has a row for the first time, or came back
    online after missing a couple of pings.
    """
    return await server.pool.run_interaction(
        "update presence", _update_presence_txn, user, log_time, status, replace=replace
    )


async def _update_presence_txn(
    txn: Transaction, user: UserProfile, log_time: datetime, status: Status, *, replace: bool
) -> bool:
    active = status == ACTIVE
    if replace:
        await delete_presence_txn(txn, user.id)
        current = None
    else:
        current = await get_presence_for_update_txn(txn, user.id)
    if current is None:
        # The counter is taken last: its lock is held only until the commit that follows.
        update_id = await next_presence_update_id_txn(txn, user.realm_id)
        return await insert_presence_txn(
            txn,
            user_id=user.id,
            realm_id=user.realm_id,
            last_active_time=log_time if active else None,
            last_connected_time=log_time,
            last_update_id=update_id,
        )
    # A user never seen active (or connected) counts as long gone.
    long_ago = timedelta(days=1)
    since_active = log_time - current.last_active_time if current.last_active_time is not None else long_ago
    since_connected = log_time - current.last_connected_time if current.last_connected_time is not None else long_ago
    # Newly online: missed a couple of regular pings, so others may be about to show the user as offline.
    came_back = since_active > timedelta(seconds=OFFLINE_THRESHOLD_SECS - PRESENCE_PING_INTERVAL_SECS - 10)
    min_interval = timedelta(seconds=PRESENCE_UPDATE_MIN_FREQ_SECONDS)
    last_active, last_connected = current.last_active_time, current.last_connected_time
    changed = False
    # Only move forward: a delayed ping must not wind back newer data.
    if since_connected > min_interval:
        last_connected = log_time
        changed = True
    if active and since_active > min_interval:
        last_active = log_time
        if last_connected is None or log_time > last_connected:
            last_connected = log_time  # keep last_connected_time >= last_active_time
        changed = True
    if changed:
        update_id = await next_presence_update_id_txn(txn, user.realm_id)
        await update_presence_txn(
            txn,
            user_id=user.id,
            last_active_time=last_active,
            last_connected_time=last_connected,
            last_update_id=update_id,
        )
    return active and came_back


async def do_presence_enabled_changed(server: Server, user: UserProfile, enabled: bool) -> None:
    """Zulip's immediate presence write when a user turns ``presence_enabled`` on or off.

    On: the user is active now. Off: what was stored is dropped, and the user
    appears to have left a few minutes ago, so every client shows them offline
    at once. The action that changes the setting should call this after its commit.
    """
    now = server_now(server)
    if enabled:
        await do_update_user_presence(server, user, now, ACTIVE)
    else:
        when = now - timedelta(seconds=PRESENCE_DISABLED_OFFSET_SECS)
        await do_update_user_presence(server, user, when, IDLE, replace=True)


@dataclasses.dataclass(frozen=True)
class UserPresence:
    """One user's presence as others see it."""

    user: UserProfile
    last_active_time: datetime
    last_connected_time: datetime


@dataclasses.dataclass(frozen=True)
class RealmPresence:
    presences: list[UserPresence]
    # The newest update id among ``presences``; the client's own value when nothing is newer; -1 when neither.
    last_update_id: int
    server_timestamp: float


def _as_seen(user: UserProfile, row: PresenceRow, now: datetime) -> UserPresence:
    # Zulip shows a missing timestamp as the date the user joined.
    last_active = row.last_active_time or user.date_joined
    last_connected = row.last_connected_time or user.date_joined
    if not presence_enabled(user):
        # Their pings are not recorded; whatever is stored must still read as offline.
        latest = now - timedelta(seconds=PRESENCE_DISABLED_OFFSET_SECS)
        last_active, last_connected = min(last_active, latest), min(last_connected, latest)
    return UserPresence(user, last_active, last_connected)


async def fetch_realm_presence(
    server: Server,
    viewer: UserProfile,
    *,
    last_update_id: int | None = None,
    history_limit_days: int | None = None,
) -> RealmPresence:
    """The presence of the organization's active humans whom ``viewer`` can see.

    With ``last_update_id`` only what was written after it; without (or with
    one of 0 or less) only users connected in the last ``history_limit_days``
    (14 unless given; 0 asks for nothing).
    """
    server_timestamp = server.clock.seconds()
    now = datetime.fromtimestamp(server_timestamp, UTC)
    after_update_id = None if last_update_id is None else max(min(last_update_id, _BIGINT_MAX), -_BIGINT_MAX)
    connected_since = None
    if last_update_id is None or last_update_id <= 0:
        days = DEFAULT_HISTORY_LIMIT_DAYS if history_limit_days is None else history_limit_days
        connected_since = now - timedelta(days=max(min(days, _MAX_HISTORY_DAYS), -_MAX_HISTORY_DAYS))

    async def load(txn: Transaction) -> tuple[list[PresenceRow], dict[int, UserProfile]]:
        if history_limit_days == 0:
            return [], {}
        rows = await realm_presence_txn(
            txn, viewer.realm_id, connected_since=connected_since, after_update_id=after_update_id
        )
        return rows, await get_users_by_ids_txn(txn, [row.user_id for row in rows])

    rows, users = await server.pool.run_interaction("realm presence", load)
    visible = [row for row in rows if can_see_user(viewer, users[row.user_id])]
    if visible:
        newest = max(row.last_update_id for row in visible)
    elif last_update_id is not None:
        newest = last_update_id  # nothing new since what the client has
    else:
        newest = -1
    return RealmPresence(
        presences=[_as_seen(users[row.user_id], row, now) for row in visible],
        last_update_id=newest,
        server_timestamp=server_timestamp,
    )


async def fetch_user_presence(server: Server, viewer: UserProfile, realm: Realm, user_id_or_email: str) -> UserPresence:
    """One user's presence, by id or by email (real or API address), as ``GET /users/{user_id_or_email}/presence``."""
    try:
        user_id: int | None = int(user_id_or_email)
    except ValueError:
        user_id = None
    if user_id is not None:
        if not 0 < user_id <= _INTEGER_MAX:
            raise JsonableError("No such user")
        user = await get_user(server, realm, user_id)
    else:
        user = await get_user_by_email(server, realm, user_id_or_email, viewer)
    if not user.is_active:
        raise JsonableError("No such user")
    if user.is_bot:
        raise JsonableError("Presence is not supported for bot users.")
    if not can_see_user(viewer, user):
        raise JsonableError("Insufficient permission")
    row = await server.pool.run_interaction("user presence", get_presence_txn, user.id)
    if row is None:
        raise JsonableError(f"No presence data for {user_id_or_email}")
    return _as_seen(user, row, server_now(server))


def legacy_status(presence: UserPresence) -> tuple[Status, datetime]:
    """The legacy format's status and the timestamp that goes with it."""
    offset = timedelta(seconds=PRESENCE_LEGACY_EVENT_OFFSET_FOR_ACTIVITY_SECONDS)
    if presence.last_active_time + offset >= presence.last_connected_time:
        return ACTIVE, presence.last_active_time
    return IDLE, presence.last_connected_time
