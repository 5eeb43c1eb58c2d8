"""Browser sessions over HTTP: /login/, the page at /, /accounts/logout/, and cache invalidation between processes."""

from __future__ import annotations

import html
import io
import ipaddress
import re
from collections.abc import Mapping
from urllib.parse import urlencode

import pytest
from twisted.internet import defer, reactor
from twisted.web.client import Agent, FileBodyProducer
from twisted.web.http_headers import Headers

from tests.support.api import DEV_PASSWORD, ApiHarness, harness_environment
from tests.support.async_tests import async_test
from tests.support.http import Response, read_body, serving
from zulipd.actions import auth as auth_actions
from zulipd.actions import realms as realm_actions
from zulipd.actions.realms import do_set_realm_deactivated
from zulipd.actions.users import do_regenerate_api_key
from zulipd.app.root import make_root
from zulipd.app.site import ZulipdSite
from zulipd.config import load_config
from zulipd.models import Realm, UserProfile
from zulipd.server import Server
from zulipd.storage.notifications import InvalidationListener
from zulipd.storage.pool import DatabasePool, Transaction
from zulipd.storage.realms import get_realm_by_string_id_txn
from zulipd.storage.users import get_user_by_api_key_txn
from zulipd.timing import sleep

HAMLET = "hamlet@zulip.com"
IAGO = "iago@zulip.com"
FORM = "application/x-www-form-urlencoded"
SESSION_DAYS_IN_SECONDS = str(14 * 86400)
TRUSTED_PROXIES = (ipaddress.ip_network("127.0.0.0/8"),)
# How long a notification from another process may take to arrive; only reached if it never does.
INVALIDATION_DEADLINE = 10.0


async def browse(
    base_url: str,
    method: str,
    path: str,
    *,
    form: Mapping[str, str] | None = None,
    cookies: Mapping[str, str] | None = None,
    headers: Mapping[str, str] | None = None,
) -> Response:
    """One request as a browser makes it (redirects are not followed)."""
    all_headers = dict(headers or {})
    if cookies:
        all_headers["Cookie"] = "; ".join(f"{name}={value}" for name, value in cookies.items())
    producer = None
    if form is not None:
        all_headers["Content-Type"] = FORM
        producer = FileBodyProducer(io.BytesIO(urlencode(form).encode()))
    raw_headers = Headers({name: [value] for name, value in all_headers.items()})
    response = await Agent(reactor).request(method.encode(), (base_url + path).encode(), raw_headers, producer)
    return Response(response.code, response.headers, await read_body(response))


def set_cookies(response: Response) -> dict[str, dict[str, str]]:
    """The response's Set-Cookie headers: name -> {"value": ..., lower-cased attribute: value}."""
    cookies: dict[str, dict[str, str]] = {}
    for raw in response.headers.getRawHeaders("Set-Cookie") or []:
        first, *attributes = (part.strip() for part in raw.split(";"))
        name, _, value = first.partition("=")
        cookie = {"value": value}
        for attribute in attributes:
            attribute_name, _, attribute_value = attribute.partition("=")
            cookie[attribute_name.lower()] = attribute_value
        cookies[name] = cookie
    return cookies


def form_token(page: Response) -> str:
    match = re.search(rb'name="csrfmiddlewaretoken" value="([^"]*)"', page.body)
    assert match is not None, page.body
    return html.unescape(match.group(1).decode())


async def log_in(
    base_url: str, email: str, password: str = DEV_PASSWORD, headers: Mapping[str, str] | None = None
) -> Response:
    """GET the login form, then POST it back with its token and cookie."""
    page = await browse(base_url, "GET", "/login/", headers=headers)
    assert page.status == 200
    csrf_cookie = set_cookies(page)["csrftoken"]["value"]
    return await browse(
        base_url,
        "POST",
        "/login/",
        form={"csrfmiddlewaretoken": form_token(page), "username": email, "password": password},
        cookies={"csrftoken": csrf_cookie},
        headers=headers,
    )


async def session_of(api: ApiHarness, email: str, password: str = DEV_PASSWORD) -> str:
    """A new session cookie value for ``email``, made through the login form."""
    response = await log_in(api.base_url, email, password)
    assert response.status == 302, response.body
    return set_cookies(response)["sessionid"]["value"]


