"""The root of zulipd's HTTP resource tree."""

from __future__ import annotations

from typing import TYPE_CHECKING

from klein import Klein
from twisted.internet import defer
from twisted.logger import Logger
from twisted.web.iweb import IRequest
from twisted.web.resource import IResource

from zulipd.app.response import json_error, json_success
from zulipd.storage.health import check_database
from zulipd.storage.pool import DatabaseUnavailable

if TYPE_CHECKING:
    from zulipd.server import Server

log = Logger()

HEALTH_CHECK_TIMEOUT = 5.0


class WebApp:
    app = Klein()

    def __init__(self, server: Server) -> None:
        self.server = server

    def resource(self) -> IResource:
        return self.app.resource()

    @app.route("/health", methods=["GET", "HEAD"])
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
