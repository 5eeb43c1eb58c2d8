"""Who may call what: every route of the table, against every kind of caller.

Each test walks ``load_routes().routes``, so a route added later is covered
without touching this file. Path parameters are filled with a real user's
id (int) or email (str). Rate limits are off in these harnesses: the matrix
sends many unauthenticated requests from one address, and a 429 would hide
the answer under test.
"""

from __future__ import annotations

import base64
import dataclasses
import re
from collections.abc import AsyncIterator, Mapping
from typing import Any
from urllib.parse import quote

from tests.support.api import DEV_PASSWORD, ApiHarness, start_harness, stop_harness
from tests.support.async_tests import async_fixture, async_test
from tests.support.http import Response
from zulipd.actions.auth import generate_api_key
from zulipd.actions.bots import do_create_bot
from zulipd.actions.realms import do_create_realm, do_set_realm_deactivated
from zulipd.actions.users import do_create_user, do_deactivate_user, do_reactivate_user, get_user
from zulipd.app.api import PUBLIC, Route
from zulipd.app.routes import load_routes
from zulipd.models import BotType, Realm, UserProfile
from zulipd.storage.pool import DatabasePool

ROUTES = load_routes().routes
PUBLIC_ROUTES = {("GET", "server_settings"), ("POST", "fetch_api_key")}
# Routes only an organization administrator may call; anyone else gets UNAUTHORIZED_PRINCIPAL.
ADMIN_ONLY = {
    ("POST", "users"),
    ("PATCH", "users/{user_id}"),
    ("PATCH", "users/{email}"),
    ("DELETE", "users/{user_id}"),
    ("POST", "users/{user_id}/reactivate"),
    ("PATCH", "realm"),
}
# Enough for these routes to get past their own parameter checks to the permission check.
ROUTE_PARAMS: dict[tuple[str, str], dict[str, str]] = {
    ("POST", "users"): {"email": "newcomer@zulip.com", "password": "a-long-password", "full_name": "Newcomer"},
}

HAMLET = "hamlet@zulip.com"
IAGO = "iago@zulip.com"
POLONIUS = "polonius@zulip.com"
KING = "king@lear.org"
LEAR_HOST = "lear.127.0.0.1:9991"
NOT_LOGGED_IN = "Not logged in: API authentication or user session required"
NOT_THIS_SUBDOMAIN = "Account is not associated with this subdomain"
BASIC = 'Basic realm="zulip"'
SESSION = 'Session realm="zulip"'
_PATH_PARAMETER = re.compile(r"\{(\w+)\}")


def key(route: Route) -> tuple[str, str]:
    return (route.method, route.template)


def is_public(route: Route) -> bool:
    return route.access == PUBLIC


def concrete_path(route: Route, user: UserProfile) -> str:
    """The route's template with a real user's id or email in each path parameter."""
    kinds = {spec.python_name: spec.annotation for spec in route.params if spec.from_path}

    def fill(match: re.Match[str]) -> str:
        return str(user.id) if kinds[match.group(1)] is int else quote(user.email, safe="@")

    return _PATH_PARAMETER.sub(fill, route.template)


def basic(email: str, api_key: str) -> str:
    return "Basic " + base64.b64encode(f"{email}:{api_key}".encode()).decode()


@dataclasses.dataclass(frozen=True)
class Refusal:
    """The exact error a caller must get."""

    status: int
    code: str
    msg: str
    challenge: str | None


def unauthorized(msg: str, challenge: str = BASIC) -> Refusal:
    return Refusal(401, "UNAUTHORIZED", msg, challenge)


def mismatch(response: Response, expected: Refusal) -> str | None:
    try:
        body = response.json()
    except ValueError:
        return f"{response.status} with a body that is not JSON: {response.body!r}"
    got = Refusal(response.status, body.get("code"), body.get("msg"), response.header("WWW-Authenticate"))
    if got != expected or body.get("result") != "error":
        return f"got {got}, expected {expected}"
    return None


def authentication_problem(response: Response) -> str | None:
    """Why this response shows that the caller did not get through authentication, if it does."""
    if response.status in (401, 403, 405):
        return f"{response.status} {response.body!r}"
    if response.status == 404 and b'"Not Found"' in response.body:
        return "the route did not match: 404"
    return None


async def call(
    api: ApiHarness,
    route: Route,
    path: str,
    *,
    prefix: str = "/api/v1/",
    headers: Mapping[str, str] | None = None,
    host: str | None = None,
) -> Response:
    params: dict[str, Any] = dict(ROUTE_PARAMS.get(key(route), {}))
    return await api.call(route.method, path, params, prefix=prefix, headers=headers, host=host)


