"""The events each action sends, to exactly the users allowed to see them.

Every test registers queues for users who should and should not hear of a
change, makes the change through the API, and reads each queue at once. Each
GET /events answer is held to the spec (tests.chat_support.call).
"""

from __future__ import annotations

from typing import Any

from tests.chat_support import (
    CORDELIA,
    DESDEMONA,
    HAMLET,
    IAGO,
    OTHELLO,
    POLONIUS,
    PROSPERO,
    call,
    create_channel,
    queued_events,
    register,
    send_direct,
    send_stream,
    subscribe,
    success,
)
from tests.support.api import ApiHarness
from tests.support.async_tests import async_test


async def queues(api: ApiHarness, emails: list[str], **params: Any) -> dict[str, str]:
    return {email: (await register(api, email, **params))["queue_id"] for email in emails}


async def heard(api: ApiHarness, queue_ids: dict[str, str]) -> dict[str, list[dict[str, Any]]]:
    """Each user's events since the last call, without their ids (and acknowledged, as a client does)."""
    result = {}
    for email, queue_id in queue_ids.items():
        events = await queued_events(api, email, queue_id, _acknowledged.get(queue_id, -1))
        if events:
            _acknowledged[queue_id] = events[-1]["id"]
        result[email] = [{key: value for key, value in event.items() if key != "id"} for event in events]
    return result


# queue id -> the last event id heard() saw in it.
_acknowledged: dict[str, int] = {}


def person(api: ApiHarness, email: str) -> dict[str, Any]:
    user = api.user(email)
    return {"user_id": user.id, "email": user.email}


@async_test
async def test_reactions_reach_everyone_who_may_read_the_message(api: ApiHarness) -> None:
    # Shared history: Othello joins after the message and still may react, and hear of reactions.
    await create_channel(api, IAGO, "club", invite_only=True, history_public_to_subscribers=True,
                         principals=[HAMLET, CORDELIA])  # fmt: skip
    message_id = await send_stream(api, HAMLET, "club", "plans", "party?")
    await subscribe(api, IAGO, "club", [OTHELLO])
    listening = await queues(api, [HAMLET, CORDELIA, OTHELLO, POLONIUS], event_types=["reaction"])
    params = {"emoji_name": "octopus"}
    success(await call(api, "POST", f"messages/{message_id}/reactions", params, as_user=CORDELIA))
    success(await call(api, "DELETE", f"messages/{message_id}/reactions", params, as_user=CORDELIA))
    cordelia = api.user(CORDELIA)
    reaction = {
        "type": "reaction",
        "message_id": message_id,
        "emoji_name": "octopus",
        "emoji_code": "1f419",
        "reaction_type": "unicode_emoji",
        "user_id": cordelia.id,
        "user": {"user_id": cordelia.id, "email": cordelia.email, "full_name": cordelia.full_name},
    }
    expected = [{**reaction, "op": "add"}, {**reaction, "op": "remove"}]
    assert await heard(api, listening) == {HAMLET: expected, CORDELIA: expected, OTHELLO: expected, POLONIUS: []}


@async_test
async def test_deleting_a_message_tells_its_readers(api: ApiHarness) -> None:
    await create_channel(api, IAGO, "vault", invite_only=True, principals=[HAMLET])
    message_id = await send_stream(api, HAMLET, "vault", "gold", "hidden")
    bulk = await queues(api, [HAMLET, IAGO, OTHELLO], event_types=["delete_message"],
                        client_capabilities={"bulk_message_deletion": True})  # fmt: skip
    legacy = await queues(api, [HAMLET], event_types=["delete_message"])
    success(await call(api, "DELETE", f"messages/{message_id}", as_user=IAGO))
    stream_id = (await api.call("GET", "get_stream_id", {"stream": "vault"}, as_user=HAMLET)).json()["stream_id"]
    deleted = {"type": "delete_message", "message_type": "stream", "stream_id": stream_id, "topic": "gold"}
    assert await heard(api, bulk) == {HAMLET: [{**deleted, "message_ids": [message_id]}],
                                      IAGO: [{**deleted, "message_ids": [message_id]}], OTHELLO: []}  # fmt: skip
    assert await heard(api, legacy) == {HAMLET: [{**deleted, "message_id": message_id}]}
    direct = await send_direct(api, HAMLET, [CORDELIA], "oops")
    listening = await queues(api, [CORDELIA, OTHELLO], event_types=["delete_message"],
                             client_capabilities={"bulk_message_deletion": True})  # fmt: skip
    success(await call(api, "DELETE", f"messages/{direct}", as_user=HAMLET))
    assert await heard(api, listening) == {
        CORDELIA: [{"type": "delete_message", "message_type": "private", "message_ids": [direct]}],
        OTHELLO: [],
    }


