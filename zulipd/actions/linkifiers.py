"""Organizations' linkifiers: who may change them, the checks, the events, and a cache for rendering.

Only administrators add, change, remove or reorder linkifiers; everyone in the
organization may list them. The checks are Zulip's (``render.linkifiers``
says which), plus one pattern per organization. Every change sends
``realm_linkifiers`` with the whole new list to every active user of the
organization, but only to queues that declared the ``linkifier_url_template``
client capability, as in Zulip: other clients understand only the old URL
format strings. Zulip no longer sends the legacy ``realm_filters`` event, and
neither does zulipd.

Rendering reads an organization's linkifiers on every message, so they are kept
in memory per organization (``LinkifierCache``, one per server). A change
empties that organization's entry here at once, and, by a ``NOTIFY`` sent as it
commits, in every other zulipd process.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from zulipd.actions.notify import publish
from zulipd.actions.realm_events import active_user_ids
from zulipd.actions.users import check_admin
from zulipd.errors import JsonableError
from zulipd.models import Realm, UserProfile
from zulipd.render.linkifiers import Linkifier, linkifier_errors
from zulipd.storage.audit import insert_audit_log_txn
from zulipd.storage.linkifiers import (
    StoredLinkifier,
    add_linkifier_txn,
    get_linkifier_txn,
    lock_realm_linkifiers_txn,
    pattern_taken_txn,
    realm_linkifiers_txn,
    remove_linkifier_txn,
    reorder_linkifiers_txn,
    update_linkifier_txn,
)
from zulipd.storage.notifications import notify_txn
from zulipd.storage.pool import Transaction

if TYPE_CHECKING:
    from zulipd.server import Server

# Zulip's client capability (feature level 176): the client understands RFC 6570 URL templates.
LINKIFIER_URL_TEMPLATE = "linkifier_url_template"
# Django's unique_together message for Zulip's RealmFilter (realm, pattern).
DUPLICATE_PATTERN = "Realm filter with this Realm and Pattern already exists."
NOT_FOUND = "Linkifier not found."
_INTEGER_MAX = 2**31 - 1


class LinkifierCache:
    """Each organization's linkifiers, in the order they apply, read once and kept until a change."""

    def __init__(self, server: Server) -> None:
        self._server = server
        self._by_realm: dict[int, tuple[Linkifier, ...]] = {}
        # Bumped by every forget(), so that a read that began before a change does not store what it read.
        self._generation = 0

    async def get(self, realm_id: int) -> tuple[Linkifier, ...]:
        cached = self._by_realm.get(realm_id)
        if cached is not None:
            return cached
        generation = self._generation
        rows = await self._server.pool.run_reads("linkifiers", realm_linkifiers_txn, realm_id)
        linkifiers = tuple(Linkifier(row.id, row.pattern, row.url_template) for row in rows)
        if generation == self._generation:
            self._by_realm[realm_id] = linkifiers
        return linkifiers

    def forget(self, realm_id: int | None = None) -> None:
        """Drop one organization's linkifiers (every organization's, with None)."""
        self._generation += 1
        if realm_id is None:
            self._by_realm.clear()
        else:
            self._by_realm.pop(realm_id, None)


async def realm_linkifiers(server: Server, realm_id: int) -> tuple[Linkifier, ...]:
    """The organization's linkifiers in the order they apply; from memory after the first call."""
    return await server.linkifiers.get(realm_id)


def invalidation_message(realm_id: int) -> str:
    return f"linkifiers:{realm_id}"


def linkifier_dicts(linkifiers: Sequence[Linkifier]) -> list[dict[str, Any]]:
    """Linkifiers as the API shows them, in order."""
    return [{"pattern": row.pattern, "url_template": row.url_template, "id": row.id} for row in linkifiers]


def _stored_dicts(rows: Sequence[StoredLinkifier]) -> list[dict[str, Any]]:
    return [{"pattern": row.pattern, "url_template": row.url_template, "id": row.id} for row in rows]


class LinkifierInvalid(JsonableError):
    """Zulip's answer to a linkifier that fails its checks: the first problem, and all of them by field."""

    def __init__(self, errors: dict[str, list[str]]) -> None:
        first = next(message for messages in errors.values() for message in messages)
        super().__init__(first, errors=errors)


async def _check_linkifier_txn(
    txn: Transaction, realm_id: int, pattern: str, url_template: str, except_id: int | None = None
) -> None:
    errors = linkifier_errors(pattern, url_template)
    if "\x00" in pattern:
        errors.setdefault("pattern", []).append("Null characters are not allowed.")
    if "\x00" in url_template:
        errors.setdefault("url_template", []).append("Null characters are not allowed.")
    # As Django does for Zulip: uniqueness is checked only when the pattern itself is acceptable.
    if "pattern" not in errors and await pattern_taken_txn(txn, realm_id, pattern, except_id):
        errors.setdefault("__all__", []).append(DUPLICATE_PATTERN)
    if errors:
        raise LinkifierInvalid(errors)


