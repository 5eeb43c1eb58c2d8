"""Rate limits with Zulip's sliding-window semantics, in memory or in Redis.

A rule ``(window, max_calls)`` allows at most ``max_calls`` calls in any
``window`` seconds. A key (a user, an IP address, a username) is limited when
any of its rules is exhausted; the call is then not counted. Zulip's defaults:
200 calls per minute per user, 100 per minute per IP address for
unauthenticated requests, and 5 failed logins per 30 minutes per username.

The memory backend serves one process. The Redis backend shares the counts
between every zulipd process of a deployment: each check-and-count is one
atomic Lua script, so concurrent processes cannot overshoot a limit.
"""

from __future__ import annotations

import collections
import dataclasses
import itertools
import math
from collections.abc import Iterable, Sequence
from typing import Any, Protocol

from twisted.internet.interfaces import IReactorTime

from zulipd.errors import RateLimited

Rule = tuple[float, int]


@dataclasses.dataclass(frozen=True)
class Decision:
    limited: bool
    # Seconds until the call would be allowed (limited), or until a slot frees up.
    retry_after: float
    # Calls left in the tightest rule, and that rule's size, for X-RateLimit-* headers.
    remaining: int
    limit: int
    reset_after: float


class RateLimitBackend(Protocol):
    async def hit(self, key: str, rules: Sequence[Rule]) -> Decision:
        """Count one call for ``key`` unless a rule is exhausted."""

    async def count(self, key: str, rules: Sequence[Rule]) -> Decision:
        """Whether ``key`` is limited now, without counting a call."""

    async def clear(self, key: str) -> None: ...


def _decide(times: Iterable[float], now: float, rules: Sequence[Rule], counting: bool) -> Decision:
    """``times``: the key's recent call times, newest first."""
    limited = False
    retry_after = 0.0
    remaining = math.inf
    limit = 0
    reset_after = 0.0
    for window, max_calls in rules:
        recent = [moment for moment in itertools.islice(times, max_calls) if now - moment < window]
        if len(recent) >= max_calls:
            limited = True
            retry_after = max(retry_after, recent[max_calls - 1] + window - now)
        used = len(recent) + (1 if counting else 0)
        remaining = min(remaining, max(0, max_calls - used))
        limit = max_calls if window >= max((rule[0] for rule in rules), default=0) else limit
        oldest = recent[-1] if recent else now
        reset_after = max(reset_after, oldest + window - now)
    return Decision(limited, retry_after, 0 if limited else int(remaining), limit, reset_after)


class MemoryRateLimits:
    def __init__(self, clock: IReactorTime) -> None:
        self._clock = clock
        # Newest call first; at most the largest max_calls times are kept per key.
        self._calls: dict[str, collections.deque[float]] = {}

    async def hit(self, key: str, rules: Sequence[Rule]) -> Decision:
        now = self._clock.seconds()
        calls = self._calls.get(key)
        decision = _decide(calls or (), now, rules, counting=True)
        if not decision.limited:
            if calls is None:
                calls = self._calls[key] = collections.deque(maxlen=max(rule[1] for rule in rules))
            calls.appendleft(now)
        return decision

    async def count(self, key: str, rules: Sequence[Rule]) -> Decision:
        return _decide(self._calls.get(key) or (), self._clock.seconds(), rules, counting=False)

    async def clear(self, key: str) -> None:
        self._calls.pop(key, None)

    def forget_idle(self, longest_window: float) -> None:
        """Drop keys with no call inside any window, bounding memory."""
        now = self._clock.seconds()
        for key in [key for key, calls in self._calls.items() if not calls or now - calls[0] >= longest_window]:
            del self._calls[key]


