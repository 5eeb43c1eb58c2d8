"""Linkifiers: the routes, their checks and permissions, the register state and events, topic_links, and the matcher.

Every answer is checked against Zulip's spec (``call``); the spec lists no
error answers for these routes, so errors are also checked exactly.
"""

from __future__ import annotations

import time
from typing import Any

import pytest

from tests.chat_support import (
    DESDEMONA,
    HAMLET,
    IAGO,
    OTHELLO,
    POLONIUS,
    assert_bare_success,
    assert_error,
    call,
    create_channel,
    execute,
    fetch_message,
    queued_events,
    register,
    send_stream,
    success,
)
from tests.support.api import DEV_PASSWORD, ApiHarness
from tests.support.async_tests import async_test
from tests.support.http import Response
from zulipd.actions.linkifiers import realm_linkifiers
from zulipd.actions.realms import do_create_realm
from zulipd.actions.users import do_create_user
from zulipd.models import Role
from zulipd.render.linkifiers import (
    Linkifier,
    LinkifierMatch,
    find_linkifier_matches,
    linkifier_errors,
    topic_links,
)

TRAC = {"pattern": "#(?P<id>[0-9]{2,8})", "url_template": "https://trac.example.com/ticket/{id}"}
CAPABLE = {"client_capabilities": {"linkifier_url_template": True}}
ADMIN_ONLY = ("Must be an organization administrator", "UNAUTHORIZED_PRINCIPAL")


async def add(api: ApiHarness, pattern: str, url_template: str, as_user: str = IAGO) -> int:
    body = success(await call(api, "POST", "realm/filters", {"pattern": pattern, "url_template": url_template},
                              as_user=as_user))  # fmt: skip
    assert set(body) == {"result", "msg", "id"}, body
    linkifier_id: int = body["id"]
    return linkifier_id


async def listed(api: ApiHarness, as_user: str = HAMLET) -> list[dict[str, Any]]:
    body = success(await call(api, "GET", "realm/linkifiers", as_user=as_user))
    linkifiers: list[dict[str, Any]] = body["linkifiers"]
    return linkifiers


async def post(api: ApiHarness, params: dict[str, Any], as_user: str = IAGO) -> Response:
    return await call(api, "POST", "realm/filters", params, as_user=as_user)


def invalid(response: Response, msg: str, errors: dict[str, list[str]]) -> None:
    assert_error(response, msg, errors=errors)


# --- the routes -------------------------------------------------------------------------------------------------


@async_test
async def test_adding_and_listing_linkifiers(api: ApiHarness) -> None:
    assert await listed(api) == []
    first = await add(api, **TRAC)
    # Pattern and template are stored trimmed.
    second = await add(api, "  ZUL-(?P<id>\\d+)\n", " https://realm.com/my_realm_filter/#hashtag/{id} ")
    expected = [
        {**TRAC, "id": first},
        {
            "pattern": "ZUL-(?P<id>\\d+)",
            "url_template": "https://realm.com/my_realm_filter/#hashtag/{id}",
            "id": second,
        },
    ]
    # Everyone in the organization may list them, guests too; owners may add them as administrators do.
    assert await listed(api) == expected
    assert await listed(api, POLONIUS) == expected
    third = await add(api, "lp:(?P<id>[0-9]+)", "https://realm.com/?sort=reverse&value={id}", as_user=DESDEMONA)
    assert [entry["id"] for entry in await listed(api)] == [first, second, third]


@async_test
async def test_templates_zulip_accepts(api: ApiHarness) -> None:
    accepted = [
        ("PR (?P<id>[0-9]+)", "https://example.com/~user/web#view_type=type&model=model&action=12345&id={id}"),
        ("!(?P<id>[0-9]+)", "https://realm.com/index.pl?Action=AgentTicketZoom;TicketNumber={id}"),
        ("ZUL-URL-(?P<id>\\d+)", "https://example.com/%ba/{id}"),
        (
            "(?P<org>[a-zA-Z0-9_-]+)/(?P<repo>[a-zA-Z0-9_-]+)#(?P<id>[0-9]+)",
            "https://github.com/{org}/{repo}/issue/{id}",
        ),
        (
            "FOO_(?P<id>[a-f]{5});(?P<zone>[a-f]);(?P<domain>[a-z]+);(?P<location>[a-z]+);"
            "(?P<name>[a-z]{2,8});(?P<chapter>[0-9]{2,3});(?P<fragment>[a-z]{2,8})",
            "https://zone_{zone}{.domain}.net/ticket{/location}{/id}{?name,chapter}{#fragment:5}",
        ),
        ("no groups", "$not_a_url$"),
        # Backtracking would make this exponential; RE2 runs it in linear time.
        ("(?P<id>(a+)+)b", "https://example.com/{id}"),
    ]
    for pattern, url_template in accepted:
        await add(api, pattern, url_template)
    assert len(await listed(api)) == len(accepted)


