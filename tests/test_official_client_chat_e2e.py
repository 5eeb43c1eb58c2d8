"""End to end, the chat flows: the unmodified official ``zulip`` 0.9.1 client against a live ``twistd -n zulipd``.

One daemon serves the whole module (conftest.py's ``live`` fixture, on Zulip's
development data from ``zulipd-admin populate-dev``). Every call goes through
the client's own methods (``call_endpoint`` only where the client has none),
every answer is held to Zulip's OpenAPI spec, and every test checks the exact
ids, contents, topics and flags that come back, plus one refusal per flow.

Tests share the daemon, so each works in channels or topics of its own
(``fresh`` names them) and asserts only about the messages it sent.
"""

from __future__ import annotations

import itertools
import time
from dataclasses import dataclass, field
from typing import Any

import pytest

from tests.chat_support import spec_problem
from tests.operator_tools import LiveZulipd
from tests.support.openapi import assert_valid

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("official_client_chat_e2e")]

HAMLET = "hamlet@zulip.com"  # Verona, Denmark, core team, Zulip, sandbox
CORDELIA = "cordelia@zulip.com"  # Verona
AARON = "AARON@zulip.com"  # Verona
POLONIUS = "polonius@zulip.com"  # a guest, in Verona
IAGO = "iago@zulip.com"  # an administrator

# What an anchor of "newest" comes back as (Zulip's LARGER_THAN_MAX_MESSAGE_ID).
NEWEST_ANCHOR = 10_000_000_000_000_000
OCTOPUS = {"emoji_name": "octopus", "emoji_code": "1f419", "reaction_type": "unicode_emoji"}
# What Zulip 10 answers a successful edit (zulipd keeps no uploads, so none is ever detached).
EDITED = {"result": "success", "msg": "", "detached_uploads": []}
FOLLOWED = 3  # a visibility_policy

_serial = itertools.count(1)


def fresh(prefix: str) -> str:
    """A channel or topic name no other test of this module uses."""
    return f"{prefix} {next(_serial)}"


@dataclass
class Chat:
    live: LiveZulipd
    user_ids: dict[str, int]
    _clients: dict[str, Any] = field(default_factory=dict)

    def client(self, email: str) -> Any:
        if email not in self._clients:
            self._clients[email] = self.live.client(email)
        return self._clients[email]


@pytest.fixture(scope="module")
def chat(live: LiveZulipd) -> Chat:
    members = live.client(IAGO).get_members()
    assert members["result"] == "success", members
    return Chat(live, {member["email"]: member["user_id"] for member in members["members"]})


def ok(result: dict[str, Any], method: str, path: str) -> dict[str, Any]:
    """A success, checked against the spec's 200 response for ``method path``."""
    assert result.get("result") == "success", result
    assert result.get("msg") == "", result
    assert_valid(method, path, 200, result)
    return result


def refused(result: dict[str, Any], method: str, path: str, msg: str, code: str = "BAD_REQUEST", **extra: Any) -> None:
    """Exactly Zulip's error (a 400), and one the spec allows for ``method path``."""
    assert result == {"result": "error", "msg": msg, "code": code, **extra}, result
    problem = spec_problem(method, path, 400, result)
    assert problem is None, problem


def send(client: Any, request: dict[str, Any]) -> int:
    sent = ok(client.send_message(request), "POST", "messages")
    # Starting a topic follows it (automatically_follow_topics_policy defaults to "topics I start").
    assert set(sent) <= {"result", "msg", "id", "automatic_new_visibility_policy"}, sent
    message_id: int = sent["id"]
    return message_id


def post(client: Any, channel: str | int, topic: str, content: str) -> int:
    return send(client, {"type": "stream", "to": channel, "topic": topic, "content": content})


def messages(client: Any, narrow: list[dict[str, Any]], **request: Any) -> dict[str, Any]:
    """GET /messages, by default the newest hundred of ``narrow``."""
    query = {"anchor": "newest", "num_before": 100, "num_after": 0, "narrow": narrow, **request}
    return ok(client.get_messages(query), "GET", "messages")


def ids(result: dict[str, Any]) -> list[int]:
    return [message["id"] for message in result["messages"]]


def channel_narrow(channel: str | int, topic: str | None = None) -> list[dict[str, Any]]:
    narrow: list[dict[str, Any]] = [{"operator": "channel", "operand": channel}]
    if topic is not None:
        narrow.append({"operator": "topic", "operand": topic})
    return narrow


def stream_id(client: Any, name: str) -> int:
    found: int = ok(client.get_stream_id(name), "GET", "get_stream_id")["stream_id"]
    return found


def new_channel(chat: Chat, creator: str, *members: str, **options: Any) -> tuple[str, int]:
    """A channel created by ``creator`` with ``members`` subscribed too: (name, id)."""
    name = fresh("chat e2e")
    principals = [chat.user_ids[email] for email in (creator, *members)]
    created = chat.client(creator).add_subscriptions([{"name": name}], principals=principals, **options)
    ok(created, "POST", "users/me/subscriptions")
    assert created["subscribed"] == {str(user_id): [name] for user_id in principals}, created
    return name, stream_id(chat.client(creator), name)


def raw_message(client: Any, message_id: int) -> dict[str, Any]:
    return ok(client.get_raw_message(message_id), "GET", f"messages/{message_id}")


def flags_of(client: Any, message_id: int) -> list[str]:
    flags: list[str] = raw_message(client, message_id)["message"]["flags"]
    return sorted(flags)


# --- sending ---------------------------------------------------------------------------------------------------------


