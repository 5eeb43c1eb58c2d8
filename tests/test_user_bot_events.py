"""Who hears of new users and of bots (realm_user add, realm_bot), and what each of them is told.

A new user is announced to everyone in the organization, as GET /users shows
the user to that receiver; a bot's own object, with its API key, goes only to
its owner and the organization's administrators. Every GET /events answer is
held to the spec (tests.chat_support.call).
"""

from __future__ import annotations

import json
from typing import Any

from tests.chat_support import (
    CORDELIA,
    DESDEMONA,
    HAMLET,
    IAGO,
    OTHELLO,
    POLONIUS,
    call,
    post_bot,
    register,
    success,
)
from tests.support.api import ApiHarness
from tests.support.async_tests import async_test
from tests.test_action_events import heard, queues
from zulipd.actions.users import publish_person_added
from zulipd.storage.users import get_user_by_id_txn

ADMINS_ONLY = 3  # email_address_visibility: administrators


async def patch_bot(api: ApiHarness, acting: str, bot_id: int, **params: Any) -> None:
    success(await call(api, "PATCH", f"bots/{bot_id}", params, as_user=acting, check_spec=False))


async def shown_user(api: ApiHarness, viewer: str, user_id: int, *, client_gravatar: bool) -> dict[str, Any]:
    """The user as GET /users/{user_id} shows them to ``viewer``, custom profile fields (``{}``) included."""
    query = {"client_gravatar": json.dumps(client_gravatar), "include_custom_profile_fields": "true"}
    user: dict[str, Any] = success(await call(api, "GET", f"users/{user_id}", query, as_user=viewer))["user"]
    return user


def of_type(events: list[dict[str, Any]], event_type: str) -> list[dict[str, Any]]:
    return [event for event in events if event["type"] == event_type]


@async_test
async def test_a_new_user_is_announced_to_everyone_as_get_users_shows_them(api: ApiHarness) -> None:
    gravatar = await queues(api, [HAMLET, IAGO, POLONIUS], event_types=["realm_user"])
    urls = await queues(api, [HAMLET], event_types=["realm_user"], client_gravatar=False)
    params = {"email": "ariel@zulip.com", "password": "a long enough password", "full_name": "Ariel"}
    new_id = success(await call(api, "POST", "users", params, as_user=IAGO))["user_id"]
    for email, events in (await heard(api, gravatar)).items():
        expected = await shown_user(api, email, new_id, client_gravatar=True)
        assert events == [{"type": "realm_user", "op": "add", "person": expected}], email
        assert expected["avatar_url"] is None  # the client computes it
    (added,) = (await heard(api, urls))[HAMLET]
    assert added["person"] == await shown_user(api, HAMLET, new_id, client_gravatar=False)
    assert added["person"]["avatar_url"].startswith("https://secure.gravatar.com/avatar/")


@async_test
async def test_who_may_not_see_the_address_gets_the_user_without_it(api: ApiHarness) -> None:
    # Cordelia lets only administrators see her address; announce her as if she were new.
    success(await call(api, "PATCH", "settings", {"email_address_visibility": ADMINS_ONLY}, as_user=CORDELIA))
    listening = await queues(api, [IAGO, HAMLET], event_types=["realm_user"])
    cordelia = api.user(CORDELIA)
    assert api.realm is not None
    user = await api.server.pool.run_reads("cordelia", get_user_by_id_txn, cordelia.realm_id, cordelia.id)
    assert user is not None
    await publish_person_added(api.server, api.realm, user)
    events = await heard(api, listening)
    for email in (IAGO, HAMLET):
        expected = await shown_user(api, email, cordelia.id, client_gravatar=True)
        assert events[email] == [{"type": "realm_user", "op": "add", "person": expected}], email
    iago_sees, hamlet_sees = events[IAGO][0]["person"], events[HAMLET][0]["person"]
    assert iago_sees["delivery_email"] == cordelia.delivery_email
    assert iago_sees["avatar_url"] is None
    # Hamlet may not see the address, so he cannot compute the Gravatar URL from it either.
    assert hamlet_sees["delivery_email"] is None
    assert hamlet_sees["avatar_url"] is not None


@async_test
async def test_a_new_bot_and_its_key_reach_its_owner_and_the_administrators_only(api: ApiHarness) -> None:
    everyone = [HAMLET, IAGO, DESDEMONA, OTHELLO, POLONIUS]
    listening = await queues(api, everyone, event_types=["realm_user", "realm_bot"])
    url = "https://bots.example.com/hook"
    bot_id = await post_bot(api, HAMLET, "hook", bot_type=3, payload_url=json.dumps(url))
    events = await heard(api, listening)
    bot_user = await shown_user(api, IAGO, bot_id, client_gravatar=True)
    assert (bot_user["is_bot"], bot_user["bot_owner_id"]) == (True, api.user(HAMLET).id)
    for email in everyone:
        assert of_type(events[email], "realm_user") == [{"type": "realm_user", "op": "add", "person": bot_user}]
    (added,) = of_type(events[HAMLET], "realm_bot")
    bot = added["bot"]
    assert added["op"] == "add"
    assert {key: value for key, value in bot.items() if key not in ("api_key", "avatar_url")} == {
        "user_id": bot_id, "email": bot_user["email"], "full_name": "Hook Bot", "bot_type": 3, "is_active": True,
        "default_sending_stream": None, "default_events_register_stream": None, "default_all_public_streams": False,
        "owner_id": api.user(HAMLET).id,
        "services": [{"base_url": url, "interface": 1, "token": bot["services"][0]["token"]}],
    }  # fmt: skip
    assert of_type(events[IAGO], "realm_bot") == of_type(events[DESDEMONA], "realm_bot") == [added]
    assert of_type(events[OTHELLO], "realm_bot") == of_type(events[POLONIUS], "realm_bot") == []
    # A new key: told to the same three, and nobody else ever sees it.
    body = success(await call(api, "POST", f"bots/{bot_id}/api_key/regenerate", as_user=IAGO, check_spec=False))
    events = await heard(api, listening)
    update = {"type": "realm_bot", "op": "update", "bot": {"user_id": bot_id, "api_key": body["api_key"]}}
    assert {email: events[email] for email in everyone} == {
        HAMLET: [update], IAGO: [update], DESDEMONA: [update], OTHELLO: [], POLONIUS: []}  # fmt: skip
    # The state agrees: the administrators and the owner have the bot, the others do not.
    for email, has_it in [(HAMLET, True), (IAGO, True), (OTHELLO, False), (POLONIUS, False)]:
        state = await register(api, email, fetch_event_types=["realm_bot"], event_types=["realm_bot"])
        assert [entry["api_key"] for entry in state["realm_bots"] if entry["user_id"] == bot_id] == (
            [body["api_key"]] if has_it else []
        ), email


