"""Emoji reactions, and emoji names.

An emoji is named in one of three namespaces (``reaction_type``): the
organization's custom emoji (``realm_emoji``, whose code is the emoji's id),
Zulip's own ``zulip`` emoji (``zulip_extra_emoji``), and Unicode emoji
(``unicode_emoji``, whose code is the code points in lower-case hex joined by
dashes, without variation selectors, as Zulip writes them). Unicode names come
from the ``emoji`` package: its CLDR names and its aliases (GitHub's and
Slack's short names, such as ``+1``, ``tada`` and ``smile``), lower-cased.
A name is looked up in that order, so a custom emoji can take over a name.
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING

from zulipd.actions.message_access import access_message_txn, audience_txn
from zulipd.actions.notify import publish
from zulipd.errors import JsonableError
from zulipd.models import MessageFlag, UserProfile
from zulipd.render.emoji import ZULIP_EXTRA_EMOJI_NAMES, unicode_emoji_codes, unicode_emoji_names
from zulipd.storage.messages import add_historical_rows_txn
from zulipd.storage.pool import Transaction
from zulipd.storage.reactions import (
    delete_reaction_txn,
    existing_reaction_name_txn,
    insert_reaction_txn,
    realm_emoji_by_id_txn,
    realm_emoji_by_name_txn,
)

if TYPE_CHECKING:
    from zulipd.server import Server

UNICODE_EMOJI = "unicode_emoji"
REALM_EMOJI = "realm_emoji"
ZULIP_EXTRA_EMOJI = "zulip_extra_emoji"
_INTEGER_MAX = 2**31 - 1
# The flags of a row created for a message read through shared history.
HISTORICAL_FLAGS = int(MessageFlag.READ | MessageFlag.HISTORICAL)


class ReactionAlreadyExists(JsonableError):
    code = "REACTION_ALREADY_EXISTS"

    def __init__(self) -> None:
        super().__init__("Reaction already exists.")


class ReactionDoesNotExist(JsonableError):
    code = "REACTION_DOES_NOT_EXIST"

    def __init__(self) -> None:
        super().__init__("Reaction doesn't exist.")


@dataclasses.dataclass(frozen=True)
class EmojiData:
    emoji_code: str
    reaction_type: str


async def emoji_data_txn(txn: Transaction, realm_id: int, emoji_name: str) -> EmojiData:
    """What a name means in this organization now; "Emoji 'x' does not exist" if nothing."""
    custom = await realm_emoji_by_name_txn(txn, realm_id, emoji_name)
    if custom is not None and not custom.deactivated:
        return EmojiData(str(custom.id), REALM_EMOJI)
    if emoji_name in ZULIP_EXTRA_EMOJI_NAMES:
        return EmojiData(emoji_name, ZULIP_EXTRA_EMOJI)
    code = unicode_emoji_names().get(emoji_name)
    if code is not None:
        return EmojiData(code, UNICODE_EMOJI)
    raise JsonableError(f"Emoji '{emoji_name}' does not exist")


def _is_emoji_id(code: str) -> bool:
    """Whether a code can name a custom emoji: ASCII digits within the range of its id."""
    return code.isascii() and code.isdigit() and int(code) <= _INTEGER_MAX


async def check_emoji_request_txn(
    txn: Transaction, realm_id: int, emoji_name: str, code: str, reaction_type: str
) -> None:
    """That a new reaction names a valid, active emoji whose name and code agree."""
    if reaction_type == REALM_EMOJI:
        custom = await realm_emoji_by_id_txn(txn, realm_id, int(code)) if _is_emoji_id(code) else None
        if custom is None:
            raise JsonableError("Invalid custom emoji.")
        if custom.name != emoji_name:
            raise JsonableError("Invalid custom emoji name.")
        if custom.deactivated:
            raise JsonableError("This custom emoji has been deactivated.")
    elif reaction_type == ZULIP_EXTRA_EMOJI:
        if code not in ZULIP_EXTRA_EMOJI_NAMES:
            raise JsonableError("Invalid emoji code.")
        if emoji_name != code:
            raise JsonableError("Invalid emoji name.")
    elif reaction_type == UNICODE_EMOJI:
        if code not in unicode_emoji_codes():
            raise JsonableError("Invalid emoji code.")
        if unicode_emoji_names().get(emoji_name) != code:
            raise JsonableError("Invalid emoji name.")
    else:
        raise JsonableError("Invalid emoji type.")


async def do_add_reaction(
    server: Server,
    user: UserProfile,
    message_id: int,
    emoji_name: str,
    emoji_code: str | None,
    reaction_type: str | None,
) -> None:
    async def add(txn: Transaction) -> tuple[str, str, str, list[int]]:
        accessed = await access_message_txn(txn, user, message_id, lock=True, modifying=True)
        code, kind = emoji_code, reaction_type
        if code is None or kind is None:
            data = await emoji_data_txn(txn, user.realm_id, emoji_name)
            code = data.emoji_code if code is None else code
            kind = data.reaction_type if kind is None else kind
        name = emoji_name
        # A reaction with the same emoji as an existing one is a vote for it, under its name,
        # even if that emoji would not be accepted as a new reaction any more.
        existing_name = await existing_reaction_name_txn(txn, message_id, code, kind)
        if existing_name is not None:
            name = existing_name
        else:
            await check_emoji_request_txn(txn, user.realm_id, name, code, kind)
        if accessed.flags is None:
            await add_historical_rows_txn(txn, user.id, [message_id], HISTORICAL_FLAGS)
        if not await insert_reaction_txn(txn, message_id, user.id, name, code, kind):
            raise ReactionAlreadyExists()
        return name, code, kind, await audience_txn(txn, accessed)

    name, code, kind, audience = await server.pool.run_interaction("add reaction", add)
    publish(server, reaction_event("add", user, message_id, name, code, kind), audience)


async def do_remove_reaction(
    server: Server,
    user: UserProfile,
    message_id: int,
    emoji_name: str | None,
    emoji_code: str | None,
    reaction_type: str | None,
) -> None:
    """Remove the user's reaction; the emoji need not be valid any more (a custom one may be deactivated)."""

    async def remove(txn: Transaction) -> tuple[str, str, str, list[int]]:
        accessed = await access_message_txn(txn, user, message_id, lock=True, modifying=True)
        code, kind = emoji_code, reaction_type
        if code is None:
            if emoji_name is None:
                raise JsonableError("At least one of the following arguments must be present: emoji_name, emoji_code")
            data = await emoji_data_txn(txn, user.realm_id, emoji_name)
            code = data.emoji_code
            kind = data.reaction_type if kind is None else kind
        removed_name = await delete_reaction_txn(txn, message_id, user.id, code, kind or UNICODE_EMOJI)
        if removed_name is None:
            raise ReactionDoesNotExist()
        return removed_name, code, kind or UNICODE_EMOJI, await audience_txn(txn, accessed)

    name, code, kind, audience = await server.pool.run_interaction("remove reaction", remove)
    publish(server, reaction_event("remove", user, message_id, name, code, kind), audience)


def reaction_event(op: str, user: UserProfile, message_id: int, name: str, code: str, kind: str) -> dict[str, object]:
    return {
        "type": "reaction",
        "op": op,
        "message_id": message_id,
        "emoji_name": name,
        "emoji_code": code,
        "reaction_type": kind,
        "user_id": user.id,
        "user": {"user_id": user.id, "email": user.email, "full_name": user.full_name},
    }
