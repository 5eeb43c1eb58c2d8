"""Alert words: the routes and their checks, the register state and event, the matcher, and has_alert_word.

Every answer is checked against Zulip's spec (``call``): the spec documents the
success answers of the three routes and the 400 of ``POST``; the other errors
are also checked exactly (``assert_error``). Events come through ``GET
/events``, whose answer is held to the spec's event schemas.
"""

from __future__ import annotations

from typing import Any

import pytest
from twisted.internet.defer import Deferred

from tests.chat_support import (
    CORDELIA,
    HAMLET,
    HAS_ALERT_WORD,
    IAGO,
    OTHELLO,
    POLONIUS,
    PROSPERO,
    assert_error,
    call,
    create_channel,
    execute,
    fetch_ids,
    fetch_message,
    queued_events,
    register,
    row_flags,
    send_direct,
    send_stream,
    success,
    term,
)
from tests.support.api import DEV_PASSWORD, ApiHarness
from tests.support.async_tests import async_test
from tests.support.http import Response
from zulipd.actions.alert_words import realm_alert_word_matcher
from zulipd.actions.realms import do_create_realm
from zulipd.actions.users import do_create_user
from zulipd.models import Role
from zulipd.render.alert_words import EMPTY_MATCHER, AlertWordMatcher, users_with_alert_words

PATH = "users/me/alert_words"


async def change(api: ApiHarness, method: str, words: Any, as_user: str = HAMLET) -> Response:
    return await call(api, method, PATH, {"alert_words": words}, as_user=as_user)


async def add(api: ApiHarness, words: Any, as_user: str = HAMLET) -> list[str]:
    body = success(await change(api, "POST", words, as_user))
    assert set(body) == {"result", "msg", "alert_words"}, body
    result: list[str] = body["alert_words"]
    return result


async def remove(api: ApiHarness, words: Any, as_user: str = HAMLET) -> list[str]:
    body = success(await change(api, "DELETE", words, as_user))
    assert set(body) == {"result", "msg", "alert_words"}, body
    result: list[str] = body["alert_words"]
    return result


async def listed(api: ApiHarness, as_user: str = HAMLET) -> list[str]:
    body = success(await call(api, "GET", PATH, as_user=as_user))
    assert set(body) == {"result", "msg", "alert_words"}, body
    result: list[str] = body["alert_words"]
    return result


def realm_id(api: ApiHarness) -> int:
    assert api.realm is not None
    return api.realm.id


# --- the routes -------------------------------------------------------------------------------------------------


@async_test
async def test_adding_listing_and_removing(api: ApiHarness) -> None:
    assert await listed(api) == []
    assert await add(api, ["natural", "illustrious"]) == ["natural", "illustrious"]
    # A word keeps the case it was added with; one the user has, in any case, adds nothing. Words are
    # trimmed and blank ones dropped; of two new words alike but for case the last spelling is kept,
    # in the place of the first.
    words = ["NATURAL", " foo ", "", "   ", "bar", "FOO", "multi word  phrase"]
    expected = ["natural", "illustrious", "FOO", "bar", "multi word  phrase"]
    assert await add(api, words) == expected
    assert await listed(api) == expected
    # Adding nothing new still answers with the whole list.
    assert await add(api, ["Illustrious", "foo"]) == expected
    assert await add(api, []) == expected
    # Removal ignores case, and a word the user does not have is fine; nothing is trimmed here.
    assert await remove(api, ["Natural", "foo", "missing", " bar "]) == ["illustrious", "bar", "multi word  phrase"]
    assert await remove(api, ["missing"]) == ["illustrious", "bar", "multi word  phrase"]
    assert await remove(api, []) == ["illustrious", "bar", "multi word  phrase"]
    # A removed word may come back; it goes last.
    assert await add(api, ["natural"]) == ["illustrious", "bar", "multi word  phrase", "natural"]
    assert await listed(api) == ["illustrious", "bar", "multi word  phrase", "natural"]


