"""Applying events to a POST /register state, as a client does, to check them against a fresh register.

``apply_event`` covers the state this module's tests compare: max_message_id,
starred_messages, user_topics, streams, subscriptions, unsubscribed and
never_subscribed (with subscriber lists). ``comparable`` orders the lists
whose order carries no meaning.
"""

from __future__ import annotations

import copy
from typing import Any

STATE_TYPES = [
    "message", "update_message_flags", "starred_messages", "user_topic", "stream", "subscription", "realm_user",
]  # fmt: skip


def apply_event(state: dict[str, Any], event: dict[str, Any]) -> None:
    kind, op = event["type"], event.get("op")
    if kind == "message":
        message = event["message"]
        state["max_message_id"] = max(state["max_message_id"], message["id"])
        # A channel's first message sets its first_message_id; no event says so (Zulip's clients do this).
        for key in ("streams", "subscriptions", "unsubscribed", "never_subscribed"):
            for entry in state[key]:
                if entry["stream_id"] == message.get("stream_id") and entry["first_message_id"] is None:
                    entry["first_message_id"] = message["id"]
    elif kind == "update_message_flags" and event["flag"] == "starred":
        starred = set(state["starred_messages"])
        starred = starred | set(event["messages"]) if op == "add" else starred - set(event["messages"])
        state["starred_messages"] = sorted(starred)
    elif kind == "user_topic":
        # Topics match without regard to case; an existing entry keeps the name it was first given.
        topic_key = (event["stream_id"], event["topic_name"].lower())
        same = [t for t in state["user_topics"] if (t["stream_id"], t["topic_name"].lower()) == topic_key]
        kept = [t for t in state["user_topics"] if t not in same]
        if event["visibility_policy"] != 0:
            names = ("stream_id", "topic_name", "last_updated", "visibility_policy")
            entry = {name: event[name] for name in names}
            if same:
                entry["topic_name"] = same[0]["topic_name"]
            kept.append(entry)
        state["user_topics"] = kept
    elif kind == "stream" and op == "create":
        for stream in event["streams"]:
            state["streams"].append(copy.deepcopy(stream))
            state["never_subscribed"].append({**copy.deepcopy(stream), "subscribers": []})
    elif kind == "subscription":
        _apply_subscription(state, event)


def _apply_subscription(state: dict[str, Any], event: dict[str, Any]) -> None:
    op = event["op"]
    if op == "add":
        ids = {sub["stream_id"] for sub in event["subscriptions"]}
        for key in ("unsubscribed", "never_subscribed"):
            state[key] = [entry for entry in state[key] if entry["stream_id"] not in ids]
        state["subscriptions"].extend(copy.deepcopy(event["subscriptions"]))
    elif op == "remove":
        # The user is no longer among the subscribers; no peer_remove tells them so (Zulip's clients do this).
        ids = {sub["stream_id"] for sub in event["subscriptions"]}
        for sub in state["subscriptions"]:
            if sub["stream_id"] in ids:
                sub["subscribers"] = [user_id for user_id in sub["subscribers"] if user_id != state["user_id"]]
                state["unsubscribed"].append(sub)
        state["subscriptions"] = [sub for sub in state["subscriptions"] if sub["stream_id"] not in ids]
    elif op == "update":
        for sub in state["subscriptions"]:
            if sub["stream_id"] == event["stream_id"]:
                sub[event["property"]] = event["value"]
                if event["property"] == "is_muted":
                    sub["in_home_view"] = not event["value"]
    elif op in ("peer_add", "peer_remove"):
        for key in ("subscriptions", "unsubscribed", "never_subscribed"):
            for entry in state[key]:
                if entry["stream_id"] in event["stream_ids"]:
                    members = set(entry["subscribers"])
                    changed = set(event["user_ids"])
                    entry["subscribers"] = sorted(members | changed if op == "peer_add" else members - changed)


def comparable(state: dict[str, Any]) -> dict[str, Any]:
    """The state with its unordered lists in one order (and the keys the compared types give)."""
    result = copy.deepcopy(state)
    for key in ("streams", "subscriptions", "unsubscribed", "never_subscribed"):
        result[key] = sorted(result[key], key=lambda entry: entry["stream_id"])
        for entry in result[key]:
            if "subscribers" in entry:
                entry["subscribers"] = sorted(entry["subscribers"])
    result["user_topics"] = sorted(result["user_topics"], key=lambda t: (t["stream_id"], t["topic_name"].lower()))
    for volatile in ("queue_id", "last_event_id"):
        result.pop(volatile, None)
    return result
