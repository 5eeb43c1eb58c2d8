"""zulipd-admin's organization and user commands, run as an operator runs them.

Each command is a subprocess with ZULIPD_DATABASE_URL naming a database of
the test's own (cloned from the migrated template). The last tests start a
real ``twistd -n zulipd`` on the same database and check that what
zulipd-admin changes reaches the running daemon (over LISTEN/NOTIFY).
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from twisted.internet import reactor, threads

from tests.operator_tools import (
    ScratchDatabase,
    basic_auth,
    daemon_on,
    database_from,
    http,
    poll,
    populate_dev,
    run_admin,
)
from tests.support.async_tests import async_test
from zulipd.errors import RateLimited
from zulipd.models import Role
from zulipd.passwords import check_password_blocking
from zulipd.ratelimit import RateLimitRules, RateLimits, RedisRateLimits
from zulipd.redis import connect_redis

DEV_ROLES = {
    "ZOE@zulip.com": Role.MEMBER,
    "othello@zulip.com": Role.MEMBER,
    "iago@zulip.com": Role.ADMINISTRATOR,
    "prospero@zulip.com": Role.MEMBER,
    "cordelia@zulip.com": Role.MEMBER,
    "hamlet@zulip.com": Role.MEMBER,
    "AARON@zulip.com": Role.MEMBER,
    "polonius@zulip.com": Role.GUEST,
    "desdemona@zulip.com": Role.OWNER,
    "shiva@zulip.com": Role.MODERATOR,
}
API_KEY = re.compile(r"^[A-Za-z0-9]{32}$")
NOT_CURRENT = "zulipd-admin: the database schema is not current; run: zulipd-admin migrate"


@pytest.fixture
def database(postgres_admin_dsn: str, template_database: str) -> Iterator[ScratchDatabase]:
    """A migrated database of this test's own, with nothing in it."""
    with database_from(postgres_admin_dsn, template_database) as database:
        yield database


@pytest.fixture
def populated(database: ScratchDatabase) -> ScratchDatabase:
    """The test's own database after ``zulipd-admin populate-dev``."""
    populate_dev(database)
    return database


@pytest.fixture(scope="module")
def shared_populated(postgres_admin_dsn: str, template_database: str) -> Iterator[ScratchDatabase]:
    """One populated database for the tests that only read, or only fail to change, it."""
    with database_from(postgres_admin_dsn, template_database) as database:
        populate_dev(database)
        yield database


def admin(database: ScratchDatabase, *args: str) -> str:
    """Run a command that must succeed; return its standard output."""
    result = run_admin(*args, env=database.env())
    assert result.returncode == 0, f"zulipd-admin {' '.join(args)} failed ({result.returncode}):\n{result.stderr}"
    assert "Traceback" not in result.stderr, result.stderr
    return result.stdout


def assert_one_line_error(result: Any, expected: str) -> None:
    """Exit status 1, nothing on stdout, one line on stderr, no traceback."""
    assert result.returncode == 1, (result.returncode, result.stdout, result.stderr)
    assert "Traceback" not in result.stderr, result.stderr
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("zulipd-admin: "), lines[0]
    assert expected in lines[0], lines[0]


def users(database: ScratchDatabase) -> dict[str, dict[str, Any]]:
    """Every user row by delivery_email."""
    rows = database.query(
        "SELECT delivery_email, id, email, full_name, role, is_active, is_bot, bot_owner_id, api_key, password_hash,"
        " realm_id FROM user_profile ORDER BY id"
    )
    names = ["delivery_email", "id", "email", "full_name", "role", "is_active", "is_bot", "bot_owner_id", "api_key",
             "password_hash", "realm_id"]  # fmt: skip
    return {row[0]: dict(zip(names, row, strict=True)) for row in rows}


def audit_log(database: ScratchDatabase, user_id: int) -> list[tuple[str, int | None, dict[str, Any]]]:
    rows = database.query(
        "SELECT event_type, acting_user_id, extra_data FROM realm_audit_log WHERE modified_user_id = %s ORDER BY id",
        (user_id,),
    )
    return [(row[0], row[1], row[2]) for row in rows]


