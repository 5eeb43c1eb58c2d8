"""Users over the HTTP API: /server_settings, /fetch_api_key, /users*, deactivation, API keys, the audit log.

Every 2xx response, and every error whose path, method and status Zulip's spec
documents, is checked with assert_valid. POST /users/me/api_key/regenerate is
not in the spec (a Zulip route outside it), so its responses are checked by hand.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from http.cookies import SimpleCookie
from typing import Any

from tests.support.api import DEV_PASSWORD, ApiHarness
from tests.support.async_tests import async_test
from tests.support.http import Response
from tests.support.openapi import assert_valid
from zulipd.actions.realms import do_create_realm, do_set_realm_deactivated
from zulipd.actions.users import do_create_user
from zulipd.storage.audit import audit_log_for_user_txn
from zulipd.storage.pool import Transaction

DESDEMONA = "desdemona@zulip.com"  # the only owner
IAGO = "iago@zulip.com"  # an administrator
SHIVA = "shiva@zulip.com"  # a moderator
HAMLET = "hamlet@zulip.com"
OTHELLO = "othello@zulip.com"
CORDELIA = "cordelia@zulip.com"
POLONIUS = "polonius@zulip.com"  # a guest

OWNER, ADMINISTRATOR, MODERATOR, MEMBER, GUEST = 100, 200, 300, 400, 600
API_KEY = re.compile(r"^[A-Za-z0-9]{32}$")
ROOT_REALM_URL = "http://127.0.0.1:9991"  # the harness's external_host
REALM_KEYS = {
    "realm_url",
    "realm_uri",
    "realm_name",
    "realm_icon",
    "realm_description",
    "realm_web_public_access_enabled",
}

AuditRow = tuple[str, int | None, dict[str, Any]]


# --- helpers -------------------------------------------------------------

# Routes Zulip serves outside its spec: their responses are checked by hand, without assert_valid.
NOT_IN_SPEC = re.compile(r"^(?:bots(?:/.*)?|users/me/api_key/regenerate)$")


async def call(
    api: ApiHarness, method: str, path: str, params: Mapping[str, Any] | None = None, **options: Any
) -> Response:
    """One request. Every 2xx answer of a route in Zulip's spec is validated against it here."""
    response = await api.call(method, path, params, **options)
    prefix = options.get("prefix", "/api/v1/")
    if 200 <= response.status < 300 and prefix in ("/api/v1/", "/json/") and not NOT_IN_SPEC.match(path):
        assert_valid(method, path, response.status, response.json())
    return response


def success(response: Response) -> dict[str, Any]:
    body: dict[str, Any] = response.json()
    assert response.status == 200, body
    assert body["result"] == "success"
    assert body["msg"] == ""
    return body


def failure(
    response: Response, status: int, code: str, msg: str | None = None, *, sent: object = None
) -> dict[str, Any]:
    """An error answer; ``sent`` (what the test sent) goes into assertion messages."""
    body: dict[str, Any] = response.json()
    assert response.status == status, (sent, body)
    assert body["result"] == "error", (sent, body)
    assert body["code"] == code, (sent, body)
    if msg is not None:
        assert body["msg"] == msg, (sent, body)
    return body


def unauthorized(response: Response, msg: str | None = None, scheme: str = "Basic") -> None:
    failure(response, 401, "UNAUTHORIZED", msg)
    assert response.header("WWW-Authenticate") == f'{scheme} realm="zulip"'


async def fetch_api_key(api: ApiHarness, username: str, password: str) -> Response:
    return await call(api, "POST", "fetch_api_key", {"username": username, "password": password})


async def call_with_key(
    api: ApiHarness, email: str, api_key: str, method: str = "GET", path: str = "users/me"
) -> Response:
    return await call(api, method, path, headers={"Authorization": api.basic_auth(email, api_key)})


async def audit_log(api: ApiHarness, user_id: int) -> list[AuditRow]:
    return await api.server.pool.run_interaction("test: audit log", audit_log_for_user_txn, user_id)


async def audit_rows_with_ids(api: ApiHarness) -> list[tuple[int, str, int | None, str]]:
    """Every audit row: (id, event type, modified user, extra_data as JSON text)."""

    async def load(txn: Transaction) -> list[tuple[int, str, int | None, str]]:
        rows = await txn.fetch_all(
            "SELECT id, event_type, modified_user_id, extra_data::text FROM realm_audit_log ORDER BY id"
        )
        return [(row[0], row[1], row[2], row[3]) for row in rows]

    return await api.server.pool.run_interaction("test: all audit rows", load)


async def get_user(api: ApiHarness, user_id: int, as_user: str = IAGO) -> dict[str, Any]:
    response = await call(api, "GET", f"users/{user_id}", as_user=as_user)
    body = success(response)
    assert_valid("GET", f"users/{user_id}", 200, body)
    user: dict[str, Any] = body["user"]
    return user


async def create_bot(api: ApiHarness, owner: str, short_name: str, bot_type: int = 1) -> tuple[int, str, str]:
    """(user id, email, API key) of a new bot of ``owner``."""
    response = await call(
        api,
        "POST",
        "bots",
        {"full_name": f"{short_name} bot", "short_name": short_name, "bot_type": bot_type},
        as_user=owner,
    )
    body = success(response)
    return body["user_id"], f"{short_name}-bot@127.0.0.1", body["api_key"]


async def browser_session(api: ApiHarness, email: str) -> str:
    """Log in through the /login/ form; return the session cookie's value."""
    token = "test-login-csrf-token"
    response = await call(
        api,
        "POST",
        "login/",
        {"username": email, "password": DEV_PASSWORD, "csrfmiddlewaretoken": token},
        prefix="/",
        headers={"Cookie": f"csrftoken={token}"},
    )
    assert response.status == 302, response.body
    cookies: SimpleCookie = SimpleCookie()
    for header in response.headers.getRawHeaders("set-cookie") or []:
        cookies.load(header)
    assert "sessionid" in cookies
    return cookies["sessionid"].value


async def deactivate(api: ApiHarness, email: str, as_user: str = IAGO) -> None:
    response = await call(api, "DELETE", f"users/{api.user(email).id}", as_user=as_user)
    assert_valid("DELETE", f"users/{api.user(email).id}", 200, success(response))


# --- GET /server_settings --------------------------------------------------


