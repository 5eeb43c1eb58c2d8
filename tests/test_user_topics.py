"""Topic preferences: POST /user_topics and the legacy PATCH /users/me/subscriptions/muted_topics."""

from __future__ import annotations

from typing import Any

from twisted.internet import defer

from tests.chat_support import (
    HAMLET,
    IAGO,
    OTHELLO,
    POLONIUS,
    assert_bare_success,
    assert_error,
    dev_channel_ids,
)
from tests.support.api import ApiHarness
from tests.support.async_tests import async_test
from tests.support.http import Response
from tests.support.openapi import assert_valid
from zulipd.storage.user_topics import user_topics_txn

MUTED_TOPICS = "users/me/subscriptions/muted_topics"
MUTED, UNMUTED, FOLLOWED = 1, 2, 3


async def set_topic(api: ApiHarness, email: str, stream_id: Any, topic: str, policy: Any) -> Response:
    params = {"stream_id": stream_id, "topic": topic, "visibility_policy": policy}
    return await api.call("POST", "user_topics", params, as_user=email)


def assert_done(response: Response, method: str = "POST", path: str = "user_topics") -> None:
    assert_bare_success(response, method, path)


async def stored(api: ApiHarness, email: str) -> list[tuple[int, str, int]]:
    """(channel id, topic, policy) of each stored preference."""
    rows = await api.server.pool.run_interaction("user topics", user_topics_txn, api.user(email).id)
    return [(row.stream_id, row.topic_name, row.visibility_policy) for row in rows]


@async_test
async def test_setting_each_visibility_policy(api: ApiHarness) -> None:
    verona = (await dev_channel_ids(api))["Verona"]
    for policy in (MUTED, UNMUTED, FOLLOWED):
        assert_done(await set_topic(api, HAMLET, verona, "dinner", policy))
        assert await stored(api, HAMLET) == [(verona, "dinner", policy)]
    # Asking again for what is set is not an error.
    assert_done(await set_topic(api, HAMLET, verona, "dinner", FOLLOWED))
    # 0 removes the preference; removing one that is not there is not an error either.
    assert_done(await set_topic(api, HAMLET, verona, "dinner", 0))
    assert await stored(api, HAMLET) == []
    assert_done(await set_topic(api, HAMLET, verona, "dinner", 0))
    # Preferences are personal.
    assert_done(await set_topic(api, OTHELLO, verona, "dinner", MUTED))
    assert await stored(api, HAMLET) == []


@async_test
async def test_topics_match_without_regard_to_case(api: ApiHarness) -> None:
    verona = (await dev_channel_ids(api))["Verona"]
    assert_done(await set_topic(api, HAMLET, verona, "  Dinner ", MUTED))
    assert_done(await set_topic(api, HAMLET, verona, "dinner", FOLLOWED))
    # One preference, under the name it was first given.
    assert await stored(api, HAMLET) == [(verona, "Dinner", FOLLOWED)]
    assert_done(await set_topic(api, HAMLET, verona, "DINNER", 0))
    assert await stored(api, HAMLET) == []


async def narrowed(api: ApiHarness, email: str, operand: str) -> list[int]:
    params = {"anchor": "newest", "num_before": 50, "num_after": 0, "narrow": [{"operator": "is", "operand": operand}]}
    response = await api.call("GET", "messages", params, as_user=email)
    assert response.status == 200, response.body
    return [message["id"] for message in response.json()["messages"]]


@async_test
async def test_preferences_apply_to_the_topics_messages(api: ApiHarness) -> None:
    verona = (await dev_channel_ids(api))["Verona"]
    sent = {}
    for topic in ("dinner", "lunch", ""):
        params = {"type": "stream", "to": "Verona", "topic": topic, "content": "hi"}
        response = await api.call("POST", "messages", params, as_user=IAGO)
        assert response.status == 200, response.body
        sent[topic] = response.json()["id"]
    assert_done(await set_topic(api, HAMLET, verona, "DINNER", MUTED))
    # An empty topic is the one topic-less messages go to.
    assert_done(await set_topic(api, HAMLET, verona, "", FOLLOWED))
    assert await narrowed(api, HAMLET, "muted") == [sent["dinner"]]
    assert await narrowed(api, HAMLET, "followed") == [sent[""]]
    assert await narrowed(api, OTHELLO, "muted") == []


