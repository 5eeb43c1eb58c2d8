"""Organizations: which one a request is for, and creating and changing them."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from zulipd.actions.groups import REALM_GROUP_SETTINGS, GroupGraph, publish_full_members_changes
from zulipd.actions.realm_events import publish_realm_changes, publish_realm_deactivated
from zulipd.actions.realm_permissions import bot_creation_group_values, realm_group_setting_changes_txn
from zulipd.errors import JsonableError
from zulipd.models import Realm
from zulipd.realm_settings import REALM_SETTINGS
from zulipd.storage.audit import insert_audit_log_txn
from zulipd.storage.groups import insert_system_groups_txn
from zulipd.storage.notifications import notify_txn
from zulipd.storage.pool import Transaction
from zulipd.storage.realms import (
    get_realm_by_string_id_txn,
    insert_realm_txn,
    list_realms_txn,
    update_realm_txn,
)
from zulipd.storage.sessions import delete_realm_sessions_txn

if TYPE_CHECKING:
    from zulipd.app.site import ZulipdRequest
    from zulipd.server import Server

# Host headers that name a realm are few; a bound keeps odd spellings from growing the cache.
_MAX_HOSTS = 1000
_SUBDOMAIN = re.compile(r"^[a-z0-9]([a-z0-9-]{0,38}[a-z0-9])?$")


def _hostname(host: str) -> str:
    host = host.strip().lower()
    if host.startswith("["):  # [IPv6]:port
        return host.split("]", 1)[0] + "]"
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host


class RealmDirectory:
    """Maps a request's Host to its realm, and caches realms by subdomain.

    ``[server] external_host`` itself serves ``[server] root_realm``; each
    realm is also served at ``<string_id>.<external_host>``.
    """

    def __init__(self, server: Server) -> None:
        self._server = server
        self._external_host = server.config.server.external_host
        self._external_hostname = _hostname(self._external_host)
        self._root_realm = server.config.server.root_realm
        self._by_string_id: dict[str, Realm] = {}
        # The same, by the exact Host header, so that a request needs one lookup.
        self._by_host: dict[str, Realm] = {}
        # Depends on the subdomain only, which never changes.
        self._email_domains: dict[str, str] = {}
        # Bumped by forget(): a lookup that raced an invalidation must not be cached.
        self._generation = 0

    def string_id_for_host(self, host: str) -> str | None:
        hostname = _hostname(host)
        if hostname == self._external_hostname:
            return self._root_realm
        suffix = "." + self._external_hostname
        if hostname.endswith(suffix):
            subdomain = hostname[: -len(suffix)]
            if _SUBDOMAIN.match(subdomain):
                return subdomain
        return None

    def host_for(self, realm: Realm) -> str:
        if realm.string_id == self._root_realm:
            return self._external_host
        return f"{realm.string_id}.{self._external_host}"

    def email_domain(self, realm: Realm) -> str:
        """The domain of generated addresses (bots, hidden real addresses): the host without its port."""
        domain = self._email_domains.get(realm.string_id)
        if domain is None:
            domain = self._email_domains[realm.string_id] = _hostname(self.host_for(realm))
        return domain

    def url_for(self, realm: Realm, secure: bool) -> str:
        return f"{'https' if secure else 'http'}://{self.host_for(realm)}"

    async def for_host(self, request: ZulipdRequest) -> Realm | None:
        host = request.header("host")
        if not host:
            return None
        realm = self._by_host.get(host)
        if realm is not None:
            return realm
        string_id = self.string_id_for_host(host)
        generation = self._generation
        realm = await self.by_string_id(string_id) if string_id is not None else None
        if realm is not None and generation == self._generation and len(self._by_host) < _MAX_HOSTS:
            self._by_host[host] = realm
        return realm

    async def by_string_id(self, string_id: str) -> Realm | None:
        realm = self._by_string_id.get(string_id)
        if realm is None:
            generation = self._generation
            realm = await self._server.pool.run_interaction("get realm", get_realm_by_string_id_txn, string_id)
            if realm is not None and generation == self._generation:
                self._by_string_id[string_id] = realm
        return realm

    def remember(self, realm: Realm) -> None:
        self._by_string_id[realm.string_id] = realm

    def forget(self, realm_id: int | None = None) -> None:
        """Drop one realm (or all) from the cache."""
        self._generation += 1
        if realm_id is None:
            self._by_string_id.clear()
            self._by_host.clear()
            return
        for string_id, realm in list(self._by_string_id.items()):
            if realm.id == realm_id:
                del self._by_string_id[string_id]
        for host, realm in list(self._by_host.items()):
            if realm.id == realm_id:
                del self._by_host[host]


def check_string_id(string_id: str) -> str:
    string_id = string_id.strip().lower()
    if not _SUBDOMAIN.match(string_id):
        raise JsonableError("Subdomains can only have lowercase letters, numbers, and '-'s, and at most 40 characters")
    return string_id


async def do_create_realm(server: Server, string_id: str, name: str, description: str = "") -> Realm:
    string_id = check_string_id(string_id)
    if not name.strip():
        raise JsonableError("The organization name cannot be empty")

    async def create(txn: Transaction) -> Realm:
        if await get_realm_by_string_id_txn(txn, string_id) is not None:
            raise JsonableError(f"An organization with the subdomain {string_id!r} already exists")
        realm = await insert_realm_txn(txn, string_id, name.strip(), description)
        await insert_system_groups_txn(txn, realm.id)
        await insert_audit_log_txn(
            txn, realm_id=realm.id, event_type="realm_created", acting_user_id=None, modified_user_id=None
        )
        return realm

    return await server.pool.run_interaction("create realm", create)


async def list_realms(server: Server) -> list[Realm]:
    return await server.pool.run_interaction("list realms", list_realms_txn)


async def do_update_realm(
    server: Server, realm: Realm, acting_user_id: int | None, changes: dict[str, Any]
) -> dict[str, Any]:
    """Apply ``changes`` (name, description, settings in REALM_SETTINGS, or a SettingChange of a group
    setting in REALM_GROUP_SETTINGS); return what changed, and tell the organization after the commit."""
    name = changes.pop("name", None)
    description = changes.pop("description", None)
    group_changes = {key: changes.pop(key) for key in list(changes) if key in REALM_GROUP_SETTINGS}
    unknown = set(changes) - set(REALM_SETTINGS)
    assert not unknown, unknown
    if name is not None and not name.strip():
        raise JsonableError("Organization name can't be empty.")

    before: list[Realm] = []

    async def update(txn: Transaction) -> tuple[Realm, dict[str, Any]]:
        current = await get_realm_by_string_id_txn(txn, realm.string_id)
        assert current is not None
        before.append(current)
        changed: dict[str, Any] = {}
        if name is not None and name.strip() != current.name:
            changed["name"] = name.strip()
        if description is not None and description != current.description:
            changed["description"] = description
        new_settings = {key: value for key, value in changes.items() if setting_value(current, key) != value}
        now = datetime.fromtimestamp(server.clock.seconds(), UTC)
        groups = await realm_group_setting_changes_txn(txn, current, group_changes, now) if group_changes else {}
        new_settings.update({key: new for key, (_, new) in groups.items()})
        changed.update(new_settings)
        if not changed:
            return current, {}
        updated = await update_realm_txn(
            txn, realm.id, name=changed.get("name"), description=changed.get("description"), settings=new_settings
        )
        for key, value in changed.items():
            old: Any = current.name if key == "name" else current.description if key == "description" else None
            if key in groups:
                old = groups[key][0]
            await insert_audit_log_txn(
                txn,
                realm_id=realm.id,
                event_type="realm_property_changed",
                acting_user_id=acting_user_id,
                modified_user_id=None,
                extra_data={"property": key, "old_value": old if old is not None else setting_value(current, key),
                            "new_value": value},
            )  # fmt: skip
        await notify_txn(txn, f"realm:{realm.id}")
        return updated, changed

    updated, changed = await server.pool.run_interaction("update realm", update)
    server.realms.forget(realm.id)
    server.realms.remember(updated)
    if "waiting_period_threshold" in changed:
        await publish_full_members_changes(server, before[0], updated)
    bot_groups = None
    if "bot_creation_policy" in changed:
        now = datetime.fromtimestamp(server.clock.seconds(), UTC)
        graph = await server.pool.run_reads("realm groups", GroupGraph.load, updated, now)
        bot_groups = bot_creation_group_values(graph, changed["bot_creation_policy"])
    await publish_realm_changes(server, updated, changed, bot_groups)
    return changed


def setting_value(realm: Realm, name: str) -> Any:
    return realm.settings.get(name, REALM_SETTINGS[name][1])


async def do_set_realm_deactivated(server: Server, realm: Realm, deactivated: bool, acting_user_id: int | None) -> None:
    async def update(txn: Transaction) -> None:
        await update_realm_txn(txn, realm.id, deactivated=deactivated)
        if deactivated:
            await delete_realm_sessions_txn(txn, realm.id)
        await insert_audit_log_txn(
            txn,
            realm_id=realm.id,
            event_type="realm_deactivated" if deactivated else "realm_reactivated",
            acting_user_id=acting_user_id,
            modified_user_id=None,
        )
        await notify_txn(txn, f"realm:{realm.id}")

    await server.pool.run_interaction("deactivate realm", update)
    if deactivated:
        await publish_realm_deactivated(server, realm)