@async_test
async def test_server_settings_without_auth(api: ApiHarness) -> None:
    body = success(await call(api, "GET", "server_settings"))
    assert_valid("GET", "server_settings", 200, body)
    assert body["zulip_feature_level"] == 372
    assert isinstance(body["zulip_version"], str)
    assert body["zulip_version"].startswith("10.2")
    assert body["authentication_methods"]["password"] is True
    assert body["authentication_methods"]["dev"] is False
    assert body["realm_url"] == ROOT_REALM_URL
    assert body["realm_uri"] == ROOT_REALM_URL
    assert body["realm_name"] == "Zulip Dev"


@async_test
async def test_server_settings_ignores_garbage_auth(api: ApiHarness) -> None:
    for authorization in [
        "Basic !!!not-base64!!!",
        "Basic " + "aGFtbGV0QHp1bGlwLmNvbTp3cm9uZw==",  # hamlet@zulip.com:wrong
        "Bearer some-token",
        "Basic aGFtbGV0QHp1bGlwLmNvbTpBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQQ==",  # a well-formed unknown key
    ]:
        body = success(await call(api, "GET", "server_settings", headers={"Authorization": authorization}))
        assert body["zulip_feature_level"] == 372, authorization
        assert body["realm_name"] == "Zulip Dev", authorization
        assert body["realm_url"] == ROOT_REALM_URL, authorization


@async_test
async def test_server_settings_for_a_host_without_an_organization(api: ApiHarness) -> None:
    for host in ["chat.example.org", "nosuch.127.0.0.1:9991"]:
        body = success(await call(api, "GET", "server_settings", host=host))
        assert body["zulip_feature_level"] == 372, host
        assert isinstance(body["zulip_version"], str), host
        assert REALM_KEYS.isdisjoint(body), (host, sorted(REALM_KEYS & set(body)))


# --- POST /fetch_api_key ---------------------------------------------------


@async_test
async def test_fetch_api_key(api: ApiHarness) -> None:
    hamlet = api.user(HAMLET)
    body = success(await fetch_api_key(api, HAMLET, DEV_PASSWORD))
    assert_valid("POST", "fetch_api_key", 200, body)
    assert body["api_key"] == hamlet.api_key
    assert body["email"] == HAMLET
    assert body["user_id"] == hamlet.id
    # The key is usable at once, and the username is case-insensitive.
    me = success(await call_with_key(api, HAMLET, body["api_key"]))
    assert me["user_id"] == hamlet.id
    again = success(await fetch_api_key(api, "Hamlet@ZULIP.com", DEV_PASSWORD))
    assert again["user_id"] == hamlet.id


@async_test
async def test_fetch_api_key_refuses_bad_credentials(api: ApiHarness) -> None:
    for username, password in [(HAMLET, "not-the-password"), ("nobody@zulip.com", DEV_PASSWORD), (HAMLET, "")]:
        response = await fetch_api_key(api, username, password)
        body = failure(
            response, 401, "AUTHENTICATION_FAILED", "Your username or password is incorrect", sent=(username, password)
        )
        assert "api_key" not in body


@async_test
async def test_fetch_api_key_of_a_deactivated_user(api: ApiHarness) -> None:
    await deactivate(api, HAMLET)
    failure(await fetch_api_key(api, HAMLET, DEV_PASSWORD), 401, "USER_DEACTIVATED", "Account is deactivated")
    # Others are unaffected.
    success(await fetch_api_key(api, OTHELLO, DEV_PASSWORD))


@async_test
async def test_fetch_api_key_in_a_deactivated_realm(api: ApiHarness) -> None:
    assert api.realm is not None
    # Cache Hamlet's key first: deactivating the realm must reach the cache too.
    success(await call(api, "GET", "users/me", as_user=HAMLET))
    await do_set_realm_deactivated(api.server, api.realm, True, None)
    failure(await fetch_api_key(api, HAMLET, DEV_PASSWORD), 401, "REALM_DEACTIVATED")
    unauthorized(await call(api, "GET", "users/me", as_user=HAMLET), "This organization has been deactivated")


@async_test
async def test_fetch_api_key_is_rate_limited_per_username(api: ApiHarness) -> None:
    for _ in range(5):
        failure(await fetch_api_key(api, HAMLET, "wrong-password"), 401, "AUTHENTICATION_FAILED")
    # The sixth attempt is refused even with the right password.
    response = await fetch_api_key(api, HAMLET, DEV_PASSWORD)
    body = failure(response, 429, "RATE_LIMIT_HIT", "API usage exceeded rate limit")
    retry_after = body["retry-after"]
    assert isinstance(retry_after, int | float)
    assert not isinstance(retry_after, bool)
    assert 0 < retry_after <= 1800
    header = response.header("Retry-After")
    assert header is not None
    assert header.isdigit(), header
    assert 1 <= int(header) <= 1800
    assert "api_key" not in body
    # Another username is not limited.
    success(await fetch_api_key(api, OTHELLO, DEV_PASSWORD))


@async_test
async def test_fetch_api_key_success_clears_the_failure_count(api: ApiHarness) -> None:
    for _ in range(4):
        failure(await fetch_api_key(api, HAMLET, "wrong-password"), 401, "AUTHENTICATION_FAILED")
    success(await fetch_api_key(api, HAMLET, DEV_PASSWORD))
    for _ in range(5):
        failure(await fetch_api_key(api, HAMLET, "wrong-password"), 401, "AUTHENTICATION_FAILED")
    failure(await fetch_api_key(api, HAMLET, DEV_PASSWORD), 429, "RATE_LIMIT_HIT")


@async_test
async def test_fetch_api_key_failures_count_case_insensitively(api: ApiHarness) -> None:
    for username in [
        "HAMLET@zulip.com",
        "hamlet@ZULIP.COM",
        "Hamlet@Zulip.Com",
        "hamlet@zulip.com",
        "hAmLeT@zulip.com",
    ]:
        failure(await fetch_api_key(api, username, "wrong-password"), 401, "AUTHENTICATION_FAILED")
    failure(await fetch_api_key(api, "HAMLET@ZULIP.COM", DEV_PASSWORD), 429, "RATE_LIMIT_HIT")
    failure(await fetch_api_key(api, HAMLET, DEV_PASSWORD), 429, "RATE_LIMIT_HIT")


