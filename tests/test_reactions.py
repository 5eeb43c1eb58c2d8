"""POST and DELETE /messages/{id}/reactions.

The specification's 400 answers here are a oneOf of two identical CodedError
schemas, which no body can match exactly one of; errors are checked exactly,
field by field.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.chat_support import (
    CORDELIA,
    HAMLET,
    IAGO,
    OTHELLO,
    POLONIUS,
    add_realm_emoji,
    assert_error,
    create_channel,
    fetch_message,
    row_flags,
    send_direct,
    send_stream,
    success,
)
from tests.support.api import ApiHarness
from tests.support.async_tests import async_test
from tests.support.openapi import assert_valid
from zulipd.models import MessageFlag
from zulipd.render.emoji import emoji_code, unicode_emoji_names

INVALID_MESSAGE = "Invalid message(s)"


async def react(api: ApiHarness, email: str, message_id: int, **params: Any) -> Any:
    return await api.call("POST", f"messages/{message_id}/reactions", params, as_user=email)


async def unreact(api: ApiHarness, email: str, message_id: int, **params: Any) -> Any:
    return await api.call("DELETE", f"messages/{message_id}/reactions", params, as_user=email)


async def react_ok(api: ApiHarness, email: str, message_id: int, **params: Any) -> None:
    assert_valid(
        "POST", f"messages/{message_id}/reactions", 200, success(await react(api, email, message_id, **params))
    )


async def unreact_ok(api: ApiHarness, email: str, message_id: int, **params: Any) -> None:
    response = await unreact(api, email, message_id, **params)
    assert_valid("DELETE", f"messages/{message_id}/reactions", 200, success(response))


async def reactions(api: ApiHarness, email: str, message_id: int) -> list[tuple[str, str, str, int]]:
    message = await fetch_message(api, email, message_id)
    return [(r["emoji_name"], r["emoji_code"], r["reaction_type"], r["user_id"]) for r in message["reactions"]]


async def channel_message(api: ApiHarness) -> int:
    await create_channel(api, HAMLET, "Denmark", principals=[OTHELLO])
    return await send_stream(api, HAMLET, "Denmark", "castle")


@pytest.mark.parametrize(
    ("name", "code"),
    [
        ("octopus", "1f419"),
        ("tada", "1f389"),
        ("car", "1f697"),
        ("+1", "1f44d"),
        ("thumbs_up", "1f44d"),
        ("heart", "2764"),
        ("smile", "1f604"),
        ("copyright", "00a9"),
        ("keycap_#", "0023-20e3"),
        ("man_technologist", "1f468-200d-1f4bb"),
    ],
)
def test_unicode_emoji_names(name: str, code: str) -> None:
    assert unicode_emoji_names()[name] == code


def test_emoji_codes_drop_variation_selectors() -> None:
    assert emoji_code("\u2764\ufe0f") == emoji_code("\u2764") == "2764"


@async_test
async def test_add_and_remove_by_name(api: ApiHarness) -> None:
    message_id = await channel_message(api)
    hamlet, othello = api.user(HAMLET).id, api.user(OTHELLO).id
    await react_ok(api, OTHELLO, message_id, emoji_name="octopus")
    await react_ok(api, HAMLET, message_id, emoji_name="+1")
    await react_ok(api, HAMLET, message_id, emoji_name="octopus")
    assert await reactions(api, HAMLET, message_id) == [
        ("octopus", "1f419", "unicode_emoji", othello),
        ("+1", "1f44d", "unicode_emoji", hamlet),
        ("octopus", "1f419", "unicode_emoji", hamlet),
    ]
    body = success(
        await api.call("GET", "messages", {"anchor": message_id, "num_before": 0, "num_after": 0}, as_user=OTHELLO)
    )
    assert_valid("GET", "messages", 200, body)
    await unreact_ok(api, OTHELLO, message_id, emoji_name="octopus")
    await unreact_ok(api, HAMLET, message_id, emoji_code="1f44d")
    assert await reactions(api, HAMLET, message_id) == [("octopus", "1f419", "unicode_emoji", hamlet)]
    has_reaction = [{"operator": "has", "operand": "reaction"}]
    found = success(
        await api.call("GET", "messages", {"anchor": "newest", "num_before": 5, "narrow": has_reaction}, as_user=HAMLET)
    )
    assert [message["id"] for message in found["messages"]] == [message_id]


@async_test
async def test_duplicates_and_missing_reactions(api: ApiHarness) -> None:
    message_id = await channel_message(api)
    await react_ok(api, HAMLET, message_id, emoji_name="tada")
    exists = ("Reaction already exists.", "REACTION_ALREADY_EXISTS")
    assert_error(await react(api, HAMLET, message_id, emoji_name="tada"), *exists)
    # The same emoji under another name is the same reaction.
    assert_error(await react(api, HAMLET, message_id, emoji_name="party_popper"), *exists)
    missing = ("Reaction doesn't exist.", "REACTION_DOES_NOT_EXIST")
    assert_error(await unreact(api, OTHELLO, message_id, emoji_name="tada"), *missing)
    assert_error(await unreact(api, HAMLET, message_id, emoji_name="octopus"), *missing)
    assert_error(await unreact(api, HAMLET, message_id, emoji_code="1f389", reaction_type="realm_emoji"), *missing)
    assert len(await reactions(api, HAMLET, message_id)) == 1


@async_test
async def test_a_second_reaction_is_a_vote_under_the_first_name(api: ApiHarness) -> None:
    message_id = await channel_message(api)
    await react_ok(api, HAMLET, message_id, emoji_name="thumbs_up")
    await react_ok(api, OTHELLO, message_id, emoji_name="+1")
    names = {(name, code) for name, code, _, _ in await reactions(api, HAMLET, message_id)}
    assert names == {("thumbs_up", "1f44d")}


@async_test
async def test_bad_emoji(api: ApiHarness) -> None:
    message_id = await channel_message(api)
    assert_error(
        await react(api, HAMLET, message_id, emoji_name="no_such_emoji"), "Emoji 'no_such_emoji' does not exist"
    )
    assert_error(await react(api, HAMLET, message_id, emoji_name="octopus", emoji_code="zzzz"), "Invalid emoji code.")
    assert_error(await react(api, HAMLET, message_id, emoji_name="tada", emoji_code="1f419"), "Invalid emoji name.")
    assert_error(
        await react(api, HAMLET, message_id, emoji_name="octopus", emoji_code="1f419", reaction_type="sticker"),
        "Invalid emoji type.",
    )
    assert_error(
        await react(api, HAMLET, message_id, emoji_name="zulip", emoji_code="1f419", reaction_type="zulip_extra_emoji"),
        "Invalid emoji code.",
    )
    assert_error(
        await react(api, HAMLET, message_id),
        "Missing 'emoji_name' argument",
        "REQUEST_VARIABLE_MISSING",
        var_name="emoji_name",
    )
    assert_error(
        await unreact(api, HAMLET, message_id),
        "At least one of the following arguments must be present: emoji_name, emoji_code",
    )
    assert_error(
        await unreact(api, HAMLET, message_id, emoji_name="no_such_emoji"), "Emoji 'no_such_emoji' does not exist"
    )
    assert await reactions(api, HAMLET, message_id) == []


@async_test
async def test_explicit_codes_and_the_zulip_emoji(api: ApiHarness) -> None:
    message_id = await channel_message(api)
    await react_ok(api, HAMLET, message_id, emoji_name="octopus", emoji_code="1f419", reaction_type="unicode_emoji")
    await react_ok(api, HAMLET, message_id, emoji_name="zulip")
    hamlet = api.user(HAMLET).id
    assert await reactions(api, HAMLET, message_id) == [
        ("octopus", "1f419", "unicode_emoji", hamlet),
        ("zulip", "zulip", "zulip_extra_emoji", hamlet),
    ]
    await unreact_ok(api, HAMLET, message_id, emoji_name="zulip")
    await unreact_ok(api, HAMLET, message_id, emoji_code="1f419", reaction_type="unicode_emoji")
    assert await reactions(api, HAMLET, message_id) == []


@async_test
async def test_custom_emoji(api: ApiHarness) -> None:
    message_id = await channel_message(api)
    green_tick = await add_realm_emoji(api, "green_tick")
    octopus = await add_realm_emoji(api, "octopus")  # a custom emoji takes over a Unicode name
    retired = await add_realm_emoji(api, "retired", deactivated=True)
    await react_ok(api, HAMLET, message_id, emoji_name="green_tick")
    await react_ok(api, HAMLET, message_id, emoji_name="octopus")
    await react_ok(
        api, OTHELLO, message_id, emoji_name="green_tick", emoji_code=str(green_tick), reaction_type="realm_emoji"
    )
    hamlet, othello = api.user(HAMLET).id, api.user(OTHELLO).id
    assert await reactions(api, HAMLET, message_id) == [
        ("green_tick", str(green_tick), "realm_emoji", hamlet),
        ("octopus", str(octopus), "realm_emoji", hamlet),
        ("green_tick", str(green_tick), "realm_emoji", othello),
    ]
    assert_error(await react(api, CORDELIA, message_id, emoji_name="retired"), "Emoji 'retired' does not exist")
    assert_error(
        await react(
            api, CORDELIA, message_id, emoji_name="retired", emoji_code=str(retired), reaction_type="realm_emoji"
        ),
        "This custom emoji has been deactivated.",
    )
    # Nobody reacted with this one yet, so its name must match its code.
    blue_tick = await add_realm_emoji(api, "blue_tick")
    assert_error(
        await react(
            api, CORDELIA, message_id, emoji_name="other", emoji_code=str(blue_tick), reaction_type="realm_emoji"
        ),
        "Invalid custom emoji name.",
    )
    # With a reaction to vote for, the existing reaction's name wins.
    await react_ok(
        api, CORDELIA, message_id, emoji_name="other", emoji_code=str(green_tick), reaction_type="realm_emoji"
    )
    assert_error(
        await react(api, CORDELIA, message_id, emoji_name="x", emoji_code="999999", reaction_type="realm_emoji"),
        "Invalid custom emoji.",
    )
    # Removing by name finds the custom emoji without being told its type.
    await unreact_ok(api, HAMLET, message_id, emoji_name="green_tick")
    await unreact_ok(api, HAMLET, message_id, emoji_code=str(octopus), reaction_type="realm_emoji")
    assert await reactions(api, HAMLET, message_id) == [
        ("green_tick", str(green_tick), "realm_emoji", othello),
        ("green_tick", str(green_tick), "realm_emoji", api.user(CORDELIA).id),
    ]


@async_test
async def test_reacting_through_shared_history_creates_a_historical_row(api: ApiHarness) -> None:
    message_id = await channel_message(api)
    assert await row_flags(api, CORDELIA, message_id) is None
    await react_ok(api, CORDELIA, message_id, emoji_name="octopus")
    assert await row_flags(api, CORDELIA, message_id) == int(MessageFlag.READ | MessageFlag.HISTORICAL)
    assert (await fetch_message(api, CORDELIA, message_id))["flags"] == ["read", "historical"]
    # A subscriber's row is left as it is.
    await react_ok(api, OTHELLO, message_id, emoji_name="octopus")
    assert await row_flags(api, OTHELLO, message_id) == 0
    # Failing requests leave no row behind.
    assert_error(await react(api, IAGO, message_id, emoji_name="no_such_emoji"), "Emoji 'no_such_emoji' does not exist")
    assert await row_flags(api, IAGO, message_id) is None


@async_test
async def test_no_reactions_to_what_one_cannot_read(api: ApiHarness) -> None:
    await create_channel(api, OTHELLO, "secret", invite_only=True)
    secret_id = await send_stream(api, OTHELLO, "secret", "plans")
    direct_id = await send_direct(api, HAMLET, [OTHELLO])
    public_id = await channel_message(api)
    await react_ok(api, OTHELLO, secret_id, emoji_name="octopus")
    await react_ok(api, OTHELLO, direct_id, emoji_name="octopus")
    for caller, message_id in [
        (HAMLET, secret_id),
        (IAGO, secret_id),  # administrators included
        (CORDELIA, direct_id),
        (POLONIUS, public_id),  # guests see only their channels
        (HAMLET, secret_id + 10000),
    ]:
        assert_error(await react(api, caller, message_id, emoji_name="octopus"), INVALID_MESSAGE)
        assert_error(await unreact(api, caller, message_id, emoji_name="octopus"), INVALID_MESSAGE)
    assert len(await reactions(api, OTHELLO, secret_id)) == 1
    assert await row_flags(api, IAGO, secret_id) is None
