"""SQL for messages, their per-user rows and flags, reactions and edit history.

Narrow searches arrive here already checked and resolved to ids
(``zulipd.actions.narrow``); this module only turns them into SQL.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from zulipd.models import Message
from zulipd.storage.arrays import number_array
from zulipd.storage.pool import Transaction

MESSAGE_COLUMNS = (
    "m.id, m.realm_id, m.sender_id, m.recipient_id, m.subject, m.content, m.rendered_content, m.date_sent, "
    "m.last_edit_time, m.last_moved_time, m.sending_client, m.is_channel_message, m.is_me_message, "
    "m.has_link, m.has_attachment, m.has_image"
)


def message_from_row(row: Sequence[Any]) -> Message:
    return Message(*row[:16])


@dataclasses.dataclass(frozen=True)
class NewMessage:
    realm_id: int
    sender_id: int
    recipient_id: int
    subject: str
    content: str
    rendered_content: str
    sending_client: str
    is_channel_message: bool
    is_me_message: bool
    has_link: bool
    has_attachment: bool
    has_image: bool
    # Who gets a row: a channel message's active subscribers who are active users, a direct
    # message's ``direct_member_ids``; and the sender, always.
    direct_member_ids: Sequence[int]
    # The flags of every row of the message, and those some users' rows get besides (user id -> flags).
    flags_for_all: int
    extra_flags: dict[int, int]
    # When sending makes the sender follow the topic, or unmute it in a channel they muted:
    # NEVER, ON_START (the message is the topic's first) or ON_SEND.
    follow_when: int = 0
    unmute_when: int = 0


# NewMessage.follow_when and unmute_when.
NEVER, ON_START, ON_SEND = 0, 1, 2
FOLLOWED, UNMUTED = 3, 2


@dataclasses.dataclass(frozen=True)
class InsertedMessage:
    id: int
    date_sent: datetime
    # The sender's new visibility policy for the topic, when sending changed it.
    new_visibility_policy: int | None
    # (user id, flags) of every user row written, by user id.
    receivers: list[tuple[int, int]]


async def insert_messages_txn(txn: Transaction, messages: Sequence[NewMessage]) -> list[InsertedMessage]:
    """Insert messages and all their user rows in one statement; return each one's id and receivers, in order.

    A channel's subscribers are read inside the statement, so thousands of user ids
    never travel to zulipd and back. The statement also records a channel's first
    message, and makes senders follow (or unmute) topics as their settings ask.
    One statement is a transaction by itself: run it with ``run_single_statement``.
    """
    if not messages:
        return []
    if len(messages) == 1:
        return [await _insert_one_message_txn(txn, messages[0])]
    member_positions: list[int] = []
    member_ids: list[int] = []
    extra_positions: list[int] = []
    extra_user_ids: list[int] = []
    extra_flags: list[int] = []
    for position, message in enumerate(messages, start=1):
        for user_id in message.direct_member_ids:
            member_positions.append(position)
            member_ids.append(user_id)
        for user_id, flags in message.extra_flags.items():
            extra_positions.append(position)
            extra_user_ids.append(user_id)
            extra_flags.append(flags)
    message_columns = tuple(
        [getattr(message, field) for message in messages]
        for field in (
            "realm_id", "sender_id", "recipient_id", "subject", "content", "rendered_content",
            "sending_client", "is_channel_message", "is_me_message", "has_link", "has_attachment", "has_image",
            "flags_for_all", "follow_when", "unmute_when",
        )
    )  # fmt: skip
    # Ids are drawn in the order of ``position``, so the message with the n-th smallest id is the n-th given.
    rows = await txn.fetch_all_prepared(
        "zulipd_insert_messages",
        """WITH given AS (
               SELECT * FROM unnest(%s::integer[], %s::integer[], %s::integer[], %s::text[], %s::text[], %s::text[],
                                    %s::text[], %s::boolean[], %s::boolean[], %s::boolean[], %s::boolean[],
                                    %s::boolean[], %s::bigint[], %s::smallint[], %s::smallint[])
                   WITH ORDINALITY AS given (realm_id, sender_id, recipient_id, subject, content, rendered_content,
                                             sending_client, is_channel_message, is_me_message, has_link,
                                             has_attachment, has_image, flags_for_all, follow_when, unmute_when,
                                             position)
           ),
           new AS (
               INSERT INTO message (realm_id, sender_id, recipient_id, subject, content, rendered_content,
                                    sending_client, is_channel_message, is_me_message, has_link, has_attachment,
                                    has_image)
               SELECT realm_id, sender_id, recipient_id, subject, content, rendered_content, sending_client,
                      is_channel_message, is_me_message, has_link, has_attachment, has_image
               FROM given ORDER BY position
               RETURNING id, date_sent
           ),
           numbered AS (
               SELECT new.id, new.date_sent, given.*
               FROM (SELECT id, date_sent, row_number() OVER (ORDER BY id) AS position FROM new) new
               JOIN given USING (position)
           ),
           receivers AS (
               -- Each channel's subscribers through the subscription index: a lateral subquery
               -- that PostgreSQL may not merge into the join (OFFSET 0) cannot become a hash
               -- join, whose plan reads every subscription on each send. Less the few
               -- deactivated users, through their own index.
               SELECT numbered.position, sub.user_id FROM numbered
               CROSS JOIN LATERAL (
                   SELECT sub.user_id FROM subscription sub
                   WHERE sub.recipient_id = numbered.recipient_id AND sub.active
                   OFFSET 0
               ) sub
               WHERE numbered.is_channel_message
                     AND NOT EXISTS (SELECT 1 FROM user_profile u WHERE u.id = sub.user_id AND NOT u.is_active)
               UNION
               SELECT position, user_id FROM unnest(%s::integer[], %s::integer[]) AS member (position, user_id)
               UNION
               SELECT position, sender_id FROM numbered
           ),
           extra AS (
               SELECT * FROM unnest(%s::integer[], %s::integer[], %s::bigint[]) AS extra (position, user_id, flags)
           ),
           user_rows AS (
               INSERT INTO user_message (user_id, message_id, flags)
               SELECT receivers.user_id, numbered.id, numbered.flags_for_all | coalesce(extra.flags, 0)
               FROM receivers JOIN numbered USING (position) LEFT JOIN extra USING (position, user_id)
               RETURNING user_id, message_id, flags
           ),
           received AS (
               SELECT message_id, array_agg(user_id ORDER BY user_id) AS user_ids,
                      array_agg(flags ORDER BY user_id) AS flags
               FROM user_rows GROUP BY message_id
           ),
           first_messages AS (
               UPDATE stream SET first_message_id = first.id
               FROM (SELECT recipient_id, min(id) AS id FROM numbered WHERE is_channel_message
                     GROUP BY recipient_id) first
               JOIN recipient r ON r.id = first.recipient_id
               WHERE stream.id = r.type_id AND stream.first_message_id IS NULL
           ),
           visibility AS (
               SELECT DISTINCT ON (n.sender_id, r.type_id, lower(n.subject))
                      n.position, n.sender_id, r.type_id AS stream_id, n.subject,
                      CASE WHEN n.follow_when = 2 OR (n.follow_when = 1 AND starts.topic) THEN 3
                           WHEN coalesce(sub.is_muted, false)
                                AND (n.unmute_when = 2 OR (n.unmute_when = 1 AND starts.topic)) THEN 2
                      END AS policy
               FROM numbered n
               JOIN recipient r ON r.id = n.recipient_id
               LEFT JOIN subscription sub ON sub.user_id = n.sender_id AND sub.recipient_id = n.recipient_id
               -- One probe of the topic index, whatever the statistics say (see TOPIC_PROBE).
               LEFT JOIN LATERAL (
                   SELECT old.recipient_id = n.recipient_id AND lower(old.subject) = lower(n.subject) AS found
                   FROM message old
                   WHERE (old.recipient_id, lower(old.subject)) >= (n.recipient_id, lower(n.subject))
                   ORDER BY old.recipient_id, lower(old.subject), old.id LIMIT 1
               ) stored ON true
               CROSS JOIN LATERAL (
                   SELECT NOT coalesce(stored.found, false)
                          AND NOT EXISTS (SELECT 1 FROM numbered earlier WHERE earlier.recipient_id = n.recipient_id
                                          AND lower(earlier.subject) = lower(n.subject)
                                          AND earlier.position < n.position) AS topic
               ) starts
               WHERE n.is_channel_message AND (n.follow_when > 0 OR n.unmute_when > 0)
               ORDER BY n.sender_id, r.type_id, lower(n.subject), n.position
           ),
           visibility_changes AS (
               INSERT INTO user_topic (user_id, stream_id, topic_name, visibility_policy, last_updated)
               SELECT sender_id, stream_id, subject, policy, now() FROM visibility WHERE policy IS NOT NULL
               ON CONFLICT (user_id, stream_id, lower(topic_name)) DO UPDATE
               SET visibility_policy = excluded.visibility_policy, last_updated = excluded.last_updated
               -- Following already includes being unmuted.
               WHERE user_topic.visibility_policy <> excluded.visibility_policy
                     AND NOT (excluded.visibility_policy = 2 AND user_topic.visibility_policy = 3)
               RETURNING user_id, stream_id, lower(topic_name) AS topic, visibility_policy
           )
           SELECT numbered.id, numbered.date_sent, changed.visibility_policy, received.user_ids, received.flags
           FROM numbered
           JOIN received ON received.message_id = numbered.id
           LEFT JOIN visibility ON visibility.position = numbered.position
           LEFT JOIN visibility_changes changed ON changed.user_id = visibility.sender_id
                AND changed.stream_id = visibility.stream_id AND changed.topic = lower(visibility.subject)
           ORDER BY numbered.position""",
        (
            *message_columns,
            number_array(member_positions),
            number_array(member_ids),
            number_array(extra_positions),
            number_array(extra_user_ids),
            number_array(extra_flags),
        ),
    )
    return [InsertedMessage(row[0], row[1], row[2], list(zip(row[3], row[4], strict=True))) for row in rows]


# TOPIC_PROBE: whether a topic has a message yet, asked of the topic index
# (recipient_id, lower(subject), id) alone. Put as "recipient and topic equal to these",
# the question leaves PostgreSQL free to scan the table, or its primary key in id
# order, until a match: a plan made once for any parameters does so whenever the
# statistics make topics look common (a few topics per channel), and a new topic then
# reads every message. Put as "the first entry at or after this recipient and topic, in
# the index's own order", only that index answers it without reading and sorting every
# row after it, and the entry found tells whether the topic is there.

# The statement above, for one message: most sends commit alone, and without the
# arrays to unpack and number PostgreSQL runs it in about two thirds of the time.
_INSERT_ONE_MESSAGE = """
WITH new AS (
    INSERT INTO message (realm_id, sender_id, recipient_id, subject, content, rendered_content, sending_client,
                         is_channel_message, is_me_message, has_link, has_attachment, has_image)
    VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
    RETURNING id, date_sent
),
receivers AS (
    SELECT sub.user_id FROM subscription sub
    WHERE $8 AND sub.recipient_id = $3 AND sub.active
          AND NOT EXISTS (SELECT 1 FROM user_profile u WHERE u.id = sub.user_id AND NOT u.is_active)
    UNION
    SELECT unnest($16)
    UNION
    SELECT $2
),
user_rows AS (
    INSERT INTO user_message (user_id, message_id, flags)
    SELECT receivers.user_id, new.id, $13 | coalesce(extra.flags, 0)
    FROM new CROSS JOIN receivers
    LEFT JOIN unnest($17, $18) AS extra (user_id, flags) USING (user_id)
    RETURNING user_id, flags
),
first_message AS (
    UPDATE stream SET first_message_id = new.id
    FROM new, recipient r
    WHERE $8 AND r.id = $3 AND stream.id = r.type_id AND stream.first_message_id IS NULL
),
visibility AS (
    SELECT r.type_id AS stream_id,
           CASE WHEN $14 = 2 OR ($14 = 1 AND starts.topic) THEN 3
                WHEN coalesce(sub.is_muted, false) AND ($15 = 2 OR ($15 = 1 AND starts.topic)) THEN 2
           END AS policy
    FROM recipient r
    -- Probed once (OFFSET 0 keeps it a subquery of its own), through the topic index (see TOPIC_PROBE).
    CROSS JOIN (
        SELECT NOT coalesce((
            SELECT old.recipient_id = $3 AND lower(old.subject) = lower($4) FROM message old
            WHERE (old.recipient_id, lower(old.subject)) >= ($3, lower($4))
            ORDER BY old.recipient_id, lower(old.subject), old.id LIMIT 1
        ), false) AS topic
        OFFSET 0
    ) starts
    LEFT JOIN subscription sub ON sub.user_id = $2 AND sub.recipient_id = $3
    WHERE r.id = $3 AND $8 AND ($14 > 0 OR $15 > 0)
),
visibility_changes AS (
    INSERT INTO user_topic (user_id, stream_id, topic_name, visibility_policy, last_updated)
    SELECT $2, stream_id, $4, policy, now() FROM visibility WHERE policy IS NOT NULL
    ON CONFLICT (user_id, stream_id, lower(topic_name)) DO UPDATE
    SET visibility_policy = excluded.visibility_policy, last_updated = excluded.last_updated
    WHERE user_topic.visibility_policy <> excluded.visibility_policy
          AND NOT (excluded.visibility_policy = 2 AND user_topic.visibility_policy = 3)
    RETURNING visibility_policy
)
SELECT new.id, new.date_sent, (SELECT visibility_policy FROM visibility_changes),
       (SELECT array_agg(user_id ORDER BY user_id) FROM user_rows),
       (SELECT array_agg(flags ORDER BY user_id) FROM user_rows)