@async_test
async def test_patterns_and_templates_zulip_refuses(api: ApiHarness) -> None:
    template = TRAC["url_template"]
    cases = [
        ({"pattern": "", "url_template": template}, "This field cannot be blank.",
         {"pattern": ["This field cannot be blank."],
          "__all__": ["Group 'id' in URL template is not present in linkifier pattern."]}),
        ({"pattern": "   ", "url_template": "https://example.com"}, "This field cannot be blank.",
         {"pattern": ["This field cannot be blank."]}),
        ({"pattern": "#(?P<id>[0-9]+)", "url_template": " "}, "This field cannot be blank.",
         {"url_template": ["This field cannot be blank."],
          "__all__": ["Group 'id' in linkifier pattern is not present in URL template."]}),
        ({"pattern": "(foo", "url_template": template}, "Bad regular expression: missing ): (foo",
         {"__all__": ["Bad regular expression: missing ): (foo"]}),
        ({"pattern": "ZUL-(?P<id>\\d????)", "url_template": template},
         "Bad regular expression: bad repetition operator: ????",
         {"__all__": ["Bad regular expression: bad repetition operator: ????"]}),
        # What RE2 cannot run in linear time is not a linkifier.
        ({"pattern": "(?P<id>x)(?=y)", "url_template": template},
         "Bad regular expression: invalid perl operator: (?=",
         {"__all__": ["Bad regular expression: invalid perl operator: (?="]}),
        ({"pattern": "(?P<id>a)\\1", "url_template": template}, "Bad regular expression: invalid escape sequence: \\1",
         {"__all__": ["Bad regular expression: invalid escape sequence: \\1"]}),
        # An unterminated \Q would quote everything after the pattern.
        ({"pattern": "\\Q#(?P<id>", "url_template": "https://example.com"},
         "Bad regular expression: a \\Q quote must end with \\E",
         {"__all__": ["Bad regular expression: a \\Q quote must end with \\E"]}),
        ({"pattern": "ZUL-(?P<id>\\d+)", "url_template": "$fgfg"},
         "Group 'id' in linkifier pattern is not present in URL template.",
         {"__all__": ["Group 'id' in linkifier pattern is not present in URL template."]}),
        ({"pattern": "ZUL-(?P<id>\\d+)", "url_template": "https://realm.com/{hello}"},
         "Group 'hello' in URL template is not present in linkifier pattern.",
         {"__all__": ["Group 'hello' in URL template is not present in linkifier pattern."]}),
        ({"pattern": "ZUL-(?P<id>\\d+)-(?P<hello>\\d+)-(?P<world>\\d+)", "url_template": "https://realm.com/{hello}"},
         "Group 'id' in linkifier pattern is not present in URL template.",
         {"__all__": ["Group 'id' in linkifier pattern is not present in URL template."]}),
        ({"pattern": "#(?P<id>[123])", "url_template": "{id"}, "Invalid URL template.",
         {"url_template": ["Invalid URL template."]}),
        ({"pattern": "#(?P<id>[123])", "url_template": "https://example.com/{bar++}"}, "Invalid URL template.",
         {"url_template": ["Invalid URL template."]}),
        ({"pattern": "#\x00(?P<id>[123])", "url_template": template}, "Null characters are not allowed.",
         {"pattern": ["Null characters are not allowed."]}),
    ]  # fmt: skip
    for params, msg, errors in cases:
        invalid(await post(api, params), msg, errors)
    assert await listed(api) == []
    assert_error(await post(api, {"pattern": "x"}), "Missing 'url_template' argument", "REQUEST_VARIABLE_MISSING",
                 var_name="url_template")  # fmt: skip
    assert_error(await post(api, {"url_template": "x"}), "Missing 'pattern' argument", "REQUEST_VARIABLE_MISSING",
                 var_name="pattern")  # fmt: skip


