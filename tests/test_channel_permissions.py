"""Who may see, read, search, post to, join and change which channel: a permission matrix.

Callers: the owner (desdemona), an administrator (iago), a member (hamlet) and
a guest (polonius). Channels, each in two copies, one the four callers are
subscribed to ("joined") and one they are not ("apart"): public; private with
protected history; private with shared history; announcement-only; archived
(public); archived private. Othello creates every channel, writes one message
before the callers join ("early", topic "early talk") and one after ("late",
topic "late talk"); each message carries a word no other channel's messages do.

The rules (zulipd is stricter than Zulip: see zulipd/actions/streams.py):
- a private channel exists only for its subscribers, administrators included;
- a guest sees only the channels they are subscribed to;
- any other user reads a public channel's whole history without subscribing;
- a subscriber of a protected-history channel reads only what arrived after they
  joined, of a shared-history one everything;
- announcement-only channels take posts from administrators only; archived
  channels take none;
- a user may react to, star and read the edit history of exactly the messages they
  may read; only the sender edits content; anyone who may read a message renames
  its topic; administrators delete any message they can read; nobody reacts, edits
  or deletes in an archived channel (Zulip answers as for a nonexistent message).

The key invariant is "no leak": where a caller may not see a channel, every
answer must equal the answer for a channel (or message) that does not exist,
with only the name and id swapped. Each test collects every mismatch and
reports them all in one assertion.
"""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from typing import Any

import pytest

from tests.chat_support import (
    AARON,
    CORDELIA,
    DESDEMONA,
    HAMLET,
    IAGO,
    OTHELLO,
    POLONIUS,
    PROSPERO,
    ZOE,
    call,
    create_channel,
    failure,
    fetch,
    send_stream,
    spec_problem,
    subscribe,
    success,
    term,
)
from tests.support.api import ApiHarness
from tests.support.async_tests import async_test
from tests.support.http import Response

CALLERS: dict[str, str] = {"owner": DESDEMONA, "admin": IAGO, "member": HAMLET, "guest": POLONIUS}
# Whom each caller tries to subscribe: a different user each, so no caller's success changes another's answer.
PRINCIPAL_OF: dict[str, str] = {DESDEMONA: CORDELIA, IAGO: PROSPERO, HAMLET: AARON, POLONIUS: ZOE}

GHOST_NAME = "no such channel"
GHOST_ID = 987654
GHOST_MESSAGE = 123456789  # neither ghost number is a substring of the other

# Zulip answers a send to an unknown channel id with STREAM_DOES_NOT_EXIST and stream_id
# (StreamWithIDDoesNotExistError), but the spec's 400 for POST /messages lists only the by-name form.
SPEC_GAP = {"send by id"}


@dataclasses.dataclass(frozen=True)
class Kind:
    key: str
    invite_only: bool = False
    history_public_to_subscribers: bool = True
    announce: bool = False
    archived: bool = False


KINDS = [
    Kind("public"),
    Kind("protected", invite_only=True, history_public_to_subscribers=False),
    Kind("shared", invite_only=True, history_public_to_subscribers=True),
    Kind("announce", announce=True),
    Kind("archived", archived=True),
    Kind("archivedprivate", invite_only=True, archived=True),
]


@dataclasses.dataclass(frozen=True)
class Target:
    """A channel as the probes see it: the real ones, and the ghost that does not exist."""

    name: str
    id: int
    word: str
    early: int
    late: int


@dataclasses.dataclass(frozen=True)
class Channel(Target):
    kind: Kind
    joined: bool
    # (caller, early, late): more messages like the early and late ones, one pair a caller, for probes
    # that destroy what they touch.
    spares: tuple[tuple[str, int, int], ...] = ()

    def spare_for(self, email: str) -> Target:
        _, early, late = next(spare for spare in self.spares if spare[0] == email)
        return Target(self.name, self.id, self.word, early, late)


GHOST = Target(GHOST_NAME, GHOST_ID, "kwghost", GHOST_MESSAGE, GHOST_MESSAGE + 1)


@dataclasses.dataclass(frozen=True)
class Cell:
    role: str
    email: str
    channel: Channel

    @property
    def label(self) -> str:
        return f"{self.role} x {self.channel.name}"

    @property
    def is_admin(self) -> bool:
        return self.role in ("owner", "admin")

    @property
    def is_guest(self) -> bool:
        return self.role == "guest"

    @property
    def visible(self) -> bool:
        return self.channel.joined or (not self.channel.kind.invite_only and not self.is_guest)

    @property
    def readable(self) -> list[int]:
        if not self.visible:
            return []
        kind = self.channel.kind
        if kind.invite_only and not kind.history_public_to_subscribers:
            return [self.channel.late]
        return [self.channel.early, self.channel.late]

    @property
    def received(self) -> list[int]:
        return [self.channel.late] if self.channel.joined else []

    @property
    def may_post(self) -> bool:
        kind = self.channel.kind
        return self.visible and not kind.archived and (not kind.announce or self.is_admin)

    @property
    def may_join(self) -> bool:
        return self.visible and not self.channel.kind.archived

    @property
    def may_add_others(self) -> bool:
        return self.may_join and not self.is_guest

    def may_read(self, which: str) -> bool:
        """Whether the caller may read the channel's early (or an early spare) or late message."""
        return (self.channel.early if which == "early" else self.channel.late) in self.readable

    def received_it(self, which: str) -> bool:
        return which == "late" and self.channel.joined

    def may_change(self, which: str) -> bool:
        """Reacting, editing, deleting: as reading, but not in an archived channel (Zulip's is_modifying_message)."""
        return self.may_read(which) and not self.channel.kind.archived


