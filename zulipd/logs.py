"""Log observers for twistd's ``--logger`` option: JSON lines for log shippers, or text.

    twistd --logger zulipd.logs.json_lines -n zulipd
    twistd --logger zulipd.logs.text_lines -n zulipd

JSON lines carry ``time`` (ISO 8601, UTC), ``level``, ``namespace``, the
rendered ``message``, and every structured field of the event that JSON can
represent (others are given as their ``repr``). Tracebacks go in ``traceback``.
Text lines look like twistd's own: ``TIME [namespace#level] message``.

Both write through a buffer flushed at least every half second, at once for
warnings and worse, and at shutdown. twistd's own observer flushes after
every event: on a busy server that is a write(2) per request, which costs more
than serving the request.
"""

from __future__ import annotations

import atexit
import json
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from typing import IO, Any

from twisted.logger import ILogObserver, LogEvent, LogLevel, formatEvent
from zope.interface import implementer

_SKIP = {"log_format", "log_level", "log_namespace", "log_time", "log_logger", "log_source", "log_failure",
         "log_io", "log_text", "log_legacy", "log_flattened", "log_trace", "format", "message", "time",
         "system", "isError", "log_system"}  # fmt: skip


def _plain(value: Any) -> Any:
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    if isinstance(value, (list, tuple)):
        return [_plain(item) for item in value]
    if isinstance(value, dict):
        return {str(key): _plain(item) for key, item in value.items()}
    return repr(value)


def format_json_line(event: LogEvent) -> str:
    level = event.get("log_level")
    record: dict[str, Any] = {
        "time": datetime.fromtimestamp(event.get("log_time", 0), UTC).isoformat(timespec="milliseconds"),
        "level": getattr(level, "name", "info"),
        "namespace": event.get("log_namespace", ""),
        "message": _message(event),
    }
    for key, value in event.items():
        if key not in _SKIP and not key.startswith("log_") and key not in record:
            record[key] = _plain(value)
    failure = event.get("log_failure")
    if failure is not None:
        record["traceback"] = failure.getTraceback()
    return json.dumps(record, ensure_ascii=False) + "\n"


_time_cache: tuple[int, str] = (-1, "")


def _message(event: LogEvent) -> str:
    """formatEvent(), minus the formatter for the frequent "{field}" formats (the access log's)."""
    fmt = event.get("log_format")
    if (
        isinstance(fmt, str)
        and fmt.startswith("{")
        and fmt.endswith("}")
        and fmt.count("{") == 1
        and fmt[1:-1].isidentifier()
        and fmt[1:-1] in event
    ):
        return str(event[fmt[1:-1]])
    return formatEvent(event)


def format_text_line(event: LogEvent) -> str:
    """``TIME [namespace#level] message``, as twistd writes it (time in UTC)."""
    global _time_cache
    moment = event.get("log_time", 0)
    second = int(moment)
    if _time_cache[0] != second:
        _time_cache = (second, datetime.fromtimestamp(second, UTC).strftime("%Y-%m-%dT%H:%M:%S%z"))
    level = event.get("log_level")
    text = _message(event)
    failure = event.get("log_failure")
    if failure is not None:
        text = f"{text}\n{failure.getTraceback()}"
    text = text.replace("\n", "\n\t")
    return f"{_time_cache[1]} [{event.get('log_namespace', '-')}#{getattr(level, 'name', 'info')}] {text}\n"


_observers: list[BufferedLogObserver] = []


def flush_buffered_logs() -> None:
    """Write out every buffered log line now (before a hard exit)."""
    for observer in _observers:
        observer.flush()


@implementer(ILogObserver)
class BufferedLogObserver:
    """Formats each event at once and writes them out in batches."""

    FLUSH_INTERVAL = 0.5
    FLUSH_BYTES = 64 * 1024

    def __init__(self, output: IO[str], format_event: Callable[[LogEvent], str]) -> None:
        self._output = output
        self._format = format_event
        self._pending: list[str] = []
        self._pending_size = 0
        self._flush_call: Any = None
        _observers.append(self)
        atexit.register(self.flush)

    def __call__(self, event: LogEvent) -> None:
        text = self._format(event)
        if not text:
            return
        self._pending.append(text)
        self._pending_size += len(text)
        level = event.get("log_level")
        if self._pending_size >= self.FLUSH_BYTES or (level is not None and level >= LogLevel.warn):
            self.flush()
        elif self._flush_call is None:
            self._schedule()

    def _schedule(self) -> None:
        from twisted.internet import reactor

        running: Any = reactor
        if not running.running:
            self.flush()  # no reactor to flush later: before start and after shutdown
            return
        self._flush_call = running.callLater(self.FLUSH_INTERVAL, self.flush)

    def flush(self) -> None:
        if self._flush_call is not None and self._flush_call.active():
            self._flush_call.cancel()
        self._flush_call = None
        if self._pending:
            text, self._pending, self._pending_size = "".join(self._pending), [], 0
            try:
                self._output.write(text)
                self._output.flush()
            except (OSError, ValueError):  # a closed or full output must not break the server
                pass


def json_lines(output: IO[str] | None = None) -> BufferedLogObserver:
    """JSON lines on standard output, for twistd's ``--logger`` option."""
    return BufferedLogObserver(output or sys.stdout, format_json_line)


def text_lines(output: IO[str] | None = None) -> BufferedLogObserver:
    """twistd-style text lines on standard output, for twistd's ``--logger`` option."""
    return BufferedLogObserver(output or sys.stdout, format_text_line)
