"""SQL for users and bots."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from zulipd.models import BotService, BotType, Role, UserProfile
from zulipd.storage.pool import Transaction

USER_COLUMNS = (
    "id, realm_id, email, delivery_email, full_name, role, is_active, is_bot, bot_type, bot_owner_id, "
    "api_key, date_joined, timezone, avatar_version, settings"
)


def user_from_row(row: Sequence[Any]) -> UserProfile:
    return UserProfile(
        id=row[0],
        realm_id=row[1],
        email=row[2],
        delivery_email=row[3],
        full_name=row[4],
        role=Role(row[5]),
        is_active=row[6],
        is_bot=row[7],
        bot_type=BotType(row[8]) if row[8] is not None else None,
        bot_owner_id=row[9],
        api_key=row[10],
        date_joined=row[11],
        timezone=row[12],
        avatar_version=row[13],
        settings=row[14],
    )


async def get_user_by_id_txn(txn: Transaction, realm_id: int, user_id: int) -> UserProfile | None:
    row = await txn.fetch_one(
        f"SELECT {USER_COLUMNS} FROM user_profile WHERE realm_id = %s AND id = %s", (realm_id, user_id)
    )
    return user_from_row(row) if row else None


async def get_user_by_email_txn(txn: Transaction, realm_id: int, email: str) -> UserProfile | None:
    """Look up by API email or real email, case-insensitively, as Zulip does."""
    row = await txn.fetch_one(
        f"""SELECT {USER_COLUMNS} FROM user_profile
            WHERE realm_id = %s AND (lower(email) = lower(%s) OR lower(delivery_email) = lower(%s))
            ORDER BY (lower(delivery_email) = lower(%s)) DESC LIMIT 1""",
        (realm_id, email, email, email),
    )
    return user_from_row(row) if row else None


async def get_user_by_api_key_txn(txn: Transaction, api_key: str) -> UserProfile | None:
    row = await txn.fetch_one(f"SELECT {USER_COLUMNS} FROM user_profile WHERE api_key = %s", (api_key,))
    return user_from_row(row) if row else None


async def get_password_hash_txn(txn: Transaction, user_id: int) -> str | None:
    row = await txn.fetch_one("SELECT password_hash FROM user_profile WHERE id = %s", (user_id,))
    return row[0] if row else None


async def list_users_txn(txn: Transaction, realm_id: int) -> list[UserProfile]:
    rows = await txn.fetch_all(f"SELECT {USER_COLUMNS} FROM user_profile WHERE realm_id = %s ORDER BY id", (realm_id,))
    return [user_from_row(row) for row in rows]


async def list_bots_owned_by_txn(txn: Transaction, owner_id: int) -> list[UserProfile]:
    rows = await txn.fetch_all(
        f"SELECT {USER_COLUMNS} FROM user_profile WHERE bot_owner_id = %s ORDER BY id", (owner_id,)
    )
    return [user_from_row(row) for row in rows]


async def count_active_owners_txn(txn: Transaction, realm_id: int) -> int:
    row = await txn.fetch_one(
        "SELECT count(*) FROM user_profile WHERE realm_id = %s AND role = 100 AND is_active AND NOT is_bot",
        (realm_id,),
    )
    return int(row[0]) if row else 0


async def insert_user_txn(
    txn: Transaction,
    *,
    realm_id: int,
    email: str,
    delivery_email: str,
    full_name: str,
    role: Role,
    api_key: str,
    password_hash: str | None,
    timezone: str = "",
    bot_type: BotType | None = None,
    bot_owner_id: int | None = None,
) -> UserProfile:
    row = await txn.fetch_one(
        f"""INSERT INTO user_profile (realm_id, email, delivery_email, full_name, role, api_key, password_hash,
                                      timezone, is_bot, bot_type, bot_owner_id)
            VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)
            RETURNING {USER_COLUMNS}""",
        (
            realm_id,
            email,
            delivery_email,
            full_name,
            int(role),
            api_key,
            password_hash,
            timezone,
            bot_type is not None,
            int(bot_type) if bot_type is not None else None,
            bot_owner_id,
        ),
    )
    assert row is not None
    return user_from_row(row)


_UPDATABLE = {"full_name", "role", "is_active", "api_key", "password_hash", "email", "delivery_email", "timezone",
              "bot_owner_id", "avatar_version"}  # fmt: skip


async def update_user_txn(txn: Transaction, user_id: int, **changes: Any) -> UserProfile:
    unknown = set(changes) - _UPDATABLE
    assert not unknown, f"not updatable: {unknown}"
    assignments = ", ".join(f"{column} = %s" for column in changes)
    values = [int(value) if isinstance(value, Role) else value for value in changes.values()]
    row = await txn.fetch_one(
        f"UPDATE user_profile SET {assignments} WHERE id = %s RETURNING {USER_COLUMNS}", (*values, user_id)
    )
    assert row is not None
    return user_from_row(row)


async def merge_user_settings_txn(txn: Transaction, user_id: int, settings: dict[str, Any]) -> UserProfile:
    row = await txn.fetch_one(
        f"UPDATE user_profile SET settings = settings || %s::jsonb WHERE id = %s RETURNING {USER_COLUMNS}",
        (json.dumps(settings), user_id),
    )
    assert row is not None
    return user_from_row(row)


async def lock_user_txn(txn: Transaction, user_id: int) -> UserProfile | None:
    """Read a user and hold its row until the transaction ends, so concurrent changes queue up."""
    row = await txn.fetch_one(f"SELECT {USER_COLUMNS} FROM user_profile WHERE id = %s FOR UPDATE", (user_id,))
    return user_from_row(row) if row else None


async def insert_bot_service_txn(txn: Transaction, service: BotService) -> None:
    await txn.execute(
        """INSERT INTO bot_service (bot_id, base_url, token, interface, service_name, config)
           VALUES (%s, %s, %s, %s, %s, %s::jsonb)""",
        (
            service.bot_id,
            service.base_url,
            service.token,
            service.interface,
            service.service_name,
            json.dumps(service.config),
        ),
    )


async def get_bot_services_txn(txn: Transaction, bot_ids: Sequence[int]) -> dict[int, BotService]:
    if not bot_ids:
        return {}
    rows = await txn.fetch_all(
        "SELECT bot_id, base_url, token, interface, service_name, config FROM bot_service WHERE bot_id = ANY(%s)",
        (list(bot_ids),),
    )
    return {row[0]: BotService(*row) for row in rows}


async def update_bot_service_txn(txn: Transaction, /, bot_id: int, **changes: Any) -> None:
    if not changes:
        return
    if "config" in changes:
        changes = {**changes, "config": json.dumps(changes["config"])}
    assignments = ", ".join(f"{column} = %s::jsonb" if column == "config" else f"{column} = %s" for column in changes)
    await txn.execute(f"UPDATE bot_service SET {assignments} WHERE bot_id = %s", (*changes.values(), bot_id))


async def get_users_by_ids_txn(txn: Transaction, user_ids: Sequence[int]) -> dict[int, UserProfile]:
    rows = await txn.fetch_all(f"SELECT {USER_COLUMNS} FROM user_profile WHERE id = ANY(%s)", (list(user_ids),))
    return {row[0]: user_from_row(row) for row in rows}