FROM new"""

_INSERT_ONE_MESSAGE_TYPES = (
    "integer", "integer", "integer", "text", "text", "text", "text", "boolean", "boolean", "boolean", "boolean",
    "boolean", "bigint", "smallint", "smallint", "integer[]", "integer[]", "bigint[]",
)  # fmt: skip


async def _insert_one_message_txn(txn: Transaction, message: NewMessage) -> InsertedMessage:
    rows = await txn.fetch_all_prepared(
        "zulipd_insert_one_message",
        _INSERT_ONE_MESSAGE,
        (
            message.realm_id, message.sender_id, message.recipient_id, message.subject, message.content,
            message.rendered_content, message.sending_client, message.is_channel_message, message.is_me_message,
            message.has_link, message.has_attachment, message.has_image, message.flags_for_all,
            message.follow_when, message.unmute_when, number_array(message.direct_member_ids),
            number_array(message.extra_flags), number_array(message.extra_flags.values()),
        ),
        types=_INSERT_ONE_MESSAGE_TYPES,
    )  # fmt: skip
    ((message_id, date_sent, policy, user_ids, flags),) = rows
    return InsertedMessage(message_id, date_sent, policy, list(zip(user_ids, flags, strict=True)))


async def get_messages_txn(txn: Transaction, message_ids: Sequence[int]) -> list[Message]:
    rows = await txn.fetch_all(
        f"SELECT {MESSAGE_COLUMNS} FROM message m WHERE m.id = ANY(%s) ORDER BY m.id", (list(message_ids),)
    )
    return [message_from_row(row) for row in rows]


async def user_flags_txn(txn: Transaction, user_id: int, message_ids: Sequence[int]) -> dict[int, int]:
    rows = await txn.fetch_all(
        "SELECT message_id, flags FROM user_message WHERE user_id = %s AND message_id = ANY(%s)",
        (user_id, list(message_ids)),
    )
    return {row[0]: row[1] for row in rows}


async def reactions_txn(txn: Transaction, message_ids: Sequence[int]) -> dict[int, list[tuple[str, str, str, int]]]:
    """message id -> [(emoji_name, emoji_code, reaction_type, user_id)]."""
    rows = await txn.fetch_all(
        """SELECT message_id, emoji_name, emoji_code, reaction_type, user_id FROM reaction
           WHERE message_id = ANY(%s) ORDER BY message_id, ctid""",
        (list(message_ids),),
    )
    reactions: dict[int, list[tuple[str, str, str, int]]] = {}
    for message_id, name, code, kind, user_id in rows:
        reactions.setdefault(message_id, []).append((name, code, kind, user_id))
    return reactions


@dataclasses.dataclass
class NarrowSql:
    """A narrow as SQL over ``message m`` and the user's ``user_message um``.

    ``own_rows_only``: search only messages the user has a row for (inner
    join). Otherwise the message table is searched within ``full_history``
    recipients, plus ``own_rows_history`` recipients where the user has a row
    (private channels whose history is not shared).
    """

    user_id: int
    own_rows_only: bool
    full_history: list[int] = dataclasses.field(default_factory=list)
    own_rows_history: list[int] = dataclasses.field(default_factory=list)
    conditions: list[str] = dataclasses.field(default_factory=list)
    parameters: list[Any] = dataclasses.field(default_factory=list)
    # A full-text query: adds ranking-free highlighting columns.
    search_query: str | None = None

    def add(self, sql: str, *parameters: Any) -> None:
        self.conditions.append(sql)
        self.parameters.extend(parameters)

    def from_and_where(self) -> tuple[str, list[Any]]:
        if self.own_rows_only:
            source = "user_message um JOIN message m ON m.id = um.message_id"
            where = ["um.user_id = %s"]
            parameters: list[Any] = [self.user_id]
        else:
            source = "message m LEFT JOIN user_message um ON um.message_id = m.id AND um.user_id = %s"
            parameters = [self.user_id]
            where = ["(m.recipient_id = ANY(%s) OR (m.recipient_id = ANY(%s) AND um.user_id IS NOT NULL))"]
            parameters += [self.full_history, self.own_rows_history]
        where += self.conditions
        parameters += self.parameters
        return f"FROM {source} WHERE {' AND '.join(where)}", parameters


async def narrow_ids_txn(
    txn: Transaction, narrow: NarrowSql, anchor: int, num_before: int, num_after: int, include_anchor: bool
) -> tuple[list[tuple[int, int | None]], list[tuple[int, int | None]]]:
    """(id, flags) of messages before (descending) and at-or-after (ascending) the anchor."""
    from_where, parameters = narrow.from_and_where()
    before: list[tuple[int, int | None]] = []
    after: list[tuple[int, int | None]] = []
    if num_before > 0:
        rows = await txn.fetch_all(
            f"SELECT m.id, um.flags {from_where} AND m.id < %s ORDER BY m.id DESC LIMIT %s",
            (*parameters, anchor, num_before),
        )
        before = [(row[0], row[1]) for row in rows]
    comparison = ">=" if include_anchor else ">"
    limit = num_after + (1 if include_anchor else 0)
    if limit > 0:
        rows = await txn.fetch_all(
            f"SELECT m.id, um.flags {from_where} AND m.id {comparison} %s ORDER BY m.id ASC LIMIT %s",
            (*parameters, anchor, limit),
        )
        after = [(row[0], row[1]) for row in rows]
    return before, after


async def narrow_extreme_id_txn(txn: Transaction, narrow: NarrowSql, newest: bool) -> int | None:
    from_where, parameters = narrow.from_and_where()
    row = await txn.fetch_one(
        f"SELECT m.id {from_where} ORDER BY m.id {'DESC' if newest else 'ASC'} LIMIT 1", parameters
    )
    return int(row[0]) if row else None


async def first_unread_id_txn(txn: Transaction, narrow: NarrowSql) -> int | None:
    from_where, parameters = narrow.from_and_where()
    row = await txn.fetch_one(
        f"SELECT m.id {from_where} AND um.user_id IS NOT NULL AND um.flags & 1 = 0 ORDER BY m.id ASC LIMIT 1",
        parameters,
    )
    return int(row[0]) if row else None


async def narrow_matches_txn(txn: Transaction, narrow: NarrowSql, message_ids: Sequence[int]) -> list[int]:
    from_where, parameters = narrow.from_and_where()
    rows = await txn.fetch_all(f"SELECT m.id {from_where} AND m.id = ANY(%s)", (*parameters, list(message_ids)))
    return [row[0] for row in rows]


_HIGHLIGHT = """'StartSel="<span class=""highlight"">", StopSel=</span>, HighlightAll=true'"""


def _html_escaped(column: str) -> str:
    """SQL for the column's text with the characters HTML gives meaning to escaped."""
    expression = column
    for character, entity in (("&", "&amp;"), ("<", "&lt;"), (">", "&gt;"), ('"', "&quot;"), ("''", "&#x27;")):
        expression = f"replace({expression}, '{character}', '{entity}')"
    return expression