def default_channels(database: ScratchDatabase) -> list[int]:
    return [row[0] for row in database.query("SELECT stream_id FROM default_stream", ())]


def insert_bot(database: ScratchDatabase, owner_email: str, short_name: str) -> int:
    owner = users(database)[owner_email]
    rows = database.query(
        """INSERT INTO user_profile (realm_id, email, delivery_email, full_name, role, api_key, is_bot, bot_type,
                                     bot_owner_id)
           VALUES (%s, %s, %s, %s, 400, %s, true, 1, %s) RETURNING id""",
        (
            owner["realm_id"],
            f"{short_name}-bot@127.0.0.1",
            f"{short_name}-bot@127.0.0.1",
            f"{short_name} bot",
            (short_name + "K" * 32)[:32],
            owner["id"],
        ),
    )
    return int(rows[0][0])


# --- populate-dev ---------------------------------------------------------


def test_populate_dev_creates_the_dev_organization_and_users_with_their_roles(database: ScratchDatabase) -> None:
    output = admin(database, "populate-dev").splitlines()
    assert output[0] == "organization 'zulip' at http://127.0.0.1:9991"
    printed = dict(line.split("\t") for line in output[1:])
    assert list(printed) == list(DEV_ROLES)
    realms = database.query("SELECT id, string_id, name, deactivated FROM realm")
    assert [(string_id, name, deactivated) for _, string_id, name, deactivated in realms] == [
        ("zulip", "Zulip Dev", False)
    ]
    stored = users(database)
    assert set(stored) == set(DEV_ROLES)
    for email, role in DEV_ROLES.items():
        user = stored[email]
        assert user["role"] == role, email
        assert user["api_key"] == printed[email], email
        assert API_KEY.match(printed[email]), email
        assert user["is_active"], email
        assert not user["is_bot"], email
        assert user["realm_id"] == realms[0][0]
        # Without --password nobody can log in with one.
        assert user["password_hash"] is None, email
    assert len(set(printed.values())) == len(printed)


def test_populate_dev_twice_changes_nothing(database: ScratchDatabase) -> None:
    first = json.loads(admin(database, "populate-dev", "--json"))
    before = users(database)
    audit_rows = database.query("SELECT count(*) FROM realm_audit_log")[0][0]
    second = admin(database, "populate-dev").splitlines()
    assert dict(line.split("\t") for line in second[1:]) == first
    assert users(database) == before
    assert database.query("SELECT count(*) FROM realm") == [(1,)]
    assert database.query("SELECT count(*) FROM realm_audit_log")[0][0] == audit_rows


def test_populate_dev_json_prints_one_object_of_email_to_key(database: ScratchDatabase) -> None:
    output = admin(database, "populate-dev", "--json")
    assert len(output.splitlines()) == 1
    keys = json.loads(output)
    assert isinstance(keys, dict)
    assert list(keys) == list(DEV_ROLES)
    assert keys == {email: user["api_key"] for email, user in users(database).items()}


def test_populate_dev_password_sets_every_password(database: ScratchDatabase) -> None:
    first = json.loads(admin(database, "populate-dev", "--json", "--password", "first-secret"))
    for email, user in users(database).items():
        assert check_password_blocking("first-secret", user["password_hash"]), email
        assert not check_password_blocking("wrong-secret", user["password_hash"]), email
    # Running it again with another password changes the passwords and nothing else.
    second = json.loads(admin(database, "populate-dev", "--json", "--password", "second-secret"))
    assert second == first
    for email, user in users(database).items():
        assert check_password_blocking("second-secret", user["password_hash"]), email
        assert not check_password_blocking("first-secret", user["password_hash"]), email


# --- organizations ----------------------------------------------------------


