"""Bots over the HTTP API: /bots, /bots/{id}, /bots/{id}/api_key/regenerate, incoming-webhook keys, /bot_storage.

Zulip's spec has none of the /bots* routes nor /bot_storage (Zulip serves them
outside the spec), so their responses are checked by hand; responses of routes
the spec does have (GET /users/me, GET /users/{id}) go through assert_valid.
"""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from typing import Any

import pytest
from twisted.internet import reactor
from twisted.internet.endpoints import TCP4ServerEndpoint
from twisted.web import resource

from tests.support.api import ApiHarness
from tests.support.async_tests import async_test
from tests.support.http import Response
from tests.support.openapi import assert_valid
from zulipd.app.api import ApiRequest, ApiResource, ApiRouter, Payload
from zulipd.app.routes import load_routes
from zulipd.app.site import ZulipdSite
from zulipd.storage.audit import audit_log_for_user_txn

IAGO = "iago@zulip.com"  # an administrator
HAMLET = "hamlet@zulip.com"
OTHELLO = "othello@zulip.com"
POLONIUS = "polonius@zulip.com"  # a guest

GENERIC, INCOMING_WEBHOOK, OUTGOING_WEBHOOK = 1, 2, 3
API_KEY = re.compile(r"^[A-Za-z0-9]{32}$")
BOT_DOMAIN = "127.0.0.1"  # the harness's external_host, without its port
PAYLOAD_URL = "https://bots.example.com/hook"
NOT_FOR_WEBHOOK_BOTS = "This API is not available to incoming webhook bots."


# --- helpers -------------------------------------------------------------

# Routes Zulip serves outside its spec: their responses are checked by hand, without assert_valid.
NOT_IN_SPEC = re.compile(r"^(?:bots(?:/.*)?|bot_storage|users/me/api_key/regenerate|test_webhook/.*)$")


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


def unauthorized(response: Response, msg: str | None = None) -> None:
    failure(response, 401, "UNAUTHORIZED", msg)
    assert response.header("WWW-Authenticate") == 'Basic realm="zulip"'


class Bot:
    def __init__(self, user_id: int, email: str, api_key: str) -> None:
        self.user_id = user_id
        self.email = email
        self.api_key = api_key


async def create_bot(
    api: ApiHarness, owner: str, short_name: str, bot_type: int = GENERIC, **extra: Any
) -> tuple[Bot, dict[str, Any]]:
    params = {"full_name": f"{short_name.title()} Bot", "short_name": short_name, "bot_type": bot_type, **extra}
    body = success(await call(api, "POST", "bots", params, as_user=owner))
    return Bot(body["user_id"], f"{short_name}-bot@{BOT_DOMAIN}", body["api_key"]), body


async def as_bot(
    api: ApiHarness, bot: Bot, method: str, path: str, params: dict[str, Any] | None = None, api_key: str | None = None
) -> Response:
    return await call(
        api, method, path, params, headers={"Authorization": api.basic_auth(bot.email, api_key or bot.api_key)}
    )


async def own_bots(api: ApiHarness, owner: str) -> dict[int, dict[str, Any]]:
    body = success(await call(api, "GET", "bots", as_user=owner))
    return {bot["user_id"]: bot for bot in body["bots"]}


async def get_user(api: ApiHarness, user_id: int, as_user: str = IAGO) -> dict[str, Any]:
    body = success(await call(api, "GET", f"users/{user_id}", as_user=as_user))
    assert_valid("GET", f"users/{user_id}", 200, body)
    user: dict[str, Any] = body["user"]
    return user


# --- POST /bots ------------------------------------------------------------


