"""Typed spellings of pytest-twisted's decorators, and a log capture."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar, cast

import pytest_twisted
from twisted.logger import ILogObserver, LogEvent, globalLogPublisher
from zope.interface import implementer

F = TypeVar("F", bound=Callable[..., Any])


def async_test(function: F) -> F:
    """Run an ``async def`` test on the reactor."""
    return cast(F, pytest_twisted.ensureDeferred(function))


def async_fixture(function: F) -> F:
    """An ``async def`` generator fixture (set-up, ``yield``, tear-down) on the reactor."""
    return cast(F, pytest_twisted.async_yield_fixture(function))


@implementer(ILogObserver)
class LogCapture:
    def __init__(self) -> None:
        self.events: list[LogEvent] = []

    def __call__(self, event: LogEvent) -> None:
        self.events.append(event)

    def formats(self) -> list[str]:
        return [str(event.get("log_format", "")) for event in self.events]


@contextmanager
def captured_logs() -> Iterator[LogCapture]:
    capture = LogCapture()
    globalLogPublisher.addObserver(capture)
    try:
        yield capture
    finally:
        globalLogPublisher.removeObserver(capture)
