"""SQL for personal topic preferences (Zulip's UserTopic). Topics match without regard to case."""

from __future__ import annotations

import dataclasses
from datetime import datetime

from zulipd.storage.pool import Transaction


@dataclasses.dataclass(frozen=True)
class UserTopic:
    stream_id: int
    topic_name: str
    # 1 muted, 2 unmuted, 3 followed (0, "none", is the absence of a row).
    visibility_policy: int
    last_updated: datetime


async def set_user_topic_txn(
    txn: Transaction, user_id: int, stream_id: int, topic_name: str, visibility_policy: int, now: datetime
) -> bool:
    """Store a preference (0 removes it); whether anything changed.

    An existing row keeps the case it was first written with.
    """
    if visibility_policy == 0:
        await txn.execute(
            "DELETE FROM user_topic WHERE user_id = %s AND stream_id = %s AND lower(topic_name) = lower(%s)",
            (user_id, stream_id, topic_name),
        )
        return txn.rowcount > 0
    row = await txn.fetch_one(
        """INSERT INTO user_topic (user_id, stream_id, topic_name, visibility_policy, last_updated)
           VALUES (%s, %s, %s, %s, %s)
           ON CONFLICT (user_id, stream_id, lower(topic_name)) DO UPDATE
           SET visibility_policy = excluded.visibility_policy, last_updated = excluded.last_updated
           WHERE user_topic.visibility_policy <> excluded.visibility_policy
           RETURNING 1""",
        (user_id, stream_id, topic_name, visibility_policy, now),
    )
    return row is not None


async def user_topics_txn(txn: Transaction, user_id: int) -> list[UserTopic]:
    rows = await txn.fetch_all(
        """SELECT stream_id, topic_name, visibility_policy, last_updated FROM user_topic
           WHERE user_id = %s ORDER BY stream_id, lower(topic_name)""",
        (user_id,),
    )
    return [UserTopic(*row) for row in rows]


async def has_user_topics_in_stream_txn(txn: Transaction, user_id: int, stream_id: int) -> bool:
    row = await txn.fetch_one(
        "SELECT EXISTS (SELECT 1 FROM user_topic WHERE user_id = %s AND stream_id = %s)", (user_id, stream_id)
    )
    return bool(row and row[0])