async def build_channels(api: ApiHarness, *, kinds: Sequence[Kind] = KINDS, spares: bool = False) -> list[Channel]:
    channels = []
    for kind in kinds:
        for joined in (True, False):
            state = "joined" if joined else "apart"
            name, word = f"{kind.key} {state}", f"kw{kind.key}{state}"
            stream_id = await create_channel(
                api,
                OTHELLO,
                name,
                invite_only=kind.invite_only,
                history_public_to_subscribers=kind.history_public_to_subscribers if kind.invite_only else None,
            )
            early = await send_stream(api, OTHELLO, name, "early talk", f"{word} said before anyone else came")
            spare_early = [await send_stream(api, OTHELLO, name, "early talk", role) for role in CALLERS if spares]
            if joined:
                await subscribe(api, OTHELLO, name, list(CALLERS.values()))
            late = await send_stream(api, OTHELLO, name, "late talk", f"{word} said after the others came")
            spare_late = [await send_stream(api, OTHELLO, name, "late talk", role) for role in CALLERS if spares]
            if kind.announce:
                success(await call(api, "PATCH", f"streams/{stream_id}", {"stream_post_policy": 2}, as_user=OTHELLO))
            if kind.archived:
                success(await call(api, "DELETE", f"streams/{stream_id}", as_user=OTHELLO))
            spare = tuple(zip(CALLERS.values(), spare_early, spare_late, strict=True)) if spares else ()
            channels.append(Channel(name, stream_id, word, early, late, kind, joined, spare))
    return channels


def cells(channels: Sequence[Channel]) -> list[Cell]:
    return [Cell(role, email, channel) for role, email in CALLERS.items() for channel in channels]


def short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 300 else text[:300] + "..."


def swap_ghost(value: Any, target: Target) -> Any:
    """The ghost's answer with the ghost's name and ids replaced by the target's."""
    ids = {GHOST.id: target.id, GHOST.early: target.early, GHOST.late: target.late}
    if isinstance(value, dict):
        return {key: swap_ghost(item, target) for key, item in value.items()}
    if isinstance(value, list):
        return [swap_ghost(item, target) for item in value]
    if isinstance(value, bool):
        return value
    if isinstance(value, int):
        return ids.get(value, value)
    if isinstance(value, str):
        for ghost_id, real_id in sorted(ids.items(), key=lambda pair: -len(str(pair[0]))):
            value = value.replace(str(ghost_id), str(real_id))
        return value.replace(GHOST.name, target.name)
    return value


class Matrix:
    """Runs probes, checks each answer against the spec, and collects every mismatch."""

    def __init__(self, api: ApiHarness) -> None:
        self.api = api
        self.mismatches: list[str] = []
        self.ghost_answers: dict[tuple[str, str], tuple[int, Any]] = {}

    def mismatch(self, label: str, what: str, detail: str) -> None:
        self.mismatches.append(f"{label}: {what}: {detail}")

    async def request(
        self, label: str, what: str, method: str, path: str, params: dict[str, Any] | None, as_user: str, route: str
    ) -> Response:
        response = await self.api.call(method, path, params, as_user=as_user)
        known_bug = response.status >= 400 and what in SPEC_GAP
        problem = None if known_bug else spec_problem(method, path, response.status, response.json())
        if problem is not None:
            self.mismatch(label, what, problem)
        return response

    def expect_ghost(self, label: str, what: str, email: str, response: Response, target: Target) -> None:
        status, ghost_body = self.ghost_answers[(email, what)]
        expected = swap_ghost(ghost_body, target)
        if status < 400:
            self.mismatch(label, what, f"the ghost answered {status}, so the probe proves nothing")
        elif (response.status, response.json()) != (status, expected):
            self.mismatch(
                label,
                what,
                f"leaks: {response.status} {short(response.json())}; no channel: {status} {short(expected)}",
            )

    def expect(self, label: str, what: str, condition: bool, detail: str) -> None:
        if not condition:
            self.mismatch(label, what, detail)


# --- reading ---------------------------------------------------------------------------------------

ReadProbe = tuple[str, str, Callable[[Target], tuple[str, dict[str, Any] | None]], str]


def read_probes(othello_id: int) -> list[ReadProbe]:
    """(what, method, target -> (path, params), route) for every read the matrix makes."""

    def newest(narrow: list[dict[str, Any]]) -> dict[str, Any]:
        return {"anchor": "newest", "num_before": 50, "num_after": 0, "narrow": narrow}

    return [
        ("history", "GET", lambda t: ("messages", newest([term("channel", t.name)])), "messages"),
        ("history by id", "GET", lambda t: ("messages", newest([term("channel", t.id)])), "messages"),
        (
            "search in channel",
            "GET",
            lambda t: ("messages", newest([term("channel", t.name), term("search", t.word)])),
            "messages",
        ),
        ("search", "GET", lambda t: ("messages", newest([term("search", t.word)])), "messages"),
        (
            "search public channels",
            "GET",
            lambda t: ("messages", newest([term("channels", "public"), term("search", t.word)])),
            "messages",
        ),
        ("early message", "GET", lambda t: (f"messages/{t.early}", None), "messages/{id}"),
        ("late message", "GET", lambda t: (f"messages/{t.late}", None), "messages/{id}"),
        (
            "matches_narrow",
            "GET",
            lambda t: ("messages/matches_narrow", {"msg_ids": [t.early, t.late], "narrow": [term("search", t.word)]}),
            "messages/matches_narrow",
        ),
        (
            "matches_narrow in channel",
            "GET",
            lambda t: (
                "messages/matches_narrow",
                {"msg_ids": [t.early, t.late], "narrow": [term("channel", t.name), term("search", t.word)]},
            ),
            "messages/matches_narrow",
        ),
        (
            "matches_narrow, no search",
            "GET",
            lambda t: ("messages/matches_narrow", {"msg_ids": [t.early, t.late], "narrow": []}),
            "messages/matches_narrow",
        ),
        (
            "matches_narrow in channel, no search",
            "GET",
            lambda t: ("messages/matches_narrow", {"msg_ids": [t.early, t.late], "narrow": [term("channel", t.name)]}),
            "messages/matches_narrow",
        ),
        ("topics", "GET", lambda t: (f"users/me/{t.id}/topics", None), "users/me/{id}/topics"),
        ("members", "GET", lambda t: (f"streams/{t.id}/members", None), "streams/{id}/members"),
        ("stream", "GET", lambda t: (f"streams/{t.id}", None), "streams/{id}"),
        ("stream id", "GET", lambda t: ("get_stream_id", {"stream": t.name}), "get_stream_id"),
        (
            "subscription status",
            "GET",
            lambda t: (f"users/{othello_id}/subscriptions/{t.id}", None),
            "users/{id}/subscriptions/{id}",
        ),
    ]


