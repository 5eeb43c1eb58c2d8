"""Helpers for the channel and message tests: users, quick set-up, and answers checked against Zulip's spec.

``spec_problem`` is the rule every response is held to: a 2xx must fit the
operation's documented response; an error must fit too when the spec documents
its status for the operation. Two kinds of answer are let through, because the
spec, not the server, is at fault there:

- an error status the spec does not list for the operation (``GET /messages``
  documents no 400 at all, so ``BAD_NARROW`` cannot be checked);
- a body that the spec's ``oneOf`` matches more than once: ``POST /messages``
  and ``PATCH /streams/{id}`` list several identical ``CodedError``
  alternatives, so no plain coded error can match exactly one of them.

Where the spec cannot hold an error to its shape, ``assert_error`` checks it
exactly: nothing but ``result``, ``msg``, ``code`` and the given fields.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

import pytest
from openapi_core.templating.responses.exceptions import ResponseNotFound
from openapi_core.validation.response.exceptions import InvalidData
from twisted.internet import defer, reactor, task

from tests.support.api import ApiHarness
from tests.support.http import Response
from tests.support.openapi import assert_valid
from zulipd.actions.bots import do_create_bot
from zulipd.admin.users import create_dev_channels
from zulipd.models import BotType, UserProfile
from zulipd.storage.pool import Transaction

DESDEMONA = "desdemona@zulip.com"  # owner
IAGO = "iago@zulip.com"  # administrator
SHIVA = "shiva@zulip.com"  # moderator
HAMLET = "hamlet@zulip.com"
OTHELLO = "othello@zulip.com"
CORDELIA = "cordelia@zulip.com"
PROSPERO = "prospero@zulip.com"
AARON = "AARON@zulip.com"
ZOE = "ZOE@zulip.com"
POLONIUS = "polonius@zulip.com"  # guest

STARRED = 2
MENTIONED = 8
STREAM_WILDCARD_MENTIONED = 16
HAS_ALERT_WORD = 64
READ = 1
FLAG_BITS = {"read": READ, "starred": STARRED}


def _only_ambiguous_one_of(error: InvalidData) -> bool:
    cause = error.__cause__
    schema_errors = getattr(cause, "schema_errors", None)
    if not schema_errors:
        return False
    return all(
        getattr(item, "validator", None) == "oneOf" and "is valid under each of" in str(getattr(item, "message", ""))
        for item in schema_errors
    )


def spec_problem(method: str, path: str, status: int, body: Any) -> str | None:
    """Why this response does not fit Zulip's spec, or None (see the module docstring)."""
    try:
        assert_valid(method, path, status, body)
    except ResponseNotFound:
        if 200 <= status < 300:
            return f"{method} {path}: the spec documents no {status} response"
        return None
    except InvalidData as error:
        if _only_ambiguous_one_of(error):
            return None
        cause = error.__cause__
        detail = "; ".join(str(item.message) for item in getattr(cause, "schema_errors", ())) or repr(cause)
        return f"{method} {path} {status} does not fit the spec: {detail} (body {json.dumps(body)[:400]})"
    return None


def assert_fits_spec(method: str, path: str, response: Response) -> None:
    problem = spec_problem(method, path, response.status, response.json())
    assert problem is None, problem


async def call(
    api: ApiHarness,
    method: str,
    path: str,
    params: Mapping[str, Any] | None = None,
    *,
    as_user: str,
    check_spec: bool = True,
) -> Response:
    """One request as ``as_user``; the answer is checked against the spec unless told otherwise."""
    response = await api.call(method, path, params, as_user=as_user)
    if check_spec:
        assert_fits_spec(method, path, response)
    return response


def success(response: Response) -> dict[str, Any]:
    assert response.status == 200, response.body
    body: dict[str, Any] = response.json()
    assert body["result"] == "success", body
    return body


def assert_bare_success(response: Response, method: str, path: str) -> None:
    """A success that says nothing more (``{"result": "success", "msg": ""}``), as the spec documents it."""
    assert response.status == 200, response.body
    assert response.json() == {"result": "success", "msg": ""}
    assert_valid(method, path, 200, response.json())


def assert_error(response: Response, msg: str, code: str = "BAD_REQUEST", status: int = 400, **extra: Any) -> None:
    """Exactly Zulip's coded error: ``{"result": "error", "msg", "code", **extra}`` and no other field.

    This is as strict as the spec's ``CodedError`` schema, for routes whose spec lists no error
    response or lists only alternatives no body can match exactly one of.
    """
    assert response.status == status, (response.status, response.body)
    assert response.json() == {"result": "error", "msg": msg, "code": code, **extra}, response.body


def failure(response: Response, code: str = "BAD_REQUEST", msg: str | None = None, status: int = 400) -> dict[str, Any]:
    assert response.status == status, response.body
    body: dict[str, Any] = response.json()
    assert body["result"] == "error", body
    assert body["code"] == code, body
    if msg is not None:
        assert body["msg"] == msg, body
    return body


