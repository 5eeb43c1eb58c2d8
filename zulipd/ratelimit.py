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
import math
from collections.abc import Sequence
from typing import Any, NamedTuple, Protocol

from twisted.internet import defer
from twisted.internet.interfaces import IReactorTime
from twisted.logger import Logger

from zulipd.errors import RateLimited

log = Logger()

Rule = tuple[float, int]
# More rules than this for one limit are not supported (the configuration never needs them).
MAX_RULES = 16


class Decision(NamedTuple):
    # A named tuple rather than a dataclass: one is made per request.
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


class WindowState(NamedTuple):
    """One rule's view of a key: calls inside its window, the oldest and the newest of them."""

    calls: int
    oldest: float | None
    newest: float | None = None


def _decide(states: Sequence[WindowState], now: float, rules: Sequence[Rule], counting: bool) -> Decision:
    limited = False
    retry_after = 0.0
    remaining = math.inf
    reset_after = 0.0
    longest = max(rule[0] for rule in rules)
    limit = 0
    for (window, max_calls), state in zip(rules, states, strict=True):
        oldest = state.oldest if state.oldest is not None else now
        if state.calls >= max_calls:
            limited = True
            retry_after = max(retry_after, oldest + window - now)
        remaining = min(remaining, max(0, max_calls - state.calls - (1 if counting else 0)))
        if window == longest:
            limit = max(limit, max_calls)
    # X-RateLimit-Reset: when no call is left in any window, so counted from the newest call.
    counted = counting and not limited
    for (window, _), state in zip(rules, states, strict=True):
        newest = now if counted or state.newest is None else state.newest
        if counted or state.calls:
            reset_after = max(reset_after, newest + window - now)
    return Decision(limited, retry_after, 0 if limited else int(remaining), limit, reset_after)


class MemoryRateLimits:
    """Per key and rule, the times of the calls inside the rule's window, oldest on the right.

    Each deque holds at most max_calls entries, and expired ones are dropped
    from the right before every decision, so a check costs O(1) amortized.
    """

    def __init__(self, clock: IReactorTime) -> None:
        self._clock = clock
        self._calls: dict[str, list[collections.deque[float]]] = {}

    def _states(self, key: str, rules: Sequence[Rule], now: float) -> list[WindowState]:
        windows = self._calls.get(key)
        if windows is None or len(windows) != len(rules):
            return [WindowState(0, None) for _ in rules]
        states = []
        for (window, _), calls in zip(rules, windows, strict=True):
            while calls and now - calls[-1] >= window:
                calls.pop()
            states.append(WindowState(len(calls), calls[-1] if calls else None, calls[0] if calls else None))
        return states

    async def hit(self, key: str, rules: Sequence[Rule]) -> Decision:
        now = self._clock.seconds()
        if len(rules) == 1:
            return self._hit_one_rule(key, rules[0], now)
        decision = _decide(self._states(key, rules, now), now, rules, counting=True)
        if not decision.limited:
            windows = self._calls.get(key)
            if windows is None or len(windows) != len(rules):
                windows = self._calls[key] = [collections.deque(maxlen=max_calls) for _, max_calls in rules]
            for calls in windows:
                calls.appendleft(now)
        return decision

    def _hit_one_rule(self, key: str, rule: Rule, now: float) -> Decision:
        """hit() for the usual single rule, on every request: _decide's answer, computed directly."""
        window, max_calls = rule
        windows = self._calls.get(key)
        if windows is not None and len(windows) == 1:
            calls = windows[0]
            while calls and now - calls[-1] >= window:
                calls.pop()
            used = len(calls)
            if used >= max_calls:
                return Decision(True, calls[-1] + window - now, 0, max_calls, calls[0] + window - now)
        else:
            used = 0
            calls = collections.deque(maxlen=max_calls)
            self._calls[key] = [calls]
        calls.appendleft(now)
        return Decision(False, 0.0, max(0, max_calls - used - 1), max_calls, float(window))

    async def count(self, key: str, rules: Sequence[Rule]) -> Decision:
        now = self._clock.seconds()
        return _decide(self._states(key, rules, now), now, rules, counting=False)

    async def clear(self, key: str) -> None:
        self._calls.pop(key, None)

    def forget_idle(self, longest_window: float) -> None:
        """Drop keys with no call inside any window, bounding memory."""
        now = self._clock.seconds()
        idle = [
            key
            for key, windows in self._calls.items()
            if all(not calls or now - calls[0] >= longest_window for calls in windows)
        ]
        for key in idle:
            del self._calls[key]