# Probes whose answer for an invisible channel must be the ghost's error; the others are searches
# that answer 200 for any word and must then find nothing the caller may not read.
CHANNEL_SCOPED = {
    "history",
    "history by id",
    "search in channel",
    "early message",
    "late message",
    "matches_narrow in channel",
    "matches_narrow in channel, no search",
    "topics",
    "members",
    "stream",
    "stream id",
    "subscription status",
}


def check_read(matrix: Matrix, cell: Cell, what: str, response: Response, members: set[int]) -> None:
    label, channel = cell.label, cell.channel
    body = response.json()
    got: Any
    want: Any
    if what in ("early message", "late message"):
        message_id = channel.early if what == "early message" else channel.late
        if message_id in cell.readable:
            matrix.expect(label, what, response.status == 200, f"readable, but got {response.status} {short(body)}")
            if response.status == 200:
                flags = body["message"]["flags"]
                historical = message_id not in cell.received
                matrix.expect(label, what, ("historical" in flags) == historical, f"flags {flags}")
        else:
            matrix.expect_ghost(label, what, cell.email, response, channel)
        return
    if what in CHANNEL_SCOPED and not cell.visible:
        matrix.expect_ghost(label, what, cell.email, response, channel)
        return
    if response.status != 200:
        matrix.mismatch(label, what, f"expected 200, got {response.status} {short(body)}")
        return
    if what in ("history", "history by id", "search in channel"):
        got = [message["id"] for message in body["messages"]]
        matrix.expect(label, what, got == cell.readable, f"expected {cell.readable}, got {got}")
    elif what == "search":
        got = [message["id"] for message in body["messages"]]
        matrix.expect(label, what, got == cell.received, f"expected {cell.received} (received), got {got}")
    elif what == "search public channels":
        got = [message["id"] for message in body["messages"]]
        if channel.kind.invite_only or not cell.visible:
            matrix.expect(label, what, got == [], f"found {got} outside the public channels the caller may read")
        else:
            ok = set(cell.received) <= set(got) <= set(cell.readable)
            matrix.expect(label, what, ok, f"got {got}, want between {cell.received} and {cell.readable}")
    elif what in ("matches_narrow", "matches_narrow, no search"):
        got = sorted(int(key) for key in body["messages"])
        matrix.expect(label, what, got == cell.received, f"expected {cell.received}, got {got}")
    elif what in ("matches_narrow in channel", "matches_narrow in channel, no search"):
        got = sorted(int(key) for key in body["messages"])
        ok = set(cell.received) <= set(got) <= set(cell.readable)
        matrix.expect(label, what, ok, f"got {got}, want between {cell.received} and {cell.readable}")
    elif what == "topics":
        got = sorted(topic["name"] for topic in body["topics"])
        want = sorted("early talk" if message_id == channel.early else "late talk" for message_id in cell.readable)
        matrix.expect(label, what, got == want, f"expected {want}, got {got}")
    elif what == "members":
        got = set(body["subscribers"])
        matrix.expect(label, what, got == members, f"expected {sorted(members)}, got {sorted(got)}")
    elif what == "stream":
        stream = body["stream"]
        facts = (stream["stream_id"], stream["name"], stream["invite_only"], stream["is_archived"])
        want = (channel.id, channel.name, channel.kind.invite_only, channel.kind.archived)
        matrix.expect(label, what, facts == want, f"expected {want}, got {facts}")
        policy = stream["stream_post_policy"]
        matrix.expect(label, what, (policy == 2) == channel.kind.announce, f"stream_post_policy {policy}")
    elif what == "stream id":
        matrix.expect(label, what, body["stream_id"] == channel.id, f"expected {channel.id}, got {short(body)}")
    elif what == "subscription status":
        matrix.expect(label, what, body["is_subscribed"] is True, f"othello created it: {short(body)}")


async def record_ghosts(matrix: Matrix, probes: Sequence[tuple[str, str, Callable[[Target], Any], str]]) -> None:
    await record_ghosts_by_role(matrix, lambda role: probes)


async def record_ghosts_by_role(
    matrix: Matrix, probes_of: Callable[[str], Sequence[tuple[str, str, Callable[[Target], Any], str]]]
) -> None:
    """The ghost's answer to each caller's probes, where the probes differ by the caller's role."""
    for role, email in CALLERS.items():
        for what, method, build, route in probes_of(role):
            path, params = build(GHOST)
            response = await matrix.request("ghost", what, method, path, params, email, route)
            matrix.ghost_answers[(email, what)] = (response.status, response.json())


