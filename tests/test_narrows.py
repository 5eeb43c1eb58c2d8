"""GET /messages: anchors and windows, every narrow operator, search, message_ids, matches_narrow.

Most checks read as hamlet over one corpus (``build_corpus``):

- Denmark (public; hamlet, cordelia and othello subscribed): d1 "castle" by iago,
  d2 "Castle" by cordelia (a link), d3 "garden" by othello (an image link);
- Verona (public; hamlet subscribed): v1 "balcony" by othello (an upload),
  v2 "✔ broken bridge" by hamlet (a resolved topic);
- Scotland (public; hamlet not subscribed): s1 "heath" by iago;
- secret (private; iago and othello only): x1 by iago;
- direct messages: dm1 cordelia to hamlet, dm2 hamlet to cordelia and othello,
  dm3 hamlet to himself, dm4 othello to iago.

Narrows without a channel term search only the messages the user received, so
s1 shows up only with ``channel:Scotland`` or ``channels:public``; x1 and dm4
never show up for hamlet.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from tests.chat_support import (
    CORDELIA,
    HAMLET,
    HAS_ALERT_WORD,
    IAGO,
    MENTIONED,
    OTHELLO,
    STREAM_WILDCARD_MENTIONED,
    call,
    create_channel,
    execute,
    failure,
    fetch,
    ids_of,
    send_direct,
    send_stream,
    set_flag,
    set_flag_bits,
    success,
    term,
)
from tests.support.api import ApiHarness
from tests.support.async_tests import async_test

NEWEST = 10**16

Narrow = Sequence[Any]


class Corpus:
    def __init__(self, ids: dict[str, int], channels: dict[str, int]) -> None:
        self.ids = ids
        self.channels = channels

    def __getitem__(self, label: str) -> int:
        return self.ids[label]

    def labels(self, message_ids: Sequence[int]) -> list[str]:
        names = {message_id: label for label, message_id in self.ids.items()}
        return [names.get(message_id, str(message_id)) for message_id in message_ids]


async def build_corpus(api: ApiHarness) -> Corpus:
    channels = {
        "Denmark": await create_channel(api, IAGO, "Denmark", principals=[HAMLET, CORDELIA, OTHELLO]),
        "Verona": await create_channel(api, OTHELLO, "Verona", principals=[HAMLET]),
        "Scotland": await create_channel(api, IAGO, "Scotland"),
        "secret": await create_channel(api, IAGO, "secret", invite_only=True, principals=[OTHELLO]),
    }
    ids = {
        "d1": await send_stream(api, IAGO, "Denmark", "castle", "The castle is ancient"),
        "d2": await send_stream(api, CORDELIA, "Denmark", "Castle", "the castles of Denmark, see https://example.com"),
        "d3": await send_stream(api, OTHELLO, "Denmark", "garden", "a rose https://example.com/rose.png"),
        "v1": await send_stream(api, OTHELLO, "Verona", "balcony", "the letter /user_uploads/2/ab/letter.pdf"),
        "v2": await send_stream(api, HAMLET, "Verona", "✔ broken bridge", "fixed now"),
        "s1": await send_stream(api, IAGO, "Scotland", "heath", "three witches by a castle"),
        "x1": await send_stream(api, IAGO, "secret", "plot", "a castle plot"),
        "dm1": await send_direct(api, CORDELIA, [HAMLET], "a castle by letter"),
        "dm2": await send_direct(api, HAMLET, [CORDELIA, OTHELLO], "group chat"),
        "dm3": await send_direct(api, HAMLET, [HAMLET], "note to self"),
        "dm4": await send_direct(api, OTHELLO, [IAGO], "not for hamlet, castle"),
    }
    return Corpus(ids, channels)


async def check_narrows(
    api: ApiHarness, corpus: Corpus, cases: Sequence[tuple[str, Narrow, Sequence[str]]], as_user: str = HAMLET
) -> None:
    """Each narrow, newest first, must give exactly the expected messages; all mismatches are reported."""
    mismatches = []
    for label, narrow, expected in cases:
        got = corpus.labels(ids_of(await fetch(api, as_user, narrow)))
        if got != list(expected):
            mismatches.append(f"{label}: {json.dumps(narrow, ensure_ascii=False)}: expected {expected}, got {got}")
    assert not mismatches, "\n".join(mismatches)


def own_rows(*excluding: str) -> list[str]:
    """Hamlet's own messages (those he received), in id order."""
    return [label for label in ("d1", "d2", "d3", "v1", "v2", "dm1", "dm2", "dm3") if label not in excluding]


