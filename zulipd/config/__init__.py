"""zulipd's configuration: one typed schema, an INI file, environment overrides and secrets."""

from zulipd.config.load import ConfigError, load_config
from zulipd.config.schema import Config

__all__ = ["Config", "ConfigError", "load_config"]