async def active(api: ApiHarness, realm: Realm, user_id: int) -> UserProfile:
    """The user as stored now (a route may have changed its key), reactivated if a route deactivated it."""
    user = await get_user(api.server, realm, user_id)
    if not user.is_active:
        user = await do_reactivate_user(api.server, user, None)
    return user


async def create_lear(api: ApiHarness) -> tuple[Realm, UserProfile]:
    """A second organization, at lear.<external host>, with one member."""
    realm = await do_create_realm(api.server, "lear", "Lear & Co.")
    king = await do_create_user(api.server, realm, email=KING, full_name="King Lear", password=DEV_PASSWORD)
    return realm, king


@async_fixture
async def api(db_pool: DatabasePool) -> AsyncIterator[ApiHarness]:
    """The harness without rate limits (this module's own; it shadows the shared fixture)."""
    harness = await start_harness(
        db_pool,
        ZULIPD_RATELIMIT_API_BY_IP="",
        ZULIPD_RATELIMIT_API_BY_USER="",
        ZULIPD_RATELIMIT_AUTHENTICATE_BY_USERNAME="",
    )
    yield harness
    await stop_harness(harness)


def test_the_route_table_is_what_this_matrix_expects() -> None:
    keys = {key(route) for route in ROUTES}
    assert len(keys) == len(ROUTES), "a method and template are registered twice"
    assert keys >= ADMIN_ONLY
    assert keys >= set(ROUTE_PARAMS)
    assert {key(route) for route in ROUTES if is_public(route)} == PUBLIC_ROUTES
    assert {key(route) for route in ROUTES if route.api_only} == PUBLIC_ROUTES


@async_test
async def test_api_routes_refuse_callers_without_valid_credentials(api: ApiHarness) -> None:
    assert api.realm is not None
    hamlet = api.user(HAMLET)
    retired = await do_create_user(
        api.server, api.realm, email="retired@zulip.com", full_name="Retired", password=DEV_PASSWORD
    )
    await do_deactivate_user(api.server, retired, None)
    _, king = await create_lear(api)
    session, token = await api.server.authenticator.create_session(hamlet)
    bad_basic = Refusal(401, "UNAUTHORIZED", "Invalid authorization header for basic auth", BASIC)
    # (caller, headers, Host header or None for this organization's, the refusal)
    callers: list[tuple[str, dict[str, str], str | None, Refusal]] = [
        ("no credentials", {}, None, unauthorized(NOT_LOGGED_IN)),
        ("a session cookie and its token", {"Cookie": f"sessionid={session}", "X-CSRFToken": token}, None,
         unauthorized(NOT_LOGGED_IN)),
        ("a well-formed unknown key", {"Authorization": basic(HAMLET, generate_api_key())}, None,
         unauthorized("Invalid API key")),
        ("another user's key", {"Authorization": basic(HAMLET, api.api_key(IAGO))}, None,
         unauthorized("Invalid API key")),
        ("a key of the wrong form", {"Authorization": basic(HAMLET, "short-key")}, None,
         unauthorized("Invalid API key")),
        ("a deactivated user's key", {"Authorization": basic(retired.email, retired.api_key)}, None,
         unauthorized("Account is deactivated")),
        ("a user of another organization", {"Authorization": basic(KING, king.api_key)}, None,
         unauthorized(NOT_THIS_SUBDOMAIN)),
        ("a user on another organization's host", {"Authorization": basic(HAMLET, hamlet.api_key)}, LEAR_HOST,
         unauthorized(NOT_THIS_SUBDOMAIN)),
        ("a user on a host of no organization", {"Authorization": basic(HAMLET, hamlet.api_key)},
         "chat.example.net", unauthorized(NOT_THIS_SUBDOMAIN)),
        ("a Bearer token", {"Authorization": "Bearer " + hamlet.api_key}, None,
         Refusal(400, "BAD_REQUEST", "This endpoint requires HTTP basic authentication.", None)),
        ("Basic with bad base64", {"Authorization": "Basic !!not-base64!!"}, None, bad_basic),
        ("Basic without a colon", {"Authorization": "Basic " + base64.b64encode(b"no-colon").decode()}, None,
         bad_basic),
        ("Basic that is not UTF-8", {"Authorization": "Basic " + base64.b64encode(b"\xff:\xfe").decode()}, None,
         bad_basic),
    ]  # fmt: skip
    webhook_bot, _ = await do_create_bot(
        api.server, api.realm, hamlet, full_name="Hook", short_name="hook", bot_type=BotType.INCOMING_WEBHOOK,
        payload_url="", interface=1, service_name="", config={},
    )  # fmt: skip
    webhook_refusal = Refusal(400, "BAD_REQUEST", "This API is not available to incoming webhook bots.", None)
    problems = []
    for route in ROUTES:
        path = concrete_path(route, hamlet)
        if not is_public(route):
            response = await call(
                api, route, path, headers={"Authorization": basic(webhook_bot.email, webhook_bot.api_key)}
            )
            where = f"{route.method} {route.template} by an incoming-webhook bot"
            problem = (
                authentication_problem(response)
                if route.allow_incoming_webhook
                else mismatch(response, webhook_refusal)
            )
            if problem:
                problems.append(f"{where}: {problem}")
        for caller, headers, host, refusal in callers:
            response = await call(api, route, path, headers=headers, host=host)
            where = f"{route.method} {route.template} by {caller}"
            if is_public(route):
                # Public routes never ask for credentials, and ignore any that are sent.
                if response.status == 401 or response.header("WWW-Authenticate") is not None:
                    problems.append(f"{where}: demands authentication: {response.status} {response.body!r}")
                continue
            problem = mismatch(response, refusal)
            if problem:
                problems.append(f"{where}: {problem}")
    assert not problems, "\n".join(problems)


