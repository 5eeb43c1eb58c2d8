"""Helpers for tests of channels and messages through the API harness."""

from __future__ import annotations

import json
from typing import Any

from tests.support.api import ApiHarness
from tests.support.http import Response
from tests.support.openapi import assert_valid
from zulipd.storage.pool import Transaction

IAGO = "iago@zulip.com"  # administrator
DESDEMONA = "desdemona@zulip.com"  # owner
SHIVA = "shiva@zulip.com"  # moderator
HAMLET = "hamlet@zulip.com"
OTHELLO = "othello@zulip.com"
CORDELIA = "cordelia@zulip.com"
PROSPERO = "prospero@zulip.com"
POLONIUS = "polonius@zulip.com"  # guest


def ok(response: Response) -> dict[str, Any]:
    """The body of a success, or a failed assertion showing the error."""
    assert response.status == 200, (response.status, response.body)
    body: dict[str, Any] = response.json()
    assert body["result"] == "success", body
    return body


def assert_error(response: Response, msg: str, code: str = "BAD_REQUEST", status: int = 400, **extra: Any) -> None:
    """Exactly Zulip's error: nothing more than result, msg, code and the given fields."""
    assert response.status == status, (response.status, response.body)
    assert response.json() == {"result": "error", "msg": msg, "code": code, **extra}, response.body


async def subscribe(
    api: ApiHarness,
    name: str,
    *members: str,
    invite_only: bool = False,
    history_public_to_subscribers: bool | None = None,
) -> int:
    """Subscribe the members (the first one creates the channel); return the channel's id."""
    first, *others = members
    params: dict[str, Any] = {"subscriptions": [{"name": name}], "invite_only": invite_only}
    if history_public_to_subscribers is not None:
        params["history_public_to_subscribers"] = history_public_to_subscribers
    if others:
        params["principals"] = [api.user(email).id for email in members]
    ok(await api.call("POST", "users/me/subscriptions", params, as_user=first))
    found = ok(await api.call("GET", "get_stream_id", {"stream": name}, as_user=first))
    stream_id: int = found["stream_id"]
    return stream_id


async def unsubscribe(api: ApiHarness, name: str, email: str) -> None:
    ok(await api.call("DELETE", "users/me/subscriptions", {"subscriptions": [name]}, as_user=email))


async def send_to_channel(api: ApiHarness, sender: str, channel: str, topic: str, content: str = "hello") -> int:
    params = {"type": "stream", "to": channel, "topic": topic, "content": content}
    message_id: int = ok(await api.call("POST", "messages", params, as_user=sender))["id"]
    return message_id


async def send_direct(api: ApiHarness, sender: str, to: list[str], content: str = "psst") -> int:
    params = {"type": "direct", "to": [api.user(email).id for email in to], "content": content}
    message_id: int = ok(await api.call("POST", "messages", params, as_user=sender))["id"]
    return message_id


async def fetch_message(api: ApiHarness, email: str, message_id: int) -> dict[str, Any]:
    """The message as GET /messages/{id} shows it to ``email``, checked against the specification."""
    body = ok(await api.call("GET", f"messages/{message_id}", as_user=email))
    assert_valid("GET", f"messages/{message_id}", 200, body)
    message: dict[str, Any] = body["message"]
    return message


async def set_realm(api: ApiHarness, **settings: Any) -> None:
    """Change organization settings, as an administrator (every value JSON-encoded, strings too)."""
    encoded = {name: json.dumps(value) for name, value in settings.items()}
    ok(await api.call("PATCH", "realm", encoded, as_user=IAGO))


async def age_messages(api: ApiHarness, message_ids: list[int], seconds: int) -> None:
    """Pretend the messages were sent ``seconds`` earlier than they were."""

    async def age(txn: Transaction) -> None:
        await txn.execute(
            "UPDATE message SET date_sent = date_sent - make_interval(secs => %s) WHERE id = ANY(%s)",
            (seconds, message_ids),
        )

    await api.server.pool.run_interaction("age messages", age)


async def row_flags(api: ApiHarness, email: str, message_id: int) -> int | None:
    """The user's stored flags for a message; None if they have no row."""
    rows = await api.server.pool.fetch_all(
        "row flags",
        "SELECT flags FROM user_message WHERE user_id = %s AND message_id = %s",
        (api.user(email).id, message_id),
    )
    return int(rows[0][0]) if rows else None
