"""Bots' key-value storage, as zulip_bots' StateHandler uses it."""

from __future__ import annotations

from typing import TYPE_CHECKING

from zulipd.errors import JsonableError
from zulipd.models import UserProfile
from zulipd.storage.bot_storage import (
    bot_storage_size_txn,
    delete_bot_storage_txn,
    get_bot_storage_txn,
    set_bot_storage_txn,
)
from zulipd.storage.pool import Transaction

if TYPE_CHECKING:
    from zulipd.server import Server

# Zulip's limit on one bot's storage: keys plus values, in characters.
STORAGE_SIZE_LIMIT = 10_000_000
KEY_MAX_LENGTH = 1000


async def get_storage(server: Server, bot: UserProfile, keys: list[str] | None) -> dict[str, str]:
    storage = await server.pool.run_interaction("get bot storage", get_bot_storage_txn, bot.id, keys)
    if keys is not None:
        missing = [key for key in keys if key not in storage]
        if missing:
            raise JsonableError(f"Key does not exist: {missing[0]}" if len(missing) == 1 else "Keys do not exist.")
    return storage


async def set_storage(server: Server, bot: UserProfile, entries: dict[str, str]) -> None:
    for key in entries:
        if not key or len(key) > KEY_MAX_LENGTH:
            raise JsonableError(f"Invalid key: keys must have 1 to {KEY_MAX_LENGTH} characters")

    async def store(txn: Transaction) -> None:
        others = await bot_storage_size_txn(txn, bot.id, excluding=list(entries))
        added = sum(len(key) + len(value) for key, value in entries.items())
        if others + added > STORAGE_SIZE_LIMIT:
            raise JsonableError(f"Request exceeds storage limit by {others + added - STORAGE_SIZE_LIMIT} characters.")
        await set_bot_storage_txn(txn, bot.id, entries)

    await server.pool.run_interaction("set bot storage", store)


async def remove_storage(server: Server, bot: UserProfile, keys: list[str] | None) -> None:
    async def remove(txn: Transaction) -> None:
        missing = await delete_bot_storage_txn(txn, bot.id, keys)
        if missing:
            # Nothing is removed unless every key exists.
            raise JsonableError(f"Key does not exist: {missing[0]}")

    await server.pool.run_interaction("remove bot storage", remove)