async def match_texts_txn(
    txn: Transaction, query: str | None, message_ids: Sequence[int]
) -> dict[int, tuple[str, str]]:
    """message id -> (rendered content, HTML-escaped topic), with a full-text query's matches highlighted."""
    # The topic is plain text: escape it before any highlight markup goes in, as the rendered content already is.
    subject = _html_escaped("m.subject")
    if query is None:
        rows = await txn.fetch_all(
            f"SELECT m.id, m.rendered_content, {subject} FROM message m WHERE m.id = ANY(%s)", (list(message_ids),)
        )
    else:
        rows = await txn.fetch_all(
            f"""SELECT m.id,
                      ts_headline('english', m.rendered_content, websearch_to_tsquery('english', %s), {_HIGHLIGHT}),
                      ts_headline('english', {subject}, websearch_to_tsquery('english', %s), {_HIGHLIGHT})
               FROM message m WHERE m.id = ANY(%s)""",
            (query, query, list(message_ids)),
        )
    return {row[0]: (row[1], row[2]) for row in rows}


async def set_flag_txn(txn: Transaction, user_id: int, message_ids: Sequence[int], flag: int, add: bool) -> list[int]:
    """Set or clear one flag on the user's rows; return the ids that changed."""
    if add:
        rows = await txn.fetch_all(
            """UPDATE user_message SET flags = flags | %s WHERE user_id = %s AND message_id = ANY(%s)
               AND flags & %s = 0 RETURNING message_id""",
            (flag, user_id, list(message_ids), flag),
        )
    else:
        rows = await txn.fetch_all(
            """UPDATE user_message SET flags = flags & ~%s::bigint WHERE user_id = %s AND message_id = ANY(%s)
               AND flags & %s <> 0 RETURNING message_id""",
            (flag, user_id, list(message_ids), flag),
        )
    return sorted(row[0] for row in rows)