async def json_me(api: ApiHarness, session: str) -> Response:
    return await api.call("GET", "users/me", prefix="/json/", headers={"Cookie": f"sessionid={session}"})


async def page_token(api: ApiHarness, session: str) -> str:
    """The CSRF token the page at / gives this session."""
    page = await browse(api.base_url, "GET", "/", cookies={"sessionid": session})
    assert page.status == 200, page.body
    return form_token(page)


async def session_count(pool: DatabasePool, user: UserProfile) -> int:
    rows = await pool.fetch_all("count sessions", "SELECT count(*) FROM user_session WHERE user_id = %s", (user.id,))
    return int(rows[0][0])


# --- the login form ----------------------------------------------------------


@async_test
async def test_the_login_page_sets_an_httponly_csrf_cookie_matching_its_form(api: ApiHarness) -> None:
    page = await browse(api.base_url, "GET", "/login/")
    assert page.status == 200
    assert page.header("Content-Type") == "text/html; charset=utf-8"
    assert page.header("X-Frame-Options") == "DENY"
    cookie = set_cookies(page)["csrftoken"]
    assert "httponly" in cookie
    assert cookie["path"] == "/"
    assert "secure" not in cookie
    assert len(cookie["value"]) >= 32
    assert form_token(page) == cookie["value"]
    assert b'name="username"' in page.body
    assert b'name="password"' in page.body
    # A browser that already holds the cookie keeps it, and the form carries it.
    again = await browse(api.base_url, "GET", "/login/", cookies={"csrftoken": cookie["value"]})
    assert "csrftoken" not in set_cookies(again)
    assert form_token(again) == cookie["value"]


@async_test
async def test_logging_in_sets_a_session_cookie_and_redirects_home(api: ApiHarness) -> None:
    response = await log_in(api.base_url, HAMLET)
    assert response.status == 302
    assert response.header("Location") == "/"
    cookie = set_cookies(response)["sessionid"]
    assert "httponly" in cookie
    assert cookie["samesite"].lower() == "lax"
    assert cookie["path"] == "/"
    assert cookie["max-age"] == SESSION_DAYS_IN_SECONDS
    assert "secure" not in cookie
    assert "domain" not in cookie
    me = await json_me(api, cookie["value"])
    assert me.status == 200
    assert me.json()["email"] == HAMLET
    assert await session_count(api.server.pool, api.user(HAMLET)) == 1


@async_test
async def test_a_login_without_the_matching_token_is_refused(api: ApiHarness) -> None:
    page = await browse(api.base_url, "GET", "/login/")
    token = form_token(page)
    credentials = {"username": HAMLET, "password": DEV_PASSWORD}
    attempts: list[tuple[dict[str, str], dict[str, str]]] = [
        (credentials, {}),
        (credentials, {"csrftoken": token}),
        ({**credentials, "csrfmiddlewaretoken": token}, {}),
        ({**credentials, "csrfmiddlewaretoken": token}, {"csrftoken": token[::-1]}),
        ({**credentials, "csrfmiddlewaretoken": ""}, {"csrftoken": ""}),
    ]
    for form, cookies in attempts:
        response = await browse(api.base_url, "POST", "/login/", form=form, cookies=cookies)
        assert response.status == 403, (form, cookies)
        assert "sessionid" not in set_cookies(response)
        assert b"expired" in response.body
    assert await session_count(api.server.pool, api.user(HAMLET)) == 0


@async_test
async def test_a_wrong_password_is_a_401_page(api: ApiHarness) -> None:
    for email, password in [(HAMLET, "not-the-password"), ("nobody@zulip.com", DEV_PASSWORD)]:
        response = await log_in(api.base_url, email, password)
        assert response.status == 401
        assert response.header("Content-Type") == "text/html; charset=utf-8"
        assert b"Your username or password is incorrect" in response.body
        assert "sessionid" not in set_cookies(response)
    assert await session_count(api.server.pool, api.user(HAMLET)) == 0


# --- the page at / and its token -------------------------------------------


