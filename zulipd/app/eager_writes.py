"""TCP connections that send at once, instead of waiting for the reactor to report the socket writable.

Twisted's transports buffer every write, ask the reactor to watch the socket for
writability, send on the next turn of the loop, and stop watching again: two
``epoll_ctl`` calls and a trip through the reactor for each answer or event batch.
When nothing is waiting in the connection's buffer, the socket almost always takes
the bytes at once, so this transport sends them straight away and hands only what
the socket would not take (or any error) to Twisted's usual path. Order is kept:
it sends directly only while the buffer is empty.

Connections also turn Nagle's algorithm off: an answer can go out as two sends
(headers, then body), and the second must not wait for the peer's delayed ACK.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from twisted.internet import tcp


class EagerWriteServer(tcp.Server):
    """A server-side TCP connection whose writes go to the socket at once when its buffer is empty."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.setTcpNoDelay(True)

    def write(self, data: bytes) -> None:
        if data and self._may_send_now():
            data = self._send_now(data)
            if not data:
                return
        super().write(data)  # type: ignore[no-untyped-call]

    def writeSequence(self, iovec: Iterable[bytes]) -> None:
        iovec = list(iovec)
        if iovec and self._may_send_now():
            rest = self._send_now(b"".join(iovec))
            if rest:
                super().write(rest)  # type: ignore[no-untyped-call]
            return
        super().writeSequence(iovec)  # type: ignore[no-untyped-call]

    def _may_send_now(self) -> bool:
        return bool(
            self.connected
            and not self._writeDisconnected
            # startTLS on this connection: its writes are plaintext for the TLS layer.
            and not self.TLS
            and not self._tempDataBuffer
            and self.offset == len(self.dataBuffer)
        )

    def _send_now(self, data: bytes) -> bytes:
        """Send what the socket takes; return the rest (all of it on any error, for Twisted to handle)."""
        try:
            sent = self.socket.send(data)
        except OSError:
            # Would block, or the connection is failing: Twisted's write path retries or reports the loss.
            return data
        return data[sent:]


def write_eagerly(port: Any) -> None:
    """Make a listening TCP port's new connections send at once; other kinds of port are left as they are."""
    if type(port) is tcp.Port and port.transport is tcp.Server:
        port.transport = EagerWriteServer