@async_test
async def test_one_linkifier_per_pattern(api: ApiHarness) -> None:
    duplicate = "Realm filter with this Realm and Pattern already exists."
    first = await add(api, **TRAC)
    # Patterns are compared after trimming, with any template.
    response = await post(api, {"pattern": f" {TRAC['pattern']} ", "url_template": "https://other.example.com/{id}"})
    invalid(response, duplicate, {"__all__": [duplicate]})
    # A linkifier may keep its own pattern; it may not take another's.
    second = await add(api, "ZUL-(?P<id>\\d+)", "https://zulip.example.com/{id}")
    assert_bare_success(await call(api, "PATCH", f"realm/filters/{first}",
                                   {**TRAC, "url_template": "https://new.example.com/{id}"}, as_user=IAGO),
                        "PATCH", f"realm/filters/{first}")  # fmt: skip
    invalid(
        await call(api, "PATCH", f"realm/filters/{second}", TRAC, as_user=IAGO), duplicate, {"__all__": [duplicate]}
    )
    # Another problem comes first; the duplicate is still reported.
    response = await post(api, {"pattern": TRAC["pattern"], "url_template": "https://x.example.com/{nope}"})
    invalid(response, "Group 'nope' in URL template is not present in linkifier pattern.",
            {"__all__": ["Group 'nope' in URL template is not present in linkifier pattern.", duplicate]})  # fmt: skip


@async_test
async def test_only_administrators_change_linkifiers(api: ApiHarness) -> None:
    linkifier_id = await add(api, **TRAC)
    for email in (HAMLET, POLONIUS):
        # Refused before the parameters are looked at, as Zulip does.
        assert_error(await post(api, {}, as_user=email), *ADMIN_ONLY)
        assert_error(await post(api, TRAC, as_user=email), *ADMIN_ONLY)
        response = await call(api, "PATCH", f"realm/filters/{linkifier_id}", {}, as_user=email)
        assert_error(response, *ADMIN_ONLY)
        assert_error(await call(api, "DELETE", f"realm/filters/{linkifier_id}", as_user=email), *ADMIN_ONLY)
        assert_error(await call(api, "DELETE", "realm/filters/15", as_user=email), *ADMIN_ONLY)
        assert_error(await call(api, "PATCH", "realm/linkifiers", {}, as_user=email), *ADMIN_ONLY)
        response = await call(api, "PATCH", "realm/linkifiers", {"ordered_linkifier_ids": [linkifier_id]},
                              as_user=email)  # fmt: skip
        assert_error(response, *ADMIN_ONLY)
    assert await listed(api) == [{**TRAC, "id": linkifier_id}]


@async_test
async def test_updating_and_removing(api: ApiHarness) -> None:
    linkifier_id = await add(api, **TRAC)
    other = await add(api, "ZUL-(?P<id>\\d+)", "https://zulip.example.com/{id}")
    changed = {"pattern": "#(?P<id>[0-9]+)", "url_template": "https://realm.com/my_realm_filter/issues/{id}"}
    path = f"realm/filters/{linkifier_id}"
    assert_bare_success(await call(api, "PATCH", path, changed, as_user=IAGO), "PATCH", path)
    # It keeps its place.
    assert [entry["id"] for entry in await listed(api)] == [linkifier_id, other]
    assert (await listed(api))[0] == {**changed, "id": linkifier_id}
    invalid(await call(api, "PATCH", path, {**changed, "url_template": "{id"}, as_user=IAGO),
            "Invalid URL template.", {"url_template": ["Invalid URL template."]})  # fmt: skip
    invalid(await call(api, "PATCH", path, {"pattern": "ZUL-(?P<id>\\d????)", "url_template": "https://x/{id}"},
                       as_user=IAGO),
            "Bad regular expression: bad repetition operator: ????",
            {"__all__": ["Bad regular expression: bad repetition operator: ????"]})  # fmt: skip
    assert_error(await call(api, "PATCH", path, {"pattern": "x"}, as_user=IAGO), "Missing 'url_template' argument",
                 "REQUEST_VARIABLE_MISSING", var_name="url_template")  # fmt: skip
    for missing in (other + 1, 2**31, 2**40):
        response = await call(api, "PATCH", f"realm/filters/{missing}", changed, as_user=IAGO)
        assert_error(response, "Linkifier not found.")
        assert_error(await call(api, "DELETE", f"realm/filters/{missing}", as_user=IAGO), "Linkifier not found.")
    assert_bare_success(await call(api, "DELETE", path, as_user=IAGO), "DELETE", path)
    assert [entry["id"] for entry in await listed(api)] == [other]
    assert_error(await call(api, "DELETE", path, as_user=IAGO), "Linkifier not found.")
    # Not a number: no such route.
    assert (await api.call("DELETE", "realm/filters/abc", as_user=IAGO)).status == 404