@async_test
async def test_fetch_api_key_strips_the_username(api: ApiHarness) -> None:
    body = success(await fetch_api_key(api, " hamlet@zulip.com ", DEV_PASSWORD))
    assert body["user_id"] == api.user(HAMLET).id


@async_test
async def test_organizations_are_isolated(api: ApiHarness) -> None:
    other = await do_create_realm(api.server, "other", "Other Org")
    # The same address in another organization is another account, with its own password and key.
    stranger = await do_create_user(api.server, other, email=HAMLET, full_name="Other Hamlet", password="other-pass")
    other_host = "other.127.0.0.1:9991"
    stranger_auth = {"Authorization": api.basic_auth(HAMLET, stranger.api_key)}
    settings = success(await call(api, "GET", "server_settings", host=other_host))
    assert (settings["realm_name"], settings["realm_url"]) == ("Other Org", "http://other.127.0.0.1:9991")
    me = success(await call(api, "GET", "users/me", headers=stranger_auth, host=other_host))
    assert (me["user_id"], me["full_name"]) == (stranger.id, "Other Hamlet")
    unauthorized(
        await call(api, "GET", "users/me", headers=stranger_auth), "Account is not associated with this subdomain"
    )
    unauthorized(
        await call(api, "GET", "users/me", as_user=HAMLET, host=other_host),
        "Account is not associated with this subdomain",
    )
    failure(await fetch_api_key(api, HAMLET, "other-pass"), 401, "AUTHENTICATION_FAILED")
    key = success(
        await call(api, "POST", "fetch_api_key", {"username": HAMLET, "password": "other-pass"}, host=other_host)
    )
    assert (key["user_id"], key["api_key"]) == (stranger.id, stranger.api_key)
    members = success(await call(api, "GET", "users", headers=stranger_auth, host=other_host))["members"]
    assert [member["user_id"] for member in members] == [stranger.id]
    iago_id = api.user(IAGO).id
    failure(
        await call(api, "GET", f"users/{iago_id}", headers=stranger_auth, host=other_host),
        400,
        "BAD_REQUEST",
        "No such user",
    )
    failure(await call(api, "GET", f"users/{stranger.id}", as_user=IAGO), 400, "BAD_REQUEST", "No such user")
    for method in ["PATCH", "DELETE"]:
        response = await call(api, method, f"users/{stranger.id}", {"full_name": "Renamed"}, as_user=DESDEMONA)
        body = failure(response, 400, "BAD_REQUEST", "No such user", sent=method)
        assert_valid(method, f"users/{stranger.id}", 400, body)
    assert (
        success(await call(api, "GET", "users/me", headers=stranger_auth, host=other_host))["full_name"]
        == "Other Hamlet"
    )


# --- reading users ---------------------------------------------------------


@async_test
async def test_get_own_user(api: ApiHarness) -> None:
    hamlet = api.user(HAMLET)
    body = success(await call(api, "GET", "users/me", as_user=HAMLET))
    assert_valid("GET", "users/me", 200, body)
    assert body["user_id"] == hamlet.id
    assert body["email"] == HAMLET
    assert body["delivery_email"] == HAMLET
    assert body["full_name"] == "King Hamlet"
    assert body["role"] == MEMBER
    assert (body["is_admin"], body["is_owner"], body["is_guest"], body["is_bot"]) == (False, False, False, False)
    assert body["is_active"] is True
    assert body["profile_data"] == {}
    assert isinstance(body["avatar_url"], str)
    assert body["avatar_url"]


@async_test
async def test_get_own_user_of_owner_and_guest(api: ApiHarness) -> None:
    owner = success(await call(api, "GET", "users/me", as_user=DESDEMONA))
    assert_valid("GET", "users/me", 200, owner)
    assert (owner["role"], owner["is_owner"], owner["is_admin"]) == (OWNER, True, True)
    guest = success(await call(api, "GET", "users/me", as_user=POLONIUS))
    assert_valid("GET", "users/me", 200, guest)
    assert (guest["role"], guest["is_guest"], guest["is_admin"]) == (GUEST, True, False)


@async_test
async def test_get_users(api: ApiHarness) -> None:
    body = success(await call(api, "GET", "users", as_user=HAMLET))
    assert_valid("GET", "users", 200, body)
    members = {member["user_id"]: member for member in body["members"]}
    assert set(members) == {user.id for user in api.users.values()}
    for user in api.users.values():
        member = members[user.id]
        assert member["email"] == user.email
        assert member["full_name"] == user.full_name
        assert member["role"] == int(user.role)
        assert member["is_bot"] is False
        # client_gravatar defaults to true: clients compute Gravatar URLs of humans themselves.
        assert member["avatar_url"] is None
        assert "profile_data" not in member
    assert members[api.user(IAGO).id]["is_admin"] is True
    assert members[api.user(DESDEMONA).id]["is_owner"] is True
    assert members[api.user(POLONIUS).id]["is_guest"] is True


@async_test
async def test_get_users_with_options(api: ApiHarness) -> None:
    body = success(
        await call(
            api, "GET", "users", {"client_gravatar": False, "include_custom_profile_fields": True}, as_user=HAMLET
        )
    )
    assert_valid("GET", "users", 200, body)
    assert len(body["members"]) == len(api.users)
    for member in body["members"]:
        assert isinstance(member["avatar_url"], str)
        assert member["avatar_url"].startswith("https://")
        assert member["profile_data"] == {}
    explicit = success(await call(api, "GET", "users", {"client_gravatar": True}, as_user=HAMLET))
    assert_valid("GET", "users", 200, explicit)
    assert all(member["avatar_url"] is None for member in explicit["members"])


@async_test
async def test_get_users_lists_bots_and_deactivated_users(api: ApiHarness) -> None:
    bot_id, bot_email, _ = await create_bot(api, HAMLET, "lister")
    await deactivate(api, OTHELLO)
    body = success(await call(api, "GET", "users", as_user=CORDELIA))
    assert_valid("GET", "users", 200, body)
    members = {member["user_id"]: member for member in body["members"]}
    assert members[bot_id]["is_bot"] is True
    assert members[bot_id]["email"] == bot_email
    assert members[bot_id]["bot_owner_id"] == api.user(HAMLET).id
    assert members[api.user(OTHELLO).id]["is_active"] is False


