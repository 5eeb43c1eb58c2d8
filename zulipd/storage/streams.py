"""SQL for channels, recipients, subscriptions and default channels."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from zulipd.models import RecipientType, Stream, StreamPostPolicy, Subscription
from zulipd.storage.pool import Transaction

# What a change to a channel, or to a subscription, announces (see 0009_channel_invalidations.sql,
# whose triggers tell the other processes the same): "channels:<realm id>", "subscribers:<recipient id>".
CHANNELS_CHANGED = "channels"
SUBSCRIBERS_CHANGED = "subscribers"

STREAM_COLUMNS = (
    "s.id, s.realm_id, s.name, s.description, s.rendered_description, s.invite_only, "
    "s.history_public_to_subscribers, s.is_web_public, s.stream_post_policy, s.message_retention_days, "
    "s.creator_id, s.date_created, s.deactivated, s.first_message_id, s.settings, r.id"
)
STREAM_FROM = "stream s JOIN recipient r ON r.type = 2 AND r.type_id = s.id"

SUBSCRIPTION_COLUMNS = (
    "sub.user_id, sub.recipient_id, sub.active, sub.color, sub.is_muted, sub.pin_to_top, "
    "sub.desktop_notifications, sub.audible_notifications, sub.push_notifications, sub.email_notifications, "
    "sub.wildcard_mentions_notify, sub.date_subscribed"
)


def stream_from_row(row: Sequence[Any]) -> Stream:
    values = list(row)
    values[8] = StreamPostPolicy(values[8])
    return Stream(*values)


def subscription_from_row(row: Sequence[Any]) -> Subscription:
    return Subscription(*row)


# Ids are PostgreSQL integers; a larger number names no row, and must not reach the query (it would fail there).
MAX_ID = 2**31 - 1


def is_storable_id(value: int) -> bool:
    return 0 < value <= MAX_ID


def is_storable_text(text: str) -> bool:
    """Whether PostgreSQL can hold the text: no NUL, no lone surrogate (either would fail the query)."""
    if "\x00" in text:
        return False
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


async def get_stream_txn(txn: Transaction, realm_id: int, stream_id: int) -> Stream | None:
    if not is_storable_id(stream_id):
        return None
    row = await txn.fetch_one(
        f"SELECT {STREAM_COLUMNS} FROM {STREAM_FROM} WHERE s.realm_id = %s AND s.id = %s", (realm_id, stream_id)
    )
    return stream_from_row(row) if row else None


async def get_stream_by_name_txn(txn: Transaction, realm_id: int, name: str) -> Stream | None:
    if not is_storable_text(name):
        return None
    row = await txn.fetch_one(
        f"SELECT {STREAM_COLUMNS} FROM {STREAM_FROM} WHERE s.realm_id = %s AND lower(s.name) = lower(%s)",
        (realm_id, name),
    )
    return stream_from_row(row) if row else None


async def stream_and_subscription_txn(
    txn: Transaction, realm_id: int, user_id: int, *, stream_id: int | None = None, name: str | None = None
) -> tuple[Stream | None, Subscription | None]:
    """A channel by id or by name (any case), with the user's subscription to it, in one query."""
    value: int | str
    if stream_id is not None:
        if not is_storable_id(stream_id):
            return None, None
        statement, condition, value = "zulipd_stream_by_id", "s.id = %s::integer", stream_id
    else:
        assert name is not None
        if not is_storable_text(name):
            return None, None
        statement, condition, value = "zulipd_stream_by_name", "lower(s.name) = lower(%s::text)", name
    # Every send looks its channel up: planned once per connection.
    rows = await txn.fetch_all_prepared(
        statement,
        f"""SELECT {STREAM_COLUMNS}, {SUBSCRIPTION_COLUMNS} FROM {STREAM_FROM}
            LEFT JOIN subscription sub ON sub.recipient_id = r.id AND sub.user_id = %s::integer
            WHERE s.realm_id = %s::integer AND {condition}""",
        (user_id, realm_id, value),
    )
    if not rows:
        return None, None
    row = rows[0]
    split = STREAM_COLUMNS.count(",") + 1
    subscription = subscription_from_row(row[split:]) if row[split] is not None else None
    return stream_from_row(row[:split]), subscription


async def get_streams_by_ids_txn(txn: Transaction, realm_id: int, stream_ids: Sequence[int]) -> list[Stream]:
    rows = await txn.fetch_all(
        f"SELECT {STREAM_COLUMNS} FROM {STREAM_FROM} WHERE s.realm_id = %s AND s.id = ANY(%s) ORDER BY s.id",
        (realm_id, [stream_id for stream_id in stream_ids if is_storable_id(stream_id)]),
    )
    return [stream_from_row(row) for row in rows]


