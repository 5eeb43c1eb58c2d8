"""A real PostgreSQL for the tests, and a fresh database cloned from a migrated template.

Which server: ``ZULIPD_TEST_DATABASE_URL`` if set; else a server on the
standard local port if one answers; else a private cluster started by zulipd's
own embedded manager in a temporary directory.
"""

from __future__ import annotations

import hashlib
import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import quote

import psycopg2
import psycopg2.extensions

from zulipd.storage.migrations import SCHEMA_DIR, load_migrations

TEMPLATE_PREFIX = "zulipd_test_template_"
TEST_DATABASE_PREFIX = "zulipd_test_"
# Serializes template creation across pytest-xdist workers and concurrent runs.
TEMPLATE_LOCK = 7_314_002_099

LOCAL_CANDIDATES = (
    "host=127.0.0.1 port=5432 dbname=postgres connect_timeout=3",
    "host=/var/run/postgresql port=5432 dbname=postgres connect_timeout=3",
    "host=127.0.0.1 port=5432 dbname=postgres user=postgres connect_timeout=3",
)


def answers(dsn: str) -> bool:
    try:
        connection = psycopg2.connect(dsn)
    except psycopg2.Error:
        return False
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT rolcreatedb OR rolsuper FROM pg_roles WHERE rolname = current_user")
            row = cursor.fetchone()
            return bool(row and row[0])
    finally:
        connection.close()


def find_local_server() -> str | None:
    for dsn in LOCAL_CANDIDATES:
        if answers(dsn):
            return dsn
    return None


def with_database(dsn: str, name: str) -> str:
    return psycopg2.extensions.make_dsn(dsn, dbname=name)


def as_url(dsn: str) -> str:
    """A postgresql:// URL for a libpq DSN, as zulipd's [database] url wants."""
    params = psycopg2.extensions.parse_dsn(dsn)
    user = quote(params.get("user", ""), safe="")
    password = params.get("password")
    credentials = f"{user}:{quote(password, safe='')}@" if password else (f"{user}@" if user else "")
    host = params.get("host", "")
    port = params.get("port", "")
    query = {key: value for key, value in params.items() if key not in ("user", "password", "host", "port", "dbname")}
    if host.startswith("/"):
        query["host"] = host
        host = ""
    netloc = f"{credentials}{host}{':' + port if port and host else ''}"
    if port and not host:
        query["port"] = port
    url = f"postgresql://{netloc}/{quote(params.get('dbname', ''), safe='')}"
    if query:
        url += "?" + "&".join(f"{key}={quote(str(value), safe='/')}" for key, value in sorted(query.items()))
    return url


@contextmanager
def admin_connection(dsn: str) -> Iterator[Any]:
    connection = psycopg2.connect(dsn)
    connection.autocommit = True
    try:
        yield connection
    finally:
        connection.close()


def migrations_fingerprint() -> str:
    digest = hashlib.sha256()
    for migration in load_migrations(SCHEMA_DIR):
        digest.update(f"{migration.version}:{migration.name}:{migration.sql}".encode())
    return digest.hexdigest()[:12]


def template_name() -> str:
    return TEMPLATE_PREFIX + migrations_fingerprint()


def create_database(admin_dsn: str, template: str) -> str:
    name = f"{TEST_DATABASE_PREFIX}{os.getpid()}_{uuid.uuid4().hex[:10]}"
    with admin_connection(admin_dsn) as connection, connection.cursor() as cursor:
        cursor.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
    return name


def drop_database(admin_dsn: str, name: str) -> None:
    with admin_connection(admin_dsn) as connection, connection.cursor() as cursor:
        cursor.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
