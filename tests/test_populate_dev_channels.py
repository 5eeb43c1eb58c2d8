"""``zulipd-admin populate-dev`` creates Zulip's development channels and subscriptions, run as an operator runs it."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.operator_tools import ScratchDatabase, database_from, populate_dev, run_admin

# Zulip's test database (populate_db --test-suite): who is subscribed where.
EXPECTED_SUBSCRIPTIONS = {
    "AARON@zulip.com": {"Verona"},
    "cordelia@zulip.com": {"Verona"},
    "polonius@zulip.com": {"Verona"},
    "hamlet@zulip.com": {"Verona", "Denmark", "core team", "Zulip", "sandbox"},
    "iago@zulip.com": {"Verona", "Denmark", "Scotland", "core team", "Zulip", "sandbox"},
    "othello@zulip.com": {"Verona", "Denmark", "Scotland"},
    "shiva@zulip.com": {"Verona", "Denmark", "Scotland"},
    "prospero@zulip.com": {"Verona", "Denmark", "Scotland", "Venice"},
    "ZOE@zulip.com": {"Verona", "Denmark", "Scotland", "Venice", "Rome"},
    "desdemona@zulip.com": {"Verona", "Denmark", "Venice", "core team", "Zulip", "sandbox"},
}
# name: (description, invite_only, is_web_public, history_public_to_subscribers)
EXPECTED_CHANNELS = {
    "Verona": ("A city in Italy", False, False, True),
    "Denmark": ("A Scandinavian country", False, False, True),
    "Scotland": ("Located in the United Kingdom", False, False, True),
    "Venice": ("A northeastern Italian city", False, False, True),
    "Rome": ("Yet another Italian city", False, True, True),
    "core team": ("A private channel for core team members", True, False, False),
    "Zulip": ("Questions and discussion about using Zulip.", False, False, True),
    "sandbox": ("Experiment with Zulip here. :test_tube:", False, False, True),
}


@pytest.fixture
def database(postgres_admin_dsn: str, template_database: str) -> Iterator[ScratchDatabase]:
    with database_from(postgres_admin_dsn, template_database) as database:
        yield database


def channels(database: ScratchDatabase) -> list[tuple[Any, ...]]:
    """(id, name, description, invite_only, is_web_public, history_public_to_subscribers, creator email)."""
    return database.query(
        """SELECT s.id, s.name, s.description, s.invite_only, s.is_web_public, s.history_public_to_subscribers,
                  u.delivery_email
           FROM stream s JOIN realm r ON r.id = s.realm_id LEFT JOIN user_profile u ON u.id = s.creator_id
           WHERE r.string_id = 'zulip' ORDER BY s.id"""
    )


def subscriptions(database: ScratchDatabase) -> dict[str, set[str]]:
    rows = database.query(
        """SELECT u.delivery_email, s.name FROM subscription sub
           JOIN recipient rc ON rc.id = sub.recipient_id AND rc.type = 2
           JOIN stream s ON s.id = rc.type_id JOIN user_profile u ON u.id = sub.user_id
           WHERE sub.active"""
    )
    found: dict[str, set[str]] = {}
    for email, name in rows:
        found.setdefault(email, set()).add(name)
    return found


def default_channels(database: ScratchDatabase) -> list[str]:
    rows = database.query(
        "SELECT s.name FROM default_stream d JOIN stream s ON s.id = d.stream_id ORDER BY d.stream_id"
    )
    return [row[0] for row in rows]


def audit_counts(database: ScratchDatabase) -> dict[tuple[str, str | None], int]:
    """(event type, acting user's email) -> rows, for channel events."""
    rows = database.query(
        """SELECT a.event_type, u.delivery_email, count(*) FROM realm_audit_log a
           LEFT JOIN user_profile u ON u.id = a.acting_user_id
           WHERE a.event_type IN ('channel_created', 'subscription_created') GROUP BY 1, 2"""
    )
    return {(event_type, email): count for event_type, email, count in rows}


def test_populate_dev_creates_the_channels_and_subscriptions(database: ScratchDatabase) -> None:
    populate_dev(database)
    found = channels(database)
    assert [row[1] for row in found] == list(EXPECTED_CHANNELS)
    for _, name, description, invite_only, web_public, history_public, creator in found:
        assert (description, invite_only, web_public, history_public) == EXPECTED_CHANNELS[name], name
        assert creator == "desdemona@zulip.com", name
    assert subscriptions(database) == EXPECTED_SUBSCRIPTIONS
    # Verona is the first default channel; Zulip and sandbox are defaults too, as in every new Zulip organization.
    assert default_channels(database) == ["Verona", "Zulip", "sandbox"]
    # Created through the normal actions: the owner created them and subscribed everyone, and it was audited.
    subscription_count = sum(len(names) for names in EXPECTED_SUBSCRIPTIONS.values())
    assert audit_counts(database) == {
        ("channel_created", "desdemona@zulip.com"): len(EXPECTED_CHANNELS),
        ("subscription_created", "desdemona@zulip.com"): subscription_count,
    }


def test_populate_dev_twice_changes_no_channel(database: ScratchDatabase) -> None:
    first_keys = populate_dev(database)
    before = (channels(database), subscriptions(database), default_channels(database), audit_counts(database))
    colors = database.query("SELECT user_id, recipient_id, color, date_subscribed FROM subscription ORDER BY 1, 2")
    assert populate_dev(database) == first_keys
    assert (channels(database), subscriptions(database), default_channels(database), audit_counts(database)) == before
    assert database.query("SELECT user_id, recipient_id, color, date_subscribed FROM subscription ORDER BY 1, 2") == (
        colors
    )


def test_populate_dev_runs_again_after_users_change(database: ScratchDatabase) -> None:
    populate_dev(database)
    result = run_admin("deactivate-user", "--realm", "zulip", "hamlet@zulip.com", env=database.env())
    assert result.returncode == 0, result.stderr
    # Someone left a channel; running populate-dev again puts the fixture back, and skips deactivated users.
    database.execute(
        """UPDATE subscription SET active = false WHERE user_id = (SELECT id FROM user_profile
           WHERE delivery_email = 'othello@zulip.com')
           AND recipient_id = (SELECT rc.id FROM recipient rc JOIN stream s ON rc.type = 2 AND rc.type_id = s.id
                               WHERE s.name = 'Scotland')"""
    )
    assert "Scotland" not in subscriptions(database)["othello@zulip.com"]
    populate_dev(database)
    assert subscriptions(database) == EXPECTED_SUBSCRIPTIONS
    assert len(channels(database)) == len(EXPECTED_CHANNELS)
