"""Rate limits: Zulip's sliding windows, in memory and in Redis, and through the HTTP API.

The behavioural tests run against both backends with the same expectations,
on a fake clock (twisted.internet.task.Clock); the Redis ones use the real
Redis of the tests, each under a key prefix of its own. The HTTP tests run
zulipd's API in-process (tests.support.api) on the test's own database.
"""

from __future__ import annotations

import dataclasses
import math
import re
import uuid
import warnings
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from typing import Any

import pytest
from twisted.internet import defer, reactor
from twisted.internet.endpoints import TCP4ServerEndpoint
from twisted.internet.task import Clock
from twisted.web.client import Agent
from twisted.web.http_headers import Headers

from tests.support.api import DEV_PASSWORD, ApiHarness, harness_environment, start_harness, stop_harness
from tests.support.async_tests import async_fixture, async_test, captured_logs
from tests.support.http import Response, read_body
from zulipd.app.root import make_root
from zulipd.app.site import ZulipdSite
from zulipd.config import load_config
from zulipd.errors import RateLimited
from zulipd.ratelimit import (
    Decision,
    MemoryRateLimits,
    RateLimitBackend,
    RateLimitedWithHeaders,
    RateLimitRules,
    RateLimits,
    RedisRateLimits,
    Rule,
    headers_for,
)
from zulipd.redis import connect_redis
from zulipd.server import Server
from zulipd.storage.pool import DatabasePool

# A plausible UNIX time for the fake clock, so that X-RateLimit-Reset looks like one.
T0 = 1_700_000_000.0
PER_MINUTE_3: Sequence[Rule] = ((60.0, 3),)
HAMLET = "hamlet@zulip.com"
IAGO = "iago@zulip.com"


# RedisRateLimits.clear() trips a txredisapi DeprecationWarning (a bug of its own, tested below); the
# tests of what clearing does look past it.
PAST_DELETE_DEPRECATION = pytest.mark.filterwarnings(
    r"ignore:Passing \*args to redis.delete is deprecated:DeprecationWarning"
)


def at(clock: Clock, moment: float) -> None:
    """Move the fake clock to T0 + ``moment``."""
    clock.advance(T0 + moment - clock.seconds())


@dataclasses.dataclass
class Limits:
    """A backend under test, its fake clock, and how to make another one sharing its state."""

    kind: str
    clock: Clock
    backend: RateLimitBackend
    another: Callable[[], RateLimitBackend]

    async def hit(self, moment: float, rules: Sequence[Rule] = PER_MINUTE_3, key: str = "user:1") -> Decision:
        at(self.clock, moment)
        return await self.backend.hit(key, rules)


async def delete_keys(redis: Any, prefix: str) -> None:
    keys = await redis.keys(prefix + "*")
    if keys:
        await redis.delete(keys)


def unique_prefix() -> str:
    return f"zulipd-test:ratelimit:{uuid.uuid4().hex}:"


@pytest.fixture(params=["memory", "redis"])
def backend_kind(request: pytest.FixtureRequest) -> str:
    kind: str = request.param
    return kind


@async_fixture
async def limits(backend_kind: str, redis_url: str) -> AsyncIterator[Limits]:
    clock = Clock()
    at(clock, 0)
    if backend_kind == "memory":
        memory = MemoryRateLimits(clock)
        yield Limits("memory", clock, memory, lambda: memory)
        return
    redis = await connect_redis(redis_url, 5)
    prefix = unique_prefix()
    try:
        yield Limits(
            "redis", clock, RedisRateLimits(redis, clock, prefix), lambda: RedisRateLimits(redis, clock, prefix)
        )
    finally:
        await delete_keys(redis, prefix)
        await redis.disconnect()


# --- the sliding window, on both backends ----------------------------------


@async_test
async def test_a_rule_allows_its_calls_then_limits_until_the_oldest_call_leaves_the_window(limits: Limits) -> None:
    for moment in (0, 10, 20):
        decision = await limits.hit(moment)
        assert not decision.limited, moment
    decision = await limits.hit(30)
    assert decision.limited
    # The oldest of the three calls (at 0) leaves the 60 s window at 60.
    assert decision.retry_after == pytest.approx(30.0)
    assert decision.remaining == 0
    assert decision.limit == 3