@async_test
async def test_reordering(api: ApiHarness) -> None:
    def reorder(ids: Any) -> Any:
        return call(api, "PATCH", "realm/linkifiers", {"ordered_linkifier_ids": ids}, as_user=IAGO)

    # Nothing to order is fine.
    assert_bare_success(await reorder([]), "PATCH", "realm/linkifiers")
    ids = [await add(api, f"{n}#(?P<id>[123])", f"https://filter.com/{n}/{{id}}") for n in (1, 2, 3)]
    assert [entry["id"] for entry in await listed(api)] == ids
    new_order = [ids[2], ids[0], ids[1]]
    assert_bare_success(await reorder(new_order), "PATCH", "realm/linkifiers")
    assert [entry["id"] for entry in await listed(api)] == new_order
    # A new one goes last; removing one keeps the others' order.
    fourth = await add(api, "3#123", "https://example.com")
    assert [entry["id"] for entry in await listed(api)] == [*new_order, fourth]
    assert_bare_success(await call(api, "DELETE", f"realm/filters/{ids[0]}", as_user=IAGO), "DELETE",
                        f"realm/filters/{ids[0]}")  # fmt: skip
    remaining = [ids[2], ids[1], fourth]
    assert [entry["id"] for entry in await listed(api)] == remaining
    exactly_once = "The ordered list must enumerate all existing linkifiers exactly once"
    assert_error(await reorder([ids[0], *remaining]), exactly_once)
    assert_error(await reorder(remaining[:2]), exactly_once)
    assert_error(await reorder([*remaining, remaining[0]]), "The ordered list must not contain duplicated linkifiers")
    assert_error(await reorder([*remaining, 2**40]), exactly_once)
    assert_error(await reorder("[1, true]"), "ordered_linkifier_ids[1] is not an integer")
    assert_error(await reorder("[1,"), "ordered_linkifier_ids is not valid JSON")
    assert_error(await call(api, "PATCH", "realm/linkifiers", {}, as_user=IAGO),
                 "Missing 'ordered_linkifier_ids' argument", "REQUEST_VARIABLE_MISSING",
                 var_name="ordered_linkifier_ids")  # fmt: skip
    assert [entry["id"] for entry in await listed(api)] == remaining


@async_test
async def test_organizations_keep_their_own_linkifiers(api: ApiHarness) -> None:
    linkifier_id = await add(api, **TRAC)
    lear = await do_create_realm(api.server, "lear", "Lear & Co.")
    king = await do_create_user(api.server, lear, email="king@lear.org", full_name="King Lear", password=DEV_PASSWORD,
                                role=Role.OWNER)  # fmt: skip
    headers = {"Authorization": api.basic_auth("king@lear.org", king.api_key)}
    host = "lear.127.0.0.1:9991"
    body = success(await api.call("GET", "realm/linkifiers", headers=headers, host=host))
    assert body["linkifiers"] == []
    response = await api.call("DELETE", f"realm/filters/{linkifier_id}", headers=headers, host=host)
    assert_error(response, "Linkifier not found.")
    # The same pattern may be used in another organization.
    response = await api.call("POST", "realm/filters", TRAC, headers=headers, host=host)
    assert success(response)["id"] != linkifier_id
    assert await listed(api) == [{**TRAC, "id": linkifier_id}]


# --- register state and events -----------------------------------------------------------------------------------