@async_test
async def test_flag_changes_go_to_their_user_only(api: ApiHarness) -> None:
    await create_channel(api, IAGO, "garden", principals=[HAMLET])
    first = await send_stream(api, IAGO, "garden", "roses", "red")
    second = await send_direct(api, CORDELIA, [HAMLET, OTHELLO], "hi all")
    listening = await queues(api, [HAMLET, IAGO], event_types=["update_message_flags"])
    params = {"messages": [first, second], "op": "add", "flag": "starred"}
    success(await call(api, "POST", "messages/flags", params, as_user=HAMLET))
    success(await call(api, "POST", "mark_all_as_read", as_user=HAMLET))
    success(await call(api, "POST", "messages/flags", {**params, "op": "remove", "flag": "read"}, as_user=HAMLET))
    events = await heard(api, listening)
    assert events[IAGO] == []
    garden = (await api.call("GET", "get_stream_id", {"stream": "garden"}, as_user=HAMLET)).json()["stream_id"]
    starred, read, unread = events[HAMLET]
    flags = {"type": "update_message_flags", "all": False, "messages": [first, second]}
    assert starred == {**flags, "op": "add", "operation": "add", "flag": "starred"}
    assert read == {**flags, "op": "add", "operation": "add", "flag": "read"}
    assert unread == {
        **flags,
        "op": "remove",
        "operation": "remove",
        "flag": "read",
        # "mentioned" appears only for messages that mention the user (none here).
        "message_details": {
            str(first): {"type": "stream", "stream_id": garden, "topic": "roses", "unmuted_stream_msg": True},
            str(second): {"type": "private", "user_ids": sorted([api.user(CORDELIA).id, api.user(OTHELLO).id])},
        },
    }  # fmt: skip
    # Nothing changed, nothing said.
    success(await call(api, "POST", "messages/flags", params, as_user=HAMLET))
    assert await heard(api, listening) == {HAMLET: [], IAGO: []}


@async_test
async def test_starred_flags_merge_while_queued(api: ApiHarness) -> None:
    ids = [await send_direct(api, CORDELIA, [HAMLET], f"n{n}") for n in range(3)]
    queue_id = (await register(api, HAMLET, event_types=["update_message_flags"]))["queue_id"]
    for message_id in ids:
        params = {"messages": [message_id], "op": "add", "flag": "starred"}
        success(await call(api, "POST", "messages/flags", params, as_user=HAMLET))
    (merged,) = await queued_events(api, HAMLET, queue_id)
    assert merged["messages"] == ids
    assert merged["id"] == 2


@async_test
async def test_topic_preferences_are_told_to_their_user(api: ApiHarness) -> None:
    await create_channel(api, IAGO, "garden", principals=[HAMLET])
    stream_id = (await api.call("GET", "get_stream_id", {"stream": "garden"}, as_user=HAMLET)).json()["stream_id"]
    listening = await queues(api, [HAMLET, IAGO], event_types=["user_topic"])
    params = {"stream_id": stream_id, "topic": "roses", "visibility_policy": 1}
    success(await call(api, "POST", "user_topics", params, as_user=HAMLET))
    success(await call(api, "POST", "user_topics", params, as_user=HAMLET))  # no change: no event
    # Starting a topic follows it, and says so.
    await send_stream(api, HAMLET, "garden", "tulips", "new")
    events = await heard(api, listening)
    assert events[IAGO] == []
    muted, followed = events[HAMLET]
    assert {k: v for k, v in muted.items() if k != "last_updated"} == {
        "type": "user_topic", "stream_id": stream_id, "topic_name": "roses", "visibility_policy": 1}  # fmt: skip
    assert (followed["topic_name"], followed["visibility_policy"]) == ("tulips", 3)


