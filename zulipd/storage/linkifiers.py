"""SQL for organizations' linkifiers (Zulip's RealmFilter): a pattern, a URL template and an order each."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

from zulipd.storage.pool import Transaction


@dataclasses.dataclass(frozen=True)
class StoredLinkifier:
    id: int
    pattern: str
    url_template: str
    order: int


# The first key of the transaction-level advisory lock that serializes linkifier changes in one organization.
LINKIFIER_CHANGES_LOCK = 0x6C6E_6B66  # "lnkf"

_COLUMNS = 'id, pattern, url_template, "order"'


async def lock_realm_linkifiers_txn(txn: Transaction, realm_id: int) -> None:
    """Serialize changes to one organization's linkifiers until this transaction ends.

    Checks of a pattern's uniqueness and the order a new linkifier gets then see
    every change committed before, and no two changes interleave.
    """
    await txn.execute("SELECT pg_advisory_xact_lock(%s, %s)", (LINKIFIER_CHANGES_LOCK, realm_id))


async def realm_linkifiers_txn(txn: Transaction, realm_id: int) -> list[StoredLinkifier]:
    """The organization's linkifiers in the order they apply: by order, then by id."""
    rows = await txn.fetch_all(
        f'SELECT {_COLUMNS} FROM realm_linkifier WHERE realm_id = %s ORDER BY "order", id', (realm_id,)
    )
    return [StoredLinkifier(*row) for row in rows]


async def get_linkifier_txn(txn: Transaction, realm_id: int, linkifier_id: int) -> StoredLinkifier | None:
    row = await txn.fetch_one(
        f"SELECT {_COLUMNS} FROM realm_linkifier WHERE realm_id = %s AND id = %s", (realm_id, linkifier_id)
    )
    return StoredLinkifier(*row) if row else None


async def pattern_taken_txn(txn: Transaction, realm_id: int, pattern: str, except_id: int | None = None) -> bool:
    """Whether another linkifier of the organization (not ``except_id``) has exactly this pattern."""
    row = await txn.fetch_one(
        "SELECT 1 FROM realm_linkifier WHERE realm_id = %s AND pattern = %s AND id IS DISTINCT FROM %s",
        (realm_id, pattern, except_id),
    )
    return row is not None


async def add_linkifier_txn(txn: Transaction, realm_id: int, pattern: str, url_template: str) -> int:
    """A new linkifier, ordered after the organization's others; its id."""
    row = await txn.fetch_one(
        """INSERT INTO realm_linkifier (realm_id, pattern, url_template, "order")
           SELECT %(realm_id)s, %(pattern)s, %(url_template)s, coalesce(max("order") + 1, 0)
           FROM realm_linkifier WHERE realm_id = %(realm_id)s
           RETURNING id""",
        {"realm_id": realm_id, "pattern": pattern, "url_template": url_template},
    )
    assert row is not None
    return int(row[0])


async def update_linkifier_txn(
    txn: Transaction, realm_id: int, linkifier_id: int, pattern: str, url_template: str
) -> bool:
    """Change a linkifier's pattern and template (its place stays); False if it does not exist."""
    row = await txn.fetch_one(
        "UPDATE realm_linkifier SET pattern = %s, url_template = %s WHERE realm_id = %s AND id = %s RETURNING id",
        (pattern, url_template, realm_id, linkifier_id),
    )
    return row is not None


async def remove_linkifier_txn(txn: Transaction, realm_id: int, linkifier_id: int) -> StoredLinkifier | None:
    """Delete a linkifier; what it was, or None if it did not exist."""
    row = await txn.fetch_one(
        f"DELETE FROM realm_linkifier WHERE realm_id = %s AND id = %s RETURNING {_COLUMNS}", (realm_id, linkifier_id)
    )
    return StoredLinkifier(*row) if row else None


async def reorder_linkifiers_txn(txn: Transaction, realm_id: int, ordered_ids: Sequence[int]) -> None:
    """Number the given linkifiers 0, 1, 2... in the order given."""
    await txn.execute(
        """UPDATE realm_linkifier l SET "order" = o.position - 1
           FROM unnest(%s::integer[]) WITH ORDINALITY AS o (id, position)
           WHERE l.realm_id = %s AND l.id = o.id""",
        (list(ordered_ids), realm_id),
    )