# One list per rule (KEYS[i]), newest call first. ARGV: now, counting (0/1), then a
# window and max_calls per key. Expired entries are trimmed from the tail; the reply
# is the count, oldest and newest time of each rule before this call.
_REDIS_SCRIPT = """
local now = tonumber(ARGV[1])
local counting = ARGV[2] == '1'
local reply = {}
local limited = false
for i = 1, #KEYS do
  local window, max_calls = tonumber(ARGV[1 + 2 * i]), tonumber(ARGV[2 + 2 * i])
  while true do
    local tail = redis.call('LINDEX', KEYS[i], -1)
    if not tail or now - tonumber(tail) < window then break end
    redis.call('RPOP', KEYS[i])
  end
  local count = redis.call('LLEN', KEYS[i])
  if count >= max_calls then limited = true end
  reply[3 * i - 2] = count
  reply[3 * i - 1] = redis.call('LINDEX', KEYS[i], -1) or ''
  reply[3 * i] = redis.call('LINDEX', KEYS[i], 0) or ''
end
if counting and not limited then
  for i = 1, #KEYS do
    local window, max_calls = tonumber(ARGV[1 + 2 * i]), tonumber(ARGV[2 + 2 * i])
    redis.call('LPUSH', KEYS[i], ARGV[1])
    redis.call('LTRIM', KEYS[i], 0, max_calls - 1)
    redis.call('EXPIRE', KEYS[i], math.ceil(window))
  end
end
return reply
"""


class RedisRateLimits:
    """The same rules, with the call times in Redis lists shared by every process.

    If Redis does not answer within ``timeout`` seconds, the decision falls back
    to this process's own memory, so that an outage of Redis degrades rate
    limiting to per-process counts instead of holding every request.
    """

    def __init__(
        self, redis: Any, clock: IReactorTime, prefix: str = "zulipd:ratelimit:", timeout: float = 1.0
    ) -> None:
        self._redis = redis
        self._clock = clock
        self._prefix = prefix
        self._timeout = timeout
        self._fallback = MemoryRateLimits(clock)
        self._failing = False

    async def _eval(self, keys: list[str], arguments: list[Any]) -> Any:
        running = defer.maybeDeferred(self._redis.eval, _REDIS_SCRIPT, keys=keys, args=arguments)
        try:
            reply = await running.addTimeout(self._timeout, self._clock)
        except Exception as error:
            if not self._failing:
                log.warn("Redis does not answer ({reason}); rate limits are per process until it does",
                         reason=str(error) or type(error).__name__)  # fmt: skip
            self._failing = True
            return None
        if self._failing:
            log.info("Redis answers again; rate limits are shared again")
            self._failing = False
        return reply

    def _keys(self, key: str, count: int) -> list[str]:
        return [f"{self._prefix}{key}:{index}" for index in range(count)]

    async def _run(self, key: str, rules: Sequence[Rule], counting: bool) -> Decision:
        now = self._clock.seconds()
        arguments: list[Any] = [repr(now), "1" if counting else "0"]
        for window, max_calls in rules:
            arguments += [repr(float(window)), str(max_calls)]
        reply = await self._eval(self._keys(key, len(rules)), arguments)
        if reply is None:
            fallback = self._fallback
            return await (fallback.hit(key, rules) if counting else fallback.count(key, rules))

        def moment(value: Any) -> float | None:
            return float(value) if value != "" else None

        states = [
            WindowState(int(reply[3 * index]), moment(reply[3 * index + 1]), moment(reply[3 * index + 2]))
            for index in range(len(rules))
        ]
        return _decide(states, now, rules, counting)

    async def hit(self, key: str, rules: Sequence[Rule]) -> Decision:
        return await self._run(key, rules, counting=True)

    async def count(self, key: str, rules: Sequence[Rule]) -> Decision:
        return await self._run(key, rules, counting=False)

    async def clear(self, key: str) -> None:
        await self._fallback.clear(key)
        deleting = defer.maybeDeferred(self._redis.delete, self._keys(key, MAX_RULES))
        await deleting.addTimeout(self._timeout, self._clock)


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

    async def check_unknown_key_budget(self, ip: str) -> None:
        """Raise if the address has sent too many unknown API keys, without counting one."""
        rules = self.rules.api_by_ip
        if rules:
            decision = await self.backend.count(f"unknown-key:{ip}", rules)
            if decision.limited:
                raise RateLimitedWithHeaders(decision.retry_after, headers_for(decision, self._clock.seconds()))

    async def record_unknown_key(self, ip: str) -> None:
        if self.rules.api_by_ip:
            await self.backend.hit(f"unknown-key:{ip}", self.rules.api_by_ip)

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