# --- anchors and windows ----------------------------------------------------------------------------


async def numbers(api: ApiHarness) -> list[int]:
    """Ten messages n0..n9 in "Numbers" (hamlet subscribed), all unread for hamlet."""
    await create_channel(api, OTHELLO, "Numbers", principals=[HAMLET])
    return [await send_stream(api, OTHELLO, "Numbers", "count", f"n{index}") for index in range(10)]


NUMBERS = [term("channel", "Numbers")]


def window(body: dict[str, Any], n: list[int]) -> tuple[list[str], int, bool, bool, bool]:
    names = {message_id: f"n{index}" for index, message_id in enumerate(n)}
    messages = [names.get(message_id, str(message_id)) for message_id in ids_of(body)]
    return messages, body["anchor"], body["found_anchor"], body["found_oldest"], body["found_newest"]


@async_test
async def test_anchors_windows_and_found_flags(api: ApiHarness) -> None:
    n = await numbers(api)
    cases: list[tuple[dict[str, Any], tuple[list[str], int, bool, bool, bool]]] = [
        # (request, (messages, anchor, found_anchor, found_oldest, found_newest))
        ({"anchor": n[4], "num_before": 2, "num_after": 2}, (["n2", "n3", "n4", "n5", "n6"], n[4], True, False, False)),
        ({"anchor": n[1], "num_before": 3, "num_after": 0}, (["n0", "n1"], n[1], True, True, False)),
        ({"anchor": n[8], "num_before": 0, "num_after": 3}, (["n8", "n9"], n[8], True, False, True)),
        ({"anchor": n[0], "num_before": 0, "num_after": 0}, (["n0"], n[0], True, False, False)),
        ({"anchor": "newest", "num_before": 3}, (["n7", "n8", "n9"], NEWEST, False, False, True)),
        ({"anchor": "newest", "num_before": 10}, ([f"n{i}" for i in range(10)], NEWEST, False, False, True)),
        ({"anchor": "newest", "num_before": 11}, ([f"n{i}" for i in range(10)], NEWEST, False, True, True)),
        ({"anchor": "oldest", "num_after": 10}, ([f"n{i}" for i in range(10)], 0, False, True, False)),
        ({"anchor": "oldest", "num_after": 11}, ([f"n{i}" for i in range(10)], 0, False, True, True)),
        ({"anchor": n[4], "num_before": 2, "include_anchor": False}, (["n2", "n3"], n[4], False, False, False)),
        ({"anchor": n[4], "num_after": 2, "include_anchor": False}, (["n5", "n6"], n[4], False, False, False)),
        ({"anchor": n[9], "num_after": 2, "include_anchor": False}, ([], n[9], False, False, True)),
        ({"anchor": json.dumps(n[4]), "num_before": 1, "num_after": 1}, (["n3", "n4", "n5"], n[4], True, False, False)),
    ]
    mismatches = []
    for request, expected in cases:
        params = {"num_before": 0, "num_after": 0, **request, "anchor": str(request["anchor"])}
        body = await fetch(api, HAMLET, NUMBERS, **params)
        if window(body, n) != expected:
            mismatches.append(f"{request}: expected {expected}, got {window(body, n)}")
    assert not mismatches, "\n".join(mismatches)


@async_test
async def test_first_unread_and_its_fallback_to_newest(api: ApiHarness) -> None:
    n = await numbers(api)
    await set_flag(api, HAMLET, n[:6], "read")
    body = await fetch(api, HAMLET, NUMBERS, anchor="first_unread", num_before=1, num_after=1)
    assert window(body, n) == (["n5", "n6", "n7"], n[6], True, False, False)
    legacy_params = {"num_before": 1, "num_after": 1, "narrow": NUMBERS, "use_first_unread_anchor": True}
    legacy = success(await call(api, "GET", "messages", legacy_params, as_user=HAMLET))
    assert window(legacy, n) == window(body, n)
    await set_flag(api, HAMLET, n[6:], "read")
    body = await fetch(api, HAMLET, NUMBERS, anchor="first_unread", num_before=2, num_after=2)
    assert window(body, n) == (["n8", "n9"], NEWEST, False, False, True)
    # Nothing unread for othello either: he sent them all.
    body = await fetch(api, OTHELLO, [], anchor="first_unread", num_before=1, num_after=0)
    assert window(body, n) == (["n9"], NEWEST, False, False, True)


