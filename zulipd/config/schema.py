"""The configuration schema: every section and key zulipd reads.

This one schema validates the configuration at start and also documents it:
``etc/zulipd.conf.example`` and ``zulipd-admin generate-config`` are rendered
from it. Add a setting here and both follow.
"""

from __future__ import annotations

import dataclasses
import ipaddress
from typing import Any

from zulipd.config.types import (
    DatabaseUrl,
    Endpoints,
    HostPort,
    Integer,
    Networks,
    Path,
    RateRules,
    RedisUrl,
    Seconds,
    SettingType,
    Subdomain,
    Text,
)


def setting(default: Any, kind: SettingType, help: str) -> Any:
    """Declare one key with its typed default, its type and its documentation."""
    return dataclasses.field(default=default, metadata={"kind": kind, "help": help})


@dataclasses.dataclass(frozen=True)
class ServerSection:
    """The HTTP listeners and process behaviour."""

    listen: tuple[str, ...] = setting(
        ("tcp:9991:interface=127.0.0.1",),
        Endpoints(),
        "Where zulipd accepts HTTP connections. Several endpoints may be given. "
        "For TLS use ssl:PORT:privateKey=KEY.pem:certKey=CERT.pem (see docs/tls.md).",
    )
    external_host: str = setting(
        "127.0.0.1:9991",
        HostPort(),
        "The host (and port) clients use to reach zulipd. Organizations live at subdomains of it; "
        "the one named by root_realm is also served at this host itself.",
    )
    root_realm: str = setting(
        "zulip",
        Subdomain(),
        "The organization (its subdomain, as created by zulipd-admin create-realm) served at external_host "
        "itself. zulipd-admin populate-dev creates the organization zulip.",
    )
    drain_timeout: float = setting(
        5.0,
        Seconds(0, 300),
        "On shutdown, how long in-flight requests may take to finish before their connections are cut.",
    )


@dataclasses.dataclass(frozen=True)
class StateSection:
    """Where zulipd keeps files of its own."""

    dir: str = setting(
        "./var",
        Path(allow_empty=False),
        "The state directory: the embedded PostgreSQL cluster, the generated secrets file, and the event "
        "queues saved by a graceful stop. "
        "The environment variable ZULIPD_STATE_DIR overrides it.",
    )


@dataclasses.dataclass(frozen=True)
class SecretsSection:
    """Generated secrets."""

    file: str = setting(
        "",
        Path(),
        "The secrets file. It is created with mode 0600 on first start if absent. "
        "Empty: zulipd-secrets.conf in the state directory.",
    )


@dataclasses.dataclass(frozen=True)
class DatabaseSection:
    """The PostgreSQL database, the only store of record."""

    url: str = setting(
        "",
        DatabaseUrl(),
        "A PostgreSQL server to use, e.g. postgresql://zulipd:PASSWORD@db.example.com/zulipd?sslmode=verify-full. "
        "Empty: zulipd runs a private PostgreSQL cluster in the state directory.",
    )
    pool_size: int = setting(8, Integer(1, 200), "Connections in the database pool.")
    connect_timeout: float = setting(
        10.0,
        Seconds(1, 600),
        "How long to wait for the database at start, and for a free pooled connection.",
    )
    slow_transaction: float = setting(
        1.0,
        Seconds(0, 3600),
        "Transactions that take longer than this many seconds are logged as slow.",
    )
    embedded_bindir: str = setting(
        "",
        Path(),
        "The PostgreSQL server binaries for the embedded cluster. Empty: the machine's "
        "(pg_config --bindir, /usr/lib/postgresql/*/bin), else those bundled in the pgserver package.",
    )
    embedded_user: str = setting(
        "",
        Text(),
        "When zulipd runs as root, the account that runs the embedded PostgreSQL. "
        "Empty: postgres if that account exists, else nobody.",
    )


