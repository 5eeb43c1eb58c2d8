"""Applying events to a POST /register state, as a client does, to check them against a fresh register.

``apply_event`` covers the state this module's tests compare: max_message_id,
starred_messages, user_topics, streams, subscriptions, unsubscribed and
never_subscribed (with subscriber lists), realm_users and
realm_non_active_users, realm_bots, realm_user_groups, user_status, realm_linkifiers,
alert_words, realm_default_streams. ``comparable`` orders the lists whose order carries no meaning.
"""

from __future__ import annotations

import copy
from typing import Any

STATE_TYPES = [
    "message", "update_message_flags", "starred_messages", "user_topic", "stream", "subscription", "realm_user",
    "recent_private_conversations", "realm_bot", "realm_user_groups", "user_group", "realm", "user_status",
    "realm_linkifiers", "alert_words", "default_streams",
    # Not a state of its own: the event that takes deleted messages out of unread_msgs.
    "delete_message",
]  # fmt: skip


def apply_event(state: dict[str, Any], event: dict[str, Any]) -> None:
    kind, op = event["type"], event.get("op")
    if "realm_user_groups" in state:
        apply_user_group_event(state, event)
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
    elif kind == "stream" and op in ("update", "delete"):
        apply_stream_change(state, event)
    elif kind == "subscription":
        _apply_subscription(state, event)
    elif kind == "realm_user":
        apply_realm_user_event(state, event)
    elif kind == "realm_bot":
        apply_realm_bot_event(state, event)
    elif kind == "realm":
        apply_realm_event(state, event)
    elif kind == "user_status":
        apply_user_status_event(state, event)
    elif kind == "alert_words":
        # The whole list, every time.
        state["alert_words"] = list(event["alert_words"])
    elif kind == "realm_linkifiers":
        # The whole list, in order, replaces the old one.
        state["realm_linkifiers"] = copy.deepcopy(event["realm_linkifiers"])
    elif kind == "default_streams":
        state["realm_default_streams"] = list(event["default_streams"])
    # After the rest: the unread count follows the muting state the event may just have changed.
    if "unread_msgs" in state:
        apply_unread_event(state, event)
    if "recent_private_conversations" in state:
        apply_recent_conversation_event(state, event)


_CHANNEL_LISTS = ("streams", "subscriptions", "unsubscribed", "never_subscribed")


def apply_stream_change(state: dict[str, Any], event: dict[str, Any]) -> None:
    """A channel's property changed (is_archived included) in every list it is in; or the channel
    is gone from view (archived, for a client without archived_channels), from all of them."""
    if event["op"] == "delete":
        gone = set(event["stream_ids"])
        for key in _CHANNEL_LISTS:
            state[key] = [entry for entry in state[key] if entry["stream_id"] not in gone]
        return
    extras = ("rendered_description", "history_public_to_subscribers", "is_web_public")
    changed = {event["property"]: event["value"], **{name: event[name] for name in extras if name in event}}
    for key in _CHANNEL_LISTS:
        for entry in state[key]:
            if entry["stream_id"] == event["stream_id"]:
                entry.update(copy.deepcopy(changed))


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
    if "realm_default_streams" in result:
        result["realm_default_streams"] = sorted(result["realm_default_streams"])
    result["user_topics"] = sorted(result["user_topics"], key=lambda t: (t["stream_id"], t["topic_name"].lower()))
    for key in ("realm_users", "realm_non_active_users", "realm_bots"):
        if key in result:
            result[key] = sorted(result[key], key=lambda entry: entry["user_id"])
    if "realm_user_groups" in result:
        result["realm_user_groups"] = [_comparable_group(group) for group in result["realm_user_groups"]]
        result["realm_user_groups"].sort(key=lambda group: group["id"])
    if "unread_msgs" in result:
        unread = result["unread_msgs"]
        unread["pms"] = sorted(unread["pms"], key=lambda entry: entry["other_user_id"])
        unread["streams"] = sorted(unread["streams"], key=lambda entry: (entry["stream_id"], entry["topic"]))
        unread["huddles"] = sorted(unread["huddles"], key=lambda entry: entry["user_ids_string"])
    for volatile in ("queue_id", "last_event_id"):
        result.pop(volatile, None)
    return result


_WILDCARD_FLAGS = ("stream_wildcard_mentioned", "topic_wildcard_mentioned")


def _topic_muted(state: dict[str, Any], stream_id: int, topic: str) -> bool:
    """Whether a channel topic's unread messages stay out of the count, from the state's own preferences."""
    policy = next(
        (t["visibility_policy"] for t in state["user_topics"]
         if t["stream_id"] == stream_id and t["topic_name"].lower() == topic.lower()),
        0,
    )  # fmt: skip
    channel_muted = any(sub["stream_id"] == stream_id and sub["is_muted"] for sub in state["subscriptions"])
    return policy == 1 or (channel_muted and policy not in (2, 3))


def _recount_unreads(state: dict[str, Any]) -> None:
    unread = state["unread_msgs"]
    count = sum(len(entry["unread_message_ids"]) for entry in unread["pms"] + unread["huddles"])
    for entry in unread["streams"]:
        if not _topic_muted(state, entry["stream_id"], entry["topic"]):
            count += len(entry["unread_message_ids"])
    unread["count"] = count