def test_create_realm_and_list_realms(populated: ScratchDatabase) -> None:
    output = admin(populated, "create-realm", "lear", "Lear & Daughters")
    match = re.fullmatch(r"created organization 'lear' \(id (\d+)\) at http://lear\.127\.0\.0\.1:9991\n", output)
    assert match, output
    rows = populated.query("SELECT id, name, deactivated FROM realm WHERE string_id = 'lear'")
    assert rows == [(int(match.group(1)), "Lear & Daughters", False)]
    (zulip_id,) = populated.query("SELECT id FROM realm WHERE string_id = 'zulip'")[0]
    listed = admin(populated, "list-realms").splitlines()
    assert listed == [
        f"{zulip_id}\tzulip\tZulip Dev\tactive\thttp://127.0.0.1:9991",
        f"{match.group(1)}\tlear\tLear & Daughters\tactive\thttp://lear.127.0.0.1:9991",
    ]
    audit = populated.query(
        "SELECT event_type, acting_user_id, modified_user_id FROM realm_audit_log WHERE realm_id = %s",
        (int(match.group(1)),),
    )
    assert audit == [("realm_created", None, None)]


# --- users ------------------------------------------------------------------


def test_create_user_with_a_role_and_a_password_file(populated: ScratchDatabase, tmp_path: Path) -> None:
    password_file = tmp_path / "password"
    password_file.write_text("moderate-secret\n")
    output = admin(
        populated,
        "create-user",
        "--realm",
        "zulip",
        "--email",
        "lear@zulip.com",
        "--full-name",
        "King Lear",
        "--role",
        "moderator",
        "--password-file",
        str(password_file),
    )
    match = re.fullmatch(r"created lear@zulip\.com \(id (\d+), moderator\); API key: ([A-Za-z0-9]{32})\n", output)
    assert match, output
    user = users(populated)["lear@zulip.com"]
    assert user["id"] == int(match.group(1))
    assert user["api_key"] == match.group(2)
    assert user["role"] == Role.MODERATOR
    assert user["full_name"] == "King Lear"
    assert user["is_active"]
    # The file's trailing newline is not part of the password.
    assert check_password_blocking("moderate-secret", user["password_hash"])
    assert not check_password_blocking("moderate-secret\n", user["password_hash"])


def test_create_user_defaults_to_a_member_without_a_password(populated: ScratchDatabase) -> None:
    output = admin(populated, "create-user", "--realm", "zulip", "--email", "edgar@zulip.com", "--full-name", "Edgar")
    assert output.startswith("created edgar@zulip.com (id ")
    assert ", member); API key: " in output
    user = users(populated)["edgar@zulip.com"]
    assert user["role"] == Role.MEMBER
    assert user["password_hash"] is None


def test_change_user_role(populated: ScratchDatabase) -> None:
    assert admin(populated, "change-user-role", "--realm", "zulip", "hamlet@zulip.com", "admin") == (
        "hamlet@zulip.com is now admin\n"
    )
    assert users(populated)["hamlet@zulip.com"]["role"] == Role.ADMINISTRATOR
    assert "hamlet@zulip.com\tKing Hamlet\tadmin" in admin(populated, "show-admins", "--realm", "zulip").splitlines()
    admin(populated, "change-user-role", "--realm", "zulip", "hamlet@zulip.com", "guest")
    assert users(populated)["hamlet@zulip.com"]["role"] == Role.GUEST
    assert "hamlet@zulip.com" not in admin(populated, "show-admins", "--realm", "zulip")


def test_deactivate_user_also_deactivates_its_bots_and_reactivate_user_brings_it_back(
    populated: ScratchDatabase,
) -> None:
    bot_id = insert_bot(populated, "hamlet@zulip.com", "yorick")
    other_bot_id = insert_bot(populated, "iago@zulip.com", "iagos")
    output = admin(populated, "deactivate-user", "--realm", "zulip", "hamlet@zulip.com")
    assert output == "deactivated hamlet@zulip.com and the bots it owns\n"
    stored = users(populated)
    assert not stored["hamlet@zulip.com"]["is_active"]
    by_id = {user["id"]: user for user in stored.values()}
    assert not by_id[bot_id]["is_active"]
    assert by_id[other_bot_id]["is_active"]
    assert all(
        user["is_active"] for email, user in stored.items() if email in DEV_ROLES and email != "hamlet@zulip.com"
    )
    assert audit_log(populated, bot_id)[-1][:2] == ("user_deactivated", None)
    assert audit_log(populated, bot_id)[-1][2]["because_owner_deactivated"] == stored["hamlet@zulip.com"]["id"]

    assert admin(populated, "reactivate-user", "--realm", "zulip", "hamlet@zulip.com") == (
        "reactivated hamlet@zulip.com\n"
    )
    assert users(populated)["hamlet@zulip.com"]["is_active"]