@dataclasses.dataclass(frozen=True)
class AuthSection:
    """Passwords and browser sessions."""

    password_min_length: int = setting(6, Integer(1, 100), "The shortest password zulipd accepts.")
    password_hash_rounds: int = setting(
        12,
        Integer(4, 20),
        "bcrypt's cost factor: each step doubles the work of checking a password (12 takes about 0.3 s).",
    )
    session_days: int = setting(14, Integer(1, 365), "How long a browser session lasts, in days.")


@dataclasses.dataclass(frozen=True)
class RedisSection:
    """Redis joins several zulipd processes into one deployment."""

    url: str = setting(
        "",
        RedisUrl(),
        "The Redis server shared by every zulipd process, e.g. redis://127.0.0.1:6379/0. "
        "Empty: no Redis; rate limits are kept in this process's memory.",
    )


@dataclasses.dataclass(frozen=True)
class RateLimitSection:
    """Rate limits, as WINDOW_SECONDS:MAX_CALLS rules (Zulip's defaults)."""

    api_by_user: tuple[tuple[float, int], ...] = setting(
        ((60.0, 200),), RateRules(), "Requests per authenticated user."
    )
    api_by_ip: tuple[tuple[float, int], ...] = setting(
        ((60.0, 100),), RateRules(), "Unauthenticated requests per client IP address."
    )
    authenticate_by_username: tuple[tuple[float, int], ...] = setting(
        ((1800.0, 5),),
        RateRules(),
        "Failed password logins per username; a successful login clears the count.",
    )


@dataclasses.dataclass(frozen=True)
class LoadBalancerSection:
    """Running behind a reverse proxy or load balancer."""

    ips: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...] = setting(
        (),
        Networks(),
        "Proxies whose X-Forwarded-For and X-Forwarded-Proto headers zulipd trusts. "
        "From any other address these headers are ignored.",
    )


@dataclasses.dataclass(frozen=True)
class EventsSection:
    """Real-time event queues (POST /register, GET /events)."""

    shards: int = setting(
        1,
        Integer(1, 1024),
        "How many shards hold the event queues; a user's queues live in shard user_id % shards. "
        "This process owns them all.",
    )
    max_websockets: int = setting(
        20000,
        Integer(0, 1_000_000),
        "How many event WebSockets this process keeps open at most; beyond that, clients are refused "
        "and long-poll instead. 0 turns the WebSocket transport off.",
    )
    queue_timeout: float = setting(
        600.0,
        Seconds(10, 7 * 24 * 3600),
        "How long a queue lives without a client polling it before it is collected, unless the client "
        "asked for longer with queue_lifespan_secs (up to 7 days).",
    )


@dataclasses.dataclass(frozen=True)
class Config:
    """The whole validated configuration."""

    server: ServerSection = dataclasses.field(default_factory=ServerSection)
    state: StateSection = dataclasses.field(default_factory=StateSection)
    secrets: SecretsSection = dataclasses.field(default_factory=SecretsSection)
    database: DatabaseSection = dataclasses.field(default_factory=DatabaseSection)
    loadbalancer: LoadBalancerSection = dataclasses.field(default_factory=LoadBalancerSection)
    auth: AuthSection = dataclasses.field(default_factory=AuthSection)
    redis: RedisSection = dataclasses.field(default_factory=RedisSection)
    ratelimit: RateLimitSection = dataclasses.field(default_factory=RateLimitSection)
    events: EventsSection = dataclasses.field(default_factory=EventsSection)
    # The file this configuration came from, if any.
    source: str | None = None


SECTIONS: dict[str, type[Any]] = {
    "server": ServerSection,
    "state": StateSection,
    "secrets": SecretsSection,
    "database": DatabaseSection,
    "loadbalancer": LoadBalancerSection,
    "auth": AuthSection,
    "redis": RedisSection,
    "ratelimit": RateLimitSection,
    "events": EventsSection,
}
