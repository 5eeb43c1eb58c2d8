"""The WebSocket transport of event queues (a zulipd extension): /api/v1/events/ws and /json/events/ws.

A client registers a queue with POST /register as usual, then opens
``/api/v1/events/ws?queue_id=ID&last_event_id=N``: HTTP Basic for bots and
scripts, the session cookie for browsers (whose Origin must be the host they
asked for). Refusals are ordinary HTTP answers in Zulip's envelope, before any
upgrade. Once open, the server sends each batch of events as a text message
``{"events": [...], "queue_id": ID}``, with the same ids long-polling would
give; the client acknowledges with ``{"ack": N}``, which prunes the queue as
``last_event_id`` does. Unacknowledged events stay queued, so the client can
reconnect, or switch to GET /events, with its last id and lose nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, cast
from urllib.parse import urlsplit

import orjson
from autobahn.twisted.resource import WebSocketResource
from autobahn.twisted.websocket import WebSocketServerFactory, WebSocketServerProtocol
from twisted.internet import defer
from twisted.internet.interfaces import IPushProducer
from twisted.web import server as web_server
from zope.interface import implementer

from zulipd.app.api import ApiRequest, ApiResource, parse_request
from zulipd.errors import JsonableError, RequestVariableMissing
from zulipd.events.queue import EventQueue

if TYPE_CHECKING:
    from zulipd.actions.messages import MessageSender
    from zulipd.app.site import ZulipdRequest
    from zulipd.server import Server

# Client messages are acknowledgements: tiny. Anything big is refused by Autobahn (close 1009).
MAX_CLIENT_MESSAGE_BYTES = 64 * 1024
AUTO_PING_SECONDS = 30
AUTO_PING_TIMEOUT_SECONDS = 15
CLOSE_REPLACED = 4000  # another connection (or a long-poll) took the queue
CLOSE_QUEUE_GONE = 4001  # the queue was deleted or collected
CLOSE_BAD_MESSAGE = 4002  # not an acknowledgement, or one the queue refuses
CLOSE_STOPPING = 4003  # zulipd is stopping; the queue is saved, so reconnect later


# Autobahn's defaults set no limits at all; these are zulipd's (the conformance test uses them too).
PROTOCOL_OPTIONS: dict[str, Any] = {
    "maxFramePayloadSize": MAX_CLIENT_MESSAGE_BYTES,
    "maxMessagePayloadSize": MAX_CLIENT_MESSAGE_BYTES,
    "autoPingInterval": AUTO_PING_SECONDS,
    "autoPingTimeout": AUTO_PING_TIMEOUT_SECONDS,
    "openHandshakeTimeout": 10,
    "closeHandshakeTimeout": 5,
    "webStatus": False,
}


def text_frame(payload: bytes) -> bytes:
    """One final, unmasked text frame (RFC 6455 section 5.2), as a server sends it."""
    length = len(payload)
    if length < 126:
        header = bytes((0x81, length))
    elif length < 1 << 16:
        header = bytes((0x81, 126)) + length.to_bytes(2, "big")
    else:
        header = bytes((0x81, 127)) + length.to_bytes(8, "big")
    return header + payload


@dataclass
class _Attachment:
    server: Server
    queue: EventQueue
    last_event_id: int


@implementer(IPushProducer)
class EventsProtocol(WebSocketServerProtocol):
    attachment: _Attachment | None = None
    # The server whose connection count includes this connection, until it closes.
    counted_in: Server | None = None
    # Whether send_events is due (see events_available).
    _send_waiting = False

    def onOpen(self) -> None:
        attachment = self.attachment
        assert attachment is not None
        self._sent_through = attachment.last_event_id
        self._paused = False
        transport: Any = self.transport
        # The HTTP channel that carried the handshake was the transport's producer; now this is.
        if getattr(transport, "producer", None) is not None:
            transport.unregisterProducer()
        transport.registerProducer(self, True)
        attachment.queue.attach(self)
        self.events_available()

    # --- what the queue calls -----------------------------------------------------------------

    def events_available(self) -> None:
        # Sent once the reactor's current turn is done, and after the commit under way (if any)
        # is published, so that the events of a commit or two leave as one frame, not one each.
        if not self._send_waiting:
            self._send_waiting = True
            cast("_Factory", self.factory).message_sender.after_publishing(self.send_events)

    def send_events(self) -> None:
        """Send what the queue holds past what this connection has sent."""
        self._send_waiting = False
        attachment = self.attachment
        if attachment is None or self._paused:
            return
        queue = attachment.queue
        events = queue.encoded_events_after(self._sent_through)
        if not events:
            return
        self._sent_through = queue.newest_event_id
        payload = orjson.dumps({"events": events, "queue_id": queue.id})
        if self.state == self.STATE_OPEN and not self.send_queue and self._perMessageCompress is None:
            # Autobahn's sendMessage builds the same frame, but formats debug-log arguments on every call.
            self.transport.write(text_frame(payload))  # type: ignore[union-attr]
        else:
            self.sendMessage(payload, isBinary=False)  # type: ignore[no-untyped-call]

    def replaced(self) -> None:
        self._let_go(CLOSE_REPLACED, "Another connection took this event queue")

    def going_away(self) -> None:
        self._let_go(CLOSE_STOPPING, "zulipd is stopping")

    def queue_gone(self) -> None:
        self._let_go(CLOSE_QUEUE_GONE, "Bad event queue ID")

    def _let_go(self, code: int, reason: str) -> None:
        self.attachment = None
        self.sendClose(code, reason)

    # --- backpressure: stop writing while the transport is full -----------------------------------

    def pauseProducing(self) -> None:
        self._paused = True

    def resumeProducing(self) -> None:
        self._paused = False
        self.events_available()

    def stopProducing(self) -> None:
        self._paused = True

    # --- what the client sends ------------------------------------------------------------------

    def dataReceived(self, data: bytes) -> None:
        if (
            self.state == self.STATE_OPEN
            and not self.data
            and self.current_frame is None
            and not self.inside_message
            and self._perMessageCompress is None
        ):
            data = self._take_small_text_messages(data)
            if not data:
                return
        # Autobahn's own formats a debug-log line's arguments for every read, logged or not; skip to its work.
        self._dataReceived(data)

    def _take_small_text_messages(self, data: bytes) -> bytes:
        """Handle the whole, small text messages at the front of ``data``; what is left is Autobahn's.

        Acknowledgements are most of what clients send, one tiny frame each, and
        Autobahn spends more on each (a masker object, frame and message
        callbacks, a Future) than the delivery of an event costs. Only the
        simplest frame is taken here (RFC 6455 section 5.2): final, no reserved
        bits, text, masked, at most 125 bytes, all of it already received, and
        valid UTF-8. Anything else, and all that follows it, goes to Autobahn,
        which checks and answers it as ever (a frame of invalid UTF-8 fails the
        connection there).
        """
        position = 0
        size = len(data)
        while size - position >= 6 and data[position] == 0x81 and data[position + 1] & 0x80:
            length = data[position + 1] & 0x7F
            start = position + 6
            end = start + length
            if length > 125 or end > size:
                break
            mask = data[position + 2 : start]
            key = int.from_bytes((mask * ((length >> 2) + 1))[:length], "big")
            payload = (int.from_bytes(data[start:end], "big") ^ key).to_bytes(length, "big")
            try:
                payload.decode("utf-8")
            except UnicodeDecodeError:
                break
            position = end
            self.onMessage(payload, False)
            if self.state != self.STATE_OPEN:
                break
        return data[position:] if position else data

    def onMessage(self, payload: bytes, isBinary: bool) -> None:
        attachment = self.attachment
        if attachment is None:
            return
        try:
            message = orjson.loads(payload) if not isBinary else None
        except orjson.JSONDecodeError:
            message = None
        ack = message.get("ack") if isinstance(message, dict) else None
        if isinstance(ack, bool) or not isinstance(ack, int):
            self.sendClose(CLOSE_BAD_MESSAGE, 'Send {"ack": EVENT_ID}')
            return
        try:
            attachment.queue.prune(min(ack, self._sent_through))
        except JsonableError as error:
            self.sendClose(CLOSE_BAD_MESSAGE, error.msg[:100])

    def onClose(self, wasClean: bool, code: int | None, reason: str | None) -> None:
        attachment, self.attachment = self.attachment, None
        if attachment is not None:
            attachment.queue.detach(self, attachment.server.clock.seconds())
        counted, self.counted_in = self.counted_in, None
        if counted is not None:
            counted.websockets -= 1


class _Factory(WebSocketServerFactory):
    protocol = EventsProtocol

    def __init__(self, message_sender: MessageSender) -> None:
        super().__init__()  # type: ignore[no-untyped-call]
        self.setProtocolOptions(**PROTOCOL_OPTIONS)  # type: ignore[no-untyped-call]
        self.next_attachment: _Attachment | None = None
        self.message_sender = message_sender

    def buildProtocol(self, addr: Any) -> EventsProtocol:
        protocol: EventsProtocol = super().buildProtocol(addr)  # type: ignore[assignment]
        protocol.attachment, self.next_attachment = self.next_attachment, None
        if protocol.attachment is not None:
            protocol.counted_in = protocol.attachment.server
            protocol.counted_in.websockets += 1
        return protocol


class EventsWebSocket:
    """Checks a WebSocket request as the API would, then hands the connection to Autobahn."""

    def __init__(self, server: Server, api: ApiResource) -> None:
        self._server = server
        self._api = api
        self._factory = _Factory(server.message_sender)
        self._resource = WebSocketResource(self._factory)  # type: ignore[no-untyped-call]

    def render(self, request: ZulipdRequest) -> int:
        defer.Deferred.fromCoroutine(self._open(request))
        return web_server.NOT_DONE_YET

    async def _open(self, request: ZulipdRequest) -> None:
        try:
            attachment = await self._check(request)
        except JsonableError as error:
            self._api.write(request, error.http_status, error.body(), error.headers())
            return
        self._factory.next_attachment = attachment
        try:
            self._resource.render(request)  # type: ignore[no-untyped-call]
        finally:
            self._factory.next_attachment = None

    async def _check(self, request: ZulipdRequest) -> _Attachment:
        server = self._server
        prefix = self._api.prefix
        ctx = ApiRequest(request, server, prefix, await server.realms.for_host(request))
        parsed = parse_request(request)
        user = await server.authenticator.authenticate(ctx, parsed)
        if prefix == "json":
            origin = request.header("origin")
            host = request.header("host")
            if origin is None or host is None or urlsplit(origin).netloc.lower() != host.lower():
                raise JsonableError("This origin may not open event WebSockets")
        if (request.header("upgrade") or "").lower() != "websocket":
            raise JsonableError("This endpoint takes WebSocket connections only")
        queue_id = parsed.query.get("queue_id")
        if queue_id is None:
            raise RequestVariableMissing("queue_id")
        raw_last = parsed.query.get("last_event_id", "-1")
        try:
            last_event_id = int(raw_last)
        except ValueError:
            raise JsonableError("last_event_id is not an integer") from None
        if server.websockets >= server.config.events.max_websockets:
            raise JsonableError("Too many WebSocket connections; use GET /events")
        queue = server.events.get(queue_id, user.id)
        queue.prune(last_event_id)
        return _Attachment(server, queue, max(last_event_id, -1))
