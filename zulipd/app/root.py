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
from zulipd.app.ws import EventsWebSocket
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


class _NotFound(resource.Resource):
    isLeaf = True

    def __init__(self) -> None:
        super().__init__()  # type: ignore[no-untyped-call]

    def render(self, request: IRequest) -> bytes:
        request.setResponseCode(404)
        request.setHeader(b"Content-Type", b"application/json")
        return encode_json({"result": "error", "msg": "Not Found", "code": "BAD_REQUEST"})


_EVENTS_WS = [b"events", b"ws"]


class Root(resource.Resource):
    """Dispatches on the first path segments itself: the API is the hot path."""

    isLeaf = True

    def __init__(self, server: Server) -> None:
        super().__init__()  # type: ignore[no-untyped-call]
        routes = load_routes()
        self._api = ApiResource(server, routes, "api")
        self._json = ApiResource(server, routes, "json")
        self._api_ws = EventsWebSocket(server, self._api)
        self._json_ws = EventsWebSocket(server, self._json)
        self._not_found = _NotFound()
        pages = Klein()
        HealthPage(server).add_routes(pages)
        WebPages(server).add_routes(pages)
        self._pages = pages.resource()

    def render(self, request: Any) -> Any:
        segments = request.postpath
        first = segments[0] if segments else b""
        if first == b"api":
            if len(segments) > 1 and segments[1] == b"v1":
                if segments[2:] == _EVENTS_WS:
                    return self._serve(self._api_ws, request, 2)
                return self._serve(self._api, request, 2)
            return self._not_found.render(request)
        if first == b"json":
            if segments[1:] == _EVENTS_WS:
                return self._serve(self._json_ws, request, 1)
            return self._serve(self._json, request, 1)
        return self._pages.render(request)

    @staticmethod
    def _serve(target: Any, request: Any, consumed: int) -> Any:
        request.prepath = request.postpath[:consumed]
        request.postpath = request.postpath[consumed:]
        return target.render(request)


def make_root(server: Server) -> IResource:
    return Root(server)
