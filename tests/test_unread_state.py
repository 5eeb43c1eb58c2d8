"""The unread_msgs and recent_private_conversations states of POST /register: their limits."""

from __future__ import annotations

from unittest import mock

from tests.chat_support import HAMLET, OTHELLO, register, send_direct
from tests.support.api import ApiHarness
from tests.support.async_tests import async_test
from zulipd.actions import unreads


@async_test
async def test_only_the_newest_unread_messages_are_reported(api: ApiHarness) -> None:
    ids = [await send_direct(api, OTHELLO, [HAMLET], f"n{n}") for n in range(4)]
    with mock.patch.object(unreads, "MAX_UNREAD_MESSAGES", 3):
        unread = (await register(api, HAMLET, fetch_event_types=["message", "update_message_flags"]))["unread_msgs"]
    assert unread["pms"][0]["unread_message_ids"] == ids[1:]
    assert unread["count"] == 3
    assert unread["old_unreads_missing"] is True
    with mock.patch.object(unreads, "MAX_UNREAD_MESSAGES", 4):
        unread = (await register(api, HAMLET, fetch_event_types=["message", "update_message_flags"]))["unread_msgs"]
    assert unread["pms"][0]["unread_message_ids"] == ids
    assert unread["old_unreads_missing"] is False


@async_test
async def test_recent_conversations_come_from_the_newest_direct_messages(api: ApiHarness) -> None:
    first = await send_direct(api, OTHELLO, [HAMLET], "old")
    await send_direct(api, HAMLET, [HAMLET], "note")
    newest = await send_direct(api, HAMLET, [HAMLET], "another note")
    with mock.patch.object(unreads, "MAX_RECENT_DIRECT_MESSAGES", 2):
        state = await register(api, HAMLET, fetch_event_types=["recent_private_conversations"])
    # Othello's conversation is older than the two newest messages: not recent.
    assert state["recent_private_conversations"] == [{"max_message_id": newest, "user_ids": []}]
    state = await register(api, HAMLET, fetch_event_types=["recent_private_conversations"])
    othello = api.user(OTHELLO).id
    assert state["recent_private_conversations"][1] == {"max_message_id": first, "user_ids": [othello]}
