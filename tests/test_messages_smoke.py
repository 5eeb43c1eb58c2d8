"""A first pass over channels and messages."""

from __future__ import annotations

from tests.support.api import ApiHarness
from tests.support.async_tests import async_test
from tests.support.openapi import assert_valid

IAGO = "iago@zulip.com"
HAMLET = "hamlet@zulip.com"


@async_test
async def test_subscribe_send_and_read(api: ApiHarness) -> None:
    response = await api.call("POST", "users/me/subscriptions", {"subscriptions": [{"name": "Denmark"}]}, as_user=IAGO)
    assert response.status == 200, response.body
    assert_valid("POST", "users/me/subscriptions", 200, response.json())
    sent = await api.call(
        "POST", "messages", {"type": "stream", "to": "Denmark", "topic": "castle", "content": "Hello <b>"}, as_user=IAGO
    )
    assert sent.status == 200, sent.body
    assert_valid("POST", "messages", 200, sent.json())
    message_id = sent.json()["id"]
    narrow = [{"operator": "channel", "operand": "Denmark"}, {"operator": "topic", "operand": "castle"}]
    fetched = await api.call(
        "GET", "messages", {"anchor": "newest", "num_before": 10, "num_after": 0, "narrow": narrow}, as_user=HAMLET
    )
    assert fetched.status == 200, fetched.body
    body = fetched.json()
    assert_valid("GET", "messages", 200, body)
    assert [message["id"] for message in body["messages"]] == [message_id]
    assert body["messages"][0]["content"] == "<p>Hello &lt;b&gt;</p>"
    assert body["messages"][0]["flags"] == ["read", "historical"]
    streams = await api.call("GET", "streams", as_user=HAMLET)
    assert_valid("GET", "streams", 200, streams.json())
    subscriptions = await api.call("GET", "users/me/subscriptions", {"include_subscribers": True}, as_user=IAGO)
    assert_valid("GET", "users/me/subscriptions", 200, subscriptions.json())
    single = await api.call("GET", f"messages/{message_id}", as_user=IAGO)
    assert_valid("GET", f"messages/{message_id}", 200, single.json())
    dm = await api.call(
        "POST", "messages", {"type": "direct", "to": [api.user(HAMLET).id], "content": "hi"}, as_user=IAGO
    )
    assert dm.status == 200, dm.body
    inbox = await api.call(
        "GET",
        "messages",
        {"anchor": "newest", "num_before": 5, "num_after": 0, "narrow": [["is", "dm"]]},
        as_user=HAMLET,
    )
    body = inbox.json()
    assert_valid("GET", "messages", 200, body)
    assert [message["id"] for message in body["messages"]] == [dm.json()["id"]]
    assert body["messages"][0]["flags"] == []