@async_test
async def test_register_state_needs_the_url_template_capability(api: ApiHarness) -> None:
    linkifier_id = await add(api, **TRAC)
    types = ["realm_linkifiers", "realm_filters"]
    capable = await register(api, POLONIUS, fetch_event_types=types, **CAPABLE)
    assert capable["realm_linkifiers"] == [{**TRAC, "id": linkifier_id}]
    # The legacy form is always empty, as in Zulip 7.0 and later.
    assert capable["realm_filters"] == []
    plain = await register(api, POLONIUS, fetch_event_types=types)
    assert (plain["realm_linkifiers"], plain["realm_filters"]) == ([], [])


@async_test
async def test_each_change_sends_the_whole_list(api: ApiHarness) -> None:
    capable = {email: (await register(api, email, event_types=["realm_linkifiers", "realm_filters"], **CAPABLE))
               for email in (HAMLET, POLONIUS, DESDEMONA)}  # fmt: skip
    plain = await register(api, OTHELLO, event_types=["realm_linkifiers", "realm_filters"])
    first = await add(api, **TRAC)
    second = await add(api, "ZUL-(?P<id>\\d+)", "https://zulip.example.com/{id}")
    changed = {"pattern": "#(?P<id>[0-9]+)", "url_template": "https://trac.example.com/t/{id}"}
    success(await call(api, "PATCH", f"realm/filters/{first}", changed, as_user=IAGO))
    success(await call(api, "PATCH", "realm/linkifiers", {"ordered_linkifier_ids": [second, first]}, as_user=IAGO))
    success(await call(api, "DELETE", f"realm/filters/{second}", as_user=IAGO))
    # Refused changes say nothing.
    await post(api, TRAC, as_user=HAMLET)
    await post(api, {"pattern": "(", "url_template": "x"})
    zul = {"pattern": "ZUL-(?P<id>\\d+)", "url_template": "https://zulip.example.com/{id}", "id": second}
    lists = [
        [{**TRAC, "id": first}],
        [{**TRAC, "id": first}, zul],
        [{**changed, "id": first}, zul],
        [zul, {**changed, "id": first}],
        [{**changed, "id": first}],
    ]
    for email, registered in capable.items():
        events = await queued_events(api, email, registered["queue_id"])
        assert [event["type"] for event in events] == ["realm_linkifiers"] * len(lists), events
        assert [event["realm_linkifiers"] for event in events] == lists
    # Without the capability, and for the legacy realm_filters type, nothing is sent.
    assert await queued_events(api, OTHELLO, plain["queue_id"]) == []


# --- the cache ---------------------------------------------------------------------------------------------------


@async_test
async def test_the_cache_is_emptied_by_changes_and_by_notifications(api: ApiHarness) -> None:
    assert api.realm is not None
    realm_id = api.realm.id
    assert await realm_linkifiers(api.server, realm_id) == ()
    linkifier_id = await add(api, **TRAC)
    expected = (Linkifier(linkifier_id, TRAC["pattern"], TRAC["url_template"]),)
    assert await realm_linkifiers(api.server, realm_id) == expected
    # A change made elsewhere (another process, an operator) is not seen until its notification arrives.
    await execute(api, "UPDATE realm_linkifier SET url_template = %s WHERE id = %s", ["https://x/{id}", linkifier_id])
    assert await realm_linkifiers(api.server, realm_id) == expected
    api.server.handle_invalidation(f"linkifiers:{realm_id}")
    assert await realm_linkifiers(api.server, realm_id) == (Linkifier(linkifier_id, TRAC["pattern"], "https://x/{id}"),)
    await execute(api, "DELETE FROM realm_linkifier WHERE id = %s", [linkifier_id])
    api.server.forget_everything()
    assert await realm_linkifiers(api.server, realm_id) == ()


# --- topic_links in messages -------------------------------------------------------------------------------------