@async_test
async def test_changing_a_bot_tells_who_administers_it(api: ApiHarness) -> None:
    bot_id = await post_bot(api, HAMLET, "helper", bot_type=4, service_name="converter")
    listening = await queues(api, [HAMLET, IAGO, OTHELLO], event_types=["realm_user", "realm_bot"])
    await patch_bot(api, HAMLET, bot_id, full_name="Helpful Bot", config_data=json.dumps({"unit": "metric"}))
    events = await heard(api, listening)
    renamed = {"type": "realm_user", "op": "update", "person": {"user_id": bot_id, "full_name": "Helpful Bot"}}
    bot_renamed = {"type": "realm_bot", "op": "update", "bot": {"user_id": bot_id, "full_name": "Helpful Bot"}}
    services = [{"service_name": "converter", "config_data": {"unit": "metric"}}]
    configured = {"type": "realm_bot", "op": "update", "bot": {"user_id": bot_id, "services": services}}
    assert events == {HAMLET: [renamed, bot_renamed, configured], IAGO: [renamed, bot_renamed, configured],
                      OTHELLO: [renamed]}  # fmt: skip
    # The same configuration again: nothing changed, nothing said.
    await patch_bot(api, HAMLET, bot_id, config_data=json.dumps({"unit": "metric"}))
    assert await heard(api, listening) == {HAMLET: [], IAGO: [], OTHELLO: []}


@async_test
async def test_a_new_owner_gains_the_bot_and_the_old_one_loses_it(api: ApiHarness) -> None:
    bot_id = await post_bot(api, HAMLET, "relay")
    listening = await queues(api, [HAMLET, OTHELLO, IAGO, CORDELIA], event_types=["realm_user", "realm_bot"])
    othello = api.user(OTHELLO).id
    await patch_bot(api, HAMLET, bot_id, bot_owner_id=othello)
    events = await heard(api, listening)
    new_owner = {"type": "realm_user", "op": "update", "person": {"user_id": bot_id, "bot_owner_id": othello}}
    assert events[HAMLET] == [new_owner, {"type": "realm_bot", "op": "delete", "bot": {"user_id": bot_id}}]
    assert events[CORDELIA] == [new_owner]
    assert events[IAGO] == [new_owner, {"type": "realm_bot", "op": "update",
                                        "bot": {"user_id": bot_id, "owner_id": othello}}]  # fmt: skip
    gained, added = events[OTHELLO]
    assert gained == new_owner
    assert (added["op"], added["bot"]["user_id"], added["bot"]["owner_id"]) == ("add", bot_id, othello)
    # The api_key is the bot's current one, as GET /bots gives it to its new owner.
    (listed,) = success(await call(api, "GET", "bots", as_user=OTHELLO, check_spec=False))["bots"]
    assert added["bot"]["api_key"] == listed["api_key"]


@async_test
async def test_deactivation_and_reactivation(api: ApiHarness) -> None:
    bot_id = await post_bot(api, HAMLET, "relay")
    listening = await queues(api, [HAMLET, IAGO, OTHELLO], event_types=["realm_user", "realm_bot"])
    success(await call(api, "DELETE", f"bots/{bot_id}", as_user=HAMLET, check_spec=False))
    success(await call(api, "POST", f"users/{bot_id}/reactivate", as_user=IAGO))
    events = await heard(api, listening)

    def both(active: bool) -> list[dict[str, Any]]:
        return [{"type": "realm_user", "op": "update", "person": {"user_id": bot_id, "is_active": active}},
                {"type": "realm_bot", "op": "update", "bot": {"user_id": bot_id, "is_active": active}}]  # fmt: skip

    assert events[HAMLET] == events[IAGO] == both(False) + both(True)
    assert events[OTHELLO] == [both(False)[0], both(True)[0]]
    # Deactivating the owner deactivates the bot; those who could see it hear of both.
    hamlet = api.user(HAMLET).id
    del listening[HAMLET]  # who can no longer poll
    success(await call(api, "DELETE", f"users/{hamlet}", as_user=IAGO))
    events = await heard(api, listening)
    gone = {"type": "realm_user", "op": "update", "person": {"user_id": hamlet, "is_active": False}}
    assert of_type(events[IAGO], "realm_bot") == [both(False)[1]]
    assert of_type(events[OTHELLO], "realm_user") == [both(False)[0], gone]
    assert of_type(events[OTHELLO], "realm_bot") == []