def test_send_to_a_channel_by_name_and_by_id(chat: Chat) -> None:
    hamlet, cordelia = chat.client(HAMLET), chat.client(CORDELIA)
    verona = stream_id(hamlet, "Verona")
    topic = fresh("send to a channel")
    by_name = send(
        hamlet,
        {"type": "stream", "to": "Verona", "topic": topic, "content": "by name & <b>not bold</b>",
         "local_id": "client-local-17", "queue_id": "no-queue-of-this-client"},
    )  # fmt: skip
    by_id = send(hamlet, {"type": "channel", "to": verona, "subject": topic, "content": "by id"})
    assert by_id > by_name

    fetched = raw_message(hamlet, by_name)
    assert fetched["raw_content"] == "by name & <b>not bold</b>"
    message = fetched["message"]
    assert message["id"] == by_name
    assert message["content"] == "<p>by name &amp; &lt;b&gt;not bold&lt;/b&gt;</p>"
    assert message["content_type"] == "text/html"
    assert (message["type"], message["display_recipient"], message["stream_id"], message["subject"]) == (
        "stream", "Verona", verona, topic,
    )  # fmt: skip
    assert (message["sender_id"], message["sender_email"], message["sender_full_name"]) == (
        chat.user_ids[HAMLET], HAMLET, "King Hamlet",
    )  # fmt: skip
    assert message["client"] == "ZulipPython"
    assert abs(message["timestamp"] - time.time()) < 60
    assert message["flags"] == ["read"]  # a sender's own message is read
    assert message["reactions"] == []
    # A subscriber gets it unread.
    assert flags_of(cordelia, by_name) == []
    assert raw_message(cordelia, by_id)["raw_content"] == "by id"
    # The legacy one-element list forms, and a name in another case: the same channel.
    in_a_list = send(hamlet, {"type": "stream", "to": ["verona"], "topic": topic, "content": "name in a list"})
    id_in_a_list = send(hamlet, {"type": "stream", "to": [verona], "topic": topic, "content": "id in a list"})
    assert raw_message(hamlet, in_a_list)["message"]["display_recipient"] == "Verona"
    # All are in the topic, oldest first, as every subscriber sees it; topics match in any case.
    for reader in (hamlet, cordelia):
        assert ids(messages(reader, channel_narrow("Verona", topic))) == [by_name, by_id, in_a_list, id_in_a_list]
    assert ids(messages(cordelia, channel_narrow("VERONA", topic.upper()))) == [by_name, by_id, in_a_list, id_in_a_list]


def test_sending_to_a_channel_that_does_not_exist(chat: Chat) -> None:
    hamlet = chat.client(HAMLET)
    refused(
        hamlet.send_message({"type": "stream", "to": "Atlantis", "topic": "x", "content": "hello?"}),
        "POST", "messages", "Channel 'Atlantis' does not exist", "STREAM_DOES_NOT_EXIST", stream="Atlantis",
    )  # fmt: skip
    # Zulip's StreamWithIDDoesNotExistError: the spec lists no error with a stream_id field for this route.
    by_id = hamlet.send_message({"type": "stream", "to": 424242, "topic": "x", "content": "hello?"})
    assert by_id == {
        "result": "error", "msg": "Channel with ID '424242' does not exist", "code": "STREAM_DOES_NOT_EXIST",
        "stream_id": 424242,
    }  # fmt: skip
    refused(
        hamlet.send_message({"type": "stream", "to": "Verona", "topic": "x", "content": "  "}),
        "POST", "messages", "Message must not be empty",
    )  # fmt: skip


def test_direct_messages_one_to_one_group_and_to_oneself(chat: Chat) -> None:
    hamlet, cordelia, aaron = chat.client(HAMLET), chat.client(CORDELIA), chat.client(AARON)
    hamlet_id, cordelia_id, aaron_id = (chat.user_ids[email] for email in (HAMLET, CORDELIA, AARON))

    one_to_one = send(hamlet, {"type": "private", "to": [CORDELIA], "content": "just us"})
    group = send(hamlet, {"type": "direct", "to": [cordelia_id, aaron_id], "content": "the three of us"})
    # The legacy comma-separated emails reach the same group.
    group_again = send(aaron, {"type": "private", "to": f"{HAMLET},{CORDELIA}", "content": "and again"})
    to_self = send(hamlet, {"type": "direct", "to": [hamlet_id], "content": "a note to self"})
    reply = send(cordelia, {"type": "private", "to": HAMLET, "content": "hello back"})

    def recipients(message: dict[str, Any]) -> list[tuple[int, str]]:
        return [(user["id"], user["email"]) for user in message["display_recipient"]]

    message = raw_message(cordelia, one_to_one)["message"]
    assert (message["type"], message["subject"], message["content"]) == ("private", "", "<p>just us</p>")
    assert recipients(message) == sorted([(hamlet_id, HAMLET), (cordelia_id, CORDELIA)])
    assert message["flags"] == []
    message = raw_message(aaron, group)["message"]
    assert recipients(message) == sorted([(hamlet_id, HAMLET), (cordelia_id, CORDELIA), (aaron_id, AARON)])
    assert message["flags"] == []
    message = raw_message(hamlet, to_self)["message"]
    assert recipients(message) == [(hamlet_id, HAMLET)]
    assert message["flags"] == ["read"]

    # Each conversation's narrow holds exactly its messages (counted from this test's first one).
    since = {"anchor": one_to_one, "num_before": 0, "num_after": 100}
    dm = [{"operator": "dm", "operand": CORDELIA}]
    assert ids(messages(hamlet, dm, **since)) == [one_to_one, reply]
    assert ids(messages(cordelia, [{"operator": "dm", "operand": [hamlet_id]}], **since)) == [one_to_one, reply]
    group_ids = [group, group_again]
    assert ids(messages(aaron, [{"operator": "dm", "operand": [HAMLET, CORDELIA]}], **since)) == group_ids
    assert ids(messages(hamlet, [{"operator": "dm", "operand": [cordelia_id, aaron_id]}], **since)) == group_ids
    assert (
        raw_message(cordelia, group_again)["message"]["recipient_id"]
        == raw_message(aaron, group)["message"]["recipient_id"]
    )
    assert ids(messages(hamlet, [{"operator": "dm", "operand": HAMLET}], **since)) == [to_self]
    assert ids(messages(hamlet, [{"operator": "is", "operand": "dm"}], **since)) == [
        one_to_one, group, group_again, to_self, reply,
    ]  # fmt: skip
    assert ids(messages(hamlet, [{"operator": "dm-including", "operand": AARON}], **since)) == group_ids

    # Nobody else reads them.
    polonius = chat.client(POLONIUS)
    for message_id in (one_to_one, group, to_self):
        refused(polonius.get_raw_message(message_id), "GET", f"messages/{message_id}", "Invalid message(s)")
    refused(aaron.get_raw_message(one_to_one), "GET", f"messages/{one_to_one}", "Invalid message(s)")
    refused(
        hamlet.send_message({"type": "private", "to": ["nobody@zulip.com"], "content": "anyone?"}),
        "POST", "messages", "Invalid email 'nobody@zulip.com'",
    )  # fmt: skip


# --- reading ---------------------------------------------------------------------------------------------------------