def test_regenerate_api_key_prints_a_new_key(populated: ScratchDatabase) -> None:
    old = users(populated)["hamlet@zulip.com"]["api_key"]
    output = admin(populated, "regenerate-api-key", "--realm", "zulip", "hamlet@zulip.com")
    assert output.endswith("\n")
    new = output.strip()
    assert API_KEY.match(new), output
    assert new != old
    assert users(populated)["hamlet@zulip.com"]["api_key"] == new


def test_show_admins_lists_active_owners_and_administrators(populated: ScratchDatabase) -> None:
    listed = admin(populated, "show-admins", "--realm", "zulip").splitlines()
    assert sorted(listed) == ["desdemona@zulip.com\tDesdemona\towner", "iago@zulip.com\tIago\tadmin"]
    admin(populated, "deactivate-user", "--realm", "zulip", "iago@zulip.com")
    assert admin(populated, "show-admins", "--realm", "zulip").splitlines() == ["desdemona@zulip.com\tDesdemona\towner"]


def test_reset_authentication_attempt_count_reports_what_it_did(populated: ScratchDatabase) -> None:
    assert admin(populated, "reset-authentication-attempt-count", "hamlet@zulip.com") == (
        "reset the failed login count of hamlet@zulip.com\n"
    )


# Clearing trips a txredisapi DeprecationWarning in zulipd (see test_ratelimit.py); not what this tests.
@pytest.mark.filterwarnings(r"ignore:Passing \*args to redis.delete is deprecated:DeprecationWarning")
@async_test
async def test_reset_authentication_attempt_count_clears_the_count_in_redis(
    populated: ScratchDatabase, redis_url: str
) -> None:
    """With [redis] url set, the command clears the shared count itself (no daemon needed)."""
    redis = await connect_redis(redis_url, 5)
    # A username of this test's own: the command uses zulipd's default key prefix.
    username = f"reset-{uuid.uuid4().hex}@zulip.com"
    rules = RateLimitRules(api_by_user=(), api_by_ip=(), authenticate_by_username=((1800.0, 5),))
    limits = RateLimits(RedisRateLimits(redis, reactor), rules, reactor)
    try:
        for _ in range(5):
            await limits.record_failed_authentication(username)
        with pytest.raises(RateLimited):
            await limits.check_authentication_attempts(username)
        result = await threads.deferToThread(
            run_admin,
            "reset-authentication-attempt-count",
            username.upper(),
            env={**populated.env(), "ZULIPD_REDIS_URL": redis_url},
        )
        assert result.returncode == 0, result.stderr
        assert "Traceback" not in result.stderr
        await limits.check_authentication_attempts(username)
    finally:
        await limits.clear_authentication_attempts(username)
        await redis.disconnect()


def test_admin_changes_are_audited_with_no_acting_user(populated: ScratchDatabase, tmp_path: Path) -> None:
    password_file = tmp_path / "password"
    password_file.write_text("audited-secret")
    admin(populated, "create-user", "--realm", "zulip", "--email", "kent@zulip.com", "--full-name", "Kent",
          "--password-file", str(password_file))  # fmt: skip
    admin(populated, "change-user-role", "--realm", "zulip", "kent@zulip.com", "moderator")
    admin(populated, "regenerate-api-key", "--realm", "zulip", "kent@zulip.com")
    admin(populated, "deactivate-user", "--realm", "zulip", "kent@zulip.com")
    admin(populated, "reactivate-user", "--realm", "zulip", "kent@zulip.com")
    all_rows = audit_log(populated, users(populated)["kent@zulip.com"]["id"])
    # Joining the organization's default channels is logged too, and also as nobody's act.
    joined = [(event, acting) for event, acting, _ in all_rows if event.startswith("subscription_")]
    assert joined == [("subscription_created", None)] * len(default_channels(populated)), joined
    rows = [row for row in all_rows if not row[0].startswith("subscription_")]
    assert [(event, acting) for event, acting, _ in rows] == [
        ("user_created", None),
        ("user_role_changed", None),
        ("user_api_key_changed", None),
        ("user_deactivated", None),
        ("user_reactivated", None),
    ]
    assert rows[1][2] == {"old_value": int(Role.MEMBER), "new_value": int(Role.MODERATOR)}
    # The key is a secret: it stays out of the log.
    key = users(populated)["kent@zulip.com"]["api_key"]
    assert key not in json.dumps([extra for _, _, extra in rows])