@async_test
async def test_messages_carry_the_topic_links(api: ApiHarness) -> None:
    await create_channel(api, IAGO, "tickets", principals=[HAMLET])
    plain = await send_stream(api, HAMLET, "tickets", "#444 https://google.com")
    # No linkifiers yet: only the bare URL.
    assert (await fetch_message(api, HAMLET, plain))["topic_links"] == [
        {"text": "https://google.com", "url": "https://google.com"}
    ]
    await add(api, **TRAC)
    links = [
        {"text": "#444", "url": "https://trac.example.com/ticket/444"},
        {"text": "https://google.com", "url": "https://google.com"},
    ]
    # Links are made when a message is shown, with the linkifiers as they are then.
    assert (await fetch_message(api, HAMLET, plain))["topic_links"] == links
    queue = await register(api, HAMLET, event_types=["message", "update_message"])
    sent = await send_stream(api, HAMLET, "tickets", "#444 https://google.com")
    assert (await fetch_message(api, HAMLET, sent))["topic_links"] == links
    params = {"topic": "see #1234", "propagate_mode": "change_one"}
    success(await call(api, "PATCH", f"messages/{sent}", params, as_user=HAMLET))
    message_event, update_event = await queued_events(api, HAMLET, queue["queue_id"])
    assert message_event["message"]["topic_links"] == links
    assert update_event["topic_links"] == [{"text": "#1234", "url": "https://trac.example.com/ticket/1234"}]
    assert (await fetch_message(api, HAMLET, sent))["topic_links"] == update_event["topic_links"]


# --- the matcher -------------------------------------------------------------------------------------------------


def linked(text: str, linkifiers: list[Linkifier]) -> list[tuple[str, str]]:
    return [(text[match.start : match.end], match.url) for match in find_linkifier_matches(text, linkifiers)]


ticket = Linkifier(1, "#(?P<id>[0-9]+)", "https://trac.example.com/ticket/{id}")
word_colon = Linkifier(11, "(?P<id>[a-z]+):", "https://colon.example.com/{id}")
digit = Linkifier(12, "#(?P<id>[0-9])", "https://digit.example.com/{id}")
x_one = Linkifier(13, "x1", "https://x1.example.com")
a_colon = Linkifier(14, "a:", "https://a.example.com")


def test_matches_stand_apart_from_words() -> None:
    text = "We should fix #224 #336 #446 and #115, but not issue#124 or #1124z today."
    assert linked(text, [ticket]) == [
        ("#224", "https://trac.example.com/ticket/224"),
        ("#336", "https://trac.example.com/ticket/336"),
        ("#446", "https://trac.example.com/ticket/446"),
        ("#115", "https://trac.example.com/ticket/115"),
    ]
    assert find_linkifier_matches("see #12.", [ticket]) == [LinkifierMatch(4, 7, "https://trac.example.com/ticket/12")]
    for text, expected in [
        ("Hello #123 World", True), ("Hello #123World", False), ("Hello#123 World", False),
        ("Hello\u00a0#123\u00a0World", True), ("Hello\u2003#123\u0085", True), ("line\n#123", True),
        ("チケットは#123です", False), ("チケットは #123です", False), ("チケットは #123 です", True),
        ("(#123)", True), ("#123>", True), ('"#123"', True), ("'#123'", True), ("<#123", True), (",#123", True),
        (":#123", True), ("#123@", True), (")#123(", False), ("##123", False), ("#123é", False), ("#1#2", "#1"),
    ]:  # fmt: skip
        texts = [text[match.start : match.end] for match in find_linkifier_matches(text, [ticket])]
        assert texts == ([expected] if isinstance(expected, str) else ["#123"] if expected else []), text


def test_earlier_linkifiers_win_and_later_ones_fill_the_gaps() -> None:
    abc = Linkifier(1, "(?P<id>ABC-[0-9]+)", "https://trac.example.com/ticket/{id}")
    any_project = Linkifier(2, "(?P<id>[A-Z][A-Z0-9]*-[0-9]+)", "https://other.example.com/ticket/{id}")
    words = Linkifier(3, "(?P<id>[A-Z][A-Z0-9]+)", "https://words.example.com/{id}")
    text = "ASD-123 ABC-123 QWE"
    assert linked(text, [abc, any_project, words]) == [
        ("ASD-123", "https://other.example.com/ticket/ASD-123"),
        ("ABC-123", "https://trac.example.com/ticket/ABC-123"),
        ("QWE", "https://words.example.com/QWE"),
    ]
    # In the other order, the broad pattern takes what it can first.
    assert linked(text, [words, abc]) == [
        ("ASD", "https://words.example.com/ASD"),
        ("ABC", "https://words.example.com/ABC"),
        ("QWE", "https://words.example.com/QWE"),
    ]
    assert linked("ASD-123", [any_project, abc]) == [("ASD-123", "https://other.example.com/ticket/ASD-123")]
    # No match can begin right after another linkifier's match (its last character is no longer text)...
    assert linked("foo:#2", [word_colon, digit]) == [("foo:", "https://colon.example.com/foo")]
    assert linked("foo:#2", [digit]) == [("#2", "https://digit.example.com/2")]
    # ... and one can end right before one (the first character is no longer a letter).
    assert linked("a:x1", [x_one, a_colon]) == [("a:", "https://a.example.com"), ("x1", "https://x1.example.com")]
    assert linked("a:x1", [a_colon]) == []
    # A later match cannot reach across an earlier one.
    across = Linkifier(6, "(?P<id>a.*z)", "https://x.example.com/{id}")
    assert linked("a z", [Linkifier(7, "z", "https://z.example.com"), across]) == [("z", "https://z.example.com")]
    assert linked("a z", [across]) == [("a z", "https://x.example.com/a%20z")]


