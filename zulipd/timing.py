"""Waiting on an injected clock, so that tests can drive time; work put off until the reactor's turn is done."""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

from twisted.internet import defer, task
from twisted.internet.interfaces import IReactorTime
from twisted.logger import Logger

log = Logger()

T = TypeVar("T")


def sleep(clock: IReactorTime, seconds: float) -> defer.Deferred[None]:
    return task.deferLater(clock, seconds, lambda: None)


async def with_timeout(clock: IReactorTime, seconds: float, work: Coroutine[Any, Any, T]) -> T:
    """Await ``work``, cancelling it after ``seconds`` (raises ``defer.TimeoutError``)."""
    return await defer.ensureDeferred(work).addTimeout(seconds, clock)


class AfterTurn:
    """Runs callables once the reactor has finished its current turn, all of them from one timer.

    Work that many events can each ask for (sending a listener what its queue
    holds) is done once for all the events that arrive in one turn: those of
    one commit, for example. Callables run in the order they were given; one
    that fails is logged and the rest still run.
    """

    def __init__(self, clock: IReactorTime) -> None:
        self._clock = clock
        self._waiting: list[Callable[[], object]] = []

    def call(self, work: Callable[[], object]) -> None:
        if not self._waiting:
            self._clock.callLater(0, self._run)
        self._waiting.append(work)

    def wait(self) -> defer.Deferred[None]:
        """A Deferred that fires once the current turn is done."""
        done: defer.Deferred[None] = defer.Deferred()
        self.call(lambda: done.callback(None))
        return done

    def _run(self) -> None:
        waiting, self._waiting = self._waiting, []
        for work in waiting:
            try:
                work()
            except Exception:
                log.failure("Work put off to the end of a reactor turn failed")
