"""The router: hands each event notice to the shards that own its users.

Shard ``user_id % N`` owns a user's queues. Today every shard lives in this
process; callers only ever see the router, so a shard can move elsewhere
(reached over Redis) without them noticing.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from typing import Any

from twisted.internet.interfaces import IReactorTime

from zulipd.events.event import Notice, SharedEvent
from zulipd.events.queue import EventQueue, QueueOptions
from zulipd.events.shard import Shard


class EventRouter:
    def __init__(self, shard_count: int, clock: IReactorTime, rng: random.Random | None = None) -> None:
        assert shard_count >= 1
        self.shards = [Shard(number, clock, rng) for number in range(shard_count)]
        # True while zulipd runs; before and after, GET /events answers at once rather than parking.
        self.accepting = False

    def start(self) -> None:
        self.accepting = True
        for shard in self.shards:
            shard.start()

    def stop(self) -> None:
        self.accepting = False
        for shard in self.shards:
            shard.stop()

    def shard_for(self, user_id: int) -> Shard:
        return self.shards[user_id % len(self.shards)]

    def register(self, user_id: int, realm_id: int, options: QueueOptions) -> EventQueue:
        return self.shard_for(user_id).register(user_id, realm_id, options)

    def get(self, queue_id: str, user_id: int) -> EventQueue:
        return self.shard_for(user_id).get(queue_id, user_id)

    def delete(self, queue_id: str, user_id: int) -> None:
        self.shard_for(user_id).delete(queue_id, user_id)

    def publish(self, notice: Notice) -> None:
        """Deliver to every queue of the notice's users that accepts it."""
        count = len(self.shards)
        if count == 1:
            self.shards[0].deliver(notice, notice.user_ids)
            return
        by_shard: dict[int, list[int]] = {}
        for user_id in notice.user_ids:
            by_shard.setdefault(user_id % count, []).append(user_id)
        for number, shard in enumerate(self.shards):
            user_ids = by_shard.get(number)
            if user_ids or notice.public_in_realm is not None:
                shard.deliver(notice, user_ids or ())

    def add(self, queue: EventQueue) -> None:
        """A queue built elsewhere (restored after a restart)."""
        self.shard_for(queue.user_id).add(queue)

    def push_restart(self, body: dict[str, Any]) -> None:
        """The ``restart`` event, to every queue that accepts it (as in Zulip, event_types apply)."""
        event = SharedEvent(body)
        for queue in self.queues():
            if queue.options.wants(event.type):
                queue.push(event)

    def queues(self) -> Iterator[EventQueue]:
        for shard in self.shards:
            yield from shard.queues()