@async_test
async def test_each_user_has_their_own_words(api: ApiHarness) -> None:
    await add(api, ["alpha", "beta"])
    # Guests and other users keep their own lists; a word may belong to several users.
    assert await add(api, ["Beta", "gamma"], as_user=POLONIUS) == ["Beta", "gamma"]
    assert await remove(api, ["alpha"], as_user=POLONIUS) == ["Beta", "gamma"]
    assert await listed(api) == ["alpha", "beta"]
    assert await listed(api, CORDELIA) == []
    # So does a user of another organization.
    lear = await do_create_realm(api.server, "lear", "Lear & Co.")
    king = await do_create_user(api.server, lear, email="king@lear.org", full_name="King Lear", password=DEV_PASSWORD,
                                role=Role.OWNER)  # fmt: skip
    headers = {"Authorization": api.basic_auth("king@lear.org", king.api_key)}
    host = "lear.127.0.0.1:9991"
    body = success(await api.call("GET", PATH, headers=headers, host=host))
    assert body["alert_words"] == []
    body = success(await api.call("DELETE", PATH, {"alert_words": ["alpha"]}, headers=headers, host=host))
    assert body["alert_words"] == []
    assert await listed(api) == ["alpha", "beta"]


@async_test
async def test_refused_words(api: ApiHarness) -> None:
    await add(api, ["kept"])
    cases = [
        ('"word"', "alert_words is not a list"),
        ('{"word": 1}', "alert_words is not a list"),
        ("[word", "alert_words is not valid JSON"),
        ('["ok", 5]', "alert_words[1] is not a string"),
        ('["ok", null]', "alert_words[1] is not a string"),
        ('["ok", ["nested"]]', "alert_words[1] is not a string"),
        (["x" * 101], "alert_words[0] is too long (limit: 100 characters)"),
        # The length is checked before trimming, as in Zulip.
        (["ok", " " + "x" * 99 + " "], "alert_words[1] is too long (limit: 100 characters)"),
        # Each item in turn: its type, then its length.
        ('["' + "x" * 101 + '", 5]', "alert_words[0] is too long (limit: 100 characters)"),
        ('[5, "' + "x" * 101 + '"]', "alert_words[0] is not a string"),
        # PostgreSQL could hold neither a NUL nor a lone surrogate.
        (["ok", "a\x00b"], "Invalid character in alert_words[1]"),
        ('["\\ud800"]', "Invalid character in alert_words[0]"),
    ]
    for words, msg in cases:
        assert_error(await change(api, "POST", words), msg)
    # The spec's CodedError has no room for var_name, which Zulip sends with this code.
    assert_error(await call(api, "POST", PATH, {}, as_user=HAMLET, check_spec=False),
                 "Missing 'alert_words' argument", "REQUEST_VARIABLE_MISSING", var_name="alert_words")  # fmt: skip
    for words, msg in [
        ('"kept"', "alert_words is not a list"),
        ('["kept", 5]', "alert_words[1] is not a string"),
        ("[", "alert_words is not valid JSON"),
    ]:
        assert_error(await change(api, "DELETE", words), msg)
    assert_error(await call(api, "DELETE", PATH, {}, as_user=HAMLET), "Missing 'alert_words' argument",
                 "REQUEST_VARIABLE_MISSING", var_name="alert_words")  # fmt: skip
    # Nothing refused changed anything; a word of exactly 100 characters is fine.
    assert await listed(api) == ["kept"]
    assert await add(api, ["y" * 100]) == ["kept", "y" * 100]
    # Removing a word that could never have been stored removes nothing.
    assert await remove(api, ["a\x00b", "\ud800"]) == ["kept", "y" * 100]


# --- register state and events ---------------------------------------------------------------------------------


@async_test
async def test_register_state(api: ApiHarness) -> None:
    assert (await register(api, HAMLET, fetch_event_types=["alert_words"]))["alert_words"] == []
    await add(api, ["Roses", "tulips"])
    state = await register(api, HAMLET, fetch_event_types=["alert_words"])
    assert state["alert_words"] == ["Roses", "tulips"]
    assert (await register(api, CORDELIA, fetch_event_types=["alert_words"]))["alert_words"] == []


