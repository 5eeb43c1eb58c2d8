"""Event queues, shards and the router on a fake clock: ids, pruning, merging, heartbeats, collection."""

from __future__ import annotations

import json
import random
from pathlib import Path

import orjson
import pytest
from twisted.internet.task import Clock

from tests.support.async_tests import async_test, captured_logs
from zulipd.errors import JsonableError
from zulipd.events.event import Notice, SharedEvent, variants_cache
from zulipd.events.persistence import QUEUES_FILE, restore_queues, save_queues
from zulipd.events.queue import BadEventQueueId, EventQueue, QueueOptions, narrow_matches, parse_queue_narrow
from zulipd.events.router import EventRouter
from zulipd.events.shard import Shard


def decoded(queue: EventQueue) -> list[dict[str, object]]:
    """What GET /events would send, parsed back."""
    return json.loads(orjson.dumps(queue.encoded_events()))  # type: ignore[no-any-return]


def flags_event(op: str, flag: str, messages: list[int], all_: bool = False) -> SharedEvent:
    return SharedEvent({"type": "update_message_flags", "op": op, "flag": flag, "messages": messages, "all": all_})


def test_ids_count_up_and_pruning_drops_what_was_acknowledged() -> None:
    queue = EventQueue("q", 1, 1, QueueOptions(), now=0.0)
    for number in range(3):
        assert queue.push(SharedEvent({"type": "presence", "n": number})) == number
    assert [event["id"] for event in decoded(queue)] == [0, 1, 2]
    queue.prune(1)
    assert decoded(queue) == [{"id": 2, "type": "presence", "n": 2}]
    queue.prune(1)  # acknowledging again is harmless
    with pytest.raises(JsonableError, match="An event newer than 0 has already been pruned!"):
        queue.prune(0)
    with pytest.raises(JsonableError, match="Event 3 was not in this queue"):
        queue.prune(3)
    queue.prune(2)
    assert queue.empty


def test_shared_bodies_are_encoded_once_and_spliced_per_queue() -> None:
    shared = SharedEvent({"type": "message", "message": {"id": 7, "content": "caf\u00e9 \ud800"}})
    first, second = EventQueue("a", 1, 1, QueueOptions(), 0.0), EventQueue("b", 2, 1, QueueOptions(), 0.0)
    second.push(SharedEvent({"type": "heartbeat"}))
    first.push(shared, {"flags": ["read"]})
    second.push(shared, {"flags": []})
    members = shared.members()
    assert shared.members() is members  # cached, not re-encoded
    # A lone surrogate cannot be UTF-8; it is escaped rather than refused.
    assert decoded(first) == [{"id": 0, "flags": ["read"], "type": "message", "message": shared.body["message"]}]
    assert decoded(second)[1] == {"id": 1, "flags": [], "type": "message", "message": shared.body["message"]}


def test_flag_events_merge_as_in_zulip() -> None:
    queue = EventQueue("q", 1, 1, QueueOptions(), 0.0)
    queue.push(flags_event("add", "starred", [1]))
    queue.push(SharedEvent({"type": "presence"}))
    queue.push(flags_event("add", "starred", [2, 3]))
    queue.push(flags_event("remove", "read", [4]))
    queue.push(flags_event("remove", "read", [5]))
    queue.push(flags_event("add", "read", [6], all_=True))
    events = decoded(queue)
    assert [(event["id"], event["type"]) for event in events] == [
        (1, "presence"),
        (2, "update_message_flags"),
        (3, "update_message_flags"),
        (4, "update_message_flags"),
        (5, "update_message_flags"),
    ]
    assert events[1]["messages"] == [1, 2, 3]
    assert [events[2]["messages"], events[3]["messages"]] == [[4], [5]]  # removing read never merges
    # Once acknowledged, a merged event is gone; the next one starts afresh.
    queue.prune(5)
    queue.push(flags_event("add", "starred", [9]))
    assert decoded(queue) == [{"id": 6, "type": "update_message_flags", "op": "add", "flag": "starred",
                               "messages": [9], "all": False}]  # fmt: skip


def test_events_after_any_id_of_a_long_queue() -> None:
    queue = EventQueue("q", 1, 1, QueueOptions(), 0.0)
    for number in range(20):
        queue.push(SharedEvent({"type": "presence", "n": number}))
    queue.prune(4)  # ids 5 to 19 are left
    for after in range(3, 21):
        ids = [json.loads(bytes(orjson.dumps(fragment)))["id"] for fragment in queue.encoded_events_after(after)]
        assert ids == list(range(max(after + 1, 5), 20)), after