@async_test
async def test_create_generic_bot(api: ApiHarness) -> None:
    hamlet = api.user(HAMLET)
    bot, body = await create_bot(api, HAMLET, "helper")
    assert API_KEY.match(body["api_key"])
    assert isinstance(body["avatar_url"], str)
    assert body["avatar_url"].startswith("https://")
    assert body["default_sending_stream"] is None
    assert body["default_events_register_stream"] is None
    assert body["default_all_public_streams"] is False
    user = await get_user(api, bot.user_id, as_user=HAMLET)
    assert user["email"] == f"helper-bot@{BOT_DOMAIN}"
    assert user["full_name"] == "Helper Bot"
    assert (user["is_bot"], user["bot_type"], user["bot_owner_id"]) == (True, GENERIC, hamlet.id)
    assert user["is_active"] is True
    listed = (await own_bots(api, HAMLET))[bot.user_id]
    assert listed["username"] == bot.email
    assert listed["api_key"] == bot.api_key
    assert listed["bot_type"] == GENERIC
    assert "services" not in listed
    rows = await api.server.pool.run_interaction("test: audit log", audit_log_for_user_txn, bot.user_id)
    assert rows[0][0] == "user_created"
    assert rows[0][1] == hamlet.id
    assert rows[0][2]["bot_type"] == GENERIC
    assert bot.api_key not in json.dumps(rows)


@async_test
async def test_generic_bot_can_call_the_api(api: ApiHarness) -> None:
    bot, _ = await create_bot(api, HAMLET, "helper")
    me = success(await as_bot(api, bot, "GET", "users/me"))
    assert_valid("GET", "users/me", 200, me)
    assert (me["user_id"], me["email"], me["is_bot"]) == (bot.user_id, bot.email, True)
    users = success(await as_bot(api, bot, "GET", "users"))
    assert_valid("GET", "users", 200, users)
    assert bot.user_id in {member["user_id"] for member in users["members"]}


@async_test
async def test_create_incoming_webhook_bot(api: ApiHarness) -> None:
    bot, body = await create_bot(api, HAMLET, "alerts", INCOMING_WEBHOOK)
    assert API_KEY.match(body["api_key"])
    user = await get_user(api, bot.user_id, as_user=HAMLET)
    assert (user["email"], user["bot_type"]) == (f"alerts-bot@{BOT_DOMAIN}", INCOMING_WEBHOOK)
    listed = (await own_bots(api, HAMLET))[bot.user_id]
    assert listed["bot_type"] == INCOMING_WEBHOOK
    assert "services" not in listed


@async_test
async def test_create_outgoing_webhook_bot(api: ApiHarness) -> None:
    # payload_url is Json[str]: it is sent JSON-quoted.
    bot, _ = await create_bot(api, HAMLET, "relay", OUTGOING_WEBHOOK, payload_url=json.dumps(PAYLOAD_URL))
    user = await get_user(api, bot.user_id, as_user=HAMLET)
    assert (user["email"], user["bot_type"]) == (f"relay-bot@{BOT_DOMAIN}", OUTGOING_WEBHOOK)
    listed = (await own_bots(api, HAMLET))[bot.user_id]
    assert listed["bot_type"] == OUTGOING_WEBHOOK
    (service,) = listed["services"]
    assert service["base_url"] == PAYLOAD_URL
    assert service["interface"] == 1
    assert service["service_name"] == "relay"
    assert service["config_data"] == {}
    assert isinstance(service["token"], str)
    assert len(service["token"]) >= 32
    assert service["token"] != bot.api_key


@async_test
async def test_outgoing_webhook_bot_needs_an_http_payload_url(api: ApiHarness) -> None:
    for payload_url in [
        None,  # missing
        json.dumps("ftp://bots.example.com/hook"),
        json.dumps("javascript:alert(1)"),
        json.dumps("not a url"),
        json.dumps("https://"),
        json.dumps(""),
        PAYLOAD_URL,  # not JSON-encoded
        json.dumps(["https://bots.example.com/hook"]),
    ]:
        params: dict[str, Any] = {"full_name": "Relay", "short_name": "relay", "bot_type": OUTGOING_WEBHOOK}
        if payload_url is not None:
            params["payload_url"] = payload_url
        bad_request(await call(api, "POST", "bots", params, as_user=HAMLET), sent=payload_url)
    assert await own_bots(api, HAMLET) == {}
    bad_request(await call(api, "GET", f"users/relay-bot@{BOT_DOMAIN}", as_user=HAMLET), "No such user")


@async_test
async def test_duplicate_short_name(api: ApiHarness) -> None:
    await create_bot(api, HAMLET, "helper")
    for spelling in ["helper", "HELPER", " Helper "]:
        params = {"full_name": "Another Helper", "short_name": spelling}
        for owner in [OTHELLO, HAMLET]:
            response = await call(api, "POST", "bots", params, as_user=owner)
            bad_request(response, "Username already in use", sent=(owner, spelling))
    assert await own_bots(api, OTHELLO) == {}
    assert len(await own_bots(api, HAMLET)) == 1