@async_test
async def test_get_user_by_id(api: ApiHarness) -> None:
    iago = api.user(IAGO)
    user = await get_user(api, iago.id, as_user=HAMLET)
    assert user["user_id"] == iago.id
    assert user["email"] == IAGO
    assert user["role"] == ADMINISTRATOR
    assert user["avatar_url"] is None
    assert "profile_data" not in user
    body = success(
        await call(
            api,
            "GET",
            f"users/{iago.id}",
            {"client_gravatar": False, "include_custom_profile_fields": True},
            as_user=HAMLET,
        )
    )
    assert_valid("GET", f"users/{iago.id}", 200, body)
    assert isinstance(body["user"]["avatar_url"], str)
    assert body["user"]["profile_data"] == {}


@async_test
async def test_get_user_by_email_is_case_insensitive(api: ApiHarness) -> None:
    for spelling in ["iago@zulip.com", "IAGO@ZULIP.COM", "Iago@Zulip.com"]:
        body = success(await call(api, "GET", f"users/{spelling}", as_user=HAMLET))
        assert body["user"]["user_id"] == api.user(IAGO).id, spelling
        assert body["user"]["email"] == IAGO, spelling


@async_test
async def test_get_user_by_email_with_stored_capitals(api: ApiHarness) -> None:
    # Zoe was created as ZOE@zulip.com.
    body = success(await call(api, "GET", "users/zoe@zulip.com", as_user=HAMLET))
    assert_valid("GET", "users/zoe@zulip.com", 200, body)
    assert body["user"]["user_id"] == api.user("ZOE@zulip.com").id


@async_test
async def test_get_unknown_user(api: ApiHarness) -> None:
    # The spec documents only 200 for these paths.
    for path in ["users/nobody@zulip.com", "users/987654", "users/hamlet@zulip.co"]:
        failure(await call(api, "GET", path, as_user=HAMLET), 400, "BAD_REQUEST", "No such user", sent=path)


@async_test
async def test_guest_can_read_users(api: ApiHarness) -> None:
    body = success(await call(api, "GET", "users", as_user=POLONIUS))
    assert_valid("GET", "users", 200, body)
    assert len(body["members"]) == len(api.users)
    hamlet = api.user(HAMLET)
    assert (await get_user(api, hamlet.id, as_user=POLONIUS))["email"] == HAMLET
    by_email = success(await call(api, "GET", f"users/{HAMLET}", as_user=POLONIUS))
    assert_valid("GET", f"users/{HAMLET}", 200, by_email)
    assert by_email["user"]["user_id"] == hamlet.id


# --- email address visibility ---------------------------------------------


async def hide_email(api: ApiHarness, email: str, visibility: int) -> None:
    body = success(await call(api, "PATCH", "settings", {"email_address_visibility": visibility}, as_user=email))
    assert_valid("PATCH", "settings", 200, body)


@async_test
async def test_hidden_delivery_email_is_null_for_members(api: ApiHarness) -> None:
    await hide_email(api, HAMLET, 3)  # administrators only
    hamlet = api.user(HAMLET)
    assert (await get_user(api, hamlet.id, as_user=OTHELLO))["delivery_email"] is None
    assert (await get_user(api, hamlet.id, as_user=IAGO))["delivery_email"] == HAMLET
    assert (await get_user(api, hamlet.id, as_user=HAMLET))["delivery_email"] == HAMLET


@async_test
async def test_hidden_email_is_not_leaked_in_the_api_email(api: ApiHarness) -> None:
    await hide_email(api, HAMLET, 4)  # nobody
    user = await get_user(api, api.user(HAMLET).id, as_user=OTHELLO)
    assert user["delivery_email"] is None
    # The spec: "If you do not have permission to view the email address of the target user,
    # this will be a fake email address that is usable for the Zulip API but nothing else."
    assert HAMLET not in user["email"].lower()


@async_test
async def test_hidden_email_cannot_be_probed(api: ApiHarness) -> None:
    await hide_email(api, HAMLET, 4)  # nobody
    failure(await call(api, "GET", f"users/{HAMLET}", as_user=OTHELLO), 400, "BAD_REQUEST", "No such user")


@async_test
async def test_avatar_url_is_sent_when_the_email_is_hidden(api: ApiHarness) -> None:
    await hide_email(api, HAMLET, 4)  # nobody
    user = await get_user(api, api.user(HAMLET).id, as_user=OTHELLO)
    assert user["delivery_email"] is None
    assert isinstance(user["avatar_url"], str)


@async_test
async def test_nobody_visibility_hides_the_email_from_administrators(api: ApiHarness) -> None:
    await hide_email(api, HAMLET, 4)  # nobody
    assert (await get_user(api, api.user(HAMLET).id, as_user=IAGO))["delivery_email"] is None


# --- POST /users -----------------------------------------------------------


@async_test
async def test_admin_creates_a_user(api: ApiHarness) -> None:
    response = await call(
        api,
        "POST",
        "users",
        {"email": "newbie@zulip.com", "password": "sesame-123", "full_name": "New Bie"},
        as_user=IAGO,
    )
    body = success(response)
    assert_valid("POST", "users", 200, body)
    user_id = body["user_id"]
    assert isinstance(user_id, int)
    assert user_id not in {user.id for user in api.users.values()}
    user = await get_user(api, user_id)
    assert user["email"] == "newbie@zulip.com"
    assert user["full_name"] == "New Bie"
    assert user["role"] == MEMBER
    assert user["is_active"] is True
    # The new user can log in with the password.
    key = success(await fetch_api_key(api, "newbie@zulip.com", "sesame-123"))
    assert key["user_id"] == user_id
    me = success(await call_with_key(api, "newbie@zulip.com", key["api_key"]))
    assert me["user_id"] == user_id
    rows = await audit_log(api, user_id)
    assert rows[0][0] == "user_created"
    assert rows[0][1] == api.user(IAGO).id
    assert rows[0][2]["role"] == MEMBER


@async_test
async def test_non_admins_cannot_create_users(api: ApiHarness) -> None:
    params = {"email": "newbie@zulip.com", "password": "sesame-123", "full_name": "New Bie"}
    for member in [HAMLET, SHIVA, POLONIUS]:
        response = await call(api, "POST", "users", params, as_user=member)
        body = failure(response, 400, "UNAUTHORIZED_PRINCIPAL", "Must be an organization administrator", sent=member)
        assert_valid("POST", "users", 400, body)
    failure(await call(api, "GET", "users/newbie@zulip.com", as_user=IAGO), 400, "BAD_REQUEST", "No such user")


