"""The Redis the tests use is real and answers through txredisapi."""

from __future__ import annotations

import uuid
from urllib.parse import urlsplit

import txredisapi
from twisted.internet import reactor
from twisted.internet.endpoints import TCP4ClientEndpoint

from tests.support.async_tests import async_test


@async_test
async def test_the_test_redis_answers_set_get_and_expiry(redis_url: str) -> None:
    parts = urlsplit(redis_url)
    database = int(parts.path.strip("/") or 0)
    factory = txredisapi.RedisFactory(None, dbid=database, poolsize=1, isLazy=False, replyTimeout=5)
    factory.continueTrying = False
    factory.startConnecting(TCP4ClientEndpoint(reactor, parts.hostname or "127.0.0.1", parts.port or 6379))
    connection = await factory.deferred
    key = f"zulipd-test:{uuid.uuid4().hex}"
    try:
        assert await connection.set(key, "value", expire=30)
        assert await connection.get(key) == "value"
        assert 0 < await connection.ttl(key) <= 30
        assert await connection.get(f"{key}:missing") is None
    finally:
        await connection.delete(key)
        await connection.disconnect()


def test_a_private_redis_server_starts_answers_and_stops() -> None:
    import shutil

    from tests.support.daemon import reachable_temporary_directory
    from tests.support.redis import PrivateRedis, answers_ping

    directory = reachable_temporary_directory("zulipd-test-private-redis-")
    try:
        server = PrivateRedis(directory)
        try:
            assert answers_ping("127.0.0.1", server.port)
        finally:
            server.stop()
        assert not answers_ping("127.0.0.1", server.port)
    finally:
        shutil.rmtree(directory, ignore_errors=True)