@async_test
async def test_short_name_of_a_deactivated_bot_stays_taken(api: ApiHarness) -> None:
    bot, _ = await create_bot(api, HAMLET, "helper")
    success(await call(api, "DELETE", f"bots/{bot.user_id}", as_user=HAMLET))
    params = {"full_name": "Helper Again", "short_name": "helper"}
    bad_request(await call(api, "POST", "bots", params, as_user=HAMLET), "Username already in use")


@async_test
async def test_guests_cannot_create_bots(api: ApiHarness) -> None:
    response = await call(api, "POST", "bots", {"full_name": "Spy", "short_name": "spy"}, as_user=POLONIUS)
    bad_request(response, "Not allowed for guest users")
    assert await own_bots(api, POLONIUS) == {}
    bad_request(await call(api, "GET", f"users/spy-bot@{BOT_DOMAIN}", as_user=IAGO), "No such user")


@async_test
async def test_bots_cannot_create_bots(api: ApiHarness) -> None:
    bot, _ = await create_bot(api, HAMLET, "helper")
    bad_request(await as_bot(api, bot, "POST", "bots", {"full_name": "Child", "short_name": "child"}))
    bad_request(await call(api, "GET", f"users/child-bot@{BOT_DOMAIN}", as_user=IAGO), "No such user")


@async_test
async def test_create_bot_with_bad_parameters(api: ApiHarness) -> None:
    cases: list[dict[str, Any]] = [
        {"full_name": "Helper", "short_name": "helper", "bot_type": 5},
        {"full_name": "Helper", "short_name": "helper", "bot_type": 0},
        {"full_name": "Helper", "short_name": "helper", "bot_type": "generic"},
        {"full_name": "Helper", "short_name": "has space"},
        {"full_name": "Helper", "short_name": ""},
        {"full_name": "Helper", "short_name": "-dash"},
        {"full_name": "Helper", "short_name": "at@sign"},
        {"full_name": "", "short_name": "helper"},
        {"full_name": "Bad*Name", "short_name": "helper"},
        {"short_name": "helper"},
        {"full_name": "Helper"},
        {"full_name": "Helper", "short_name": "helper", "interface_type": 3},
    ]
    for params in cases:
        response = await call(api, "POST", "bots", params, as_user=HAMLET)
        assert response.status == 400, (params, response.body)
        assert response.json()["result"] == "error", params
    assert await own_bots(api, HAMLET) == {}


# --- GET /bots -------------------------------------------------------------


@async_test
async def test_get_bots_lists_only_own_active_bots(api: ApiHarness) -> None:
    kept, _ = await create_bot(api, HAMLET, "kept")
    dropped, _ = await create_bot(api, HAMLET, "dropped", INCOMING_WEBHOOK)
    others, _ = await create_bot(api, OTHELLO, "others")
    assert set(await own_bots(api, HAMLET)) == {kept.user_id, dropped.user_id}
    success(await call(api, "DELETE", f"bots/{dropped.user_id}", as_user=HAMLET))
    hamlets = await own_bots(api, HAMLET)
    assert set(hamlets) == {kept.user_id}
    assert hamlets[kept.user_id]["full_name"] == "Kept Bot"
    assert hamlets[kept.user_id]["username"] == kept.email
    assert set(await own_bots(api, OTHELLO)) == {others.user_id}
    # An administrator's list holds the administrator's own bots only.
    assert await own_bots(api, IAGO) == {}


# --- PATCH /bots/{id} ------------------------------------------------------


@pytest.mark.parametrize("editor", [HAMLET, IAGO])
@async_test
async def test_owner_or_admin_renames_a_bot(api: ApiHarness, editor: str) -> None:
    bot, _ = await create_bot(api, HAMLET, "helper")
    body = success(await call(api, "PATCH", f"bots/{bot.user_id}", {"full_name": "Renamed Helper"}, as_user=editor))
    assert body["full_name"] == "Renamed Helper"
    assert (await get_user(api, bot.user_id))["full_name"] == "Renamed Helper"
    rows = await api.server.pool.run_interaction("test: audit log", audit_log_for_user_txn, bot.user_id)
    changed = (
        "user_full_name_changed",
        api.user(editor).id,
        {"old_value": "Helper Bot", "new_value": "Renamed Helper"},
    )
    assert changed in rows


