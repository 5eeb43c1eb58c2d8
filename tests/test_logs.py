"""JSON-lines logging for log shippers."""

from __future__ import annotations

import io
import json

from twisted.logger import Logger, LogPublisher
from twisted.python.failure import Failure

from zulipd.logs import json_lines, text_lines


def test_each_event_is_one_json_object_with_its_structured_fields() -> None:
    output = io.StringIO()
    observer = json_lines(output)
    log = Logger(namespace="zulipd.test", observer=LogPublisher(observer))
    log.warn("Slow transaction {description}: {elapsed:.3f} s", description="send message", elapsed=1.23456)
    log.info("Listening on {endpoint}", endpoint="tcp:9991", port=9991, peers=("a", "b"), thing=object())
    observer.flush()
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
    observer = json_lines(output)
    log = Logger(namespace="zulipd.test", observer=LogPublisher(observer))
    try:
        raise ValueError("boom")
    except ValueError:
        log.failure("Something failed", Failure())
    observer.flush()
    record = json.loads(output.getvalue())
    assert record["level"] == "critical"
    assert record["message"] == "Something failed"
    assert "ValueError: boom" in record["traceback"]


def test_info_is_buffered_and_warnings_are_written_at_once() -> None:
    output = io.StringIO()
    observer = text_lines(output)
    log = Logger(namespace="zulipd.test", observer=LogPublisher(observer))
    log.info("first {n}", n=1)
    log.info("second")
    assert output.getvalue() == ""  # waiting for the next flush
    log.warn("something is wrong")
    lines = output.getvalue().splitlines()
    assert [line.split(" ", 1)[1] for line in lines] == [
        "[zulipd.test#info] first 1",
        "[zulipd.test#info] second",
        "[zulipd.test#warn] something is wrong",
    ]
    assert lines[0][:4].isdigit()
    assert lines[0][19:24] == "+0000"


def test_a_traceback_is_indented_under_its_line() -> None:
    output = io.StringIO()
    observer = text_lines(output)
    log = Logger(namespace="zulipd.test", observer=LogPublisher(observer))
    try:
        raise ValueError("boom")
    except ValueError:
        log.failure("It failed", Failure())
    text = output.getvalue()
    assert "[zulipd.test#critical] It failed\n\tTraceback" in text
    assert all(line.startswith("\t") for line in text.splitlines()[1:])