@async_test
async def test_window_limits_and_bad_anchors(api: ApiHarness) -> None:
    await numbers(api)
    body = await fetch(api, HAMLET, NUMBERS, anchor="newest", num_before=2500, num_after=2500)
    assert len(body["messages"]) == 10
    for before, after in ((5001, 0), (0, 5001), (4000, 1001)):
        params = {"anchor": "newest", "num_before": before, "num_after": after, "narrow": NUMBERS}
        response = await call(api, "GET", "messages", params, as_user=HAMLET)
        failure(response, msg="Too many messages requested (maximum 5000).")
    for anchor in ("banana", "-5", "1.5"):
        params = {"anchor": anchor, "num_before": 1, "num_after": 1}
        failure(await call(api, "GET", "messages", params, as_user=HAMLET))


@async_test
async def test_an_anchor_outside_the_narrow_does_not_widen_the_window(api: ApiHarness) -> None:
    n = await numbers(api)
    body = await fetch(api, HAMLET, NUMBERS, anchor="oldest", num_before=0, num_after=3)
    assert window(body, n) == (["n0", "n1", "n2"], 0, False, True, False)
    await create_channel(api, IAGO, "Elsewhere")
    outside = await send_stream(api, IAGO, "Elsewhere", "gap", "between n9 and n10")
    n += [await send_stream(api, OTHELLO, "Numbers", "count", f"n{index}") for index in range(10, 13)]
    body = await fetch(api, HAMLET, NUMBERS, anchor=outside, num_before=2, num_after=2)
    assert window(body, n) == (["n8", "n9", "n10", "n11"], outside, False, False, False)
    body = await fetch(api, HAMLET, NUMBERS, anchor=outside, num_before=2, num_after=0)
    assert window(body, n) == (["n8", "n9"], outside, False, False, False)


@async_test
async def test_the_anchor_can_only_be_excluded_at_an_end(api: ApiHarness) -> None:
    n = await numbers(api)
    params = {"anchor": str(n[4]), "num_before": 2, "num_after": 2, "include_anchor": False, "narrow": NUMBERS}
    response = await call(api, "GET", "messages", params, as_user=HAMLET)
    failure(response, msg="The anchor can only be excluded at an end of the range")


# --- operators --------------------------------------------------------------------------------------


@async_test
async def test_channel_topic_and_sender_operators_in_both_forms(api: ApiHarness) -> None:
    corpus = await build_corpus(api)
    denmark, iago = corpus.channels["Denmark"], api.user(IAGO).id
    await check_narrows(
        api,
        corpus,
        [
            ("channel by name", [term("channel", "Denmark")], ["d1", "d2", "d3"]),
            ("channel, other case", [term("channel", "denmark")], ["d1", "d2", "d3"]),
            ("stream alias", [term("stream", "Denmark")], ["d1", "d2", "d3"]),
            ("channel by id", [term("channel", denmark)], ["d1", "d2", "d3"]),
            ("legacy pairs", [["stream", "Denmark"], ["topic", "castle"]], ["d1", "d2"]),
            ("topic, any case", [term("channel", "Denmark"), term("topic", "CASTLE")], ["d1", "d2"]),
            ("subject alias", [term("channel", "Denmark"), term("subject", "castle")], ["d1", "d2"]),
            ("negated topic", [term("channel", "Denmark"), term("topic", "castle", negated=True)], ["d3"]),
            ("negated channel", [term("channel", "Denmark", negated=True)], own_rows("d1", "d2", "d3")),
            ("history without subscribing", [term("channel", "Scotland")], ["s1"]),
            ("topic alone: own messages only", [term("topic", "heath")], []),
            ("channels:public", [term("channels", "public")], ["d1", "d2", "d3", "v1", "v2", "s1"]),
            ("streams alias", [["streams", "public"]], ["d1", "d2", "d3", "v1", "v2", "s1"]),
            ("not in public channels", [term("channels", "public", negated=True)], ["dm1", "dm2", "dm3"]),
            ("sender by email", [term("sender", IAGO)], ["d1"]),
            ("sender by id", [term("sender", iago)], ["d1"]),
            ("sender in shared history", [term("channel", "Scotland"), term("sender", iago)], ["s1"]),
            ("negated sender", [term("channel", "Denmark"), term("sender", iago, negated=True)], ["d2", "d3"]),
            ("own sends", [term("sender", HAMLET)], ["v2", "dm2", "dm3"]),
            ("two channels", [term("channel", "Denmark"), term("channel", "Verona")], []),
            ("in:all", [term("in", "all")], own_rows()),
        ],
    )