@pytest.mark.parametrize("editor", [OTHELLO, POLONIUS])
@async_test
async def test_others_cannot_change_a_bot(api: ApiHarness, editor: str) -> None:
    bot, _ = await create_bot(api, HAMLET, "relay", OUTGOING_WEBHOOK, payload_url=json.dumps(PAYLOAD_URL))
    changes: list[dict[str, Any]] = [
        {"full_name": "Stolen"},
        {"bot_owner_id": api.user(editor).id},
        {"service_payload_url": json.dumps("https://evil.example.com/")},
    ]
    for params in changes:
        bad_request(await call(api, "PATCH", f"bots/{bot.user_id}", params, as_user=editor), "Insufficient permission")
    user = await get_user(api, bot.user_id)
    assert (user["full_name"], user["bot_owner_id"]) == ("Relay Bot", api.user(HAMLET).id)
    assert (await own_bots(api, HAMLET))[bot.user_id]["services"][0]["base_url"] == PAYLOAD_URL


@async_test
async def test_change_bot_owner(api: ApiHarness) -> None:
    hamlet, othello = api.user(HAMLET), api.user(OTHELLO)
    bot, _ = await create_bot(api, HAMLET, "helper")
    body = success(await call(api, "PATCH", f"bots/{bot.user_id}", {"bot_owner_id": othello.id}, as_user=HAMLET))
    assert body["bot_owner"] == OTHELLO
    assert (await get_user(api, bot.user_id))["bot_owner_id"] == othello.id
    assert bot.user_id not in await own_bots(api, HAMLET)
    assert bot.user_id in await own_bots(api, OTHELLO)
    # The previous owner has lost control; the new one has it.
    bad_request(
        await call(api, "PATCH", f"bots/{bot.user_id}", {"full_name": "Mine Again"}, as_user=HAMLET),
        "Insufficient permission",
    )
    success(await call(api, "PATCH", f"bots/{bot.user_id}", {"full_name": "Othello's Helper"}, as_user=OTHELLO))
    rows = await api.server.pool.run_interaction("test: audit log", audit_log_for_user_txn, bot.user_id)
    assert ("bot_owner_changed", hamlet.id, {"old_value": hamlet.id, "new_value": othello.id}) in rows


@async_test
async def test_bot_owner_must_be_an_active_human(api: ApiHarness) -> None:
    hamlet = api.user(HAMLET)
    bot, _ = await create_bot(api, HAMLET, "helper")
    other_bot, _ = await create_bot(api, HAMLET, "other")
    success(await call(api, "DELETE", f"users/{api.user(OTHELLO).id}", as_user=IAGO))
    for owner_id in [other_bot.user_id, bot.user_id, api.user(OTHELLO).id, 987654]:
        bad_request(await call(api, "PATCH", f"bots/{bot.user_id}", {"bot_owner_id": owner_id}, as_user=HAMLET))
    assert (await get_user(api, bot.user_id))["bot_owner_id"] == hamlet.id


@async_test
async def test_change_outgoing_webhook_payload_url(api: ApiHarness) -> None:
    bot, _ = await create_bot(api, HAMLET, "relay", OUTGOING_WEBHOOK, payload_url=json.dumps(PAYLOAD_URL))
    new_url = "http://other.example.com:8080/zulip"
    body = success(
        await call(api, "PATCH", f"bots/{bot.user_id}", {"service_payload_url": json.dumps(new_url)}, as_user=HAMLET)
    )
    assert body["service_payload_url"] == new_url
    assert (await own_bots(api, HAMLET))[bot.user_id]["services"][0]["base_url"] == new_url
    # An administrator may change it too; a bad URL changes nothing.
    bad_request(
        await call(api, "PATCH", f"bots/{bot.user_id}", {"service_payload_url": json.dumps("gopher://x")}, as_user=IAGO)
    )
    bad_request(await call(api, "PATCH", f"bots/{bot.user_id}", {"service_payload_url": new_url}, as_user=IAGO))
    assert (await own_bots(api, HAMLET))[bot.user_id]["services"][0]["base_url"] == new_url
    success(
        await call(api, "PATCH", f"bots/{bot.user_id}", {"service_payload_url": json.dumps(PAYLOAD_URL)}, as_user=IAGO)
    )
    assert (await own_bots(api, HAMLET))[bot.user_id]["services"][0]["base_url"] == PAYLOAD_URL