async def add_historical_rows_txn(txn: Transaction, user_id: int, message_ids: Sequence[int], flags: int) -> None:
    """Rows for messages a user reached through shared history (starred or reacted to)."""
    await txn.execute(
        """INSERT INTO user_message (user_id, message_id, flags) SELECT %s, unnest(%s::bigint[]), %s
           ON CONFLICT DO NOTHING""",
        (user_id, list(message_ids), flags),
    )


async def unread_ids_txn(txn: Transaction, user_id: int, recipient_id: int | None, topic: str | None) -> list[int]:
    conditions = ["um.user_id = %s", "um.flags & 1 = 0"]
    parameters: list[Any] = [user_id]
    if recipient_id is not None:
        conditions.append("m.recipient_id = %s")
        parameters.append(recipient_id)
    if topic is not None:
        conditions.append("lower(m.subject) = lower(%s)")
        parameters.append(topic)
    rows = await txn.fetch_all(
        f"SELECT m.id FROM user_message um JOIN message m ON m.id = um.message_id WHERE {' AND '.join(conditions)}",
        parameters,
    )
    return [row[0] for row in rows]


async def stream_topics_txn(
    txn: Transaction, recipient_id: int, user_id: int, own_rows_only: bool
) -> list[tuple[str, int]]:
    """(topic, newest message id) of a channel, newest first; only topics the user may see."""
    if own_rows_only:
        rows = await txn.fetch_all(
            """SELECT DISTINCT ON (lower(m.subject)) m.subject, m.id FROM message m
               JOIN user_message um ON um.message_id = m.id AND um.user_id = %s
               WHERE m.recipient_id = %s ORDER BY lower(m.subject), m.id DESC""",
            (user_id, recipient_id),
        )
    else:
        rows = await txn.fetch_all(
            """SELECT DISTINCT ON (lower(m.subject)) m.subject, m.id FROM message m
               WHERE m.recipient_id = %s ORDER BY lower(m.subject), m.id DESC""",
            (recipient_id,),
        )
    return sorted(((row[0], row[1]) for row in rows), key=lambda topic: -topic[1])


