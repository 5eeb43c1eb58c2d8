"""Log output for log shippers: one JSON object per line.

    twistd --logger zulipd.logs.json_lines -n zulipd

Each line carries ``time`` (ISO 8601, UTC), ``level``, ``namespace``, the
rendered ``message``, and every structured field of the event that JSON can
represent (others are given as their ``repr``). Tracebacks go in ``traceback``.
"""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime
from typing import IO, Any

from twisted.logger import FileLogObserver, LogEvent, formatEvent

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
        "message": formatEvent(event),
    }
    for key, value in event.items():
        if key not in _SKIP and not key.startswith("log_") and key not in record:
            record[key] = _plain(value)
    failure = event.get("log_failure")
    if failure is not None:
        record["traceback"] = failure.getTraceback()
    return json.dumps(record, ensure_ascii=False) + "\n"


def json_lines(output: IO[str] | None = None) -> FileLogObserver:
    """A log observer factory for twistd's ``--logger`` option."""
    return FileLogObserver(output or sys.stdout, format_json_line)
