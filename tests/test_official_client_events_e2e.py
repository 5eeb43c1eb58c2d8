"""End to end, real-time events: the unmodified official ``zulip`` client's ``call_on_each_event``
against a live ``twistd -n zulipd`` (conftest.py's ``live`` fixture, on populate-dev data).

The listening client runs in a thread of its own, as a bot would; the test's
thread acts as the other users. Every event is held to Zulip's OpenAPI spec.
"""

from __future__ import annotations

import signal
import socket
import tempfile
import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import zulip

from tests.operator_tools import DEV_PASSWORD, LiveZulipd, database_from, poll, populate_dev
from tests.support.daemon import ZulipdProcess
from tests.support.openapi import assert_valid

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("official_client_events_e2e")]

HAMLET = "hamlet@zulip.com"
CORDELIA = "cordelia@zulip.com"
OTHELLO = "othello@zulip.com"
# Bounds for a thread that waits for events; never assertions about speed.
WAIT_SECONDS = 20.0


class Enough(Exception):
    """Raised by a callback to end call_on_each_event once it has what the test wants."""


class Listener:
    """``call_on_each_event`` in a thread, collecting events until ``until`` says it has enough."""

    def __init__(self, client: Any, until: Callable[[list[dict[str, Any]]], bool], **options: Any) -> None:
        self.events: list[dict[str, Any]] = []
        self.registered = threading.Event()
        self.error: BaseException | None = None
        original_register = client.register

        def register(*args: Any, **kwargs: Any) -> Any:
            answer = original_register(*args, **kwargs)
            self.registered.set()
            return answer

        # The client's own register, observed so that the test knows when the queue exists.
        client.register = register

        def on_event(event: dict[str, Any]) -> None:
            self.events.append(event)
            if until(self.events):
                raise Enough

        def run() -> None:
            try:
                client.call_on_each_event(on_event, **options)
            except Enough:
                pass
            except BaseException as error:  # reported by finish()
                self.error = error

        self.thread = threading.Thread(target=run, daemon=True)
        self.thread.start()
        assert self.registered.wait(WAIT_SECONDS), "call_on_each_event never registered"

    def finish(self) -> list[dict[str, Any]]:
        self.thread.join(WAIT_SECONDS)
        assert not self.thread.is_alive(), f"still waiting; events so far: {self.events}"
        assert self.error is None, self.error
        return self.events


def record_registrations(client: Any) -> list[dict[str, Any]]:
    """The answers of the client's own register calls, as they happen."""
    answers: list[dict[str, Any]] = []
    original_register = client.register

    def register(*args: Any, **kwargs: Any) -> Any:
        answer = original_register(*args, **kwargs)
        answers.append(answer)
        return answer

    client.register = register
    return answers


def fits_spec(event: dict[str, Any]) -> None:
    assert_valid("GET", "events", 200, {"result": "success", "msg": "", "events": [event], "queue_id": "q"})


def test_call_on_each_event_receives_messages_from_another_client(live: LiveZulipd) -> None:
    hamlet, cordelia = live.client(HAMLET), live.client(CORDELIA)
    listener = Listener(hamlet, lambda events: len(events) >= 3, event_types=["message"])
    sent = []
    for content in ("first", "second"):
        answer = cordelia.send_message({"type": "stream", "to": "Verona", "topic": "events e2e", "content": content})
        assert answer["result"] == "success", answer
        sent.append(answer["id"])
    answer = cordelia.send_message({"type": "private", "to": [HAMLET], "content": "third"})
    assert answer["result"] == "success", answer
    sent.append(answer["id"])
    events = listener.finish()
    assert [event["message"]["id"] for event in events] == sent
    assert [event["message"]["content"] for event in events] == ["first", "second", "third"]
    assert [event["id"] for event in events] == [0, 1, 2]
    for event in events:
        fits_spec(event)
        assert event["flags"] == []


def test_a_narrowed_listener_hears_only_its_topic(live: LiveZulipd) -> None:
    hamlet, othello = live.client(HAMLET), live.client(OTHELLO)
    listener = Listener(
        hamlet, lambda events: len(events) >= 1, event_types=["message"], narrow=[["stream", "Denmark"]]
    )
    noise = othello.send_message({"type": "stream", "to": "Verona", "topic": "noise", "content": "not this"})
    assert noise["result"] == "success", noise
    wanted = othello.send_message({"type": "stream", "to": "Denmark", "topic": "castle", "content": "this"})
    assert wanted["result"] == "success", wanted
    (event,) = listener.finish()
    assert event["message"]["id"] == wanted["id"]
    fits_spec(event)