async def insert_edit_txn(txn: Transaction, message_id: int, user_id: int | None, **changes: Any) -> None:
    columns = ["message_id", "user_id", *changes]
    placeholders = ", ".join(["%s"] * len(columns))
    await txn.execute(
        f"INSERT INTO message_edit ({', '.join(columns)}) VALUES ({placeholders})",
        (message_id, user_id, *changes.values()),
    )


async def edits_txn(txn: Transaction, message_ids: Sequence[int]) -> dict[int, list[dict[str, Any]]]:
    rows = await txn.fetch_all(
        """SELECT message_id, user_id, edit_time, prev_content, prev_rendered_content, prev_topic, topic,
                  prev_stream_id, stream_id
           FROM message_edit WHERE message_id = ANY(%s) ORDER BY id""",
        (list(message_ids),),
    )
    edits: dict[int, list[dict[str, Any]]] = {}
    for row in rows:
        edits.setdefault(row[0], []).append(
            {
                "user_id": row[1],
                "timestamp": int(row[2].timestamp()),
                "prev_content": row[3],
                "prev_rendered_content": row[4],
                "prev_topic": row[5],
                "topic": row[6],
                "prev_stream": row[7],
                "stream": row[8],
            }
        )
    return edits


async def newest_received_id_txn(txn: Transaction, user_id: int) -> int | None:
    """The highest id among the messages the user has a row for (the user_message primary key serves it)."""
    row = await txn.fetch_one("SELECT max(message_id) FROM user_message WHERE user_id = %s", (user_id,))
    return None if row is None or row[0] is None else int(row[0])