@async_test
async def test_generic_bot_has_no_payload_url(api: ApiHarness) -> None:
    bot, _ = await create_bot(api, HAMLET, "helper")
    params = {"service_payload_url": json.dumps(PAYLOAD_URL)}
    bad_request(await call(api, "PATCH", f"bots/{bot.user_id}", params, as_user=HAMLET))
    assert "services" not in (await own_bots(api, HAMLET))[bot.user_id]


@async_test
async def test_patch_unknown_bot_or_a_human(api: ApiHarness) -> None:
    bad_request(await call(api, "PATCH", "bots/987654", {"full_name": "Ghost"}, as_user=IAGO), "No such bot")
    othello = api.user(OTHELLO)
    bad_request(await call(api, "PATCH", f"bots/{othello.id}", {"full_name": "Bot?"}, as_user=IAGO), "No such bot")
    assert (await get_user(api, othello.id))["full_name"] == "Othello, the Moor of Venice"


# --- DELETE /bots/{id} -----------------------------------------------------


@async_test
async def test_owner_deactivates_a_bot(api: ApiHarness) -> None:
    bot, _ = await create_bot(api, HAMLET, "helper")
    success(await as_bot(api, bot, "GET", "users/me"))  # the key is now cached
    success(await call(api, "DELETE", f"bots/{bot.user_id}", as_user=HAMLET))
    unauthorized(await as_bot(api, bot, "GET", "users/me"), "Account is deactivated")
    assert bot.user_id not in await own_bots(api, HAMLET)
    assert (await get_user(api, bot.user_id))["is_active"] is False
    bad_request(await call(api, "DELETE", f"bots/{bot.user_id}", as_user=HAMLET))
    # The owner is unaffected.
    success(await call(api, "GET", "users/me", as_user=HAMLET))


@async_test
async def test_who_may_deactivate_a_bot(api: ApiHarness) -> None:
    bot, _ = await create_bot(api, HAMLET, "helper")
    bad_request(await call(api, "DELETE", f"bots/{bot.user_id}", as_user=OTHELLO), "Insufficient permission")
    bad_request(await call(api, "DELETE", f"bots/{bot.user_id}", as_user=POLONIUS), "Insufficient permission")
    success(await as_bot(api, bot, "GET", "users/me"))
    success(await call(api, "DELETE", f"bots/{bot.user_id}", as_user=IAGO))
    unauthorized(await as_bot(api, bot, "GET", "users/me"))


@async_test
async def test_bots_route_does_not_deactivate_humans(api: ApiHarness) -> None:
    othello = api.user(OTHELLO)
    bad_request(await call(api, "DELETE", f"bots/{othello.id}", as_user=IAGO), "No such bot")
    bad_request(await call(api, "DELETE", "bots/987654", as_user=IAGO), "No such bot")
    success(await call(api, "GET", "users/me", as_user=OTHELLO))


# --- POST /bots/{id}/api_key/regenerate -------------------------------------


@pytest.mark.parametrize("editor", [HAMLET, IAGO])
@async_test
async def test_regenerate_bot_api_key(api: ApiHarness, editor: str) -> None:
    bot, _ = await create_bot(api, HAMLET, "helper")
    success(await as_bot(api, bot, "GET", "users/me"))  # the old key is now cached
    body = success(await call(api, "POST", f"bots/{bot.user_id}/api_key/regenerate", as_user=editor))
    new_key = body["api_key"]
    assert isinstance(new_key, str)
    assert API_KEY.match(new_key)
    assert new_key != bot.api_key
    unauthorized(await as_bot(api, bot, "GET", "users/me"), "Invalid API key")
    assert success(await as_bot(api, bot, "GET", "users/me", api_key=new_key))["user_id"] == bot.user_id
    assert (await own_bots(api, HAMLET))[bot.user_id]["api_key"] == new_key