@async_test
async def test_the_home_page_escapes_the_name_and_its_token_works_for_json(api: ApiHarness) -> None:
    name = "Eve <b class=x onclick=alert(1) & 'Co'"
    created = await api.call(
        "POST", "users", {"email": "eve@zulip.com", "password": "eve-password", "full_name": name}, as_user=IAGO
    )
    assert created.status == 200, created.body
    session = await session_of(api, "eve@zulip.com", "eve-password")
    page = await browse(api.base_url, "GET", "/", cookies={"sessionid": session})
    assert page.status == 200
    assert html.escape(name).encode() in page.body
    assert b"<b class" not in page.body
    assert b"eve@zulip.com" in page.body
    token = form_token(page)

    headers = {"Cookie": f"sessionid={session}"}
    response = await api.call("PATCH", "settings", {"full_name": "Eve"}, prefix="/json/", headers=headers)
    assert (response.status, response.json()["code"]) == (403, "CSRF_FAILED")
    response = await api.call(
        "PATCH", "settings", {"full_name": "Eve"}, prefix="/json/", headers={**headers, "X-CSRFToken": token}
    )
    assert response.status == 200, response.body
    me = await json_me(api, session)
    assert me.json()["full_name"] == "Eve"


@async_test
async def test_the_home_page_without_a_session_redirects_to_login(api: ApiHarness) -> None:
    for cookies in [{}, {"sessionid": "forged"}]:
        response = await browse(api.base_url, "GET", "/", cookies=cookies)
        assert response.status == 302
        assert response.header("Location") == "/login/"


@async_test
async def test_each_session_has_its_own_token(api: ApiHarness) -> None:
    first, second = await session_of(api, HAMLET), await session_of(api, HAMLET)
    assert first != second
    first_token, second_token = await page_token(api, first), await page_token(api, second)
    assert first_token != second_token
    response = await api.call(
        "PATCH", "settings", {}, prefix="/json/", headers={"Cookie": f"sessionid={first}", "X-CSRFToken": second_token}
    )
    assert (response.status, response.json()["code"]) == (403, "CSRF_FAILED")


# --- ending sessions -------------------------------------------------------


@async_test
async def test_logging_out_ends_the_session(api: ApiHarness) -> None:
    session = await session_of(api, HAMLET)
    other = await session_of(api, HAMLET)
    token = await page_token(api, session)
    refused = await browse(api.base_url, "POST", "/accounts/logout/", form={}, cookies={"sessionid": session})
    assert refused.status == 403
    assert (await json_me(api, session)).status == 200

    response = await browse(
        api.base_url, "POST", "/accounts/logout/", form={"csrfmiddlewaretoken": token}, cookies={"sessionid": session}
    )
    assert response.status == 302
    assert response.header("Location") == "/login/"
    cleared = set_cookies(response)["sessionid"]
    assert (cleared["value"], cleared["max-age"]) == ("", "0")
    me = await json_me(api, session)
    assert (me.status, me.json()["code"]) == (401, "UNAUTHORIZED")
    assert me.header("WWW-Authenticate") == 'Session realm="zulip"'
    # Only that session ended.
    assert (await json_me(api, other)).status == 200


@async_test
async def test_logging_out_with_the_token_in_a_header(api: ApiHarness) -> None:
    session = await session_of(api, HAMLET)
    token = await page_token(api, session)
    response = await browse(
        api.base_url, "POST", "/accounts/logout/", cookies={"sessionid": session}, headers={"X-CSRFToken": token}
    )
    assert response.status == 302
    assert (await json_me(api, session)).status == 401


@async_test
async def test_deactivating_a_user_ends_their_sessions(api: ApiHarness) -> None:
    hamlet = api.user(HAMLET)
    session = await session_of(api, HAMLET)
    assert (await json_me(api, session)).status == 200
    response = await api.call("DELETE", f"users/{hamlet.id}", as_user=IAGO)
    assert response.status == 200, response.body
    me = await json_me(api, session)
    assert (me.status, me.json()["code"]) == (401, "UNAUTHORIZED")
    home = await browse(api.base_url, "GET", "/", cookies={"sessionid": session})
    assert (home.status, home.header("Location")) == (302, "/login/")
    assert await session_count(api.server.pool, hamlet) == 0
    # The sessions are gone, not merely refused: reactivating the user does not bring them back.
    response = await api.call("POST", f"users/{hamlet.id}/reactivate", as_user=IAGO)
    assert response.status == 200, response.body
    assert (await json_me(api, session)).status == 401


@async_test
async def test_a_deactivated_user_cannot_log_in(api: ApiHarness) -> None:
    hamlet = api.user(HAMLET)
    assert (await api.call("DELETE", f"users/{hamlet.id}", as_user=IAGO)).status == 200
    response = await log_in(api.base_url, HAMLET)
    assert response.status == 401
    assert b"Account is deactivated" in response.body
    assert "sessionid" not in set_cookies(response)