@async_test
async def test_each_change_sends_the_whole_list_to_the_user_alone(api: ApiHarness) -> None:
    queues = {email: (await register(api, email, event_types=["alert_words"]))["queue_id"]
              for email in (HAMLET, CORDELIA, IAGO)}  # fmt: skip
    second_queue = (await register(api, HAMLET, event_types=["alert_words"]))["queue_id"]
    await add(api, ["one", "two"])
    # A change that changes nothing is still told, as Zulip does.
    await add(api, ["ONE"])
    await remove(api, ["two", "three"])
    # A refused one is not.
    await change(api, "POST", '["x", 5]')
    lists = [["one", "two"], ["one", "two"], ["one"]]
    expected = [{"type": "alert_words", "alert_words": words} for words in lists]
    for queue_id in (queues[HAMLET], second_queue):
        events = await queued_events(api, HAMLET, queue_id)
        assert [{key: value for key, value in event.items() if key != "id"} for event in events] == expected
    assert await queued_events(api, CORDELIA, queues[CORDELIA]) == []
    assert await queued_events(api, IAGO, queues[IAGO]) == []


# --- the matcher -------------------------------------------------------------------------------------------------


def found(text: str, words_by_user: dict[int, list[str]]) -> set[int]:
    return set(users_with_alert_words(text, words_by_user))


def test_words_stand_apart() -> None:
    words = {1: ["one"]}
    matching = [
        "one", "One, two", "(one)", "one.", "one!", "one?", "one:", "one;", "'one'", '"one"', "[one]", "*one*",
        "`one`", "> one", ">one", "two\none\nthree", "two\tone", "two one", "ONE", "say ONE.", "one...", "1 one",
        ".one", ",one", ";one",
    ]  # fmt: skip
    for text in matching:
        assert found(text, words) == {1}, text
    not_matching = [
        "clone", "ones", "one-off", "on-one", "http://t.co/one/", "one/two", "#one", "@one", "one#", "one_two",
        "_one", "xone", "oneself", "on e", "onE1", "o n e", "<one>", "one>", "{one}", "~one", "one&two", "",
    ]  # fmt: skip
    for text in not_matching:
        assert found(text, words) == set(), text


def test_words_with_spaces_and_punctuation_of_their_own() -> None:
    words = {1: ["prod deployment"], 2: ["5'11\""], 3: ["fd&c"], 4: ["<3"], 5: ["c++"], 6: ["a.b"]}
    assert found("Hello, everyone. Prod deployment has been completed", words) == {1}
    assert found("prod  deployment", words) == set()
    assert found("prod\ndeployment", words) == set()
    assert found("He is 5'11\" tall", words) == {2}
    assert found("FD&C yellow", words) == {3}
    assert found("I <3 it", words) == {4}
    assert found("C++ and a.b.", words) == {5, 6}
    assert found("c++11", words) == set()


def test_overlapping_words_all_count() -> None:
    words = {1: ["new"], 2: ["new york"], 3: ["york city"], 4: ["city"], 5: ["big deal"], 6: ["deal breaker"]}
    assert found("new york city", words) == {1, 2, 3, 4}
    assert found("a new yorker", words) == {1}
    assert found("new york, city", words) == {1, 2, 4}
    assert found("a big deal breaker", words) == {5, 6}
    # One-character words among longer ones that start the same.
    words = {1: ["i"], 2: ["it"], 3: ["it's"]}
    assert found("I think it's so", words) == {1, 2, 3}
    assert found("is it", words) == {2}
    assert found("hi", words) == set()


def test_case_is_ignored_on_both_sides() -> None:
    words = {1: ["ALERT"], 2: ["École"], 3: ["ΣΟΦΙΑ"]}
    assert found("an alert", words) == {1}
    assert found("an AlErT!", words) == {1}
    assert found("l'école est finie", words) == {2}
    assert found("ÉCOLE", words) == {2}
    assert found("σοφια", words) == {3}
    # Zulip's own example, in French.
    words = {1: ["réglementaire", "une politique"], 2: ["énormément", "Prod"], 3: ["prod"], 4: ["last"]}
    text = ("bonjour est (énormément) ce a quoi ressemble le précurseur; la réglementaire d'une "
            "politique de concentration")  # fmt: skip
    assert found(text, words) == {1, 2}


