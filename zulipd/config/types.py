"""Value types for configuration settings.

Each type turns the text an operator wrote into a typed value, or raises
``ValueError`` with a message that finishes the sentence "<key>: …". Each also
describes itself for the generated example file.
"""

from __future__ import annotations

import ipaddress
import re
from typing import Any
from urllib.parse import parse_qs, urlsplit

_LIST_SEPARATORS = re.compile(r"[\s,]+")


class SettingType:
    """How one setting is parsed from text and shown in the example file."""

    description = "text"

    def parse(self, raw: str) -> Any:
        raise NotImplementedError

    def render(self, value: Any) -> str:
        return str(value)


class Text(SettingType):
    description = "text"

    def parse(self, raw: str) -> str:
        return raw.strip()


class Path(SettingType):
    description = "a path; relative paths are relative to the directory zulipd starts in"

    def __init__(self, allow_empty: bool = True) -> None:
        self.allow_empty = allow_empty

    def parse(self, raw: str) -> str:
        value = raw.strip()
        if not value and not self.allow_empty:
            raise ValueError("must not be empty")
        if "\x00" in value:
            raise ValueError("a path cannot contain a NUL byte")
        return value


class Integer(SettingType):
    def __init__(self, minimum: int, maximum: int) -> None:
        self.minimum = minimum
        self.maximum = maximum
        self.description = f"an integer from {minimum} to {maximum}"

    def parse(self, raw: str) -> int:
        try:
            value = int(raw.strip(), 10)
        except ValueError:
            raise ValueError(f"expected {self.description}, got {raw.strip()!r}") from None
        if not self.minimum <= value <= self.maximum:
            raise ValueError(f"expected {self.description}, got {value}")
        return value


class Seconds(SettingType):
    def __init__(self, minimum: float, maximum: float) -> None:
        self.minimum = minimum
        self.maximum = maximum
        self.description = f"a number of seconds from {minimum:g} to {maximum:g}"

    def parse(self, raw: str) -> float:
        try:
            value = float(raw.strip())
        except ValueError:
            raise ValueError(f"expected {self.description}, got {raw.strip()!r}") from None
        if not self.minimum <= value <= self.maximum:  # also rejects nan
            raise ValueError(f"expected {self.description}, got {raw.strip()}")
        return value

    def render(self, value: Any) -> str:
        return f"{value:g}"


class Endpoints(SettingType):
    """Twisted server endpoint strings, one or more, separated by whitespace."""

    description = (
        "Twisted server endpoint strings separated by spaces or newlines, "
        "e.g. tcp:9991:interface=127.0.0.1 or ssl:443:privateKey=key.pem:certKey=cert.pem"
    )

    def parse(self, raw: str) -> tuple[str, ...]:
        from twisted.internet import endpoints, reactor

        descriptions = tuple(raw.split())
        if not descriptions:
            raise ValueError("at least one endpoint is required")
        for description in descriptions:
            try:
                endpoints.serverFromString(reactor, description)
            except Exception as error:  # any failure here is a configuration problem
                reason = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
                raise ValueError(f"bad endpoint {description!r}: {reason}") from None
        return descriptions

    def render(self, value: Any) -> str:
        return " ".join(value)


class Networks(SettingType):
    """A list of IP networks in CIDR notation."""

    description = "IP networks in CIDR notation, separated by commas or spaces (empty: none)"

    def parse(self, raw: str) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
        networks = []
        for item in _LIST_SEPARATORS.split(raw.strip()):
            if not item:
                continue
            try:
                networks.append(ipaddress.ip_network(item, strict=False))
            except ValueError:
                raise ValueError(f"{item!r} is not an IP network in CIDR notation") from None
        return tuple(networks)

    def render(self, value: Any) -> str:
        return ", ".join(str(network) for network in value)


_SSL_MODES = ("disable", "allow", "prefer", "require", "verify-ca", "verify-full")


class DatabaseUrl(SettingType):
    """A postgresql:// URL, or empty for the embedded cluster."""

    description = "a postgresql:// URL, or empty to run an embedded PostgreSQL in the state directory"

    def parse(self, raw: str) -> str:
        value = raw.strip()
        if not value:
            return ""
        parts = urlsplit(value)
        if parts.scheme not in ("postgresql", "postgres"):
            raise ValueError(f"expected a postgresql:// URL, got scheme {parts.scheme or '(none)'!r}")
        try:
            parts.port  # noqa: B018  (validates the port)
        except ValueError:
            raise ValueError("the URL has an invalid port") from None
        query = parse_qs(parts.query)
        for sslmode in query.get("sslmode", []):
            if sslmode not in _SSL_MODES:
                raise ValueError(f"sslmode must be one of {', '.join(_SSL_MODES)}; got {sslmode!r}")
        return value


class HostPort(SettingType):
    """A host name or address with an optional port, as in a URL."""

    description = "a host name with an optional port, e.g. chat.example.com or 127.0.0.1:9991"

    def parse(self, raw: str) -> str:
        value = raw.strip().lower()
        if not value or "/" in value or "@" in value or " " in value:
            raise ValueError(f"expected a host name with an optional port, got {raw.strip()!r}")
        try:
            port = urlsplit(f"http://{value}").port
        except ValueError:
            raise ValueError(f"{raw.strip()!r} has an invalid port") from None
        if port == 0:
            raise ValueError(f"{raw.strip()!r} has an invalid port")
        return value


class RateRules(SettingType):
    """Rate-limit rules: ``window:max_calls`` pairs, e.g. ``60:200, 3600:2000``; empty disables."""

    description = "rules WINDOW_SECONDS:MAX_CALLS separated by commas (empty: no limit)"

    def parse(self, raw: str) -> tuple[tuple[float, int], ...]:
        rules = []
        for item in _LIST_SEPARATORS.split(raw.strip()):
            if not item:
                continue
            window, _, max_calls = item.partition(":")
            try:
                rule = (float(window), int(max_calls))
            except ValueError:
                raise ValueError(f"{item!r} is not WINDOW_SECONDS:MAX_CALLS") from None
            if not (1 <= rule[0] <= 86400 * 7) or rule[1] < 1:
                raise ValueError(f"{item!r}: the window must be 1 s to 7 days and the maximum at least 1")
            rules.append(rule)
        if len(rules) > 16:
            raise ValueError("at most 16 rules")
        return tuple(sorted(rules))

    def render(self, value: Any) -> str:
        return ", ".join(f"{window:g}:{max_calls}" for window, max_calls in value)


class Subdomain(SettingType):
    description = "an organization's subdomain: lowercase letters, digits and '-'"

    def parse(self, raw: str) -> str:
        value = raw.strip()
        if not re.match(r"^[a-z0-9]([a-z0-9-]{0,38}[a-z0-9])?$", value):
            raise ValueError(f"{value!r} is not a subdomain (lowercase letters, digits and '-', at most 40)")
        return value


class RedisUrl(SettingType):
    description = "a redis://HOST:PORT/DB URL (with an optional password) or unix:///path/to/redis.sock, or empty"

    def parse(self, raw: str) -> str:
        value = raw.strip()
        if not value:
            return ""
        parts = urlsplit(value)
        if parts.scheme not in ("redis", "unix"):
            raise ValueError(f"expected a redis:// or unix:// URL, got scheme {parts.scheme or '(none)'!r}")
        try:
            parts.port  # noqa: B018  (validates the port)
        except ValueError:
            raise ValueError("the URL has an invalid port") from None
        database = parts.path.strip("/") if parts.scheme == "redis" else ""
        if database and not database.isdigit():
            raise ValueError(f"the database must be a number, got {database!r}")
        return value