def test_get_messages_with_narrows_and_anchors(chat: Chat) -> None:
    hamlet, cordelia = chat.client(HAMLET), chat.client(CORDELIA)
    name, channel = new_channel(chat, HAMLET, CORDELIA)
    first = post(hamlet, name, "north", "the first word")
    second = post(cordelia, name, "north", "a reply")
    third = post(hamlet, name, "south", "zanzibar marmalade")
    fourth = post(cordelia, name, "north", "another reply")
    fifth = post(hamlet, name, "south", "the last word")
    everything = [first, second, third, fourth, fifth]

    newest = messages(hamlet, channel_narrow(name, "north"), num_before=10)
    assert ids(newest) == [first, second, fourth]
    assert {message["subject"] for message in newest["messages"]} == {"north"}
    assert (newest["anchor"], newest["found_anchor"], newest["found_newest"], newest["found_oldest"]) == (
        NEWEST_ANCHOR, False, True, True,
    )  # fmt: skip
    assert newest["history_limited"] is False
    # The channel by id, as an operand.
    assert ids(messages(hamlet, channel_narrow(channel))) == everything

    oldest = messages(hamlet, channel_narrow(name), anchor="oldest", num_before=0, num_after=2)
    assert ids(oldest) == [first, second]
    assert (oldest["anchor"], oldest["found_oldest"], oldest["found_newest"]) == (0, True, False)

    around = messages(hamlet, channel_narrow(name), anchor=third, num_before=1, num_after=1)
    assert ids(around) == [second, third, fourth]
    assert (around["anchor"], around["found_anchor"], around["found_oldest"], around["found_newest"]) == (
        third, True, False, False,
    )  # fmt: skip
    after_anchor = messages(hamlet, channel_narrow(name), anchor=third, num_before=0, num_after=2, include_anchor=False)
    assert ids(after_anchor) == [fourth, fifth]
    # As in Zulip: without the anchor nothing beyond the range is fetched, so the end is not known to be found.
    assert (after_anchor["found_anchor"], after_anchor["found_newest"]) == (False, False)
    to_the_end = messages(hamlet, channel_narrow(name), anchor=third, num_before=0, num_after=3, include_anchor=False)
    assert (ids(to_the_end), to_the_end["found_newest"]) == ([fourth, fifth], True)

    by_sender = [*channel_narrow(name), {"operator": "sender", "operand": CORDELIA}]
    assert ids(messages(hamlet, by_sender)) == [second, fourth]
    by_sender_id = [*channel_narrow(name), {"operator": "sender", "operand": chat.user_ids[HAMLET]}]
    assert ids(messages(cordelia, by_sender_id)) == [first, third, fifth]

    found = messages(hamlet, [*channel_narrow(name), {"operator": "search", "operand": "marmalade"}])
    assert ids(found) == [third]
    assert found["messages"][0]["match_content"] == '<p>zanzibar <span class="highlight">marmalade</span></p>'
    assert found["messages"][0]["match_subject"] == "south"
    assert ids(messages(hamlet, [*channel_narrow(name), {"operator": "search", "operand": "nothing-like-it"}])) == []

    # Cordelia has not read Hamlet's messages: the first unread one is the anchor.
    unread = messages(cordelia, channel_narrow(name), anchor="first_unread", num_before=0, num_after=10)
    assert (unread["anchor"], unread["found_anchor"]) == (first, True)
    assert ids(unread) == everything
    assert [message["flags"] for message in unread["messages"]] == [[], ["read"], [], ["read"], []]
    ok(cordelia.update_message_flags({"messages": [first], "op": "add", "flag": "read"}), "POST", "messages/flags")
    unread = messages(cordelia, channel_narrow(name), anchor="first_unread", num_before=1, num_after=0)
    assert (unread["anchor"], ids(unread)) == (third, [second, third])

    # Starring is personal.
    starred = [*channel_narrow(name), {"operator": "is", "operand": "starred"}]
    assert ids(messages(hamlet, starred)) == []
    flagged = hamlet.update_message_flags({"messages": [second], "op": "add", "flag": "starred"})
    assert ok(flagged, "POST", "messages/flags")["messages"] == [second]
    assert ids(messages(hamlet, starred)) == [second]
    assert messages(hamlet, starred)["messages"][0]["flags"] == ["starred"]  # Cordelia's, which Hamlet has not read
    assert ids(messages(cordelia, starred)) == []
    unflagged = hamlet.update_message_flags({"messages": [second], "op": "remove", "flag": "starred"})
    assert ok(unflagged, "POST", "messages/flags")["messages"] == [second]
    assert ids(messages(hamlet, starred)) == []

    refused(
        hamlet.get_messages({"anchor": "sometime", "num_before": 1, "num_after": 0}),
        "GET", "messages", "Invalid anchor",
    )  # fmt: skip
    refused(
        hamlet.get_messages({"anchor": third, "num_before": 1, "num_after": 1, "include_anchor": False}),
        "GET", "messages", "The anchor can only be excluded at an end of the range",
    )  # fmt: skip


def test_get_a_message_by_id_and_who_may_not(chat: Chat) -> None:
    hamlet = chat.client(HAMLET)
    topic = fresh("core business")
    secret = post(hamlet, "core team", topic, "only for the core team")
    fetched = raw_message(hamlet, secret)
    assert fetched["raw_content"] == "only for the core team"
    assert (fetched["message"]["display_recipient"], fetched["message"]["subject"]) == ("core team", topic)
    # Raw Markdown instead of HTML, when asked.
    plain = ok(hamlet.call_endpoint(f"messages/{secret}", method="GET", request={"apply_markdown": False}),
               "GET", f"messages/{secret}")  # fmt: skip
    assert (plain["message"]["content"], plain["message"]["content_type"]) == (
        "only for the core team",
        "text/x-markdown",
    )
    for outsider in (POLONIUS, CORDELIA):
        refused(chat.client(outsider).get_raw_message(secret), "GET", f"messages/{secret}", "Invalid message(s)")
        assert ids(messages(chat.client(outsider), [{"operator": "search", "operand": "core team"}])) == []
    refused(hamlet.get_raw_message(999_999_999), "GET", "messages/999999999", "Invalid message(s)")


# --- editing, moving, deleting ---------------------------------------------------------------------------------------


