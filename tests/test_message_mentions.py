"""Mentions through the API: the rendered markup and the flags each recipient's copy gets.

Messages are sent with POST /messages and read back with GET /messages (held to
Zulip's spec by ``fetch_message``) and from the stored rows.
"""

from __future__ import annotations

from tests.chat_support import (
    CORDELIA,
    HAMLET,
    IAGO,
    MENTIONED,
    OTHELLO,
    PROSPERO,
    STREAM_WILDCARD_MENTIONED,
    call,
    create_channel,
    fetch_message,
    row_flags,
    send_direct,
    send_stream,
    success,
)
from tests.support.api import ApiHarness
from tests.support.async_tests import async_test

TOPIC_WILDCARD_MENTIONED = 32


async def flags(api: ApiHarness, email: str, message_id: int) -> int:
    stored = await row_flags(api, email, message_id)
    assert stored is not None, f"{email} did not receive {message_id}"
    return stored


async def rendered(api: ApiHarness, email: str, message_id: int) -> str:
    content: str = (await fetch_message(api, email, message_id))["content"]
    return content


@async_test
async def test_user_mentions_flag_the_named_user_only(api: ApiHarness) -> None:
    await create_channel(api, IAGO, "court", principals=[HAMLET, CORDELIA, OTHELLO])
    hamlet = api.user(HAMLET).id
    message = await send_stream(api, IAGO, "court", "news", "@**King Hamlet** and @_**Othello, the Moor of Venice**")
    assert await rendered(api, CORDELIA, message) == (
        f'<p><span class="user-mention" data-user-id="{hamlet}">@King Hamlet</span> and '
        f'<span class="user-mention silent" data-user-id="{api.user(OTHELLO).id}">'
        "Othello, the Moor of Venice</span></p>"
    )
    assert await flags(api, HAMLET, message) & MENTIONED
    assert not await flags(api, OTHELLO, message) & MENTIONED  # silent
    assert not await flags(api, CORDELIA, message) & MENTIONED
    assert "mentioned" in (await fetch_message(api, HAMLET, message))["flags"]


@async_test
async def test_a_mention_of_someone_not_receiving_flags_nobody(api: ApiHarness) -> None:
    await create_channel(api, IAGO, "court", principals=[HAMLET])
    message = await send_stream(api, IAGO, "court", "news", "hi @**Prospero from The Tempest**")
    assert await row_flags(api, PROSPERO, message) is None


@async_test
async def test_group_mentions_flag_the_members(api: ApiHarness) -> None:
    await create_channel(api, IAGO, "court", principals=[HAMLET, CORDELIA, OTHELLO])
    members = [api.user(HAMLET).id, api.user(CORDELIA).id]
    params = {"name": "players", "description": "The players", "members": members}
    group_id = success(await call(api, "POST", "user_groups/create", params, as_user=HAMLET))["group_id"]
    message = await send_stream(api, IAGO, "court", "news", "paging @*players*")
    assert await rendered(api, OTHELLO, message) == (
        f'<p>paging <span class="user-group-mention" data-user-group-id="{group_id}">@players</span></p>'
    )
    assert await flags(api, HAMLET, message) & MENTIONED
    assert await flags(api, CORDELIA, message) & MENTIONED
    assert not await flags(api, OTHELLO, message) & MENTIONED
    silent = await send_stream(api, IAGO, "court", "news", "paging @_*players*")
    assert not await flags(api, HAMLET, silent) & MENTIONED


@async_test
async def test_wildcards(api: ApiHarness) -> None:
    await create_channel(api, IAGO, "court", principals=[HAMLET, CORDELIA, OTHELLO])
    everyone = await send_stream(api, IAGO, "court", "news", "@**all** meeting")
    for email in (HAMLET, CORDELIA, OTHELLO):
        assert await flags(api, email, everyone) & STREAM_WILDCARD_MENTIONED
    # @**topic** reaches those who took part in the topic.
    await send_stream(api, HAMLET, "court", "plans", "I will be there")
    topic = await send_stream(api, IAGO, "court", "plans", "@**topic** ready?")
    assert await flags(api, HAMLET, topic) & TOPIC_WILDCARD_MENTIONED
    assert not await flags(api, CORDELIA, topic) & TOPIC_WILDCARD_MENTIONED
    assert await rendered(api, CORDELIA, topic) == '<p><span class="topic-mention">@topic</span> ready?</p>'
    # A wildcard in a code block mentions nobody.
    code = await send_stream(api, IAGO, "court", "news", "```\n@**all**\n```")
    assert not await flags(api, HAMLET, code) & STREAM_WILDCARD_MENTIONED