SEARCH_PROBES = {"search in channel", "search", "search public channels", "matches_narrow", "matches_narrow in channel"}


async def run_read_matrix(api: ApiHarness, *, searches: bool) -> list[str]:
    channels = await build_channels(api)
    matrix = Matrix(api)
    probes = [probe for probe in read_probes(api.user(OTHELLO).id) if (probe[0] in SEARCH_PROBES) == searches]
    await record_ghosts(matrix, probes)
    callers = {api.user(email).id for email in CALLERS.values()}
    for cell in cells(channels):
        members = {api.user(OTHELLO).id} | (callers if cell.channel.joined else set())
        for what, method, build, route in probes:
            path, params = build(cell.channel)
            response = await matrix.request(cell.label, what, method, path, params, cell.email, route)
            check_read(matrix, cell, what, response, members)
    return matrix.mismatches


@async_test
async def test_reading_history_and_looking_up_channels(api: ApiHarness) -> None:
    mismatches = await run_read_matrix(api, searches=False)
    assert not mismatches, f"{len(mismatches)} mismatches:\n" + "\n".join(mismatches)


@async_test
async def test_searching_finds_only_what_the_caller_may_read(api: ApiHarness) -> None:
    mismatches = await run_read_matrix(api, searches=True)
    assert not mismatches, f"{len(mismatches)} mismatches:\n" + "\n".join(mismatches)


@async_test
async def test_listing_channels(api: ApiHarness) -> None:
    channels = await build_channels(api)
    ours = {channel.name for channel in channels}
    mismatches: list[str] = []
    for role, email in CALLERS.items():
        visible = {cell.channel.name for cell in cells(channels) if cell.email == email and cell.visible}
        active = {name for name in visible if not next(c for c in channels if c.name == name).kind.archived}
        joined = {channel.name for channel in channels if channel.joined}
        queries: list[tuple[str, dict[str, Any], set[str] | None]] = [
            ("default", {}, active),
            ("with archived", {"exclude_archived": False}, visible),
            ("subscribed only", {"include_public": False}, {name for name in active if name in joined}),
            ("all active", {"include_all_active": True}, active if role in ("owner", "admin") else None),
        ]
        for what, params, expected in queries:
            response = await api.call("GET", "streams", params, as_user=email)
            problem = spec_problem("GET", "streams", response.status, response.json())
            if problem:
                mismatches.append(f"{role}: {what}: {problem}")
            if expected is None:
                if response.status != 400:
                    mismatches.append(f"{role}: {what}: a non-administrator got {response.status}, not 400")
                continue
            listed = {stream["name"] for stream in response.json().get("streams", [])} & ours
            if listed != expected:
                mismatches.append(f"{role}: {what}: listed {sorted(listed)}, expected {sorted(expected)}")
        response = await call(api, "GET", "users/me/subscriptions", as_user=email)
        subscribed = {item["name"] for item in success(response)["subscriptions"]} & ours
        if not ({name for name in active if name in joined} <= subscribed <= joined):
            mismatches.append(f"{role}: subscriptions: {sorted(subscribed)}, joined {sorted(joined)}")
    assert not mismatches, "\n".join(mismatches)


# --- writing ---------------------------------------------------------------------------------------


def write_probes() -> list[tuple[str, str, Callable[[Target], tuple[str, dict[str, Any]]], str]]:
    def send(target: Target, to: str | int) -> tuple[str, dict[str, Any]]:
        return "messages", {"type": "stream", "to": str(to), "topic": "probe", "content": f"{target.word} probe"}

    return [
        ("send by name", "POST", lambda t: send(t, t.name), "messages"),
        ("send by id", "POST", lambda t: send(t, t.id), "messages"),
        ("edit", "PATCH", lambda t: (f"streams/{t.id}", {"description": "edited"}), "PATCH streams/{id}"),
    ]