def test_edit_content_rename_a_topic_and_move_it_to_another_channel(chat: Chat) -> None:
    hamlet, cordelia = chat.client(HAMLET), chat.client(CORDELIA)
    hamlet_id = chat.user_ids[HAMLET]
    name, channel = new_channel(chat, HAMLET, CORDELIA)
    target_name, target = new_channel(chat, HAMLET, CORDELIA)
    first = post(hamlet, name, "draft", "first")
    second = post(hamlet, name, "draft", "second")
    third = post(cordelia, name, "draft", "third")

    edited = hamlet.update_message({"message_id": first, "content": "first, edited"})
    # The client sends message_id in the body too; as in Zulip, the path's value is used and the other reported.
    assert ok(edited, "PATCH", f"messages/{first}") == {**EDITED, "ignored_parameters_unsupported": ["message_id"]}
    fetched = raw_message(cordelia, first)
    assert fetched["raw_content"] == "first, edited"
    assert fetched["message"]["content"] == "<p>first, edited</p>"
    assert abs(fetched["message"]["last_edit_timestamp"] - time.time()) < 60
    assert fetched["message"]["edit_history"] == [
        {"timestamp": fetched["message"]["last_edit_timestamp"], "user_id": hamlet_id, "prev_content": "first",
         "prev_rendered_content": "<p>first</p>"},
    ]  # fmt: skip
    history = ok(hamlet.get_message_history(first), "GET", f"messages/{first}/history")["message_history"]
    assert [(entry["content"], entry["rendered_content"], entry["topic"], entry["user_id"]) for entry in history] == [
        ("first", "<p>first</p>", "draft", hamlet_id),
        ("first, edited", "<p>first, edited</p>", "draft", hamlet_id),
    ]
    assert "prev_content" not in history[0]
    assert (history[1]["prev_content"], history[1]["prev_rendered_content"]) == ("first", "<p>first</p>")

    # A topic rename of the whole topic, asked for on its middle message.
    renamed = hamlet.update_message({"message_id": second, "topic": "final", "propagate_mode": "change_all"})
    assert ok(renamed, "PATCH", f"messages/{second}")["detached_uploads"] == []
    assert ids(messages(hamlet, channel_narrow(name, "final"))) == [first, second, third]
    assert ids(messages(hamlet, channel_narrow(name, "draft"))) == []
    assert raw_message(cordelia, third)["message"]["subject"] == "final"
    topics = ok(hamlet.get_stream_topics(channel), "GET", f"users/me/{channel}/topics")["topics"]
    assert topics == [{"name": "final", "max_id": third}]
    history = ok(hamlet.get_message_history(third), "GET", f"messages/{third}/history")["message_history"]
    assert [(entry["topic"], entry.get("prev_topic"), entry["user_id"]) for entry in history] == [
        ("draft", None, chat.user_ids[CORDELIA]),
        ("final", "draft", hamlet_id),
    ]

    # A move of the whole topic to another channel.
    moved = hamlet.update_message({"message_id": first, "stream_id": target, "propagate_mode": "change_all"})
    assert ok(moved, "PATCH", f"messages/{first}")["detached_uploads"] == []
    assert ids(messages(cordelia, channel_narrow(target_name, "final"))) == [first, second, third]
    assert ids(messages(cordelia, channel_narrow(name))) == []
    message = raw_message(cordelia, second)["message"]
    assert (message["display_recipient"], message["stream_id"], message["subject"]) == (target_name, target, "final")
    assert ok(hamlet.get_stream_topics(channel), "GET", f"users/me/{channel}/topics")["topics"] == []
    assert ok(hamlet.get_stream_topics(target), "GET", f"users/me/{target}/topics")["topics"] == [
        {"name": "final", "max_id": third}
    ]
    last = ok(hamlet.get_message_history(second), "GET", f"messages/{second}/history")["message_history"][-1]
    assert (last["prev_stream"], last["stream"], last["topic"]) == (channel, target, "final")

    # The client's move_topic: back to the first channel, renamed on the way.
    back = hamlet.move_topic(target_name, name, "final", new_topic="returned")
    assert ok(back, "PATCH", f"messages/{third}") == EDITED
    assert ids(messages(cordelia, channel_narrow(name, "returned"))) == [first, second, third]
    assert ids(messages(cordelia, channel_narrow(target_name))) == []

    # change_later: the message and those after it.
    later = hamlet.update_message({"message_id": second, "topic": "later", "propagate_mode": "change_later"})
    ok(later, "PATCH", f"messages/{second}")
    assert ids(messages(cordelia, channel_narrow(name, "returned"))) == [first]
    assert ids(messages(cordelia, channel_narrow(name, "later"))) == [second, third]

    # Only the sender edits content, administrators included.
    for editor in (cordelia, chat.client(IAGO)):
        refused(editor.update_message({"message_id": first, "content": "not mine"}), "PATCH", f"messages/{first}",
                "You don't have permission to edit this message")  # fmt: skip
    assert raw_message(hamlet, first)["raw_content"] == "first, edited"
    refused(hamlet.update_message({"message_id": 999_999_999, "content": "x"}), "PATCH", "messages/999999999",
            "Invalid message(s)")  # fmt: skip
    refused(hamlet.update_message({"message_id": first, "stream_id": 424242}), "PATCH", f"messages/{first}",
            "Invalid channel ID")  # fmt: skip
    refused(hamlet.get_message_history(999_999_999), "GET", "messages/999999999/history", "Invalid message(s)")


def test_delete_a_message(chat: Chat) -> None:
    hamlet, cordelia = chat.client(HAMLET), chat.client(CORDELIA)
    topic = fresh("to be deleted")
    kept = post(hamlet, "Verona", topic, "this one stays")
    doomed = post(hamlet, "Verona", topic, "this one goes")

    refused(cordelia.delete_message(doomed), "DELETE", f"messages/{doomed}",
            "You don't have permission to delete this message")  # fmt: skip
    deleted = hamlet.delete_message(doomed)
    ok(deleted, "DELETE", f"messages/{doomed}")
    assert set(deleted) == {"result", "msg"}
    for reader in (hamlet, cordelia):
        refused(reader.get_raw_message(doomed), "GET", f"messages/{doomed}", "Invalid message(s)")
        assert ids(messages(reader, channel_narrow("Verona", topic))) == [kept]
    refused(hamlet.delete_message(doomed), "DELETE", f"messages/{doomed}", "Invalid message(s)")
    # An administrator deletes anyone's.
    ok(chat.client(IAGO).delete_message(kept), "DELETE", f"messages/{kept}")
    assert ids(messages(cordelia, channel_narrow("Verona", topic))) == []