@async_test
async def test_only_channels_the_user_can_read(api: ApiHarness) -> None:
    channels = await dev_channel_ids(api)
    # Public channels can be read without subscribing (Scotland: Hamlet is not subscribed).
    assert_done(await set_topic(api, HAMLET, channels["Scotland"], "castle", MUTED))
    assert_done(await set_topic(api, HAMLET, channels["core team"], "plans", FOLLOWED))
    # A private channel is not there for non-subscribers; nor is any but their own for guests.
    for email, stream in ((OTHELLO, "core team"), (POLONIUS, "Denmark"), (POLONIUS, "core team")):
        for policy in (MUTED, 0):
            response = await set_topic(api, email, channels[stream], "plans", policy)
            assert_error(response, "Invalid channel ID")
    assert_done(await set_topic(api, POLONIUS, channels["Verona"], "plans", MUTED))
    for stream_id in (99999, 0, -1, 2**40):
        assert_error(await set_topic(api, HAMLET, stream_id, "plans", MUTED), "Invalid channel ID")
    assert await stored(api, OTHELLO) == []


@async_test
async def test_preferences_can_be_cleared_after_losing_access(api: ApiHarness) -> None:
    core_team = (await dev_channel_ids(api))["core team"]
    assert_done(await set_topic(api, HAMLET, core_team, "plans", FOLLOWED))
    response = await api.call("DELETE", "users/me/subscriptions", {"subscriptions": ["core team"]}, as_user=HAMLET)
    assert response.status == 200, response.body
    # Setting one is refused; clearing what was set works.
    response = await set_topic(api, HAMLET, core_team, "plans", MUTED)
    assert_error(response, "Invalid channel ID")
    assert_done(await set_topic(api, HAMLET, core_team, "plans", 0))
    assert await stored(api, HAMLET) == []
    # Once nothing is left, the channel is as unknown as any other.
    response = await set_topic(api, HAMLET, core_team, "plans", 0)
    assert_error(response, "Invalid channel ID")


@async_test
async def test_bad_input(api: ApiHarness) -> None:
    verona = (await dev_channel_ids(api))["Verona"]
    for missing in ("stream_id", "topic", "visibility_policy"):
        params = {"stream_id": verona, "topic": "dinner", "visibility_policy": MUTED}
        del params[missing]
        response = await api.call("POST", "user_topics", params, as_user=HAMLET)
        assert_error(response, f"Missing '{missing}' argument", "REQUEST_VARIABLE_MISSING", var_name=missing)
    for policy in (4, -1, True, "muted"):
        response = await set_topic(api, HAMLET, verona, "dinner", policy)
        assert response.status == 400, response.body
    assert_error(await set_topic(api, HAMLET, verona, "dinner", 4), "Invalid visibility_policy")
    assert_error(await set_topic(api, HAMLET, verona, "dinner", "1.5"), "visibility_policy is not an integer")
    assert_error(await set_topic(api, HAMLET, "Verona", "dinner", MUTED), "stream_id is not valid JSON")
    assert_error(await set_topic(api, HAMLET, verona, "x" * 61, MUTED), "Topic is too long (limit: 60 characters)")
    assert_error(await set_topic(api, HAMLET, verona, "a\x00b", MUTED), "Invalid characters in topic")
    assert await stored(api, HAMLET) == []


async def mute(api: ApiHarness, email: str, **params: Any) -> Response:
    return await api.call("PATCH", MUTED_TOPICS, params, as_user=email)


