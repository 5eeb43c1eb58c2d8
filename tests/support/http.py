"""A small HTTP client on the test reactor, and a site listening on loopback."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from twisted.internet import defer, protocol, reactor
from twisted.internet.endpoints import TCP4ServerEndpoint
from twisted.python.failure import Failure
from twisted.web.client import Agent, ResponseDone
from twisted.web.http import PotentialDataLoss
from twisted.web.http_headers import Headers
from twisted.web.iweb import IResponse

from zulipd.app.site import ZulipdSite


class Response:
    def __init__(self, status: int, headers: Headers, body: bytes) -> None:
        self.status = status
        self.headers = headers
        self.body = body

    def json(self) -> Any:
        return json.loads(self.body)

    def header(self, name: str) -> str | None:
        values = self.headers.getRawHeaders(name)
        return values[-1] if values else None


class _BodyCollector(protocol.Protocol):
    # twisted.web.client.readBody warns when the connection is already gone.
    def __init__(self) -> None:
        self.chunks: list[bytes] = []
        self.done: defer.Deferred[bytes] = defer.Deferred()

    def dataReceived(self, data: bytes) -> None:
        self.chunks.append(data)

    def connectionLost(self, reason: Failure = protocol.connectionDone) -> None:
        if reason.check(ResponseDone, PotentialDataLoss):
            self.done.callback(b"".join(self.chunks))
        else:
            self.done.errback(reason)


def read_body(response: IResponse) -> defer.Deferred[bytes]:
    collector = _BodyCollector()
    response.deliverBody(collector)
    return collector.done


async def request(method: str, url: str, headers: dict[str, str] | None = None) -> Response:
    agent = Agent(reactor)
    raw_headers = Headers({name: [value] for name, value in (headers or {}).items()})
    response = await agent.request(method.encode(), url.encode(), raw_headers)
    body = await read_body(response)
    return Response(response.code, response.headers, body)


@asynccontextmanager
async def serving(site: ZulipdSite) -> AsyncIterator[str]:
    """Listen on a free loopback port; yield the base URL."""
    port = await TCP4ServerEndpoint(reactor, 0, interface="127.0.0.1").listen(site)
    try:
        yield f"http://127.0.0.1:{port.getHost().port}"
    finally:
        await port.stopListening()
        await site.drain(0)