@async_test
async def test_remaining_counts_down_and_limit_is_the_rule_size(limits: Limits) -> None:
    decisions = [await limits.hit(moment) for moment in (0, 1, 2, 3)]
    assert [decision.remaining for decision in decisions] == [2, 1, 0, 0]
    assert [decision.limited for decision in decisions] == [False, False, False, True]
    assert {decision.limit for decision in decisions} == {3}


@async_test
async def test_slots_free_up_one_by_one_as_calls_leave_the_window(limits: Limits) -> None:
    for moment in (0, 10, 20):
        assert not (await limits.hit(moment)).limited
    assert (await limits.hit(59.5)).retry_after == pytest.approx(0.5)
    # At 60 only the call made at 0 has left: one slot, not a fresh window of three.
    assert not (await limits.hit(60)).limited
    second = await limits.hit(60)
    assert second.limited
    assert second.retry_after == pytest.approx(10.0)
    assert not (await limits.hit(70)).limited
    assert (await limits.hit(70)).retry_after == pytest.approx(10.0)
    assert not (await limits.hit(80)).limited
    assert (await limits.hit(80)).retry_after == pytest.approx(40.0)


@async_test
async def test_windows_slide_rather_than_reset_on_fixed_boundaries(limits: Limits) -> None:
    for _ in range(3):
        assert not (await limits.hit(59)).limited
    # A fixed window starting at 60 would allow three more here; any 60 s must hold at most three calls.
    decision = await limits.hit(61)
    assert decision.limited
    assert decision.retry_after == pytest.approx(58.0)
    assert not (await limits.hit(119)).limited


@async_test
async def test_with_several_rules_a_call_is_limited_when_any_rule_is_exhausted(limits: Limits) -> None:
    # Two per 10 s and five per minute. (Redis expires each rule's list after its window in real
    # time, so the short window is kept well above the real time a test step takes.)
    rules: Sequence[Rule] = ((10.0, 2), (60.0, 5))
    assert not (await limits.hit(0, rules)).limited
    assert not (await limits.hit(0, rules)).limited
    burst = await limits.hit(0, rules)
    assert burst.limited  # two per 10 s
    assert burst.retry_after == pytest.approx(10.0)
    assert not (await limits.hit(10, rules)).limited
    assert not (await limits.hit(10, rules)).limited
    assert (await limits.hit(10, rules)).limited
    last = await limits.hit(20, rules)
    assert not last.limited
    assert last.remaining == 0  # the fifth call of the minute
    minute = await limits.hit(20, rules)
    assert minute.limited  # five per minute, although the 10 s rule has room
    assert minute.retry_after == pytest.approx(40.0)
    assert minute.limit == 5
    assert not (await limits.hit(60, rules)).limited


@async_test
async def test_a_limited_call_is_not_counted(limits: Limits) -> None:
    for _ in range(3):
        assert not (await limits.hit(0)).limited
    for moment in range(1, 30):
        assert (await limits.hit(moment)).limited
    # Had the refused calls counted, the window would still be full at 60.
    for _ in range(3):
        assert not (await limits.hit(60)).limited
    assert (await limits.hit(60)).limited


@async_test
async def test_count_tells_whether_a_key_is_limited_without_counting(limits: Limits) -> None:
    at(limits.clock, 0)
    for _ in range(10):
        decision = await limits.backend.count("user:1", PER_MINUTE_3)
        assert not decision.limited
        assert decision.remaining == 3
    for moment in (0, 5, 10):
        assert not (await limits.hit(moment)).limited
    at(limits.clock, 20)
    decision = await limits.backend.count("user:1", PER_MINUTE_3)
    assert decision.limited
    assert decision.retry_after == pytest.approx(40.0)


@async_test
async def test_keys_are_limited_separately(limits: Limits) -> None:
    for _ in range(3):
        assert not (await limits.hit(0, key="user:1")).limited
    assert (await limits.hit(0, key="user:1")).limited
    other = await limits.hit(0, key="user:2")
    assert not other.limited
    assert other.remaining == 2


@PAST_DELETE_DEPRECATION
@async_test
async def test_clear_forgets_a_keys_calls(limits: Limits) -> None:
    for _ in range(3):
        await limits.hit(0)
    await limits.hit(0, key="user:2")
    assert (await limits.hit(1)).limited
    await limits.backend.clear("user:1")
    decision = await limits.hit(1)
    assert not decision.limited
    assert decision.remaining == 2
    # Other keys keep their calls.
    assert (await limits.hit(1, key="user:2")).remaining == 1