@async_test
async def test_others_cannot_regenerate_a_bot_key(api: ApiHarness) -> None:
    bot, _ = await create_bot(api, HAMLET, "helper")
    for editor in [OTHELLO, POLONIUS]:
        bad_request(
            await call(api, "POST", f"bots/{bot.user_id}/api_key/regenerate", as_user=editor), "Insufficient permission"
        )
    success(await as_bot(api, bot, "GET", "users/me"))


@async_test
async def test_bot_regenerates_its_own_key(api: ApiHarness) -> None:
    bot, _ = await create_bot(api, HAMLET, "helper")
    new_key = success(await as_bot(api, bot, "POST", "users/me/api_key/regenerate"))["api_key"]
    assert API_KEY.match(new_key)
    assert new_key != bot.api_key
    unauthorized(await as_bot(api, bot, "GET", "users/me"), "Invalid API key")
    success(await as_bot(api, bot, "GET", "users/me", api_key=new_key))


# --- incoming-webhook bots -------------------------------------------------


@asynccontextmanager
async def api_with_webhook_routes(api: ApiHarness) -> AsyncIterator[ApiHarness]:
    """zulipd's route table plus two test routes, served on another port over the same server.

    zulipd has no incoming-webhook integration yet, so this is how a route
    flagged ``allow_incoming_webhook`` is reached.
    """
    router = ApiRouter()
    router.routes = list(load_routes().routes)

    @router.post("test_webhook/receive", allow_incoming_webhook=True)
    async def receive(ctx: ApiRequest) -> Payload:
        return {"received_by": ctx.requester.id}

    @router.post("test_webhook/not_a_webhook")
    async def not_a_webhook(ctx: ApiRequest) -> Payload:
        return {"received_by": ctx.requester.id}

    v1 = resource.Resource()
    v1.putChild(b"v1", ApiResource(api.server, router, "api"))
    root = resource.Resource()
    root.putChild(b"api", v1)
    site = ZulipdSite(root, reactor)
    port = await TCP4ServerEndpoint(reactor, 0, interface="127.0.0.1").listen(site)
    harness = ApiHarness(api.server, port, site)
    harness.realm = api.realm
    harness.users = api.users
    try:
        yield harness
    finally:
        await port.stopListening()
        await site.drain(0)


@async_test
async def test_incoming_webhook_bot_is_limited_to_webhook_routes(api: ApiHarness) -> None:
    bot, _ = await create_bot(api, HAMLET, "alerts", INCOMING_WEBHOOK)
    for method, path in [("GET", "users/me"), ("GET", "users"), ("GET", "bot_storage"), ("GET", "bots")]:
        bad_request(await as_bot(api, bot, method, path), NOT_FOR_WEBHOOK_BOTS)
    bad_request(await as_bot(api, bot, "PATCH", "settings", {"full_name": "Renamed"}), NOT_FOR_WEBHOOK_BOTS)
    bad_request(await as_bot(api, bot, "PUT", "bot_storage", {"storage": {"k": "v"}}), NOT_FOR_WEBHOOK_BOTS)
    assert (await get_user(api, bot.user_id))["full_name"] == "Alerts Bot"
    async with api_with_webhook_routes(api) as hooks:
        assert success(await as_bot(hooks, bot, "POST", "test_webhook/receive"))["received_by"] == bot.user_id
        bad_request(await as_bot(hooks, bot, "POST", "test_webhook/not_a_webhook"), NOT_FOR_WEBHOOK_BOTS)
        bad_request(await as_bot(hooks, bot, "GET", "users/me"), NOT_FOR_WEBHOOK_BOTS)
        # A wrong key is still refused on a webhook route.
        unauthorized(await as_bot(hooks, bot, "POST", "test_webhook/receive", api_key="B" * 32), "Invalid API key")