def test_urls_follow_rfc_6570() -> None:
    escaped = Linkifier(1, "url-(?P<id>[0-9]+)", "https://example.com/A%20Test/%%%ba/{id}")
    assert linked("url-123 is well-escaped", [escaped]) == [("url-123", "https://example.com/A%20Test/%25%25%ba/123")]
    spaced = Linkifier(2, "issue (?P<id>[^ ]+)", "https://example.com/{id}")
    assert linked("issue a/b?c#d", [spaced]) == [("issue a/b?c#d", "https://example.com/a%2Fb%3Fc%23d")]
    reserved = Linkifier(3, "path (?P<id>[^ ]+)", "https://example.com/{+id}")
    assert linked("path a/b c", [reserved]) == [("path a/b", "https://example.com/a/b")]
    unicode = Linkifier(4, "(?P<name>é[a-z]+)", "https://example.com/{?name}")
    assert linked("an élan", [unicode]) == [("élan", "https://example.com/?name=%C3%A9lan")]
    # A group that took no part in the match is left out.
    optional = Linkifier(5, "T(?P<id>[0-9]+)?(?P<rest>-x)?", "https://example.com/{id}{/rest}")
    assert linked("T7 T-x", [optional]) == [("T7", "https://example.com/7"), ("T-x", "https://example.com//-x")]


def test_what_no_linkifier_can_do() -> None:
    # Empty matches make no link, and the search still ends.
    assert find_linkifier_matches("abc", [Linkifier(1, "x*", "https://x.example.com")]) == []
    # A pattern stored without the checks (by hand in the database) that RE2 cannot use is skipped.
    broken = [Linkifier(1, "(", "https://x.example.com"), Linkifier(2, ")(", "https://x"), ticket]
    assert linked("#5", broken) == [("#5", "https://trac.example.com/ticket/5")]
    assert topic_links("#5", broken) == [{"text": "#5", "url": "https://trac.example.com/ticket/5"}]
    # Linear time: what takes a backtracking engine forever.
    nested = Linkifier(3, "(?P<id>(a+)+)b", "https://x.example.com/{id}")
    started = time.monotonic()
    assert find_linkifier_matches("a" * 20000 + "!", [nested]) == []
    assert time.monotonic() - started < 2


@pytest.mark.parametrize(
    ("pattern", "url_template", "errors"),
    [
        ("#(?P<id>[0-9]+)", "https://x/{id}", {}),
        ("#(?P<id>[0-9]+)", "https://x/{other}",
         {"__all__": ["Group 'other' in URL template is not present in linkifier pattern."]}),
        ("(?P<b>x)(?P<a>y)", "https://x/",
         {"__all__": ["Group 'a' in linkifier pattern is not present in URL template."]}),
        ("(", "{", {"url_template": ["Invalid URL template."], "__all__": ["Bad regular expression: missing ): ("]}),
    ],
)  # fmt: skip
def test_linkifier_errors(pattern: str, url_template: str, errors: dict[str, list[str]]) -> None:
    assert linkifier_errors(pattern, url_template) == errors


# --- topic_links -------------------------------------------------------------------------------------------------