@async_test
async def test_legacy_muting_by_name_or_id(api: ApiHarness) -> None:
    channels = await dev_channel_ids(api)
    verona, denmark = channels["Verona"], channels["Denmark"]
    assert_done(await mute(api, HAMLET, stream="Verona", topic="dinner", op="add"), "PATCH", MUTED_TOPICS)
    assert_done(await mute(api, HAMLET, stream_id=denmark, topic="lunch", op="add"), "PATCH", MUTED_TOPICS)
    assert await stored(api, HAMLET) == [(verona, "dinner", MUTED), (denmark, "lunch", MUTED)]
    # Again: no error since Zulip 7.
    assert_done(await mute(api, HAMLET, stream="verona", topic="Dinner", op="add"), "PATCH", MUTED_TOPICS)
    assert_done(await mute(api, HAMLET, stream_id=verona, topic="dinner", op="remove"), "PATCH", MUTED_TOPICS)
    assert_done(await mute(api, HAMLET, stream_id=verona, topic="dinner", op="remove"), "PATCH", MUTED_TOPICS)
    assert await stored(api, HAMLET) == [(denmark, "lunch", MUTED)]
    # "remove" clears any preference, a followed topic's too, as in Zulip.
    assert_done(await set_topic(api, HAMLET, verona, "news", FOLLOWED))
    assert_done(await mute(api, HAMLET, stream="Verona", topic="news", op="remove"), "PATCH", MUTED_TOPICS)
    assert await stored(api, HAMLET) == [(denmark, "lunch", MUTED)]


@async_test
async def test_legacy_muting_refusals(api: ApiHarness) -> None:
    channels = await dev_channel_ids(api)
    response = await mute(api, HAMLET, topic="dinner", op="add")
    assert_error(response, "Missing 'stream_id' argument")
    response = await mute(api, HAMLET, stream="Verona", stream_id=channels["Verona"], topic="dinner", op="add")
    assert_error(response, "Unsupported parameter combination: stream_id, stream", parameters="stream_id, stream")
    response = await mute(api, HAMLET, stream="Verona", topic="dinner", op="mute")
    assert_error(response, "Invalid op")
    response = await mute(api, HAMLET, stream="Verona", op="add")
    assert_error(response, "Missing 'topic' argument", "REQUEST_VARIABLE_MISSING", var_name="topic")
    response = await mute(api, HAMLET, stream="Verona", topic="dinner")
    assert_error(response, "Missing 'op' argument", "REQUEST_VARIABLE_MISSING", var_name="op")
    # Channels the user cannot read, or that do not exist.
    for email, name in ((OTHELLO, "core team"), (POLONIUS, "Denmark"), (HAMLET, "Atlantis")):
        response = await mute(api, email, stream=name, topic="dinner", op="add")
        assert_error(response, f"Invalid channel name '{name}'")
        response = await mute(api, email, stream=name, topic="dinner", op="remove")
        assert_error(response, "Topic is not muted")
    for stream_id in (channels["core team"], 99999):
        response = await mute(api, OTHELLO, stream_id=stream_id, topic="dinner", op="add")
        assert_error(response, "Invalid channel ID")
        response = await mute(api, OTHELLO, stream_id=stream_id, topic="dinner", op="remove")
        assert_error(response, "Topic is not muted")
    assert await stored(api, OTHELLO) == []


# --- what sending does to the sender's preferences (Zulip's automatically_*_topics policies) ----------

PARTICIPATING, SENDING, STARTING, NEVER = 1, 2, 3, 4


async def send_to(api: ApiHarness, email: str, topic: str, channel: str = "Verona") -> dict[str, Any]:
    params = {"type": "stream", "to": channel, "topic": topic, "content": "hi"}
    response = await api.call("POST", "messages", params, as_user=email)
    assert response.status == 200, response.body
    assert_valid("POST", "messages", 200, response.json())
    body: dict[str, Any] = response.json()
    return body


async def change_settings(api: ApiHarness, email: str, **settings: int) -> None:
    response = await api.call("PATCH", "settings", settings, as_user=email)
    assert response.status == 200, response.body


@async_test
async def test_starting_a_topic_follows_it_by_default(api: ApiHarness) -> None:
    verona = (await dev_channel_ids(api))["Verona"]
    started = await send_to(api, HAMLET, "new plans")
    assert started["automatic_new_visibility_policy"] == FOLLOWED
    assert await stored(api, HAMLET) == [(verona, "new plans", FOLLOWED)]
    # Replying to a topic someone else started changes nothing for the replier, and
    # following it again changes nothing (so the response says nothing).
    assert "automatic_new_visibility_policy" not in await send_to(api, OTHELLO, "New Plans")
    assert "automatic_new_visibility_policy" not in await send_to(api, HAMLET, "new plans")
    assert await stored(api, OTHELLO) == []
    assert await stored(api, HAMLET) == [(verona, "new plans", FOLLOWED)]
    # Direct messages have no topics to follow.
    params = {"type": "direct", "to": [OTHELLO], "content": "hi"}
    response = await api.call("POST", "messages", params, as_user=HAMLET)
    assert set(response.json()) == {"result", "msg", "id"}