@async_test
async def test_other_keys_work_on_webhook_routes_too(api: ApiHarness) -> None:
    bot, _ = await create_bot(api, HAMLET, "helper")
    async with api_with_webhook_routes(api) as hooks:
        assert success(await as_bot(hooks, bot, "POST", "test_webhook/receive"))["received_by"] == bot.user_id
        assert success(await as_bot(hooks, bot, "POST", "test_webhook/not_a_webhook"))["received_by"] == bot.user_id
        received = success(await call(hooks, "POST", "test_webhook/receive", as_user=HAMLET))
        assert received["received_by"] == api.user(HAMLET).id


@async_test
async def test_deactivated_incoming_webhook_bot_is_refused_on_webhook_routes(api: ApiHarness) -> None:
    bot, _ = await create_bot(api, HAMLET, "alerts", INCOMING_WEBHOOK)
    async with api_with_webhook_routes(api) as hooks:
        success(await as_bot(hooks, bot, "POST", "test_webhook/receive"))
        success(await call(api, "DELETE", f"bots/{bot.user_id}", as_user=HAMLET))
        unauthorized(await as_bot(hooks, bot, "POST", "test_webhook/receive"), "Account is deactivated")


# --- /bot_storage (as zulip_bots' StateHandler uses it) ---------------------


async def put_storage(api: ApiHarness, bot: Bot, storage: dict[str, Any]) -> Response:
    return await as_bot(api, bot, "PUT", "bot_storage", {"storage": storage})


async def get_storage(api: ApiHarness, bot: Bot, keys: list[str] | None = None) -> Response:
    return await as_bot(api, bot, "GET", "bot_storage", {"keys": keys} if keys is not None else None)


async def storage_of(api: ApiHarness, bot: Bot) -> dict[str, str]:
    storage: dict[str, str] = success(await get_storage(api, bot))["storage"]
    return storage


@async_test
async def test_bot_storage_put_and_get(api: ApiHarness) -> None:
    bot, _ = await create_bot(api, HAMLET, "stateful")
    assert await storage_of(api, bot) == {}
    # zulip_bots stores each value JSON-encoded, in a JSON object.
    value = json.dumps({"count": 1, "names": ["a", "b"]})
    body = success(await put_storage(api, bot, {"k": "v", "state": value}))
    assert set(body) == {"result", "msg"}
    assert success(await get_storage(api, bot, ["k"])) == {"result": "success", "msg": "", "storage": {"k": "v"}}
    assert success(await get_storage(api, bot, ["state", "k"]))["storage"] == {"state": value, "k": "v"}
    assert await storage_of(api, bot) == {"k": "v", "state": value}
    # A second PUT overwrites one key and keeps the rest.
    success(await put_storage(api, bot, {"k": "v2", "new": ""}))
    assert await storage_of(api, bot) == {"k": "v2", "state": value, "new": ""}


@async_test
async def test_bot_storage_get_of_a_missing_key(api: ApiHarness) -> None:
    bot, _ = await create_bot(api, HAMLET, "stateful")
    success(await put_storage(api, bot, {"k": "v"}))
    body = bad_request(await get_storage(api, bot, ["missing"]))
    assert "storage" not in body
    assert "missing" in body["msg"]
    bad_request(await get_storage(api, bot, ["k", "missing"]))
    assert await storage_of(api, bot) == {"k": "v"}


@async_test
async def test_bot_storage_delete(api: ApiHarness) -> None:
    bot, _ = await create_bot(api, HAMLET, "stateful")
    success(await put_storage(api, bot, {"a": "1", "b": "2", "c": "3"}))
    success(await as_bot(api, bot, "DELETE", "bot_storage", {"keys": ["a"]}))
    assert await storage_of(api, bot) == {"b": "2", "c": "3"}
    bad_request(await get_storage(api, bot, ["a"]))
    # Deleting a missing key is an error and removes nothing, not even the keys that exist.
    body = bad_request(await as_bot(api, bot, "DELETE", "bot_storage", {"keys": ["b", "missing"]}))
    assert "missing" in body["msg"]
    assert await storage_of(api, bot) == {"b": "2", "c": "3"}
    bad_request(await as_bot(api, bot, "DELETE", "bot_storage", {"keys": ["a"]}))
    assert await storage_of(api, bot) == {"b": "2", "c": "3"}
    # Without keys, everything goes.
    success(await as_bot(api, bot, "DELETE", "bot_storage"))
    assert await storage_of(api, bot) == {}


