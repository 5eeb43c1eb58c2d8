"""SQL for what a message may refer to: users, groups, channels, topics and custom emoji, by the set.

Each function takes every name of one kind at once and answers with one
statement, however many names a message holds.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from zulipd.models import Stream, Subscription
from zulipd.storage.pool import Transaction
from zulipd.storage.reactions import RealmEmojiDetails
from zulipd.storage.streams import (
    MAX_ID,
    STREAM_COLUMNS,
    STREAM_FROM,
    SUBSCRIPTION_COLUMNS,
    is_storable_text,
    stream_from_row,
    subscription_from_row,
)

_ASCII_UPPER = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
_ASCII_LOWER = "abcdefghijklmnopqrstuvwxyz"
# PostgreSQL's lower() follows the database's locale (under the C locale it lowers ASCII
# only), so names are narrowed down with a rule that holds in every locale: ASCII letters
# lowered by translate(), anything else matched by position alone. The caller compares the
# candidates exactly, with Python's str.lower().
_ASCII_LOWERED_NAME = f"translate(full_name, '{_ASCII_UPPER}', '{_ASCII_LOWER}')"


def _like_literal(character: str) -> str:
    return "\\" + character if character in "\\%_" else character


def lowered_name_pattern(lowered: str) -> str:
    """A LIKE pattern for the ASCII-lowered full names whose str.lower() may be ``lowered``.

    In Python's lowering every character becomes one character, except U+0130 (İ), which
    becomes "i" and U+0307; and one non-ASCII character, U+212A (the Kelvin sign), becomes
    an ASCII "k". Other ASCII characters come from themselves or their capitals only.
    """
    pattern: list[str] = []
    position = 0
    while position < len(lowered):
        character = lowered[position]
        if lowered.startswith("i\u0307", position):
            pattern.append("%")  # İ, or "i"/"I" followed by a combining dot
            position += 2
            continue
        if character == "k" or not character.isascii():
            pattern.append("_")
        else:
            pattern.append(_like_literal(character))
        position += 1
    return "".join(pattern)


async def active_users_by_name_or_id_txn(
    txn: Transaction, realm_id: int, lowered_names: Iterable[str], user_ids: Iterable[int]
) -> list[tuple[int, str]]:
    """(id, full name) of the organization's active users with one of ``user_ids``, and of
    those that may have one of ``lowered_names`` (a superset: compare them with str.lower())."""
    patterns = sorted({lowered_name_pattern(name) for name in lowered_names if is_storable_text(name)})
    ids = sorted({user_id for user_id in user_ids if 0 < user_id <= MAX_ID})
    if not patterns and not ids:
        return []
    rows = await txn.fetch_all(
        f"""SELECT id, full_name FROM user_profile
            WHERE realm_id = %s AND is_active
              AND (id = ANY(%s::integer[]) OR {_ASCII_LOWERED_NAME} LIKE ANY(%s::text[]))
            ORDER BY id""",
        (realm_id, ids, patterns),
    )
    return [(int(row[0]), str(row[1])) for row in rows]


async def active_groups_by_name_txn(txn: Transaction, realm_id: int, names: Iterable[str]) -> list[tuple[int, str]]:
    """(id, name) of the organization's groups, system groups included, named exactly so and not deactivated."""
    wanted = sorted({name for name in names if is_storable_text(name)})
    if not wanted:
        return []
    rows = await txn.fetch_all(
        "SELECT id, name FROM user_group WHERE realm_id = %s AND name = ANY(%s::text[]) AND NOT deactivated",
        (realm_id, wanted),
    )
    return [(int(row[0]), str(row[1])) for row in rows]


async def streams_by_name_with_subscription_txn(
    txn: Transaction, realm_id: int, user_id: int, names: Iterable[str]
) -> list[tuple[Stream, Subscription | None]]:
    """The organization's channels named exactly so, archived ones too, each with the user's subscription."""
    wanted = sorted({name for name in names if is_storable_text(name)})
    if not wanted:
        return []
    rows = await txn.fetch_all(
        f"""SELECT {STREAM_COLUMNS}, {SUBSCRIPTION_COLUMNS} FROM {STREAM_FROM}
            LEFT JOIN subscription sub ON sub.recipient_id = r.id AND sub.user_id = %s
            WHERE s.realm_id = %s AND s.name = ANY(%s::text[])""",
        (user_id, realm_id, wanted),
    )
    split = STREAM_COLUMNS.count(",") + 1
    return [
        (stream_from_row(row[:split]), subscription_from_row(row[split:]) if row[split] is not None else None)
        for row in rows
    ]


async def first_topic_message_ids_txn(
    txn: Transaction, user_id: int, topics: Sequence[tuple[int, str, bool]]
) -> list[int | None]:
    """For each (channel recipient, topic, whole history readable): the topic's oldest message the
    user may read, or None. Topics compare as zulipd compares them everywhere, by lower()."""
    if not topics:
        return []
    rows = await txn.fetch_all(
        """SELECT t.position, (
                SELECT min(m.id) FROM message m
                WHERE m.recipient_id = t.recipient_id AND lower(m.subject) = lower(t.topic)
                  AND (t.whole_history OR EXISTS (
                      SELECT 1 FROM user_message um WHERE um.user_id = %s AND um.message_id = m.id))
            )
            FROM unnest(%s::integer[], %s::text[], %s::boolean[]) WITH ORDINALITY
                AS t(recipient_id, topic, whole_history, position)""",
        (
            user_id,
            [recipient_id for recipient_id, _, _ in topics],
            [topic for _, topic, _ in topics],
            [whole_history for _, _, whole_history in topics],
        ),
    )
    found = {int(row[0]): (int(row[1]) if row[1] is not None else None) for row in rows}
    return [found.get(position) for position in range(1, len(topics) + 1)]


async def active_realm_emoji_by_name_txn(
    txn: Transaction, realm_id: int, names: Iterable[str]
) -> list[RealmEmojiDetails]:
    """The organization's custom emoji named so that are not deactivated."""
    wanted = sorted({name for name in names if is_storable_text(name)})
    if not wanted:
        return []
    rows = await txn.fetch_all(
        """SELECT id, name, file_name, author_id, deactivated FROM realm_emoji
           WHERE realm_id = %s AND name = ANY(%s::text[]) AND NOT deactivated""",
        (realm_id, wanted),
    )
    return [RealmEmojiDetails(*row) for row in rows]
