"""The configuration schema, loading, environment overrides, errors and the example file."""

from __future__ import annotations

import dataclasses
import ipaddress
import os
import stat
from pathlib import Path

import pytest

from zulipd.config import ConfigError, load_config
from zulipd.config.example import render_example
from zulipd.config.secrets import load_or_create_secrets, secrets_path

REPOSITORY = Path(__file__).resolve().parent.parent


def write(tmp_path: Path, text: str) -> str:
    path = tmp_path / "zulipd.conf"
    path.write_text(text)
    return str(path)


def load_error(path: str | None, environ: dict[str, str] | None = None) -> str:
    with pytest.raises(ConfigError) as caught:
        load_config(path, environ or {})
    message = str(caught.value)
    assert "\n" not in message
    return message


def test_defaults(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)  # no ./zulipd.conf here
    config = load_config(None, {})
    assert config.source is None
    assert config.server.listen == ("tcp:9991:interface=127.0.0.1",)
    assert config.state.dir == str(tmp_path / "var")
    assert config.database.url == ""
    assert config.database.pool_size == 8
    assert config.loadbalancer.ips == ()


def test_the_file_sets_typed_values(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "[server]\n"
        "listen = tcp:8001:interface=127.0.0.1\n    tcp:8002:interface=\\:\\:1\n"
        "drain_timeout = 2.5\n"
        "[state]\ndir = /srv/zulipd\n"
        "[database]\nurl = postgresql://zulipd:secret@db.example.com:6432/chat?sslmode=verify-full\n"
        "pool_size = 20\n"
        "[loadbalancer]\nips = 10.0.0.0/8, 192.0.2.7 2001:db8::/32\n",
    )
    config = load_config(path, {})
    assert config.source == path
    assert config.server.listen == ("tcp:8001:interface=127.0.0.1", "tcp:8002:interface=\\:\\:1")
    assert config.server.drain_timeout == 2.5
    assert config.state.dir == "/srv/zulipd"
    assert config.database.url.endswith("/chat?sslmode=verify-full")
    assert config.database.pool_size == 20
    assert config.loadbalancer.ips == (
        ipaddress.ip_network("10.0.0.0/8"),
        ipaddress.ip_network("192.0.2.7/32"),
        ipaddress.ip_network("2001:db8::/32"),
    )


def test_relative_paths_are_relative_to_the_start_directory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    config = load_config(write(tmp_path, "[state]\ndir = data/here\n[secrets]\nfile = s.conf\n"), {})
    assert config.state.dir == str(tmp_path / "data" / "here")
    assert config.secrets.file == str(tmp_path / "s.conf")


def test_environment_overrides_the_file(tmp_path: Path) -> None:
    path = write(tmp_path, "[database]\npool_size = 3\n[state]\ndir = /from/file\n")
    environ = {"ZULIPD_DATABASE_POOL_SIZE": "5", "ZULIPD_STATE_DIR": "/from/env", "ZULIPD_TEST_OTHER": "x"}
    config = load_config(path, environ)
    assert config.database.pool_size == 5
    assert config.state.dir == "/from/env"


def test_the_default_file_is_read_from_the_start_directory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write(tmp_path, "[database]\npool_size = 4\n")
    monkeypatch.chdir(tmp_path)
    config = load_config(None, {})
    assert config.database.pool_size == 4
    assert config.source == str(tmp_path / "zulipd.conf")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("[database]\npool_size = lots\n", "[database] pool_size: expected an integer from 1 to 200, got 'lots'"),
        ("[database]\npool_size = 0\n", "[database] pool_size: expected an integer from 1 to 200, got 0"),
        ("[database]\nurl = mysql://x/y\n", "[database] url: expected a postgresql:// URL, got scheme 'mysql'"),
        ("[database]\nurl = postgresql://h/d?sslmode=sometimes\n", "[database] url: sslmode must be one of"),
        ("[database]\npol_size = 3\n", "[database] pol_size: unknown key (known keys: url, pool_size,"),
        ("[databse]\nurl =\n", "[databse]: unknown section (known sections: server, state,"),
        ("[server]\ndrain_timeout = nan\n", "[server] drain_timeout: expected a number of seconds from 0 to 300"),
        ("[server]\nlisten = tcp:notaport\n", "[server] listen: bad endpoint 'tcp:notaport'"),
        ("[server]\nlisten = gopher:70\n", "[server] listen: bad endpoint 'gopher:70'"),
        ("[server]\nlisten =\n", "[server] listen: at least one endpoint is required"),
        ("[state]\ndir =\n", "[state] dir: must not be empty"),
        ("[loadbalancer]\nips = 10.0.0.0/8, nonsense\n", "[loadbalancer] ips: 'nonsense' is not an IP network"),
        ("pool_size = 3\n", "line 1: a key appears before any [section] header"),
        ("[database]\npool_size = 3\npool_size = 4\n", "line 3: [database] pool_size: the key appears twice"),
        ("[database]\n[database]\n", "line 2: [database]: the section appears twice"),
        ("[database]\njust words\n", "line 2: cannot parse 'just words' (expected key = value)"),
    ],
)
def test_a_bad_file_gives_one_line_naming_file_section_and_key(tmp_path: Path, text: str, expected: str) -> None:
    path = write(tmp_path, text)
    message = load_error(path)
    assert message.startswith(f"{path}: ")
    assert expected in message