async def _audit_txn(
    txn: Transaction, realm_id: int, acting: UserProfile, event_type: str, **extra: Any
) -> list[dict[str, Any]]:
    """Record a change with the list as it now is; that list."""
    linkifiers = _stored_dicts(await realm_linkifiers_txn(txn, realm_id))
    await insert_audit_log_txn(
        txn,
        realm_id=realm_id,
        event_type=event_type,
        acting_user_id=acting.id,
        modified_user_id=None,
        extra_data={"realm_linkifiers": linkifiers, **extra},
    )
    await notify_txn(txn, invalidation_message(realm_id))
    return linkifiers


async def _publish(server: Server, realm: Realm, linkifiers: list[dict[str, Any]]) -> None:
    body = {"type": "realm_linkifiers", "realm_linkifiers": linkifiers}
    publish(server, body, await active_user_ids(server, realm), capability=(LINKIFIER_URL_TEMPLATE, True))


def _check_id(linkifier_id: int) -> None:
    if not 0 < linkifier_id <= _INTEGER_MAX:
        raise JsonableError(NOT_FOUND)


async def get_linkifiers(server: Server, viewer: UserProfile) -> list[dict[str, Any]]:
    """``GET /realm/linkifiers``: the viewer's organization's linkifiers, in order."""
    return linkifier_dicts(await realm_linkifiers(server, viewer.realm_id))


async def do_add_linkifier(server: Server, realm: Realm, acting: UserProfile, pattern: str, url_template: str) -> int:
    """Add a linkifier after the organization's others; its id. Pattern and template are trimmed first."""
    check_admin(acting)
    pattern, url_template = pattern.strip(), url_template.strip()

    async def add(txn: Transaction) -> tuple[int, list[dict[str, Any]]]:
        await lock_realm_linkifiers_txn(txn, realm.id)
        await _check_linkifier_txn(txn, realm.id, pattern, url_template)
        linkifier_id = await add_linkifier_txn(txn, realm.id, pattern, url_template)
        added = {"pattern": pattern, "url_template": url_template, "id": linkifier_id}
        return linkifier_id, await _audit_txn(txn, realm.id, acting, "realm_linkifier_added", added_linkifier=added)

    linkifier_id, linkifiers = await server.pool.run_interaction("add linkifier", add)
    await _publish(server, realm, linkifiers)
    return linkifier_id


async def do_update_linkifier(
    server: Server, realm: Realm, acting: UserProfile, linkifier_id: int, pattern: str, url_template: str
) -> None:
    """Change a linkifier's pattern and template; it keeps its place in the order."""
    check_admin(acting)
    _check_id(linkifier_id)
    pattern, url_template = pattern.strip(), url_template.strip()

    async def update(txn: Transaction) -> list[dict[str, Any]]:
        await lock_realm_linkifiers_txn(txn, realm.id)
        if await get_linkifier_txn(txn, realm.id, linkifier_id) is None:
            raise JsonableError(NOT_FOUND)
        await _check_linkifier_txn(txn, realm.id, pattern, url_template, except_id=linkifier_id)
        await update_linkifier_txn(txn, realm.id, linkifier_id, pattern, url_template)
        changed = {"pattern": pattern, "url_template": url_template, "id": linkifier_id}
        return await _audit_txn(txn, realm.id, acting, "realm_linkifier_changed", changed_linkifier=changed)

    linkifiers = await server.pool.run_interaction("update linkifier", update)
    await _publish(server, realm, linkifiers)


async def do_remove_linkifier(server: Server, realm: Realm, acting: UserProfile, linkifier_id: int) -> None:
    check_admin(acting)
    _check_id(linkifier_id)

    async def remove(txn: Transaction) -> list[dict[str, Any]]:
        await lock_realm_linkifiers_txn(txn, realm.id)
        removed = await remove_linkifier_txn(txn, realm.id, linkifier_id)
        if removed is None:
            raise JsonableError(NOT_FOUND)
        gone = {"pattern": removed.pattern, "url_template": removed.url_template}
        return await _audit_txn(txn, realm.id, acting, "realm_linkifier_removed", removed_linkifier=gone)

    linkifiers = await server.pool.run_interaction("remove linkifier", remove)
    await _publish(server, realm, linkifiers)


async def check_reorder_linkifiers(
    server: Server, realm: Realm, acting: UserProfile, ordered_linkifier_ids: Sequence[int]
) -> None:
    """Put the organization's linkifiers in the given order, which must name each of them once.

    With no linkifiers and an empty list there is nothing to do, and nothing is said."""
    check_admin(acting)
    wanted = set(ordered_linkifier_ids)
    if len(wanted) < len(ordered_linkifier_ids):
        raise JsonableError("The ordered list must not contain duplicated linkifiers")

    async def reorder(txn: Transaction) -> list[dict[str, Any]] | None:
        await lock_realm_linkifiers_txn(txn, realm.id)
        current = await realm_linkifiers_txn(txn, realm.id)
        if {row.id for row in current} != wanted:
            raise JsonableError("The ordered list must enumerate all existing linkifiers exactly once")
        if not current:
            return None
        await reorder_linkifiers_txn(txn, realm.id, ordered_linkifier_ids)
        return await _audit_txn(txn, realm.id, acting, "realm_linkifiers_reordered")

    linkifiers = await server.pool.run_interaction("reorder linkifiers", reorder)
    if linkifiers is not None:
        await _publish(server, realm, linkifiers)
