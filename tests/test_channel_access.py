"""The channel access cache that sending reads (zulipd.actions.channel_access).

Each test sends once to fill the cache, then changes the channel or the
subscription and sends again: through zulipd's own actions the change counts at
once; made in the database by anyone else, it counts when its trigger's
notification arrives, and not before.
"""

from __future__ import annotations

from typing import Any

import pytest
from twisted.internet import defer, reactor

from tests.chat_support import (
    CORDELIA,
    HAMLET,
    IAGO,
    call,
    create_channel,
    execute,
    failure,
    success,
    unsubscribe,
    wait_until,
)
from tests.support.api import ApiHarness
from tests.support.async_tests import async_test
from zulipd.actions import channel_access
from zulipd.storage.notifications import InvalidationListener
from zulipd.storage.pool import DatabasePool


async def send(api: ApiHarness, sender: str, to: str | int, content: str = "hello") -> Any:
    return await call(api, "POST", "messages", {"type": "stream", "to": to, "topic": "t", "content": content},
                      as_user=sender, check_spec=False)  # fmt: skip


async def sent(api: ApiHarness, sender: str, to: str | int) -> int:
    message_id: int = success(await send(api, sender, to))["id"]
    return message_id


def refused(response: Any, name: str) -> None:
    failure(response, "STREAM_DOES_NOT_EXIST", f"Channel '{name}' does not exist")


@async_test
async def test_sending_keeps_the_channel_and_the_subscription(api: ApiHarness) -> None:
    cache = api.server.channel_access
    stream_id = await create_channel(api, IAGO, "secret", invite_only=True, principals=[HAMLET])
    before = cache.cached_subscriptions
    await sent(api, HAMLET, "secret")
    assert cache.cached_subscriptions == before + 1
    lookups: list[Any] = []
    real_run_reads = api.server.pool.run_reads

    async def counting(description: str, *args: Any, **kwargs: Any) -> Any:
        lookups.append(description)
        return await real_run_reads(description, *args, **kwargs)

    api.server.pool.run_reads = counting  # type: ignore[method-assign]
    try:
        await sent(api, HAMLET, "secret")
        assert "get stream" not in lookups
        # By id, the channel is known already; the name asked differently is looked up once.
        await sent(api, HAMLET, stream_id)
        await sent(api, HAMLET, "SECRET")
        await sent(api, HAMLET, "SECRET")
        assert lookups.count("get stream") == 1
    finally:
        api.server.pool.run_reads = real_run_reads  # type: ignore[method-assign]


@async_test
async def test_an_unsubscribed_sender_is_refused_at_once(api: ApiHarness) -> None:
    await create_channel(api, IAGO, "secret", invite_only=True, principals=[HAMLET])
    await sent(api, HAMLET, "secret")
    await unsubscribe(api, HAMLET, "secret")
    refused(await send(api, HAMLET, "secret"), "secret")
    # And a new subscriber may send at once, though the cache remembered them as not subscribed.
    refused(await send(api, CORDELIA, "secret"), "secret")
    success(await call(api, "POST", "users/me/subscriptions",
                       {"subscriptions": [{"name": "secret"}], "principals": [CORDELIA]}, as_user=IAGO))  # fmt: skip
    await sent(api, CORDELIA, "secret")


@async_test
async def test_renaming_archiving_and_making_private_count_at_once(api: ApiHarness) -> None:
    stream_id = await create_channel(api, IAGO, "Denmark")
    await sent(api, HAMLET, "Denmark")
    success(await call(api, "PATCH", f"streams/{stream_id}", {"new_name": "Elsinore"}, as_user=IAGO))
    refused(await send(api, HAMLET, "Denmark"), "Denmark")
    await sent(api, HAMLET, "Elsinore")
    success(await call(api, "PATCH", f"streams/{stream_id}", {"is_private": "true"}, as_user=IAGO))
    refused(await send(api, HAMLET, "Elsinore"), "Elsinore")
    await sent(api, IAGO, "Elsinore")
    success(await call(api, "DELETE", f"streams/{stream_id}", as_user=IAGO))
    failure(await send(api, IAGO, "Elsinore"), msg="This channel is archived.")