@async_test
async def test_direct_message_operators(api: ApiHarness) -> None:
    corpus = await build_corpus(api)
    cordelia, othello, iago, hamlet = (api.user(email).id for email in (CORDELIA, OTHELLO, IAGO, HAMLET))
    await check_narrows(
        api,
        corpus,
        [
            ("dm, ids", [term("dm", [cordelia])], ["dm1"]),
            ("dm, email", [term("dm", CORDELIA)], ["dm1"]),
            ("pm-with legacy pair", [["pm-with", CORDELIA]], ["dm1"]),
            ("group dm, ids", [term("dm", [cordelia, othello])], ["dm2"]),
            ("group dm, ids in another order, with me", [term("dm", [othello, hamlet, cordelia])], ["dm2"]),
            ("group dm, emails", [term("dm", f"{OTHELLO},{CORDELIA}")], ["dm2"]),
            ("self dm", [term("dm", [hamlet])], ["dm3"]),
            ("self dm, email", [term("pm-with", HAMLET)], ["dm3"]),
            ("someone else's conversation", [term("dm", [iago])], []),
            ("a group that never talked", [term("dm", [othello, iago])], []),
            ("dm-including, email", [term("dm-including", CORDELIA)], ["dm1", "dm2"]),
            ("dm-including, id", [term("dm-including", othello)], ["dm2"]),
            ("dm-including someone I never wrote to", [term("dm-including", IAGO)], []),
            ("is:dm", [term("is", "dm")], ["dm1", "dm2", "dm3"]),
            ("is:private", [term("is", "private")], ["dm1", "dm2", "dm3"]),
            ("not dm", [term("is", "dm", negated=True)], ["d1", "d2", "d3", "v1", "v2"]),
        ],
    )
    await check_narrows(api, corpus, [("othello and iago", [term("dm", [othello])], ["dm4"])], as_user=IAGO)


@async_test
async def test_flag_and_topic_state_operators(api: ApiHarness) -> None:
    corpus = await build_corpus(api)
    denmark, verona, hamlet = corpus.channels["Denmark"], corpus.channels["Verona"], api.user(HAMLET).id
    await set_flag(api, HAMLET, [corpus["d2"], corpus["dm1"]], "starred")
    await set_flag(api, HAMLET, [corpus["d1"]], "read")
    await set_flag_bits(api, HAMLET, [corpus["d3"]], MENTIONED)
    await set_flag_bits(api, HAMLET, [corpus["v1"]], STREAM_WILDCARD_MENTIONED)
    await set_flag_bits(api, HAMLET, [corpus["d1"]], HAS_ALERT_WORD)
    # hamlet started v2's topic, so he follows it (automatically_follow_topics_policy is "topics I
    # start"). Forget that, so that v2 inherits Verona's mute below.
    await check_narrows(api, corpus, [("started topics are followed", [term("is", "followed")], ["v2"])])
    await execute(api, "DELETE FROM user_topic WHERE user_id = %s AND stream_id = %s", (hamlet, verona))
    topic_rows = [(denmark, "garden", 3), (denmark, "castle", 1), (verona, "balcony", 2)]  # followed, muted, unmuted
    for stream_id, topic, policy in topic_rows:
        await execute(
            api,
            "INSERT INTO user_topic (user_id, stream_id, topic_name, visibility_policy) VALUES (%s, %s, %s, %s)",
            (hamlet, stream_id, topic, policy),
        )
    mute = {"subscription_data": [{"stream_id": verona, "property": "is_muted", "value": True}]}
    success(await call(api, "POST", "users/me/subscriptions/properties", mute, as_user=HAMLET))
    await check_narrows(
        api,
        corpus,
        [
            ("is:starred", [term("is", "starred")], ["d2", "dm1"]),
            ("is:unread", [term("is", "unread")], ["d2", "d3", "v1", "dm1"]),
            ("read", [term("is", "unread", negated=True)], ["d1", "v2", "dm2", "dm3"]),
            ("is:mentioned", [term("is", "mentioned")], ["d3", "v1"]),
            ("is:alerted", [term("is", "alerted")], ["d1"]),
            ("is:resolved", [term("is", "resolved")], ["v2"]),
            ("unresolved", [term("is", "resolved", negated=True)], own_rows("v2")),
            ("is:followed", [term("is", "followed")], ["d3"]),
            ("is:muted", [term("is", "muted")], ["d1", "d2", "v2"]),
            ("not muted", [term("is", "muted", negated=True)], ["d3", "v1", "dm1", "dm2", "dm3"]),
            ("in:home", [term("in", "home")], ["d3", "v1", "dm1", "dm2", "dm3"]),
            ("starred in a channel", [term("channel", "Denmark"), term("is", "starred")], ["d2"]),
            ("no unread in shared history", [term("channel", "Scotland"), term("is", "unread")], []),
        ],
    )
    body = await fetch(api, HAMLET, [term("id", corpus["d2"])])
    assert "starred" in body["messages"][0]["flags"]
    assert "read" not in body["messages"][0]["flags"]