async def starred_message_ids_txn(txn: Transaction, user_id: int) -> list[int]:
    """The ids of the user's starred messages, oldest first (the starred partial index serves it)."""
    rows = await txn.fetch_all(
        "SELECT message_id FROM user_message WHERE user_id = %s AND flags & 2 <> 0 ORDER BY message_id", (user_id,)
    )
    return [int(row[0]) for row in rows]


async def message_audience_txn(
    txn: Transaction, message_ids: Sequence[int], shared_history_recipient: int | None
) -> list[int]:
    """Who may see these messages now: the active users with rows for them, and, for a channel
    whose history is shared with subscribers (``shared_history_recipient``), its active subscribers."""
    rows = await txn.fetch_all(
        """SELECT um.user_id FROM user_message um JOIN user_profile u ON u.id = um.user_id AND u.is_active
           WHERE um.message_id = ANY(%s)
           UNION
           SELECT sub.user_id FROM subscription sub JOIN user_profile u ON u.id = sub.user_id AND u.is_active
           WHERE sub.recipient_id = %s AND sub.active""",
        (list(message_ids), shared_history_recipient if shared_history_recipient is not None else -1),
    )
    return sorted(row[0] for row in rows)


async def flags_of_users_txn(txn: Transaction, message_id: int, user_ids: Sequence[int]) -> dict[int, int]:
    """Each of these users' flags for the message, for those who have a row."""
    rows = await txn.fetch_all(
        "SELECT user_id, flags FROM user_message WHERE message_id = %s AND user_id = ANY(%s)",
        (message_id, list(user_ids)),
    )
    return {row[0]: int(row[1]) for row in rows}


async def topic_participants_txn(txn: Transaction, recipient_id: int, topic: str) -> list[int]:
    """Who took part in a channel topic: its senders and those who reacted to its messages."""
    rows = await txn.fetch_all(
        """SELECT m.sender_id FROM message m
           WHERE m.recipient_id = %(recipient)s AND lower(m.subject) = lower(%(topic)s)
           UNION
           SELECT r.user_id FROM reaction r JOIN message m ON m.id = r.message_id
           WHERE m.recipient_id = %(recipient)s AND lower(m.subject) = lower(%(topic)s)""",
        {"recipient": recipient_id, "topic": topic},
    )
    return sorted(user_id for (user_id,) in rows)
