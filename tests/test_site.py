"""The HTTP site: trusted proxies, draining, and /health."""

from __future__ import annotations

import ipaddress
import json

import pytest
from twisted.internet import defer, reactor
from twisted.web import resource, server
from twisted.web._newclient import ResponseNeverReceived

from tests.support.async_tests import async_test
from tests.support.http import request, serving
from zulipd.app.root import make_root
from zulipd.app.site import ZulipdRequest, ZulipdSite, forwarded_client_ip
from zulipd.config.load import load_config
from zulipd.server import Server
from zulipd.storage.pool import DatabasePool
from zulipd.timing import sleep

PROXIES = (ipaddress.ip_network("127.0.0.0/8"), ipaddress.ip_network("10.1.0.0/16"))


class WhoAmI(resource.Resource):
    """Answers with the client address and scheme the site worked out."""

    isLeaf = True

    def __init__(self) -> None:
        super().__init__()  # type: ignore[no-untyped-call]

    def render_GET(self, request: ZulipdRequest) -> bytes:
        return json.dumps({"ip": request.client_ip, "secure": request.isSecure()}).encode()


class Slow(resource.Resource):
    """Answers after ``delay`` seconds."""

    isLeaf = True

    def __init__(self, delay: float) -> None:
        super().__init__()  # type: ignore[no-untyped-call]
        self.delay = delay

    def render_GET(self, request: ZulipdRequest) -> int:
        def answer() -> None:
            request.write(b"done")
            request.finish()

        call = reactor.callLater(self.delay, answer)
        request.notifyFinish().addErrback(lambda _: call.cancel())
        return server.NOT_DONE_YET


FORWARDED = {"X-Forwarded-For": "203.0.113.9, 10.1.2.3", "X-Forwarded-Proto": "https"}


@async_test
async def test_forwarded_headers_are_honoured_from_a_trusted_proxy() -> None:
    async with serving(ZulipdSite(WhoAmI(), reactor, PROXIES)) as url:
        response = await request("GET", url + "/", FORWARDED)
    assert response.json() == {"ip": "203.0.113.9", "secure": True}


@async_test
async def test_forwarded_headers_are_ignored_from_anyone_else() -> None:
    async with serving(ZulipdSite(WhoAmI(), reactor, (ipaddress.ip_network("10.1.0.0/16"),))) as url:
        response = await request("GET", url + "/", FORWARDED)
    assert response.json() == {"ip": "127.0.0.1", "secure": False}


@async_test
async def test_without_configured_proxies_forwarded_headers_are_ignored() -> None:
    async with serving(ZulipdSite(WhoAmI(), reactor, ())) as url:
        response = await request("GET", url + "/", FORWARDED)
    assert response.json() == {"ip": "127.0.0.1", "secure": False}


@pytest.mark.parametrize(
    ("peer", "header", "expected"),
    [
        ("10.1.0.1", ["198.51.100.1"], "198.51.100.1"),
        # The client wrote the leftmost entry; only the part our proxies added counts.
        ("10.1.0.1", ["6.6.6.6, 198.51.100.1"], "198.51.100.1"),
        ("10.1.0.1", ["198.51.100.1, 10.1.9.9"], "198.51.100.1"),
        ("10.1.0.1", ["198.51.100.1", "10.1.9.9"], "198.51.100.1"),
        ("10.1.0.1", ["2001:db8::5"], "2001:db8::5"),
        ("10.1.0.1", ["[2001:db8::5]:443"], "2001:db8::5"),
        ("10.1.0.1", ["198.51.100.1:5555"], "198.51.100.1"),
        ("10.1.0.1", ["::ffff:198.51.100.1"], "198.51.100.1"),
        # Garbage stops the walk: the last good hop is used.
        ("10.1.0.1", ["198.51.100.1, nonsense, 10.1.9.9"], "10.1.9.9"),
        ("10.1.0.1", ["nonsense"], "10.1.0.1"),
        ("10.1.0.1", [], "10.1.0.1"),
        # An untrusted peer's header is never read.
        ("192.0.2.1", ["198.51.100.1"], "192.0.2.1"),
    ],
)
def test_client_address_from_forwarded_for(peer: str, header: list[str], expected: str) -> None:
    proxies = (ipaddress.ip_network("10.1.0.0/16"),)
    assert forwarded_client_ip(peer, [value.encode() for value in header], proxies) == expected


async def until_served(site: ZulipdSite) -> None:
    """Until the one request sent is being served, however loaded the machine."""
    for _ in range(100):
        if site.in_flight:
            break
        await sleep(reactor, 0.05)
    assert site.in_flight == 1


@async_test
async def test_drain_lets_running_requests_finish() -> None:
    site = ZulipdSite(Slow(0.3), reactor)
    async with serving(site) as url:
        pending = defer.ensureDeferred(request("GET", url + "/"))
        await until_served(site)
        await site.drain(5.0)
        response = await pending
    assert response.status == 200
    assert response.body == b"done"
    assert site.in_flight == 0


@async_test
async def test_drain_cuts_requests_that_outlast_the_bound() -> None:
    site = ZulipdSite(Slow(30), reactor)
    async with serving(site) as url:
        pending = defer.ensureDeferred(request("GET", url + "/"))
        await until_served(site)
        await site.drain(0.2)
        with pytest.raises(ResponseNeverReceived):
            await pending
    assert site.in_flight == 0


def _server_with_pool(pool: DatabasePool | None) -> Server:
    server = Server(load_config(None, {"ZULIPD_DATABASE_URL": "postgresql:///unused"}), reactor)
    server.db_pool = pool
    return server


@async_test
async def test_health_is_200_when_the_database_answers(db_pool: DatabasePool) -> None:
    async with serving(ZulipdSite(make_root(_server_with_pool(db_pool)), reactor)) as url:
        response = await request("GET", url + "/health")
        head = await request("HEAD", url + "/health")
    assert response.status == 200
    assert response.json() == {"result": "success", "msg": ""}
    assert response.header("Content-Type") == "application/json"
    assert head.status == 200
    assert head.body == b""


@async_test
async def test_health_is_500_with_a_reason_when_the_database_is_gone(database_dsn: str) -> None:
    pool = DatabasePool(database_dsn, 1, reactor, connect_timeout=1.0)
    await pool.start()
    await pool.close()
    async with serving(ZulipdSite(make_root(_server_with_pool(pool)), reactor)) as url:
        response = await request("GET", url + "/health")
    assert response.status == 500
    body = response.json()
    assert body["result"] == "error"
    assert body["code"] == "SERVER_NOT_READY"
    assert "the database pool is closed" in body["msg"]