@async_test
async def test_posting_editing_and_subscribing(api: ApiHarness) -> None:
    channels = await build_channels(api)
    matrix = Matrix(api)
    await record_ghosts(matrix, write_probes())
    all_cells = cells(channels)
    for cell in all_cells:
        label, channel = cell.label, cell.channel
        for what, method, build, route in write_probes():
            path, params = build(channel)
            response = await matrix.request(label, what, method, path, params, cell.email, route)
            body = response.json()
            if what.startswith("send"):
                if cell.may_post:
                    matrix.expect(
                        label, what, response.status == 200, f"expected 200, got {response.status} {short(body)}"
                    )
                    if response.status == 200:
                        read = await api.call("GET", f"messages/{body['id']}", as_user=cell.email)
                        matrix.expect(label, what, read.status == 200, f"the sender cannot read it: {read.body!r}")
                elif cell.visible:
                    ok = response.status == 400 and body.get("code") == "BAD_REQUEST"
                    matrix.expect(label, what, ok, f"expected a 400 refusal, got {response.status} {short(body)}")
                else:
                    matrix.expect_ghost(label, what, cell.email, response, channel)
            elif not cell.visible:
                matrix.expect_ghost(label, what, cell.email, response, channel)
            elif cell.is_admin and not channel.kind.archived:
                matrix.expect(label, what, response.status == 200, f"expected 200, got {response.status} {short(body)}")
            elif cell.is_admin:
                # Archived: refusing or allowing are both defensible; not leaking is what matters here.
                matrix.expect(label, what, response.status in (200, 400), f"got {response.status} {short(body)}")
            else:
                matrix.expect(
                    label, what, response.status == 400, f"a non-administrator got {response.status} {short(body)}"
                )

    # Subscribing someone else, then oneself; membership is checked at the end.
    expected_members = {
        channel.id: {OTHELLO} | (set(CALLERS.values()) if channel.joined else set()) for channel in channels
    }
    for cell in all_cells:
        label, channel = cell.label, cell.channel
        principal = PRINCIPAL_OF[cell.email]
        params = {"subscriptions": [{"name": channel.name}], "principals": [api.user(principal).id]}
        response = await matrix.request(
            label, "subscribe others", "POST", "users/me/subscriptions", params, cell.email, "subscribe"
        )
        body = response.json()
        if cell.may_add_others:
            added = {"subscribed": {str(api.user(principal).id): [channel.name]}, "already_subscribed": {}}
            matrix.expect(
                label, "subscribe others", (response.status, body) == (200, {**body, **added}), f"{short(body)}"
            )
            expected_members[channel.id].add(principal)
        else:
            matrix.expect(label, "subscribe others", response.status == 400, f"expected 400, got {short(body)}")
    for cell in all_cells:
        label, channel = cell.label, cell.channel
        user_key = str(api.user(cell.email).id)
        for fatal in (True, False):
            what = "join" if fatal else "join, errors not fatal"
            params = {"subscriptions": [{"name": channel.name}], "authorization_errors_fatal": fatal}
            response = await matrix.request(label, what, "POST", "users/me/subscriptions", params, cell.email, "join")
            body = response.json()
            if cell.may_join:
                already = channel.joined or not fatal
                want: dict[str, Any] = {
                    "subscribed": {} if already else {user_key: [channel.name]},
                    "already_subscribed": {user_key: [channel.name]} if already else {},
                }
                if not fatal:
                    want["unauthorized"] = []
                answer = {key: body.get(key) for key in want}
                ok = response.status == 200 and answer == want
                matrix.expect(label, what, ok, f"expected {want}, got {short(body)}")
                expected_members[channel.id].add(cell.email)
            elif fatal:
                unable = f"Unable to access channel ({channel.name})."
                ok = response.status == 400 and body.get("msg") == unable
                matrix.expect(label, what, ok, f"expected 400 {unable!r}, got {response.status} {short(body)}")
            else:
                want = {"subscribed": {}, "already_subscribed": {}, "unauthorized": [channel.name]}
                answer = {key: body.get(key) for key in want}
                ok = response.status == 200 and answer == want
                matrix.expect(label, what, ok, f"expected {want}, got {short(body)}")

    # Nothing above may have opened a channel to someone it should stay closed to.
    for channel in channels:
        response = await call(api, "GET", f"streams/{channel.id}/members", as_user=OTHELLO)
        subscribers = set(success(response)["subscribers"])
        expected = {api.user(email).id for email in expected_members[channel.id]}
        ok = subscribers == expected
        matrix.expect(channel.name, "members afterwards", ok, f"expected {sorted(expected)}, got {sorted(subscribers)}")
    for cell in all_cells:
        if not cell.may_join:
            response = await api.call("GET", f"streams/{cell.channel.id}", as_user=cell.email)
            if cell.visible:
                matrix.expect(cell.label, "afterwards", response.status == 200, f"{response.status}")
            else:
                matrix.expect(cell.label, "afterwards", response.status == 400, f"now visible: {response.body!r}")
    assert not matrix.mismatches, f"{len(matrix.mismatches)} mismatches:\n" + "\n".join(matrix.mismatches)


# --- acting on messages ----------------------------------------------------------------------------
#
# Zulip lets a user act on a message exactly where they may read it (zerver/lib/message.py,
# has_message_access). Reacting, editing and deleting also need the channel not to be archived
# (``is_modifying_message``: in an archived channel they answer "Invalid message(s)", as for a message
# that does not exist); starring and reading the edit history do not. Marking a channel or a topic
# read needs a channel the caller may see, and not an archived one (access_stream_by_id). Wherever
# the caller may not act, the answer must be the one for a message or channel that does not exist.

Probe = tuple[str, str, Callable[[Target], tuple[str, dict[str, Any] | None]], str]
# Which probes of which cells a matrix run makes: the changes in archived channels, or all the others.
Include = Callable[[Cell, str], bool]
OCTOPUS = {"emoji_name": "octopus"}
WHICH = ("early", "late")
ARCHIVED_KINDS = [kind for kind in KINDS if kind.archived]
CHANGES = {"react", "unreact", "edit", "delete", "mark"}


def archived_change(cell: Cell, what: str) -> bool:
    """A change (react, edit, delete, mark read) in an archived channel the caller can see.

    Zulip answers those as for a message or channel that does not exist. The main matrices leave
    these probes out, so that a wrong answer cannot change what other probes see;
    test_archived_channels_are_frozen makes them on channels of their own.
    """
    return cell.channel.kind.archived and cell.visible and what.split()[0] in CHANGES


def outside_archived_changes(cell: Cell, what: str) -> bool:
    return not archived_change(cell, what)


def message_of(target: Target, which: str) -> int:
    return target.early if which == "early" else target.late


def on_message(which: str, suffix: str, params: dict[str, Any] | None) -> Callable[[Target], tuple[str, Any]]:
    """A probe of ``messages/{id}{suffix}`` on the target's early or late message."""

    def build(target: Target) -> tuple[str, dict[str, Any] | None]:
        return f"messages/{message_of(target, which)}{suffix}", params

    return build


def starring(which: str) -> Callable[[Target], tuple[str, Any]]:
    def build(target: Target) -> tuple[str, dict[str, Any] | None]:
        return "messages/flags", {"messages": [message_of(target, which)], "op": "add", "flag": "starred"}

    return build