async def create_channel(
    api: ApiHarness,
    creator: str,
    name: str,
    *,
    invite_only: bool = False,
    history_public_to_subscribers: bool | None = None,
    principals: Sequence[str] = (),
) -> int:
    """Create a channel (its creator subscribed, and ``principals``); return its id."""
    params: dict[str, Any] = {"subscriptions": [{"name": name}], "invite_only": invite_only}
    if history_public_to_subscribers is not None:
        params["history_public_to_subscribers"] = history_public_to_subscribers
    body = success(await call(api, "POST", "users/me/subscriptions", params, as_user=creator))
    assert body["subscribed"] == {str(api.user(creator).id): [name]}, body
    if principals:
        await subscribe(api, creator, name, principals)
    return await channel_id(api, creator, name)


async def subscribe(api: ApiHarness, acting: str, name: str, principals: Sequence[str]) -> None:
    ids = [api.user(email).id for email in principals]
    params = {"subscriptions": [{"name": name}], "principals": ids}
    success(await call(api, "POST", "users/me/subscriptions", params, as_user=acting))


async def unsubscribe(api: ApiHarness, email: str, name: str) -> None:
    success(await api.call("DELETE", "users/me/subscriptions", {"subscriptions": [name]}, as_user=email))


async def dev_channel_ids(api: ApiHarness) -> dict[str, int]:
    """Create Zulip's development channels (Verona, Denmark, core team...); their ids by name."""
    assert api.realm is not None
    await create_dev_channels(api.server, api.realm)
    rows = await api.server.pool.fetch_all("channels", "SELECT name, id FROM stream")
    return {name: stream_id for name, stream_id in rows}


async def channel_id(api: ApiHarness, as_user: str, name: str) -> int:
    body = success(await call(api, "GET", "get_stream_id", {"stream": name}, as_user=as_user))
    stream_id: int = body["stream_id"]
    return stream_id


async def send_stream(api: ApiHarness, sender: str, channel: str, topic: str, content: str = "hello") -> int:
    params = {"type": "stream", "to": channel, "topic": topic, "content": content}
    body = success(await call(api, "POST", "messages", params, as_user=sender))
    message_id: int = body["id"]
    return message_id


async def send_direct(api: ApiHarness, sender: str, recipients: Sequence[str], content: str = "psst") -> int:
    params = {"type": "direct", "to": [api.user(email).id for email in recipients], "content": content}
    body = success(await call(api, "POST", "messages", params, as_user=sender))
    message_id: int = body["id"]
    return message_id


async def fetch_message(api: ApiHarness, email: str, message_id: int) -> dict[str, Any]:
    """The message as GET /messages/{id} shows it to ``email``, checked against the spec."""
    body = success(await api.call("GET", f"messages/{message_id}", as_user=email))
    assert_valid("GET", f"messages/{message_id}", 200, body)
    message: dict[str, Any] = body["message"]
    return message


async def fetch(
    api: ApiHarness,
    as_user: str,
    narrow: Sequence[Any] = (),
    *,
    anchor: str | int = "newest",
    num_before: int = 100,
    num_after: int = 0,
    **extra: Any,
) -> dict[str, Any]:
    """GET /messages, which must succeed and fit the spec."""
    params: dict[str, Any] = {
        "anchor": str(anchor),
        "num_before": num_before,
        "num_after": num_after,
        "narrow": list(narrow),
        **extra,
    }
    return success(await call(api, "GET", "messages", params, as_user=as_user))


async def fetch_ids(api: ApiHarness, as_user: str, narrow: Sequence[Any] = (), **options: Any) -> list[int]:
    return ids_of(await fetch(api, as_user, narrow, **options))


def ids_of(body: Mapping[str, Any]) -> list[int]:
    return [message["id"] for message in body["messages"]]


def term(operator: str, operand: Any, negated: bool = False) -> dict[str, Any]:
    narrow_term: dict[str, Any] = {"operator": operator, "operand": operand}
    if negated:
        narrow_term["negated"] = True
    return narrow_term


async def execute(api: ApiHarness, sql: str, parameters: Sequence[Any]) -> None:
    """A write the API cannot make yet (flags, reactions, topic preferences)."""

    async def run(txn: Transaction) -> None:
        await txn.execute(sql, tuple(parameters))

    await api.server.pool.run_interaction("test set-up", run)


async def set_flag(api: ApiHarness, email: str, message_ids: Sequence[int], flag: str, add: bool = True) -> None:
    """Set a user's flag with POST /messages/flags where that route exists, else in SQL."""
    params = {"messages": list(message_ids), "op": "add" if add else "remove", "flag": flag}
    response = await api.call("POST", "messages/flags", params, as_user=email)
    if response.status != 404:
        assert_fits_spec("POST", "messages/flags", response)
        success(response)
        return
    bit = FLAG_BITS[flag]
    await set_flag_bits(api, email, message_ids, bit, add)


async def set_flag_bits(api: ApiHarness, email: str, message_ids: Sequence[int], bits: int, add: bool = True) -> None:
    """Flags the user cannot set through the API (mentioned, has_alert_word), straight in SQL."""
    operation = "flags | %s" if add else "flags & ~%s::bigint"
    await execute(
        api,
        f"UPDATE user_message SET flags = {operation} WHERE user_id = %s AND message_id = ANY(%s)",
        (bits, api.user(email).id, list(message_ids)),
    )