@async_test
async def test_typing_notices(api: ApiHarness) -> None:
    await create_channel(api, IAGO, "garden", principals=[HAMLET, CORDELIA])
    garden = (await api.call("GET", "get_stream_id", {"stream": "garden"}, as_user=HAMLET)).json()["stream_id"]
    success(await call(api, "PATCH", "settings", {"receives_typing_notifications": False}, as_user=OTHELLO))
    capable = {"client_capabilities": {"stream_typing_notifications": True}, "event_types": ["typing"]}
    listening = await queues(api, [HAMLET, CORDELIA, OTHELLO, IAGO], **capable)
    plain = await queues(api, [CORDELIA], event_types=["typing"])
    to = [api.user(CORDELIA).id, api.user(OTHELLO).id]
    success(await call(api, "POST", "typing", {"op": "start", "to": to}, as_user=HAMLET))
    params = {"op": "stop", "type": "stream", "stream_id": garden, "topic": "roses"}
    success(await call(api, "POST", "typing", params, as_user=HAMLET))
    direct = {
        "type": "typing",
        "op": "start",
        "message_type": "direct",
        "sender": person(api, HAMLET),
        "recipients": sorted([person(api, e) for e in (HAMLET, CORDELIA, OTHELLO)], key=lambda p: p["user_id"]),
    }
    channel = {"type": "typing", "op": "stop", "message_type": "stream", "sender": person(api, HAMLET),
               "stream_id": garden, "topic": "roses"}  # fmt: skip
    assert await heard(api, listening) == {
        HAMLET: [direct, channel],
        CORDELIA: [direct, channel],
        OTHELLO: [],  # receives_typing_notifications is off
        IAGO: [channel],  # the channel's creator is subscribed
    }
    # Without the stream_typing_notifications capability, only direct-message notices.
    assert await heard(api, plain) == {CORDELIA: [direct]}


@async_test
async def test_notices_of_editing_a_message(api: ApiHarness) -> None:
    await create_channel(api, IAGO, "garden", principals=[HAMLET, CORDELIA])
    garden = (await api.call("GET", "get_stream_id", {"stream": "garden"}, as_user=HAMLET)).json()["stream_id"]
    in_channel = await send_stream(api, HAMLET, "garden", "roses", "red")
    direct_id = await send_direct(api, HAMLET, [CORDELIA, OTHELLO], "to two")
    success(await call(api, "PATCH", "settings", {"receives_typing_notifications": False}, as_user=OTHELLO))
    listening = await queues(api, [HAMLET, CORDELIA, OTHELLO, IAGO, PROSPERO], event_types=["typing_edit_message"])
    others = await queues(api, [CORDELIA], event_types=["typing"])
    success(await call(api, "POST", f"messages/{in_channel}/typing", {"op": "start"}, as_user=HAMLET))
    success(await call(api, "POST", f"messages/{direct_id}/typing", {"op": "stop"}, as_user=HAMLET))
    channel = {
        "type": "typing_edit_message",
        "op": "start",
        "sender_id": api.user(HAMLET).id,
        "message_id": in_channel,
        "recipient": {"type": "channel", "channel_id": garden, "topic": "roses"},
    }
    members = sorted(api.user(email).id for email in (HAMLET, CORDELIA, OTHELLO))
    direct = {"type": "typing_edit_message", "op": "stop", "sender_id": api.user(HAMLET).id,
              "message_id": direct_id, "recipient": {"type": "direct", "user_ids": members}}  # fmt: skip
    assert await heard(api, listening) == {
        HAMLET: [channel, direct],
        CORDELIA: [channel, direct],
        OTHELLO: [],  # receives_typing_notifications is off
        IAGO: [channel],  # subscribed to the channel, not in the conversation
        PROSPERO: [],
    }
    # Queues that asked for typing events only hear none of these.
    assert await heard(api, others) == {CORDELIA: []}