def test_a_bad_environment_value_names_the_variable_and_key(tmp_path: Path) -> None:
    message = load_error(write(tmp_path, ""), {"ZULIPD_DATABASE_POOL_SIZE": "-1"})
    assert message == (
        "environment variable ZULIPD_DATABASE_POOL_SIZE: [database] pool_size: "
        "expected an integer from 1 to 200, got -1"
    )


def test_a_missing_or_unreadable_file_is_one_line(tmp_path: Path) -> None:
    assert load_error(str(tmp_path / "absent.conf")).endswith("absent.conf: the configuration file does not exist")
    binary = tmp_path / "binary.conf"
    binary.write_bytes(b"\xff\xfe\x00garbage")
    assert "cannot read the configuration file" in load_error(str(binary))


def test_tls_endpoint_with_missing_certificate_is_rejected(tmp_path: Path) -> None:
    missing = tmp_path / "missing.pem"
    message = load_error(write(tmp_path, f"[server]\nlisten = ssl:8443:privateKey={missing}:certKey={missing}\n"))
    assert "[server] listen: bad endpoint 'ssl:8443" in message


def test_the_example_file_is_generated_from_the_schema() -> None:
    committed = (REPOSITORY / "etc" / "zulipd.conf.example").read_text()
    assert committed == render_example(), "run: zulipd-admin generate-config > etc/zulipd.conf.example"


def test_the_example_file_loads_as_the_defaults(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    example = load_config(str(REPOSITORY / "etc" / "zulipd.conf.example"), {})
    defaults = load_config(None, {})
    assert example.server == defaults.server
    assert example.database == defaults.database
    assert example.state == defaults.state
    # Uncommenting every key with its shown default also gives the defaults.
    uncommented = "".join(
        line[1:] + "\n" if (line.startswith("#") and " = " in line) or line.rstrip().endswith(" =") else line + "\n"
        for line in render_example().splitlines()
        if not line.startswith("# ")
    )
    path = write(tmp_path, uncommented)
    assert load_config(path, {}) == dataclasses.replace(defaults, source=path)


def test_secrets_are_generated_private_and_then_kept(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, f"[state]\ndir = {tmp_path / 'state'}\n"), {})
    first = load_or_create_secrets(config)
    path = secrets_path(config)
    assert path == str(tmp_path / "state" / "zulipd-secrets.conf")
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert len(first.secret_key) == 64
    assert load_or_create_secrets(config) == first


def test_a_missing_secret_is_added_and_others_kept(tmp_path: Path) -> None:
    path = tmp_path / "secrets.conf"
    path.write_text("[secrets]\nsomething_else = keep me\n")
    path.chmod(0o600)
    config = load_config(write(tmp_path, f"[secrets]\nfile = {path}\n"), {})
    secrets = load_or_create_secrets(config)
    assert len(secrets.secret_key) == 64
    text = path.read_text()
    assert "something_else = keep me" in text
    assert f"secret_key = {secrets.secret_key}" in text
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_an_unreadable_secrets_file_is_a_config_error(tmp_path: Path) -> None:
    path = tmp_path / "secrets.conf"
    path.write_text("no section here\n")
    config = load_config(write(tmp_path, f"[secrets]\nfile = {path}\n"), {})
    with pytest.raises(ConfigError, match="cannot read the secrets file"):
        load_or_create_secrets(config)


def test_an_unknown_variable_for_a_known_section_is_an_error(tmp_path: Path) -> None:
    message = load_error(write(tmp_path, ""), {"ZULIPD_DATABASE_URI": "postgresql://x/y"})
    assert message.startswith("environment variable ZULIPD_DATABASE_URI: [database] has no such key (known keys: url,")
    # Variables outside the configuration's sections are not ours to judge.
    load_config(write(tmp_path, ""), {"ZULIPD_TEST_DATABASE_URL": "x", "ZULIPD_CONFIGURATION": "y"})


def test_only_equals_separates_key_and_value(tmp_path: Path) -> None:
    message = load_error(write(tmp_path, "[server]\nlisten: tcp:9991\n"))
    assert "line 2: cannot parse 'listen: tcp:9991' (expected key = value)" in message
