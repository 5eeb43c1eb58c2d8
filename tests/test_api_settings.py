"""Settings over the HTTP API: PATCH /settings (and its legacy aliases), PATCH /realm.

Zulip's spec does not have PATCH /settings/notifications, PATCH /settings/display
(deprecated aliases of PATCH /settings) nor PATCH /realm, so their responses are
checked by hand; PATCH /settings and GET /server_settings go through assert_valid.
PATCH /settings documents only its 200 response, so its errors are checked by hand too.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

import pytest

from tests.support.api import DEV_PASSWORD, ApiHarness
from tests.support.async_tests import async_test
from tests.support.http import Response
from tests.support.openapi import assert_valid
from zulipd.storage.audit import audit_log_for_user_txn
from zulipd.storage.pool import Transaction

DESDEMONA = "desdemona@zulip.com"  # the owner
IAGO = "iago@zulip.com"  # an administrator
SHIVA = "shiva@zulip.com"  # a moderator
HAMLET = "hamlet@zulip.com"
OTHELLO = "othello@zulip.com"
POLONIUS = "polonius@zulip.com"  # a guest

LEGACY_SETTINGS_PATHS = ["settings/notifications", "settings/display"]


# --- helpers -------------------------------------------------------------

# Routes Zulip serves outside its spec: their responses are checked by hand, without assert_valid.
NOT_IN_SPEC = re.compile(r"^(?:settings/(?:notifications|display)|realm)$")


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


def bad_request(response: Response, msg: str | None = None, *, sent: object = None) -> dict[str, Any]:
    return failure(response, 400, "BAD_REQUEST", msg, sent=sent)


async def patch_settings(api: ApiHarness, params: dict[str, Any], as_user: str = HAMLET) -> dict[str, Any]:
    body = success(await call(api, "PATCH", "settings", params, as_user=as_user))
    assert_valid("PATCH", "settings", 200, body)
    return body


async def change_full_name(api: ApiHarness, email: str, full_name: str) -> None:
    """PATCH /settings full_name, whose answer zulipd extends with the new name.

    That extra key is checked against the spec in test_full_name_response_is_spec_valid (a
    known zulipd bug); the rest of the answer is validated here.
    """
    response = await api.call("PATCH", "settings", {"full_name": full_name}, as_user=email)
    body = success(response)
    assert body.pop("full_name", full_name) == full_name
    assert_valid("PATCH", "settings", 200, body)


async def stored_settings(api: ApiHarness, email: str) -> dict[str, Any]:
    return (await api.refresh(email)).settings


async def own_user(api: ApiHarness, email: str) -> dict[str, Any]:
    body = success(await call(api, "GET", "users/me", as_user=email))
    assert_valid("GET", "users/me", 200, body)
    return body


async def fetch_api_key(api: ApiHarness, username: str, password: str) -> Response:
    return await call(api, "POST", "fetch_api_key", {"username": username, "password": password})


async def audit_log(api: ApiHarness, user_id: int) -> list[tuple[str, int | None, dict[str, Any]]]:
    return await api.server.pool.run_interaction("test: audit log", audit_log_for_user_txn, user_id)


async def realm_audit_log(api: ApiHarness) -> list[tuple[str, int | None, dict[str, Any]]]:
    """Rows about the organization itself (no modified user), oldest first."""

    async def load(txn: Transaction) -> list[tuple[str, int | None, dict[str, Any]]]:
        rows = await txn.fetch_all(
            "SELECT event_type, acting_user_id, extra_data FROM realm_audit_log "
            "WHERE modified_user_id IS NULL ORDER BY id"
        )
        return [(row[0], row[1], row[2]) for row in rows]

    return await api.server.pool.run_interaction("test: realm audit log", load)


async def server_settings(api: ApiHarness) -> dict[str, Any]:
    body = success(await call(api, "GET", "server_settings"))
    assert_valid("GET", "server_settings", 200, body)
    return body


# --- PATCH /settings -------------------------------------------------------


@async_test
async def test_change_own_full_name(api: ApiHarness) -> None:
    hamlet = api.user(HAMLET)
    await change_full_name(api, HAMLET, "Prince Hamlet")
    assert (await own_user(api, HAMLET))["full_name"] == "Prince Hamlet"
    seen_by_others = success(await call(api, "GET", f"users/{hamlet.id}", as_user=OTHELLO))
    assert seen_by_others["user"]["full_name"] == "Prince Hamlet"
    changed = ("user_full_name_changed", hamlet.id, {"old_value": "King Hamlet", "new_value": "Prince Hamlet"})
    assert changed in await audit_log(api, hamlet.id)


@async_test
async def test_full_name_response_is_spec_valid(api: ApiHarness) -> None:
    await patch_settings(api, {"full_name": "Prince Hamlet"})


@async_test
async def test_bad_full_name(api: ApiHarness) -> None:
    for full_name in ["", "  ", "Bad*Name", "x" * 101, "Line\nBreak"]:
        bad_request(await call(api, "PATCH", "settings", {"full_name": full_name}, as_user=HAMLET), sent=full_name)
    assert (await own_user(api, HAMLET))["full_name"] == "King Hamlet"


@async_test
async def test_change_user_settings(api: ApiHarness) -> None:
    hamlet = api.user(HAMLET)
    assert await stored_settings(api, HAMLET) == {}
    body = await patch_settings(api, {"enter_sends": True, "emojiset": "twitter", "color_scheme": 2})
    assert "ignored_parameters_unsupported" not in body
    settings = await stored_settings(api, HAMLET)
    assert (settings["enter_sends"], settings["emojiset"], settings["color_scheme"]) == (True, "twitter", 2)
    # Others are untouched.
    assert await stored_settings(api, OTHELLO) == {}
    rows = await audit_log(api, hamlet.id)
    expected = [
        ("enter_sends", False, True),
        ("emojiset", "google", "twitter"),
        ("color_scheme", 1, 2),
    ]
    for name, old, new in expected:
        row = ("user_setting_changed", hamlet.id, {"property": name, "old_value": old, "new_value": new})
        assert row in rows
    # Back to the default.
    await patch_settings(api, {"enter_sends": False})
    assert (await stored_settings(api, HAMLET))["enter_sends"] is False


@async_test
async def test_invalid_setting_values(api: ApiHarness) -> None:
    cases: list[dict[str, Any]] = [
        {"emojiset": "comic-sans"},
        {"emojiset": '"twitter"'},  # a text setting is taken as sent, not as JSON
        {"enter_sends": "yes"},
        {"enter_sends": "1"},
        {"color_scheme": 7},
        {"color_scheme": "true"},
        {"web_font_size_px": "big"},
        {"email_address_visibility": 6},
        {"web_home_view": "nowhere"},
    ]
    for params in cases:
        bad_request(await call(api, "PATCH", "settings", params, as_user=HAMLET), sent=params)
    assert await stored_settings(api, HAMLET) == {}


@async_test
async def test_invalid_value_changes_nothing_else(api: ApiHarness) -> None:
    params = {"enter_sends": True, "emojiset": "comic-sans", "full_name": "Prince Hamlet"}
    bad_request(await call(api, "PATCH", "settings", params, as_user=HAMLET), "Invalid emojiset")
    assert await stored_settings(api, HAMLET) == {}
    assert (await own_user(api, HAMLET))["full_name"] == "King Hamlet"


@pytest.mark.parametrize("timezone", ["Europe/Berlin", "America/Argentina/Buenos_Aires", "UTC"])
@async_test
async def test_change_timezone(api: ApiHarness, timezone: str) -> None:
    hamlet = api.user(HAMLET)
    await patch_settings(api, {"timezone": timezone})
    assert (await own_user(api, HAMLET))["timezone"] == timezone
    seen_by_others = success(await call(api, "GET", f"users/{hamlet.id}", as_user=OTHELLO))
    assert seen_by_others["user"]["timezone"] == timezone
    row = ("user_setting_changed", hamlet.id, {"property": "timezone", "old_value": "", "new_value": timezone})
    assert row in await audit_log(api, hamlet.id)


@async_test
async def test_unknown_timezone(api: ApiHarness) -> None:
    await patch_settings(api, {"timezone": "Asia/Tokyo"})
    for timezone in ["Mars/Base", "Europe/berlin ", "../../etc/passwd", "+02:00"]:
        bad_request(await call(api, "PATCH", "settings", {"timezone": timezone}, as_user=HAMLET), sent=timezone)
    assert (await own_user(api, HAMLET))["timezone"] == "Asia/Tokyo"


@async_test
async def test_change_password(api: ApiHarness) -> None:
    hamlet = api.user(HAMLET)
    await patch_settings(api, {"old_password": DEV_PASSWORD, "new_password": "a-new-password"})
    key = success(await fetch_api_key(api, HAMLET, "a-new-password"))
    assert (key["user_id"], key["api_key"]) == (hamlet.id, hamlet.api_key)
    failure(await fetch_api_key(api, HAMLET, DEV_PASSWORD), 401, "AUTHENTICATION_FAILED")
    # The API key still works: a password change does not rotate it.
    await own_user(api, HAMLET)
    changes = [row for row in await audit_log(api, hamlet.id) if row[0] == "user_password_changed"]
    assert [acting for _, acting, _ in changes] == [hamlet.id]
    assert not {"password", "old_value", "new_value"} & set(changes[0][2]), changes


@async_test
async def test_change_password_with_a_wrong_old_password(api: ApiHarness) -> None:
    params = {"old_password": "not-my-password", "new_password": "a-new-password"}
    failure(await call(api, "PATCH", "settings", params, as_user=HAMLET), 401, "AUTHENTICATION_FAILED")
    failure(await fetch_api_key(api, HAMLET, "a-new-password"), 401, "AUTHENTICATION_FAILED")
    success(await fetch_api_key(api, HAMLET, DEV_PASSWORD))
    assert "user_password_changed" not in {row[0] for row in await audit_log(api, api.user(HAMLET).id)}


@async_test
async def test_change_password_needs_the_old_password_and_a_long_enough_new_one(api: ApiHarness) -> None:
    bad_request(await call(api, "PATCH", "settings", {"new_password": "a-new-password"}, as_user=HAMLET))
    params = {"old_password": DEV_PASSWORD, "new_password": "abc12"}  # 5 < 6 characters
    bad_request(await call(api, "PATCH", "settings", params, as_user=HAMLET))
    for password in ["a-new-password", "abc12"]:
        failure(await fetch_api_key(api, HAMLET, password), 401, "AUTHENTICATION_FAILED")
    success(await fetch_api_key(api, HAMLET, DEV_PASSWORD))


@async_test
async def test_unknown_parameters_are_reported(api: ApiHarness) -> None:
    body = await patch_settings(api, {"enter_sends": True, "zzz_unknown": "1", "dense_mode": True})
    assert body["ignored_parameters_unsupported"] == ["dense_mode", "zzz_unknown"]
    assert (await stored_settings(api, HAMLET))["enter_sends"] is True
    only_unknown = await patch_settings(api, {"bogus": "x"})
    assert only_unknown["ignored_parameters_unsupported"] == ["bogus"]


@async_test
async def test_email_change_is_refused_but_the_same_email_is_fine(api: ApiHarness) -> None:
    bad_request(await call(api, "PATCH", "settings", {"email": "new-hamlet@zulip.com"}, as_user=HAMLET))
    assert (await own_user(api, HAMLET))["email"] == HAMLET
    await patch_settings(api, {"email": "HAMLET@zulip.com"})
    assert (await own_user(api, HAMLET))["email"] == HAMLET


@pytest.mark.parametrize("path", LEGACY_SETTINGS_PATHS)
@async_test
async def test_legacy_settings_aliases(api: ApiHarness, path: str) -> None:
    # Not in the spec: deprecated aliases of PATCH /settings.
    hamlet = api.user(HAMLET)
    body = success(
        await call(api, "PATCH", path, {"enable_sounds": False, "emojiset": "text", "bogus": "x"}, as_user=HAMLET)
    )
    assert body["ignored_parameters_unsupported"] == ["bogus"]
    settings = await stored_settings(api, HAMLET)
    assert (settings["enable_sounds"], settings["emojiset"]) == (False, "text")
    bad_request(await call(api, "PATCH", path, {"emojiset": "comic-sans"}, as_user=HAMLET))
    bad_request(await call(api, "PATCH", path, {"timezone": "Mars/Base"}, as_user=HAMLET))
    assert (await stored_settings(api, HAMLET))["emojiset"] == "text"
    success(await call(api, "PATCH", path, {"timezone": "Europe/Paris", "full_name": "Hamlet"}, as_user=HAMLET))
    me = await own_user(api, HAMLET)
    assert (me["timezone"], me["full_name"]) == ("Europe/Paris", "Hamlet")
    params = {"old_password": "not-my-password", "new_password": "a-new-password"}
    failure(await call(api, "PATCH", path, params, as_user=HAMLET), 401, "AUTHENTICATION_FAILED")
    success(
        await call(api, "PATCH", path, {"old_password": DEV_PASSWORD, "new_password": "a-new-password"}, as_user=HAMLET)
    )
    assert success(await fetch_api_key(api, HAMLET, "a-new-password"))["user_id"] == hamlet.id


@async_test
async def test_settings_need_authentication(api: ApiHarness) -> None:
    for path in ["settings", *LEGACY_SETTINGS_PATHS]:
        response = await call(api, "PATCH", path, {"enter_sends": True})
        failure(response, 401, "UNAUTHORIZED")
        assert response.header("WWW-Authenticate") == 'Basic realm="zulip"'
    assert await stored_settings(api, HAMLET) == {}


@async_test
async def test_guest_changes_own_settings(api: ApiHarness) -> None:
    await patch_settings(api, {"enter_sends": True}, as_user=POLONIUS)
    await change_full_name(api, POLONIUS, "Lord Polonius")
    assert (await stored_settings(api, POLONIUS))["enter_sends"] is True
    assert (await own_user(api, POLONIUS))["full_name"] == "Lord Polonius"


# --- PATCH /realm (not in the spec) ----------------------------------------


@pytest.mark.parametrize("admin", [IAGO, DESDEMONA])
@async_test
async def test_admin_updates_the_realm(api: ApiHarness, admin: str) -> None:
    params = {"name": "Elsinore", "description": "Something is rotten", "mandatory_topics": True}
    body = success(await call(api, "PATCH", "realm", params, as_user=admin))
    assert {key: body[key] for key in params} == params
    assert "ignored_parameters_unsupported" not in body
    settings = await server_settings(api)
    assert settings["realm_name"] == "Elsinore"
    assert settings["realm_description"] == "<p>Something is rotten</p>"
    assert api.realm is not None
    realm = await api.server.realms.by_string_id(api.realm.string_id)
    assert realm is not None
    assert realm.settings["mandatory_topics"] is True
    rows = await realm_audit_log(api)
    acting = api.user(admin).id
    assert (
        "realm_property_changed",
        acting,
        {"property": "name", "old_value": "Zulip Dev", "new_value": "Elsinore"},
    ) in rows
    changed = {"property": "mandatory_topics", "old_value": False, "new_value": True}
    assert ("realm_property_changed", acting, changed) in rows


@async_test
async def test_realm_update_returns_only_what_changed(api: ApiHarness) -> None:
    first = success(await call(api, "PATCH", "realm", {"name": "Elsinore", "mandatory_topics": True}, as_user=IAGO))
    assert (first["name"], first["mandatory_topics"]) == ("Elsinore", True)
    again = success(
        await call(api, "PATCH", "realm", {"name": "Elsinore", "mandatory_topics": True, "bogus": 1}, as_user=IAGO)
    )
    assert set(again) == {"result", "msg", "ignored_parameters_unsupported"}
    assert again["ignored_parameters_unsupported"] == ["bogus"]
    back = success(await call(api, "PATCH", "realm", {"mandatory_topics": False}, as_user=IAGO))
    assert back["mandatory_topics"] is False
    assert "name" not in back


@async_test
async def test_non_admins_cannot_update_the_realm(api: ApiHarness) -> None:
    for member in [HAMLET, SHIVA, POLONIUS]:
        response = await call(api, "PATCH", "realm", {"name": "Mine Now", "mandatory_topics": True}, as_user=member)
        failure(response, 400, "UNAUTHORIZED_PRINCIPAL", "Must be an organization administrator", sent=member)
    assert (await server_settings(api))["realm_name"] == "Zulip Dev"
    assert [row for row in await realm_audit_log(api) if row[0] == "realm_property_changed"] == []


@async_test
async def test_invalid_realm_values(api: ApiHarness) -> None:
    cases: list[dict[str, Any]] = [
        {"name": ""},
        {"name": "   "},
        {"name": "x" * 41},
        {"description": "x" * 1001},
        {"mandatory_topics": "maybe"},
        {"mandatory_topics": 1},
        {"bot_creation_policy": 7},
        {"waiting_period_threshold": "soon"},
        {"name": "Valid Name", "mandatory_topics": "maybe"},
    ]
    for params in cases:
        bad_request(await call(api, "PATCH", "realm", params, as_user=IAGO), sent=params)
    assert (await server_settings(api))["realm_name"] == "Zulip Dev"
    assert [row for row in await realm_audit_log(api) if row[0] == "realm_property_changed"] == []


@async_test
async def test_realm_name_at_the_length_limit(api: ApiHarness) -> None:
    name = "N" * 40
    assert success(await call(api, "PATCH", "realm", {"name": name}, as_user=IAGO))["name"] == name
    assert (await server_settings(api))["realm_name"] == name


@async_test
async def test_realm_description_is_escaped_in_server_settings(api: ApiHarness) -> None:
    description = 'Tests & <script>alert("x")</script>'
    success(await call(api, "PATCH", "realm", {"description": description}, as_user=IAGO))
    rendered = (await server_settings(api))["realm_description"]
    assert "<script>" not in rendered
    assert rendered == "<p>Tests &amp; &lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;</p>"


@async_test
async def test_edit_limit_can_be_made_unlimited(api: ApiHarness) -> None:
    params = {"message_content_edit_limit_seconds": json.dumps("unlimited")}
    body = success(await call(api, "PATCH", "realm", params, as_user=IAGO))
    assert body["message_content_edit_limit_seconds"] is None


@async_test
async def test_edit_limit_accepts_seconds(api: ApiHarness) -> None:
    body = success(await call(api, "PATCH", "realm", {"message_content_edit_limit_seconds": 3600}, as_user=IAGO))
    assert body["message_content_edit_limit_seconds"] == 3600