# --- reactions -------------------------------------------------------------------------------------------------------


def test_add_and_remove_reactions(chat: Chat) -> None:
    hamlet, cordelia = chat.client(HAMLET), chat.client(CORDELIA)
    topic = fresh("reactions")
    message_id = post(hamlet, "Verona", topic, "react to me")

    added = hamlet.add_reaction({"message_id": message_id, "emoji_name": "octopus"})
    assert ok(added, "POST", f"messages/{message_id}/reactions") == {
        "result": "success", "msg": "", "ignored_parameters_unsupported": ["message_id"],
    }  # fmt: skip
    ok(cordelia.add_reaction({"message_id": message_id, **OCTOPUS}), "POST", f"messages/{message_id}/reactions")
    joy = {"emoji_name": "joy", "emoji_code": "1f602", "reaction_type": "unicode_emoji"}
    ok(cordelia.add_reaction({"message_id": message_id, **joy}), "POST", f"messages/{message_id}/reactions")
    assert raw_message(hamlet, message_id)["message"]["reactions"] == [
        {**OCTOPUS, "user_id": chat.user_ids[HAMLET]},
        {**OCTOPUS, "user_id": chat.user_ids[CORDELIA]},
        {**joy, "user_id": chat.user_ids[CORDELIA]},
    ]
    reacted = [*channel_narrow("Verona", topic), {"operator": "has", "operand": "reaction"}]
    assert ids(messages(hamlet, reacted)) == [message_id]

    path = f"messages/{message_id}/reactions"
    again = hamlet.add_reaction({"message_id": message_id, "emoji_name": "octopus"})
    refused(again, "POST", path, "Reaction already exists.", "REACTION_ALREADY_EXISTS")
    removed = hamlet.remove_reaction({"message_id": message_id, "emoji_name": "octopus"})
    ok(removed, "DELETE", f"messages/{message_id}/reactions")
    ok(cordelia.remove_reaction({"message_id": message_id, **joy}), "DELETE", f"messages/{message_id}/reactions")
    assert raw_message(cordelia, message_id)["message"]["reactions"] == [
        {**OCTOPUS, "user_id": chat.user_ids[CORDELIA]}
    ]
    gone = hamlet.remove_reaction({"message_id": message_id, "emoji_name": "octopus"})
    refused(gone, "DELETE", path, "Reaction doesn't exist.", "REACTION_DOES_NOT_EXIST")
    # Zulip's extra emoji, and a removal by emoji code alone.
    zulip_emoji = {"emoji_name": "zulip", "emoji_code": "zulip", "reaction_type": "zulip_extra_emoji"}
    ok(hamlet.add_reaction({"message_id": message_id, "emoji_name": "zulip", "reaction_type": "zulip_extra_emoji"}),
       "POST", f"messages/{message_id}/reactions")  # fmt: skip
    assert raw_message(cordelia, message_id)["message"]["reactions"] == [
        {**OCTOPUS, "user_id": chat.user_ids[CORDELIA]},
        {**zulip_emoji, "user_id": chat.user_ids[HAMLET]},
    ]
    ok(cordelia.remove_reaction({"message_id": message_id, "emoji_code": "1f419", "reaction_type": "unicode_emoji"}),
       "DELETE", f"messages/{message_id}/reactions")  # fmt: skip
    assert raw_message(cordelia, message_id)["message"]["reactions"] == [
        {**zulip_emoji, "user_id": chat.user_ids[HAMLET]}
    ]
    refused(hamlet.add_reaction({"message_id": message_id, "emoji_name": "no_such_emoji"}),
            "POST", f"messages/{message_id}/reactions", "Emoji 'no_such_emoji' does not exist")  # fmt: skip
    secret = post(hamlet, "core team", fresh("reactions"), "not for everyone")
    refused(cordelia.add_reaction({"message_id": secret, "emoji_name": "octopus"}),
            "POST", f"messages/{secret}/reactions", "Invalid message(s)")  # fmt: skip


# --- channels and subscriptions --------------------------------------------------------------------------------------