@async_test
async def test_changing_the_password_ends_the_other_sessions(api: ApiHarness) -> None:
    current, other = await session_of(api, HAMLET), await session_of(api, HAMLET)
    response = await api.call(
        "PATCH",
        "settings",
        {"old_password": DEV_PASSWORD, "new_password": "a-brand-new-password"},
        prefix="/json/",
        headers={"Cookie": f"sessionid={current}", "X-CSRFToken": await page_token(api, current)},
    )
    assert response.status == 200, response.body
    assert (await json_me(api, current)).status == 200
    assert (await json_me(api, other)).status == 401


@async_test
async def test_deactivating_the_organization_ends_its_sessions(api: ApiHarness) -> None:
    assert api.realm is not None
    session = await session_of(api, HAMLET)
    await do_set_realm_deactivated(api.server, api.realm, True, None)
    assert (await json_me(api, session)).status == 401
    await do_set_realm_deactivated(api.server, api.realm, False, None)
    assert (await api.call("GET", "users/me", as_user=HAMLET)).status == 200
    assert (await json_me(api, session)).status == 401


# --- behind a TLS-terminating proxy ---------------------------------------


@async_test
async def test_behind_a_trusted_https_proxy_the_cookies_are_secure(api: ApiHarness) -> None:
    https = {"X-Forwarded-Proto": "https"}
    async with serving(ZulipdSite(make_root(api.server), reactor, TRUSTED_PROXIES)) as url:
        page = await browse(url, "GET", "/login/", headers=https)
        assert "secure" in set_cookies(page)["csrftoken"]
        response = await log_in(url, HAMLET, headers=https)
        assert response.status == 302, response.body
        cookies = set_cookies(response)
        assert "sessionid" not in cookies
        cookie = cookies["__Host-sessionid"]
        assert "secure" in cookie
        assert "httponly" in cookie
        assert cookie["path"] == "/"
        assert "domain" not in cookie
        assert cookie["samesite"].lower() == "lax"
        session = cookie["value"]

        async def me(cookie_name: str, headers: Mapping[str, str]) -> int:
            response = await browse(url, "GET", "/json/users/me", cookies={cookie_name: session}, headers=headers)
            return response.status

        assert await me("__Host-sessionid", https) == 200
        # The name belongs to the scheme: each is ignored under the other.
        assert await me("sessionid", https) == 401
        assert await me("__Host-sessionid", {}) == 401
        assert await me("__Host-sessionid", {"X-Forwarded-Proto": "http"}) == 401
        home = await browse(url, "GET", "/", cookies={"__Host-sessionid": session}, headers=https)
        assert home.status == 200
        assert b"King Hamlet" in home.body


@async_test
async def test_an_untrusted_peer_cannot_claim_https(api: ApiHarness) -> None:
    # The harness's own site trusts no proxy.
    response = await log_in(api.base_url, HAMLET, headers={"X-Forwarded-Proto": "https"})
    assert response.status == 302
    cookies = set_cookies(response)
    assert "__Host-sessionid" not in cookies
    assert "secure" not in cookies["sessionid"]


# --- the API-key cache across processes ---------------------------------------


def another_process(pool: DatabasePool) -> Server:
    """A second zulipd Server on the same database, as another process would be."""
    server = Server(load_config(None, harness_environment()), reactor)
    server.db_pool = pool
    return server


async def poll_status(api: ApiHarness, authorization: str, until: int) -> int:
    """GET /users/me until it answers ``until``, or the deadline passes; the last status."""
    deadline = reactor.seconds() + INVALIDATION_DEADLINE
    while True:
        response = await api.call("GET", "users/me", headers={"Authorization": authorization})
        if response.status == until or reactor.seconds() > deadline:
            return response.status
        await sleep(reactor, 0.05)