@async_test
async def test_changes_made_elsewhere_count_when_their_notification_arrives(
    api: ApiHarness, database_dsn: str, db_pool: DatabasePool
) -> None:
    stream_id = await create_channel(api, IAGO, "secret", invite_only=True, principals=[HAMLET])
    hamlet = api.user(HAMLET)
    await sent(api, HAMLET, "secret")
    # Another process (or an operator's SQL) unsubscribes Hamlet: this one has not heard yet.
    await execute(api, "UPDATE subscription SET active = false WHERE user_id = %s AND recipient_id = "
                  "(SELECT id FROM recipient WHERE type = 2 AND type_id = %s)", [hamlet.id, stream_id])  # fmt: skip
    await sent(api, HAMLET, "secret")
    listener = InvalidationListener(database_dsn, reactor, api.server.handle_invalidation, api.server.forget_everything)
    await listener.start()
    try:
        await execute(api, "UPDATE subscription SET active = true WHERE user_id = %s AND recipient_id = "
                      "(SELECT id FROM recipient WHERE type = 2 AND type_id = %s)", [hamlet.id, stream_id])  # fmt: skip
        await sent(api, HAMLET, "secret")
        # Now the trigger tells this process of each change.
        await execute(api, "UPDATE subscription SET active = false WHERE user_id = %s AND recipient_id = "
                      "(SELECT id FROM recipient WHERE type = 2 AND type_id = %s)", [hamlet.id, stream_id])  # fmt: skip
        await wait_until(lambda: api.server.channel_access.cached_subscriptions == 0)
        refused(await send(api, HAMLET, "secret"), "secret")
        await sent(api, IAGO, "secret")
        await execute(api, "UPDATE stream SET name = 'hidden' WHERE id = %s", [stream_id])
        await wait_until(lambda: not _knows_channel(api, stream_id))
        refused(await send(api, IAGO, "secret"), "secret")
        await sent(api, IAGO, "hidden")
    finally:
        await listener.stop()


def _knows_channel(api: ApiHarness, stream_id: int) -> bool:
    return any(key[1] == stream_id for key in api.server.channel_access._by_id)


@async_test
async def test_a_lookup_overtaken_by_a_change_is_not_kept(api: ApiHarness) -> None:
    await create_channel(api, IAGO, "secret", invite_only=True, principals=[HAMLET])
    cache = api.server.channel_access
    real_run_reads = api.server.pool.run_reads
    looked_up: defer.Deferred[None] = defer.Deferred()
    go_on: defer.Deferred[None] = defer.Deferred()

    async def paused(description: str, *args: Any, **kwargs: Any) -> Any:
        result = await real_run_reads(description, *args, **kwargs)
        if description == "get stream" and not looked_up.called:
            looked_up.callback(None)
            await go_on
        return result

    api.server.pool.run_reads = paused  # type: ignore[method-assign]
    try:
        sending = defer.ensureDeferred(send(api, HAMLET, "secret"))
        await looked_up
        # Hamlet leaves while his send has read that he is subscribed.
        await unsubscribe(api, HAMLET, "secret")
        go_on.callback(None)
        success(await sending)
        assert cache.cached_subscriptions == 0
        refused(await send(api, HAMLET, "secret"), "secret")
    finally:
        api.server.pool.run_reads = real_run_reads  # type: ignore[method-assign]


@async_test
async def test_the_cache_starts_again_when_full(api: ApiHarness, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(channel_access, "MAX_SUBSCRIPTIONS", 2)
    for name in ("one", "two", "three"):
        await create_channel(api, IAGO, name)
    cache = api.server.channel_access
    for name in ("one", "two"):
        await sent(api, HAMLET, name)
    assert cache.cached_subscriptions == 2
    await sent(api, HAMLET, "three")
    assert cache.cached_subscriptions == 1
    for name in ("one", "two", "three"):
        await sent(api, HAMLET, name)
