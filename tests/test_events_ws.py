"""The WebSocket transport of event queues: same events, same ids, acknowledgements, switching, refusals."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
from autobahn.twisted.websocket import WebSocketClientFactory, WebSocketClientProtocol, connectWS
from twisted.internet import defer, reactor, task

from tests.chat_support import (
    CORDELIA,
    HAMLET,
    assert_error,
    first_commit_done_second_under_way,
    hold_commits,
    queued_events,
    register,
    send_direct,
)
from tests.support.api import ApiHarness
from tests.support.async_tests import async_test
from tests.support.openapi import assert_valid
from zulipd.actions.notify import publish
from zulipd.app.ws import text_frame

WAIT_SECONDS = 10.0


class _Client(WebSocketClientProtocol):
    def onOpen(self) -> None:
        self.factory.opened.callback(self)

    def onMessage(self, payload: bytes, isBinary: bool) -> None:
        self.factory.messages.put(json.loads(payload))

    def onClose(self, wasClean: bool, code: int | None, reason: str | None) -> None:
        if not self.factory.opened.called:
            self.factory.opened.errback(ConnectionError(reason))
        self.factory.closed.callback(code)


class Socket:
    def __init__(self, factory: Any) -> None:
        self.factory = factory
        self.protocol: Any = None

    async def next_batch(self) -> dict[str, Any]:
        batch: dict[str, Any] = await self.factory.messages.get().addTimeout(WAIT_SECONDS, reactor)
        # What a batch holds is what GET /events answers.
        assert_valid("GET", "events", 200, {"result": "success", "msg": "", **batch})
        return batch

    def ack(self, event_id: int) -> None:
        self.protocol.sendMessage(json.dumps({"ack": event_id}).encode())

    async def closed(self) -> int:
        code: int = await self.factory.closed.addTimeout(WAIT_SECONDS, reactor)
        return code


async def open_socket(api: ApiHarness, email: str, queue_id: str, last_event_id: int = -1) -> Socket:
    port = api.base_url.rsplit(":", 1)[1]
    url = f"ws://127.0.0.1:{port}/api/v1/events/ws?queue_id={queue_id}&last_event_id={last_event_id}"
    credentials = base64.b64encode(f"{email}:{api.api_key(email)}".encode()).decode()
    factory: Any = WebSocketClientFactory(url, headers={"Authorization": f"Basic {credentials}"})  # type: ignore[no-untyped-call]
    factory.protocol = _Client
    factory.opened, factory.closed, factory.messages = defer.Deferred(), defer.Deferred(), defer.DeferredQueue()
    connectWS(factory)
    socket = Socket(factory)
    socket.protocol = await factory.opened.addTimeout(WAIT_SECONDS, reactor)
    return socket


@async_test
async def test_events_arrive_with_the_ids_long_polling_would_give(api: ApiHarness) -> None:
    queue_id = (await register(api, HAMLET, event_types=["message"]))["queue_id"]
    before = await send_direct(api, CORDELIA, [HAMLET], "queued before the socket")
    socket = await open_socket(api, HAMLET, queue_id)
    first = await socket.next_batch()
    assert first["queue_id"] == queue_id
    assert [(e["id"], e["message"]["id"]) for e in first["events"]] == [(0, before)]
    pushed = await send_direct(api, CORDELIA, [HAMLET], "pushed at once")
    second = await socket.next_batch()
    assert [(e["id"], e["message"]["id"]) for e in second["events"]] == [(1, pushed)]
    socket.ack(0)
    await task.deferLater(reactor, 0.2, lambda: None)
    # Switching to long-polling: what was not acknowledged is still there, and nothing else.
    assert [e["id"] for e in await queued_events(api, HAMLET, queue_id, 0)] == [1]
    socket.protocol.sendClose()
    assert await socket.closed() == 1000


@async_test
async def test_batches_of_every_size_arrive_whole(api: ApiHarness) -> None:
    # Frame lengths take one byte (< 126), two (< 65,536) or eight: a short message, a long one, and a
    # batch of long ones queued before the socket opens.
    queue_id = (await register(api, HAMLET, event_types=["message"]))["queue_id"]
    contents = [f"{n} " + "x" * 9_000 for n in range(8)]
    for content in contents:
        await send_direct(api, CORDELIA, [HAMLET], content)
    socket = await open_socket(api, HAMLET, queue_id)
    batch = await socket.next_batch()
    assert [e["message"]["content"] for e in batch["events"]] == contents
    assert len(json.dumps(batch)) > 65_536
    await send_direct(api, CORDELIA, [HAMLET], "y" * 1_000)
    await send_direct(api, CORDELIA, [HAMLET], "short")
    long_one = await socket.next_batch()
    short_one = long_one if len(long_one["events"]) == 2 else await socket.next_batch()
    assert long_one["events"][0]["message"]["content"] == "y" * 1_000
    assert short_one["events"][-1]["message"]["content"] == "short"
    socket.protocol.sendClose()
    assert await socket.closed() == 1000


@async_test
async def test_events_published_in_one_turn_of_the_reactor_leave_in_one_frame(api: ApiHarness) -> None:
    queue_id = (await register(api, HAMLET, event_types=["alert_words"]))["queue_id"]
    socket = await open_socket(api, HAMLET, queue_id)
    hamlet = api.user(HAMLET).id
    # As the events of one commit are published: one after another, with no turn of the reactor between.
    for words in (["one"], ["one", "two"], ["one", "two", "three"]):
        publish(api.server, {"type": "alert_words", "alert_words": words}, [hamlet])
    batch = await socket.next_batch()
    assert [(e["id"], e["alert_words"]) for e in batch["events"]] == [
        (0, ["one"]), (1, ["one", "two"]), (2, ["one", "two", "three"]),
    ]  # fmt: skip
    publish(api.server, {"type": "alert_words", "alert_words": []}, [hamlet])
    assert [e["id"] for e in (await socket.next_batch())["events"]] == [3]


@async_test
async def test_a_socket_woken_by_one_commit_also_takes_the_one_under_way(
    api: ApiHarness, monkeypatch: pytest.MonkeyPatch
) -> None:
    queue_id = (await register(api, HAMLET, event_types=["message"]))["queue_id"]
    socket = await open_socket(api, HAMLET, queue_id)
    gates = hold_commits(api, monkeypatch)
    second = await first_commit_done_second_under_way(api, gates, HAMLET)
    gates[1].callback(None)
    batch = await socket.next_batch()
    assert [event["message"]["content"] for event in batch["events"]] == ["first", "second"]
    await second


def test_text_frames_follow_rfc_6455() -> None:
    for length, header in [
        (0, b"\x81\x00"),
        (125, b"\x81\x7d"),
        (126, b"\x81\x7e\x00\x7e"),
        (65_535, b"\x81\x7e\xff\xff"),
        (65_536, b"\x81\x7f" + (65_536).to_bytes(8, "big")),
    ]:
        frame = text_frame(b"a" * length)
        assert frame == header + b"a" * length, length


@async_test
async def test_reconnecting_resumes_from_last_event_id(api: ApiHarness) -> None:
    queue_id = (await register(api, HAMLET, event_types=["message"]))["queue_id"]
    ids = [await send_direct(api, CORDELIA, [HAMLET], f"n{n}") for n in range(3)]
    socket = await open_socket(api, HAMLET, queue_id, last_event_id=0)
    batch = await socket.next_batch()
    assert [e["message"]["id"] for e in batch["events"]] == ids[1:]
    # A long-poll on the same queue takes it over: the socket is let go.
    await queued_events(api, HAMLET, queue_id, 2)
    parked = defer.ensureDeferred(
        api.call("GET", "events", {"queue_id": queue_id, "last_event_id": "2"}, as_user=HAMLET)
    )
    assert await socket.closed() == 4000
    later = await send_direct(api, CORDELIA, [HAMLET], "after the switch")
    answer = (await parked).json()
    assert [(e["id"], e["message"]["id"]) for e in answer["events"]] == [(3, later)]


@async_test
async def test_refusals_come_in_zulips_envelope(api: ApiHarness) -> None:
    queue_id = (await register(api, HAMLET))["queue_id"]
    upgrade = {"Upgrade": "websocket", "Connection": "Upgrade", "Sec-WebSocket-Version": "13",
               "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ=="}  # fmt: skip
    response = await api.call("GET", "events/ws", {"queue_id": queue_id}, headers=upgrade)
    assert_error(response, "Not logged in: API authentication or user session required", "UNAUTHORIZED", 401)
    response = await api.call("GET", "events/ws", {"queue_id": queue_id}, as_user=CORDELIA, headers=upgrade)
    assert_error(response, f"Bad event queue ID: {queue_id}", "BAD_EVENT_QUEUE_ID", queue_id=queue_id)
    response = await api.call("GET", "events/ws", {}, as_user=HAMLET, headers=upgrade)
    assert_error(response, "Missing 'queue_id' argument", "REQUEST_VARIABLE_MISSING", var_name="queue_id")
    response = await api.call("GET", "events/ws", {"queue_id": queue_id}, as_user=HAMLET)
    assert_error(response, "This endpoint takes WebSocket connections only")


@async_test
async def test_deleting_the_queue_closes_its_socket(api: ApiHarness) -> None:
    queue_id = (await register(api, HAMLET))["queue_id"]
    socket = await open_socket(api, HAMLET, queue_id)
    response = await api.call("DELETE", "events", {"queue_id": queue_id}, as_user=HAMLET)
    assert response.status == 200, response.body
    assert await socket.closed() == 4001
    assert api.server.websockets == 0


@async_test
async def test_a_bad_acknowledgement_closes_the_socket(api: ApiHarness) -> None:
    queue_id = (await register(api, HAMLET))["queue_id"]
    socket = await open_socket(api, HAMLET, queue_id)
    socket.protocol.sendMessage(b"not json")
    assert await socket.closed() == 4002


def masked_text_frame(payload: bytes, mask: bytes = b"\x37\xfa\x21\x3d") -> bytes:
    """A final text frame as a client sends it (RFC 6455 section 5.3), for payloads under 126 bytes."""
    assert len(payload) < 126
    return bytes((0x81, 0x80 | len(payload))) + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload))


@async_test
async def test_acknowledgements_however_they_are_cut_into_reads(api: ApiHarness) -> None:
    queue_id = (await register(api, HAMLET, event_types=["message"]))["queue_id"]
    for n in range(4):
        await send_direct(api, CORDELIA, [HAMLET], f"message {n}")
    socket = await open_socket(api, HAMLET, queue_id)
    assert [e["id"] for e in (await socket.next_batch())["events"]] == [0, 1, 2, 3]
    transport = socket.protocol.transport
    # Three acknowledgements in one write; then one cut in two writes, its mask split.
    transport.write(b"".join(masked_text_frame(json.dumps({"ack": n}).encode()) for n in (0, 1, 1)))
    frame = masked_text_frame(b'{"ack": 2}')
    transport.write(frame[:4])
    await task.deferLater(reactor, 0.1, lambda: None)
    transport.write(frame[4:])
    await task.deferLater(reactor, 0.2, lambda: None)
    queue = api.server.events.get(queue_id, api.user(HAMLET).id)
    assert [event["id"] for event in queue.events()] == [3]
    # A frame of invalid UTF-8 fails the connection: Autobahn drops it (failByDrop), so the client sees 1006.
    transport.write(masked_text_frame(b"\xff\xfe"))
    assert await socket.closed() == 1006


@async_test
async def test_a_client_that_stops_reading_pauses_the_sending_and_then_gets_everything(api: ApiHarness) -> None:
    queue_id = (await register(api, HAMLET, event_types=["alert_words"]))["queue_id"]
    socket = await open_socket(api, HAMLET, queue_id)
    hamlet = api.user(HAMLET).id
    queue = api.server.events.get(queue_id, hamlet)
    server_side: Any = queue._consumer
    socket.protocol.transport.pauseProducing()  # the client stops reading: the socket buffers fill up
    big_word = "w" * 60_000
    published = 0
    while not server_side._paused and published < 2_000:
        for _ in range(10):
            publish(api.server, {"type": "alert_words", "alert_words": [f"{published}", big_word]}, [hamlet])
            published += 1
        await task.deferLater(reactor, 0.01, lambda: None)
    assert server_side._paused, "the transport never paused its producer"
    # Paused, zulipd holds the events in the queue, not in the connection's buffer.
    for _ in range(20):
        publish(api.server, {"type": "alert_words", "alert_words": [f"{published}", big_word]}, [hamlet])
        published += 1
    await task.deferLater(reactor, 0.05, lambda: None)
    transport = server_side.transport
    buffered = len(transport.dataBuffer) - transport.offset + transport._tempDataLen
    assert buffered < 4 * 65_536 + 2 * 60_100
    socket.protocol.transport.resumeProducing()
    received: list[int] = []
    while len(received) < published:
        batch = await socket.next_batch()
        received += [event["id"] for event in batch["events"]]
    assert received == list(range(published))
    assert [event["alert_words"][0] for event in queue.events()][-1] == str(published - 1)