@async_test
async def test_a_key_changed_by_another_process_stops_working_here(
    api: ApiHarness, database_dsn: str, db_pool: DatabasePool
) -> None:
    hamlet = api.user(HAMLET)
    old_key = api.basic_auth(HAMLET)
    unlistening = another_process(db_pool)
    listener = InvalidationListener(database_dsn, reactor, api.server.handle_invalidation, api.server.forget_everything)
    await listener.start()
    try:
        async with serving(ZulipdSite(make_root(unlistening), reactor)) as unlistening_url:

            async def unlistening_status(authorization: str) -> int:
                response = await browse(
                    unlistening_url, "GET", "/api/v1/users/me", headers={"Authorization": authorization}
                )
                return response.status

            # Both servers have now looked the key up once, and cache it.
            assert (await api.call("GET", "users/me", headers={"Authorization": old_key})).status == 200
            assert await unlistening_status(old_key) == 200
            assert api.server.authenticator.cached_users >= 1

            await do_regenerate_api_key(another_process(db_pool), hamlet, None)

            assert await poll_status(api, old_key, until=401) == 401
            response = await api.call("GET", "users/me", headers={"Authorization": old_key})
            assert (response.status, response.json()["msg"]) == (401, "Invalid API key")
            new_key = api.basic_auth(HAMLET, (await api.refresh(HAMLET)).api_key)
            assert (await api.call("GET", "users/me", headers={"Authorization": new_key})).status == 200
            # A server that does not listen never hears of the change, and still takes the old key.
            assert await unlistening_status(old_key) == 200
            assert await unlistening_status(new_key) == 200
    finally:
        await listener.stop()


@async_test
async def test_an_organization_deactivated_by_another_process_is_refused_here(
    api: ApiHarness, database_dsn: str, db_pool: DatabasePool
) -> None:
    assert api.realm is not None
    listener = InvalidationListener(database_dsn, reactor, api.server.handle_invalidation, api.server.forget_everything)
    await listener.start()
    try:
        authorization = api.basic_auth(HAMLET)
        assert (await api.call("GET", "users/me", headers={"Authorization": authorization})).status == 200
        await do_set_realm_deactivated(another_process(db_pool), api.realm, True, None)
        assert await poll_status(api, authorization, until=401) == 401
        response = await api.call("GET", "users/me", headers={"Authorization": authorization})
        assert response.json()["msg"] == "This organization has been deactivated"
    finally:
        await listener.stop()


# --- invalidations that arrive while a lookup is under way ------------------


class Paused:
    """Wraps a storage lookup so that the test decides when its result comes back."""

    def __init__(self) -> None:
        self.fetched: defer.Deferred[None] = defer.Deferred()
        self.release: defer.Deferred[None] = defer.Deferred()

    async def hold(self) -> None:
        if not self.fetched.called:
            self.fetched.callback(None)
            await self.release


@async_test
async def test_a_key_changed_during_its_lookup_is_not_cached(api: ApiHarness, monkeypatch: pytest.MonkeyPatch) -> None:
    hamlet = api.user(HAMLET)
    old_key = api.basic_auth(HAMLET)
    paused = Paused()
    lookup = get_user_by_api_key_txn

    async def paused_lookup(txn: Transaction, api_key: str) -> UserProfile | None:
        user = await lookup(txn, api_key)
        await paused.hold()
        return user

    monkeypatch.setattr(auth_actions, "get_user_by_api_key_txn", paused_lookup)
    api.server.authenticator.forget_everything()
    in_flight = defer.ensureDeferred(api.call("GET", "users/me", headers={"Authorization": old_key}))
    await paused.fetched
    await do_regenerate_api_key(api.server, hamlet, None)
    paused.release.callback(None)
    await in_flight  # it started before the change, so either answer is fair
    response = await api.call("GET", "users/me", headers={"Authorization": old_key})
    assert response.status == 401


@async_test
async def test_an_organization_deactivated_during_its_lookup_is_not_cached(
    api: ApiHarness, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert api.realm is not None
    paused = Paused()
    lookup = get_realm_by_string_id_txn

    async def paused_lookup(txn: Transaction, string_id: str) -> Realm | None:
        realm = await lookup(txn, string_id)
        await paused.hold()
        return realm

    monkeypatch.setattr(realm_actions, "get_realm_by_string_id_txn", paused_lookup)
    api.server.forget_everything()
    in_flight = defer.ensureDeferred(api.call("GET", "users/me", as_user=HAMLET))
    await paused.fetched
    await do_set_realm_deactivated(api.server, api.realm, True, None)
    paused.release.callback(None)
    await in_flight
    response = await api.call("GET", "users/me", as_user=HAMLET)
    assert response.status == 401
