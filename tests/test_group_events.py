"""user_group events: their exact shape for each change, and who hears them.

Zulip sends every user_group event to all active users of the organization,
guests and bots included, and to nobody else. Each GET /events answer is held
to the spec (tests.chat_support.call), so each event is checked against the
spec's schema for its op too.
"""

from __future__ import annotations

import json
from typing import Any

from tests.chat_support import CORDELIA, HAMLET, IAGO, OTHELLO, POLONIUS, call, register, success
from tests.support.api import ApiHarness
from tests.support.async_tests import async_test
from tests.test_action_events import heard, queues
from zulipd.actions.realms import do_create_realm
from zulipd.actions.users import do_create_user
from zulipd.events.queue import QueueOptions

GROUP_EVENTS = {"event_types": ["user_group"]}
KEEPS_DEACTIVATED = {"client_capabilities": {"include_deactivated_groups": True}}


async def all_groups(api: ApiHarness) -> dict[str, dict[str, Any]]:
    body = success(await call(api, "GET", "user_groups", {"include_deactivated_groups": True}, as_user=IAGO))
    return {group["name"]: group for group in body["user_groups"]}


async def create_group(api: ApiHarness, name: str, members: list[int], **extra: Any) -> int:
    params = {"name": name, "description": f"The {name}", "members": members, **extra}
    group_id: int = success(await call(api, "POST", "user_groups/create", params, as_user=HAMLET))["group_id"]
    return group_id


@async_test
async def test_every_active_user_of_the_organization_hears_and_nobody_else(api: ApiHarness) -> None:
    listening = await queues(api, [HAMLET, IAGO, POLONIUS, OTHELLO], **GROUP_EVENTS)
    elsewhere = await queues(api, [CORDELIA], event_types=["message"])  # a queue that did not ask for them
    # Othello is deactivated while his queue lives on: he hears nothing more.
    othello = api.user(OTHELLO)
    success(await call(api, "DELETE", f"users/{othello.id}", as_user=IAGO))
    othello_queue = api.server.events.get(listening.pop(OTHELLO), othello.id)
    othello_queue.prune(max((event["id"] for event in othello_queue.events()), default=-1))
    # A user of another organization, with a queue that accepts everything.
    other_realm = await do_create_realm(api.server, "elsewhere", "Elsewhere")
    stranger = await do_create_user(api.server, other_realm, email="stranger@example.com", full_name="Stranger",
                                    password=None)  # fmt: skip
    stranger_queue = api.server.events.register(stranger.id, other_realm.id, QueueOptions())
    stranger_queue.prune(max((event["id"] for event in stranger_queue.events()), default=-1))

    await create_group(api, "crew", [api.user(CORDELIA).id])
    events = await heard(api, listening)
    (created,) = events[HAMLET]
    assert created["op"] == "add"
    assert events == {HAMLET: [created], IAGO: [created], POLONIUS: [created]}
    assert await heard(api, elsewhere) == {CORDELIA: []}
    assert othello_queue.events() == []
    assert stranger_queue.events() == []


@async_test
async def test_the_guest_and_the_members_hear_the_same(api: ApiHarness) -> None:
    listening = await queues(api, [HAMLET, POLONIUS], **GROUP_EVENTS)
    await create_group(api, "crew", [api.user(CORDELIA).id])
    events = await heard(api, listening)
    assert len(events[HAMLET]) == 1
    assert events[POLONIUS] == events[HAMLET]
    # A guest's register carries the groups too (Zulip gives realm_user_groups to every user).
    state = await register(api, POLONIUS, fetch_event_types=["realm_user_groups"], event_types=["user_group"])
    assert state["realm_user_groups"] == list((await all_groups(api)).values())