@async_test
async def test_public_routes_answer_without_credentials(api: ApiHarness) -> None:
    response = await api.call("GET", "server_settings")
    assert response.status == 200
    assert response.json()["realm_name"] == "Zulip Dev"
    response = await api.call("GET", "server_settings", headers={"Authorization": basic(HAMLET, "wrong")})
    assert response.status == 200
    response = await api.call("POST", "fetch_api_key")
    assert response.status == 400
    assert response.json()["code"] == "REQUEST_VARIABLE_MISSING"
    response = await api.call("POST", "fetch_api_key", {"username": HAMLET, "password": DEV_PASSWORD})
    assert response.status == 200
    assert response.json()["api_key"] == api.api_key(HAMLET)
    response = await api.call("POST", "fetch_api_key", {"username": HAMLET, "password": "wrong-password"})
    assert (response.status, response.json()["code"]) == (401, "AUTHENTICATION_FAILED")


@async_test
async def test_a_user_is_served_on_their_own_organizations_host(api: ApiHarness) -> None:
    lear, king = await create_lear(api)
    response = await api.call("GET", "users/me", headers={"Authorization": basic(KING, king.api_key)}, host=LEAR_HOST)
    assert response.status == 200
    assert response.json()["email"] == KING
    problems = []
    for route in ROUTES:
        if is_public(route):
            continue
        king = await active(api, lear, king.id)
        response = await call(
            api, route, concrete_path(route, king), headers={"Authorization": basic(KING, king.api_key)}, host=LEAR_HOST
        )
        problem = authentication_problem(response)
        if problem:
            problems.append(f"{route.method} {route.template}: {problem}")
    assert not problems, "\n".join(problems)


@async_test
async def test_a_deactivated_organization_refuses_every_route(api: ApiHarness) -> None:
    assert api.realm is not None
    # Authenticate once first, so that the key is cached when the organization is deactivated.
    assert (await api.call("GET", "users/me", as_user=IAGO)).status == 200
    session, _ = await api.server.authenticator.create_session(api.user(IAGO))
    await do_set_realm_deactivated(api.server, api.realm, True, None)
    deactivated = "This organization has been deactivated"
    problems = []
    for route in ROUTES:
        path = concrete_path(route, api.user(HAMLET))
        where = f"{route.method} {route.template}"
        response = await call(api, route, path, headers={"Authorization": api.basic_auth(IAGO)})
        if is_public(route):
            if response.status == 401 and response.header("WWW-Authenticate") is not None:
                problems.append(f"{where}: demands authentication: {response.body!r}")
            continue
        problem = mismatch(response, unauthorized(deactivated))
        if problem:
            problems.append(f"{where} with Basic: {problem}")
        response = await call(api, route, path, prefix="/json/", headers={"Cookie": f"sessionid={session}"})
        # Deactivating the organization ended its sessions, so the cookie no longer logs anyone in.
        problem = mismatch(response, unauthorized(NOT_LOGGED_IN, SESSION))
        if problem:
            problems.append(f"{where} with a session: {problem}")
    assert not problems, "\n".join(problems)
    response = await api.call("POST", "fetch_api_key", {"username": IAGO, "password": DEV_PASSWORD})
    assert (response.status, response.json()["code"]) == (401, "REALM_DEACTIVATED")


@async_test
async def test_a_guest_is_refused_admin_routes_and_served_the_rest(api: ApiHarness) -> None:
    assert api.realm is not None
    hamlet = api.user(HAMLET)
    problems = []
    for route in ROUTES:
        if is_public(route):
            continue
        where = f"{route.method} {route.template}"
        guest = await active(api, api.realm, api.user(POLONIUS).id)
        response = await call(
            api, route, concrete_path(route, hamlet), headers={"Authorization": basic(guest.email, guest.api_key)}
        )
        if key(route) in ADMIN_ONLY:
            problem = mismatch(
                response, Refusal(400, "UNAUTHORIZED_PRINCIPAL", "Must be an organization administrator", None)
            )
        else:
            problem = authentication_problem(response)
        if problem:
            problems.append(f"{where} by the guest: {problem}")
    assert not problems, "\n".join(problems)