def original_content(channel: Channel, which: str) -> str:
    said = "said before anyone else came" if which == "early" else "said after the others came"
    return f"{channel.word} {said}"


async def seen_as(api: ApiHarness, email: str, message_id: int) -> dict[str, Any] | None:
    """The message (raw Markdown) as ``email`` reads it, or None where they cannot."""
    response = await api.call("GET", f"messages/{message_id}", {"apply_markdown": False}, as_user=email)
    if response.status != 200:
        return None
    message: dict[str, Any] = response.json()["message"]
    return message


def failure_body(msg: str) -> dict[str, Any]:
    return {"result": "error", "msg": msg, "code": "BAD_REQUEST"}


async def probe_cell(
    matrix: Matrix, cell: Cell, probes: Sequence[Probe], target: Target, include: Include
) -> AsyncIterator[tuple[str, dict[str, Any] | None, Response]]:
    """Make the included probes of one cell on ``target``: (what, params, response) for each."""
    for what, method, build, route in probes:
        if include(cell, what):
            path, params = build(target)
            yield what, params, await matrix.request(cell.label, what, method, path, params, cell.email, route)


def reaction_probes(stage: str) -> list[Probe]:
    """Reacting, starring and reading the edit history ("act"), then taking the reaction back ("undo")."""
    probes: list[Probe] = []
    for which in WHICH:
        if stage == "act":
            probes += [
                (f"history {which}", "GET", on_message(which, "/history", None), "messages/{id}/history"),
                (f"react {which}", "POST", on_message(which, "/reactions", OCTOPUS), "messages/{id}/reactions"),
                (f"star {which}", "POST", starring(which), "messages/flags"),
            ]
        else:
            probes.append(
                (f"unreact {which}", "DELETE", on_message(which, "/reactions", OCTOPUS), "messages/{id}/reactions")
            )
    return probes


def reaction_allowed(cell: Cell, what: str) -> bool:
    action, which = what.split()
    return cell.may_read(which) if action in ("history", "star") else cell.may_change(which)


def check_reaction(matrix: Matrix, cell: Cell, what: str, response: Response) -> None:
    label, channel = cell.label, cell.channel
    if not reaction_allowed(cell, what):
        matrix.expect_ghost(label, what, cell.email, response, channel)
        return
    body = response.json()
    if response.status != 200:
        matrix.mismatch(label, what, f"expected 200, got {response.status} {short(body)}")
        return
    action, which = what.split()
    if action == "history":
        contents = [entry["content"] for entry in body["message_history"]]
        want = [original_content(channel, which)]
        matrix.expect(label, what, contents == want, f"expected {want}, got {contents}")
    elif action == "star":
        message_id = message_of(channel, which)
        matrix.expect(label, what, body["messages"] == [message_id], f"changed {body['messages']}")


async def channel_messages(api: ApiHarness, email: str, channel: Channel) -> dict[int, dict[str, Any]]:
    """The channel's messages as ``email`` reads them (raw Markdown), by id: one request for the lot."""
    body = await fetch(api, email, [term("channel", channel.id)], apply_markdown=False)
    return {message["id"]: message for message in body["messages"]}


async def check_reaction_state(api: ApiHarness, matrix: Matrix, cell: Cell, stage: str, include: Include) -> None:
    """The caller's reactions and flags, after reacting and starring ("act") or unreacting ("undo")."""
    probed = [what for what, _, _, _ in reaction_probes(stage) if include(cell, what) and reaction_allowed(cell, what)]
    changed = {what.split()[-1] for what in probed if not what.startswith("history")}
    if not changed:
        return
    messages = await channel_messages(api, cell.email, cell.channel)
    for which in sorted(changed):
        what = f"after {'reacting and starring' if stage == 'act' else 'unreacting'} {which}"
        message = messages.get(message_of(cell.channel, which))
        if message is None:
            matrix.mismatch(cell.label, what, "the caller cannot read the message afterwards")
            continue
        mine = [r["emoji_name"] for r in message["reactions"] if r["user_id"] == api.user(cell.email).id]
        want = ["octopus"] if stage == "act" and f"react {which}" in probed else []
        matrix.expect(cell.label, what, mine == want, f"own reactions {mine}, expected {want}")
        flags = message["flags"]
        # A message reached through shared history gets a row, flagged historical, once the caller acts on it.
        historical = not cell.received_it(which)
        matrix.expect(cell.label, what, ("historical" in flags) == historical, f"flags {flags}")
        star = f"star {which}"
        starred = include(cell, star) and reaction_allowed(cell, star)
        matrix.expect(cell.label, what, ("starred" in flags) == starred, f"flags {flags}")


async def run_reaction_matrix(api: ApiHarness, channels: Sequence[Channel], include: Include) -> list[str]:
    matrix = Matrix(api)
    await record_ghosts(matrix, reaction_probes("act") + reaction_probes("undo"))
    for cell in cells(channels):
        for stage in ("act", "undo"):
            async for what, _, response in probe_cell(matrix, cell, reaction_probes(stage), cell.channel, include):
                check_reaction(matrix, cell, what, response)
            await check_reaction_state(api, matrix, cell, stage, include)
        # matches_narrow looks at the messages the caller has a row for: after starring, every one they may read.
        what = "matches_narrow after starring"
        if include(cell, what):
            params = {"msg_ids": [cell.channel.early, cell.channel.late], "narrow": []}
            response = await matrix.request(
                cell.label, what, "GET", "messages/matches_narrow", params, cell.email, what
            )
            got = sorted(int(key) for key in response.json().get("messages", {}))
            matrix.expect(cell.label, what, (response.status, got) == (200, cell.readable), f"{response.status} {got}")
    return matrix.mismatches