# --- errors -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        pytest.param(
            ["create-user", "--realm", "nowhere", "--email", "x@zulip.com", "--full-name", "X"],
            "no organization with the subdomain 'nowhere'",
            id="create-user-unknown-realm",
        ),
        pytest.param(["show-admins", "--realm", "nowhere"], "no organization with the subdomain", id="show-admins"),
        pytest.param(
            ["deactivate-user", "--realm", "nowhere", "hamlet@zulip.com"],
            "no organization with the subdomain",
            id="deactivate-unknown-realm",
        ),
        pytest.param(["deactivate-user", "--realm", "zulip", "nobody@zulip.com"], "No such user", id="deactivate"),
        pytest.param(["reactivate-user", "--realm", "zulip", "nobody@zulip.com"], "No such user", id="reactivate"),
        pytest.param(["regenerate-api-key", "--realm", "zulip", "nobody@zulip.com"], "No such user", id="regenerate"),
        pytest.param(
            ["change-user-role", "--realm", "zulip", "nobody@zulip.com", "admin"], "No such user", id="change-role"
        ),
        pytest.param(
            ["create-user", "--realm", "zulip", "--email", "hamlet@zulip.com", "--full-name", "Another Hamlet"],
            "Email 'hamlet@zulip.com' already in use",
            id="duplicate-email",
        ),
        pytest.param(
            ["create-user", "--realm", "zulip", "--email", "HAMLET@Zulip.com", "--full-name", "Another Hamlet"],
            "already in use",
            id="duplicate-email-other-case",
        ),
        pytest.param(["create-realm", "zulip", "Again"], "already exists", id="duplicate-realm"),
        pytest.param(
            ["reactivate-user", "--realm", "zulip", "hamlet@zulip.com"], "already active", id="reactivate-active"
        ),
        pytest.param(
            ["deactivate-user", "--realm", "zulip", "desdemona@zulip.com"],
            "Cannot deactivate the only organization owner",
            id="last-owner",
        ),
    ],
)
def test_errors_are_one_line_with_exit_status_1(
    shared_populated: ScratchDatabase, args: list[str], expected: str
) -> None:
    before = users(shared_populated)
    assert_one_line_error(run_admin(*args, env=shared_populated.env()), expected)
    assert users(shared_populated) == before


def test_an_unreadable_password_file_is_a_one_line_error(shared_populated: ScratchDatabase, tmp_path: Path) -> None:
    missing = tmp_path / "no-such-file"
    result = run_admin(
        "create-user", "--realm", "zulip", "--email", "x@zulip.com", "--full-name", "X",
        "--password-file", str(missing), env=shared_populated.env(),
    )  # fmt: skip
    assert_one_line_error(result, str(missing))


def test_commands_refuse_an_empty_database_until_it_is_migrated(postgres_admin_dsn: str) -> None:
    with database_from(postgres_admin_dsn, None) as empty:
        for args in (["list-realms"], ["populate-dev"], ["create-realm", "lear", "Lear"],
                     ["reset-authentication-attempt-count", "hamlet@zulip.com"]):  # fmt: skip
            result = run_admin(*args, env=empty.env())
            assert result.returncode == 1, (args, result.stderr)
            assert result.stderr.splitlines() == [NOT_CURRENT], args
            assert result.stdout == ""
        # Nothing was created by the refused commands.
        assert empty.query("SELECT to_regclass('realm') IS NULL") == [(True,)]
        assert run_admin("migrate", env=empty.env()).returncode == 0
        assert admin(empty, "list-realms") == ""


