"""JSON-lines logging for log shippers."""

from __future__ import annotations

import io
import json

from twisted.logger import Logger, LogPublisher
from twisted.python.failure import Failure

from zulipd.logs import json_lines


def test_each_event_is_one_json_object_with_its_structured_fields() -> None:
    output = io.StringIO()
    publisher = LogPublisher(json_lines(output))
    log = Logger(namespace="zulipd.test", observer=publisher)
    log.warn("Slow transaction {description}: {elapsed:.3f} s", description="send message", elapsed=1.23456)
    log.info("Listening on {endpoint}", endpoint="tcp:9991", port=9991, peers=("a", "b"), thing=object())
    lines = output.getvalue().splitlines()
    assert len(lines) == 2
    first, second = (json.loads(line) for line in lines)
    assert first["level"] == "warn"
    assert first["namespace"] == "zulipd.test"
    assert first["message"] == "Slow transaction send message: 1.235 s"
    assert first["description"] == "send message"
    assert first["elapsed"] == 1.23456
    assert first["time"].endswith("+00:00")
    assert second["port"] == 9991
    assert second["peers"] == ["a", "b"]
    assert second["thing"].startswith("<object object")
    assert "log_format" not in second


def test_failures_carry_their_traceback() -> None:
    output = io.StringIO()
    log = Logger(namespace="zulipd.test", observer=LogPublisher(json_lines(output)))
    try:
        raise ValueError("boom")
    except ValueError:
        log.failure("Something failed", Failure())
    record = json.loads(output.getvalue())
    assert record["level"] == "critical"
    assert record["message"] == "Something failed"
    assert "ValueError: boom" in record["traceback"]