def _add_unread(state: dict[str, Any], message_id: int, details: dict[str, Any], mentioned: bool) -> None:
    """One unread message, described as message_details describes it, put in its conversation."""
    unread = state["unread_msgs"]
    me = state["user_id"]
    if details["type"] == "stream":
        stream_id, topic = details["stream_id"], details["topic"]
        if not any(sub["stream_id"] == stream_id for sub in state["subscriptions"]):
            return  # messages of channels the user left are not counted
        entries, fields = unread["streams"], {"stream_id": stream_id, "topic": topic}
        match = [e for e in entries if e["stream_id"] == stream_id and e["topic"] == topic]
    else:
        others = sorted(set(details["user_ids"]) - {me})
        if len(others) <= 1:
            other = others[0] if others else me
            entries, fields = unread["pms"], {"other_user_id": other, "sender_id": other}
            match = [e for e in entries if e["other_user_id"] == other]
        else:
            members = ",".join(str(user_id) for user_id in sorted({*others, me}))
            entries, fields = unread["huddles"], {"user_ids_string": members}
            match = [e for e in entries if e["user_ids_string"] == members]
    if match:
        match[0]["unread_message_ids"] = sorted({*match[0]["unread_message_ids"], message_id})
    else:
        entries.append({**fields, "unread_message_ids": [message_id]})
    if mentioned:
        unread["mentions"] = sorted({*unread["mentions"], message_id})


def _forget_unreads(state: dict[str, Any], message_ids: set[int]) -> None:
    unread = state["unread_msgs"]
    for key in ("pms", "streams", "huddles"):
        for entry in unread[key]:
            entry["unread_message_ids"] = [i for i in entry["unread_message_ids"] if i not in message_ids]
        unread[key] = [entry for entry in unread[key] if entry["unread_message_ids"]]
    unread["mentions"] = [i for i in unread["mentions"] if i not in message_ids]


def apply_unread_event(state: dict[str, Any], event: dict[str, Any]) -> None:
    """What a client does to unread_msgs: new unread messages, read and unread flags, deletions, leaving."""
    kind, op = event["type"], event.get("op")
    if kind == "message" and "read" not in event["flags"]:
        message = event["message"]
        if message["type"] == "stream":
            details = {"type": "stream", "stream_id": message["stream_id"], "topic": message["subject"]}
            muted = _topic_muted(state, message["stream_id"], message["subject"])
        else:
            details = {"type": "private", "user_ids": [r["id"] for r in message["display_recipient"]]}
            muted = False
        wildcard = any(flag in event["flags"] for flag in _WILDCARD_FLAGS)
        _add_unread(state, message["id"], details, "mentioned" in event["flags"] or (wildcard and not muted))
    elif kind == "update_message_flags" and event["flag"] == "read" and op == "add":
        _forget_unreads(state, set(event["messages"]))
    elif kind == "update_message_flags" and event["flag"] == "read" and op == "remove":
        for message_id in event["messages"]:
            details = event["message_details"][str(message_id)]
            _add_unread(state, message_id, details, details.get("mentioned", False))
    elif kind == "delete_message":
        _forget_unreads(state, set(event.get("message_ids") or [event["message_id"]]))
    elif kind == "subscription" and op == "remove":
        left = {sub["stream_id"] for sub in event["subscriptions"]}
        entries = [entry for entry in state["unread_msgs"]["streams"] if entry["stream_id"] in left]
        _forget_unreads(state, {i for entry in entries for i in entry["unread_message_ids"]})
    elif kind != "user_topic" and event.get("property") not in ("is_muted", "in_home_view"):
        return  # nothing else changes what is unread, or what counts
    _recount_unreads(state)


def apply_recent_conversation_event(state: dict[str, Any], event: dict[str, Any]) -> None:
    """A direct message moves its conversation to the top of recent_private_conversations."""
    if event["type"] != "message" or event["message"]["type"] != "private":
        return
    message, me = event["message"], state["user_id"]
    others = sorted({recipient["id"] for recipient in message["display_recipient"]} - {me})
    conversations = [c for c in state["recent_private_conversations"] if c["user_ids"] != others]
    newest = max([message["id"], *(c["max_message_id"] for c in state["recent_private_conversations"]
                                   if c["user_ids"] == others)])  # fmt: skip
    conversations.append({"max_message_id": newest, "user_ids": others})
    state["recent_private_conversations"] = sorted(conversations, key=lambda c: -c["max_message_id"])


_ROLE_FLAGS = {"is_owner": (100,), "is_admin": (100, 200), "is_guest": (600,)}


