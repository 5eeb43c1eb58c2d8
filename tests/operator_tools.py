"""What an operator's tests need: zulipd-admin as a subprocess, a database of the test's own,
a ``twistd -n zulipd`` daemon on it, and a blocking HTTP client.

Used by test_admin_users.py and the official-client end-to-end tests (whose ``live``
fixture, in conftest.py, is built on ``live_zulipd`` here).
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator, Mapping
from contextlib import closing, contextmanager
from dataclasses import dataclass
from typing import Any

import psycopg2
import zulip

from tests.support import postgres as pg
from tests.support.daemon import ZulipdProcess

ADMIN = os.path.join(os.path.dirname(sys.executable), "zulipd-admin")
# bcrypt's lowest cost, so that tests stay fast.
FAST_PASSWORDS = {"ZULIPD_AUTH_PASSWORD_HASH_ROUNDS": "4"}
# Bounds for things that happen asynchronously (a notification reaching a daemon); never assertions about speed.
PROPAGATION_TIMEOUT = 20.0
# The password populate-dev gives every development user in the live daemons.
DEV_PASSWORD = "client-e2e-secret"


@dataclass(frozen=True)
class ScratchDatabase:
    name: str
    dsn: str

    @property
    def url(self) -> str:
        return pg.as_url(self.dsn)

    def env(self) -> dict[str, str]:
        """The environment that points zulipd and zulipd-admin at this database."""
        return {"ZULIPD_DATABASE_URL": self.url, **FAST_PASSWORDS}

    def query(self, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        with closing(psycopg2.connect(self.dsn)) as connection, connection, connection.cursor() as cursor:
            cursor.execute(sql, params)
            return list(cursor.fetchall()) if cursor.description is not None else []

    def execute(self, sql: str, params: tuple[Any, ...] = ()) -> None:
        with closing(psycopg2.connect(self.dsn)) as connection, connection, connection.cursor() as cursor:
            cursor.execute(sql, params)


@contextmanager
def database_from(admin_dsn: str, template: str | None) -> Iterator[ScratchDatabase]:
    """A new database (a clone of ``template``, or empty), dropped afterwards."""
    if template is not None:
        name = pg.create_database(admin_dsn, template)
    else:
        name = f"{pg.TEST_DATABASE_PREFIX}{os.getpid()}_empty_{time.monotonic_ns()}"
        with pg.admin_connection(admin_dsn) as connection, connection.cursor() as cursor:
            cursor.execute(f'CREATE DATABASE "{name}"')
    try:
        yield ScratchDatabase(name, pg.with_database(admin_dsn, name))
    finally:
        pg.drop_database(admin_dsn, name)


def run_admin(
    *args: str, env: Mapping[str, str], cwd: str | None = None, stdin: str | None = None
) -> subprocess.CompletedProcess[str]:
    """``zulipd-admin ARGS`` as an operator runs it, from a directory with no zulipd.conf."""
    with tempfile.TemporaryDirectory(prefix="zulipd-admin-") as empty:
        return subprocess.run(
            [ADMIN, *args],
            capture_output=True,
            text=True,
            timeout=120,
            input=stdin,
            cwd=cwd or empty,
            env={**os.environ, **env},
        )


def populate_dev(database: ScratchDatabase, password: str | None = None) -> dict[str, str]:
    """Run populate-dev --json; return email -> API key."""
    args = ["populate-dev", "--json"] + (["--password", password] if password is not None else [])
    result = run_admin(*args, env=database.env())
    assert result.returncode == 0, result.stderr
    keys: dict[str, str] = json.loads(result.stdout)
    return keys


@contextmanager
def daemon_on(database: ScratchDatabase, env: Mapping[str, str] | None = None) -> Iterator[ZulipdProcess]:
    """``twistd -n zulipd`` on ``database``, listening on a free loopback port, stopped afterwards."""
    workdir = tempfile.mkdtemp(prefix="zulipd-daemon-")
    daemon = ZulipdProcess(workdir, env={**database.env(), **(env or {})})
    daemon.start()
    try:
        daemon.wait_ready()
        yield daemon
    finally:
        daemon.cleanup()


@dataclass
class HttpResult:
    status: int
    body: dict[str, Any]
    headers: dict[str, str]


def basic_auth(email: str, api_key: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{email}:{api_key}".encode()).decode()}


def http(
    method: str,
    url: str,
    form: Mapping[str, str] | None = None,
    headers: Mapping[str, str] | None = None,
) -> HttpResult:
    """One blocking request; ``form`` is sent urlencoded in the body."""
    data = urllib.parse.urlencode(form).encode() if form is not None else None
    request = urllib.request.Request(url, data=data, method=method, headers=dict(headers or {}))
    if data is not None:
        request.add_header("Content-Type", "application/x-www-form-urlencoded")
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return HttpResult(response.status, json.loads(response.read()), dict(response.headers.items()))
    except urllib.error.HTTPError as error:
        with error:
            raw = error.read()
            return HttpResult(error.code, json.loads(raw) if raw else {}, dict(error.headers.items()))


def poll(condition: Callable[[], bool], timeout: float = PROPAGATION_TIMEOUT, interval: float = 0.1) -> bool:
    """Whether ``condition`` became true within ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        if condition():
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(interval)


@dataclass
class LiveZulipd:
    """A running ``twistd -n zulipd`` on a database filled by ``zulipd-admin populate-dev``."""

    base_url: str
    keys: dict[str, str]
    database: ScratchDatabase

    def client(self, email: str, api_key: str | None = None) -> Any:
        """The official client, configured as a user configures it (no zuliprc)."""
        return zulip.Client(email=email, api_key=api_key or self.keys[email], site=self.base_url)

    def create_user(self, admin: Any, short_name: str) -> tuple[int, str, str]:
        """A new member created through the client as ``admin``: (id, email, API key)."""
        email = f"{short_name}@zulip.com"
        result = admin.create_user({"email": email, "password": DEV_PASSWORD, "full_name": short_name.title()})
        assert result["result"] == "success", result
        fetched = http("POST", self.base_url + "/api/v1/fetch_api_key", {"username": email, "password": DEV_PASSWORD})
        assert fetched.status == 200, fetched.body
        return int(result["user_id"]), email, str(fetched.body["api_key"])


@contextmanager
def live_zulipd(admin_dsn: str, template: str) -> Iterator[LiveZulipd]:
    """One daemon on a clone of ``template`` populated with Zulip's development users and channels."""
    with database_from(admin_dsn, template) as database:
        keys = populate_dev(database, DEV_PASSWORD)
        with daemon_on(database) as daemon:
            yield LiveZulipd(daemon.base_url, keys, database)