@async_test
async def test_another_instance_over_the_same_store_sees_the_same_counts(limits: Limits) -> None:
    other = limits.another()
    await limits.hit(0)
    await limits.hit(0)
    assert not (await other.hit("user:1", PER_MINUTE_3)).limited
    assert (await limits.hit(0)).limited
    assert (await other.hit("user:1", PER_MINUTE_3)).limited


# --- RateLimits and the headers -------------------------------------------


def zulip_rules(**overrides: tuple[Rule, ...]) -> RateLimitRules:
    rules = {
        "api_by_user": ((10.0, 2), (60.0, 5)),
        "api_by_ip": ((60.0, 3),),
        "authenticate_by_username": ((1800.0, 5),),
    }
    rules.update(overrides)
    return RateLimitRules(**rules)


@async_test
async def test_rate_limits_give_zulips_headers_and_raise_when_limited(limits: Limits) -> None:
    at(limits.clock, 0.25)
    rate_limits = RateLimits(limits.backend, zulip_rules(), limits.clock)
    first = await rate_limits.check_user(7)
    # Limit: the max calls of the rule with the largest window; Remaining: what the tightest rule allows.
    assert first["X-RateLimit-Limit"] == "5"
    assert first["X-RateLimit-Remaining"] == "1"
    assert re.fullmatch(r"\d+", first["X-RateLimit-Reset"])
    assert first["X-RateLimit-Reset"] == str(int(T0 + 0.25 + 60))
    second = await rate_limits.check_user(7)
    assert second["X-RateLimit-Remaining"] == "0"
    with pytest.raises(RateLimitedWithHeaders) as raised:
        await rate_limits.check_user(7)
    error = raised.value
    assert isinstance(error, RateLimited)
    assert error.http_status == 429
    assert error.code == "RATE_LIMIT_HIT"
    assert error.retry_after == pytest.approx(10.0)
    body = error.body()
    assert body == {
        "result": "error",
        "msg": "API usage exceeded rate limit",
        "code": "RATE_LIMIT_HIT",
        "retry-after": pytest.approx(10.0),
    }
    assert isinstance(body["retry-after"], float)
    headers = error.headers()
    assert headers["Retry-After"] == "10"
    assert headers["X-RateLimit-Limit"] == "5"
    assert headers["X-RateLimit-Remaining"] == "0"
    assert headers["X-RateLimit-Reset"] == str(int(T0 + 0.25 + 60))
    # Users and IP addresses are counted apart.
    assert (await rate_limits.check_user(8))["X-RateLimit-Remaining"] == "1"
    assert (await rate_limits.check_ip("127.0.0.1"))["X-RateLimit-Limit"] == "3"


@async_test
async def test_an_empty_rule_list_disables_a_limit(limits: Limits) -> None:
    rate_limits = RateLimits(
        limits.backend, zulip_rules(api_by_user=(), api_by_ip=(), authenticate_by_username=()), limits.clock
    )
    for _ in range(50):
        assert await rate_limits.check_user(7) == {}
        assert await rate_limits.check_ip("127.0.0.1") == {}
        await rate_limits.record_failed_authentication(HAMLET)
        await rate_limits.check_authentication_attempts(HAMLET)


@PAST_DELETE_DEPRECATION
@async_test
async def test_failed_logins_are_limited_per_username_until_cleared(limits: Limits) -> None:
    rate_limits = RateLimits(limits.backend, zulip_rules(), limits.clock)
    at(limits.clock, 0)
    for attempt in range(5):
        # Checking does not count; only recorded failures do.
        await rate_limits.check_authentication_attempts(HAMLET)
        await rate_limits.check_authentication_attempts(HAMLET)
        at(limits.clock, attempt * 10)
        await rate_limits.record_failed_authentication("  Hamlet@Zulip.com ")
    at(limits.clock, 100)
    with pytest.raises(RateLimited) as raised:
        await rate_limits.check_authentication_attempts(HAMLET)
    assert raised.value.retry_after == pytest.approx(1800.0 - 100)
    await rate_limits.check_authentication_attempts("iago@zulip.com")
    await rate_limits.clear_authentication_attempts("HAMLET@zulip.com")
    await rate_limits.check_authentication_attempts(HAMLET)