def test_create_a_channel_and_manage_subscriptions(chat: Chat) -> None:
    hamlet, cordelia, iago = chat.client(HAMLET), chat.client(CORDELIA), chat.client(IAGO)
    hamlet_id, cordelia_id = chat.user_ids[HAMLET], chat.user_ids[CORDELIA]
    name = fresh("new channel")
    created = hamlet.add_subscriptions(
        [{"name": name, "description": "Made by the client"}], principals=[HAMLET, CORDELIA]
    )
    ok(created, "POST", "users/me/subscriptions")
    assert created["subscribed"] == {str(hamlet_id): [name], str(cordelia_id): [name]}
    assert created["already_subscribed"] == {}
    again = ok(hamlet.add_subscriptions([{"name": name}]), "POST", "users/me/subscriptions")
    assert (again["subscribed"], again["already_subscribed"]) == ({}, {str(hamlet_id): [name]})

    channel = stream_id(hamlet, name)
    listed = {stream["name"]: stream for stream in ok(hamlet.get_streams(), "GET", "streams")["streams"]}
    assert listed[name]["stream_id"] == channel
    assert (listed[name]["description"], listed[name]["invite_only"]) == ("Made by the client", False)
    assert {"Verona", "Denmark", "core team", "Zulip", "sandbox"} <= set(listed)

    subscribers = hamlet.get_subscribers(stream=name)
    ok(subscribers, "GET", f"streams/{channel}/members")
    assert sorted(subscribers["subscribers"]) == sorted([hamlet_id, cordelia_id])

    mine = ok(hamlet.get_subscriptions({"include_subscribers": True}), "GET", "users/me/subscriptions")
    entry = next(sub for sub in mine["subscriptions"] if sub["stream_id"] == channel)
    assert (entry["name"], entry["description"], entry["pin_to_top"], entry["is_muted"]) == (
        name, "Made by the client", False, False,
    )  # fmt: skip
    assert sorted(entry["subscribers"]) == sorted([hamlet_id, cordelia_id])
    assert {"Verona", "Denmark", "core team", "Zulip", "sandbox", name} <= {
        sub["name"] for sub in mine["subscriptions"]
    }

    changes = [
        {"stream_id": channel, "property": "pin_to_top", "value": True},
        {"stream_id": channel, "property": "color", "value": "#e79ab5"},
        {"stream_id": channel, "property": "is_muted", "value": True},
    ]
    ok(hamlet.update_subscription_settings(changes), "POST", "users/me/subscriptions/properties")
    entry = next(sub for sub in hamlet.get_subscriptions()["subscriptions"] if sub["stream_id"] == channel)
    assert (entry["pin_to_top"], entry["color"], entry["is_muted"]) == (True, "#e79ab5", True)
    others = next(sub for sub in cordelia.get_subscriptions()["subscriptions"] if sub["stream_id"] == channel)
    assert (others["pin_to_top"], others["is_muted"]) == (False, False)
    status = ok(
        hamlet.get_subscription_status(cordelia_id, channel), "GET", f"users/{cordelia_id}/subscriptions/{channel}"
    )
    assert status["is_subscribed"] is True

    left = ok(cordelia.remove_subscriptions([name]), "DELETE", "users/me/subscriptions")
    assert (left["removed"], left["not_removed"]) == ([name], [])
    left = ok(cordelia.remove_subscriptions([name]), "DELETE", "users/me/subscriptions")
    assert (left["removed"], left["not_removed"]) == ([], [name])
    # An administrator unsubscribes someone else.
    removed = ok(iago.remove_subscriptions([name], principals=[HAMLET]), "DELETE", "users/me/subscriptions")
    assert (removed["removed"], removed["not_removed"]) == ([name], [])
    assert ok(hamlet.get_subscribers(stream=name), "GET", f"streams/{channel}/members")["subscribers"] == []
    assert name not in {sub["name"] for sub in hamlet.get_subscriptions()["subscriptions"]}
    status = ok(iago.get_subscription_status(hamlet_id, channel), "GET", f"users/{hamlet_id}/subscriptions/{channel}")
    assert status["is_subscribed"] is False

    refused(cordelia.update_subscription_settings([{"stream_id": channel, "property": "pin_to_top", "value": True}]),
            "POST", "users/me/subscriptions/properties", f"Not subscribed to channel ID {channel}")  # fmt: skip
    # Without authorization_errors_fatal, what may not be joined is listed and the rest is joined.
    partly = cordelia.add_subscriptions([{"name": "core team"}, {"name": name}], authorization_errors_fatal=False)
    ok(partly, "POST", "users/me/subscriptions")
    assert (partly["subscribed"], partly["already_subscribed"], partly["unauthorized"]) == (
        {str(cordelia_id): [name]}, {}, ["core team"],
    )  # fmt: skip
    assert "core team" not in {sub["name"] for sub in cordelia.get_subscriptions()["subscriptions"]}

    refused(hamlet.remove_subscriptions(["no such channel"]), "DELETE", "users/me/subscriptions",
            "Channel 'no such channel' does not exist", "STREAM_DOES_NOT_EXIST", stream="no such channel")  # fmt: skip
    refused(cordelia.add_subscriptions([{"name": "core team"}]), "POST", "users/me/subscriptions",
            "Unable to access channel (core team).")  # fmt: skip


def test_channel_names_that_need_quoting(chat: Chat) -> None:
    """The client puts the name into get_stream_id's URL itself; the daemon must unquote it."""
    hamlet, cordelia = chat.client(HAMLET), chat.client(CORDELIA)
    name = fresh("R&D + QA/ünïcode? #1 %20")
    created = ok(hamlet.add_subscriptions([{"name": name}], principals=[CORDELIA]), "POST", "users/me/subscriptions")
    assert created["subscribed"] == {str(chat.user_ids[CORDELIA]): [name]}
    channel = stream_id(cordelia, name)
    assert stream_id(cordelia, name.upper()) == channel
    assert ok(cordelia.get_subscribers(stream=name), "GET", f"streams/{channel}/members")["subscribers"] == [
        chat.user_ids[CORDELIA]
    ]
    topic = "Ünïcode ☃ & more"
    message_id = post(cordelia, name, topic, "snow ☃")
    message = raw_message(hamlet, message_id)["message"]
    assert (message["display_recipient"], message["stream_id"], message["subject"]) == (name, channel, topic)
    assert ok(cordelia.get_stream_topics(channel), "GET", f"users/me/{channel}/topics")["topics"] == [
        {"name": topic, "max_id": message_id}
    ]


def test_a_private_channel_is_seen_by_its_subscribers_only(chat: Chat) -> None:
    hamlet, cordelia = chat.client(HAMLET), chat.client(CORDELIA)
    name, channel = new_channel(chat, HAMLET, invite_only=True)
    mine = {stream["name"]: stream for stream in ok(hamlet.get_streams(), "GET", "streams")["streams"]}
    assert (mine[name]["stream_id"], mine[name]["invite_only"]) == (channel, True)
    theirs = {stream["name"] for stream in ok(cordelia.get_streams(), "GET", "streams")["streams"]}
    assert name not in theirs
    assert "Verona" in theirs
    message_id = post(hamlet, channel, "secrets", "between me and myself")
    refused(cordelia.get_raw_message(message_id), "GET", f"messages/{message_id}", "Invalid message(s)")
    assert ids(messages(cordelia, [{"operator": "search", "operand": "myself"}])) == []


def test_a_guest_cannot_see_core_team(chat: Chat) -> None:
    polonius = chat.client(POLONIUS)
    seen = {stream["name"] for stream in ok(polonius.get_streams(), "GET", "streams")["streams"]}
    assert "core team" not in seen
    assert "Verona" in seen
    # A guest sees only the channels they are in; hamlet, a member, sees the private one he is in.
    assert seen == {"Verona"}
    assert "core team" in {stream["name"] for stream in chat.client(HAMLET).get_streams()["streams"]}
    subscribed = ok(polonius.get_subscriptions(), "GET", "users/me/subscriptions")["subscriptions"]
    assert [sub["name"] for sub in subscribed] == ["Verona"]
    # Posting there answers as if it did not exist.
    refused(
        polonius.send_message({"type": "stream", "to": "core team", "topic": "x", "content": "let me in"}),
        "POST", "messages", "Channel 'core team' does not exist", "STREAM_DOES_NOT_EXIST", stream="core team",
    )  # fmt: skip