def test_commands_refuse_a_database_one_migration_behind(database: ScratchDatabase) -> None:
    database.execute("DELETE FROM schema_version WHERE version = (SELECT max(version) FROM schema_version)")
    for args in (["list-realms"], ["populate-dev"], ["show-admins", "--realm", "zulip"]):
        result = run_admin(*args, env=database.env())
        assert result.returncode == 1, (args, result.stderr)
        assert result.stderr.splitlines() == [NOT_CURRENT], args
    assert database.query("SELECT count(*) FROM user_profile") == [(0,)]


# --- reaching a running daemon ---------------------------------------------

PASSWORD = "daemon-secret"
HAMLET = "hamlet@zulip.com"


def fetch_api_key(base_url: str, username: str, password: str) -> tuple[int, dict[str, Any]]:
    result = http("POST", base_url + "/api/v1/fetch_api_key", {"username": username, "password": password})
    return result.status, result.body


@pytest.mark.e2e
def test_reset_authentication_attempt_count_reaches_a_running_daemon(database: ScratchDatabase) -> None:
    with daemon_on(database) as daemon:
        keys = populate_dev(database, PASSWORD)
        base_url = daemon.base_url
        for _ in range(5):
            status, body = fetch_api_key(base_url, HAMLET, "wrong-password")
            assert (status, body["code"]) == (401, "AUTHENTICATION_FAILED"), body
        status, body = fetch_api_key(base_url, HAMLET, PASSWORD)
        assert status == 429, body
        assert body["code"] == "RATE_LIMIT_HIT"
        # Other usernames are not limited.
        assert fetch_api_key(base_url, "iago@zulip.com", PASSWORD)[0] == 200

        assert admin(database, "reset-authentication-attempt-count", HAMLET).startswith("reset the failed login")
        last: list[tuple[int, dict[str, Any]]] = []

        def logs_in() -> bool:
            last.append(fetch_api_key(base_url, HAMLET, PASSWORD))
            return last[-1][0] == 200

        assert poll(logs_in), f"still refused after the reset: {last[-1]}"
        assert last[-1][1]["api_key"] == keys[HAMLET]
        assert last[-1][1]["email"] == HAMLET


@pytest.mark.e2e
def test_deactivate_and_regenerate_reach_a_running_daemons_key_cache(database: ScratchDatabase) -> None:
    with daemon_on(database) as daemon:
        keys = populate_dev(database)
        me = daemon.base_url + "/api/v1/users/me"
        # This request puts hamlet's key in the daemon's cache.
        first = http("GET", me, headers=basic_auth(HAMLET, keys[HAMLET]))
        assert first.status == 200, first.body
        assert first.body["email"] == HAMLET

        admin(database, "deactivate-user", "--realm", "zulip", HAMLET)
        last: list[Any] = []

        def refused() -> bool:
            last.append(http("GET", me, headers=basic_auth(HAMLET, keys[HAMLET])))
            return bool(last[-1].status == 401)

        assert poll(refused), f"the daemon still accepts the deactivated user's key: {last[-1]}"
        assert last[-1].body["code"] == "UNAUTHORIZED"
        assert last[-1].body["msg"] == "Account is deactivated"
        # Others keep working.
        assert http("GET", me, headers=basic_auth("iago@zulip.com", keys["iago@zulip.com"])).status == 200

        admin(database, "reactivate-user", "--realm", "zulip", HAMLET)
        assert poll(lambda: http("GET", me, headers=basic_auth(HAMLET, keys[HAMLET])).status == 200)

        # A new key replaces the cached old one at once.
        new_key = admin(database, "regenerate-api-key", "--realm", "zulip", HAMLET).strip()
        assert poll(lambda: http("GET", me, headers=basic_auth(HAMLET, keys[HAMLET])).status == 401)
        assert http("GET", me, headers=basic_auth(HAMLET, keys[HAMLET])).body["msg"] == "Invalid API key"
        assert http("GET", me, headers=basic_auth(HAMLET, new_key)).status == 200
