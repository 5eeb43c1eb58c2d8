"""The root of zulipd's HTTP resource tree.

``/api/v1/`` and ``/json/`` go straight to the REST dispatcher; everything
else (``/health``, the browser pages) is routed by Klein.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from klein import Klein
from twisted.internet import defer
from twisted.logger import Logger
from twisted.web import resource
from twisted.web.iweb import IRequest
from twisted.web.resource import IResource

from zulipd.app.api import ApiResource
from zulipd.app.response import encode_json, json_error, json_success
from zulipd.app.routes import load_routes
from zulipd.app.web import WebPages
from zulipd.storage.health import check_database
from zulipd.storage.pool import DatabaseUnavailable

if TYPE_CHECKING:
    from zulipd.server import Server

log = Logger()

HEALTH_CHECK_TIMEOUT = 5.0


class HealthPage:
    def __init__(self, server: Server) -> None:
        self.server = server

    def add_routes(self, app: Klein) -> None:
        app.route("/health", methods=["GET", "HEAD"])(self.health)

    async def health(self, request: IRequest) -> bytes:
        """200 when the database answers; 500 with the reason otherwise."""
        pool = self.server.db_pool
        try:
            if pool is None:
                raise DatabaseUnavailable("the database is not connected")
            checking = defer.ensureDeferred(check_database(pool))
            await checking.addTimeout(HEALTH_CHECK_TIMEOUT, self.server.reactor)
        except defer.TimeoutError:
            log.warn(
                "Health check failed: the database did not answer within {timeout:g} s", timeout=HEALTH_CHECK_TIMEOUT
            )
            return json_error(
                request, f"The database did not answer within {HEALTH_CHECK_TIMEOUT:g} s", "SERVER_NOT_READY", 500
            )
        except Exception as failure:
            reason = str(failure).strip().splitlines()[0] if str(failure).strip() else type(failure).__name__
            log.warn("Health check failed: {reason}", reason=reason)
            return json_error(request, f"The database is unavailable: {reason}", "SERVER_NOT_READY", 500)
        return json_success(request)


class _Prefix(resource.Resource):
    """``/api``: only ``v1`` below it."""

    def __init__(self, v1: IResource) -> None:
        super().__init__()  # type: ignore[no-untyped-call]
        self._v1 = v1

    def getChild(self, path: bytes, request: IRequest) -> IResource:
        if path == b"v1":
            return self._v1
        return _NotFound()


class _NotFound(resource.Resource):
    isLeaf = True

    def __init__(self) -> None:
        super().__init__()  # type: ignore[no-untyped-call]

    def render(self, request: IRequest) -> bytes:
        request.setResponseCode(404)
        request.setHeader(b"Content-Type", b"application/json")
        return encode_json({"result": "error", "msg": "Not Found", "code": "BAD_REQUEST"})


class Root(resource.Resource):
    def __init__(self, server: Server) -> None:
        super().__init__()  # type: ignore[no-untyped-call]
        routes = load_routes()
        self._api = _Prefix(ApiResource(server, routes, "api"))
        self._json = ApiResource(server, routes, "json")
        pages = Klein()
        HealthPage(server).add_routes(pages)
        WebPages(server).add_routes(pages)
        self._pages = pages.resource()

    def getChild(self, path: bytes, request: Any) -> IResource:
        if path == b"api":
            return self._api
        if path == b"json":
            return self._json
        # Give Klein the whole path back.
        request.prepath.pop()
        request.postpath.insert(0, path)
        return self._pages


def make_root(server: Server) -> IResource:
    return Root(server)