def test_headers_for_rounds_reset_down_to_an_integer_unix_time() -> None:
    decision = Decision(limited=False, retry_after=0.0, remaining=4, limit=5, reset_after=12.9)
    assert headers_for(decision, T0 + 0.5) == {
        "X-RateLimit-Limit": "5",
        "X-RateLimit-Remaining": "4",
        "X-RateLimit-Reset": str(int(T0 + 13.4)),
    }


@pytest.mark.parametrize(("retry_after", "header"), [(0.01, "1"), (0.5, "1"), (1.0, "1"), (29.2, "30"), (30.0, "30")])
def test_retry_after_header_is_whole_seconds_and_at_least_one(retry_after: float, header: str) -> None:
    error = RateLimited(retry_after)
    assert error.headers() == {"Retry-After": header}
    assert error.body()["retry-after"] == retry_after


def test_retry_after_header_never_rounds_down() -> None:
    assert RateLimited(30.0005).headers() == {"Retry-After": "31"}


@async_test
async def test_reset_is_when_every_call_has_left_the_window(limits: Limits) -> None:
    rate_limits = RateLimits(limits.backend, zulip_rules(api_by_user=((60.0, 3),)), limits.clock)
    at(limits.clock, 0)
    await rate_limits.check_user(7)
    at(limits.clock, 10)
    headers = await rate_limits.check_user(7)
    # Only at 70 has the call made at 10 left the window, so that three calls are allowed again.
    assert headers["X-RateLimit-Reset"] == str(int(T0 + 70))


# --- the memory backend's housekeeping ---------------------------------------


@async_test
async def test_forget_idle_drops_only_keys_with_no_call_in_the_window() -> None:
    clock = Clock()
    memory = MemoryRateLimits(clock)
    rule: Sequence[Rule] = ((60.0, 1),)
    at(clock, 0)
    await memory.hit("idle", rule)
    at(clock, 50)
    await memory.hit("busy", rule)
    at(clock, 60)
    memory.forget_idle(60.0)
    assert set(memory._calls) == {"busy"}
    # The busy key keeps its call and is still limited.
    decision = await memory.hit("busy", rule)
    assert decision.limited
    assert decision.retry_after == pytest.approx(50.0)
    assert not (await memory.hit("idle", rule)).limited
    memory.forget_idle(3600.0)
    assert set(memory._calls) == {"busy", "idle"}


# --- the Redis backend ------------------------------------------------------


@async_fixture
async def redis_pair(redis_url: str) -> AsyncIterator[tuple[Any, Any, str]]:
    """Two independent Redis connection pools, as two zulipd processes have, and a key prefix."""
    first = await connect_redis(redis_url, 5)
    second = await connect_redis(redis_url, 5)
    prefix = unique_prefix()
    try:
        yield first, second, prefix
    finally:
        await delete_keys(first, prefix)
        await first.disconnect()
        await second.disconnect()


@PAST_DELETE_DEPRECATION
@async_test
async def test_two_redis_processes_share_the_counts(redis_pair: tuple[Any, Any, str]) -> None:
    first_redis, second_redis, prefix = redis_pair
    clock = Clock()
    at(clock, 0)
    first = RedisRateLimits(first_redis, clock, prefix)
    second = RedisRateLimits(second_redis, clock, prefix)
    assert (await first.hit("user:1", PER_MINUTE_3)).remaining == 2
    assert (await second.hit("user:1", PER_MINUTE_3)).remaining == 1
    assert (await first.hit("user:1", PER_MINUTE_3)).remaining == 0
    assert (await second.hit("user:1", PER_MINUTE_3)).limited
    assert (await first.hit("user:1", PER_MINUTE_3)).limited
    await second.clear("user:1")
    assert not (await first.hit("user:1", PER_MINUTE_3)).limited


@async_test
async def test_redis_clear_makes_no_deprecated_call(redis_pair: tuple[Any, Any, str]) -> None:
    redis, _, prefix = redis_pair
    backend = RedisRateLimits(redis, Clock(), prefix)
    await backend.hit("user:1", PER_MINUTE_3)
    with warnings.catch_warnings():
        warnings.simplefilter("error", DeprecationWarning)
        await backend.clear("user:1")
    assert await redis.keys(prefix + "user:1*") == []