def test_many_users_and_words() -> None:
    words_by_user = {user_id: [f"word{user_id}", "shared"] for user_id in range(1, 2001)}
    words_by_user[5000] = ["word1 word2"]
    matcher = AlertWordMatcher.build(words_by_user)
    assert matcher.user_ids == frozenset([*range(1, 2001), 5000])
    assert matcher.user_ids_in("ping word7, word1999 and word20001") == {7, 1999}
    assert matcher.user_ids_in("word1 word2") == {1, 2, 5000}
    assert matcher.user_ids_in("the shared one") == matcher.user_ids - {5000}
    assert matcher.user_ids_in("nothing here") == frozenset()
    # Built once, it answers for any number of texts the same way.
    assert matcher.user_ids_in("Word7") == matcher.user_ids_in("word7") == {7}


def test_the_empty_matcher_and_empty_words() -> None:
    assert EMPTY_MATCHER.user_ids == frozenset()
    assert EMPTY_MATCHER.user_ids_in("anything at all") == frozenset()
    matcher = AlertWordMatcher.build({1: ["", "x"], 2: [""]})
    assert matcher.user_ids == {1}
    assert matcher.user_ids_in("x marks the spot") == {1}
    assert matcher.user_ids_in("") == frozenset()


# --- has_alert_word on send -------------------------------------------------------------------------------------


async def alerted(api: ApiHarness, email: str, message_id: int) -> bool:
    flags = await row_flags(api, email, message_id)
    assert flags is not None, (email, message_id)
    shown = "has_alert_word" in (await fetch_message(api, email, message_id))["flags"]
    assert shown == bool(flags & HAS_ALERT_WORD)
    return shown


@async_test
async def test_channel_messages_flag_the_subscribers_whose_words_they_contain(api: ApiHarness) -> None:
    await create_channel(api, IAGO, "garden", principals=[HAMLET, CORDELIA, PROSPERO])
    await add(api, ["roses"], as_user=HAMLET)
    await add(api, ["Tulips", "red roses"], as_user=CORDELIA)
    # Othello's words do not matter in a channel he does not receive.
    await add(api, ["roses"], as_user=OTHELLO)
    queue = (await register(api, HAMLET, event_types=["message"]))["queue_id"]
    message_id = await send_stream(api, IAGO, "garden", "spring", "Roses are red, tulips are not")
    assert await alerted(api, HAMLET, message_id)
    assert await alerted(api, CORDELIA, message_id)
    assert not await alerted(api, PROSPERO, message_id)
    assert not await alerted(api, IAGO, message_id)
    assert await row_flags(api, OTHELLO, message_id) is None
    (event,) = await queued_events(api, HAMLET, queue)
    assert "has_alert_word" in event["flags"]
    # The sender's own words count, as in Zulip.
    own = await send_stream(api, HAMLET, "garden", "spring", "my roses")
    assert await alerted(api, HAMLET, own)
    assert not await alerted(api, CORDELIA, own)
    plain = await send_stream(api, IAGO, "garden", "spring", "rosesare not words")
    assert not await alerted(api, HAMLET, plain)
    # Words in a code block do not count; in a quote they do.
    code = await send_stream(api, IAGO, "garden", "spring", "look:\n```\nroses\n```")
    assert not await alerted(api, HAMLET, code)
    quoted = await send_stream(api, IAGO, "garden", "spring", "```quote\nroses\n```")
    assert await alerted(api, HAMLET, quoted)
    # is:alerted finds the flagged ones.
    assert await fetch_ids(api, HAMLET, [term("is", "alerted")]) == [message_id, own, quoted]


@async_test
async def test_direct_messages_flag_the_members_whose_words_they_contain(api: ApiHarness) -> None:
    await add(api, ["secret"], as_user=HAMLET)
    await add(api, ["SECRET"], as_user=OTHELLO)
    await add(api, ["secret"], as_user=PROSPERO)
    one_to_one = await send_direct(api, CORDELIA, [HAMLET], "A secret!")
    assert await alerted(api, HAMLET, one_to_one)
    assert not await alerted(api, CORDELIA, one_to_one)
    assert await row_flags(api, OTHELLO, one_to_one) is None
    group = await send_direct(api, CORDELIA, [HAMLET, OTHELLO, IAGO], "the secret.")
    assert await alerted(api, HAMLET, group)
    assert await alerted(api, OTHELLO, group)
    assert not await alerted(api, IAGO, group)
    assert await row_flags(api, PROSPERO, group) is None
    # A message to oneself; and a direct message without any member's words.
    assert await alerted(api, HAMLET, await send_direct(api, HAMLET, [HAMLET], "secret"))
    assert not await alerted(api, HAMLET, await send_direct(api, CORDELIA, [HAMLET], "secrets"))