async def row_flags(api: ApiHarness, email: str, message_id: int) -> int | None:
    """The user's stored flags for a message; None if they have no row."""
    rows = await api.server.pool.fetch_all(
        "row flags",
        "SELECT flags FROM user_message WHERE user_id = %s AND message_id = %s",
        (api.user(email).id, message_id),
    )
    return int(rows[0][0]) if rows else None


async def age_messages(api: ApiHarness, message_ids: Sequence[int], seconds: int) -> None:
    """Pretend the messages were sent ``seconds`` earlier than they were."""
    await execute(
        api,
        "UPDATE message SET date_sent = date_sent - make_interval(secs => %s) WHERE id = ANY(%s)",
        (seconds, list(message_ids)),
    )


async def set_realm(api: ApiHarness, **settings: Any) -> None:
    """Change organization settings, as an administrator (every value JSON-encoded, strings too)."""
    encoded = {name: json.dumps(value) for name, value in settings.items()}
    success(await api.call("PATCH", "realm", encoded, as_user=IAGO))


# --- event queues ---------------------------------------------------------------------------------------


async def register(api: ApiHarness, email: str, **params: Any) -> dict[str, Any]:
    """POST /register as ``email``; the answer, checked against the spec."""
    return success(await call(api, "POST", "register", params, as_user=email))


async def queued_events(api: ApiHarness, email: str, queue_id: str, last_event_id: int = -1) -> list[dict[str, Any]]:
    """The events of a queue after ``last_event_id``, without waiting (GET /events with dont_block)."""
    query = {"queue_id": queue_id, "last_event_id": last_event_id, "dont_block": True}
    events: list[dict[str, Any]] = success(await call(api, "GET", "events", query, as_user=email))["events"]
    return events


# --- fixtures the API cannot make --------------------------------------------------------------------


async def add_realm_emoji(api: ApiHarness, name: str, *, deactivated: bool = False) -> int:
    """A custom emoji of the test organization, straight in SQL (uploads are not served); its id."""
    assert api.realm is not None
    realm_id = api.realm.id

    async def insert(txn: Transaction) -> int:
        row = await txn.fetch_one(
            "INSERT INTO realm_emoji (realm_id, name, file_name, deactivated) VALUES (%s, %s, %s, %s) RETURNING id",
            (realm_id, name, f"{name}.png", deactivated),
        )
        assert row is not None
        return int(row[0])

    return await api.server.pool.run_interaction("add realm emoji", insert)


async def create_bot(api: ApiHarness) -> UserProfile:
    """A generic bot named Helper, owned by Hamlet."""
    assert api.realm is not None
    bot, _ = await do_create_bot(
        api.server, api.realm, api.user(HAMLET), full_name="Helper", short_name="helper", bot_type=BotType.GENERIC,
        payload_url="", interface=1, service_name="", config={},
    )  # fmt: skip
    return bot


async def post_bot(api: ApiHarness, owner: str, short_name: str, **extra: Any) -> int:
    """A bot made through POST /bots (a route outside Zulip's spec) by ``owner``; its id."""
    params = {"full_name": f"{short_name.title()} Bot", "short_name": short_name, **extra}
    body = success(await call(api, "POST", "bots", params, as_user=owner, check_spec=False))
    bot_id: int = body["user_id"]
    return bot_id


def hold_commits(api: ApiHarness, monkeypatch: pytest.MonkeyPatch) -> list[defer.Deferred[None]]:
    """Make every commit of sent messages wait for its gate (appended in order) to be opened."""
    gates: list[defer.Deferred[None]] = []
    commit = api.server.pool.run_single_statement

    async def held(*args: Any, **kwargs: Any) -> Any:
        gate: defer.Deferred[None] = defer.Deferred()
        gates.append(gate)
        await gate
        return await commit(*args, **kwargs)

    monkeypatch.setattr(api.server.pool, "run_single_statement", held)
    return gates


async def wait_until(condition: Any) -> None:
    """Until ``condition()`` is true, looking every 10 ms for two seconds at most."""
    for _ in range(200):
        if condition():
            return
        await task.deferLater(reactor, 0.01, lambda: None)
    raise AssertionError("timed out")


async def first_commit_done_second_under_way(
    api: ApiHarness, gates: list[defer.Deferred[None]], recipient: str
) -> defer.Deferred[int]:
    """Two direct messages to ``recipient`` ("first", "second"), committed one after the other.

    ``gates`` comes from ``hold_commits``. On return the first message is committed (its event is
    on its way) and the second one's commit is under way, held until ``gates[1]`` opens; the
    second send is returned unawaited.
    """
    first = defer.ensureDeferred(send_direct(api, CORDELIA, [recipient], "first"))
    await wait_until(lambda: len(gates) == 1)
    second = defer.ensureDeferred(send_direct(api, OTHELLO, [recipient], "second"))
    await task.deferLater(reactor, 0.05, lambda: None)  # the second send waits for the next commit
    gates[0].callback(None)
    await first
    await wait_until(lambda: len(gates) == 2)
    return second