@async_test
async def test_concurrent_redis_hits_allow_exactly_the_limit(redis_pair: tuple[Any, Any, str]) -> None:
    first_redis, second_redis, prefix = redis_pair
    clock = Clock()
    at(clock, 0)
    backends = [RedisRateLimits(first_redis, clock, prefix), RedisRateLimits(second_redis, clock, prefix)]
    rule: Sequence[Rule] = ((60.0, 10),)
    hits = [defer.ensureDeferred(backends[index % 2].hit("user:1", rule)) for index in range(20)]
    results = await defer.DeferredList(hits, fireOnOneErrback=True, consumeErrors=True)
    decisions = [decision for _, decision in results]
    assert sum(not decision.limited for decision in decisions) == 10
    assert sum(decision.limited for decision in decisions) == 10
    assert (await backends[0].count("user:1", rule)).limited
    # The refused calls were not counted: once the allowed ones leave the window, ten more are allowed.
    at(clock, 60)
    assert [(await backends[1].hit("user:1", rule)).limited for _ in range(11)] == [False] * 10 + [True]


@async_test
async def test_redis_keys_expire_after_the_longest_window(redis_pair: tuple[Any, Any, str]) -> None:
    redis, _, prefix = redis_pair
    clock = Clock()
    backend = RedisRateLimits(redis, clock, prefix)
    await backend.hit("user:1", ((10.0, 2), (60.0, 5)))
    keys = await redis.keys(prefix + "user:1*")
    assert keys
    for key in keys:
        assert 0 < await redis.ttl(key) <= 60, key
    # Counting without a call stores nothing.
    await backend.count("user:2", PER_MINUTE_3)
    assert await redis.keys(prefix + "user:2*") == []


# --- through HTTP -------------------------------------------------------------


@asynccontextmanager
async def harness(pool: DatabasePool, **overrides: str) -> AsyncIterator[ApiHarness]:
    api = await start_harness(pool, **overrides)
    try:
        yield api
    finally:
        await stop_harness(api)


@asynccontextmanager
async def peer_of(first: ApiHarness, **overrides: str) -> AsyncIterator[ApiHarness]:
    """A second zulipd server on the same database and users, as another process would be."""
    server = Server(load_config(None, harness_environment(**overrides)), reactor)
    server.db_pool = first.server.pool
    site = ZulipdSite(make_root(server), reactor)
    port = await TCP4ServerEndpoint(reactor, 0, interface="127.0.0.1").listen(site)
    peer = ApiHarness(server, port, site)
    peer.realm = first.realm
    peer.users = dict(first.users)
    try:
        yield peer
    finally:
        await stop_harness(peer)


def use_redis_with_prefix(server: Server, redis: Any, prefix: str) -> None:
    """``server.use_redis(redis)``, then the same rules under this test's own key prefix.

    Test databases all number their users alike; the prefix keeps the tests' counts apart.
    """
    server.use_redis(redis)
    assert isinstance(server.rate_limits.backend, RedisRateLimits)
    server.rate_limits = RateLimits(
        RedisRateLimits(redis, server.clock, prefix), server.rate_limits.rules, server.clock
    )


async def call_from(source_ip: str, api: ApiHarness, method: str, path: str) -> Response:
    """A request from another loopback address."""
    agent = Agent(reactor, bindAddress=(source_ip, 0))
    response = await agent.request(method.encode(), (api.base_url + "/api/v1/" + path).encode(), Headers({}))
    return Response(response.code, response.headers, await read_body(response))


def assert_rate_limited(response: Response) -> None:
    """Zulip's 429: the body with a float retry-after (not the spec's integer) and a Retry-After header."""
    assert response.status == 429, response.body
    assert response.header("Content-Type") == "application/json"
    body = response.json()
    assert set(body) == {"result", "msg", "code", "retry-after"}
    assert body["result"] == "error"
    assert body["msg"] == "API usage exceeded rate limit"
    assert body["code"] == "RATE_LIMIT_HIT"
    assert isinstance(body["retry-after"], float)
    assert 0 < body["retry-after"] <= 1800
    header = response.header("Retry-After")
    assert header is not None
    assert re.fullmatch(r"\d+", header), header
    assert int(header) >= 1
    assert math.ceil(body["retry-after"]) - 1 <= int(header) <= max(1, math.ceil(body["retry-after"]))