# --- has_alert_word on edit -------------------------------------------------------------------------------------


@async_test
async def test_editing_sets_and_clears_the_flag_on_every_copy(api: ApiHarness) -> None:
    await create_channel(api, IAGO, "garden", principals=[HAMLET, CORDELIA])
    await add(api, ["tulips"], as_user=CORDELIA)
    await add(api, ["roses"], as_user=HAMLET)
    message_id = await send_stream(api, HAMLET, "garden", "spring", "roses")
    queues = {email: (await register(api, email, event_types=["update_message", "update_message_flags"]))["queue_id"]
              for email in (HAMLET, CORDELIA)}  # fmt: skip
    last_seen = dict.fromkeys(queues, -1)

    async def edit(content: str) -> dict[str, list[str]]:
        success(await call(api, "PATCH", f"messages/{message_id}", {"content": content}, as_user=HAMLET))
        flags = {}
        for email, queue_id in queues.items():
            events = await queued_events(api, email, queue_id, last_seen[email])
            # The new flags come in the update_message event, as Zulip sends them; no flags event.
            assert [event["type"] for event in events] == ["update_message"], events
            flags[email] = events[0]["flags"]
            last_seen[email] = events[0]["id"]
        return flags

    assert await alerted(api, HAMLET, message_id)
    for content, hamlet, cordelia in [("tulips, not roses", True, True), ("tulips only", False, True),
                                      ("neither", False, False), ("roses", True, False)]:  # fmt: skip
        flags = await edit(content)
        assert ("has_alert_word" in flags[HAMLET], "has_alert_word" in flags[CORDELIA]) == (hamlet, cordelia)
        assert (await alerted(api, HAMLET, message_id), await alerted(api, CORDELIA, message_id)) == (hamlet, cordelia)
    # The other flags of a copy stay as they were.
    success(await call(api, "POST", "messages/flags", {"messages": [message_id], "op": "add", "flag": "starred"},
                       as_user=CORDELIA))  # fmt: skip
    starred = await queued_events(api, CORDELIA, queues[CORDELIA], last_seen[CORDELIA])
    assert [event["type"] for event in starred] == ["update_message_flags"]
    last_seen[CORDELIA] = starred[-1]["id"]
    await edit("tulips again")
    assert "starred" in (await fetch_message(api, CORDELIA, message_id))["flags"]
    assert await alerted(api, CORDELIA, message_id)
    # A topic-only edit leaves the flag alone.
    params = {"topic": "summer", "propagate_mode": "change_one"}
    success(await call(api, "PATCH", f"messages/{message_id}", params, as_user=HAMLET))
    assert await alerted(api, CORDELIA, message_id)


@async_test
async def test_editing_a_direct_message(api: ApiHarness) -> None:
    await add(api, ["secret"], as_user=HAMLET)
    message_id = await send_direct(api, CORDELIA, [HAMLET], "nothing yet")
    assert not await alerted(api, HAMLET, message_id)
    success(await call(api, "PATCH", f"messages/{message_id}", {"content": "a SECRET"}, as_user=CORDELIA))
    assert await alerted(api, HAMLET, message_id)
    assert not await alerted(api, CORDELIA, message_id)


# --- the cache ---------------------------------------------------------------------------------------------------


@async_test
async def test_a_change_takes_effect_on_the_next_message(api: ApiHarness) -> None:
    await create_channel(api, IAGO, "garden", principals=[HAMLET])
    before = await send_stream(api, IAGO, "garden", "spring", "roses")
    assert not await alerted(api, HAMLET, before)
    await add(api, ["roses"])
    after = await send_stream(api, IAGO, "garden", "spring", "roses")
    assert await alerted(api, HAMLET, after)
    await remove(api, ["ROSES"])
    assert not await alerted(api, HAMLET, await send_stream(api, IAGO, "garden", "spring", "roses"))
    # An edit uses the words as they are now too.
    await add(api, ["roses"])
    success(await call(api, "PATCH", f"messages/{before}", {"content": "roses!"}, as_user=IAGO))
    assert await alerted(api, HAMLET, before)