async def list_streams_txn(txn: Transaction, realm_id: int) -> list[Stream]:
    rows = await txn.fetch_all(
        f"SELECT {STREAM_COLUMNS} FROM {STREAM_FROM} WHERE s.realm_id = %s ORDER BY s.id", (realm_id,)
    )
    return [stream_from_row(row) for row in rows]


async def get_stream_by_recipient_txn(txn: Transaction, recipient_id: int) -> Stream | None:
    row = await txn.fetch_one(f"SELECT {STREAM_COLUMNS} FROM {STREAM_FROM} WHERE r.id = %s", (recipient_id,))
    return stream_from_row(row) if row else None


async def insert_stream_txn(
    txn: Transaction,
    *,
    realm_id: int,
    name: str,
    description: str,
    rendered_description: str,
    invite_only: bool,
    history_public_to_subscribers: bool,
    is_web_public: bool,
    stream_post_policy: int,
    message_retention_days: int | None,
    creator_id: int | None,
    settings: dict[str, Any],
) -> Stream:
    row = await txn.fetch_one(
        """INSERT INTO stream (realm_id, name, description, rendered_description, invite_only,
                               history_public_to_subscribers, is_web_public, stream_post_policy,
                               message_retention_days, creator_id, settings)
           VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s::jsonb) RETURNING id""",
        (
            realm_id,
            name,
            description,
            rendered_description,
            invite_only,
            history_public_to_subscribers,
            is_web_public,
            stream_post_policy,
            message_retention_days,
            creator_id,
            json.dumps(settings),
        ),
    )
    assert row is not None
    await txn.execute("INSERT INTO recipient (type, type_id) VALUES (2, %s)", (row[0],))
    stream = await get_stream_txn(txn, realm_id, row[0])
    assert stream is not None
    return stream


_STREAM_UPDATABLE = {"name", "description", "rendered_description", "invite_only", "history_public_to_subscribers",
                     "is_web_public", "stream_post_policy", "message_retention_days", "deactivated",
                     "first_message_id"}  # fmt: skip


async def update_stream_txn(txn: Transaction, stream: Stream, **changes: Any) -> Stream:
    settings = changes.pop("settings", None)
    assert not set(changes) - _STREAM_UPDATABLE, changes
    assignments = [f"{column} = %s" for column in changes]
    values: list[Any] = [int(value) if isinstance(value, StreamPostPolicy) else value for value in changes.values()]
    if settings:
        assignments.append("settings = settings || %s::jsonb")
        values.append(json.dumps(settings))
    if assignments:
        await txn.execute(f"UPDATE stream SET {', '.join(assignments)} WHERE id = %s", (*values, stream.id))
        txn.announce_on_commit(f"{CHANNELS_CHANGED}:{stream.realm_id}")
    updated = await get_stream_txn(txn, stream.realm_id, stream.id)
    assert updated is not None
    return updated


async def personal_recipient_txn(txn: Transaction, user_id: int) -> int:
    """The recipient id of direct messages to one user, created on first use."""
    return await _recipient_txn(txn, RecipientType.PERSONAL, user_id)


async def _recipient_txn(txn: Transaction, kind: RecipientType, type_id: int) -> int:
    row = await txn.fetch_one(
        """INSERT INTO recipient (type, type_id) VALUES (%s, %s)
           ON CONFLICT (type, type_id) DO UPDATE SET type = excluded.type RETURNING id""",
        (int(kind), type_id),
    )
    assert row is not None
    return int(row[0])


async def direct_message_group_recipient_txn(txn: Transaction, realm_id: int, member_ids: Sequence[int]) -> int:
    """The recipient of a group direct message among ``member_ids`` (3 or more), created on first use."""
    members = sorted(set(member_ids))
    row = await txn.fetch_one(
        """INSERT INTO direct_message_group (realm_id, member_ids) VALUES (%s, %s)
           ON CONFLICT (realm_id, member_ids) DO UPDATE SET realm_id = excluded.realm_id RETURNING id""",
        (realm_id, members),
    )
    assert row is not None
    recipient_id = await _recipient_txn(txn, RecipientType.DIRECT_MESSAGE_GROUP, row[0])
    await txn.execute(
        """INSERT INTO subscription (user_id, recipient_id) SELECT unnest(%s::integer[]), %s
           ON CONFLICT DO NOTHING""",
        (members, recipient_id),
    )
    return recipient_id


async def recipient_info_txn(txn: Transaction, recipient_ids: Sequence[int]) -> dict[int, tuple[int, int]]:
    """recipient id -> (type, type_id)."""
    rows = await txn.fetch_all("SELECT id, type, type_id FROM recipient WHERE id = ANY(%s)", (list(recipient_ids),))
    return {row[0]: (row[1], row[2]) for row in rows}


