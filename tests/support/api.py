"""An in-process zulipd API on loopback, over this test's own real database.

    async def test_something(api: ApiHarness) -> None:
        response = await api.call("GET", "users/me", as_user="iago@zulip.com")

The harness creates Zulip's development organization ("zulip", served at
127.0.0.1) with its ten users, each with the password ``DEV_PASSWORD``.
bcrypt runs at its lowest cost so that tests stay fast.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlencode

from twisted.internet import defer, reactor
from twisted.internet.endpoints import TCP4ServerEndpoint
from twisted.internet.interfaces import IListeningPort
from twisted.web.client import Agent, FileBodyProducer
from twisted.web.http_headers import Headers

from tests.support.http import Response, read_body
from zulipd.admin.users import DEV_REALM, DEV_USERS
from zulipd.app.eager_writes import write_eagerly
from zulipd.app.root import make_root
from zulipd.app.site import ZulipdSite
from zulipd.config import load_config
from zulipd.models import Realm, UserProfile
from zulipd.server import Server
from zulipd.storage.pool import DatabasePool

DEV_PASSWORD = "dev-password"


class ApiHarness:
    def __init__(self, server: Server, port: IListeningPort, site: ZulipdSite) -> None:
        self.server = server
        self.port = port
        self.site = site
        self.realm: Realm | None = None
        self.users: dict[str, UserProfile] = {}

    @property
    def base_url(self) -> str:
        host: Any = self.port.getHost()
        return f"http://127.0.0.1:{host.port}"

    def user(self, email: str) -> UserProfile:
        return self.users[email.lower()]

    def api_key(self, email: str) -> str:
        return self.users[email.lower()].api_key

    async def refresh(self, email: str) -> UserProfile:
        """Re-read a user (its key may have changed)."""
        from zulipd.actions.users import get_user

        assert self.realm is not None
        user = await get_user(self.server, self.realm, self.users[email.lower()].id)
        self.users[email.lower()] = user
        return user

    def basic_auth(self, email: str, api_key: str | None = None) -> str:
        credentials = f"{email}:{api_key if api_key is not None else self.api_key(email)}"
        return "Basic " + base64.b64encode(credentials.encode()).decode()

    async def call(
        self,
        method: str,
        path: str,
        params: Mapping[str, Any] | None = None,
        *,
        as_user: str | None = None,
        prefix: str = "/api/v1/",
        headers: Mapping[str, str] | None = None,
        host: str | None = None,
        body: bytes | None = None,
        content_type: str = "application/x-www-form-urlencoded",
    ) -> Response:
        """One request. ``params`` go in the query string for GET, HEAD and OPTIONS, else in a form body.

        Values that are not strings are JSON-encoded, as the official client does.
        """
        encoded = {key: value if isinstance(value, str) else json.dumps(value) for key, value in (params or {}).items()}
        url = self.base_url + prefix + path
        all_headers = dict(headers or {})
        if as_user is not None:
            all_headers["Authorization"] = self.basic_auth(as_user)
        if host is not None:
            all_headers["Host"] = host
        producer = None
        if method in ("GET", "HEAD", "OPTIONS"):
            if encoded:
                url += ("&" if "?" in url else "?") + urlencode(encoded)
        elif body is not None or encoded:
            payload = body if body is not None else urlencode(encoded).encode()
            all_headers["Content-Type"] = content_type
            producer = FileBodyProducer(_BytesIO(payload))
        raw_headers = Headers({name: [value] for name, value in all_headers.items()})
        response = await Agent(reactor).request(method.encode(), url.encode(), raw_headers, producer)
        return Response(response.code, response.headers, await read_body(response))


class _BytesIO:
    """A minimal file for FileBodyProducer."""

    def __init__(self, data: bytes) -> None:
        self._data = data
        self._position = 0

    def read(self, size: int = -1) -> bytes:
        end = len(self._data) if size < 0 else self._position + size
        chunk = self._data[self._position : end]
        self._position += len(chunk)
        return chunk

    def seek(self, offset: int, whence: int = 0) -> int:
        self._position = offset if whence == 0 else len(self._data) + offset if whence == 2 else self._position + offset
        return self._position

    def tell(self) -> int:
        return self._position

    def close(self) -> None:
        pass


def harness_environment(**overrides: str) -> dict[str, str]:
    environ = {
        "ZULIPD_DATABASE_URL": "postgresql:///set-by-the-harness",
        "ZULIPD_AUTH_PASSWORD_HASH_ROUNDS": "4",
        "ZULIPD_SERVER_EXTERNAL_HOST": "127.0.0.1:9991",
    }
    environ.update(overrides)
    return environ


async def start_harness(pool: DatabasePool, **config_overrides: str) -> ApiHarness:
    from zulipd.actions.realms import do_create_realm
    from zulipd.actions.users import do_create_user

    server = Server(load_config(None, harness_environment(**config_overrides)), reactor)
    server.db_pool = pool
    # The pool is this test's alone: what its commits announce goes to this server, as in zulipd.
    pool.on_commit = server.handle_invalidation
    site = ZulipdSite(make_root(server), reactor)
    port = await TCP4ServerEndpoint(reactor, 0, interface="127.0.0.1").listen(site)
    write_eagerly(port)
    harness = ApiHarness(server, port, site)
    server.events.start()
    harness.realm = await do_create_realm(server, *DEV_REALM)
    for email, full_name, role in DEV_USERS:
        user = await do_create_user(
            server, harness.realm, email=email, full_name=full_name, password=DEV_PASSWORD, role=role
        )
        harness.users[email.lower()] = user
    return harness


async def stop_harness(harness: ApiHarness) -> None:
    harness.server.events.stop()
    await defer.maybeDeferred(harness.port.stopListening)
    await harness.site.drain(0)