@async_test
async def test_each_follow_policy(api: ApiHarness) -> None:
    verona = (await dev_channel_ids(api))["Verona"]
    await send_to(api, IAGO, "lunch")
    await change_settings(api, HAMLET, automatically_follow_topics_policy=NEVER)
    assert "automatic_new_visibility_policy" not in await send_to(api, HAMLET, "breakfast")
    await change_settings(api, HAMLET, automatically_follow_topics_policy=STARTING)
    assert "automatic_new_visibility_policy" not in await send_to(api, HAMLET, "lunch")
    for policy in (SENDING, PARTICIPATING):
        assert_done(await set_topic(api, HAMLET, verona, "lunch", 0))
        await change_settings(api, HAMLET, automatically_follow_topics_policy=policy)
        assert (await send_to(api, HAMLET, "lunch"))["automatic_new_visibility_policy"] == FOLLOWED
    # Sending to a topic one muted follows it, when the policy says so.
    assert_done(await set_topic(api, HAMLET, verona, "lunch", MUTED))
    assert (await send_to(api, HAMLET, "LUNCH"))["automatic_new_visibility_policy"] == FOLLOWED
    assert await stored(api, HAMLET) == [(verona, "lunch", FOLLOWED)]


@async_test
async def test_sending_in_a_muted_channel_unmutes_the_topic(api: ApiHarness) -> None:
    verona = (await dev_channel_ids(api))["Verona"]
    mute = {"subscription_data": [{"stream_id": verona, "property": "is_muted", "value": True}]}
    response = await api.call("POST", "users/me/subscriptions/properties", mute, as_user=HAMLET)
    assert response.status == 200, response.body
    await change_settings(api, HAMLET, automatically_follow_topics_policy=NEVER)
    await send_to(api, IAGO, "old news")
    # The default unmutes only topics one starts.
    assert "automatic_new_visibility_policy" not in await send_to(api, HAMLET, "old news")
    assert (await send_to(api, HAMLET, "fresh news"))["automatic_new_visibility_policy"] == UNMUTED
    await change_settings(api, HAMLET, automatically_unmute_topics_in_muted_streams_policy=SENDING)
    assert (await send_to(api, HAMLET, "old news"))["automatic_new_visibility_policy"] == UNMUTED
    assert sorted(await stored(api, HAMLET)) == [(verona, "fresh news", UNMUTED), (verona, "old news", UNMUTED)]
    # Unmuting happens in muted channels only; a followed topic stays followed.
    assert "automatic_new_visibility_policy" not in await send_to(api, HAMLET, "elsewhere", channel="Denmark")
    assert_done(await set_topic(api, HAMLET, verona, "old news", FOLLOWED))
    assert "automatic_new_visibility_policy" not in await send_to(api, HAMLET, "old news")
    assert (verona, "old news", FOLLOWED) in await stored(api, HAMLET)


@async_test
async def test_topics_started_together_are_followed_once(api: ApiHarness) -> None:
    verona = (await dev_channel_ids(api))["Verona"]
    # Concurrent sends may share one statement, in either order; whichever of "race" and
    # "Race" is stored first starts the topic, and only it.
    sends = [send_to(api, HAMLET, topic) for topic in ("race", "Race", "other race")]
    answers = await defer.gatherResults([defer.ensureDeferred(send) for send in sends])
    policies = [answer.get("automatic_new_visibility_policy") for answer in answers]
    assert sorted(policies[:2], key=lambda policy: policy is None) == [FOLLOWED, None]
    assert policies[2] == FOLLOWED
    preferences = sorted((stream, topic.lower(), policy) for stream, topic, policy in await stored(api, HAMLET))
    assert preferences == [(verona, "other race", FOLLOWED), (verona, "race", FOLLOWED)]
