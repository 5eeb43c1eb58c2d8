"""SQL for users' alert words (Zulip's AlertWord).

Each row keeps a word as the user added it, and its lower-cased form, which is
unique per user. A user's words are listed in the order they were added.
"""

from __future__ import annotations

from collections.abc import Sequence

from zulipd.storage.pool import Transaction


async def user_alert_words_txn(txn: Transaction, user_id: int) -> list[str]:
    """The user's alert words, oldest first."""
    rows = await txn.fetch_all("SELECT word FROM alert_word WHERE user_id = %s ORDER BY id", (user_id,))
    return [word for (word,) in rows]


async def add_alert_words_txn(txn: Transaction, user_id: int, realm_id: int, words: Sequence[tuple[str, str]]) -> None:
    """Add ``(word, lower-cased word)`` pairs, in order; a pair whose lower-cased form the user has is skipped."""
    if not words:
        return
    await txn.execute(
        """INSERT INTO alert_word (user_id, realm_id, word, word_lower)
           SELECT %s, %s, word, word_lower
           FROM unnest(%s::text[], %s::text[]) WITH ORDINALITY AS added (word, word_lower, position)
           ORDER BY position
           ON CONFLICT (user_id, word_lower) DO NOTHING""",
        (user_id, realm_id, [word for word, _ in words], [lowered for _, lowered in words]),
    )


async def remove_alert_words_txn(txn: Transaction, user_id: int, lowered: Sequence[str]) -> None:
    """Remove the user's words whose lower-cased form is one of ``lowered``."""
    if not lowered:
        return
    await txn.execute(
        "DELETE FROM alert_word WHERE user_id = %s AND word_lower = ANY(%s::text[])", (user_id, list(lowered))
    )


async def realm_alert_words_txn(txn: Transaction, realm_id: int) -> dict[int, list[str]]:
    """Every alert word of the organization's users, by user id (deactivated users included)."""
    rows = await txn.fetch_all("SELECT user_id, word FROM alert_word WHERE realm_id = %s ORDER BY id", (realm_id,))
    words: dict[int, list[str]] = {}
    for user_id, word in rows:
        words.setdefault(user_id, []).append(word)
    return words