@async_test
async def test_edits_and_moves_tell_every_reader(api: ApiHarness) -> None:
    await create_channel(api, IAGO, "garden", principals=[HAMLET, CORDELIA])
    await create_channel(api, IAGO, "vault", invite_only=True, principals=[HAMLET])
    garden = (await api.call("GET", "get_stream_id", {"stream": "garden"}, as_user=HAMLET)).json()["stream_id"]
    vault = (await api.call("GET", "get_stream_id", {"stream": "vault"}, as_user=HAMLET)).json()["stream_id"]
    message_id = await send_stream(api, HAMLET, "garden", "roses", "red")
    later = await send_stream(api, CORDELIA, "garden", "roses", "pink")
    listening = await queues(api, [HAMLET, CORDELIA, OTHELLO], event_types=["update_message", "delete_message"],
                             client_capabilities={"bulk_message_deletion": True})  # fmt: skip
    success(await call(api, "PATCH", f"messages/{message_id}", {"content": "crimson"}, as_user=HAMLET))
    events = await heard(api, listening)
    assert events[OTHELLO] == []  # a non-subscriber of a public channel is not told (Zulip: rows and subscribers)
    (edit,) = events[HAMLET]
    assert {k: v for k, v in edit.items() if k != "edit_timestamp"} == {
        "type": "update_message", "user_id": api.user(HAMLET).id, "message_id": message_id,
        "message_ids": [message_id], "rendering_only": False, "stream_name": "garden", "stream_id": garden,
        "orig_content": "red", "orig_rendered_content": "<p>red</p>", "content": "crimson",
        "rendered_content": "<p>crimson</p>", "is_me_message": False, "flags": ["read"],
    }  # fmt: skip
    assert events[CORDELIA][0]["flags"] == []
    # Moving the topic to a private channel: Cordelia may no longer read it, and is told it is gone.
    params = {"topic": "gems", "stream_id": vault, "propagate_mode": "change_all"}
    success(await call(api, "PATCH", f"messages/{message_id}", params, as_user=IAGO))
    events = await heard(api, listening)
    (move,) = events[HAMLET]
    assert (move["message_ids"], move["orig_subject"], move["subject"]) == ([message_id, later], "roses", "gems")
    assert (move["stream_id"], move["new_stream_id"], move["propagate_mode"]) == (garden, vault, "change_all")
    assert events[CORDELIA] == [{"type": "delete_message", "message_type": "stream", "message_ids": [message_id, later],
                                 "stream_id": garden, "topic": "roses"}]  # fmt: skip
    assert events[OTHELLO] == []


@async_test
async def test_creating_and_joining_channels(api: ApiHarness) -> None:
    watching = ["subscription", "stream"]
    listening = await queues(api, [HAMLET, CORDELIA, OTHELLO, POLONIUS], event_types=watching)
    await create_channel(api, IAGO, "garden", principals=[HAMLET])
    events = await heard(api, listening)
    garden = (await api.call("GET", "get_stream_id", {"stream": "garden"}, as_user=HAMLET)).json()["stream_id"]
    iago, hamlet = api.user(IAGO).id, api.user(HAMLET).id
    (created,) = [event for event in events[CORDELIA] if event["type"] == "stream"]
    assert (created["op"], [stream["name"] for stream in created["streams"]]) == ("create", ["garden"])
    # Hamlet was added: his subscription object, with the subscribers as they are now.
    added = [event for event in events[HAMLET] if event["type"] == "subscription" and event["op"] == "add"]
    assert [(sub["name"], sorted(sub["subscribers"])) for sub in added[0]["subscriptions"]] == [
        ("garden", sorted([iago, hamlet]))
    ]
    # Members see who joins a public channel; a guest does not even see the channel.
    peer_adds = [event for event in events[CORDELIA] if event.get("op") == "peer_add"]
    assert {user_id for event in peer_adds for user_id in event["user_ids"]} == {iago, hamlet}
    assert all(event["stream_ids"] == [garden] for event in peer_adds)
    assert events[POLONIUS] == []
    # Leaving.
    success(await call(api, "DELETE", "users/me/subscriptions", {"subscriptions": ["garden"]}, as_user=HAMLET))
    events = await heard(api, listening)
    assert events[HAMLET] == [{"type": "subscription", "op": "remove",
                               "subscriptions": [{"name": "garden", "stream_id": garden}]}]  # fmt: skip
    assert events[OTHELLO] == [{"type": "subscription", "op": "peer_remove", "stream_ids": [garden],
                                "user_ids": [hamlet]}]  # fmt: skip
    assert events[POLONIUS] == []


@async_test
async def test_private_channels_are_announced_to_their_subscribers_only(api: ApiHarness) -> None:
    listening = await queues(api, [HAMLET, CORDELIA, IAGO, DESDEMONA], event_types=["subscription", "stream"])
    await create_channel(api, HAMLET, "secret", invite_only=True, principals=[CORDELIA])
    events = await heard(api, listening)
    assert events[IAGO] == []  # an administrator, not subscribed: nothing, not even that it exists
    assert events[DESDEMONA] == []
    assert any(event["type"] == "stream" for event in events[CORDELIA])
    assert any(event.get("op") == "add" for event in events[CORDELIA])


