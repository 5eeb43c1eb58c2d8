"""Messages: sending, reading, narrows and topics."""

from __future__ import annotations

import dataclasses
import json
from typing import Annotated, Any

from zulipd.actions import messages as actions
from zulipd.actions.message_details import load_details
from zulipd.actions.message_dicts import message_dict
from zulipd.actions.narrow import Term, build_narrow, parse_narrow
from zulipd.actions.streams import get_visible_stream
from zulipd.app.api import ApiRequest, Payload
from zulipd.app.params import ApiParam, Json
from zulipd.app.routes import api
from zulipd.errors import JsonableError
from zulipd.models import Message, UserProfile
from zulipd.storage.messages import match_texts_txn, narrow_matches_txn, stream_topics_txn


def _parse_anchor(anchor: str | None) -> int | str | None:
    if anchor is None:
        return None
    value = anchor.strip()
    if value.lstrip("-").isdigit():
        return int(value)
    if value in ("newest", "oldest", "first_unread"):
        return value
    try:
        decoded = json.loads(value)  # the client JSON-encodes ints, and sometimes strings
    except ValueError:
        raise JsonableError("Invalid anchor") from None
    if isinstance(decoded, int) and not isinstance(decoded, bool):
        return decoded
    if decoded in ("newest", "oldest", "first_unread"):
        return str(decoded)
    raise JsonableError("Invalid anchor")


@api.post("messages", allow_incoming_webhook=True)
async def send_message(
    ctx: ApiRequest,
    *,
    type: str,
    to: str,
    content: str,
    topic: Annotated[str | None, ApiParam(aliases=("subject",))] = None,
    queue_id: str | None = None,
    local_id: str | None = None,
    read_by_sender: Json[bool] | None = None,
) -> Payload:
    sender = ctx.requester
    kind = type.strip().lower()
    # Zulip marks a sender's own message read, unless an API client asks otherwise.
    read = True if read_by_sender is None else read_by_sender
    if kind in ("stream", "channel"):
        if topic is None:
            topic = ""
        prepared = await actions.prepare_stream_message(
            ctx.server, sender, ctx.requester_realm, to, topic, content, ctx.client_name, read,
            secure=ctx.request.isSecure(),
        )  # fmt: skip
    elif kind in ("private", "direct"):
        prepared = await actions.prepare_direct_message(
            ctx.server, sender, ctx.requester_realm, to, content, ctx.client_name, read,
            secure=ctx.request.isSecure(),
        )  # fmt: skip
    else:
        raise JsonableError("Invalid message type")
    if queue_id is not None and local_id is not None:
        prepared = dataclasses.replace(prepared, local_echo=(queue_id, local_id))
    sent = await ctx.server.message_sender.send(prepared)
    if sent.new_visibility_policy is None:
        return {"id": sent.id}
    return {"id": sent.id, "automatic_new_visibility_policy": sent.new_visibility_policy}


async def _messages_payload(
    ctx: ApiRequest,
    messages: list[Message],
    flags: dict[int, int | None],
    apply_markdown: bool,
    client_gravatar: bool,
    highlights: dict[int, tuple[str, str]] | None = None,
) -> list[Payload]:
    details = await load_details(ctx.server, messages)
    realm = ctx.requester_realm.string_id
    return [
        message_dict(
            message,
            details,
            realm,
            flags=flags.get(message.id),
            apply_markdown=apply_markdown,
            client_gravatar=client_gravatar,
            highlight=(highlights or {}).get(message.id),
        )
        for message in messages
    ]