async def direct_message_group_members_txn(txn: Transaction, group_ids: Sequence[int]) -> dict[int, list[int]]:
    rows = await txn.fetch_all("SELECT id, member_ids FROM direct_message_group WHERE id = ANY(%s)", (list(group_ids),))
    return {row[0]: list(row[1]) for row in rows}


async def subscriptions_of_user_txn(txn: Transaction, user_id: int, active_only: bool = True) -> list[Subscription]:
    rows = await txn.fetch_all(
        f"""SELECT {SUBSCRIPTION_COLUMNS} FROM subscription sub JOIN recipient r ON r.id = sub.recipient_id
            WHERE sub.user_id = %s AND r.type = 2 {"AND sub.active" if active_only else ""}""",
        (user_id,),
    )
    return [subscription_from_row(row) for row in rows]


async def get_subscription_txn(txn: Transaction, user_id: int, recipient_id: int) -> Subscription | None:
    row = await txn.fetch_one(
        f"SELECT {SUBSCRIPTION_COLUMNS} FROM subscription sub WHERE sub.user_id = %s AND sub.recipient_id = %s",
        (user_id, recipient_id),
    )
    return subscription_from_row(row) if row else None


async def subscriber_ids_txn(txn: Transaction, recipient_ids: Sequence[int]) -> dict[int, list[int]]:
    """Active subscribers (active users only) of each recipient."""
    rows = await txn.fetch_all(
        """SELECT sub.recipient_id, sub.user_id FROM subscription sub JOIN user_profile u ON u.id = sub.user_id
           WHERE sub.recipient_id = ANY(%s) AND sub.active AND u.is_active ORDER BY sub.user_id""",
        (list(recipient_ids),),
    )
    subscribers: dict[int, list[int]] = {recipient_id: [] for recipient_id in recipient_ids}
    for recipient_id, user_id in rows:
        subscribers[recipient_id].append(user_id)
    return subscribers


async def subscribe_txn(
    txn: Transaction, user_ids: Sequence[int], recipient_id: int, colors: Sequence[str], now: datetime
) -> None:
    await txn.execute(
        """INSERT INTO subscription (user_id, recipient_id, color, date_subscribed)
           SELECT * FROM unnest(%s::integer[], %s::integer[], %s::text[], %s::timestamptz[])
           ON CONFLICT (user_id, recipient_id) DO UPDATE SET active = true, date_subscribed = excluded.date_subscribed
           WHERE NOT subscription.active""",
        (list(user_ids), [recipient_id] * len(user_ids), list(colors), [now] * len(user_ids)),
    )
    txn.announce_on_commit(f"{SUBSCRIBERS_CHANGED}:{recipient_id}")


async def unsubscribe_txn(txn: Transaction, user_ids: Sequence[int], recipient_id: int) -> None:
    await txn.execute(
        "UPDATE subscription SET active = false WHERE recipient_id = %s AND user_id = ANY(%s)",
        (recipient_id, list(user_ids)),
    )
    txn.announce_on_commit(f"{SUBSCRIBERS_CHANGED}:{recipient_id}")


_SUBSCRIPTION_PROPERTIES = {"color", "is_muted", "pin_to_top", "desktop_notifications", "audible_notifications",
                            "push_notifications", "email_notifications", "wildcard_mentions_notify"}  # fmt: skip


async def update_subscription_txn(txn: Transaction, user_id: int, recipient_id: int, prop: str, value: Any) -> None:
    assert prop in _SUBSCRIPTION_PROPERTIES, prop
    await txn.execute(
        f"UPDATE subscription SET {prop} = %s WHERE user_id = %s AND recipient_id = %s", (value, user_id, recipient_id)
    )
    txn.announce_on_commit(f"{SUBSCRIBERS_CHANGED}:{recipient_id}")


async def default_stream_ids_txn(txn: Transaction, realm_id: int) -> list[int]:
    rows = await txn.fetch_all(
        "SELECT stream_id FROM default_stream WHERE realm_id = %s ORDER BY stream_id", (realm_id,)
    )
    return [row[0] for row in rows]


async def add_default_stream_txn(txn: Transaction, realm_id: int, stream_id: int) -> bool:
    """Make the channel a default one; whether it was not one already."""
    rows = await txn.fetch_all(
        "INSERT INTO default_stream (realm_id, stream_id) VALUES (%s, %s) ON CONFLICT DO NOTHING RETURNING stream_id",
        (realm_id, stream_id),
    )
    return bool(rows)


async def remove_default_stream_txn(txn: Transaction, realm_id: int, stream_id: int) -> bool:
    """Make the channel not a default one; whether it was one."""
    rows = await txn.fetch_all(
        "DELETE FROM default_stream WHERE realm_id = %s AND stream_id = %s RETURNING stream_id", (realm_id, stream_id)
    )
    return bool(rows)
