"""SQL for users' statuses (Zulip's UserStatus): a text and an emoji per user."""

from __future__ import annotations

import dataclasses
from datetime import datetime

from zulipd.storage.pool import Transaction


@dataclasses.dataclass(frozen=True)
class StoredStatus:
    user_id: int
    status_text: str
    emoji_name: str
    emoji_code: str
    reaction_type: str
    # The user's presence_enabled setting as stored; None when it was never set (the default applies).
    presence_enabled: bool | None


_COLUMNS = (
    "s.user_id, s.status_text, s.emoji_name, s.emoji_code, s.reaction_type, (u.settings -> 'presence_enabled')::boolean"
)


async def update_user_status_txn(
    txn: Transaction,
    user_id: int,
    realm_id: int,
    now: datetime,
    *,
    status_text: str | None,
    emoji_name: str | None,
    emoji_code: str | None,
    reaction_type: str | None,
) -> None:
    """Write the given fields of the user's status (None keeps a field); the first write creates the row."""
    await txn.execute(
        """INSERT INTO user_status (user_id, realm_id, status_text, emoji_name, emoji_code, reaction_type, updated_at)
           VALUES (%(user_id)s, %(realm_id)s, coalesce(%(status_text)s, ''), coalesce(%(emoji_name)s, ''),
                   coalesce(%(emoji_code)s, ''), coalesce(%(reaction_type)s, 'unicode_emoji'), %(now)s)
           ON CONFLICT (user_id) DO UPDATE SET
               status_text = coalesce(%(status_text)s, user_status.status_text),
               emoji_name = coalesce(%(emoji_name)s, user_status.emoji_name),
               emoji_code = coalesce(%(emoji_code)s, user_status.emoji_code),
               reaction_type = coalesce(%(reaction_type)s, user_status.reaction_type),
               updated_at = excluded.updated_at""",
        {
            "user_id": user_id,
            "realm_id": realm_id,
            "status_text": status_text,
            "emoji_name": emoji_name,
            "emoji_code": emoji_code,
            "reaction_type": reaction_type,
            "now": now,
        },
    )


async def get_user_status_txn(txn: Transaction, user_id: int) -> StoredStatus | None:
    """The user's status row; None if they never set one."""
    row = await txn.fetch_one(
        f"SELECT {_COLUMNS} FROM user_status s JOIN user_profile u ON u.id = s.user_id WHERE s.user_id = %s",
        (user_id,),
    )
    return StoredStatus(*row) if row else None


async def realm_user_statuses_txn(txn: Transaction, realm_id: int) -> list[StoredStatus]:
    """The status rows of the organization's active users, by user id."""
    rows = await txn.fetch_all(
        f"""SELECT {_COLUMNS} FROM user_status s JOIN user_profile u ON u.id = s.user_id
            WHERE s.realm_id = %s AND u.is_active ORDER BY s.user_id""",
        (realm_id,),
    )
    return [StoredStatus(*row) for row in rows]
