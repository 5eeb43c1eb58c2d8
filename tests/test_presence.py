"""Presence: POST /users/me/presence, GET /realm/presence, GET /users/{user_id_or_email}/presence."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Any

from tests.chat_support import CORDELIA, HAMLET, IAGO, OTHELLO, POLONIUS, assert_error, create_bot
from tests.support.api import DEV_PASSWORD, ApiHarness
from tests.support.async_tests import async_test
from tests.support.openapi import assert_valid
from zulipd.actions.presence import (
    OFFLINE_THRESHOLD_SECS,
    PRESENCE_DISABLED_OFFSET_SECS,
    do_presence_enabled_changed,
    do_update_user_presence,
)
from zulipd.actions.realms import do_create_realm
from zulipd.actions.users import do_create_user, do_deactivate_user
from zulipd.storage.pool import Transaction

PRESENCE = "users/me/presence"


async def ping(api: ApiHarness, email: str, **params: Any) -> dict[str, Any]:
    """POST /users/me/presence as ``email``; the spec-valid answer."""
    response = await api.call("POST", PRESENCE, {"status": "active", **params}, as_user=email)
    assert response.status == 200, response.body
    body: dict[str, Any] = response.json()
    assert_valid("POST", PRESENCE, 200, body)
    return body


def ago(seconds: float) -> datetime:
    return datetime.now(UTC) - timedelta(seconds=seconds)


async def stored_presence(api: ApiHarness, user_id: int) -> tuple[Any, ...] | None:
    async def read(txn: Transaction) -> tuple[Any, ...] | None:
        return await txn.fetch_one(
            "SELECT last_active_time, last_connected_time, last_update_id FROM user_presence WHERE user_id = %s",
            (user_id,),
        )

    return await api.server.pool.run_interaction("read presence", read)


@async_test
async def test_a_ping_records_presence_and_answers_in_the_legacy_format(api: ApiHarness) -> None:
    before = time.time()
    body = await ping(api, HAMLET)
    assert set(body) == {"result", "msg", "presences", "server_timestamp", "presence_last_update_id"}
    assert isinstance(body["server_timestamp"], float)
    assert before - 1 <= body["server_timestamp"] <= time.time() + 1
    hamlet = body["presences"][HAMLET]
    assert set(hamlet) == {"aggregated", "website"}
    assert hamlet["website"] == {**hamlet["aggregated"], "pushable": False}
    assert hamlet["aggregated"]["client"] == "website"
    assert hamlet["aggregated"]["status"] == "active"
    assert abs(hamlet["aggregated"]["timestamp"] - before) <= 2
    assert body["presence_last_update_id"] >= 1
    # Only users who have reported presence appear.
    assert list(body["presences"]) == [HAMLET]


@async_test
async def test_last_update_id_gives_the_modern_format_and_only_what_changed(api: ApiHarness) -> None:
    await ping(api, HAMLET)
    first = await ping(api, IAGO, last_update_id=-1)
    ids = {str(api.user(HAMLET).id), str(api.user(IAGO).id)}
    assert set(first["presences"]) == ids
    for entry in first["presences"].values():
        assert set(entry) == {"active_timestamp", "idle_timestamp"}
        assert entry["active_timestamp"] <= entry["idle_timestamp"]
    newest = first["presence_last_update_id"]
    # Pings within a minute of the last write change nothing, so nothing is new.
    again = await ping(api, IAGO, last_update_id=newest)
    assert again["presences"] == {}
    assert again["presence_last_update_id"] == newest
    await ping(api, OTHELLO)
    later = await ping(api, IAGO, last_update_id=newest)
    assert list(later["presences"]) == [str(api.user(OTHELLO).id)]
    assert later["presence_last_update_id"] > newest


@async_test
async def test_slim_presence_asks_for_the_modern_format(api: ApiHarness) -> None:
    body = await ping(api, HAMLET, slim_presence=True)
    assert list(body["presences"]) == [str(api.user(HAMLET).id)]
    body = await ping(api, HAMLET, slim_presence=False)
    assert list(body["presences"]) == [HAMLET]


@async_test
async def test_ping_only_answers_nothing_but_success(api: ApiHarness) -> None:
    body = await ping(api, HAMLET, ping_only=True, new_user_input=True)
    assert body == {"result": "success", "msg": ""}
    assert await stored_presence(api, api.user(HAMLET).id) is not None


@async_test
async def test_idle_and_active_statuses(api: ApiHarness) -> None:
    hamlet = api.user(HAMLET)
    await ping(api, HAMLET, status="idle", ping_only=True)
    active, connected, _ = await stored_presence(api, hamlet.id) or ()
    assert active is None
    assert connected is not None
    body = await ping(api, IAGO, last_update_id=-1)
    # A user never seen active shows the date they joined, as in Zulip.
    entry = body["presences"][str(hamlet.id)]
    assert entry["active_timestamp"] == int(hamlet.date_joined.timestamp())
    # An active ping after an idle one records the activity at once (there was none).
    await ping(api, HAMLET, status="active", ping_only=True)
    active, connected, _ = await stored_presence(api, hamlet.id) or ()
    assert active is not None
    assert active <= connected
    # Connected now, last active ten minutes ago: idle in the legacy format, as of the connection.
    othello = api.user(OTHELLO)
    await do_update_user_presence(api.server, othello, ago(600), "active")
    await ping(api, OTHELLO, status="idle", ping_only=True)
    modern = (await ping(api, IAGO, last_update_id=-1))["presences"][str(othello.id)]
    assert modern["idle_timestamp"] - modern["active_timestamp"] >= 599
    legacy = (await ping(api, IAGO))["presences"][OTHELLO]
    assert legacy["aggregated"] == {"client": "website", "status": "idle", "timestamp": modern["idle_timestamp"]}


@async_test
async def test_writes_are_rate_limited_per_field_and_move_forward(api: ApiHarness) -> None:
    hamlet = api.user(HAMLET)
    await do_update_user_presence(api.server, hamlet, ago(120), "active")
    first = await stored_presence(api, hamlet.id)
    assert first is not None
    # A minute and more later: both times move, with a new update id.
    await ping(api, HAMLET, ping_only=True)
    second = await stored_presence(api, hamlet.id)
    assert second is not None
    assert second[0] > first[0]
    assert second[1] > first[1]
    assert second[2] > first[2]
    # At once again: nothing is written.
    await ping(api, HAMLET, ping_only=True)
    assert await stored_presence(api, hamlet.id) == second
    # A late report of an older time does not wind anything back.
    await do_update_user_presence(api.server, hamlet, ago(600), "active")
    assert await stored_presence(api, hamlet.id) == second


@async_test
async def test_update_ids_count_per_organization(api: ApiHarness) -> None:
    await ping(api, HAMLET)
    newest = (await ping(api, IAGO, last_update_id=-1))["presence_last_update_id"]
    lear = await do_create_realm(api.server, "lear", "Lear & Co.")
    king = await do_create_user(api.server, lear, email="king@lear.org", full_name="King Lear", password=DEV_PASSWORD)
    await do_update_user_presence(api.server, king, datetime.now(UTC), "active")
    body = await ping(api, IAGO, last_update_id=newest)
    # Another organization's users are never shown, and their writes do not count here.
    assert body["presences"] == {}
    assert body["presence_last_update_id"] == newest


@async_test
async def test_history_limit_days(api: ApiHarness) -> None:
    othello = api.user(OTHELLO)
    await ping(api, HAMLET)
    first = (await ping(api, HAMLET, last_update_id=-1))["presence_last_update_id"]
    await do_update_user_presence(api.server, othello, ago(20 * 86400), "active")
    othello_key = str(othello.id)
    assert othello_key not in (await ping(api, HAMLET, last_update_id=-1))["presences"]
    body = await ping(api, HAMLET, last_update_id=-1, history_limit_days=30)
    assert othello_key in body["presences"]
    assert abs(body["presences"][othello_key]["idle_timestamp"] - ago(20 * 86400).timestamp()) <= 2
    # Zero asks for nothing; without last_update_id the answer's id is then -1.
    body = await ping(api, HAMLET, history_limit_days=0)
    assert body["presences"] == {}
    assert body["presence_last_update_id"] == -1
    # history_limit_days is ignored once the client has data (last_update_id > 0).
    body = await ping(api, HAMLET, last_update_id=first, history_limit_days=1)
    assert othello_key in body["presences"]
    # Absurd values are not errors.
    assert (await ping(api, HAMLET, last_update_id=-1, history_limit_days=10**12))["presences"]
    assert (await ping(api, HAMLET, last_update_id=-1, history_limit_days=-5))["presences"] == {}
    assert (await ping(api, HAMLET, last_update_id=2**63 - 1))["presences"] == {}
    response = await api.call("POST", PRESENCE, {"status": "active", "last_update_id": 2**63}, as_user=HAMLET)
    assert_error(response, "last_update_id is too large")


@async_test
async def test_deactivated_users_and_bots_are_left_out(api: ApiHarness) -> None:
    assert api.realm is not None
    await ping(api, CORDELIA)
    await do_deactivate_user(api.server, api.user(CORDELIA), None)
    body = await ping(api, HAMLET)
    assert CORDELIA not in body["presences"]


@async_test
async def test_guests_see_the_users_they_can_see(api: ApiHarness) -> None:
    # zulipd lets every member, guests included, see every user of the organization.
    await ping(api, HAMLET)
    body = await ping(api, POLONIUS, last_update_id=-1)
    assert set(body["presences"]) == {str(api.user(HAMLET).id), str(api.user(POLONIUS).id)}


@async_test
async def test_bad_requests(api: ApiHarness) -> None:
    response = await api.call("POST", PRESENCE, {}, as_user=HAMLET)
    assert_error(response, "Missing 'status' argument", "REQUEST_VARIABLE_MISSING", var_name="status")
    response = await api.call("POST", PRESENCE, {"status": "away"}, as_user=HAMLET)
    assert_error(response, "Invalid status: away")
    response = await api.call("POST", PRESENCE, {"status": "active", "ping_only": "yes"}, as_user=HAMLET)
    assert_error(response, "ping_only is not valid JSON")
    response = await api.call("POST", PRESENCE, {"status": "active", "last_update_id": "true"}, as_user=HAMLET)
    assert_error(response, "last_update_id is not an integer")
    response = await api.call("POST", PRESENCE, {"status": "active", "history_limit_days": 1.5}, as_user=HAMLET)
    assert_error(response, "history_limit_days is not an integer")
    # Nothing was recorded by the refused requests.
    assert await stored_presence(api, api.user(HAMLET).id) is None


@async_test
async def test_bots_do_not_report_presence(api: ApiHarness) -> None:
    bot = await create_bot(api)
    headers = {"Authorization": api.basic_auth(bot.email, bot.api_key)}
    response = await api.call("POST", PRESENCE, {"status": "active"}, headers=headers)
    assert_error(response, "This endpoint does not accept bot requests.")
    # They may read everyone else's.
    await ping(api, HAMLET)
    response = await api.call("GET", "realm/presence", headers=headers)
    assert response.status == 200
    assert list(response.json()["presences"]) == [HAMLET]


@async_test
async def test_realm_presence_is_legacy_without_an_update_id(api: ApiHarness) -> None:
    await ping(api, HAMLET)
    await do_update_user_presence(api.server, api.user(OTHELLO), ago(600), "active")
    await ping(api, OTHELLO, status="idle", ping_only=True)
    response = await api.call("GET", "realm/presence", as_user=POLONIUS)
    assert response.status == 200
    body = response.json()
    assert_valid("GET", "realm/presence", 200, body)
    assert set(body) == {"result", "msg", "presences", "server_timestamp"}
    assert set(body["presences"]) == {HAMLET, OTHELLO}
    assert body["presences"][HAMLET]["aggregated"]["status"] == "active"
    assert body["presences"][OTHELLO]["aggregated"]["status"] == "idle"


@async_test
async def test_one_users_presence_by_id_and_by_email(api: ApiHarness) -> None:
    hamlet = api.user(HAMLET)
    await ping(api, HAMLET)
    for key in (str(hamlet.id), HAMLET, HAMLET.upper(), "hamlet%40zulip.com"):
        path = f"users/{key}/presence"
        response = await api.call("GET", path, as_user=POLONIUS)
        assert response.status == 200, (key, response.body)
        body = response.json()
        assert_valid("GET", path, 200, body)
        assert set(body["presence"]) == {"aggregated", "website"}
        for entry in body["presence"].values():
            assert set(entry) == {"status", "timestamp"}
            assert entry["status"] == "active"
    # Stale presence: the aggregate says offline; the client entry keeps the last status.
    await do_update_user_presence(api.server, hamlet, ago(600), "active", replace=True)
    response = await api.call("GET", f"users/{hamlet.id}/presence", as_user=IAGO)
    body = response.json()
    assert_valid("GET", f"users/{hamlet.id}/presence", 200, body)
    assert body["presence"]["aggregated"]["status"] == "offline"
    assert body["presence"]["website"]["status"] == "active"


@async_test
async def test_one_users_presence_errors(api: ApiHarness) -> None:
    assert api.realm is not None
    for key in ("99999", "0", "-3", "99999999999999999999", "nobody@zulip.com"):
        response = await api.call("GET", f"users/{key}/presence", as_user=HAMLET)
        assert_error(response, "No such user")
    response = await api.call("GET", f"users/{api.user(OTHELLO).id}/presence", as_user=HAMLET)
    assert_error(response, f"No presence data for {api.user(OTHELLO).id}")
    response = await api.call("GET", f"users/{OTHELLO}/presence", as_user=HAMLET)
    assert_error(response, f"No presence data for {OTHELLO}")
    bot = await create_bot(api)
    response = await api.call("GET", f"users/{bot.id}/presence", as_user=HAMLET)
    assert_error(response, "Presence is not supported for bot users.")
    await ping(api, CORDELIA)
    await do_deactivate_user(api.server, api.user(CORDELIA), None)
    response = await api.call("GET", f"users/{CORDELIA}/presence", as_user=HAMLET)
    assert_error(response, "No such user")
    lear = await do_create_realm(api.server, "lear", "Lear & Co.")
    king = await do_create_user(api.server, lear, email="king@lear.org", full_name="King Lear", password=DEV_PASSWORD)
    await do_update_user_presence(api.server, king, datetime.now(UTC), "active")
    for key in (str(king.id), "king@lear.org"):
        response = await api.call("GET", f"users/{key}/presence", as_user=HAMLET)
        assert_error(response, "No such user")


async def disable_presence(api: ApiHarness, email: str) -> None:
    response = await api.call("PATCH", "settings", {"presence_enabled": False}, as_user=email)
    assert response.status == 200, response.body


@async_test
async def test_users_who_disabled_presence_appear_offline(api: ApiHarness) -> None:
    othello = api.user(OTHELLO)
    await ping(api, OTHELLO)
    await disable_presence(api, OTHELLO)
    now = time.time()
    # What was stored while presence was on still reads as long gone.
    body = await ping(api, HAMLET, last_update_id=-1)
    entry = body["presences"][str(othello.id)]
    assert entry["idle_timestamp"] <= now - PRESENCE_DISABLED_OFFSET_SECS + 1
    assert entry["active_timestamp"] <= now - PRESENCE_DISABLED_OFFSET_SECS + 1
    response = await api.call("GET", f"users/{OTHELLO}/presence", as_user=HAMLET)
    assert response.json()["presence"]["aggregated"]["status"] == "offline"
    # Their own pings are accepted and not recorded.
    stored = await stored_presence(api, othello.id)
    body = await ping(api, OTHELLO, last_update_id=-1)
    assert await stored_presence(api, othello.id) == stored
    assert body["presences"][str(othello.id)]["idle_timestamp"] <= time.time() - OFFLINE_THRESHOLD_SECS
    # Someone who disabled presence before ever pinging has no presence at all.
    await disable_presence(api, CORDELIA)
    await ping(api, CORDELIA, ping_only=True)
    response = await api.call("GET", f"users/{CORDELIA}/presence", as_user=HAMLET)
    assert_error(response, f"No presence data for {CORDELIA}")


@async_test
async def test_turning_presence_off_and_on_is_written_at_once(api: ApiHarness) -> None:
    await ping(api, OTHELLO)
    newest = (await ping(api, HAMLET, last_update_id=-1))["presence_last_update_id"]
    await disable_presence(api, OTHELLO)
    othello = api.user(OTHELLO)
    await do_presence_enabled_changed(api.server, othello, False)
    # Clients that fetch incrementally learn of it: a new write, and offline.
    body = await ping(api, HAMLET, last_update_id=newest)
    entry = body["presences"][str(othello.id)]
    assert entry["idle_timestamp"] <= time.time() - PRESENCE_DISABLED_OFFSET_SECS + 1
    assert entry["active_timestamp"] <= time.time() - PRESENCE_DISABLED_OFFSET_SECS + 1
    newest = body["presence_last_update_id"]
    response = await api.call("PATCH", "settings", {"presence_enabled": True}, as_user=OTHELLO)
    assert response.status == 200
    await do_presence_enabled_changed(api.server, othello, True)
    body = await ping(api, HAMLET, last_update_id=newest)
    entry = body["presences"][str(othello.id)]
    assert abs(entry["active_timestamp"] - time.time()) <= 2