def test_events_after_an_id_and_pruning_keep_id_order_through_merges() -> None:
    queue = EventQueue("q", 1, 1, QueueOptions(), 0.0)
    queue.push(flags_event("add", "starred", [1]))  # 0, merged into 3 below
    queue.push(SharedEvent({"type": "presence"}))  # 1
    queue.push(SharedEvent({"type": "heartbeat"}))  # 2
    queue.push(flags_event("add", "starred", [2]))  # 3: the merged event moves to the end
    after = [json.loads(bytes(orjson.dumps(fragment))) for fragment in queue.encoded_events_after(1)]
    assert [(event["id"], event["type"]) for event in after] == [(2, "heartbeat"), (3, "update_message_flags")]
    assert queue.encoded_events_after(3) == []
    queue.prune(2)
    assert [(event["id"], event.get("messages")) for event in decoded(queue)] == [(3, [1, 2])]
    # The merged event survived the pruning, so the next starred change still joins it.
    queue.push(flags_event("add", "starred", [5]))
    assert [(event["id"], event.get("messages")) for event in decoded(queue)] == [(4, [1, 2, 5])]


def test_event_types_and_narrows_filter_what_a_queue_accepts() -> None:
    message = {"type": "stream", "display_recipient": "Verona", "subject": "✔ bridge", "sender_email": "a@x.com"}
    notice = Notice(SharedEvent({"type": "message", "message": message}), [1], per_user={1: {"flags": ["starred"]}})
    assert EventQueue("q", 1, 1, QueueOptions(event_types=frozenset({"message"})), 0.0).accepts(notice)
    assert not EventQueue("q", 1, 1, QueueOptions(event_types=frozenset({"presence"})), 0.0).accepts(notice)
    for narrow, expected in (
        ([["stream", "verona"]], True),
        ([["channel", "Denmark"]], False),
        ([["topic", "✔ BRIDGE"], ["is", "resolved"]], True),
        ([["is", "starred"], ["is", "unread"]], True),
        ([["is", "mentioned"]], False),
        ([["is", "dm"]], False),
        ([{"operator": "sender", "operand": "A@X.COM"}], True),
    ):
        options = QueueOptions(narrow=parse_queue_narrow(narrow))
        assert EventQueue("q", 1, 1, options, 0.0).accepts(notice) is expected, narrow
    assert narrow_matches((("is", "dm"),), {"type": "private"}, [])
    typing = Notice(SharedEvent({"type": "typing", "message_type": "stream"}), [1])
    assert not EventQueue("q", 1, 1, QueueOptions(), 0.0).accepts(typing)
    capable = QueueOptions(capabilities=frozenset({"stream_typing_notifications"}))
    assert EventQueue("q", 1, 1, capable, 0.0).accepts(typing)


def test_a_heartbeat_comes_45_to_55_seconds_after_parking() -> None:
    clock = Clock()
    shard = Shard(0, clock, random.Random(3))
    shard.start()
    delays = []
    for _ in range(20):
        queue = shard.register(1, 1, QueueOptions())
        parked = clock.seconds()
        waiter = shard.park(queue)
        while not waiter.called:
            clock.advance(1)
        delays.append(clock.seconds() - parked)
        shard.unpark(queue, waiter)
        assert [event["type"] for event in decoded(queue)] == ["heartbeat"]
    assert min(delays) >= 45
    assert max(delays) <= 55
    assert len(set(delays)) > 1  # spread, so that clients do not all come back at once
    shard.stop()


def test_an_event_before_the_heartbeat_cancels_it() -> None:
    clock = Clock()
    shard = Shard(0, clock)
    queue = shard.register(1, 1, QueueOptions())
    waiter = shard.park(queue)
    shard.deliver(Notice(SharedEvent({"type": "presence"}), [1]), [1])
    assert waiter.called
    shard.unpark(queue, waiter)
    queue.prune(0)
    clock.advance(60)
    assert queue.empty


def test_idle_queues_are_collected_and_parked_ones_kept() -> None:
    clock = Clock()
    shard = Shard(0, clock)
    shard.start()
    idle = shard.register(1, 1, QueueOptions(lifespan=600))
    long_lived = shard.register(1, 1, QueueOptions(lifespan=3600))
    polled = shard.register(2, 1, QueueOptions(lifespan=600))
    clock.advance(590)
    polled.last_seen = clock.seconds()
    clock.advance(70)  # the scan at 660 s: idle has waited 660 s, polled 70 s
    with pytest.raises(BadEventQueueId):
        shard.get(idle.id, 1)
    assert shard.get(long_lived.id, 1) is long_lived
    assert shard.get(polled.id, 2) is polled
    # A parked request keeps its queue, even past its lifespan; the end of the request counts as a poll.
    short = shard.register(3, 1, QueueOptions(lifespan=30))
    waiter = shard.park(short)
    clock.advance(40)
    shard.collect_garbage()
    assert shard.get(short.id, 3) is short
    shard.unpark(short, waiter)
    clock.advance(20)
    shard.collect_garbage()
    assert shard.get(short.id, 3) is short
    clock.advance(3600)
    assert len(shard) == 0
    shard.stop()