def test_a_collected_queue_means_registering_again(live: LiveZulipd) -> None:
    """After BAD_EVENT_QUEUE_ID the client registers again and carries on (here: the queue is deleted)."""
    hamlet, cordelia = live.client(HAMLET), live.client(CORDELIA)
    registrations = record_registrations(hamlet)
    listener = Listener(hamlet, lambda events: len(events) >= 1, event_types=["message"])
    deleted = live.client(HAMLET).deregister(registrations[0]["queue_id"])
    assert deleted["result"] == "success", deleted
    assert poll(lambda: len(registrations) == 2), "the client did not register again"
    answer = cordelia.send_message({"type": "private", "to": [HAMLET], "content": "after the new queue"})
    (event,) = listener.finish()
    assert event["message"]["id"] == answer["id"]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@pytest.fixture
def restartable(postgres_admin_dsn: str, template_database: str) -> Iterator[tuple[ZulipdProcess, dict[str, str]]]:
    """A daemon of the test's own on a fixed port, so that clients find it again after a restart."""
    with database_from(postgres_admin_dsn, template_database) as database:
        keys = populate_dev(database, DEV_PASSWORD)
        workdir = tempfile.mkdtemp(prefix="zulipd-restart-")
        config = f"[server]\nlisten = tcp:{free_port()}:interface=127.0.0.1\n"
        daemon = ZulipdProcess(workdir, config, env=database.env())
        daemon.start()
        try:
            daemon.wait_ready()
            yield daemon, keys
        finally:
            daemon.cleanup()


def test_a_graceful_restart_keeps_the_queue_and_says_so(restartable: tuple[ZulipdProcess, dict[str, str]]) -> None:
    daemon, keys = restartable
    hamlet: Any = zulip.Client(email=HAMLET, api_key=keys[HAMLET], site=daemon.base_url)
    cordelia = zulip.Client(email=CORDELIA, api_key=keys[CORDELIA], site=daemon.base_url)
    registrations = record_registrations(hamlet)
    listener = Listener(hamlet, lambda events: len(events) >= 3, event_types=["message", "restart"])
    before = cordelia.send_message({"type": "private", "to": [HAMLET], "content": "before"})
    assert before["result"] == "success", before
    assert poll(lambda: len(listener.events) >= 1), listener.events
    assert daemon.stop() == 0
    assert any("Saved 1 event queues" in message for message in daemon.messages()), daemon.log_tail()
    # Back on the same port, with the saved queue: the client carries on without registering again.
    daemon.start()
    daemon.wait_ready()
    after = cordelia.send_message({"type": "private", "to": [HAMLET], "content": "after"})
    assert after["result"] == "success", after
    events = listener.finish()
    assert [event["type"] for event in events] == ["message", "restart", "message"]
    assert [events[0]["message"]["id"], events[2]["message"]["id"]] == [before["id"], after["id"]]
    assert [event["id"] for event in events] == [0, 1, 2]
    assert len(registrations) == 1, "the client had to register again"
    for event in events:
        fits_spec(event)


def test_after_a_crash_the_client_registers_again(restartable: tuple[ZulipdProcess, dict[str, str]]) -> None:
    daemon, keys = restartable
    hamlet: Any = zulip.Client(email=HAMLET, api_key=keys[HAMLET], site=daemon.base_url)
    cordelia = zulip.Client(email=CORDELIA, api_key=keys[CORDELIA], site=daemon.base_url)
    registrations = record_registrations(hamlet)
    listener = Listener(hamlet, lambda events: len(events) >= 1, event_types=["message"])
    daemon.signal(signal.SIGKILL)
    daemon.wait()
    daemon.start()
    daemon.wait_ready()
    assert poll(lambda: len(registrations) == 2), "the client did not register again"
    sent = cordelia.send_message({"type": "private", "to": [HAMLET], "content": "after the crash"})
    (event,) = listener.finish()
    assert event["message"]["id"] == sent["id"]