def test_unknown_and_invisible_channels_answer_as_zulip_does(chat: Chat) -> None:
    """The same answer whether the channel does not exist or the caller may not see it."""
    hamlet, cordelia, polonius = chat.client(HAMLET), chat.client(CORDELIA), chat.client(POLONIUS)
    refused(hamlet.get_stream_id("no such channel"), "GET", "get_stream_id", "Invalid channel name 'no such channel'")
    # The client's get_subscribers answers with get_stream_id's refusal.
    refused(hamlet.get_subscribers(stream="no such channel"), "GET", "get_stream_id",
            "Invalid channel name 'no such channel'")  # fmt: skip
    # A guest gets the same for a private channel they are not in.
    refused(polonius.get_stream_id("core team"), "GET", "get_stream_id", "Invalid channel name 'core team'")
    core_team = stream_id(hamlet, "core team")
    for client, channel in ((hamlet, 424242), (cordelia, core_team), (polonius, core_team)):
        refused(client.get_stream_topics(channel), "GET", f"users/me/{channel}/topics", "Invalid channel ID")


def test_get_stream_topics(chat: Chat) -> None:
    hamlet, cordelia = chat.client(HAMLET), chat.client(CORDELIA)
    name, channel = new_channel(chat, HAMLET)
    assert ok(hamlet.get_stream_topics(channel), "GET", f"users/me/{channel}/topics")["topics"] == []
    first = post(hamlet, name, "alpha", "one")
    second = post(hamlet, name, "beta", "two")
    third = post(hamlet, name, "alpha", "three")
    expected = [{"name": "alpha", "max_id": third}, {"name": "beta", "max_id": second}]
    assert ok(hamlet.get_stream_topics(channel), "GET", f"users/me/{channel}/topics")["topics"] == expected
    # A public channel's topics are there for those who are not subscribed too.
    assert ok(cordelia.get_stream_topics(channel), "GET", f"users/me/{channel}/topics")["topics"] == expected
    assert first < second < third


# --- read and unread -------------------------------------------------------------------------------------------------


def test_mark_as_read_and_update_message_flags(chat: Chat) -> None:
    hamlet, cordelia = chat.client(HAMLET), chat.client(CORDELIA)
    name, channel = new_channel(chat, HAMLET, CORDELIA)
    a1 = post(hamlet, name, "a", "a one")
    a2 = post(hamlet, name, "a", "a two")
    b1 = post(hamlet, name, "b", "b one")
    unread_narrow = [*channel_narrow(name), {"operator": "is", "operand": "unread"}]
    assert ids(messages(cordelia, unread_narrow)) == [a1, a2, b1]

    ok(cordelia.mark_topic_as_read(channel, "a"), "POST", "mark_topic_as_read")
    assert [flags_of(cordelia, message_id) for message_id in (a1, a2, b1)] == [["read"], ["read"], []]
    ok(cordelia.mark_stream_as_read(channel), "POST", "mark_stream_as_read")
    assert ids(messages(cordelia, unread_narrow)) == []

    unread = cordelia.update_message_flags({"messages": [a1, b1], "op": "remove", "flag": "read"})
    assert ok(unread, "POST", "messages/flags")["messages"] == [a1, b1]
    assert unread["ignored_because_not_subscribed_channels"] == []
    assert ids(messages(cordelia, unread_narrow)) == [a1, b1]
    read = cordelia.update_message_flags({"messages": [a1, a2], "op": "add", "flag": "read"})
    assert ok(read, "POST", "messages/flags")["messages"] == [a1]  # a2 was read already
    assert ids(messages(cordelia, unread_narrow)) == [b1]

    everything = ok(cordelia.mark_all_as_read(), "POST", "mark_all_as_read")
    assert everything["complete"] is True
    assert ids(messages(cordelia, [{"operator": "is", "operand": "unread"}])) == []
    assert [flags_of(cordelia, message_id) for message_id in (a1, a2, b1)] == [["read"]] * 3

    starred = cordelia.update_message_flags({"messages": [b1], "op": "add", "flag": "starred"})
    assert ok(starred, "POST", "messages/flags")["messages"] == [b1]
    assert flags_of(cordelia, b1) == ["read", "starred"]
    assert flags_of(hamlet, b1) == ["read"]

    # A message in a public channel one is not in can be starred: it becomes "historical".
    danish = post(hamlet, "Denmark", fresh("flags"), "something rotten")
    assert raw_message(cordelia, danish)["message"]["flags"] == ["read", "historical"]
    starred = cordelia.update_message_flags({"messages": [danish], "op": "add", "flag": "starred"})
    assert ok(starred, "POST", "messages/flags")["messages"] == [danish]
    assert raw_message(cordelia, danish)["message"]["flags"] == ["read", "starred", "historical"]
    assert danish in ids(messages(cordelia, [{"operator": "is", "operand": "starred"}]))

    refused(cordelia.mark_stream_as_read(424242), "POST", "mark_stream_as_read", "Invalid channel ID")
    refused(cordelia.update_message_flags({"messages": [a1], "op": "add", "flag": "mentioned"}),
            "POST", "messages/flags", "Flag not editable: 'mentioned'")  # fmt: skip
    refused(cordelia.update_message_flags({"messages": [a1], "op": "add", "flag": "bogus"}),
            "POST", "messages/flags", "Invalid flag: 'bogus'")  # fmt: skip
    secret = post(hamlet, "core team", fresh("flags"), "core only")
    refused(cordelia.update_message_flags({"messages": [secret], "op": "add", "flag": "starred"}),
            "POST", "messages/flags", "Invalid message(s)")  # fmt: skip


# --- rendering, typing, presence, topics -----------------------------------------------------------------------------


def test_render_message(chat: Chat) -> None:
    hamlet = chat.client(HAMLET)
    rendered = ok(hamlet.render_message({"content": "a < b & c"}), "POST", "messages/render")
    assert rendered["rendered"] == "<p>a &lt; b &amp; c</p>"
    lines = ok(hamlet.render_message({"content": "line one\nline two"}), "POST", "messages/render")
    assert lines["rendered"] == "<p>line one<br>\nline two</p>"
    refused(hamlet.render_message({}), "POST", "messages/render", "Missing 'content' argument",
            "REQUEST_VARIABLE_MISSING", var_name="content")  # fmt: skip