@async_test
async def test_create_user_with_a_taken_email(api: ApiHarness) -> None:
    for email in [HAMLET, "HAMLET@ZULIP.COM", "ZOE@zulip.com", "zoe@zulip.com", " hamlet@zulip.com "]:
        params = {"email": email, "password": "sesame-123", "full_name": "Usurper"}
        body = failure(await call(api, "POST", "users", params, as_user=IAGO), 400, "BAD_REQUEST", sent=email)
        assert_valid("POST", "users", 400, body)
        assert "already in use" in body["msg"], body
    assert len(success(await call(api, "GET", "users", as_user=IAGO))["members"]) == len(api.users)


@async_test
async def test_create_user_with_a_bad_email(api: ApiHarness) -> None:
    for email in ["not-an-email", "two@@zulip.com", "space in@zulip.com", "@zulip.com", "nobody@", ""]:
        params = {"email": email, "password": "sesame-123", "full_name": "Bad Address"}
        body = failure(await call(api, "POST", "users", params, as_user=IAGO), 400, "BAD_REQUEST", sent=email)
        assert_valid("POST", "users", 400, body)
        assert "Invalid email" in body["msg"], body
    assert len(success(await call(api, "GET", "users", as_user=IAGO))["members"]) == len(api.users)


@async_test
async def test_create_user_password_length(api: ApiHarness) -> None:
    params = {"email": "short@zulip.com", "password": "abc12", "full_name": "Short"}  # 5 < 6 characters
    body = failure(await call(api, "POST", "users", params, as_user=IAGO), 400, "BAD_REQUEST")
    assert_valid("POST", "users", 400, body)
    assert "too short" in body["msg"]
    failure(await fetch_api_key(api, "short@zulip.com", "abc12"), 401, "AUTHENTICATION_FAILED")
    # Exactly the configured minimum is enough.
    created = success(await call(api, "POST", "users", {**params, "password": "abc123"}, as_user=IAGO))
    assert_valid("POST", "users", 200, created)
    assert success(await fetch_api_key(api, "short@zulip.com", "abc123"))["user_id"] == created["user_id"]


@async_test
async def test_create_user_with_a_long_password(api: ApiHarness) -> None:
    # Every character counts, beyond bcrypt's 72 bytes too; 100 is the limit.
    password = "p" * 99 + "1"
    params = {"email": "long@zulip.com", "password": password, "full_name": "Long"}
    body = failure(
        await call(api, "POST", "users", {**params, "password": password + "x"}, as_user=IAGO), 400, "BAD_REQUEST"
    )
    assert_valid("POST", "users", 400, body)
    created = success(await call(api, "POST", "users", params, as_user=IAGO))
    failure(await fetch_api_key(api, "long@zulip.com", "p" * 99 + "2"), 401, "AUTHENTICATION_FAILED")
    failure(await fetch_api_key(api, "long@zulip.com", "p" * 72), 401, "AUTHENTICATION_FAILED")
    assert success(await fetch_api_key(api, "long@zulip.com", password))["user_id"] == created["user_id"]


@async_test
async def test_create_user_without_a_required_parameter(api: ApiHarness) -> None:
    for missing in ["full_name", "email", "password"]:
        params = {"email": "newbie@zulip.com", "password": "sesame-123", "full_name": "New Bie"}
        del params[missing]
        response = await call(api, "POST", "users", params, as_user=IAGO)
        body = failure(response, 400, "REQUEST_VARIABLE_MISSING", f"Missing '{missing}' argument", sent=missing)
        assert body["var_name"] == missing
        # POST /users documents its 400 as a plain CodedError, which has no var_name; Zulip itself sends
        # var_name with this code, as the spec's generic MissingArgumentError (/rest-error-handling) says.
        assert_valid("POST", "rest-error-handling", 400, body)
    failure(await call(api, "GET", "users/newbie@zulip.com", as_user=IAGO), 400, "BAD_REQUEST", "No such user")


@async_test
async def test_create_user_with_a_bad_full_name(api: ApiHarness) -> None:
    for full_name in ["", "   ", "Bad*Name", "At@Sign", "x" * 101, "Tab\tName"]:
        params = {"email": "newbie@zulip.com", "password": "sesame-123", "full_name": full_name}
        body = failure(await call(api, "POST", "users", params, as_user=IAGO), 400, "BAD_REQUEST", sent=full_name)
        assert_valid("POST", "users", 400, body)
    failure(await call(api, "GET", "users/newbie@zulip.com", as_user=IAGO), 400, "BAD_REQUEST", "No such user")


# --- PATCH /users/{id} and /users/{email} ---------------------------------


@async_test
async def test_admin_changes_full_name_and_role(api: ApiHarness) -> None:
    hamlet, iago = api.user(HAMLET), api.user(IAGO)
    body = success(
        await call(api, "PATCH", f"users/{hamlet.id}", {"full_name": "Prince Hamlet", "role": MODERATOR}, as_user=IAGO)
    )
    assert_valid("PATCH", f"users/{hamlet.id}", 200, body)
    user = await get_user(api, hamlet.id)
    assert user["full_name"] == "Prince Hamlet"
    assert user["role"] == MODERATOR
    rows = await audit_log(api, hamlet.id)
    assert ("user_role_changed", iago.id, {"old_value": MEMBER, "new_value": MODERATOR}) in rows
    assert ("user_full_name_changed", iago.id, {"old_value": "King Hamlet", "new_value": "Prince Hamlet"}) in rows


@async_test
async def test_admin_updates_a_user_by_email(api: ApiHarness) -> None:
    othello = api.user(OTHELLO)
    for spelling, full_name, role in [(OTHELLO, "Othello", GUEST), ("OTHELLO@Zulip.COM", "The Moor", MODERATOR)]:
        body = success(
            await call(api, "PATCH", f"users/{spelling}", {"full_name": full_name, "role": role}, as_user=IAGO)
        )
        assert_valid("PATCH", f"users/{spelling}", 200, body)
        user = await get_user(api, othello.id)
        assert (user["full_name"], user["role"], user["is_guest"]) == (full_name, role, role == GUEST), spelling


