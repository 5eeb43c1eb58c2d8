"""The HTTP site: trusted-proxy handling and graceful draining.

Behind a reverse proxy, ``X-Forwarded-For`` and ``X-Forwarded-Proto`` say who
the client is and whether it used TLS. Anyone can send those headers, so they
count only when the connection comes from an address in ``[loadbalancer] ips``.
"""

from __future__ import annotations

import ipaddress
import weakref
from collections.abc import Sequence
from typing import Any

from twisted.internet import address
from twisted.internet.interfaces import IReactorTime
from twisted.logger import Logger
from twisted.web import resource, server

from zulipd.app.http_channel import channel_protocol
from zulipd.timing import sleep

log = Logger()
access_log = Logger(namespace="zulipd.access")

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def _parse_ip(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    text = text.strip()
    if text.startswith("[") and "]" in text:  # "[2001:db8::1]:443"
        text = text[1 : text.index("]")]
    elif text.count(":") == 1:  # "192.0.2.1:443"
        text = text.split(":", 1)[0]
    try:
        ip = ipaddress.ip_address(text)
    except ValueError:
        return None
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    return ip


def is_trusted(ip: ipaddress.IPv4Address | ipaddress.IPv6Address | None, proxies: Sequence[Network]) -> bool:
    return ip is not None and any(ip.version == network.version and ip in network for network in proxies)


def forwarded_client_ip(peer_ip: str, forwarded_for: Sequence[bytes], proxies: Sequence[Network]) -> str:
    """The client's address: the peer, or from X-Forwarded-For when the peer is a trusted proxy.

    The header is read from the right, skipping our own trusted proxies; the
    first address that is not one of them is the client. Anything to its left
    was written by the client and is not believed.
    """
    if not is_trusted(_parse_ip(peer_ip), proxies):
        return peer_ip
    hops = [hop for value in forwarded_for for hop in value.decode("latin-1").split(",")]
    client = peer_ip
    for hop in reversed(hops):
        ip = _parse_ip(hop)
        if ip is None:
            break
        client = str(ip)
        if not is_trusted(ip, proxies):
            break
    return client


class ZulipdRequest(server.Request):
    """A request that knows its real client address and scheme."""

    site: ZulipdSite
    forwarded_secure: bool | None = None

    def process(self) -> None:
        site: ZulipdSite = getattr(self.channel, "site")  # noqa: B009  (set by Site.buildProtocol; untyped)
        if site.trusted_proxies:
            self._apply_forwarded_headers(site)
        site.request_started(self)
        self._tracking_site = site
        self.started_at = site.clock.seconds()
        super().process()  # type: ignore[no-untyped-call]

    def _apply_forwarded_headers(self, site: ZulipdSite) -> None:
        peer = self.channel.transport.getPeer() if self.channel.transport else None
        peer_ip = getattr(peer, "host", "")
        if is_trusted(_parse_ip(peer_ip), site.trusted_proxies):
            forwarded_for = self.requestHeaders.getRawHeaders(b"x-forwarded-for", [])
            client_ip = forwarded_client_ip(peer_ip, forwarded_for, site.trusted_proxies)
            if client_ip != peer_ip:
                self.client = (
                    address.IPv6Address("TCP", client_ip, 0)
                    if ":" in client_ip
                    else address.IPv4Address("TCP", client_ip, 0)
                )
            protos = self.requestHeaders.getRawHeaders(b"x-forwarded-proto", [])
            if protos:
                last = protos[-1].decode("latin-1").split(",")[-1].strip().lower()
                if last in ("http", "https"):
                    self.forwarded_secure = last == "https"

    # Counting through finish() and connectionLost() rather than a
    # notifyFinish() Deferred per request keeps this off the hot path.
    _tracking_site: ZulipdSite | None = None

    def _stop_tracking(self) -> None:
        site, self._tracking_site = self._tracking_site, None
        if site is not None:
            site.request_finished(self)

    def write(self, data: bytes) -> None:
        super().write(data)  # type: ignore[no-untyped-call]
        # The head waits for the body (zulipd.app.http_channel); a response with none sends it now.
        send_held_head = getattr(self.channel, "send_held_head", None)
        if send_held_head is not None:
            send_held_head()

    def finish(self) -> None:
        super().finish()  # type: ignore[no-untyped-call]
        self._stop_tracking()

    def connectionLost(self, reason: Any) -> None:
        super().connectionLost(reason)  # type: ignore[no-untyped-call]
        self._stop_tracking()

    def header(self, name: str) -> str | None:
        """A request header as text (HTTP headers are Latin-1)."""
        value = self.requestHeaders.getRawHeaders(name.encode("ascii"))
        return value[-1].decode("latin-1") if value else None

    def cookie(self, name: bytes) -> str | None:
        value = self.received_cookies.get(name)
        return value.decode("latin-1") if value is not None else None

    @property
    def client_ip(self) -> str:
        return str(getattr(self.getClientAddress(), "host", ""))  # type: ignore[no-untyped-call]

    def isSecure(self) -> bool:
        if self.forwarded_secure is not None:
            return self.forwarded_secure
        return bool(super().isSecure())  # type: ignore[no-untyped-call]


class ZulipdSite(server.Site):
    """A Site that counts in-flight requests so that shutdown can drain them."""

    requestFactory = ZulipdRequest
    displayTracebacks = False
    protocol = channel_protocol

    def __init__(
        self,
        root: resource.IResource,
        clock: IReactorTime,
        trusted_proxies: Sequence[Network] = (),
    ) -> None:
        # zulipd parses request bodies itself (zulipd.app.api.parse_request); Twisted's own parse of
        # every form POST, which reads the Content-Type through the email package, would be wasted.
        super().__init__(root, parsePOSTFormSubmission=False)  # type: ignore[no-untyped-call]
        self.clock = clock
        self.trusted_proxies = tuple(trusted_proxies)
        self.draining = False
        self._protocols: weakref.WeakSet[Any] = weakref.WeakSet()
        self._active: dict[Any, int] = {}

    @property
    def in_flight(self) -> int:
        return sum(self._active.values())

    def log(self, request: Any) -> None:
        """One access-log event per request, with its fields for structured (JSON) logs.

        The line is formatted here once; observers then only substitute it.
        """
        started = getattr(request, "started_at", None)
        client_ip = request.client_ip if isinstance(request, ZulipdRequest) else "-"
        method = request.method.decode("ascii", "replace")
        # The path only: query strings can carry credentials (webhook api_key=...).
        path = request.path.decode("utf-8", "replace")[:500]
        duration_ms = (self.clock.seconds() - started) * 1000 if started is not None else 0.0
        access_log.info(
            "{request_line}",
            request_line=f"{client_ip} {method} {path} {request.code} {request.sentLength} {duration_ms:.1f}ms",
            client_ip=client_ip,
            method=method,
            path=path,
            status=request.code,
            size=request.sentLength,
            duration_ms=round(duration_ms, 3),
        )

    def buildProtocol(self, addr: Any) -> Any:
        protocol = super().buildProtocol(addr)  # type: ignore[no-untyped-call]
        self._protocols.add(protocol)
        return protocol

    def request_started(self, request: ZulipdRequest) -> None:
        transport: Any = request.channel.transport
        request._tracked_transport = transport  # type: ignore[attr-defined]
        self._active[transport] = self._active.get(transport, 0) + 1

    def request_finished(self, request: ZulipdRequest) -> None:
        transport = getattr(request, "_tracked_transport", None)
        if transport is None or transport not in self._active:
            return
        self._active[transport] -= 1
        if self._active[transport] <= 0:
            del self._active[transport]
            if self.draining:
                transport.loseConnection()

    def _transports(self) -> list[Any]:
        # Site builds a wrapper that picks HTTP/1.1 or HTTP/2; the connection's
        # transport is on the channel inside it (and absent before connection).
        channels = (getattr(protocol, "_channel", protocol) for protocol in list(self._protocols))
        transports = (getattr(channel, "transport", None) for channel in channels)
        return [transport for transport in transports if transport is not None]

    async def drain(self, timeout: float) -> None:
        """Close idle connections, let requests finish for ``timeout`` s, then cut the rest."""
        self.draining = True
        for transport in self._transports():
            if transport not in self._active:
                transport.loseConnection()
        deadline = self.clock.seconds() + timeout
        while self._active and self.clock.seconds() < deadline:
            await sleep(self.clock, 0.02)
        if self._active:
            log.warn(
                "Cutting {count} requests still running after {timeout:g} s", count=self.in_flight, timeout=timeout
            )
        for transport in list(self._active):
            transport.abortConnection()
        self._active.clear()
