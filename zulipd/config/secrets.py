"""The secrets file: generated on first start, readable by its owner only.

It is an INI file with one ``[secrets]`` section. A key that a newer zulipd
needs and the file lacks is generated and added; existing values are kept.
"""

from __future__ import annotations

import configparser
import dataclasses
import io
import os
import secrets
import stat

from twisted.logger import Logger

from zulipd.config.load import ConfigError
from zulipd.config.schema import Config

log = Logger()

SECRETS_FILE_NAME = "zulipd-secrets.conf"


@dataclasses.dataclass(frozen=True)
class Secrets:
    # A server-wide secret for signing; nothing uses it yet (sessions are random keys stored hashed).
    secret_key: str


def _generate() -> str:
    return secrets.token_hex(32)


def secrets_path(config: Config) -> str:
    return config.secrets.file or os.path.join(config.state.dir, SECRETS_FILE_NAME)


def load_or_create_secrets(config: Config) -> Secrets:
    path = secrets_path(config)
    parser = configparser.ConfigParser(interpolation=None)
    existed = os.path.exists(path)
    if existed:
        try:
            with open(path, encoding="utf-8") as secrets_file:
                parser.read_file(secrets_file, source=path)
        except (OSError, UnicodeDecodeError, configparser.Error) as error:
            reason = str(error).splitlines()[0]
            raise ConfigError(f"{path}: cannot read the secrets file: {reason}") from None
        mode = stat.S_IMODE(os.stat(path).st_mode)
        if mode & 0o077:
            log.warn(
                "The secrets file {path} has mode {mode:o}; others can read it. Run: chmod 600 {path}",
                path=path,
                mode=mode,
            )
    if not parser.has_section("secrets"):
        parser.add_section("secrets")
    missing = [
        field.name for field in dataclasses.fields(Secrets) if not parser.get("secrets", field.name, fallback="")
    ]
    for name in missing:
        parser.set("secrets", name, _generate())
    if missing:
        _write_private(path, parser)
        if existed:
            log.info("Added {keys} to the secrets file {path}", keys=", ".join(missing), path=path)
        else:
            log.info("Generated the secrets file {path}", path=path)
    return Secrets(**{field.name: parser.get("secrets", field.name) for field in dataclasses.fields(Secrets)})


def _write_private(path: str, parser: configparser.ConfigParser) -> None:
    """Write atomically, never letting the file exist with a wider mode than 0600."""
    text = io.StringIO()
    parser.write(text)
    directory = os.path.dirname(path) or "."
    try:
        os.makedirs(directory, exist_ok=True)
        temporary = f"{path}.tmp-{os.getpid()}"
        descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "w", encoding="utf-8") as secrets_file:
            secrets_file.write(text.getvalue())
            secrets_file.flush()
            os.fsync(secrets_file.fileno())
        os.replace(temporary, path)
    except OSError as error:
        raise ConfigError(f"{path}: cannot write the secrets file: {error.strerror}") from None