@async_test
async def test_bot_storage_is_per_user(api: ApiHarness) -> None:
    first, _ = await create_bot(api, HAMLET, "first")
    second, _ = await create_bot(api, HAMLET, "second")
    success(await put_storage(api, first, {"k": "first's"}))
    success(await put_storage(api, second, {"k": "second's", "only_second": "x"}))
    success(await call(api, "PUT", "bot_storage", {"storage": {"k": "hamlet's"}}, as_user=HAMLET))
    assert await storage_of(api, first) == {"k": "first's"}
    assert await storage_of(api, second) == {"k": "second's", "only_second": "x"}
    hamlets = success(await call(api, "GET", "bot_storage", as_user=HAMLET))["storage"]
    assert hamlets == {"k": "hamlet's"}
    bad_request(await get_storage(api, first, ["only_second"]))
    success(await as_bot(api, second, "DELETE", "bot_storage", {"keys": ["k"]}))
    assert await storage_of(api, first) == {"k": "first's"}
    assert await storage_of(api, second) == {"only_second": "x"}


@async_test
async def test_bot_storage_rejects_bad_entries(api: ApiHarness) -> None:
    bot, _ = await create_bot(api, HAMLET, "stateful")
    success(await put_storage(api, bot, {"kept": "yes"}))
    cases: list[Any] = [
        {"k": 1},
        {"k": None},
        {"k": ["v"]},
        {"ok": "fine", "k": 1},
        ["k", "v"],
        "not-json",
        {"": "empty key"},
        {"k" * 1001: "key too long"},
    ]
    for storage in cases:
        bad_request(await as_bot(api, bot, "PUT", "bot_storage", {"storage": storage}), sent=storage)
    assert await storage_of(api, bot) == {"kept": "yes"}


@async_test
async def test_bot_storage_needs_storage_and_json_keys(api: ApiHarness) -> None:
    bot, _ = await create_bot(api, HAMLET, "stateful")
    body = failure(await as_bot(api, bot, "PUT", "bot_storage"), 400, "REQUEST_VARIABLE_MISSING")
    assert body["var_name"] == "storage"
    bad_request(await as_bot(api, bot, "GET", "bot_storage", {"keys": "k"}))
    bad_request(await as_bot(api, bot, "GET", "bot_storage", {"keys": {"k": "v"}}))
    bad_request(await as_bot(api, bot, "DELETE", "bot_storage", {"keys": "k"}))


@async_test
async def test_bot_storage_empty_requests(api: ApiHarness) -> None:
    bot, _ = await create_bot(api, HAMLET, "stateful")
    success(await put_storage(api, bot, {}))
    assert await storage_of(api, bot) == {}
    success(await put_storage(api, bot, {"k": "v"}))
    assert success(await get_storage(api, bot, []))["storage"] == {}
    success(await as_bot(api, bot, "DELETE", "bot_storage", {"keys": []}))
    assert await storage_of(api, bot) == {"k": "v"}


# --- reactivating a bot ----------------------------------------------------


@async_test
async def test_admin_reactivates_a_bot(api: ApiHarness) -> None:
    bot, _ = await create_bot(api, HAMLET, "helper")
    success(await as_bot(api, bot, "GET", "users/me"))
    success(await call(api, "DELETE", f"bots/{bot.user_id}", as_user=HAMLET))
    unauthorized(await as_bot(api, bot, "GET", "users/me"), "Account is deactivated")
    success(await call(api, "POST", f"users/{bot.user_id}/reactivate", as_user=IAGO))
    assert success(await as_bot(api, bot, "GET", "users/me"))["user_id"] == bot.user_id
    assert bot.user_id in await own_bots(api, HAMLET)


@async_test
async def test_bot_of_a_deactivated_owner_cannot_be_reactivated(api: ApiHarness) -> None:
    bot, _ = await create_bot(api, HAMLET, "helper")
    success(await call(api, "DELETE", f"users/{api.user(HAMLET).id}", as_user=IAGO))
    bad_request(await call(api, "POST", f"users/{bot.user_id}/reactivate", as_user=IAGO))
    unauthorized(await as_bot(api, bot, "GET", "users/me"), "Account is deactivated")