@async_test
async def test_has_operators(api: ApiHarness) -> None:
    corpus = await build_corpus(api)
    await execute(
        api,
        "INSERT INTO reaction (message_id, user_id, emoji_name, emoji_code, reaction_type) "
        "VALUES (%s, %s, 'octopus', '1f419', 'unicode_emoji')",
        (corpus["d1"], api.user(CORDELIA).id),
    )
    await check_narrows(
        api,
        corpus,
        [
            ("has:link", [term("has", "link")], ["d2", "d3"]),
            ("has:image", [term("has", "image")], ["d3"]),
            ("has:attachment", [term("has", "attachment")], ["v1"]),
            ("has:reaction", [term("has", "reaction")], ["d1"]),
            ("no link", [term("channel", "Denmark"), term("has", "link", negated=True)], ["d1"]),
        ],
    )
    reacted = (await fetch(api, HAMLET, [term("has", "reaction")]))["messages"][0]
    assert reacted["reactions"] == [
        {
            "emoji_name": "octopus",
            "emoji_code": "1f419",
            "reaction_type": "unicode_emoji",
            "user_id": api.user(CORDELIA).id,
        }
    ]


@async_test
async def test_id_near_and_with_operators(api: ApiHarness) -> None:
    corpus = await build_corpus(api)
    await check_narrows(
        api,
        corpus,
        [
            ("id", [term("id", corpus["d2"])], ["d2"]),
            ("id of a message not received", [term("id", corpus["s1"])], []),
            ("id within a channel's history", [term("channel", "Scotland"), term("id", corpus["s1"])], ["s1"]),
            ("id of a private message", [term("id", corpus["x1"])], []),
            ("id of someone else's dm", [term("id", corpus["dm4"])], []),
            ("near does not filter", [term("channel", "Denmark"), term("near", corpus["d2"])], ["d1", "d2", "d3"]),
            ("with: a topic, any case", [term("with", corpus["d1"])], ["d1", "d2"]),
            ("with: a group dm", [term("with", corpus["dm2"])], ["dm2"]),
        ],
    )
    body = await fetch(
        api,
        HAMLET,
        [term("channel", "Denmark"), term("near", corpus["d2"])],
        anchor=corpus["d2"],
        num_before=1,
        num_after=1,
    )
    assert corpus.labels(ids_of(body)) == ["d1", "d2", "d3"]
    assert body["found_anchor"] is True
    # A message hamlet may not read is as good as one that does not exist.
    ghost = await fetch(api, HAMLET, [term("with", 987654321)])
    for hidden in ("x1", "dm4"):
        body = await fetch(api, HAMLET, [term("with", corpus[hidden])])
        assert ids_of(body) == ids_of(ghost), hidden
        assert corpus[hidden] not in ids_of(body)


@async_test
async def test_with_follows_a_one_to_one_conversation(api: ApiHarness) -> None:
    corpus = await build_corpus(api)
    corpus.ids["reply"] = await send_direct(api, HAMLET, [CORDELIA], "a reply to cordelia")
    corpus.ids["othello"] = await send_direct(api, OTHELLO, [HAMLET], "othello writes too")
    conversation = ["dm1", "reply"]
    await check_narrows(
        api,
        corpus,
        [
            ("with: a dm I received", [term("with", corpus["dm1"])], conversation),
            ("with: a dm I sent", [term("with", corpus["reply"])], conversation),
            ("with: a note to self", [term("with", corpus["dm3"])], ["dm3"]),
        ],
    )