@async_test
async def test_role_change_takes_effect_on_the_next_request(api: ApiHarness) -> None:
    # Hamlet's profile is cached by API key; a promotion must be visible at once.
    success(await call(api, "GET", "users/me", as_user=HAMLET))
    params = {"email": "newbie@zulip.com", "password": "sesame-123", "full_name": "New Bie"}
    failure(await call(api, "POST", "users", params, as_user=HAMLET), 400, "UNAUTHORIZED_PRINCIPAL")
    success(await call(api, "PATCH", f"users/{api.user(HAMLET).id}", {"role": ADMINISTRATOR}, as_user=IAGO))
    me = success(await call(api, "GET", "users/me", as_user=HAMLET))
    assert (me["role"], me["is_admin"]) == (ADMINISTRATOR, True)
    created = success(await call(api, "POST", "users", params, as_user=HAMLET))
    assert_valid("POST", "users", 200, created)


@async_test
async def test_admin_cannot_make_an_owner(api: ApiHarness) -> None:
    for target in [HAMLET, IAGO]:
        user = api.user(target)
        response = await call(api, "PATCH", f"users/{user.id}", {"role": OWNER}, as_user=IAGO)
        body = failure(response, 400, "UNAUTHORIZED_PRINCIPAL", "Must be an organization owner", sent=target)
        assert_valid("PATCH", f"users/{user.id}", 400, body)
        assert (await get_user(api, user.id))["role"] == int(user.role), target


@async_test
async def test_admin_cannot_change_an_owner(api: ApiHarness) -> None:
    desdemona = api.user(DESDEMONA)
    body = failure(
        await call(api, "PATCH", f"users/{desdemona.id}", {"role": MEMBER}, as_user=IAGO),
        400,
        "UNAUTHORIZED_PRINCIPAL",
        "Must be an organization owner",
    )
    assert_valid("PATCH", f"users/{desdemona.id}", 400, body)
    assert (await get_user(api, desdemona.id))["role"] == OWNER


@async_test
async def test_owner_makes_an_owner(api: ApiHarness) -> None:
    hamlet = api.user(HAMLET)
    body = success(await call(api, "PATCH", f"users/{hamlet.id}", {"role": OWNER}, as_user=DESDEMONA))
    assert_valid("PATCH", f"users/{hamlet.id}", 200, body)
    user = await get_user(api, hamlet.id)
    assert (user["role"], user["is_owner"], user["is_admin"]) == (OWNER, True, True)


@async_test
async def test_only_owner_cannot_be_demoted(api: ApiHarness) -> None:
    desdemona = api.user(DESDEMONA)
    body = failure(
        await call(api, "PATCH", f"users/{desdemona.id}", {"role": ADMINISTRATOR}, as_user=DESDEMONA),
        400,
        "BAD_REQUEST",
        "The owner permission cannot be removed from the only organization owner.",
    )
    assert_valid("PATCH", f"users/{desdemona.id}", 400, body)
    assert (await get_user(api, desdemona.id))["role"] == OWNER
    # With a second owner, the first may step down.
    success(await call(api, "PATCH", f"users/{api.user(IAGO).id}", {"role": OWNER}, as_user=DESDEMONA))
    body = success(await call(api, "PATCH", f"users/{desdemona.id}", {"role": ADMINISTRATOR}, as_user=DESDEMONA))
    assert_valid("PATCH", f"users/{desdemona.id}", 200, body)
    assert (await get_user(api, desdemona.id))["role"] == ADMINISTRATOR


@async_test
async def test_non_admins_cannot_update_users(api: ApiHarness) -> None:
    othello = api.user(OTHELLO)
    for member in [HAMLET, SHIVA, POLONIUS]:
        for path in [f"users/{othello.id}", f"users/{OTHELLO}"]:
            response = await call(api, "PATCH", path, {"full_name": "Renamed", "role": ADMINISTRATOR}, as_user=member)
            body = failure(
                response, 400, "UNAUTHORIZED_PRINCIPAL", "Must be an organization administrator", sent=(member, path)
            )
            assert_valid("PATCH", path, 400, body)
    user = await get_user(api, othello.id)
    assert (user["full_name"], user["role"]) == ("Othello, the Moor of Venice", MEMBER)


@async_test
async def test_role_must_be_a_valid_role(api: ApiHarness) -> None:
    hamlet = api.user(HAMLET)
    for role in [123, 0, 500, -1, "owner", "true", "1.5", "[400]"]:
        response = await call(api, "PATCH", f"users/{hamlet.id}", {"role": role}, as_user=DESDEMONA)
        body = failure(response, 400, "BAD_REQUEST", sent=role)
        assert_valid("PATCH", f"users/{hamlet.id}", 400, body)
    assert (await get_user(api, hamlet.id))["role"] == MEMBER


@async_test
async def test_update_unknown_user(api: ApiHarness) -> None:
    for path in ["users/987654", "users/nobody@zulip.com"]:
        body = failure(
            await call(api, "PATCH", path, {"full_name": "Ghost"}, as_user=IAGO), 400, "BAD_REQUEST", "No such user"
        )
        assert_valid("PATCH", path, 400, body)


# --- deactivation and reactivation -----------------------------------------


@async_test
async def test_deactivation_shuts_out_the_user_and_their_bots(api: ApiHarness) -> None:
    hamlet, iago = api.user(HAMLET), api.user(IAGO)
    generic_id, generic_email, generic_key = await create_bot(api, HAMLET, "helper")
    webhook_id, webhook_email, webhook_key = await create_bot(api, HAMLET, "hook", bot_type=2)
    # Everyone is cached by API key, and Hamlet has a browser session.
    success(await call(api, "GET", "users/me", as_user=HAMLET))
    success(await call_with_key(api, generic_email, generic_key))
    failure(await call_with_key(api, webhook_email, webhook_key), 400, "BAD_REQUEST")
    session = await browser_session(api, HAMLET)
    cookie = {"Cookie": f"sessionid={session}"}
    assert success(await call(api, "GET", "users/me", prefix="/json/", headers=cookie))["user_id"] == hamlet.id

    await deactivate(api, HAMLET)

    unauthorized(await call(api, "GET", "users/me", as_user=HAMLET), "Account is deactivated")
    unauthorized(await call(api, "GET", "users", as_user=HAMLET))
    unauthorized(await call(api, "PATCH", "settings", {"full_name": "Ghost"}, as_user=HAMLET))
    unauthorized(await call_with_key(api, generic_email, generic_key), "Account is deactivated")
    unauthorized(await call_with_key(api, generic_email, generic_key, "GET", "bot_storage"))
    unauthorized(await call_with_key(api, webhook_email, webhook_key), "Account is deactivated")
    unauthorized(await call(api, "GET", "users/me", prefix="/json/", headers=cookie), scheme="Session")
    for user_id in [hamlet.id, generic_id, webhook_id]:
        assert (await get_user(api, user_id))["is_active"] is False

    # The bots are deactivated first, each with a row of its own, then Hamlet, whose session ended.
    rows = [row for row in await audit_rows_with_ids(api) if row[1] == "user_deactivated"]
    assert [row[2] for row in rows] == [generic_id, webhook_id, hamlet.id]
    for bot_id in [generic_id, webhook_id]:
        bot_rows = await audit_log(api, bot_id)
        assert ("user_deactivated", iago.id, {"because_owner_deactivated": hamlet.id}) in bot_rows
    assert ("user_deactivated", iago.id, {"sessions_ended": 1}) in await audit_log(api, hamlet.id)


