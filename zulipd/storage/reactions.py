"""SQL for emoji reactions and the organization's custom emoji."""

from __future__ import annotations

import dataclasses

from zulipd.storage.pool import Transaction


@dataclasses.dataclass(frozen=True)
class RealmEmoji:
    id: int
    name: str
    deactivated: bool


@dataclasses.dataclass(frozen=True)
class RealmEmojiDetails:
    """A custom emoji as the register state shows it."""

    id: int
    name: str
    file_name: str
    author_id: int | None
    deactivated: bool


async def realm_emoji_txn(txn: Transaction, realm_id: int) -> list[RealmEmojiDetails]:
    """The organization's custom emoji, deactivated ones too, by id."""
    rows = await txn.fetch_all(
        "SELECT id, name, file_name, author_id, deactivated FROM realm_emoji WHERE realm_id = %s ORDER BY id",
        (realm_id,),
    )
    return [RealmEmojiDetails(*row) for row in rows]


async def realm_emoji_by_name_txn(txn: Transaction, realm_id: int, name: str) -> RealmEmoji | None:
    row = await txn.fetch_one(
        "SELECT id, name, deactivated FROM realm_emoji WHERE realm_id = %s AND name = %s", (realm_id, name)
    )
    return RealmEmoji(*row) if row else None


async def realm_emoji_by_id_txn(txn: Transaction, realm_id: int, emoji_id: int) -> RealmEmoji | None:
    row = await txn.fetch_one(
        "SELECT id, name, deactivated FROM realm_emoji WHERE realm_id = %s AND id = %s", (realm_id, emoji_id)
    )
    return RealmEmoji(*row) if row else None


async def existing_reaction_name_txn(
    txn: Transaction, message_id: int, emoji_code: str, reaction_type: str
) -> str | None:
    """The name under which someone already reacted to the message with this emoji, if anyone did."""
    row = await txn.fetch_one(
        "SELECT emoji_name FROM reaction WHERE message_id = %s AND emoji_code = %s AND reaction_type = %s LIMIT 1",
        (message_id, emoji_code, reaction_type),
    )
    return str(row[0]) if row else None


async def insert_reaction_txn(
    txn: Transaction, message_id: int, user_id: int, emoji_name: str, emoji_code: str, reaction_type: str
) -> bool:
    """Add a reaction; False if the user already has this one."""
    row = await txn.fetch_one(
        """INSERT INTO reaction (message_id, user_id, emoji_name, emoji_code, reaction_type)
           VALUES (%s, %s, %s, %s, %s) ON CONFLICT DO NOTHING RETURNING 1""",
        (message_id, user_id, emoji_name, emoji_code, reaction_type),
    )
    return row is not None


async def delete_reaction_txn(
    txn: Transaction, message_id: int, user_id: int, emoji_code: str, reaction_type: str
) -> str | None:
    """Remove a reaction; the emoji name it had, or None if the user had none such."""
    row = await txn.fetch_one(
        """DELETE FROM reaction WHERE message_id = %s AND user_id = %s AND emoji_code = %s AND reaction_type = %s
           RETURNING emoji_name""",
        (message_id, user_id, emoji_code, reaction_type),
    )
    return None if row is None else str(row[0])