@async_test
async def test_the_shape_of_each_event(api: ApiHarness) -> None:
    cordelia, othello, iago = api.user(CORDELIA).id, api.user(OTHELLO).id, api.user(IAGO).id
    listening = await queues(api, [OTHELLO], **GROUP_EVENTS)
    crew = await create_group(api, "crew", [cordelia])
    # Created with members and a subgroup: the group as GET /user_groups shows it.
    squad = await create_group(api, "squad", [othello, cordelia], subgroups=json.dumps([crew]))
    groups = await all_groups(api)
    assert await heard(api, listening) == {OTHELLO: [
        {"type": "user_group", "op": "add", "group": groups["crew"]},
        {"type": "user_group", "op": "add", "group": groups["squad"]},
    ]}  # fmt: skip
    assert (sorted(groups["squad"]["members"]), groups["squad"]["direct_subgroup_ids"]) == (
        sorted([othello, cordelia]), [crew])  # fmt: skip

    # One update per changed property, in the order of the request's fields; unchanged ones say nothing.
    members = groups["squad"]["can_join_group"]
    mention = {"new": {"direct_members": [iago], "direct_subgroups": [crew]}}
    params = {"name": "team", "description": "The squad", "can_mention_group": json.dumps(mention),
              "can_join_group": json.dumps({"new": members})}  # fmt: skip
    success(await call(api, "PATCH", f"user_groups/{squad}", params, as_user=HAMLET))
    update = {"type": "user_group", "op": "update", "group_id": squad}
    assert await heard(api, listening) == {OTHELLO: [
        {**update, "data": {"name": "team"}},
        {**update, "data": {"can_mention_group": {"direct_members": [iago], "direct_subgroups": [crew]}}},
    ]}  # fmt: skip
    # An anonymous group of one group is that group.
    single = {"new": {"direct_members": [], "direct_subgroups": [crew]}}
    success(await call(api, "PATCH", f"user_groups/{squad}", {"can_mention_group": json.dumps(single)}, as_user=HAMLET))
    assert await heard(api, listening) == {OTHELLO: [{**update, "data": {"can_mention_group": crew}}]}

    # Members and subgroups: adding, then removing, in one request, in Zulip's order.
    params = {"add": json.dumps([iago]), "delete": json.dumps([cordelia]), "delete_subgroups": json.dumps([crew])}
    success(await call(api, "POST", f"user_groups/{squad}/members", params, as_user=HAMLET))
    assert await heard(api, listening) == {OTHELLO: [
        {"type": "user_group", "op": "add_members", "group_id": squad, "user_ids": [iago]},
        {"type": "user_group", "op": "remove_members", "group_id": squad, "user_ids": [cordelia]},
        {"type": "user_group", "op": "remove_subgroups", "group_id": squad, "direct_subgroup_ids": [crew]},
    ]}  # fmt: skip
    success(await call(api, "POST", f"user_groups/{squad}/subgroups", {"add": json.dumps([crew])}, as_user=HAMLET))
    assert await heard(api, listening) == {OTHELLO: [
        {"type": "user_group", "op": "add_subgroups", "group_id": squad, "direct_subgroup_ids": [crew]},
    ]}  # fmt: skip
    # A refused change says nothing.
    response = await call(api, "POST", f"user_groups/{squad}/members", {"add": json.dumps([iago])}, as_user=HAMLET)
    assert response.status == 400
    assert await heard(api, listening) == {OTHELLO: []}


@async_test
async def test_deactivation_is_an_update_or_a_remove_by_capability(api: ApiHarness) -> None:
    keeping = await queues(api, [HAMLET], **GROUP_EVENTS, **KEEPS_DEACTIVATED)
    dropping = await queues(api, [HAMLET], **GROUP_EVENTS)
    crew = await create_group(api, "crew", [api.user(CORDELIA).id])
    await heard(api, keeping)
    await heard(api, dropping)
    success(await call(api, "POST", f"user_groups/{crew}/deactivate", as_user=HAMLET))
    deactivated = {"type": "user_group", "op": "update", "group_id": crew, "data": {"deactivated": True}}
    assert await heard(api, keeping) == {HAMLET: [deactivated]}
    assert await heard(api, dropping) == {HAMLET: [{"type": "user_group", "op": "remove", "group_id": crew}]}
    # Renaming a deactivated group: only clients that keep deactivated groups hear of it; a description, all.
    params = {"name": "old crew", "description": "gone"}
    success(await call(api, "PATCH", f"user_groups/{crew}", params, as_user=HAMLET))
    update = {"type": "user_group", "op": "update", "group_id": crew}
    assert await heard(api, keeping) == {HAMLET: [{**update, "data": {"name": "old crew"}},
                                                  {**update, "data": {"description": "gone"}}]}  # fmt: skip
    assert await heard(api, dropping) == {HAMLET: [{**update, "data": {"description": "gone"}}]}


@async_test
async def test_a_role_change_moves_the_user_between_system_groups(api: ApiHarness) -> None:
    ids = {name: group["id"] for name, group in (await all_groups(api)).items()}
    hamlet = api.user(HAMLET).id
    listening = await queues(api, [CORDELIA, POLONIUS], **GROUP_EVENTS)
    success(await call(api, "PATCH", f"users/{hamlet}", {"role": 300}, as_user=IAGO))
    expected = [
        {"type": "user_group", "op": "remove_members", "group_id": ids["role:members"], "user_ids": [hamlet]},
        {"type": "user_group", "op": "remove_members", "group_id": ids["role:fullmembers"], "user_ids": [hamlet]},
        {"type": "user_group", "op": "add_members", "group_id": ids["role:moderators"], "user_ids": [hamlet]},
    ]
    assert await heard(api, listening) == {CORDELIA: expected, POLONIUS: expected}


@async_test
async def test_reactivation_puts_the_user_back_in_their_groups(api: ApiHarness) -> None:
    ids = {name: group["id"] for name, group in (await all_groups(api)).items()}
    cordelia = api.user(CORDELIA).id
    named = sorted([cordelia, api.user(IAGO).id])
    mention = json.dumps({"direct_members": named, "direct_subgroups": []})
    crew = await create_group(api, "crew", [cordelia], can_mention_group=mention)
    success(await call(api, "DELETE", f"users/{cordelia}", as_user=IAGO))
    listening = await queues(api, [HAMLET], **GROUP_EVENTS)
    success(await call(api, "POST", f"users/{cordelia}/reactivate", as_user=IAGO))
    added = {"type": "user_group", "op": "add_members", "user_ids": [cordelia]}
    assert await heard(api, listening) == {HAMLET: [
        {**added, "group_id": ids["role:members"]},
        {**added, "group_id": ids["role:fullmembers"]},
        {**added, "group_id": crew},
        {"type": "user_group", "op": "update", "group_id": crew,
         "data": {"can_mention_group": {"direct_members": named, "direct_subgroups": []}}},
    ]}  # fmt: skip
