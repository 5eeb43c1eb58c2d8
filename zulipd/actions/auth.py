"""Who is asking: HTTP Basic API keys, browser sessions with CSRF, and passwords.

API-key authentication must not cost a database round trip per request, so
users are cached by API key. Every action that changes a key, a role, an
address or an account's status drops the user from the cache, in this
process at once and in every other process through a database notification
(see ``zulipd.storage.notifications``).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
import secrets
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from zulipd.errors import (
    AuthenticationFailed,
    CsrfFailed,
    JsonableError,
    RealmDeactivated,
    Unauthorized,
    UserDeactivated,
)
from zulipd.models import Realm, UserProfile
from zulipd.passwords import check_password
from zulipd.storage.pool import Transaction
from zulipd.storage.sessions import delete_session_txn, get_session_txn, insert_session_txn
from zulipd.storage.users import (
    get_password_hash_txn,
    get_user_by_api_key_txn,
    get_user_by_email_txn,
    get_user_by_id_txn,
)

if TYPE_CHECKING:
    from zulipd.app.api import ApiRequest, ParsedRequest
    from zulipd.server import Server

API_KEY_FORMAT = re.compile(r"^[A-Za-z0-9]{32}$")
_ALPHANUMERIC = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}
# Cookies in the form zulipd sends them: with the __Host- prefix under TLS.
SESSION_COOKIE, SECURE_SESSION_COOKIE = b"sessionid", b"__Host-sessionid"


def generate_api_key() -> str:
    return "".join(secrets.choice(_ALPHANUMERIC) for _ in range(32))


def session_cookie_name(secure: bool) -> bytes:
    return SECURE_SESSION_COOKIE if secure else SESSION_COOKIE


def hash_session_key(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


class Authenticator:
    def __init__(self, server: Server) -> None:
        self._server = server
        self._by_api_key: dict[str, UserProfile] = {}
        self._api_key_by_user: dict[int, str] = {}
        # Bumped by every forget_*: a lookup that raced an invalidation must not be cached.
        self._generation = 0

    # --- the cache -------------------------------------------------------

    def _remember(self, user: UserProfile) -> None:
        self._by_api_key[user.api_key] = user
        self._api_key_by_user[user.id] = user.api_key

    def forget_user(self, user_id: int) -> None:
        self._generation += 1
        api_key = self._api_key_by_user.pop(user_id, None)
        if api_key is not None:
            self._by_api_key.pop(api_key, None)

    def forget_realm(self, realm_id: int) -> None:
        self._generation += 1
        for user in [user for user in self._by_api_key.values() if user.realm_id == realm_id]:
            self.forget_user(user.id)

    def forget_everything(self) -> None:
        self._generation += 1
        self._by_api_key.clear()
        self._api_key_by_user.clear()

    @property
    def cached_users(self) -> int:
        return len(self._by_api_key)

    # --- requests --------------------------------------------------------

    async def authenticate(self, ctx: ApiRequest, parsed: ParsedRequest) -> UserProfile:
        if ctx.prefix == "api":
            return await self._basic(ctx)
        return await self._session(ctx)

    async def _basic(self, ctx: ApiRequest) -> UserProfile:
        header = ctx.request.header("authorization")
        if not header:
            raise Unauthorized("Not logged in: API authentication or user session required")
        scheme, _, credentials = header.partition(" ")
        if scheme.lower() != "basic":
            raise JsonableError("This endpoint requires HTTP basic authentication.")
        try:
            decoded = base64.b64decode(credentials.strip(), validate=True).decode("utf-8")
            email, api_key = decoded.split(":", 1)
        except (binascii.Error, UnicodeDecodeError, ValueError):
            raise Unauthorized("Invalid authorization header for basic auth") from None
        if not API_KEY_FORMAT.match(api_key):
            raise Unauthorized("Invalid API key")
        user = self._by_api_key.get(api_key)
        if user is None:
            # Unknown keys cost a query, so they have a budget per address (the
            # unauthenticated rules): an address that has used it up gets no more
            # lookups. Valid keys are never refused by it.
            limits = self._server.rate_limits
            await limits.check_unknown_key_budget(ctx.client_ip)
            generation = self._generation
            user = await self._server.pool.run_interaction("user by API key", get_user_by_api_key_txn, api_key)
            if user is None:
                await limits.record_unknown_key(ctx.client_ip)
                raise Unauthorized("Invalid API key")
            if generation == self._generation:
                self._remember(user)
        if not self._email_matches(email.strip().lower(), user, ctx.realm):
            raise Unauthorized("Invalid API key")
        self._check_may_act(user, ctx.realm, scheme="Basic")
        return user

    def _email_matches(self, email: str, user: UserProfile, realm: Realm | None) -> bool:
        """The Basic-auth name may be the real address or the API address the user is shown as."""
        if email in (user.delivery_email.lower(), user.email.lower()):
            return True
        if realm is None:
            return False
        from zulipd.actions.users import api_email

        return email == api_email(user, self._server.realms.email_domain(realm)).lower()

    def _check_may_act(self, user: UserProfile, realm: Realm | None, scheme: str) -> None:
        if not user.is_active:
            raise Unauthorized("Account is deactivated", scheme)
        if realm is None or realm.id != user.realm_id:
            raise Unauthorized("Account is not associated with this subdomain", scheme)
        if realm.deactivated:
            raise Unauthorized("This organization has been deactivated", scheme)

    async def _session(self, ctx: ApiRequest) -> UserProfile:
        session = await self.session_for(ctx)
        if session is None:
            raise Unauthorized("Not logged in: API authentication or user session required", "Session")
        user, csrf_token = session
        self._check_may_act(user, ctx.realm, scheme="Session")
        if user.is_incoming_webhook:
            raise Unauthorized("Webhook bots can only access webhooks", "Session")
        method = ctx.request.method.decode("ascii", "replace").upper()
        if method not in SAFE_METHODS:
            sent = ctx.request.header("x-csrftoken")
            if not sent:
                raise CsrfFailed("CSRF token missing.")
            if not hmac.compare_digest(sent.encode("utf-8"), csrf_token.encode("utf-8")):
                raise CsrfFailed("CSRF token incorrect.")
        return user

    async def session_for(self, ctx: ApiRequest) -> tuple[UserProfile, str] | None:
        """The session's user and CSRF token, if the request carries a live session cookie."""
        key_text = ctx.request.cookie(session_cookie_name(ctx.request.isSecure()))
        if not key_text:
            return None
        realm = ctx.realm

        async def load(txn: Transaction) -> tuple[UserProfile, str] | None:
            session = await get_session_txn(txn, hash_session_key(key_text))
            if session is None or realm is None:
                return None
            user = await get_user_by_id_txn(txn, realm.id, session[0])
            return (user, session[1]) if user is not None else None

        return await self._server.pool.run_interaction("session", load)

    # --- passwords and sessions -----------------------------------------

    async def check_login(self, realm: Realm | None, username: str, password: str) -> UserProfile:
        """The user whose password this is, or AUTHENTICATION_FAILED (rate-limited per username)."""
        username = username.strip()
        limits = self._server.rate_limits
        await limits.check_authentication_attempts(username)
        user = None
        if realm is not None:
            user = await self._server.pool.run_interaction("login", get_user_by_email_txn, realm.id, username)
        stored = None
        if user is not None and not user.is_bot:
            stored = await self._server.pool.run_interaction("password", get_password_hash_txn, user.id)
        if user is None or not await check_password(password, stored):
            await limits.record_failed_authentication(username)
            raise AuthenticationFailed()
        await limits.clear_authentication_attempts(username)
        assert realm is not None
        if realm.deactivated:
            raise RealmDeactivated()
        if not user.is_active:
            raise UserDeactivated()
        return user

    async def create_session(self, user: UserProfile) -> tuple[str, str]:
        """A new session for ``user``: (cookie value, CSRF token)."""
        key = secrets.token_urlsafe(32)
        csrf_token = secrets.token_urlsafe(32)
        expires = datetime.now(UTC) + timedelta(days=self._server.config.auth.session_days)
        await self._server.pool.run_interaction(
            "create session", insert_session_txn, hash_session_key(key), user.id, csrf_token, expires
        )
        return key, csrf_token

    async def end_session(self, key: str) -> None:
        await self._server.pool.run_interaction("end session", delete_session_txn, hash_session_key(key))
