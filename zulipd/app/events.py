"""Real-time events over HTTP: POST /register, GET /events (the long-poll) and DELETE /events."""

from __future__ import annotations

from typing import Any

from twisted.internet import defer

from zulipd.app.api import ApiRequest, Payload
from zulipd.app.initial_state import StateRequest, fetch_initial_state
from zulipd.app.params import Json
from zulipd.app.routes import api
from zulipd.app.server_settings import ZULIP_FEATURE_LEVEL, ZULIP_VERSION
from zulipd.errors import JsonableError, RequestVariableMissing
from zulipd.events.queue import BadEventQueueId, EventQueue, QueueOptions, parse_queue_narrow

# Zulip's bounds on queue_lifespan_secs: 0 (or less) is the default, and nothing lives past a week.
MAX_QUEUE_LIFESPAN_SECONDS = 7 * 24 * 3600
# A client whose state keeps changing while it is read still gets an answer, after this many reads.
STATE_READ_ATTEMPTS = 3


@api.post("register")
async def register(
    ctx: ApiRequest,
    *,
    event_types: Json[list[str]] | None = None,
    fetch_event_types: Json[list[str]] | None = None,
    narrow: Json[list[Any]] | None = None,
    all_public_streams: Json[bool] | None = None,
    apply_markdown: Json[bool] = False,
    client_gravatar: Json[bool] = True,
    slim_presence: Json[bool] = False,
    presence_history_limit_days: Json[int] | None = None,
    include_subscribers: Json[bool] = False,
    client_capabilities: Json[dict[str, Any]] | None = None,
    queue_lifespan_secs: Json[int] = 0,
) -> Payload:
    user = ctx.requester
    if all_public_streams is None:
        all_public_streams = bool(user.settings.get("default_all_public_streams", False))
    if all_public_streams and user.is_guest:
        raise JsonableError("User not authorized for this query")
    capabilities = frozenset(name for name, value in (client_capabilities or {}).items() if value is True)
    # As in Zulip, a client may ask for its queue to outlive the default, never for less.
    lifespan = max(ctx.server.config.events.queue_timeout, min(queue_lifespan_secs, MAX_QUEUE_LIFESPAN_SECONDS))
    options = QueueOptions(
        event_types=None if event_types is None else frozenset(event_types),
        narrow=parse_queue_narrow(narrow or []),
        all_public_streams=all_public_streams,
        apply_markdown=apply_markdown,
        client_gravatar=client_gravatar,
        capabilities=capabilities,
        lifespan=float(lifespan),
    )
    # The queue exists before the state is read, so no change made meanwhile is lost. A change
    # whose event arrived before a read began is in what that read returns; so when no event
    # arrives during a read, the state is exactly that of the queue's events so far.
    queue = ctx.server.events.register(user.id, user.realm_id, options)
    types = fetch_event_types if fetch_event_types is not None else event_types
    state_request = StateRequest(client_gravatar, include_subscribers, slim_presence, capabilities)
    for _ in range(STATE_READ_ATTEMPTS):
        seen_through = queue.newest_event_id
        state = await fetch_initial_state(ctx, types, state_request)
        if queue.newest_event_id == seen_through:
            break
    return {
        "queue_id": queue.id,
        "last_event_id": seen_through,
        "zulip_version": ZULIP_VERSION,
        "zulip_feature_level": ZULIP_FEATURE_LEVEL,
        "zulip_merge_base": ZULIP_VERSION,
        **state,
    }


@api.get("events", rate_limited=False)
async def get_events(
    ctx: ApiRequest,
    *,
    queue_id: str | None = None,
    last_event_id: Json[int] | None = None,
    dont_block: Json[bool] = False,
) -> Payload:
    if queue_id is None:
        raise RequestVariableMissing("queue_id")
    user = ctx.requester
    router = ctx.server.events
    queue = router.get(queue_id, user.id)
    queue.prune(last_event_id)
    if queue.empty and not dont_block and router.accepting:
        await _wait_for_events(ctx, queue)
        # Answer with more than the event that woke the request: whatever else this turn
        # publishes, and the messages of a commit already under way.
        published: defer.Deferred[None] = defer.Deferred()
        ctx.server.message_sender.after_publishing(lambda: published.callback(None))
        await published
        if queue.closed:
            raise BadEventQueueId(queue_id)
    queue.last_seen = ctx.server.clock.seconds()
    return {"events": queue.encoded_events(), "queue_id": queue.id}


async def _wait_for_events(ctx: ApiRequest, queue: EventQueue) -> None:
    """Until an event arrives, a newer request takes over the queue, zulipd stops, or the client goes away."""
    shard = ctx.server.events.shard_for(queue.user_id)
    waiter = shard.park(queue)
    ended: defer.Deferred[None] = defer.Deferred()

    def end(_: object) -> None:
        if not ended.called:
            ended.callback(None)

    waiter.addBoth(end)
    ctx.request.notifyFinish().addBoth(end)
    try:
        await ended
    finally:
        shard.unpark(queue, waiter)


@api.delete("events")
async def delete_events(ctx: ApiRequest, *, queue_id: str) -> Payload:
    ctx.server.events.delete(queue_id, ctx.requester.id)
    return {}