@async_test
async def test_the_matcher_is_kept_until_a_notification(api: ApiHarness) -> None:
    await create_channel(api, IAGO, "garden", principals=[HAMLET])
    await add(api, ["roses"])
    matcher = await realm_alert_word_matcher(api.server, realm_id(api))
    assert matcher.user_ids == {api.user(HAMLET).id}
    # Sending uses the kept matcher: the same object, message after message.
    await send_stream(api, IAGO, "garden", "spring", "roses")
    assert await realm_alert_word_matcher(api.server, realm_id(api)) is matcher
    # A change made elsewhere (another process) is not seen until its notification arrives.
    await execute(api, "INSERT INTO alert_word (user_id, realm_id, word, word_lower) VALUES (%s, %s, %s, %s)",
                  [api.user(HAMLET).id, realm_id(api), "Tulips", "tulips"])  # fmt: skip
    assert not await alerted(api, HAMLET, await send_stream(api, IAGO, "garden", "spring", "tulips"))
    api.server.handle_invalidation(f"alert_words:{realm_id(api)}")
    assert await alerted(api, HAMLET, await send_stream(api, IAGO, "garden", "spring", "tulips"))
    # Another organization's notification drops nothing of this one.
    matcher = await realm_alert_word_matcher(api.server, realm_id(api))
    api.server.handle_invalidation(f"alert_words:{realm_id(api) + 1000}")
    assert await realm_alert_word_matcher(api.server, realm_id(api)) is matcher
    await execute(api, "DELETE FROM alert_word WHERE word_lower = %s", ["tulips"])
    api.server.forget_everything()
    assert not await alerted(api, HAMLET, await send_stream(api, IAGO, "garden", "spring", "tulips"))


@async_test
async def test_a_kept_matcher_costs_no_database_work(api: ApiHarness, monkeypatch: pytest.MonkeyPatch) -> None:
    await create_channel(api, IAGO, "garden", principals=[HAMLET])
    await add(api, ["roses"])
    pool = api.server.pool
    run = pool._run
    trips: list[str] = []

    async def recorded_run(description: str, *args: Any, **kwargs: Any) -> Any:
        trips.append(description)
        return await run(description, *args, **kwargs)

    # Every trip to the real pool is recorded by what it is for.
    monkeypatch.setattr(pool, "_run", recorded_run)
    first = await send_stream(api, IAGO, "garden", "spring", "roses")
    assert trips.count("realm alert words") == 1
    for content in ("roses", "no words", "more roses"):
        await send_stream(api, IAGO, "garden", "spring", content)
        await send_direct(api, IAGO, [HAMLET], content)
    success(await call(api, "PATCH", f"messages/{first}", {"content": "edited roses"}, as_user=IAGO))
    assert trips.count("realm alert words") == 1
    assert await alerted(api, HAMLET, first)


@async_test
async def test_requests_during_a_build_share_it(api: ApiHarness) -> None:
    await add(api, ["roses"])
    matchers = api.server.alert_word_matchers
    matchers.forget()
    first = Deferred.fromCoroutine(matchers.for_realm(realm_id(api)))
    second = Deferred.fromCoroutine(matchers.for_realm(realm_id(api)))
    assert await first is await second
    # A build that a change overtook is handed to those who asked before, and not kept.
    # Nothing overtook that build, so it was kept.
    assert await matchers.for_realm(realm_id(api)) is await second
    matchers.forget()
    overtaken = Deferred.fromCoroutine(matchers.for_realm(realm_id(api)))
    matchers.forget(realm_id(api))
    fresh = Deferred.fromCoroutine(matchers.for_realm(realm_id(api)))
    overtaken_matcher, fresh_matcher = await overtaken, await fresh
    assert overtaken_matcher is not fresh_matcher
    assert await realm_alert_word_matcher(api.server, realm_id(api)) is fresh_matcher