def apply_realm_user_event(state: dict[str, Any], event: dict[str, Any]) -> None:
    """A new user joins realm_users; an update changes a person's fields (is_active moves them between lists)."""
    person = event["person"]
    if event["op"] == "add":
        for key in ("realm_users", "realm_non_active_users"):
            state[key] = [user for user in state[key] if user["user_id"] != person["user_id"]]
        state["realm_users" if person["is_active"] else "realm_non_active_users"].append(copy.deepcopy(person))
        return
    if event["op"] != "update":
        return
    fields = {key: value for key, value in person.items() if key != "user_id"}
    if "role" in fields:
        fields.update({flag: fields["role"] in roles for flag, roles in _ROLE_FLAGS.items()})
    for key in ("realm_users", "realm_non_active_users"):
        for user in state[key]:
            if user["user_id"] == person["user_id"]:
                user.update(copy.deepcopy(fields))
    everyone = state["realm_users"] + state["realm_non_active_users"]
    state["realm_users"] = [user for user in everyone if user["is_active"]]
    state["realm_non_active_users"] = [user for user in everyone if not user["is_active"]]
    if person["user_id"] == state["user_id"]:
        for name in ("full_name", "is_admin", "is_owner", "is_guest"):
            if name in fields:
                state[name] = fields[name]
        if "role" in fields:
            state["is_moderator"] = fields["role"] == 300


def apply_realm_bot_event(state: dict[str, Any], event: dict[str, Any]) -> None:
    """realm_bots: a bot added to the list (or replacing its old entry), changed, or taken off it."""
    bot, op = event["bot"], event["op"]
    others = [entry for entry in state["realm_bots"] if entry["user_id"] != bot["user_id"]]
    if op == "add":
        state["realm_bots"] = [*others, copy.deepcopy(bot)]
    elif op in ("delete", "remove"):
        state["realm_bots"] = others
    elif op == "update":
        for entry in state["realm_bots"]:
            if entry["user_id"] == bot["user_id"]:
                entry.update(copy.deepcopy(bot))


def apply_user_group_event(state: dict[str, Any], event: dict[str, Any]) -> None:
    """What a client does to realm_user_groups: user_group events, and a deactivated user leaving every group.

    As Zulip's spec asks, a client told that a user was deactivated drops the user from every group's
    members and from anonymous group-setting values; no user_group event says so.
    """
    kind, op = event["type"], event.get("op")
    groups: list[dict[str, Any]] = state["realm_user_groups"]
    if kind == "realm_user" and op == "update" and event["person"].get("is_active") is False:
        gone = event["person"]["user_id"]
        for group in groups:
            group["members"] = [user_id for user_id in group["members"] if user_id != gone]
            for value in group.values():
                if isinstance(value, dict) and "direct_members" in value:
                    value["direct_members"] = [user_id for user_id in value["direct_members"] if user_id != gone]
        return
    if kind != "user_group":
        return
    if op == "add":
        groups.append(copy.deepcopy(event["group"]))
        return
    if op == "remove":
        state["realm_user_groups"] = [group for group in groups if group["id"] != event["group_id"]]
        return
    matching = [group for group in groups if group["id"] == event["group_id"]]
    if not matching:
        return  # a deactivated group, which a client without include_deactivated_groups does not keep
    (group,) = matching
    if op == "update":
        group.update(copy.deepcopy(event["data"]))
    elif op in ("add_members", "remove_members"):
        changed = set(event["user_ids"])
        members = set(group["members"])
        group["members"] = sorted(members | changed if op == "add_members" else members - changed)
    elif op in ("add_subgroups", "remove_subgroups"):
        changed = set(event["direct_subgroup_ids"])
        subgroups = set(group["direct_subgroup_ids"])
        group["direct_subgroup_ids"] = sorted(subgroups | changed if op == "add_subgroups" else subgroups - changed)


def _comparable_group(group: dict[str, Any]) -> dict[str, Any]:
    """A group with its member and subgroup lists, and those of its anonymous setting values, sorted."""
    result = dict(group)
    result["members"] = sorted(result["members"])
    result["direct_subgroup_ids"] = sorted(result["direct_subgroup_ids"])
    for name, value in group.items():
        if isinstance(value, dict) and "direct_members" in value:
            result[name] = {key: sorted(ids) for key, ids in value.items()}
    return result


def apply_realm_event(state: dict[str, Any], event: dict[str, Any]) -> None:
    """What a client does with realm update and update_dict: each property is its realm_-prefixed key."""
    if event["op"] == "update":
        state["realm_" + event["property"]] = copy.deepcopy(event["value"])
    elif event["op"] == "update_dict":
        for name, value in event["data"].items():
            state["realm_" + name] = copy.deepcopy(value)


def apply_user_status_event(state: dict[str, Any], event: dict[str, Any]) -> None:
    """user_status: the fields the event names replace the user's; what is empty or false is not shown."""
    key = str(event["user_id"])
    entry = dict(state["user_status"].get(key, {}))
    for name in ("away", "status_text", "emoji_name", "emoji_code", "reaction_type"):
        if name in event:
            entry[name] = event[name]
    if not entry.get("away"):
        entry.pop("away", None)
    if not entry.get("status_text"):
        entry.pop("status_text", None)
    if not entry.get("emoji_name"):
        for name in ("emoji_name", "emoji_code", "reaction_type"):
            entry.pop(name, None)
    if entry:
        state["user_status"][key] = entry
    else:
        state["user_status"].pop(key, None)