@async_test
async def test_reacting_starring_and_reading_edit_history(api: ApiHarness) -> None:
    mismatches = await run_reaction_matrix(api, await build_channels(api), outside_archived_changes)
    assert not mismatches, f"{len(mismatches)} mismatches:\n" + "\n".join(mismatches)


def edit_probes(role: str) -> list[Probe]:
    """Edits of Othello's messages; each caller renames to a topic of its own."""
    probes: list[Probe] = []
    for which in WHICH:
        content, topic = {"content": f"rewritten by the {role}"}, {"topic": f"{which} talk, renamed by the {role}"}
        probes += [
            (f"edit content {which}", "PATCH", on_message(which, "", content), "messages/{id}"),
            (f"edit topic {which}", "PATCH", on_message(which, "", topic), "messages/{id}"),
        ]
    return probes


async def edit_own_message(api: ApiHarness, matrix: Matrix, cell: Cell) -> None:
    """Where the caller may post: they send a message, then change its content and its topic."""
    label, name = cell.label, cell.channel.name
    params = {"type": "stream", "to": name, "topic": "own words", "content": "mine"}
    sent = await matrix.request(label, "own message", "POST", "messages", params, cell.email, "messages")
    if sent.status != 200:
        matrix.mismatch(label, "own message", f"cannot send: {sent.status} {short(sent.json())}")
        return
    message_id = sent.json()["id"]
    for what, change in (
        ("edit own content", {"content": "mine, edited"}),
        ("edit own topic", {"topic": "own, moved"}),
    ):
        response = await matrix.request(label, what, "PATCH", f"messages/{message_id}", change, cell.email, what)
        matrix.expect(label, what, response.status == 200, f"{response.status} {short(response.json())}")
    message = await seen_as(api, cell.email, message_id)
    facts = None if message is None else (message["content"], message["subject"])
    matrix.expect(label, "own message", facts == ("mine, edited", "own, moved"), f"afterwards: {facts}")


async def run_edit_matrix(api: ApiHarness, channels: Sequence[Channel], include: Include) -> list[str]:
    matrix = Matrix(api)
    await record_ghosts_by_role(matrix, edit_probes)
    topics = {message_of(channel, which): f"{which} talk" for channel in channels for which in WHICH}
    for cell in cells(channels):
        label, channel = cell.label, cell.channel
        async for what, params, response in probe_cell(matrix, cell, edit_probes(cell.role), channel, include):
            answer = (response.status, response.json())
            which = what.split()[-1]
            if not cell.may_change(which):
                matrix.expect_ghost(label, what, cell.email, response, channel)
            elif "content" in what:
                # Only the sender edits content, administrators included.
                want = (400, failure_body("You don't have permission to edit this message"))
                matrix.expect(label, what, answer == want, f"got {answer[0]} {short(answer[1])}")
            elif response.status == 200:
                # Anyone who may read a message may move it to another topic (Zulip's default
                # can_move_messages_between_topics_group is everyone), within a week of its sending.
                assert params is not None
                topics[message_of(channel, which)] = params["topic"]
            else:
                matrix.mismatch(label, what, f"expected 200, got {answer[0]} {short(answer[1])}")
        if cell.may_post and include(cell, "own message"):
            await edit_own_message(api, matrix, cell)
    # Othello's messages changed only where a rename was expected to succeed.
    for channel in channels:
        messages = await channel_messages(api, OTHELLO, channel)
        for which in WHICH:
            message_id = message_of(channel, which)
            message = messages.get(message_id)
            facts = None if message is None else (message["content"], message["subject"])
            expected = (original_content(channel, which), topics[message_id])
            matrix.expect(channel.name, f"{which} afterwards", facts == expected, f"expected {expected}, got {facts}")
    return matrix.mismatches


@async_test
async def test_editing_messages(api: ApiHarness) -> None:
    mismatches = await run_edit_matrix(api, await build_channels(api), outside_archived_changes)
    assert not mismatches, f"{len(mismatches)} mismatches:\n" + "\n".join(mismatches)


DELETE_PROBES: list[Probe] = [
    (f"delete {which}", "DELETE", on_message(which, "", None), "messages/{id}") for which in WHICH
]


async def run_delete_matrix(api: ApiHarness, channels: Sequence[Channel], include: Include) -> list[str]:
    """Each caller deletes their own spare copies of Othello's early and late messages."""
    matrix = Matrix(api)
    await record_ghosts(matrix, DELETE_PROBES)
    deleted: set[int] = set()
    for cell in cells(channels):
        label, spare = cell.label, cell.channel.spare_for(cell.email)
        async for what, _, response in probe_cell(matrix, cell, DELETE_PROBES, spare, include):
            answer = (response.status, response.json())
            which = what.split()[-1]
            if not cell.may_change(which):
                matrix.expect_ghost(label, what, cell.email, response, spare)
            elif cell.is_admin:
                # Administrators delete any message they can read, at any time.
                matrix.expect(label, what, answer[0] == 200, f"expected 200, got {answer[0]} {short(answer[1])}")
                deleted.add(message_of(spare, which))
            else:
                want = (400, failure_body("You don't have permission to delete this message"))
                matrix.expect(label, what, answer == want, f"got {answer[0]} {short(answer[1])}")
    for channel in channels:
        messages = await channel_messages(api, OTHELLO, channel)
        for email, early, late in channel.spares:
            for message_id in (early, late):
                there = message_id in messages
                ok = there != (message_id in deleted)
                matrix.expect(channel.name, "afterwards", ok, f"{email}'s spare {message_id}: still there: {there}")
    return matrix.mismatches