@async_test
async def test_direct_message_mentions(api: ApiHarness) -> None:
    message = await send_direct(api, CORDELIA, [HAMLET, OTHELLO], "@**King Hamlet** look")
    assert await flags(api, HAMLET, message) & MENTIONED
    assert not await flags(api, OTHELLO, message) & MENTIONED


@async_test
async def test_private_channels_stay_text_for_those_who_cannot_see_them(api: ApiHarness) -> None:
    await create_channel(api, IAGO, "public square", principals=[HAMLET, CORDELIA])
    await create_channel(api, HAMLET, "secret plans", principals=[HAMLET], invite_only=True)
    hidden = await send_stream(api, CORDELIA, "public square", "t", "see #**secret plans**")
    assert await rendered(api, HAMLET, hidden) == "<p>see #<strong>secret plans</strong></p>"
    # An administrator who is not subscribed cannot link it either.
    admin = await send_stream(api, IAGO, "public square", "t", "see #**secret plans**")
    assert await rendered(api, HAMLET, admin) == "<p>see #<strong>secret plans</strong></p>"
    shown = await send_stream(api, HAMLET, "public square", "t", "see #**secret plans**")
    assert 'class="stream"' in await rendered(api, HAMLET, shown)


@async_test
async def test_editing_recomputes_mentions(api: ApiHarness) -> None:
    await create_channel(api, IAGO, "court", principals=[HAMLET, CORDELIA])
    message = await send_stream(api, CORDELIA, "court", "news", "hello")
    assert not await flags(api, HAMLET, message) & MENTIONED
    success(await call(api, "PATCH", f"messages/{message}", {"content": "hello @**King Hamlet**"}, as_user=CORDELIA))
    assert await flags(api, HAMLET, message) & MENTIONED
    success(await call(api, "PATCH", f"messages/{message}", {"content": "hello again"}, as_user=CORDELIA))
    assert not await flags(api, HAMLET, message) & MENTIONED


@async_test
async def test_render_endpoint_uses_the_requester_context(api: ApiHarness) -> None:
    body = success(await call(api, "POST", "messages/render", {"content": "**hi** @**King Hamlet**"}, as_user=CORDELIA))
    assert body["rendered"] == (
        f'<p><strong>hi</strong> <span class="user-mention" data-user-id="{api.user(HAMLET).id}">'
        "@King Hamlet</span></p>"
    )


async def group_ids(api: ApiHarness) -> dict[str, int]:
    body = success(await call(api, "GET", "user_groups", as_user=HAMLET))
    return {group["name"]: group["id"] for group in body["user_groups"]}


@async_test
async def test_mentioning_a_group_needs_its_permission(api: ApiHarness) -> None:
    await create_channel(api, IAGO, "court", principals=[HAMLET, CORDELIA])
    nobody = (await group_ids(api))["role:nobody"]
    params = {
        "name": "quiet",
        "description": "Not to be paged",
        "members": [api.user(HAMLET).id],
        "can_mention_group": nobody,
    }
    success(await call(api, "POST", "user_groups/create", params, as_user=HAMLET))
    before = success(
        await call(api, "GET", "messages", {"anchor": "newest", "num_before": 1, "num_after": 0}, as_user=IAGO)
    )
    refused = await call(
        api, "POST", "messages", {"type": "stream", "to": "court", "topic": "t", "content": "@*quiet*"}, as_user=IAGO
    )
    assert refused.status == 400
    assert refused.json() == {
        "result": "error",
        "msg": "You are not allowed to mention user group 'quiet'.",
        "code": "BAD_REQUEST",
    }
    after = success(
        await call(api, "GET", "messages", {"anchor": "newest", "num_before": 1, "num_after": 0}, as_user=IAGO)
    )
    assert after["messages"] == before["messages"]  # nothing was stored
    # A silent mention needs no permission; a system group can only be mentioned silently.
    silent = await send_stream(api, IAGO, "court", "t", "@_*quiet* @_*role:members*")
    assert not await flags(api, HAMLET, silent) & MENTIONED
    system = await call(
        api,
        "POST",
        "messages",
        {"type": "stream", "to": "court", "topic": "t", "content": "@*role:members*"},
        as_user=IAGO,
    )
    assert system.status == 400
