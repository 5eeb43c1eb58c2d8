"""The send's storage: a message committed alone and one committed in a batch get the same rows.

A lone message goes through a statement of its own (``_insert_one_message_txn``),
a batch through the general one; each case here runs through both and compares.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from twisted.internet import reactor

from tests.chat_support import AARON, CORDELIA, HAMLET, IAGO, OTHELLO, ZOE, create_channel, execute
from tests.support.api import ApiHarness
from tests.support.async_tests import async_test
from zulipd.models import MessageFlag
from zulipd.storage.messages import NEVER, ON_SEND, ON_START, InsertedMessage, NewMessage, insert_messages_txn
from zulipd.storage.pool import DatabasePool, Transaction
from zulipd.storage.streams import personal_recipient_txn

READ, MENTIONED, IS_PRIVATE = int(MessageFlag.READ), int(MessageFlag.MENTIONED), int(MessageFlag.IS_PRIVATE)
FOLLOWED, UNMUTED = 3, 2


async def recipient_of_channel(api: ApiHarness, stream_id: int) -> int:
    rows = await api.server.pool.fetch_all(
        "recipient", "SELECT id FROM recipient WHERE type = 2 AND type_id = %s", (stream_id,)
    )
    recipient_id: int = rows[0][0]
    return recipient_id


async def personal_recipient(api: ApiHarness, email: str) -> int:
    return await api.server.pool.run_interaction("recipient", personal_recipient_txn, api.user(email).id)


def channel_message(api: ApiHarness, sender: str, recipient_id: int, topic: str, **fields: Any) -> NewMessage:
    assert api.realm is not None
    values: dict[str, Any] = {
        "realm_id": api.realm.id, "sender_id": api.user(sender).id, "recipient_id": recipient_id,
        "subject": topic, "content": "hello", "rendered_content": "<p>hello</p>", "sending_client": "test",
        "is_channel_message": True, "is_me_message": False, "has_link": False, "has_attachment": False,
        "has_image": False, "direct_member_ids": [], "flags_for_all": 0, "extra_flags": {},
    }  # fmt: skip
    values.update(fields)
    return NewMessage(**values)


async def insert(api: ApiHarness, messages: list[NewMessage]) -> list[InsertedMessage]:
    return await api.server.pool.run_single_statement("insert", insert_messages_txn, messages)


async def alone_and_in_a_batch(api: ApiHarness, message: NewMessage, filler: NewMessage) -> tuple[Any, Any]:
    """``message`` committed alone, then committed after ``filler`` in one batch: (receivers, policy) of each."""
    (alone,) = await insert(api, [message])
    _, batched = await insert(api, [filler, dataclasses.replace(message, subject=message.subject + " (batch)")])
    assert batched.id > alone.id
    return (alone.receivers, alone.new_visibility_policy), (batched.receivers, batched.new_visibility_policy)


async def topic_policies(api: ApiHarness, email: str) -> dict[str, int]:
    rows = await api.server.pool.fetch_all(
        "policies", "SELECT topic_name, visibility_policy FROM user_topic WHERE user_id = %s", (api.user(email).id,)
    )
    return {topic: policy for topic, policy in rows}


@async_test
async def test_a_lone_message_and_a_batched_one_get_the_same_rows_flags_and_topic_policies(api: ApiHarness) -> None:
    denmark = await recipient_of_channel(
        api, await create_channel(api, IAGO, "Denmark", principals=[HAMLET, OTHELLO, CORDELIA, AARON])
    )
    await execute(api, "UPDATE user_profile SET is_active = false WHERE id = %s", [api.user(AARON).id])
    filler = channel_message(api, ZOE, await personal_recipient(api, ZOE), "", is_channel_message=False)
    hamlet, othello, cordelia, iago = (api.user(email).id for email in (HAMLET, OTHELLO, CORDELIA, IAGO))
    everyone = [iago, hamlet, othello, cordelia]
    cases = {
        # Receivers: the active subscribers; extra flags only on rows that exist (Zoe is no subscriber).
        "mentions": (
            channel_message(api, HAMLET, denmark, "mentions", extra_flags={hamlet: READ, cordelia: MENTIONED,
                                                                           api.user(ZOE).id: MENTIONED}),
            sorted((user, {hamlet: READ, cordelia: MENTIONED}.get(user, 0)) for user in everyone),
            None,
        ),
        "follows a topic it starts": (
            channel_message(api, HAMLET, denmark, "started", follow_when=ON_START),
            [(user, 0) for user in sorted(everyone)],
            FOLLOWED,
        ),
        "follows on every send": (
            channel_message(api, OTHELLO, denmark, "mentions", follow_when=ON_SEND),
            [(user, 0) for user in sorted(everyone)],
            FOLLOWED,
        ),
        "never follows": (
            channel_message(api, CORDELIA, denmark, "quiet", follow_when=NEVER, unmute_when=ON_SEND),
            [(user, 0) for user in sorted(everyone)],
            None,  # the channel is not muted for her: nothing to unmute
        ),
        "a sender outside the channel": (
            channel_message(api, ZOE, denmark, "visitor"),
            sorted([(user, 0) for user in everyone] + [(api.user(ZOE).id, 0)]),
            None,
        ),
        "a direct message": (
            channel_message(
                api, HAMLET, await personal_recipient(api, OTHELLO), "", is_channel_message=False,
                direct_member_ids=[hamlet, othello], flags_for_all=IS_PRIVATE, extra_flags={hamlet: READ},
                follow_when=ON_SEND,
            ),
            sorted([(hamlet, IS_PRIVATE | READ), (othello, IS_PRIVATE)]),
            None,
        ),
    }  # fmt: skip
    for name, (message, receivers, policy) in cases.items():
        alone, batched = await alone_and_in_a_batch(api, message, filler)
        assert alone == batched == (receivers, policy), name
    assert await topic_policies(api, HAMLET) == {"started": FOLLOWED, "started (batch)": FOLLOWED}
    assert await topic_policies(api, OTHELLO) == {"mentions": FOLLOWED, "mentions (batch)": FOLLOWED}
    assert await topic_policies(api, CORDELIA) == {}


@async_test
async def test_only_a_topics_first_message_starts_it_alone_or_in_a_batch(api: ApiHarness) -> None:
    denmark = await recipient_of_channel(api, await create_channel(api, IAGO, "Denmark", principals=[HAMLET]))
    await insert(api, [channel_message(api, IAGO, denmark, "old news")])
    filler = channel_message(api, IAGO, denmark, "elsewhere")

    def starting(topic: str) -> NewMessage:
        return channel_message(api, HAMLET, denmark, topic, follow_when=ON_START)

    # Topics match whatever their case.
    (alone,) = await insert(api, [starting("OLD NEWS")])
    assert alone.new_visibility_policy is None
    _, batched = await insert(api, [channel_message(api, IAGO, denmark, "fresh"), starting("Fresh")])
    assert batched.new_visibility_policy is None
    batched, _ = await insert(api, [starting("brand new"), filler])
    assert batched.new_visibility_policy == FOLLOWED
    (alone,) = await insert(api, [starting("newer")])
    assert alone.new_visibility_policy == FOLLOWED
    assert await topic_policies(api, HAMLET) == {"brand new": FOLLOWED, "newer": FOLLOWED}


@async_test
async def test_a_muted_channel_is_unmuted_for_its_sender_alone_or_in_a_batch(api: ApiHarness) -> None:
    stream_id = await create_channel(api, IAGO, "Denmark", principals=[HAMLET])
    denmark = await recipient_of_channel(api, stream_id)
    await execute(
        api, "UPDATE subscription SET is_muted = true WHERE user_id = %s AND recipient_id = %s",
        [api.user(HAMLET).id, denmark],
    )  # fmt: skip
    filler = channel_message(api, IAGO, denmark, "elsewhere")
    message = channel_message(api, HAMLET, denmark, "back", follow_when=NEVER, unmute_when=ON_START)
    alone, batched = await alone_and_in_a_batch(api, message, filler)
    assert alone[1] == batched[1] == UNMUTED
    assert await topic_policies(api, HAMLET) == {"back": UNMUTED, "back (batch)": UNMUTED}


@async_test
async def test_a_channels_first_message_is_recorded_alone_or_in_a_batch(api: ApiHarness) -> None:
    first_ids = {}
    for name, batch in (("Alone", False), ("Batched", True)):
        stream_id = await create_channel(api, IAGO, name)
        recipient_id = await recipient_of_channel(api, stream_id)
        messages = [channel_message(api, IAGO, recipient_id, "hello")] * (2 if batch else 1)
        inserted = await insert(api, messages)
        await insert(api, [channel_message(api, IAGO, recipient_id, "later")])
        rows = await api.server.pool.fetch_all(
            "first", "SELECT first_message_id FROM stream WHERE id = %s", (stream_id,)
        )
        first_ids[name] = (rows[0][0], inserted[0].id)
    assert first_ids["Alone"][0] == first_ids["Alone"][1]
    assert first_ids["Batched"][0] == first_ids["Batched"][1]


class _CapturedPlan(Exception):
    pass


class _ExplainingTransaction(Transaction):
    """Runs the prepared statement under EXPLAIN ANALYZE and raises its plan (the transaction then rolls back)."""

    def __init__(self, inner: Transaction) -> None:
        super().__init__(inner._cursor)

    async def fetch_all(self, sql: str, parameters: Any = None) -> list[tuple[Any, ...]]:
        if not sql.startswith("EXECUTE "):
            return await super().fetch_all(sql, parameters)
        rows = await super().fetch_all("EXPLAIN (ANALYZE) " + sql, parameters)
        raise _CapturedPlan("\n".join(row[0] for row in rows))


async def _plan_of(pool: DatabasePool, messages: list[NewMessage]) -> str:
    async def explain(txn: Transaction) -> None:
        await insert_messages_txn(_ExplainingTransaction(txn), messages)

    try:
        await pool.run_interaction("explain", explain)
    except _CapturedPlan as plan:
        return str(plan)
    raise AssertionError("the statement was not run")


@async_test
async def test_a_new_topic_is_looked_up_in_the_topic_index_whatever_the_statistics(
    api: ApiHarness, database_dsn: str
) -> None:
    denmark = await recipient_of_channel(api, await create_channel(api, IAGO, "Denmark", principals=[HAMLET]))
    # A few busy topics: the statistics then make any topic look common, and a plan made
    # for any parameters could read the whole table (or its id order) looking for one.
    for topic in ("general", "random"):
        for _ in range(3):
            await insert(api, [channel_message(api, IAGO, denmark, topic)] * 100)
    await execute(api, "ANALYZE message", [])
    pool = DatabasePool(database_dsn, 1, reactor)  # a connection of its own: nothing prepared yet
    await pool.start()
    try:
        lone = [channel_message(api, HAMLET, denmark, "brand new", follow_when=ON_START)]
        batch = [channel_message(api, HAMLET, denmark, f"new {number}", follow_when=ON_START) for number in (1, 2)]
        for messages in (lone, batch):
            plan = await _plan_of(pool, messages)
            probes = [line for line in plan.splitlines() if " on message old" in line]
            assert probes, plan
            assert all("Index Scan using message_recipient_topic_id on message old" in line for line in probes), plan
            assert "Rows Removed by Filter" not in plan.split(" on message old", 1)[1].split("->", 1)[0], plan
    finally:
        await pool.close()