@async_test
async def test_per_user_limit_through_http(db_pool: DatabasePool) -> None:
    async with harness(db_pool, ZULIPD_RATELIMIT_API_BY_USER="60:3") as api:
        remaining = []
        for _ in range(3):
            response = await api.call("GET", "users/me", as_user=HAMLET)
            assert response.status == 200, response.body
            assert response.header("X-RateLimit-Limit") == "3"
            remaining.append(response.header("X-RateLimit-Remaining"))
            reset = response.header("X-RateLimit-Reset")
            assert reset is not None
            assert re.fullmatch(r"\d+", reset)
            assert int(reset) > reactor.seconds()
        assert remaining == ["2", "1", "0"]
        limited = await api.call("GET", "users/me", as_user=HAMLET)
        assert_rate_limited(limited)
        assert 0 < limited.json()["retry-after"] <= 60
        assert limited.header("X-RateLimit-Remaining") == "0"
        assert limited.header("X-RateLimit-Limit") == "3"
        # The limit is per user, across routes.
        other = await api.call("GET", "users/me", as_user=IAGO)
        assert other.status == 200
        assert other.header("X-RateLimit-Remaining") == "2"
        assert (await api.call("GET", "users", as_user=HAMLET)).status == 429


@async_test
async def test_per_ip_limit_for_unauthenticated_requests_through_http(db_pool: DatabasePool) -> None:
    async with harness(db_pool, ZULIPD_RATELIMIT_API_BY_IP="60:2") as api:
        remaining = []
        for _ in range(2):
            response = await api.call("GET", "server_settings")
            assert response.status == 200, response.body
            assert response.header("X-RateLimit-Limit") == "2"
            remaining.append(response.header("X-RateLimit-Remaining"))
        assert remaining == ["1", "0"]
        assert_rate_limited(await api.call("GET", "server_settings"))
        # Other unauthenticated routes share the address's count.
        assert_rate_limited(await api.call("POST", "fetch_api_key", {"username": HAMLET, "password": DEV_PASSWORD}))
        # Another address is not limited.
        elsewhere = await call_from("127.0.0.2", api, "GET", "server_settings")
        assert elsewhere.status == 200, elsewhere.body
        assert elsewhere.header("X-RateLimit-Remaining") == "1"


@pytest.mark.parametrize(
    ("setting", "path", "as_user"),
    [("ZULIPD_RATELIMIT_API_BY_USER", "users/me", HAMLET), ("ZULIPD_RATELIMIT_API_BY_IP", "server_settings", None)],
)
@async_test
async def test_an_empty_rule_disables_the_limit_through_http(
    db_pool: DatabasePool, setting: str, path: str, as_user: str | None
) -> None:
    async with harness(db_pool, **{setting: ""}) as api, peer_of(api, **{setting: "60:2"}) as limited:
        for _ in range(8):
            response = await api.call("GET", path, as_user=as_user)
            assert response.status == 200, response.body
            assert response.header("X-RateLimit-Limit") is None
            assert response.header("X-RateLimit-Remaining") is None
        # The same requests, to a server with the rule set.
        statuses = [(await limited.call("GET", path, as_user=as_user)).status for _ in range(3)]
        assert statuses == [200, 200, 429]


@async_test
async def test_authenticated_requests_are_not_limited_per_ip(db_pool: DatabasePool) -> None:
    async with harness(db_pool, ZULIPD_RATELIMIT_API_BY_IP="60:1") as api:
        assert (await api.call("GET", "server_settings")).status == 200
        assert (await api.call("GET", "server_settings")).status == 429
        for email in (HAMLET, IAGO):
            response = await api.call("GET", "users/me", as_user=email)
            assert response.status == 200, response.body


@async_test
async def test_failed_logins_through_http(db_pool: DatabasePool) -> None:
    async with harness(db_pool) as api:

        async def login(password: str) -> Response:
            return await api.call("POST", "fetch_api_key", {"username": HAMLET, "password": password})

        for _ in range(4):
            assert (await login("wrong")).json()["code"] == "AUTHENTICATION_FAILED"
        # A success clears the count.
        assert (await login(DEV_PASSWORD)).status == 200
        for _ in range(5):
            assert (await login("wrong")).status == 401
        assert_rate_limited(await login(DEV_PASSWORD))
        assert_rate_limited(await login("wrong"))
        other = await api.call("POST", "fetch_api_key", {"username": IAGO, "password": DEV_PASSWORD})
        assert other.status == 200