@async_test
async def test_personal_channel_settings(api: ApiHarness) -> None:
    await create_channel(api, IAGO, "garden", principals=[HAMLET])
    garden = (await api.call("GET", "get_stream_id", {"stream": "garden"}, as_user=HAMLET)).json()["stream_id"]
    listening = await queues(api, [HAMLET, IAGO], event_types=["subscription"])
    changes = [{"stream_id": garden, "property": "in_home_view", "value": False},
               {"stream_id": garden, "property": "color", "value": "#aabbcc"}]  # fmt: skip
    success(await call(api, "POST", "users/me/subscriptions/properties", {"subscription_data": changes},
                       as_user=HAMLET))  # fmt: skip
    assert await heard(api, listening) == {
        HAMLET: [
            {"type": "subscription", "op": "update", "stream_id": garden, "property": "is_muted", "value": True},
            {"type": "subscription", "op": "update", "stream_id": garden, "property": "color", "value": "#aabbcc"},
        ],
        IAGO: [],
    }


@async_test
async def test_changing_and_archiving_a_channel(api: ApiHarness) -> None:
    await create_channel(api, IAGO, "garden", principals=[HAMLET])
    garden = (await api.call("GET", "get_stream_id", {"stream": "garden"}, as_user=HAMLET)).json()["stream_id"]
    listening = await queues(api, [HAMLET, CORDELIA, POLONIUS], event_types=["stream"])
    success(await call(api, "PATCH", f"streams/{garden}", {"description": "Roses & more"}, as_user=IAGO))
    success(await call(api, "PATCH", f"streams/{garden}", {"new_name": "orchard"}, as_user=IAGO))
    events = await heard(api, listening)
    described = {"type": "stream", "op": "update", "stream_id": garden, "name": "garden", "property": "description",
                 "value": "Roses & more", "rendered_description": "<p>Roses &amp; more</p>"}  # fmt: skip
    renamed = {"type": "stream", "op": "update", "stream_id": garden, "name": "orchard", "property": "name",
               "value": "orchard"}  # fmt: skip
    assert events == {HAMLET: [described, renamed], CORDELIA: [described, renamed], POLONIUS: []}
    # Making it private: Cordelia, who is not subscribed, hears that and no more.
    success(await call(api, "PATCH", f"streams/{garden}", {"is_private": True}, as_user=IAGO))
    events = await heard(api, listening)
    assert [(e["property"], e["value"], e["history_public_to_subscribers"]) for e in events[CORDELIA]] == [
        ("invite_only", True, False)
    ]
    success(await call(api, "PATCH", f"streams/{garden}", {"description": "secret"}, as_user=IAGO))
    events = await heard(api, listening)
    assert [e["property"] for e in events[HAMLET]] == ["description"]
    assert events[CORDELIA] == []
    success(await call(api, "DELETE", f"streams/{garden}", as_user=IAGO))
    events = await heard(api, listening)
    (deleted,) = events[HAMLET]
    assert deleted == {"type": "stream", "op": "delete", "streams": [{"stream_id": garden}], "stream_ids": [garden]}
    assert events[CORDELIA] == []


@async_test
async def test_settings_names_roles_and_activity(api: ApiHarness) -> None:
    listening = await queues(api, [HAMLET, CORDELIA], event_types=["user_settings", "realm_user"])
    success(await call(api, "PATCH", "settings", {"enter_sends": True, "full_name": "Prince Hamlet"}, as_user=HAMLET))
    hamlet = api.user(HAMLET).id
    events = await heard(api, listening)
    setting = {"type": "user_settings", "op": "update", "property": "enter_sends", "value": True}
    renamed = {"type": "realm_user", "op": "update", "person": {"user_id": hamlet, "full_name": "Prince Hamlet"}}
    assert sorted(map(str, events[HAMLET])) == sorted(map(str, [setting, renamed]))
    assert events[CORDELIA] == [renamed]  # settings are personal; names are not
    success(await call(api, "PATCH", f"users/{hamlet}", {"role": 300}, as_user=IAGO))
    assert (await heard(api, listening))[CORDELIA] == [
        {"type": "realm_user", "op": "update", "person": {"user_id": hamlet, "role": 300}}
    ]
    othello = api.user(OTHELLO).id
    success(await call(api, "DELETE", f"users/{othello}", as_user=IAGO))
    assert (await heard(api, listening))[CORDELIA] == [
        {"type": "realm_user", "op": "update", "person": {"user_id": othello, "is_active": False}}
    ]


