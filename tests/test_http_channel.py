"""A response's head and body leave zulipd in one write (zulipd.app.http_channel)."""

from __future__ import annotations

from typing import Any

import pytest
from twisted.internet import address, task
from twisted.internet.testing import StringTransport
from twisted.web import resource

from zulipd.app.site import ZulipdSite


class CountingTransport(StringTransport):
    def __init__(self) -> None:
        super().__init__(peerAddress=address.IPv4Address("TCP", "127.0.0.1", 40000))  # type: ignore[no-untyped-call]
        self.writes: list[bytes] = []
        self.host_asked = 0

    def getHost(self) -> Any:
        self.host_asked += 1
        return super().getHost()  # type: ignore[no-untyped-call]

    def write(self, data: bytes) -> None:
        self.writes.append(data)
        super().write(data)  # type: ignore[no-untyped-call]

    def writeSequence(self, iovec: Any) -> None:
        self.write(b"".join(iovec))


class Answers(resource.Resource):
    isLeaf = True

    def render_GET(self, request: Any) -> bytes:
        kind = request.path.decode()
        if kind == "/empty":
            request.setHeader(b"content-length", b"0")
            return b""
        if kind == "/no-content":
            request.setResponseCode(204)
            return b""
        if kind == "/chunked":
            request.write(b"first")
            request.write(b"second")
            return b""
        request.setHeader(b"content-length", b"5")
        return b"hello"

    def render_HEAD(self, request: Any) -> bytes:
        request.setHeader(b"content-length", b"5")
        return b"hello"


def connection(*requests: tuple[str, str]) -> CountingTransport:
    site = ZulipdSite(Answers(), task.Clock())  # type: ignore[no-untyped-call]
    protocol = site.buildProtocol(None)
    transport = CountingTransport()
    protocol.makeConnection(transport)
    for method, path in requests:
        protocol.dataReceived(f"{method} {path} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
    protocol.connectionLost(None)
    return transport


def ask(method: str, path: str) -> list[bytes]:
    return connection((method, path)).writes


def test_a_response_is_one_write() -> None:
    writes = ask("GET", "/hello")
    assert len(writes) == 1, writes
    assert writes[0].startswith(b"HTTP/1.1 200 OK\r\n")
    assert writes[0].endswith(b"\r\n\r\nhello")


@pytest.mark.parametrize(("method", "path", "status"), [("GET", "/empty", b"200"), ("GET", "/no-content", b"204"),
                                                       ("HEAD", "/hello", b"200")])  # fmt: skip
def test_a_response_without_a_body_still_sends_its_head(method: str, path: str, status: bytes) -> None:
    writes = ask(method, path)
    assert len(writes) == 1, writes
    assert writes[0].startswith(b"HTTP/1.1 " + status)
    assert writes[0].endswith(b"\r\n\r\n")


def test_a_chunked_response_sends_its_head_with_the_first_chunk() -> None:
    writes = ask("GET", "/chunked")
    assert writes[0].startswith(b"HTTP/1.1 200 OK\r\n")
    assert b"Transfer-Encoding: chunked" in writes[0]
    assert writes[0].endswith(b"\r\n\r\n5\r\nfirst\r\n")
    assert b"".join(writes).endswith(b"6\r\nsecond\r\n0\r\n\r\n")


def test_a_connection_asks_its_address_once() -> None:
    transport = connection(("GET", "/hello"), ("GET", "/hello"), ("GET", "/empty"))
    assert len(transport.writes) == 3
    assert transport.host_asked == 1
