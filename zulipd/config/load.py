"""Loading the configuration: defaults, then the INI file, then the environment.

Every problem becomes one ``ConfigError`` whose message is a single line naming
where the value came from (file or environment variable), the section, the key
and what is wrong with it.
"""

from __future__ import annotations

import ast
import configparser
import dataclasses
import os
from collections.abc import Mapping
from typing import Any

from zulipd.config.schema import SECTIONS, Config
from zulipd.config.types import Path, SettingType

DEFAULT_CONFIG_FILE = "zulipd.conf"
ENV_PREFIX = "ZULIPD_"


class ConfigError(Exception):
    """The configuration cannot be used. ``str()`` is one line for the operator."""


def env_name(section: str, key: str) -> str:
    return f"{ENV_PREFIX}{section}_{key}".upper()


def find_config_file(explicit: str | None) -> str | None:
    """The file to read: the one given, else ./zulipd.conf if present, else none."""
    if explicit is not None:
        return explicit
    if os.path.isfile(DEFAULT_CONFIG_FILE):
        return DEFAULT_CONFIG_FILE
    return None


def load_config(path: str | None = None, environ: Mapping[str, str] | None = None) -> Config:
    """Read and validate the whole configuration.

    ``path`` is the file named by ``--config``; ``None`` means ./zulipd.conf if it
    exists, and the defaults otherwise. ``environ`` defaults to ``os.environ``.
    """
    environ = os.environ if environ is None else environ
    path = find_config_file(path)
    raw: dict[tuple[str, str], tuple[str, str]] = {}  # (section, key) -> (text, where)
    if path is not None:
        source = os.path.abspath(path)
        for section, key, text in _read_ini(source):
            raw[(section, key)] = (text, source)
    else:
        source = None
    for section, section_class in SECTIONS.items():
        known = {env_name(section, field.name) for field in dataclasses.fields(section_class)}
        prefix = env_name(section, "")
        for name in environ:
            # A typo such as ZULIPD_DATABASE_URI must not be silently ignored.
            if name.startswith(prefix) and name not in known:
                keys = ", ".join(field.name for field in dataclasses.fields(section_class))
                raise ConfigError(f"environment variable {name}: [{section}] has no such key (known keys: {keys})")
        for field in dataclasses.fields(section_class):
            name = env_name(section, field.name)
            if name in environ:
                raw[(section, field.name)] = (environ[name], f"environment variable {name}")

    values: dict[str, Any] = {}
    for section, section_class in SECTIONS.items():
        settings: dict[str, Any] = {}
        for field in dataclasses.fields(section_class):
            kind: SettingType = field.metadata["kind"]
            value: Any = field.default
            if (section, field.name) in raw:
                text, where = raw[(section, field.name)]
                try:
                    value = kind.parse(text)
                except ValueError as error:
                    raise ConfigError(f"{where}: [{section}] {field.name}: {error}") from None
            if isinstance(kind, Path) and value:
                value = os.path.abspath(value)
            settings[field.name] = value
        values[section] = section_class(**settings)
    return Config(source=source, **values)


def _read_ini(path: str) -> list[tuple[str, str, str]]:
    parser = configparser.ConfigParser(
        interpolation=None,
        strict=True,
        default_section="\x00no default section",
        empty_lines_in_values=False,
        delimiters=("=",),
    )
    try:
        with open(path, encoding="utf-8") as config_file:
            parser.read_file(config_file, source=path)
    except FileNotFoundError:
        raise ConfigError(f"{path}: the configuration file does not exist") from None
    except (OSError, UnicodeDecodeError) as error:
        reason = error.strerror if isinstance(error, OSError) and error.strerror else str(error)
        raise ConfigError(f"{path}: cannot read the configuration file: {reason}") from None
    except configparser.Error as error:
        raise ConfigError(f"{path}: {_describe_parse_error(error)}") from None

    entries = []
    for section in parser.sections():
        section_class = SECTIONS.get(section)
        if section_class is None:
            known = ", ".join(SECTIONS)
            raise ConfigError(f"{path}: [{section}]: unknown section (known sections: {known})")
        known_keys = [field.name for field in dataclasses.fields(section_class)]
        for key, text in parser.items(section):
            if key not in known_keys:
                raise ConfigError(f"{path}: [{section}] {key}: unknown key (known keys: {', '.join(known_keys)})")
            entries.append((section, key, text))
    return entries


def _describe_parse_error(error: configparser.Error) -> str:
    if isinstance(error, configparser.MissingSectionHeaderError):
        return f"line {error.lineno}: a key appears before any [section] header"
    if isinstance(error, configparser.DuplicateSectionError):
        return f"line {error.lineno}: [{error.section}]: the section appears twice"
    if isinstance(error, configparser.DuplicateOptionError):
        return f"line {error.lineno}: [{error.section}] {error.option}: the key appears twice"
    if isinstance(error, configparser.ParsingError):
        lineno, text = error.errors[0]
        try:
            text = ast.literal_eval(text)  # configparser gives the line's repr()
        except (ValueError, SyntaxError):
            pass
        return f"line {lineno}: cannot parse {str(text).strip()!r} (expected key = value)"
    return str(error).splitlines()[0]