@async_test
async def test_deleting_messages(api: ApiHarness) -> None:
    mismatches = await run_delete_matrix(api, await build_channels(api, spares=True), outside_archived_changes)
    assert not mismatches, f"{len(mismatches)} mismatches:\n" + "\n".join(mismatches)


MARK_READ_PROBES: list[Probe] = [
    (
        "mark topic read",
        "POST",
        lambda t: ("mark_topic_as_read", {"stream_id": t.id, "topic_name": "late talk"}),
        "mark_topic_as_read",
    ),
    ("mark channel read", "POST", lambda t: ("mark_stream_as_read", {"stream_id": t.id}), "mark_stream_as_read"),
]


async def late_flags(api: ApiHarness, cell: Cell) -> list[str] | None:
    message = await seen_as(api, cell.email, cell.channel.late)
    return None if message is None else list(message["flags"])


async def run_mark_read_matrix(api: ApiHarness, channels: Sequence[Channel], include: Include) -> list[str]:
    matrix = Matrix(api)
    await record_ghosts(matrix, MARK_READ_PROBES)
    for cell in cells(channels):
        label, channel = cell.label, cell.channel
        if channel.joined:
            flags = await late_flags(api, cell)
            matrix.expect(label, "unread before", flags == [], f"flags of the late message: {flags}")
        marked = False
        async for what, _, response in probe_cell(matrix, cell, MARK_READ_PROBES, channel, include):
            answer = (response.status, response.json())
            if not cell.visible or channel.kind.archived:
                matrix.expect_ghost(label, what, cell.email, response, channel)
            elif what == "mark topic read" and not cell.received_it("late"):
                # Zulip names a topic only to those with a message in it.
                want = (400, failure_body("No such topic 'late talk'"))
                matrix.expect(label, what, answer == want, f"got {answer[0]} {short(answer[1])}")
            else:
                matrix.expect(label, what, answer == (200, {"result": "success", "msg": ""}), f"got {short(answer)}")
                marked = True
        if channel.joined:
            flags, expected = await late_flags(api, cell), ["read"] if marked else []
            matrix.expect(label, "afterwards", flags == expected, f"flags of the late message: {flags}, not {expected}")
    return matrix.mismatches


@async_test
async def test_marking_read_needs_a_visible_channel(api: ApiHarness) -> None:
    mismatches = await run_mark_read_matrix(api, await build_channels(api), outside_archived_changes)
    assert not mismatches, f"{len(mismatches)} mismatches:\n" + "\n".join(mismatches)


ARCHIVED_RUNS: dict[str, Callable[[ApiHarness, Sequence[Channel], Include], Awaitable[list[str]]]] = {
    "react": run_reaction_matrix,
    "edit": run_edit_matrix,
    "delete": run_delete_matrix,
    "mark read": run_mark_read_matrix,
}


@pytest.mark.parametrize("family", list(ARCHIVED_RUNS))
@async_test
async def test_archived_channels_are_frozen(api: ApiHarness, family: str) -> None:
    channels = await build_channels(api, kinds=ARCHIVED_KINDS, spares=family == "delete")
    mismatches = await ARCHIVED_RUNS[family](api, channels, archived_change)
    assert not mismatches, f"{len(mismatches)} mismatches:\n" + "\n".join(mismatches)


# --- the shape of "no such channel" -----------------------------------------------------------------

UNKNOWN_CHANNEL_ROUTES: list[tuple[str, str, dict[str, Any] | None, dict[str, Any]]] = [
    ("GET", f"streams/{GHOST_ID}", None, {"msg": "Invalid channel ID", "code": "BAD_REQUEST"}),
    ("GET", f"streams/{GHOST_ID}/members", None, {"msg": "Invalid channel ID", "code": "BAD_REQUEST"}),
    ("GET", f"users/me/{GHOST_ID}/topics", None, {"msg": "Invalid channel ID", "code": "BAD_REQUEST"}),
    ("PATCH", f"streams/{GHOST_ID}", {"description": "x"}, {"msg": "Invalid channel ID", "code": "BAD_REQUEST"}),
    (
        "GET",
        "get_stream_id",
        {"stream": GHOST_NAME},
        {"msg": f"Invalid channel name '{GHOST_NAME}'", "code": "BAD_REQUEST"},
    ),
]


@pytest.mark.parametrize(("method", "path", "params", "expected"), UNKNOWN_CHANNEL_ROUTES)
@async_test
async def test_unknown_channel_errors_fit_the_spec(
    api: ApiHarness, method: str, path: str, params: dict[str, Any] | None, expected: dict[str, Any]
) -> None:
    response = await api.call(method, path, params, as_user=IAGO)
    body = failure(response, expected["code"], expected["msg"])
    assert body == {"result": "error", **expected}
    # spec_problem, not a bare validation: PATCH streams/{id} lists several identical CodedError answers.
    problem = spec_problem(method, path, 400, body)
    assert problem is None, problem


@async_test
async def test_unknown_channel_errors_where_the_spec_expects_stream_does_not_exist(api: ApiHarness) -> None:
    response = await call(
        api, "POST", "messages", {"type": "stream", "to": GHOST_NAME, "topic": "t", "content": "x"}, as_user=HAMLET
    )
    body = failure(response, "STREAM_DOES_NOT_EXIST", f"Channel '{GHOST_NAME}' does not exist")
    assert body["stream"] == GHOST_NAME
    response = await call(api, "GET", f"messages/{GHOST_MESSAGE}", as_user=HAMLET)
    failure(response, "BAD_REQUEST", "Invalid message(s)")
