"""The render context: what a message may refer to, looked up for its sender against the real database."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from tests.chat_support import (
    AARON,
    CORDELIA,
    HAMLET,
    IAGO,
    OTHELLO,
    POLONIUS,
    add_realm_emoji,
    create_channel,
    register,
    send_stream,
    subscribe,
)
from tests.support.api import DEV_PASSWORD, ApiHarness
from tests.support.async_tests import async_test
from zulipd.actions.groups import do_create_user_group, do_deactivate_user_group
from zulipd.actions.linkifiers import do_add_linkifier
from zulipd.actions.realms import do_create_realm
from zulipd.actions.render_context import build_render_context
from zulipd.actions.streams import do_archive_stream, get_visible_stream
from zulipd.actions.users import do_create_user, do_deactivate_user
from zulipd.models import Realm, UserProfile
from zulipd.render.context import CustomEmoji, LinkableStream, MentionableGroup, MentionableUser, RenderContext
from zulipd.render.linkifiers import Linkifier
from zulipd.storage.pool import DatabasePool, Transaction
from zulipd.storage.render_context import lowered_name_pattern


def realm_of(api: ApiHarness) -> Realm:
    assert api.realm is not None
    return api.realm


async def context_for(api: ApiHarness, email: str, content: str, **options: Any) -> RenderContext:
    return await build_render_context(api.server, api.user(email), realm_of(api), content, **options)


async def new_user(api: ApiHarness, email: str, full_name: str, realm: Realm | None = None) -> UserProfile:
    return await do_create_user(
        api.server, realm or realm_of(api), email=email, full_name=full_name, password=DEV_PASSWORD
    )


def mentionable(user: UserProfile) -> MentionableUser:
    return MentionableUser(user.id, user.full_name)


@dataclasses.dataclass
class DatabaseUse:
    """Trips to the pool and statements run, counted on the real pool."""

    trips: int = 0
    statements: int = 0


@pytest.fixture
def database_use(api: ApiHarness, monkeypatch: pytest.MonkeyPatch) -> DatabaseUse:
    use = DatabaseUse()
    pool: DatabasePool = api.server.pool
    run = pool._run
    fetch_all, fetch_one = Transaction.fetch_all, Transaction.fetch_one

    async def counted_run(*args: Any, **kwargs: Any) -> Any:
        use.trips += 1
        return await run(*args, **kwargs)

    async def counted_fetch_all(self: Transaction, *args: Any, **kwargs: Any) -> list[tuple[Any, ...]]:
        use.statements += 1
        return await fetch_all(self, *args, **kwargs)

    async def counted_fetch_one(self: Transaction, *args: Any, **kwargs: Any) -> tuple[Any, ...] | None:
        use.statements += 1
        return await fetch_one(self, *args, **kwargs)

    monkeypatch.setattr(pool, "_run", counted_run)
    monkeypatch.setattr(Transaction, "fetch_all", counted_fetch_all)
    monkeypatch.setattr(Transaction, "fetch_one", counted_fetch_one)
    return use


# --- users ------------------------------------------------------------------------------------------------------


@async_test
async def test_users_are_found_by_full_name_in_any_case_and_by_id(api: ApiHarness) -> None:
    hamlet, iago = api.user(HAMLET), api.user(IAGO)
    content = f"@**KING hamlet**, @_**|{iago.id}** and @**Nobody Here** and @**|999999**"
    context = await context_for(api, OTHELLO, content)
    assert context.users_by_name == {"king hamlet": [mentionable(hamlet)]}
    assert context.users_by_id == {iago.id: mentionable(iago)}


@async_test
async def test_names_outside_ascii_compare_as_python_lowers_them(api: ApiHarness) -> None:
    # Whatever the database's locale, and whatever its lower() makes of these letters.
    elodie = await new_user(api, "elodie@zulip.com", "Élodie Ünal")
    ilker = await new_user(api, "ilker@zulip.com", "İlker Öz")
    odos = await new_user(api, "odos@zulip.com", "ΟΔΟΣ")
    content = "@**ÉLODIE ÜNAL** @**İLKER ÖZ** @**οδος** @**Elodie Unal**"
    context = await context_for(api, HAMLET, content)
    assert context.users_by_name == {
        "élodie ünal": [mentionable(elodie)],
        "i̇lker öz": [mentionable(ilker)],
        "οδος": [mentionable(odos)],
    }


def test_name_patterns_keep_ascii_and_leave_other_letters_to_their_position() -> None:
    assert lowered_name_pattern("king hamlet") == "_ing hamlet"
    assert lowered_name_pattern("élodie") == "_lodie"
    assert lowered_name_pattern("i\u0307lker") == "%l_er"
    assert lowered_name_pattern("100%_sure\\") == "100\\%\\_sure\\\\"


@async_test
async def test_users_sharing_a_full_name_are_all_found_in_id_order(api: ApiHarness) -> None:
    first = await new_user(api, "twin1@zulip.com", "Hamlet Twin")
    second = await new_user(api, "twin2@zulip.com", "hamlet twin")
    context = await context_for(api, IAGO, "@**Hamlet Twin**")
    assert context.users_by_name == {"hamlet twin": [mentionable(first), mentionable(second)]}


@async_test
async def test_deactivated_users_are_left_out(api: ApiHarness) -> None:
    othello = api.user(OTHELLO)
    await do_deactivate_user(api.server, othello, None)
    context = await context_for(api, HAMLET, f"@**Othello, the Moor of Venice** @**|{othello.id}**")
    assert context.users_by_name == {}
    assert context.users_by_id == {}


@async_test
async def test_users_of_other_organizations_are_left_out(api: ApiHarness) -> None:
    lear = await do_create_realm(api.server, "lear", "Lear & Co.")
    king = await new_user(api, "king@lear.org", "King Lear", lear)
    namesake = await new_user(api, "hamlet@lear.org", "King Hamlet", lear)
    content = f"@**King Lear** @**|{king.id}** @**King Hamlet** @**King Hamlet|{namesake.id}**"
    context = await context_for(api, CORDELIA, content)
    assert context.users_by_name == {"king hamlet": [mentionable(api.user(HAMLET))]}
    assert context.users_by_id == {}


# --- groups -----------------------------------------------------------------------------------------------------


@async_test
async def test_groups_are_found_by_exact_name_system_groups_too_but_not_deactivated_ones(api: ApiHarness) -> None:
    realm, hamlet = realm_of(api), api.user(HAMLET)
    support = await do_create_user_group(api.server, realm, hamlet, name="support", description="", members=[hamlet.id])
    retired = await do_create_user_group(api.server, realm, hamlet, name="retired", description="", members=[hamlet.id])
    await do_deactivate_user_group(api.server, realm, hamlet, retired.id)
    context = await context_for(api, AARON, "@*support* @_*retired* @*Support* @_*role:members* @*nobody-here*")
    members_id = dict(await api.server.pool.fetch_all(
        "system group", "SELECT name, id FROM user_group WHERE realm_id = %s AND is_system_group", (realm.id,)
    ))["role:members"]  # fmt: skip
    assert context.groups_by_name == {
        "support": MentionableGroup(support.id, "support"),
        "role:members": MentionableGroup(members_id, "role:members"),
    }


# --- channels and topics ----------------------------------------------------------------------------------------


@async_test
async def test_public_channels_are_linkable_by_exact_name(api: ApiHarness) -> None:
    stream_id = await create_channel(api, IAGO, "public place")
    context = await context_for(api, HAMLET, "#**public place** #**Public Place** #**nowhere**")
    assert context.streams_by_name == {"public place": LinkableStream(stream_id, "public place")}


@async_test
async def test_private_channels_are_linkable_by_subscribers_only(api: ApiHarness) -> None:
    stream_id = await create_channel(api, HAMLET, "secret", invite_only=True, principals=[CORDELIA])
    content = "#**secret** #**secret>plans**"
    for email in (HAMLET, CORDELIA):
        context = await context_for(api, email, content)
        assert context.streams_by_name == {"secret": LinkableStream(stream_id, "secret")}, email
    for email in (IAGO, OTHELLO, POLONIUS):  # an administrator, a member, a guest: none subscribed
        context = await context_for(api, email, content)
        assert context.streams_by_name == {}, email
        assert context.topic_message_ids == {}, email


@async_test
async def test_guests_link_only_channels_they_are_subscribed_to(api: ApiHarness) -> None:
    stream_id = await create_channel(api, IAGO, "lobby")
    assert (await context_for(api, POLONIUS, "#**lobby**")).streams_by_name == {}
    await subscribe(api, IAGO, "lobby", [POLONIUS])
    context = await context_for(api, POLONIUS, "#**lobby**")
    assert context.streams_by_name == {"lobby": LinkableStream(stream_id, "lobby")}


@async_test
async def test_archived_channels_stay_linkable_by_those_who_can_see_them(api: ApiHarness) -> None:
    public_id = await create_channel(api, IAGO, "old news")
    private_id = await create_channel(api, HAMLET, "old secret", invite_only=True)
    iago = api.user(IAGO)
    for stream_id, acting in ((public_id, iago), (private_id, api.user(HAMLET))):
        stream, _ = await get_visible_stream(api.server, acting, stream_id)
        await do_archive_stream(api.server, realm_of(api), acting, stream)
    context = await context_for(api, OTHELLO, "#**old news** #**old secret**")
    assert context.streams_by_name == {"old news": LinkableStream(public_id, "old news")}


@async_test
async def test_topic_links_get_the_topics_oldest_message_in_any_case(api: ApiHarness) -> None:
    stream_id = await create_channel(api, IAGO, "kitchen")
    first = await send_stream(api, IAGO, "kitchen", "Lunch")
    await send_stream(api, HAMLET, "kitchen", "lunch")
    await send_stream(api, HAMLET, "kitchen", "dinner")
    content = "#**kitchen>LUNCH** #**kitchen>breakfast** #**kitchen>dinner@12** #**nowhere>Lunch**"
    context = await context_for(api, OTHELLO, content)
    assert context.topic_message_ids == {(stream_id, "LUNCH"): first}
    assert context.streams_by_name == {"kitchen": LinkableStream(stream_id, "kitchen")}


@async_test
async def test_topic_links_in_a_channel_without_shared_history_count_only_received_messages(
    api: ApiHarness,
) -> None:
    stream_id = await create_channel(api, HAMLET, "diary", invite_only=True, history_public_to_subscribers=False)
    before = await send_stream(api, HAMLET, "diary", "notes")
    await subscribe(api, HAMLET, "diary", [CORDELIA])
    after = await send_stream(api, HAMLET, "diary", "notes")
    assert (await context_for(api, HAMLET, "#**diary>notes**")).topic_message_ids == {(stream_id, "notes"): before}
    assert (await context_for(api, CORDELIA, "#**diary>notes**")).topic_message_ids == {(stream_id, "notes"): after}


# --- custom emoji -----------------------------------------------------------------------------------------------


@async_test
async def test_active_custom_emoji_are_found_with_the_register_states_url(api: ApiHarness) -> None:
    tick_id = await add_realm_emoji(api, "green_tick")
    await add_realm_emoji(api, "retired_emoji", deactivated=True)
    context = await context_for(api, HAMLET, ":green_tick: :retired_emoji: :smile: :GREEN_TICK:")
    state = await register(api, HAMLET, fetch_event_types=["realm_emoji"])
    source_url = state["realm_emoji"][str(tick_id)]["source_url"]
    assert context.custom_emoji == {"green_tick": CustomEmoji(tick_id, "green_tick", source_url)}


# --- the organization's URL, linkifiers, and what it costs ------------------------------------------------------


@async_test
async def test_the_realm_url_is_the_register_states(api: ApiHarness) -> None:
    # The harness serves plain HTTP: the register state's URL is the http one.
    state = await register(api, HAMLET, fetch_event_types=["realm"])
    assert (await context_for(api, HAMLET, "hello", secure=False)).realm_url == state["realm_url"]
    assert (await context_for(api, HAMLET, "@**Iago**", secure=False)).realm_url == state["realm_url"]
    assert (await context_for(api, HAMLET, "hello")).realm_url == "https://127.0.0.1:9991"


@async_test
async def test_a_message_that_names_nothing_costs_no_database_work(api: ApiHarness, database_use: DatabaseUse) -> None:
    realm = realm_of(api)
    linkifier_id = await do_add_linkifier(
        api.server, realm, api.user(IAGO), "#(?P<id>[0-9]+)", "https://trac.example.com/ticket/{id}"
    )
    await context_for(api, HAMLET, "warming the linkifier cache")
    database_use.trips = database_use.statements = 0
    context = await context_for(api, HAMLET, "Just words, and a ticket #123, nothing else.")
    assert (database_use.trips, database_use.statements) == (0, 0)
    linkifiers = (Linkifier(linkifier_id, "#(?P<id>[0-9]+)", "https://trac.example.com/ticket/{id}"),)
    assert context == RenderContext(realm_url="https://127.0.0.1:9991", linkifiers=linkifiers)
    # The counter does count: a message that names something is looked up.
    await context_for(api, HAMLET, "@**Iago**")
    assert database_use.trips == 1


@async_test
async def test_the_look_up_is_one_trip_whatever_the_message_names(api: ApiHarness, database_use: DatabaseUse) -> None:
    await create_channel(api, IAGO, "kitchen")
    await send_stream(api, IAGO, "kitchen", "lunch")
    await add_realm_emoji(api, "green_tick")
    await context_for(api, HAMLET, "warming the linkifier cache")

    async def cost(content: str) -> tuple[int, int]:
        database_use.trips = database_use.statements = 0
        await context_for(api, HAMLET, content)
        return database_use.trips, database_use.statements

    few = "@**Iago** @*support* #**kitchen>lunch** :green_tick:"
    many = (
        f"{few} @**Zoe** @**|{api.user(OTHELLO).id}** @**aaron** @*role:members* @*role:owners* "
        "#**kitchen>dinner** #**kitchen>breakfast** #**Verona** :octopus: :tada:"
    )
    # Users, groups, channels, topics, emoji: one statement each, in one trip.
    assert await cost(few) == (1, 5)
    assert await cost(many) == (1, 5)
    assert await cost("@**Iago** and @**Zoe**") == (1, 1)