@async_test
async def test_deactivated_session_cannot_log_in_again(api: ApiHarness) -> None:
    await deactivate(api, HAMLET)
    token = "test-login-csrf-token"
    response = await call(
        api,
        "POST",
        "login/",
        {"username": HAMLET, "password": DEV_PASSWORD, "csrfmiddlewaretoken": token},
        prefix="/",
        headers={"Cookie": f"csrftoken={token}"},
    )
    assert response.status == 401
    assert not any(header.startswith("sessionid=") for header in response.headers.getRawHeaders("set-cookie") or [])


@async_test
async def test_admin_cannot_deactivate_an_owner(api: ApiHarness) -> None:
    desdemona = api.user(DESDEMONA)
    body = failure(
        await call(api, "DELETE", f"users/{desdemona.id}", as_user=IAGO),
        400,
        "UNAUTHORIZED_PRINCIPAL",
        "Must be an organization owner",
    )
    assert_valid("DELETE", f"users/{desdemona.id}", 400, body)
    assert success(await call(api, "GET", "users/me", as_user=DESDEMONA))["is_active"] is True


@async_test
async def test_non_admins_cannot_deactivate_users(api: ApiHarness) -> None:
    othello = api.user(OTHELLO)
    for member in [HAMLET, SHIVA, POLONIUS]:
        response = await call(api, "DELETE", f"users/{othello.id}", as_user=member)
        body = failure(response, 400, "UNAUTHORIZED_PRINCIPAL", "Must be an organization administrator", sent=member)
        assert_valid("DELETE", f"users/{othello.id}", 400, body)
    success(await call(api, "GET", "users/me", as_user=OTHELLO))


@async_test
async def test_last_owner_cannot_deactivate_themselves(api: ApiHarness) -> None:
    body = failure(
        await call(api, "DELETE", "users/me", as_user=DESDEMONA),
        400,
        "CANNOT_DEACTIVATE_LAST_USER",
        "Cannot deactivate the only organization owner",
    )
    assert body["entity"] == "organization owner"
    assert body["is_last_owner"] is True
    assert_valid("DELETE", "users/me", 400, body)
    assert success(await call(api, "GET", "users/me", as_user=DESDEMONA))["is_active"] is True


@async_test
async def test_last_owner_cannot_be_deactivated_by_id(api: ApiHarness) -> None:
    desdemona = api.user(DESDEMONA)
    response = await call(api, "DELETE", f"users/{desdemona.id}", as_user=DESDEMONA)
    body = response.json()
    assert response.status == 400
    assert body["msg"] == "Cannot deactivate the only organization owner"
    # The route documents a plain CodedError; Zulip answers BAD_REQUEST here.
    assert_valid("DELETE", f"users/{desdemona.id}", 400, body)
    assert body["code"] == "BAD_REQUEST"


@async_test
async def test_last_owner_stays_active_when_refused_by_id(api: ApiHarness) -> None:
    desdemona = api.user(DESDEMONA)
    response = await call(api, "DELETE", f"users/{desdemona.id}", as_user=DESDEMONA)
    assert response.status == 400
    assert response.json()["msg"] == "Cannot deactivate the only organization owner"
    assert success(await call(api, "GET", "users/me", as_user=DESDEMONA))["is_active"] is True


@async_test
async def test_a_second_owner_can_leave(api: ApiHarness) -> None:
    success(await call(api, "PATCH", f"users/{api.user(IAGO).id}", {"role": OWNER}, as_user=DESDEMONA))
    body = success(await call(api, "DELETE", "users/me", as_user=DESDEMONA))
    assert_valid("DELETE", "users/me", 200, body)
    unauthorized(await call(api, "GET", "users/me", as_user=DESDEMONA), "Account is deactivated")
    # Now Iago is the only owner.
    body = failure(await call(api, "DELETE", "users/me", as_user=IAGO), 400, "CANNOT_DEACTIVATE_LAST_USER")
    assert_valid("DELETE", "users/me", 400, body)


@async_test
async def test_member_deactivates_themselves(api: ApiHarness) -> None:
    othello = api.user(OTHELLO)
    body = success(await call(api, "DELETE", "users/me", as_user=OTHELLO))
    assert_valid("DELETE", "users/me", 200, body)
    unauthorized(await call(api, "GET", "users/me", as_user=OTHELLO), "Account is deactivated")
    assert (await get_user(api, othello.id))["is_active"] is False
    assert ("user_deactivated", othello.id, {"sessions_ended": 0}) in await audit_log(api, othello.id)


@async_test
async def test_deactivate_twice_and_unknown_users(api: ApiHarness) -> None:
    await deactivate(api, OTHELLO)
    othello_id = api.user(OTHELLO).id
    body = failure(await call(api, "DELETE", f"users/{othello_id}", as_user=IAGO), 400, "BAD_REQUEST")
    assert_valid("DELETE", f"users/{othello_id}", 400, body)
    body = failure(await call(api, "DELETE", "users/987654", as_user=IAGO), 400, "BAD_REQUEST", "No such user")
    assert_valid("DELETE", "users/987654", 400, body)


