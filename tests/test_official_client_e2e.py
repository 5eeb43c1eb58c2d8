"""End to end: the unmodified official ``zulip`` 0.9.1 client against a live ``twistd -n zulipd``.

One daemon serves every test of this module (it takes a few seconds to
start): conftest.py's ``live`` fixture, on a clone of the migrated template
filled by ``zulipd-admin populate-dev``. Tests that change users create their own.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.operator_tools import DEV_PASSWORD, LiveZulipd, basic_auth, http
from tests.support.openapi import assert_valid
from zulipd.models import Role

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("official_client_e2e")]

PASSWORD = DEV_PASSWORD
HAMLET = "hamlet@zulip.com"
IAGO = "iago@zulip.com"


def assert_success(result: dict[str, Any]) -> None:
    assert result.get("result") == "success", result
    assert result.get("msg") == "", result


def test_the_client_constructs_and_reads_the_server_settings(live: LiveZulipd) -> None:
    client = live.client(HAMLET)
    # The constructor fetched /server_settings and insisted on zulip_version.
    assert client.zulip_version.startswith("10.2")
    assert client.feature_level == 372
    settings = client.get_server_settings()
    assert_success(settings)
    assert settings["realm_name"] == "Zulip Dev"
    assert_valid("GET", "server_settings", 200, settings)


def test_get_profile(live: LiveZulipd) -> None:
    profile = live.client(HAMLET).get_profile()
    assert_success(profile)
    assert profile["email"] == HAMLET
    assert profile["full_name"] == "King Hamlet"
    assert profile["role"] == Role.MEMBER
    assert_valid("GET", "users/me", 200, profile)


def test_get_members(live: LiveZulipd) -> None:
    members = live.client(HAMLET).get_members()
    assert_success(members)
    emails = {member["email"] for member in members["members"]}
    assert set(live.keys) <= emails
    roles = {member["email"]: member["role"] for member in members["members"]}
    assert roles[IAGO] == Role.ADMINISTRATOR
    assert roles["desdemona@zulip.com"] == Role.OWNER
    assert_valid("GET", "users", 200, members)


def test_create_user_and_update_it_as_an_administrator(live: LiveZulipd) -> None:
    iago = live.client(IAGO)
    created = iago.create_user({"email": "cressida@zulip.com", "password": PASSWORD, "full_name": "Cressida"})
    assert_success(created)
    assert_valid("POST", "users", 200, created)
    user_id = created["user_id"]
    shown = iago.get_user_by_id(user_id)
    assert_success(shown)
    assert shown["user"]["email"] == "cressida@zulip.com"
    assert shown["user"]["role"] == Role.MEMBER
    assert_valid("GET", f"users/{user_id}", 200, shown)

    updated = iago.update_user_by_id(user_id, full_name="Cressida of Troy", role=int(Role.MODERATOR))
    assert_success(updated)
    assert_valid("PATCH", f"users/{user_id}", 200, updated)
    after = iago.get_user_by_id(user_id)["user"]
    assert after["full_name"] == "Cressida of Troy"
    assert after["role"] == Role.MODERATOR
    # The new user logs in with the password it was given, and its client works.
    login = http(
        "POST", live.base_url + "/api/v1/fetch_api_key", {"username": "cressida@zulip.com", "password": PASSWORD}
    )
    assert login.status == 200, login.body
    assert live.client("cressida@zulip.com", login.body["api_key"]).get_profile()["full_name"] == "Cressida of Troy"
    # Members may not create users.
    refused = live.client(HAMLET).create_user({"email": "nobody@zulip.com", "password": PASSWORD, "full_name": "No"})
    assert refused["result"] == "error"
    assert refused["code"] == "UNAUTHORIZED_PRINCIPAL"


def test_a_wrong_api_key_is_unauthorized(live: LiveZulipd) -> None:
    for wrong in ("A" * 32, "not-a-key"):
        # Constructing still works: /server_settings needs no credentials.
        result = live.client(HAMLET, wrong).get_profile()
        assert result["result"] == "error", result
        assert result["code"] == "UNAUTHORIZED", result
        assert result["msg"] == "Invalid API key"
    direct = http("GET", live.base_url + "/api/v1/users/me", headers=basic_auth(HAMLET, "A" * 32))
    assert direct.status == 401
    assert direct.headers.get("WWW-Authenticate") == 'Basic realm="zulip"'


def test_a_deactivated_users_client_is_unauthorized(live: LiveZulipd) -> None:
    iago = live.client(IAGO)
    user_id, email, api_key = live.create_user(iago, "rosencrantz")
    client = live.client(email, api_key)
    assert_success(client.get_profile())  # the daemon now has the key cached

    deactivated = iago.call_endpoint(f"users/{user_id}", method="DELETE")
    assert_success(deactivated)
    assert_valid("DELETE", f"users/{user_id}", 200, deactivated)

    refused = client.get_profile()
    assert refused["result"] == "error", refused
    assert refused["code"] == "UNAUTHORIZED"
    assert refused["msg"] == "Account is deactivated"
    direct = http("GET", live.base_url + "/api/v1/users/me", headers=basic_auth(email, api_key))
    assert direct.status == 401
    assert iago.get_user_by_id(user_id)["user"]["is_active"] is False


def test_bot_storage_as_zulip_bots_state_handler_uses_it(live: LiveZulipd) -> None:
    iago = live.client(IAGO)
    created = iago.call_endpoint("bots", method="POST", request={"full_name": "State Bot", "short_name": "state"})
    assert_success(created)
    bot_email = iago.get_user_by_id(created["user_id"])["user"]["email"]
    bot = live.client(bot_email, created["api_key"])
    assert_success(bot.get_profile())

    # zulip_bots' StateHandler.put and .get: values are JSON-marshalled strings, one key at a time.
    state = {"counter": 3, "seen": ["a", "b"], "nested": {"x": None}}
    assert_success(bot.update_storage({"storage": {"state": json.dumps(state)}}))
    fetched = bot.get_storage({"keys": ["state"]})
    assert_success(fetched)
    assert json.loads(fetched["storage"]["state"]) == state
    # A missing key is an error (StateHandler turns it into KeyError).
    missing = bot.get_storage({"keys": ["never-stored"]})
    assert missing["result"] == "error", missing

    # The raw call, with the storage as JSON text.
    entries = {"entry 1": "value 1", "entry 2": "välue 2"}
    assert_success(bot.call_endpoint("bot_storage", method="PUT", request={"storage": json.dumps(entries)}))
    everything = bot.call_endpoint("bot_storage", method="GET")
    assert_success(everything)
    assert everything["storage"] == {"state": json.dumps(state), **entries}
    assert_success(bot.call_endpoint("bot_storage", method="DELETE", request={"keys": json.dumps(["entry 1"])}))
    assert bot.get_storage()["storage"] == {"state": json.dumps(state), "entry 2": "välue 2"}
    # Each bot has storage of its own.
    other = iago.call_endpoint("bots", method="POST", request={"full_name": "Other Bot", "short_name": "other"})
    other_email = iago.get_user_by_id(other["user_id"])["user"]["email"]
    assert live.client(other_email, other["api_key"]).get_storage()["storage"] == {}
