"""SQL that changes messages after they were sent: edits, moves, deletion, and per-user flag rows.

Every function runs inside the caller's transaction; the actions decide what
may change, this module only says how.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from zulipd.models import Message
from zulipd.storage.messages import MESSAGE_COLUMNS, message_from_row
from zulipd.storage.pool import Transaction


async def lock_message_txn(txn: Transaction, message_id: int) -> Message | None:
    """The message, locked until the transaction ends, so that concurrent changes to it queue up."""
    row = await txn.fetch_one(f"SELECT {MESSAGE_COLUMNS} FROM message m WHERE m.id = %s FOR UPDATE", (message_id,))
    return message_from_row(row) if row else None


async def message_recipients_txn(
    txn: Transaction, realm_id: int, message_ids: Sequence[int]
) -> dict[int, tuple[int, bool]]:
    """message id -> (recipient id, is a channel message), for the organization's messages among ``message_ids``."""
    rows = await txn.fetch_all(
        "SELECT id, recipient_id, is_channel_message FROM message WHERE realm_id = %s AND id = ANY(%s)",
        (realm_id, list(message_ids)),
    )
    return {row[0]: (row[1], row[2]) for row in rows}


async def topic_message_ids_txn(
    txn: Transaction,
    recipient_id: int,
    topic: str,
    *,
    after_id: int | None = None,
    with_rows_of: int | None = None,
) -> list[int]:
    """Ids in one topic (case-insensitive), ascending.

    ``after_id``: only later messages. ``with_rows_of``: only messages that user has a row for.
    """
    conditions = ["m.recipient_id = %s", "lower(m.subject) = lower(%s)"]
    parameters: list[Any] = [recipient_id, topic]
    if after_id is not None:
        conditions.append("m.id > %s")
        parameters.append(after_id)
    if with_rows_of is not None:
        conditions.append("EXISTS (SELECT 1 FROM user_message um WHERE um.message_id = m.id AND um.user_id = %s)")
        parameters.append(with_rows_of)
    rows = await txn.fetch_all(f"SELECT m.id FROM message m WHERE {' AND '.join(conditions)} ORDER BY m.id", parameters)
    return [row[0] for row in rows]


async def message_dates_txn(txn: Transaction, message_ids: Sequence[int]) -> list[tuple[int, datetime]]:
    """(id, date_sent), ascending by id."""
    rows = await txn.fetch_all("SELECT id, date_sent FROM message WHERE id = ANY(%s) ORDER BY id", (list(message_ids),))
    return [(row[0], row[1]) for row in rows]


async def update_content_txn(
    txn: Transaction,
    message_id: int,
    *,
    content: str,
    rendered_content: str,
    is_me_message: bool,
    has_link: bool,
    has_image: bool,
    has_attachment: bool,
    edit_time: datetime,
) -> None:
    await txn.execute(
        """UPDATE message SET content = %s, rendered_content = %s, is_me_message = %s, has_link = %s,
                              has_image = %s, has_attachment = %s, last_edit_time = %s
           WHERE id = %s""",
        (content, rendered_content, is_me_message, has_link, has_image, has_attachment, edit_time, message_id),
    )


async def set_mention_flags_txn(
    txn: Transaction, message_id: int, mention_flag: int, wildcard_flag: int, mentioned_user_ids: Sequence[int],
    wildcard: bool,
) -> None:  # fmt: skip
    """Recompute the mention flags of every row of a message after its content changed."""
    await txn.execute(
        """UPDATE user_message
           SET flags = (flags & ~(%s::bigint | %s::bigint))
                       | CASE WHEN user_id = ANY(%s) THEN %s::bigint ELSE 0 END
                       | CASE WHEN %s THEN %s::bigint ELSE 0 END
           WHERE message_id = %s""",
        (mention_flag, wildcard_flag, list(mentioned_user_ids), mention_flag, wildcard, wildcard_flag, message_id),
    )


async def set_flag_of_users_txn(txn: Transaction, message_id: int, flag: int, user_ids: Sequence[int]) -> None:
    """Give ``flag`` to exactly these users' rows of a message, taking it from the others' (rows that
    already agree are left alone)."""
    await txn.execute(
        """UPDATE user_message
           SET flags = CASE WHEN user_id = ANY(%s) THEN flags | %s::bigint ELSE flags & ~%s::bigint END
           WHERE message_id = %s AND ((flags & %s::bigint) <> 0) <> (user_id = ANY(%s))""",
        (list(user_ids), flag, flag, message_id, flag, list(user_ids)),
    )


async def move_messages_txn(
    txn: Transaction,
    message_ids: Sequence[int],
    *,
    subject: str,
    recipient_id: int,
    moved_time: datetime | None,
) -> None:
    """Give messages a new topic and/or channel; ``moved_time`` (None for resolving) becomes last_moved_time."""
    await txn.execute(
        """UPDATE message SET subject = %s, recipient_id = %s, last_moved_time = COALESCE(%s, last_moved_time)
           WHERE id = ANY(%s)""",
        (subject, recipient_id, moved_time, list(message_ids)),
    )


@dataclasses.dataclass(frozen=True)
class EditRecord:
    """One message_edit row: what one edit changed on one message (unchanged parts are None)."""

    message_id: int
    user_id: int
    edit_time: datetime
    prev_content: str | None = None
    prev_rendered_content: str | None = None
    prev_topic: str | None = None
    topic: str | None = None
    prev_stream_id: int | None = None
    stream_id: int | None = None