@async_test
async def test_with_follows_a_conversation_in_shared_history(api: ApiHarness) -> None:
    corpus = await build_corpus(api)
    await check_narrows(api, corpus, [("with: shared history", [term("with", corpus["s1"])], ["s1"])])


@async_test
async def test_a_channel_named_with_digits(api: ApiHarness) -> None:
    year = await create_channel(api, IAGO, "1999", principals=[HAMLET])
    message_id = await send_stream(api, IAGO, str(year), "party", "like it's")
    assert ids_of(await fetch(api, HAMLET, [term("channel", year)])) == [message_id]
    assert ids_of(await fetch(api, HAMLET, [term("channel", "1999")])) == [message_id]


# --- search -----------------------------------------------------------------------------------------


@async_test
async def test_search_that_finds_nothing_and_negated_search(api: ApiHarness) -> None:
    corpus = await build_corpus(api)
    await check_narrows(
        api,
        corpus,
        [
            ("no match", [term("search", "zeppelin")], []),
            ("operators in the query are text", [term("search", "zeppelin & | ! ( :* <>")], []),
            ("negated search", [term("channel", "Denmark"), term("search", "castle", negated=True)], ["d3"]),
            ("private words stay private", [term("search", "plot")], []),
        ],
    )


@async_test
async def test_full_text_search_with_stemming_and_highlights(api: ApiHarness) -> None:
    corpus = await build_corpus(api)
    await check_narrows(
        api,
        corpus,
        [
            ("stemming: castles finds castle", [term("search", "castles")], ["d1", "d2", "dm1"]),
            ("search in shared history", [term("channel", "Scotland"), term("search", "castle")], ["s1"]),
            ("search all public channels", [term("channels", "public"), term("search", "castle")], ["d1", "d2", "s1"]),
            ("two words", [term("search", "castle ancient")], ["d1"]),
            ("search in a topic", [term("topic", "garden"), term("search", "rose")], ["d3"]),
        ],
    )
    body = await fetch(api, HAMLET, [term("search", "castles")])
    by_id = {message["id"]: message for message in body["messages"]}
    assert '<span class="highlight">castle</span>' in by_id[corpus["d1"]]["match_content"]
    assert by_id[corpus["d1"]]["match_subject"] == '<span class="highlight">castle</span>'
    assert '<span class="highlight">castles</span>' in by_id[corpus["d2"]]["match_content"]
    assert all("match_content" not in message for message in (await fetch(api, HAMLET, []))["messages"])


@async_test
async def test_search_highlights_escape_the_topic(api: ApiHarness) -> None:
    await create_channel(api, IAGO, "Denmark", principals=[HAMLET])
    topic = "<img src=x onerror=alert(1)> castle"
    message_id = await send_stream(api, IAGO, "Denmark", topic, "a castle")
    body = await fetch(api, HAMLET, [term("search", "castle")])
    assert ids_of(body) == [message_id]
    match_subject = body["messages"][0]["match_subject"]
    assert "<img" not in match_subject
    assert match_subject == '&lt;img src=x onerror=alert(1)&gt; <span class="highlight">castle</span>'
    matched = success(
        await call(
            api,
            "GET",
            "messages/matches_narrow",
            {"msg_ids": [message_id], "narrow": [term("search", "castle")]},
            as_user=HAMLET,
        )
    )
    assert "<img" not in matched["messages"][str(message_id)]["match_subject"]


# --- message_ids and matches_narrow -----------------------------------------------------------------


@async_test
async def test_fetching_by_message_ids(api: ApiHarness) -> None:
    corpus = await build_corpus(api)
    wanted = [corpus[label] for label in ("d1", "s1", "x1", "dm1", "dm4")] + [987654321]
    body = success(await call(api, "GET", "messages", {"message_ids": wanted}, as_user=HAMLET))
    got = set(corpus.labels(ids_of(body)))
    assert {"d1", "dm1"} <= got <= {"d1", "s1", "dm1"}, got
    assert "anchor" not in body
    narrowed = {"message_ids": [corpus["s1"], corpus["d1"]], "narrow": [term("channel", "Scotland")]}
    body = success(await call(api, "GET", "messages", narrowed, as_user=HAMLET))
    assert corpus.labels(ids_of(body)) == ["s1"]
    with_anchor = {"message_ids": [corpus["d1"]], "anchor": "newest"}
    failure(await call(api, "GET", "messages", with_anchor, as_user=HAMLET))


