"""Connecting to the deployment's Redis (``[redis] url``) with txredisapi."""

from __future__ import annotations

from typing import Any
from urllib.parse import unquote, urlsplit

import txredisapi
from twisted.internet import defer


class RedisUnavailable(Exception):
    """Redis cannot be reached. ``str()`` is one line for the operator."""


async def connect_redis(url: str, timeout: float, pool_size: int = 4) -> Any:
    """A txredisapi connection pool that reconnects by itself after losing Redis."""
    parts = urlsplit(url)
    password = unquote(parts.password) if parts.password else None
    try:
        if parts.scheme == "unix":
            connecting = txredisapi.UnixConnectionPool(
                parts.path, poolsize=pool_size, password=password, replyTimeout=timeout
            )
        else:
            database = int(parts.path.strip("/") or 0)
            connecting = txredisapi.ConnectionPool(
                parts.hostname or "127.0.0.1",
                parts.port or 6379,
                dbid=database,
                poolsize=pool_size,
                password=password,
                connectTimeout=timeout,
                replyTimeout=timeout,
            )
        connection = await defer.Deferred.addTimeout(connecting, timeout, _reactor())
        await connection.ping()
    except defer.TimeoutError:
        raise RedisUnavailable(f"Redis at {_where(parts)} did not answer within {timeout:g} s") from None
    except Exception as error:
        reason = str(error).strip() or type(error).__name__
        raise RedisUnavailable(f"cannot connect to Redis at {_where(parts)}: {reason}") from None
    return connection


def _where(parts: Any) -> str:
    return parts.path if parts.scheme == "unix" else f"{parts.hostname or '127.0.0.1'}:{parts.port or 6379}"


def _reactor() -> Any:
    from twisted.internet import reactor

    return reactor