async def insert_edit_records_txn(txn: Transaction, records: Sequence[EditRecord]) -> None:
    if not records:
        return
    columns = [field.name for field in dataclasses.fields(EditRecord)]
    types = ["bigint", "integer", "timestamptz", "text", "text", "text", "text", "integer", "integer"]
    arrays = ", ".join(f"%s::{kind}[]" for kind in types)
    await txn.execute(
        f"INSERT INTO message_edit ({', '.join(columns)}) SELECT * FROM unnest({arrays})",
        tuple([getattr(record, column) for record in records] for column in columns),
    )


async def set_first_message_id_txn(txn: Transaction, stream_id: int, message_id: int) -> None:
    """A channel's first message, when messages older than its first one arrive by a move."""
    await txn.execute(
        "UPDATE stream SET first_message_id = %s WHERE id = %s AND (first_message_id IS NULL OR first_message_id > %s)",
        (message_id, stream_id, message_id),
    )


async def subscription_user_ids_txn(txn: Transaction, recipient_id: int, *, active_only: bool) -> set[int]:
    """Users with a subscription row for a channel (deactivated users included); all past ones unless active_only."""
    rows = await txn.fetch_all(
        f"SELECT user_id FROM subscription WHERE recipient_id = %s {'AND active' if active_only else ''}",
        (recipient_id,),
    )
    return {row[0] for row in rows}


async def row_holders_txn(txn: Transaction, message_ids: Sequence[int]) -> dict[int, int]:
    """user id -> role, for everyone who has a row for any of the messages."""
    rows = await txn.fetch_all(
        """SELECT DISTINCT um.user_id, u.role FROM user_message um JOIN user_profile u ON u.id = um.user_id
           WHERE um.message_id = ANY(%s)""",
        (list(message_ids),),
    )
    return {row[0]: row[1] for row in rows}


async def delete_user_rows_txn(txn: Transaction, message_ids: Sequence[int], user_ids: Sequence[int]) -> None:
    if not user_ids or not message_ids:
        return
    await txn.execute(
        "DELETE FROM user_message WHERE message_id = ANY(%s) AND user_id = ANY(%s)", (list(message_ids), list(user_ids))
    )


async def add_user_rows_txn(txn: Transaction, user_ids: Sequence[int], message_ids: Sequence[int], flags: int) -> None:
    """A row with ``flags`` for each user and message that has none yet."""
    if not user_ids or not message_ids:
        return
    await txn.execute(
        """INSERT INTO user_message (user_id, message_id, flags)
           SELECT u, m, %s FROM unnest(%s::integer[]) AS u CROSS JOIN unnest(%s::bigint[]) AS m
           ON CONFLICT DO NOTHING""",
        (flags, list(user_ids), list(message_ids)),
    )


async def delete_message_txn(txn: Transaction, message_id: int) -> bool:
    """Delete a message with everything attached to it (rows, edits, reactions)."""
    # Edits and reactions go by their foreign keys' cascade; user_message has none (migration 0005).
    await txn.execute("DELETE FROM user_message WHERE message_id = %s", (message_id,))
    row = await txn.fetch_one("DELETE FROM message WHERE id = %s RETURNING id", (message_id,))
    return row is not None


async def subscribed_recipient_ids_txn(txn: Transaction, user_id: int, recipient_ids: Sequence[int]) -> set[int]:
    """The recipients among ``recipient_ids`` that the user is actively subscribed to."""
    rows = await txn.fetch_all(
        "SELECT recipient_id FROM subscription WHERE user_id = %s AND active AND recipient_id = ANY(%s)",
        (user_id, list(recipient_ids)),
    )
    return {row[0] for row in rows}


async def mark_read_txn(txn: Transaction, user_id: int, recipient_id: int | None, topic: str | None) -> list[int]:
    """Mark the user's unread rows read: all of them, or one channel's, or one topic's. Return the ids changed."""
    if recipient_id is None:
        rows = await txn.fetch_all(
            "UPDATE user_message SET flags = flags | 1 WHERE user_id = %s AND flags & 1 = 0 RETURNING message_id",
            (user_id,),
        )
        return sorted(row[0] for row in rows)
    topic_condition = "AND lower(m.subject) = lower(%s)" if topic is not None else ""
    rows = await txn.fetch_all(
        f"""UPDATE user_message um SET flags = um.flags | 1 FROM message m
            WHERE um.user_id = %s AND um.flags & 1 = 0 AND m.id = um.message_id AND m.recipient_id = %s
            {topic_condition}
            RETURNING um.message_id""",
        (user_id, recipient_id, *([topic] if topic is not None else [])),
    )
    return sorted(row[0] for row in rows)


async def user_has_topic_rows_txn(txn: Transaction, user_id: int, recipient_id: int, topic: str) -> bool:
    row = await txn.fetch_one(
        """SELECT 1 FROM user_message um JOIN message m ON m.id = um.message_id
           WHERE um.user_id = %s AND m.recipient_id = %s AND lower(m.subject) = lower(%s) LIMIT 1""",
        (user_id, recipient_id, topic),
    )
    return row is not None