@async_test
async def test_bots_are_not_deactivated_through_users(api: ApiHarness) -> None:
    bot_id, bot_email, bot_key = await create_bot(api, HAMLET, "helper")
    body = failure(await call(api, "DELETE", f"users/{bot_id}", as_user=IAGO), 400, "BAD_REQUEST", "No such user")
    assert_valid("DELETE", f"users/{bot_id}", 400, body)
    success(await call_with_key(api, bot_email, bot_key))


@async_test
async def test_reactivation_restores_the_user_but_not_the_bots(api: ApiHarness) -> None:
    hamlet, iago = api.user(HAMLET), api.user(IAGO)
    bot_id, bot_email, bot_key = await create_bot(api, HAMLET, "helper")
    cookie = {"Cookie": f"sessionid={await browser_session(api, HAMLET)}"}
    success(await call(api, "GET", "users/me", prefix="/json/", headers=cookie))
    await deactivate(api, HAMLET)
    unauthorized(await call(api, "GET", "users/me", as_user=HAMLET))

    body = success(await call(api, "POST", f"users/{hamlet.id}/reactivate", as_user=IAGO))
    assert_valid("POST", f"users/{hamlet.id}/reactivate", 200, body)

    me = success(await call(api, "GET", "users/me", as_user=HAMLET))
    assert (me["user_id"], me["is_active"]) == (hamlet.id, True)
    # The session ended with the deactivation; reactivating does not revive it.
    unauthorized(await call(api, "GET", "users/me", prefix="/json/", headers=cookie), scheme="Session")
    success(await fetch_api_key(api, HAMLET, DEV_PASSWORD))
    unauthorized(await call_with_key(api, bot_email, bot_key), "Account is deactivated")
    assert (await get_user(api, bot_id))["is_active"] is False
    assert success(await call(api, "GET", "bots", as_user=HAMLET))["bots"] == []
    assert ("user_reactivated", iago.id, {}) in await audit_log(api, hamlet.id)


@async_test
async def test_reactivation_needs_an_admin_and_an_inactive_user(api: ApiHarness) -> None:
    othello = api.user(OTHELLO)
    await deactivate(api, OTHELLO)
    # The spec documents only 200 for this route.
    failure(
        await call(api, "POST", f"users/{othello.id}/reactivate", as_user=HAMLET),
        400,
        "UNAUTHORIZED_PRINCIPAL",
        "Must be an organization administrator",
    )
    unauthorized(await call(api, "GET", "users/me", as_user=OTHELLO))
    success(await call(api, "POST", f"users/{othello.id}/reactivate", as_user=IAGO))
    failure(
        await call(api, "POST", f"users/{othello.id}/reactivate", as_user=IAGO),
        400,
        "BAD_REQUEST",
        "User is already active",
    )


# --- POST /users/me/api_key/regenerate (not in the spec) ------------------


@async_test
async def test_regenerate_own_api_key(api: ApiHarness) -> None:
    hamlet = api.user(HAMLET)
    old_key = hamlet.api_key
    success(await call(api, "GET", "users/me", as_user=HAMLET))  # the old key is now cached
    body = success(await call(api, "POST", "users/me/api_key/regenerate", as_user=HAMLET))
    new_key = body["api_key"]
    assert isinstance(new_key, str)
    assert API_KEY.match(new_key), new_key
    assert new_key != old_key
    unauthorized(await call_with_key(api, HAMLET, old_key), "Invalid API key")
    assert success(await call_with_key(api, HAMLET, new_key))["user_id"] == hamlet.id
    assert success(await fetch_api_key(api, HAMLET, DEV_PASSWORD))["api_key"] == new_key
    assert ("user_api_key_changed", hamlet.id, {}) in await audit_log(api, hamlet.id)
    # Regenerating again retires the second key too.
    newer_key = success(await call_with_key(api, HAMLET, new_key, "POST", "users/me/api_key/regenerate"))["api_key"]
    assert API_KEY.match(newer_key)
    assert newer_key not in (old_key, new_key)
    unauthorized(await call_with_key(api, HAMLET, new_key), "Invalid API key")
    success(await call_with_key(api, HAMLET, newer_key))


@async_test
async def test_api_key_of_one_user_does_not_work_for_another(api: ApiHarness) -> None:
    unauthorized(await call_with_key(api, OTHELLO, api.api_key(HAMLET)), "Invalid API key")
    unauthorized(await call_with_key(api, HAMLET, "A" * 32), "Invalid API key")
    unauthorized(await call_with_key(api, HAMLET, "short"), "Invalid API key")


# --- the audit log ---------------------------------------------------------


@async_test
async def test_audit_log_never_holds_secrets(api: ApiHarness) -> None:
    hamlet = api.user(HAMLET)
    keys = {user.api_key for user in api.users.values()}
    success(
        await call(
            api,
            "POST",
            "users",
            {"email": "newbie@zulip.com", "password": "sesame-123", "full_name": "New"},
            as_user=IAGO,
        )
    )
    keys.add(success(await fetch_api_key(api, "newbie@zulip.com", "sesame-123"))["api_key"])
    keys.add(success(await call(api, "POST", "users/me/api_key/regenerate", as_user=HAMLET))["api_key"])
    await api.refresh(HAMLET)
    bot_id, _, bot_key = await create_bot(api, HAMLET, "helper")
    keys.add(bot_key)
    keys.add(success(await call(api, "POST", f"bots/{bot_id}/api_key/regenerate", as_user=HAMLET))["api_key"])
    success(
        await call(
            api, "PATCH", "settings", {"old_password": DEV_PASSWORD, "new_password": "new-secret-99"}, as_user=HAMLET
        )
    )
    success(await call(api, "PATCH", f"users/{api.user(OTHELLO).id}", {"role": MODERATOR}, as_user=IAGO))
    await deactivate(api, HAMLET)

    rows = await audit_rows_with_ids(api)
    event_types = {row[1] for row in rows}
    assert {"user_created", "user_api_key_changed", "user_password_changed", "user_deactivated"} <= event_types
    for _, event_type, _, extra_data in rows:
        for secret in [*keys, "sesame-123", "new-secret-99", DEV_PASSWORD]:
            assert secret not in extra_data, (event_type, extra_data)
    changes = [row for row in await audit_log(api, hamlet.id) if row[0] == "user_password_changed"]
    assert [acting for _, acting, _ in changes] == [hamlet.id]
    assert not {"password", "old_value", "new_value"} & set(changes[0][2]), changes