@async_test
async def test_coming_online_is_told_to_the_organization(api: ApiHarness) -> None:
    listening = await queues(api, [HAMLET, CORDELIA], event_types=["presence"])
    success(await call(api, "POST", "users/me/presence", {"status": "active"}, as_user=HAMLET))
    success(await call(api, "POST", "users/me/presence", {"status": "active"}, as_user=HAMLET))  # no news
    events = await heard(api, listening)
    assert events[HAMLET] == events[CORDELIA]
    (online,) = events[CORDELIA]
    assert (online["user_id"], online["email"]) == (api.user(HAMLET).id, api.user(HAMLET).email)
    assert online["presence"]["website"]["status"] == "active"


@async_test
async def test_archiving_is_told_by_each_clients_capability(api: ApiHarness) -> None:
    # Polonius is a guest in the channel; Prospero, made a guest, is not in it and cannot see it.
    garden = await create_channel(api, IAGO, "garden", principals=[HAMLET, POLONIUS])
    success(await call(api, "PATCH", f"users/{api.user(PROSPERO).id}", {"role": 600}, as_user=IAGO))
    capable = await queues(api, [HAMLET, CORDELIA, POLONIUS, PROSPERO], event_types=["stream"],
                           client_capabilities={"archived_channels": True})  # fmt: skip
    legacy = await queues(api, [HAMLET, CORDELIA, POLONIUS], event_types=["stream"])
    success(await call(api, "DELETE", f"streams/{garden}", as_user=IAGO))
    updated = {"type": "stream", "op": "update", "stream_id": garden, "name": "garden", "property": "is_archived",
               "value": True}  # fmt: skip
    deleted = {"type": "stream", "op": "delete", "streams": [{"stream_id": garden}], "stream_ids": [garden]}
    assert await heard(api, capable) == {HAMLET: [updated], CORDELIA: [updated], POLONIUS: [updated], PROSPERO: []}
    assert await heard(api, legacy) == {HAMLET: [deleted], CORDELIA: [deleted], POLONIUS: [deleted]}
    # Later changes to the archived channel reach only the clients that keep it.
    success(await call(api, "PATCH", f"streams/{garden}", {"description": "gone to seed"}, as_user=IAGO))
    assert [event["property"] for event in (await heard(api, capable))[HAMLET]] == ["description"]
    assert await heard(api, legacy) == {HAMLET: [], CORDELIA: [], POLONIUS: []}
    # A private channel: only its subscribers hear of it, administrators not included.
    vault = await create_channel(api, HAMLET, "vault", invite_only=True, principals=[CORDELIA])
    watching = await queues(api, [HAMLET, CORDELIA, IAGO, OTHELLO], event_types=["stream"],
                            client_capabilities={"archived_channels": True})  # fmt: skip
    success(await call(api, "DELETE", f"streams/{vault}", as_user=HAMLET))
    events = await heard(api, watching)
    assert [event["op"] for event in events[HAMLET]] == ["update"]
    assert events[CORDELIA] == events[HAMLET]
    assert events[IAGO] == events[OTHELLO] == []


@async_test
async def test_subscription_changes_of_an_archived_channel_reach_only_clients_that_keep_it(api: ApiHarness) -> None:
    garden = await create_channel(api, IAGO, "garden", principals=[HAMLET, CORDELIA])
    success(await call(api, "DELETE", f"streams/{garden}", as_user=IAGO))
    kinds = {"event_types": ["subscription"]}
    capable = await queues(api, [HAMLET, CORDELIA], client_capabilities={"archived_channels": True}, **kinds)
    legacy = await queues(api, [HAMLET, CORDELIA], **kinds)
    muted = [{"stream_id": garden, "property": "is_muted", "value": True}]
    # Personal settings of an archived channel's subscription may still change.
    success(await call(api, "POST", "users/me/subscriptions/properties", {"subscription_data": muted},
                       as_user=CORDELIA))  # fmt: skip
    success(await call(api, "DELETE", "users/me/subscriptions", {"subscriptions": ["garden"]}, as_user=HAMLET))
    heard_capable, heard_legacy = await heard(api, capable), await heard(api, legacy)
    assert heard_legacy == {HAMLET: [], CORDELIA: []}
    assert heard_capable[HAMLET] == [
        {"type": "subscription", "op": "remove", "subscriptions": [{"name": "garden", "stream_id": garden}]}
    ]
    assert heard_capable[CORDELIA] == [
        {"type": "subscription", "op": "update", "stream_id": garden, "property": "is_muted", "value": True},
        {"type": "subscription", "op": "peer_remove", "stream_ids": [garden], "user_ids": [api.user(HAMLET).id]},
    ]


