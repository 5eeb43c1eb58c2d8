"""user_group events: what a change to groups tells the organization, once the change has committed.

As in Zulip, every user_group event goes to all active users of the
organization, guests and bots included: each of them gets the
realm_user_groups state at register, and every group is in it.

Deactivating a group is told as an ``update`` with ``{"deactivated": true}``
to queues that declared the ``include_deactivated_groups`` capability, and as
a ``remove`` to the others, whose state leaves deactivated groups out; those
are not told when a deactivated group is renamed either (other changes to a
deactivated group reach everyone, as in Zulip).

A change gathers its events in a ``GroupEvents`` inside its transaction, which
also reads the audience; ``publish`` sends them, in order, after the commit.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from zulipd.actions.notify import publish
from zulipd.models import UserGroup
from zulipd.storage.pool import Transaction
from zulipd.storage.users import list_users_txn

if TYPE_CHECKING:
    from zulipd.server import Server

INCLUDE_DEACTIVATED_GROUPS = "include_deactivated_groups"

Capability = tuple[str, bool] | None


class GroupEvents:
    """The user_group events of one change, in the order they happened."""

    def __init__(self, realm_id: int) -> None:
        self.realm_id = realm_id
        self._events: list[tuple[dict[str, Any], Capability]] = []
        self._audience: list[int] | None = None

    def __bool__(self) -> bool:
        return bool(self._events)

    @property
    def bodies(self) -> list[dict[str, Any]]:
        return [body for body, _ in self._events]

    def _add(self, body: dict[str, Any], capability: Capability = None) -> None:
        self._events.append(({"type": "user_group", **body}, capability))

    def created(self, group: Mapping[str, Any]) -> None:
        """``group`` is the new group's UserGroup object, with the members and subgroups it was created with."""
        self._add({"op": "add", "group": dict(group)})

    def updated(self, group: UserGroup, data: Mapping[str, Any]) -> None:
        """Changed properties of a group: name, description, or permission settings (as API values)."""
        if not data:
            return
        hidden_from_clients_without_deactivated = group.deactivated and "name" in data
        capability = (INCLUDE_DEACTIVATED_GROUPS, True) if hidden_from_clients_without_deactivated else None
        self._add({"op": "update", "group_id": group.id, "data": dict(data)}, capability)

    def members_added(self, group_id: int, user_ids: Sequence[int]) -> None:
        if user_ids:
            self._add({"op": "add_members", "group_id": group_id, "user_ids": list(user_ids)})

    def members_removed(self, group_id: int, user_ids: Sequence[int]) -> None:
        if user_ids:
            self._add({"op": "remove_members", "group_id": group_id, "user_ids": list(user_ids)})

    def subgroups_added(self, group_id: int, subgroup_ids: Sequence[int]) -> None:
        if subgroup_ids:
            self._add({"op": "add_subgroups", "group_id": group_id, "direct_subgroup_ids": list(subgroup_ids)})

    def subgroups_removed(self, group_id: int, subgroup_ids: Sequence[int]) -> None:
        if subgroup_ids:
            self._add({"op": "remove_subgroups", "group_id": group_id, "direct_subgroup_ids": list(subgroup_ids)})

    def deactivated(self, group_id: int) -> None:
        self._add(
            {"op": "update", "group_id": group_id, "data": {"deactivated": True}}, (INCLUDE_DEACTIVATED_GROUPS, True)
        )
        self._add({"op": "remove", "group_id": group_id}, (INCLUDE_DEACTIVATED_GROUPS, False))

    async def load_audience_txn(self, txn: Transaction) -> None:
        """Read who hears of the change: the organization's active users, as the change commits them."""
        if self._events:
            self._audience = [user.id for user in await list_users_txn(txn, self.realm_id) if user.is_active]

    def publish(self, server: Server) -> None:
        if not self._events:
            return
        assert self._audience is not None, "load_audience_txn was not called in the change's transaction"
        for body, capability in self._events:
            publish(server, body, self._audience, capability=capability)
