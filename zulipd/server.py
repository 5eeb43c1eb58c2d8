"""The container that builds zulipd's components once and hands them out."""

from __future__ import annotations

from typing import Any

from twisted.internet.interfaces import IReactorTime
from twisted.logger import Logger

from zulipd.actions.alert_words import INVALIDATION_KIND as ALERT_WORDS_INVALIDATION
from zulipd.actions.alert_words import AlertWordMatchers
from zulipd.actions.auth import Authenticator
from zulipd.actions.channel_access import ChannelAccessCache
from zulipd.actions.linkifiers import LinkifierCache
from zulipd.actions.messages import MessageSender
from zulipd.actions.realms import RealmDirectory
from zulipd.config import Config
from zulipd.config.secrets import Secrets
from zulipd.events.router import EventRouter
from zulipd.ratelimit import MemoryRateLimits, RateLimitRules, RateLimits, RedisRateLimits
from zulipd.storage.embedded import EmbeddedPostgres
from zulipd.storage.pool import DatabasePool
from zulipd.storage.streams import CHANNELS_CHANGED, SUBSCRIBERS_CHANGED
from zulipd.timing import AfterTurn

log = Logger()


class Server:
    """Everything one zulipd process runs, built from its configuration.

    ``reactor`` is injected so that tests can pass a fake clock. Components
    that need the service tree to have started (the database pool, Redis)
    are set when it has.
    """

    def __init__(self, config: Config, reactor: Any, *, share_embedded_database: bool = False) -> None:
        self.config = config
        self.reactor = reactor
        self.clock: IReactorTime = reactor
        # Listeners are sent what their queues hold once the reactor's turn is done (zulipd.timing).
        self.after_turn = AfterTurn(reactor)
        self.secrets: Secrets | None = None
        self.embedded_postgres: EmbeddedPostgres | None = None
        self.db_pool: DatabasePool | None = None
        self.redis: Any = None
        if not config.database.url:
            self.embedded_postgres = EmbeddedPostgres(
                reactor,
                reactor,
                config.state.dir,
                configured_bindir=config.database.embedded_bindir,
                configured_user=config.database.embedded_user,
                share_running_server=share_embedded_database,
            )
        self.realms = RealmDirectory(self)
        self.message_sender = MessageSender(self)
        # Each organization's alert words, matched against the messages sent in it.
        self.alert_word_matchers = AlertWordMatchers(self)
        self.linkifiers = LinkifierCache(self)
        # The channels messages are sent to, and their senders' subscriptions.
        self.channel_access = ChannelAccessCache(self)
        self.events = EventRouter(config.events.shards, reactor)
        # Open event WebSockets (zulipd.app.ws counts them).
        self.websockets = 0
        self.authenticator = Authenticator(self)
        rules = RateLimitRules(
            api_by_user=config.ratelimit.api_by_user,
            api_by_ip=config.ratelimit.api_by_ip,
            authenticate_by_username=config.ratelimit.authenticate_by_username,
        )
        self.memory_rate_limits = MemoryRateLimits(reactor)
        self.rate_limits = RateLimits(self.memory_rate_limits, rules, reactor)

    @property
    def pool(self) -> DatabasePool:
        assert self.db_pool is not None, "the database pool has not started"
        return self.db_pool

    def make_pool(self, dsn: str) -> DatabasePool:
        self.db_pool = DatabasePool(
            dsn,
            self.config.database.pool_size,
            self.clock,
            connect_timeout=self.config.database.connect_timeout,
            slow_transaction=self.config.database.slow_transaction,
            on_commit=self.handle_invalidation,
        )
        return self.db_pool

    def use_redis(self, redis: Any) -> None:
        """Share rate-limit state through Redis from now on."""
        self.redis = redis
        self.rate_limits = RateLimits(RedisRateLimits(redis, self.clock), self.rate_limits.rules, self.clock)

    # --- cache invalidation ----------------------------------------------

    def invalidate_user(self, user_id: int) -> None:
        self.authenticator.forget_user(user_id)

    def invalidate_realm(self, realm_id: int) -> None:
        self.realms.forget(realm_id)
        self.authenticator.forget_realm(realm_id)

    def forget_everything(self) -> None:
        self.realms.forget()
        self.linkifiers.forget()
        self.authenticator.forget_everything()
        self.alert_word_matchers.forget()
        self.channel_access.forget()

    def handle_invalidation(self, message: str) -> None:
        """A notification from another process (or from zulipd-admin), or what a commit here announced."""
        kind, _, value = message.partition(":")
        if kind == "user" and value.isdigit():
            self.invalidate_user(int(value))
        elif kind == "realm" and value.isdigit():
            self.invalidate_realm(int(value))
        elif kind == "linkifiers" and value.isdigit():
            self.linkifiers.forget(int(value))
        elif kind == ALERT_WORDS_INVALIDATION and value.isdigit():
            self.alert_word_matchers.forget(int(value))
        elif kind == CHANNELS_CHANGED and value.isdigit():
            self.channel_access.forget_channels(int(value))
        elif kind == SUBSCRIBERS_CHANGED and value.isdigit():
            self.channel_access.forget_subscribers(int(value))
        elif kind == "auth-attempts":
            self.reactor.callLater(0, self._clear_auth_attempts, value)
        else:
            log.warn("Ignoring an unknown invalidation message {message!r}", message=message)

    def _clear_auth_attempts(self, username: str) -> None:
        from twisted.internet import defer

        defer.ensureDeferred(self.rate_limits.clear_authentication_attempts(username))