@async_test
async def test_linkifier_changes_reach_clients_that_read_url_templates(api: ApiHarness) -> None:
    kinds = {"event_types": ["realm_linkifiers", "realm_filters"]}
    capable = await queues(api, [HAMLET, IAGO, POLONIUS], client_capabilities={"linkifier_url_template": True}, **kinds)
    legacy = await queues(api, [HAMLET, OTHELLO], **kinds)
    trac = {"pattern": "#(?P<id>[0-9]+)", "url_template": "https://trac.example.com/ticket/{id}"}
    first = success(await call(api, "POST", "realm/filters", trac, as_user=IAGO))["id"]
    zul = {"pattern": "ZUL-(?P<id>\\d+)", "url_template": "https://zulip.example.com/{id}"}
    second = success(await call(api, "POST", "realm/filters", zul, as_user=DESDEMONA))["id"]
    moved = {**trac, "url_template": "https://trac.example.com/t/{id}"}
    success(await call(api, "PATCH", f"realm/filters/{first}", moved, as_user=IAGO))
    success(await call(api, "PATCH", "realm/linkifiers", {"ordered_linkifier_ids": [second, first]}, as_user=IAGO))
    success(await call(api, "DELETE", f"realm/filters/{second}", as_user=IAGO))
    lists = [
        [{**trac, "id": first}],
        [{**trac, "id": first}, {**zul, "id": second}],
        [{**moved, "id": first}, {**zul, "id": second}],
        [{**zul, "id": second}, {**moved, "id": first}],
        [{**moved, "id": first}],
    ]
    expected = [{"type": "realm_linkifiers", "realm_linkifiers": entries} for entries in lists]
    assert await heard(api, capable) == {HAMLET: expected, IAGO: expected, POLONIUS: expected}
    # The legacy realm_filters event is no longer sent, as in Zulip 7.0 and later.
    assert await heard(api, legacy) == {HAMLET: [], OTHELLO: []}


@async_test
async def test_alert_word_changes_reach_only_their_owner(api: ApiHarness) -> None:
    listening = await queues(api, [HAMLET, CORDELIA, IAGO], event_types=["alert_words"])
    path = "users/me/alert_words"
    success(await call(api, "POST", path, {"alert_words": ["roses", "Tulips"]}, as_user=HAMLET))
    success(await call(api, "POST", path, {"alert_words": ["tulips"]}, as_user=HAMLET))
    success(await call(api, "DELETE", path, {"alert_words": ["ROSES"]}, as_user=HAMLET))
    success(await call(api, "POST", path, {"alert_words": ["lilies"]}, as_user=CORDELIA))
    lists = [["roses", "Tulips"], ["roses", "Tulips"], ["Tulips"]]
    assert await heard(api, listening) == {
        HAMLET: [{"type": "alert_words", "alert_words": words} for words in lists],
        CORDELIA: [{"type": "alert_words", "alert_words": ["lilies"]}],
        IAGO: [],
    }


@async_test
async def test_default_channel_changes_reach_members_but_not_guests(api: ApiHarness) -> None:
    garden = await create_channel(api, IAGO, "garden")
    listening = await queues(api, [HAMLET, DESDEMONA, POLONIUS], event_types=["default_streams"])
    before = (await register(api, HAMLET, fetch_event_types=["default_streams"]))["realm_default_streams"]
    success(await call(api, "POST", "default_streams", {"stream_id": garden}, as_user=IAGO))
    told = {"type": "default_streams", "default_streams": sorted([*before, garden])}
    assert await heard(api, listening) == {HAMLET: [told], DESDEMONA: [told], POLONIUS: []}
    # Taking out a channel that was no default one is told all the same, as Zulip does.
    success(await call(api, "DELETE", "default_streams", {"stream_id": garden}, as_user=IAGO))
    success(await call(api, "DELETE", "default_streams", {"stream_id": garden}, as_user=IAGO))
    told = {"type": "default_streams", "default_streams": sorted(before)}
    assert await heard(api, listening) == {HAMLET: [told, told], DESDEMONA: [told, told], POLONIUS: []}
