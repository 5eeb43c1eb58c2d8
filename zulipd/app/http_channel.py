"""The HTTP connection zulipd's site speaks: a response's head and body leave in one write.

Twisted writes a response's status line and headers, then its body, as two
writes: two packets on a connection without Nagle's delay (zulipd.app.eager_writes),
and two wake-ups of the client, which can do nothing with the head alone. Here
the head waits for the body's first bytes instead, within the same
``Request.write`` call (``ZulipdRequest.write`` sends a head that no body
followed: HEAD, 204, 304, an empty body).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from twisted.web import http
from twisted.web.http_headers import Headers


class ZulipdChannel(http.HTTPChannel):
    _held_head: bytes | None = None
    _host: Any = None
    _secure: bool | None = None

    def getHost(self) -> Any:
        """The connection's own address, asked of the socket once (Twisted asks on every request)."""
        if self._host is None:
            self._host = super().getHost()  # type: ignore[no-untyped-call]
        return self._host

    def isSecure(self) -> bool:
        """Whether the connection is TLS, asked of the transport once (Twisted adapts it on every call)."""
        if self._secure is None:
            if self.transport is None:
                return False
            self._secure = bool(super().isSecure())  # type: ignore[no-untyped-call]
        return self._secure

    def writeHeaders(self, version: bytes, code: bytes, reason: bytes, headers: Any) -> None:
        if not isinstance(headers, Headers):
            # Twisted's own path turns a list of pairs into sanitized Headers first.
            super().writeHeaders(version, code, reason, headers)  # type: ignore[no-untyped-call]
            return
        head = [version, b" ", code, b" ", reason, b"\r\n"]
        for name, values in headers.getAllRawHeaders():
            for value in values:
                head.extend((name, b": ", value, b"\r\n"))
        head.append(b"\r\n")
        self._held_head = b"".join(head)

    def write(self, data: bytes) -> None:
        head, self._held_head = self._held_head, None
        self.transport.write(head + data if head is not None else data)  # type: ignore[union-attr]

    def writeSequence(self, iovec: Iterable[bytes]) -> None:
        head, self._held_head = self._held_head, None
        self.transport.writeSequence([head, *iovec] if head is not None else iovec)  # type: ignore[union-attr]

    def send_held_head(self) -> None:
        """Send a response head that no body has followed."""
        head, self._held_head = self._held_head, None
        if head is not None and self.transport is not None:
            self.transport.write(head)


def channel_protocol(factory: Any) -> Any:
    """What ``HTTPFactory.protocol`` makes: Twisted's wrapper, around a ZulipdChannel."""
    return http._GenericHTTPChannelProtocol(ZulipdChannel())  # type: ignore[no-untyped-call]