@async_test
async def test_an_administrator_passes_the_admin_routes_permission_check(api: ApiHarness) -> None:
    assert api.realm is not None
    problems = []
    for route in ROUTES:
        if key(route) not in ADMIN_ONLY:
            continue
        hamlet = await active(api, api.realm, api.user(HAMLET).id)
        response = await call(api, route, concrete_path(route, hamlet), headers={"Authorization": api.basic_auth(IAGO)})
        problem = authentication_problem(response)
        if problem is None and response.status != 200 and response.json().get("code") == "UNAUTHORIZED_PRINCIPAL":
            problem = f"refused: {response.body!r}"
        if problem:
            problems.append(f"{route.method} {route.template} by an administrator: {problem}")
    assert not problems, "\n".join(problems)


@async_test
async def test_json_routes_need_a_session_and_a_csrf_token(api: ApiHarness) -> None:
    assert api.realm is not None
    hamlet_id = api.user(HAMLET).id
    _, king = await create_lear(api)
    king_session, _ = await api.server.authenticator.create_session(king)
    missing = Refusal(403, "CSRF_FAILED", "CSRF error: CSRF token missing.", None)
    incorrect = Refusal(403, "CSRF_FAILED", "CSRF error: CSRF token incorrect.", None)
    not_found = Refusal(404, "BAD_REQUEST", "Not Found", None)
    problems = []

    def check(where: str, response: Response, expected: Refusal, **fields: Any) -> None:
        problem = mismatch(response, expected)
        if problem is None:
            extra = {name: response.json().get(name) for name in fields}
            problem = None if extra == fields else f"got {extra}, expected {fields}"
        if problem:
            problems.append(f"{where}: {problem}")

    for route in ROUTES:
        hamlet = await active(api, api.realm, hamlet_id)
        session, token = await api.server.authenticator.create_session(hamlet)
        path = concrete_path(route, hamlet)
        where = f"/json/ {route.method} {route.template}"
        cookie = {"Cookie": f"sessionid={session}"}

        async def json_call(headers: Mapping[str, str], *, _route: Route = route, _path: str = path) -> Response:
            return await call(api, _route, _path, prefix="/json/", headers=headers)

        if route.api_only:
            check(f"{where} without a session", await json_call({}), not_found)
            check(f"{where} with a session", await json_call({**cookie, "X-CSRFToken": token}), not_found)
            continue
        no_session = unauthorized(NOT_LOGGED_IN, SESSION)
        check(f"{where} without a session", await json_call({}), no_session)
        check(f"{where} with Basic credentials only", await json_call({"Authorization": api.basic_auth(HAMLET)}),
              no_session)  # fmt: skip
        check(f"{where} with an unknown session", await json_call({"Cookie": "sessionid=forged-session"}), no_session)
        check(f"{where} with another organization's session", await json_call({"Cookie": f"sessionid={king_session}"}),
              no_session)  # fmt: skip
        if route.method == "GET":
            for method in ("GET", "HEAD"):
                response = await api.call(method, path, prefix="/json/", headers=cookie)
                problem = authentication_problem(response)
                if problem:
                    problems.append(f"{where} as {method} with the cookie alone: {problem}")
        else:
            check(f"{where} without a token", await json_call(cookie), missing, reason="CSRF token missing.")
            check(f"{where} with a wrong token", await json_call({**cookie, "X-CSRFToken": token[::-1]}), incorrect,
                  reason="CSRF token incorrect.")  # fmt: skip
        problem = authentication_problem(await json_call({**cookie, "X-CSRFToken": token}))
        if problem:
            problems.append(f"{where} with the cookie and the token: {problem}")
    assert not problems, "\n".join(problems)


@async_test
async def test_a_method_override_does_not_escape_the_csrf_check(api: ApiHarness) -> None:
    session, token = await api.server.authenticator.create_session(api.user(HAMLET))
    cookie = {"Cookie": f"sessionid={session}"}
    response = await api.call("POST", "users/me", {"method": "GET"}, prefix="/json/", headers=cookie)
    assert (response.status, response.json()["code"]) == (403, "CSRF_FAILED")
    response = await api.call(
        "POST", "users/me", {"method": "GET"}, prefix="/json/", headers={**cookie, "X-CSRFToken": token}
    )
    assert response.status == 200
    assert response.json()["email"] == HAMLET