@api.get("messages")
async def get_messages(
    ctx: ApiRequest,
    *,
    anchor: str | None = None,
    include_anchor: Json[bool] | None = None,
    num_before: Json[int] | None = None,
    num_after: Json[int] | None = None,
    narrow: Json[list[Any]] | None = None,
    client_gravatar: Json[bool] = True,
    apply_markdown: Json[bool] = True,
    use_first_unread_anchor: Json[bool] = False,
    message_ids: Json[list[int]] | None = None,
    allow_empty_topic_name: Json[bool] = False,
) -> Payload:
    user = ctx.requester
    terms = parse_narrow(narrow or [])
    if message_ids is not None:
        range_parameters = {
            "anchor": anchor is not None or use_first_unread_anchor,
            "num_before": num_before is not None,
            "num_after": num_after is not None,
            "include_anchor": include_anchor is not None,
        }
        passed = [name for name, given in range_parameters.items() if given]
        if passed:
            raise JsonableError(f"Unsupported parameter combination: {', '.join(passed)}, message_ids")
        return await _messages_by_ids(ctx, user, terms, message_ids, apply_markdown, client_gravatar)
    parsed_anchor = "first_unread" if use_first_unread_anchor else _parse_anchor(anchor)
    fetched = await actions.fetch_messages(
        ctx.server,
        user,
        terms,
        parsed_anchor,
        num_before or 0,
        num_after or 0,
        include_anchor if include_anchor is not None else True,
    )
    messages = await _messages_payload(
        ctx, fetched.messages, fetched.flags, apply_markdown, client_gravatar, fetched.highlights
    )
    return {
        "anchor": fetched.anchor,
        "found_anchor": fetched.found_anchor,
        "found_newest": fetched.found_newest,
        "found_oldest": fetched.found_oldest,
        "history_limited": False,
        "messages": messages,
    }


async def _messages_by_ids(
    ctx: ApiRequest, user: UserProfile, terms: list[Term], message_ids: list[int], apply_markdown: bool,
    client_gravatar: bool,
) -> Payload:  # fmt: skip
    narrow = await build_narrow(ctx.server, user, terms)
    visible = await ctx.server.pool.run_reads("messages by id", narrow_matches_txn, narrow, message_ids)
    from zulipd.storage.messages import get_messages_txn, user_flags_txn

    messages = await ctx.server.pool.run_reads("load messages", get_messages_txn, visible)
    flags: dict[int, int | None] = dict(await ctx.server.pool.run_reads("flags", user_flags_txn, user.id, visible))
    return {
        "messages": await _messages_payload(ctx, messages, flags, apply_markdown, client_gravatar),
        "history_limited": False,
    }


@api.get("messages/{message_id}")
async def get_message(
    ctx: ApiRequest,
    *,
    message_id: int,
    apply_markdown: Json[bool] = True,
    allow_empty_topic_name: Json[bool] = False,
) -> Payload:
    message, flags = await actions.access_message(ctx.server, ctx.requester, message_id)
    payloads = await _messages_payload(ctx, [message], {message.id: flags}, apply_markdown, False)
    return {"raw_content": message.content, "message": payloads[0]}


@api.get("messages/matches_narrow")
async def matches_narrow(ctx: ApiRequest, *, msg_ids: Json[list[int]], narrow: Json[list[Any]]) -> Payload:
    terms = parse_narrow(narrow)
    built = await build_narrow(ctx.server, ctx.requester, terms)
    matched = await ctx.server.pool.run_reads("matches narrow", narrow_matches_txn, built, msg_ids)
    texts: dict[int, tuple[str, str]] = {}
    if matched:
        texts = await ctx.server.pool.run_reads("match texts", match_texts_txn, built.search_query, matched)
    messages: dict[str, Payload] = {}
    for message_id in sorted(matched):
        content, subject = texts[message_id]
        messages[str(message_id)] = {"match_content": content, "match_subject": subject}
    return {"messages": messages}


@api.get("users/me/{stream_id}/topics")
async def get_stream_topics(ctx: ApiRequest, *, stream_id: int, allow_empty_topic_name: Json[bool] = False) -> Payload:
    user = ctx.requester
    stream, stream_access = await get_visible_stream(ctx.server, user, stream_id)
    if stream_access.history == "none":
        raise JsonableError("Invalid channel ID")
    topics = await ctx.server.pool.run_reads(
        "topics", stream_topics_txn, stream.recipient_id, user.id, stream_access.history == "own"
    )
    return {"topics": [{"name": name, "max_id": max_id} for name, max_id in topics]}


@api.post("messages/render")
async def render(ctx: ApiRequest, *, content: str) -> Payload:
    from zulipd.actions.render_context import build_render_context
    from zulipd.render import render_message

    context = await build_render_context(
        ctx.server, ctx.requester, ctx.requester_realm, content, secure=ctx.request.isSecure()
    )
    return {"rendered": render_message(content, context).html}