def test_set_typing_status(chat: Chat) -> None:
    hamlet, cordelia = chat.client(HAMLET), chat.client(CORDELIA)
    cordelia_id = chat.user_ids[CORDELIA]
    for op in ("start", "stop"):
        ok(hamlet.set_typing_status({"op": op, "to": [cordelia_id]}), "POST", "typing")
        ok(hamlet.set_typing_status({"op": op, "type": "direct", "to": [cordelia_id, chat.user_ids[AARON]]}),
           "POST", "typing")  # fmt: skip
        verona = stream_id(hamlet, "Verona")
        ok(hamlet.set_typing_status({"op": op, "type": "stream", "stream_id": verona, "topic": "typing"}),
           "POST", "typing")  # fmt: skip
    refused(hamlet.set_typing_status({"op": "start", "to": [999_999]}), "POST", "typing", "Invalid user ID 999999")
    refused(hamlet.set_typing_status({"op": "start", "type": "stream", "topic": "x"}), "POST", "typing",
            "Missing 'stream_id' argument")  # fmt: skip
    refused(hamlet.set_typing_status({"op": "start", "type": "stream", "stream_id": stream_id(hamlet, "Verona")}),
            "POST", "typing", "Missing topic")  # fmt: skip
    core_team = stream_id(hamlet, "core team")
    refused(cordelia.set_typing_status({"op": "start", "type": "stream", "stream_id": core_team, "topic": "x"}),
            "POST", "typing", "Invalid channel ID")  # fmt: skip


def test_update_presence_and_get_realm_presence(chat: Chat) -> None:
    cordelia, aaron, iago = chat.client(CORDELIA), chat.client(AARON), chat.client(IAGO)
    before = int(time.time())
    updated = ok(cordelia.update_presence({"status": "active"}), "POST", "users/me/presence")
    assert updated["presences"][CORDELIA]["aggregated"]["status"] == "active"
    assert updated["presences"][CORDELIA]["aggregated"]["timestamp"] >= before - 1
    assert isinstance(updated["presence_last_update_id"], int)
    # The modern format, keyed by user id. An idle ping records a connection, not activity.
    slim = ok(aaron.update_presence({"status": "idle", "slim_presence": True}), "POST", "users/me/presence")
    assert slim["presences"][str(chat.user_ids[CORDELIA])]["active_timestamp"] >= before - 1
    aaron_seen = slim["presences"][str(chat.user_ids[AARON])]
    assert aaron_seen["idle_timestamp"] >= before - 1
    assert aaron_seen["active_timestamp"] <= aaron_seen["idle_timestamp"]

    realm = ok(iago.get_realm_presence(), "GET", "realm/presence")
    assert realm["presences"][CORDELIA]["aggregated"]["status"] == "active"
    # Never active, so Zulip counts aaron active since joining, which was moments ago.
    assert realm["presences"][AARON]["aggregated"]["status"] == "active"
    assert abs(realm["server_timestamp"] - time.time()) < 60
    single = ok(iago.get_user_presence(CORDELIA), "GET", f"users/{CORDELIA}/presence")
    assert single["presence"]["aggregated"]["status"] == "active"
    assert single["presence"]["aggregated"]["timestamp"] >= before - 1

    pinged = cordelia.update_presence({"status": "active", "ping_only": True})
    assert ok(pinged, "POST", "users/me/presence") == {"result": "success", "msg": ""}

    refused(cordelia.update_presence({"status": "sleepy"}), "POST", "users/me/presence", "Invalid status: sleepy")
    refused(iago.get_user_presence("nobody@zulip.com"), "GET", "users/nobody@zulip.com/presence", "No such user")


def test_mute_and_follow_topics(chat: Chat) -> None:
    hamlet, cordelia = chat.client(HAMLET), chat.client(CORDELIA)
    name, channel = new_channel(chat, HAMLET, CORDELIA)
    loud = post(cordelia, name, "loud", "listen")
    quiet = post(cordelia, name, "quiet", "shh")
    muted_narrow = [*channel_narrow(name), {"operator": "is", "operand": "muted"}]
    followed_narrow = [*channel_narrow(name), {"operator": "is", "operand": "followed"}]
    assert ids(messages(hamlet, muted_narrow)) == []

    muted = hamlet.mute_topic({"op": "add", "stream": name, "topic": "quiet"})
    ok(muted, "PATCH", "users/me/subscriptions/muted_topics")
    assert ids(messages(hamlet, muted_narrow)) == [quiet]
    assert ids(messages(cordelia, muted_narrow)) == []  # muting is personal
    unmuted = hamlet.mute_topic({"op": "remove", "stream_id": channel, "topic": "quiet"})
    ok(unmuted, "PATCH", "users/me/subscriptions/muted_topics")
    assert ids(messages(hamlet, muted_narrow)) == []

    # The client has no method for POST /user_topics (following a topic).
    followed = hamlet.call_endpoint(
        "user_topics", method="POST", request={"stream_id": channel, "topic": "loud", "visibility_policy": FOLLOWED}
    )
    ok(followed, "POST", "user_topics")
    assert ids(messages(hamlet, followed_narrow)) == [loud]
    ok(hamlet.call_endpoint("user_topics", method="POST",
                            request={"stream_id": channel, "topic": "loud", "visibility_policy": 0}),
       "POST", "user_topics")  # fmt: skip
    assert ids(messages(hamlet, followed_narrow)) == []

    refused(hamlet.mute_topic({"op": "add", "stream": "no such channel", "topic": "x"}),
            "PATCH", "users/me/subscriptions/muted_topics", "Invalid channel name 'no such channel'")  # fmt: skip
    # A private channel one is not in answers the same as one that does not exist.
    refused(cordelia.mute_topic({"op": "add", "stream": "core team", "topic": "x"}),
            "PATCH", "users/me/subscriptions/muted_topics", "Invalid channel name 'core team'")  # fmt: skip


def test_starting_a_topic_follows_it(chat: Chat) -> None:
    hamlet, cordelia = chat.client(HAMLET), chat.client(CORDELIA)
    name, _ = new_channel(chat, HAMLET, CORDELIA)
    started = ok(hamlet.send_message({"type": "stream", "to": name, "topic": "begun", "content": "I start"}),
                 "POST", "messages")  # fmt: skip
    assert started["automatic_new_visibility_policy"] == FOLLOWED
    replied = ok(cordelia.send_message({"type": "stream", "to": name, "topic": "begun", "content": "I reply"}),
                 "POST", "messages")  # fmt: skip
    assert set(replied) == {"result", "msg", "id"}
    followed = [*channel_narrow(name), {"operator": "is", "operand": "followed"}]
    assert ids(messages(hamlet, followed)) == [started["id"], replied["id"]]
    assert ids(messages(cordelia, followed)) == []