@async_test
async def test_per_user_limit_through_http_with_redis(db_pool: DatabasePool, redis_url: str) -> None:
    redis = await connect_redis(redis_url, 5)
    prefix = unique_prefix()
    try:
        async with harness(db_pool, ZULIPD_RATELIMIT_API_BY_USER="60:3") as api:
            use_redis_with_prefix(api.server, redis, prefix)
            statuses = []
            for _ in range(4):
                response = await api.call("GET", "users/me", as_user=HAMLET)
                statuses.append((response.status, response.header("X-RateLimit-Remaining")))
            assert statuses == [(200, "2"), (200, "1"), (200, "0"), (429, "0")]
            assert_rate_limited(await api.call("GET", "users/me", as_user=HAMLET))
            assert (await api.call("GET", "users/me", as_user=IAGO)).status == 200
            # The counts are in Redis.
            assert await redis.keys(f"{prefix}user:{api.user(HAMLET).id}*")
    finally:
        await delete_keys(redis, prefix)
        await redis.disconnect()


@async_test
async def test_two_servers_sharing_redis_share_the_per_user_count(db_pool: DatabasePool, redis_url: str) -> None:
    prefix = unique_prefix()
    first_redis = await connect_redis(redis_url, 5)
    second_redis = await connect_redis(redis_url, 5)
    try:
        async with (
            harness(db_pool, ZULIPD_RATELIMIT_API_BY_USER="60:3") as first,
            peer_of(first, ZULIPD_RATELIMIT_API_BY_USER="60:3") as second,
        ):
            use_redis_with_prefix(first.server, first_redis, prefix)
            use_redis_with_prefix(second.server, second_redis, prefix)
            sequence = [first, first, second, second, first]
            statuses = [(await api.call("GET", "users/me", as_user=HAMLET)).status for api in sequence]
            assert statuses == [200, 200, 200, 429, 429]
            assert (await second.call("GET", "users/me", as_user=IAGO)).status == 200

            # Failed logins are shared too.
            for api in (first, second, first, second, first):
                response = await api.call("POST", "fetch_api_key", {"username": IAGO, "password": "wrong"})
                assert response.status == 401
            login = {"username": IAGO, "password": DEV_PASSWORD}
            assert_rate_limited(await second.call("POST", "fetch_api_key", login))
    finally:
        await delete_keys(first_redis, prefix)
        await first_redis.disconnect()
        await second_redis.disconnect()


@async_test
async def test_two_servers_without_redis_count_apart(db_pool: DatabasePool) -> None:
    """The contrast: memory counts are per process."""
    async with (
        harness(db_pool, ZULIPD_RATELIMIT_API_BY_USER="60:3") as first,
        peer_of(first, ZULIPD_RATELIMIT_API_BY_USER="60:3") as second,
    ):
        sequence = [first, first, second, second, first, second]
        statuses = [(await api.call("GET", "users/me", as_user=HAMLET)).status for api in sequence]
        assert statuses == [200, 200, 200, 200, 200, 200]
        assert (await first.call("GET", "users/me", as_user=HAMLET)).status == 429


class _SilentRedis:
    """A Redis connection whose replies never come, as when Redis is down."""

    def eval(self, script: str, keys: list[str], args: list[object]) -> defer.Deferred[object]:
        return defer.Deferred()

    def delete(self, keys: list[str]) -> defer.Deferred[object]:
        return defer.Deferred()


@async_test
async def test_an_unanswering_redis_falls_back_to_this_process_counts() -> None:
    clock = Clock()
    limits = RedisRateLimits(_SilentRedis(), clock, timeout=1.0)
    with captured_logs() as logs:
        decisions = []
        for _ in range(4):
            hitting = defer.ensureDeferred(limits.hit("user:1", PER_MINUTE_3))
            clock.advance(1.0)  # the Redis timeout
            decisions.append(await hitting)
    assert [decision.limited for decision in decisions] == [False, False, False, True]
    warnings = [event for event in logs.events if "does not answer" in str(event.get("log_format", ""))]
    assert len(warnings) == 1  # said once, not per request
