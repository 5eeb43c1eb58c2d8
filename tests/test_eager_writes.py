"""Connections that send at once: bytes arrive complete and in order, and full sockets fall back to Twisted."""

from __future__ import annotations

import socket
from collections.abc import Callable
from typing import Any

from twisted.internet import defer, protocol, reactor, tcp
from twisted.internet.endpoints import TCP4ClientEndpoint, TCP4ServerEndpoint, UNIXServerEndpoint

from tests.support.async_tests import async_test
from zulipd.app.eager_writes import EagerWriteServer, write_eagerly


class Collect(protocol.Protocol):
    """A client that keeps everything it reads until the server closes."""

    def __init__(self) -> None:
        self.received = bytearray()
        self.closed: defer.Deferred[bytes] = defer.Deferred()

    def dataReceived(self, data: bytes) -> None:
        self.received += data

    def connectionLost(self, reason: Any = None) -> None:
        self.closed.callback(bytes(self.received))


class Script(protocol.Protocol):
    """A server protocol that runs ``script`` on its transport as soon as it connects."""

    def __init__(self, script: Callable[[Any], None], seen: list[Any]) -> None:
        self.script = script
        self.seen = seen

    def connectionMade(self) -> None:
        self.seen.append(self.transport)
        self.script(self.transport)


async def _exchange(script: Callable[[Any], None]) -> tuple[bytes, list[Any]]:
    """Serve one connection on an eager port, run ``script`` on it, and return what the client read."""
    seen: list[Any] = []
    factory = protocol.Factory.forProtocol(lambda: Script(script, seen))
    port = await TCP4ServerEndpoint(reactor, 0, interface="127.0.0.1").listen(factory)
    write_eagerly(port)
    try:
        client = Collect()
        await TCP4ClientEndpoint(reactor, "127.0.0.1", port.getHost().port).connect(
            protocol.Factory.forProtocol(lambda: client)
        )
        received = await client.closed
    finally:
        await port.stopListening()
    return received, seen


@async_test
async def test_a_small_write_goes_out_at_once_without_the_reactor_watching_the_socket() -> None:
    state: dict[str, Any] = {}

    def script(transport: Any) -> None:
        transport.write(b"hello")
        state["buffered"] = bool(transport._tempDataBuffer)
        state["watched"] = transport in reactor.getWriters()
        transport.loseConnection()

    received, seen = await _exchange(script)
    assert received == b"hello"
    assert isinstance(seen[0], EagerWriteServer)
    assert state == {"buffered": False, "watched": False}


@async_test
async def test_what_the_socket_will_not_take_is_buffered_and_sent_in_order() -> None:
    big = bytes(range(256)) * 40_000  # ~10 MB: more than any socket buffer takes at once
    state: dict[str, Any] = {}

    def script(transport: Any) -> None:
        transport.write(b"head:")
        transport.write(big)
        state["watched"] = transport in reactor.getWriters()
        # Behind buffered bytes, writes must queue, not jump ahead.
        transport.writeSequence([b":", b"tail"])
        transport.write(b"!")
        transport.loseConnection()

    received, _ = await _exchange(script)
    assert state["watched"] is True
    assert received == b"head:" + big + b":tail!"


@async_test
async def test_nothing_is_sent_ahead_of_bytes_already_buffered() -> None:
    def script(transport: Any) -> None:
        tcp.Server.write(transport, b"buffered:")  # Twisted's own path: into the buffer, sent on a later turn
        transport.write(b"eager")
        transport.writeSequence([b":", b"sequence"])
        transport.loseConnection()

    received, _ = await _exchange(script)
    assert received == b"buffered:eager:sequence"


@async_test
async def test_write_sequence_sends_its_parts_in_order() -> None:
    def script(transport: Any) -> None:
        transport.writeSequence([b"a", b"bc", b"", b"def"])
        transport.writeSequence([])
        transport.write(b"")
        transport.loseConnection()

    received, _ = await _exchange(script)
    assert received == b"abcdef"


@async_test
async def test_writes_after_lose_connection_still_arrive() -> None:
    def script(transport: Any) -> None:
        transport.write(b"first")
        transport.loseConnection()
        # Twisted still sends these before closing; so must the eager path.
        transport.write(b"second")

    received, _ = await _exchange(script)
    assert received == b"firstsecond"


@async_test
async def test_writing_to_a_connection_the_peer_reset_reports_the_loss() -> None:
    lost: defer.Deferred[None] = defer.Deferred()

    class Writer(protocol.Protocol):
        def connectionMade(self) -> None:
            self.factory.transport = self.transport

        def connectionLost(self, reason: Any = None) -> None:
            lost.callback(None)

    factory = protocol.Factory.forProtocol(Writer)
    port = await TCP4ServerEndpoint(reactor, 0, interface="127.0.0.1").listen(factory)
    write_eagerly(port)
    try:
        peer = socket.create_connection(("127.0.0.1", port.getHost().port))
        # Close with RST: the server's sends then fail with ECONNRESET or EPIPE.
        peer.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
        while getattr(factory, "transport", None) is None:
            await _turn()
        peer.close()
        await _turn()
        transport = factory.transport  # type: ignore[attr-defined]
        for _ in range(50):
            if lost.called:
                break
            transport.write(b"x" * 1000)
            await _turn()
        await lost
    finally:
        await port.stopListening()


@async_test
async def test_new_connections_turn_nagle_off() -> None:
    state: dict[str, int] = {}

    def script(transport: Any) -> None:
        state["nodelay"] = transport.getHandle().getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY)
        transport.loseConnection()

    await _exchange(script)
    assert state["nodelay"] != 0


@async_test
async def test_ports_that_are_not_plain_tcp_are_left_alone(tmp_path: Any) -> None:
    port = await UNIXServerEndpoint(reactor, str(tmp_path / "socket")).listen(protocol.Factory.forProtocol(Collect))
    try:
        before = port.transport
        write_eagerly(port)
        assert port.transport is before
    finally:
        await port.stopListening()


async def _turn() -> None:
    """Let the reactor run once."""
    waiting: defer.Deferred[None] = defer.Deferred()
    reactor.callLater(0.01, waiting.callback, None)
    await waiting
