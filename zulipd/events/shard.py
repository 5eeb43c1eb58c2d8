"""A shard: the event queues of the users ``user_id % N == number``, their heartbeats and their collection.

A parked request gets a heartbeat event 45 to 55 seconds after it parks,
unless an event comes first. Every 60 seconds the shard collects the queues
nobody has polled for their lifespan (600 seconds unless the client asked for
more); a queue with a parked request is never collected.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Iterable, Iterator

from twisted.internet import defer, task
from twisted.internet.interfaces import IDelayedCall, IReactorTime
from twisted.logger import Logger

from zulipd.events.event import Notice, SharedEvent
from zulipd.events.queue import BadEventQueueId, EventQueue, QueueOptions

log = Logger()

HEARTBEAT_MIN_SECONDS = 45
HEARTBEAT_SPREAD_SECONDS = 10
GC_INTERVAL_SECONDS = 60
HEARTBEAT = SharedEvent({"type": "heartbeat"})


class Shard:
    def __init__(self, number: int, clock: IReactorTime, rng: random.Random | None = None) -> None:
        self.number = number
        self._clock = clock
        self._rng = rng or random.Random()  # noqa: S311  (spreading heartbeats, not secrets)
        self._queues: dict[str, EventQueue] = {}
        self._by_user: dict[int, dict[str, EventQueue]] = {}
        # all_public_streams queues, by realm.
        self._public: dict[int, dict[str, EventQueue]] = {}
        self._heartbeats: dict[str, IDelayedCall] = {}
        self._collector: task.LoopingCall | None = None

    # --- life ------------------------------------------------------------------------------------

    def start(self) -> None:
        collector = task.LoopingCall(self.collect_garbage)
        collector.clock = self._clock
        collector.start(GC_INTERVAL_SECONDS, now=False)
        self._collector = collector

    def stop(self) -> None:
        """Stop the timers and answer every parked request; the queues stay, to be saved."""
        for queue in self._queues.values():
            queue.release()
        if self._collector is not None and self._collector.running:
            self._collector.stop()
        self._collector = None
        for call in self._heartbeats.values():
            if call.active():
                call.cancel()
        self._heartbeats.clear()

    # --- queues ----------------------------------------------------------------------------------

    def register(self, user_id: int, realm_id: int, options: QueueOptions, queue_id: str | None = None) -> EventQueue:
        queue = EventQueue(queue_id or str(uuid.uuid4()), user_id, realm_id, options, self._clock.seconds())
        self.add(queue)
        return queue

    def add(self, queue: EventQueue) -> None:
        self._queues[queue.id] = queue
        self._by_user.setdefault(queue.user_id, {})[queue.id] = queue
        if queue.options.all_public_streams:
            self._public.setdefault(queue.realm_id, {})[queue.id] = queue

    def get(self, queue_id: str, user_id: int) -> EventQueue:
        """The user's queue; another user's answers exactly as an unknown one does."""
        queue = self._queues.get(queue_id)
        if queue is None or queue.user_id != user_id:
            raise BadEventQueueId(queue_id)
        return queue

    def delete(self, queue_id: str, user_id: int) -> None:
        self._remove(self.get(queue_id, user_id))

    def queues(self) -> Iterator[EventQueue]:
        return iter(list(self._queues.values()))

    def __len__(self) -> int:
        return len(self._queues)

    def _remove(self, queue: EventQueue) -> None:
        self._queues.pop(queue.id, None)
        mine = self._by_user.get(queue.user_id)
        if mine is not None:
            mine.pop(queue.id, None)
            if not mine:
                del self._by_user[queue.user_id]
        public = self._public.get(queue.realm_id)
        if public is not None:
            public.pop(queue.id, None)
            if not public:
                del self._public[queue.realm_id]
        self._cancel_heartbeat(queue.id)
        queue.close()

    # --- delivery --------------------------------------------------------------------------------

    def deliver(self, notice: Notice, user_ids: Iterable[int]) -> None:
        """Push ``notice`` to every accepting queue of ``user_ids`` (and to all_public_streams queues)."""
        reached: set[str] = set()
        for user_id in user_ids:
            for queue in self._by_user.get(user_id, {}).values():
                reached.add(queue.id)
                if queue.accepts(notice):
                    queue.push_notice(notice)
        if notice.public_in_realm is not None:
            for queue in self._public.get(notice.public_in_realm, {}).values():
                if queue.id not in reached and queue.accepts(notice):
                    queue.push_notice(notice)

    # --- long-polls ------------------------------------------------------------------------------

    def park(self, queue: EventQueue) -> defer.Deferred[None]:
        """Wait for the queue's next event; a heartbeat comes after 45-55 s of nothing."""
        waiter = queue.park()
        self._cancel_heartbeat(queue.id)
        delay = HEARTBEAT_MIN_SECONDS + self._rng.randint(0, HEARTBEAT_SPREAD_SECONDS)
        self._heartbeats[queue.id] = self._clock.callLater(delay, self._heartbeat, queue.id)
        return waiter

    def unpark(self, queue: EventQueue, waiter: defer.Deferred[None]) -> None:
        queue.unpark(waiter, self._clock.seconds())
        if not queue.parked:
            self._cancel_heartbeat(queue.id)

    def _heartbeat(self, queue_id: str) -> None:
        self._heartbeats.pop(queue_id, None)
        queue = self._queues.get(queue_id)
        if queue is not None:
            queue.push(HEARTBEAT)

    def _cancel_heartbeat(self, queue_id: str) -> None:
        call = self._heartbeats.pop(queue_id, None)
        if call is not None and call.active():
            call.cancel()

    # --- collection ------------------------------------------------------------------------------

    def collect_garbage(self) -> None:
        now = self._clock.seconds()
        expired = [q for q in self._queues.values() if not q.parked and now - q.last_seen >= q.options.lifespan]
        for queue in expired:
            self._remove(queue)
        if expired:
            log.info("Collected {count} idle event queues in shard {shard}", count=len(expired), shard=self.number)