@async_test
async def test_message_ids_excludes_the_range_parameters(api: ApiHarness) -> None:
    corpus = await build_corpus(api)
    for extra in ({"num_before": 5}, {"num_after": 5}, {"include_anchor": False}):
        params = {"message_ids": [corpus["d1"]], **extra}
        failure(await call(api, "GET", "messages", params, as_user=HAMLET))


@async_test
async def test_matches_narrow(api: ApiHarness) -> None:
    corpus = await build_corpus(api)
    asked = [corpus[label] for label in ("d1", "d2", "d3", "s1", "x1", "dm1", "dm4")]
    cases: list[tuple[Narrow, list[str]]] = [
        ([term("topic", "castle")], ["d1", "d2"]),
        ([term("channel", "Denmark")], ["d1", "d2", "d3"]),
        ([term("is", "dm")], ["dm1"]),
        ([], ["d1", "d2", "d3", "dm1"]),
    ]
    for narrow, expected in cases:
        params = {"msg_ids": asked, "narrow": narrow}
        body = success(await call(api, "GET", "messages/matches_narrow", params, as_user=HAMLET))
        assert corpus.labels(sorted(int(key) for key in body["messages"])) == expected, narrow
        assert all(set(value) == {"match_content", "match_subject"} for value in body["messages"].values())


@async_test
async def test_matches_narrow_carries_the_content_without_a_search(api: ApiHarness) -> None:
    corpus = await build_corpus(api)
    params = {"msg_ids": [corpus["d1"]], "narrow": [term("topic", "castle")]}
    body = success(await call(api, "GET", "messages/matches_narrow", params, as_user=HAMLET))
    assert body["messages"] == {
        str(corpus["d1"]): {"match_content": "<p>The castle is ancient</p>", "match_subject": "castle"}
    }


# --- bad narrows ------------------------------------------------------------------------------------


@async_test
async def test_unknown_operators_and_operands_are_bad_narrows(api: ApiHarness) -> None:
    corpus = await build_corpus(api)
    bad: list[Narrow] = [
        [term("bogus", "x")],
        [["bogus", "x"]],
        [term("is", "bogus")],
        [term("has", "bogus")],
        [term("channels", "bogus")],
        [term("in", "bogus")],
        [term("sender", "nobody@zulip.com")],
        [term("dm", "nobody@zulip.com")],
        [term("dm-including", "nobody@zulip.com")],
        [term("channel", "no such channel")],
        [term("channel", "secret")],  # exists, but not for hamlet
        [term("channel", corpus.channels["secret"])],
        [term("id", "abc")],
        [term("with", "abc")],
    ]
    mismatches = []
    for narrow in bad:
        for path, params in (
            ("messages", {"anchor": "newest", "num_before": 5, "num_after": 0, "narrow": narrow}),
            ("messages/matches_narrow", {"msg_ids": [corpus["d1"]], "narrow": narrow}),
        ):
            response = await call(api, "GET", path, params, as_user=HAMLET)
            body = response.json()
            if response.status != 400 or body.get("code") != "BAD_NARROW":
                mismatches.append(f"{path} {json.dumps(narrow)}: {response.status} {body}")
    assert not mismatches, "\n".join(mismatches)
    secret = await call(
        api,
        "GET",
        "messages",
        {"anchor": "newest", "num_before": 5, "narrow": [term("channel", "secret")]},
        as_user=HAMLET,
    )
    ghost = await call(
        api,
        "GET",
        "messages",
        {"anchor": "newest", "num_before": 5, "narrow": [term("channel", "no such channel")]},
        as_user=HAMLET,
    )
    assert secret.json() == ghost.json()
    for malformed in (
        "not json",
        json.dumps({"operator": "is"}),
        json.dumps([["is"]]),
        json.dumps([{"operator": "is"}]),
    ):
        response = await call(
            api, "GET", "messages", {"anchor": "newest", "num_before": 1, "narrow": malformed}, as_user=HAMLET
        )
        assert response.status == 400, (malformed, response.body)
