"""zulipd-admin, run as the operator runs it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import psycopg2

from tests.support import postgres as pg
from zulipd.config.example import render_example
from zulipd.storage.migrations import load_migrations

ADMIN = os.path.join(os.path.dirname(sys.executable), "zulipd-admin")


def run_admin(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([ADMIN, *args], capture_output=True, text=True, timeout=60, env={**os.environ, **(env or {})})


def test_generate_config_prints_the_example_from_the_schema() -> None:
    result = run_admin("generate-config")
    assert result.returncode == 0
    assert result.stdout == render_example()


def test_check_config_reports_one_line_and_the_exit_status(tmp_path: Path) -> None:
    good = tmp_path / "good.conf"
    good.write_text("[database]\npool_size = 4\n")
    result = run_admin("check-config", "-c", str(good))
    assert result.returncode == 0
    assert "the configuration is valid" in result.stdout
    bad = tmp_path / "bad.conf"
    bad.write_text("[database]\npool_size = four\n")
    result = run_admin("check-config", "-c", str(bad))
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        f"zulipd-admin: {bad}: [database] pool_size: expected an integer from 1 to 200, got 'four'"
    ]


def test_migrate_applies_everything_to_an_empty_database_then_nothing(postgres_admin_dsn: str) -> None:
    name = f"zulipd_test_admin_{os.getpid()}"
    with pg.admin_connection(postgres_admin_dsn) as connection, connection.cursor() as cursor:
        cursor.execute(f'DROP DATABASE IF EXISTS "{name}"')
        cursor.execute(f'CREATE DATABASE "{name}"')
    try:
        env = {"ZULIPD_DATABASE_URL": pg.as_url(pg.with_database(postgres_admin_dsn, name))}
        first = run_admin("migrate", env=env)
        assert first.returncode == 0, first.stderr
        expected = [f"applied {m.version:04d}_{m.name}" for m in load_migrations()]
        assert first.stdout.splitlines() == (expected or ["the database schema is up to date"])
        second = run_admin("migrate", env=env)
        assert second.returncode == 0, second.stderr
        assert second.stdout.splitlines() == ["the database schema is up to date"]
        connection = psycopg2.connect(pg.with_database(postgres_admin_dsn, name))
        try:
            with connection.cursor() as cursor:
                cursor.execute("SELECT count(*) FROM schema_version")
                row = cursor.fetchone()
                assert row is not None
                assert row[0] == len(load_migrations())
        finally:
            connection.close()
    finally:
        pg.drop_database(postgres_admin_dsn, name)


def test_migrate_against_an_unreachable_database_fails_in_one_line(tmp_path: Path) -> None:
    env = {
        "ZULIPD_DATABASE_URL": "postgresql://nobody@127.0.0.1:1/none?connect_timeout=1",
        "ZULIPD_DATABASE_CONNECT_TIMEOUT": "1",
    }
    result = run_admin("migrate", env=env)
    assert result.returncode == 1
    lines = [line for line in result.stderr.splitlines() if line.startswith("zulipd-admin:")]
    assert len(lines) == 1
    assert "cannot connect to the database" in lines[0]
    assert "Traceback" not in result.stderr