def test_another_users_queue_is_unknown() -> None:
    shard = Shard(0, Clock())
    queue = shard.register(1, 1, QueueOptions())
    with pytest.raises(BadEventQueueId) as raised:
        shard.get(queue.id, 2)
    assert raised.value.body() == {"result": "error", "msg": f"Bad event queue ID: {queue.id}",
                                   "code": "BAD_EVENT_QUEUE_ID", "queue_id": queue.id}  # fmt: skip
    with pytest.raises(BadEventQueueId):
        shard.delete(queue.id, 2)
    assert shard.get(queue.id, 1) is queue


def test_the_router_sends_each_user_to_their_shard() -> None:
    router = EventRouter(4, Clock())
    queues = {user_id: router.register(user_id, 1, QueueOptions()) for user_id in range(1, 9)}
    for user_id, queue in queues.items():
        assert router.shard_for(user_id).number == user_id % 4
        assert router.shard_for(user_id).get(queue.id, user_id) is queue
    built = []

    def build(rendering: tuple[bool, bool]) -> SharedEvent:
        built.append(rendering)
        return SharedEvent({"type": "message", "message": {"rendered": rendering[0]}})

    variants = variants_cache(build)
    router.publish(Notice(variants((False, False)), [2, 3, 6], variants=variants))
    reached = sorted(user_id for user_id, queue in queues.items() if not queue.empty)
    assert reached == [2, 3, 6]
    assert built == [(False, False)]  # one body for every queue that renders alike


def test_all_public_streams_queues_get_public_messages_once() -> None:
    router = EventRouter(2, Clock())
    watcher = router.register(5, 1, QueueOptions(all_public_streams=True))
    other_realm = router.register(6, 2, QueueOptions(all_public_streams=True))
    notice = Notice(SharedEvent({"type": "message", "message": {}}), [5, 7], public_in_realm=1)
    router.publish(notice)
    assert [event["id"] for event in decoded(watcher)] == [0]
    assert other_realm.empty


RESTART = {"type": "restart", "zulip_version": "10.2", "zulip_merge_base": "10.2", "zulip_feature_level": 372,
           "server_generation": 1}  # fmt: skip


@async_test
async def test_queues_come_back_after_a_graceful_restart(tmp_path: Path) -> None:
    before = EventRouter(2, Clock())
    narrow = parse_queue_narrow([["is", "dm"]])
    options = QueueOptions(event_types=frozenset({"message", "restart"}), narrow=narrow, apply_markdown=True,
                           capabilities=frozenset({"bulk_message_deletion"}), lifespan=3600)  # fmt: skip
    kept = before.register(7, 1, options)
    for number in range(3):
        kept.push(SharedEvent({"type": "message", "message": {"id": number}}), {"flags": ["read"]})
    kept.prune(0)
    quiet = before.register(8, 1, QueueOptions(event_types=frozenset({"message"})))
    assert await save_queues(before, str(tmp_path)) == 2
    assert (tmp_path / QUEUES_FILE).stat().st_mode & 0o777 == 0o600

    after = EventRouter(2, Clock())
    assert await restore_queues(after, str(tmp_path), 100.0, RESTART) == 2
    restored = after.get(kept.id, 7)
    assert restored.options == options
    assert restored.last_seen == 100.0  # clients get a full lifespan to come back
    assert decoded(restored) == [
        {"id": 1, "type": "message", "message": {"id": 1}, "flags": ["read"]},
        {"id": 2, "type": "message", "message": {"id": 2}, "flags": ["read"]},
        {"id": 3, **RESTART},
    ]
    with pytest.raises(JsonableError, match="already been pruned"):
        restored.prune(-1)
    # A queue that did not ask for restart events gets none, as in Zulip.
    assert after.get(quiet.id, 8).empty
    # The file is gone once read: after a crash, nothing stale comes back.
    assert not (tmp_path / QUEUES_FILE).exists()
    assert await restore_queues(EventRouter(1, Clock()), str(tmp_path), 0.0, RESTART) == 0


@async_test
async def test_an_unreadable_queues_file_is_ignored(tmp_path: Path) -> None:
    (tmp_path / QUEUES_FILE).write_text('{"version": 1, "queues": [{"id": "x"}]}')
    with captured_logs() as logs:
        assert await restore_queues(EventRouter(1, Clock()), str(tmp_path), 0.0, RESTART) == 0
    assert any("cannot be read" in text for text in logs.formats())