def test_topic_links_of_linkifiers_and_urls() -> None:
    trac = Linkifier(1, "#(?P<id>[0-9]{2,8})", "https://trac.example.com/ticket/{id}")

    def link(number: int) -> dict[str, str]:
        return {"text": f"#{number}", "url": f"https://trac.example.com/ticket/{number}"}

    google = {"text": "https://google.com", "url": "https://google.com"}
    assert topic_links("#444", [trac]) == [link(444)]
    assert topic_links("#444 https://google.com", [trac]) == [link(444), google]
    assert topic_links("#111 https://google.com #111 #222 #111 https://google.com #222", [trac]) == [
        link(111), google, link(111), link(222), link(111), google, link(222),
    ]  # fmt: skip
    assert topic_links("no match here", [trac]) == []
    nested = Linkifier(2, "hello#(?P<id>[0-9]+)", "https://trac.example.com/hello/{id}")
    assert topic_links("hello#123 #234", [trac, nested]) == [
        {"text": "hello#123", "url": "https://trac.example.com/hello/123"},
        link(234),
    ]


def test_bare_urls_in_topics() -> None:
    cases = {
        "Without scheme google.com/hello-world": [("google.com/hello-world", "https://google.com/hello-world")],
        "Without scheme random.words/hello-world": [],
        "Try out http://ftp.debian.org, https://google.com/ and https://google.in/.": [
            ("http://ftp.debian.org", "http://ftp.debian.org"),
            ("https://google.com/", "https://google.com/"),
            ("https://google.in/", "https://google.in/"),
        ],
        "google.in google.com": [("google.in", "https://google.in"), ("google.com", "https://google.com")],
        "https://google.com/test?foo=bar": [("https://google.com/test?foo=bar", "https://google.com/test?foo=bar")],
        "Have you seen github.com/zulip?": [("github.com/zulip", "https://github.com/zulip")],
        "Do you like https://example.com? I love it.": [("https://example.com", "https://example.com")],
        "setup.py and notes.md": [],
        "(see example.org)": [("example.org", "https://example.org")],
    }
    for topic, expected in cases.items():
        assert topic_links(topic, []) == [{"text": text, "url": url} for text, url in expected], topic


def test_overlaps_in_topics_go_by_precedence() -> None:
    linkifiers = [
        Linkifier(1, "http", "http://example.com/"),
        Linkifier(2, "b#(?P<id>[a-z]+)", "http://example.com/b/{id}"),
        Linkifier(3, "a#(?P<aid>[a-z]+) b#(?P<bid>[a-z]+)", "http://example.com/a/{aid}/b/{bid}"),
        Linkifier(4, "a#(?P<id>[a-z]+)", "http://example.com/a/{id}"),
    ]
    # Most important first: "http", "b#bar", "a#asd b#bar", "a#asd", then the bare URL.
    assert topic_links("http://foo.com a#asd b#bar", linkifiers) == [
        {"text": "http", "url": "http://example.com/"},
        {"text": "a#asd", "url": "http://example.com/a/asd"},
        {"text": "b#bar", "url": "http://example.com/b/bar"},
    ]
    low_priority = [
        Linkifier(1, "ABC-42", "https://google.com"),
        Linkifier(2, "com.+(?P<id>ABC\\-[0-9]+)", "https://trac.example.com/ticket/{id}"),
    ]
    assert topic_links("com ABC-42", low_priority) == [{"text": "ABC-42", "url": "https://google.com"}]
    # A linkifier beats a URL it overlaps, whichever starts first; here it cannot match inside the URL.
    assert topic_links("https://foo.com/ABC-123", low_priority) == [
        {"text": "https://foo.com/ABC-123", "url": "https://foo.com/ABC-123"}
    ]
    assert topic_links("com https://foo.com/ABC-123", low_priority) == [
        {"text": "com https://foo.com/ABC-123", "url": "https://trac.example.com/ticket/ABC-123"}
    ]
    # Unlike in messages, each linkifier looks at the whole topic: a match may begin right
    # after an earlier linkifier's, and cannot end right before one that starts with a letter.
    assert topic_links("foo:#2", [word_colon, digit]) == [
        {"text": "foo:", "url": "https://colon.example.com/foo"},
        {"text": "#2", "url": "https://digit.example.com/2"},
    ]
    assert topic_links("a:x1", [x_one, a_colon]) == [{"text": "x1", "url": "https://x1.example.com"}]
