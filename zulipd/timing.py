"""Waiting on an injected clock, so that tests can drive time."""

from __future__ import annotations

from collections.abc import Coroutine
from typing import Any, TypeVar

from twisted.internet import defer, task
from twisted.internet.interfaces import IReactorTime

T = TypeVar("T")


def sleep(clock: IReactorTime, seconds: float) -> defer.Deferred[None]:
    return task.deferLater(clock, seconds, lambda: None)


async def with_timeout(clock: IReactorTime, seconds: float, work: Coroutine[Any, Any, T]) -> T:
    """Await ``work``, cancelling it after ``seconds`` (raises ``defer.TimeoutError``)."""
    return await defer.ensureDeferred(work).addTimeout(seconds, clock)