# KEYS[1]: the key's list of call times, newest first. ARGV: now, counting (0/1), then window, max pairs.
_REDIS_SCRIPT = """
local now = tonumber(ARGV[1])
local counting = ARGV[2] == '1'
local longest, largest = 0, 0
for i = 3, #ARGV, 2 do
  longest = math.max(longest, tonumber(ARGV[i]))
  largest = math.max(largest, tonumber(ARGV[i + 1]))
end
local times = redis.call('LRANGE', KEYS[1], 0, largest - 1)
for i = 3, #ARGV, 2 do
  local window, max_calls = tonumber(ARGV[i]), tonumber(ARGV[i + 1])
  local nth = times[max_calls]
  if nth and now - tonumber(nth) < window then
    return times
  end
end
if counting then
  redis.call('LPUSH', KEYS[1], ARGV[1])
  redis.call('LTRIM', KEYS[1], 0, largest - 1)
  redis.call('EXPIRE', KEYS[1], math.ceil(longest))
end
return times
"""


class RedisRateLimits:
    """The same rules, with the call times in Redis lists shared by every process."""

    def __init__(self, redis: Any, clock: IReactorTime, prefix: str = "zulipd:ratelimit:") -> None:
        self._redis = redis
        self._clock = clock
        self._prefix = prefix

    async def _run(self, key: str, rules: Sequence[Rule], counting: bool) -> Decision:
        now = self._clock.seconds()
        arguments: list[Any] = [repr(now), "1" if counting else "0"]
        for window, max_calls in rules:
            arguments += [repr(float(window)), str(max_calls)]
        times = await self._redis.eval(_REDIS_SCRIPT, keys=[self._prefix + key], args=arguments)
        return _decide([float(moment) for moment in times or ()], now, rules, counting)

    async def hit(self, key: str, rules: Sequence[Rule]) -> Decision:
        return await self._run(key, rules, counting=True)

    async def count(self, key: str, rules: Sequence[Rule]) -> Decision:
        return await self._run(key, rules, counting=False)

    async def clear(self, key: str) -> None:
        await self._redis.delete(self._prefix + key)


def headers_for(decision: Decision, now: float) -> dict[str, str]:
    return {
        "X-RateLimit-Limit": str(decision.limit),
        "X-RateLimit-Remaining": str(decision.remaining),
        "X-RateLimit-Reset": str(int(now + decision.reset_after)),
    }


class RateLimitedWithHeaders(RateLimited):
    def __init__(self, retry_after: float, rate_headers: dict[str, str]) -> None:
        super().__init__(retry_after)
        self._rate_headers = rate_headers

    def headers(self) -> dict[str, str]:
        return {**self._rate_headers, **super().headers()}


@dataclasses.dataclass(frozen=True)
class RateLimitRules:
    api_by_user: tuple[Rule, ...]
    api_by_ip: tuple[Rule, ...]
    authenticate_by_username: tuple[Rule, ...]


class RateLimits:
    """The rate limits zulipd applies, over one backend."""

    def __init__(self, backend: RateLimitBackend, rules: RateLimitRules, clock: IReactorTime) -> None:
        self.backend = backend
        self.rules = rules
        self._clock = clock

    async def _hit(self, key: str, rules: Sequence[Rule]) -> dict[str, str]:
        if not rules:
            return {}
        decision = await self.backend.hit(key, rules)
        headers = headers_for(decision, self._clock.seconds())
        if decision.limited:
            raise RateLimitedWithHeaders(decision.retry_after, headers)
        return headers

    async def check_user(self, user_id: int) -> dict[str, str]:
        return await self._hit(f"user:{user_id}", self.rules.api_by_user)

    async def check_ip(self, ip: str) -> dict[str, str]:
        return await self._hit(f"ip:{ip}", self.rules.api_by_ip)

    @staticmethod
    def _username_key(username: str) -> str:
        return f"auth:{username.strip().lower()}"

    async def check_authentication_attempts(self, username: str) -> None:
        """Raise if ``username`` has used up its failed logins."""
        rules = self.rules.authenticate_by_username
        if not rules:
            return
        decision = await self.backend.count(self._username_key(username), rules)
        if decision.limited:
            raise RateLimited(decision.retry_after)

    async def record_failed_authentication(self, username: str) -> None:
        if self.rules.authenticate_by_username:
            await self.backend.hit(self._username_key(username), self.rules.authenticate_by_username)

    async def clear_authentication_attempts(self, username: str) -> None:
        await self.backend.clear(self._username_key(username))
