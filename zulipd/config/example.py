"""Render the example configuration file from the schema."""

from __future__ import annotations

import dataclasses
import textwrap

from zulipd.config.load import env_name
from zulipd.config.schema import SECTIONS
from zulipd.config.types import SettingType

HEADER = """\
# zulipd configuration.
#
# Generated from zulipd's configuration schema by `zulipd-admin generate-config`;
# every key zulipd reads is listed here with its default, commented out.
# Start with `twistd -n zulipd --config /path/to/zulipd.conf`.
#
# Any key can also be set by an environment variable ZULIPD_<SECTION>_<KEY>,
# which wins over this file: [database] url is ZULIPD_DATABASE_URL.
"""


def _comment(text: str) -> list[str]:
    return textwrap.wrap(text, width=86, initial_indent="# ", subsequent_indent="# ")


def render_example() -> str:
    lines = [HEADER]
    for section, section_class in SECTIONS.items():
        lines.append("")
        lines.extend(_comment(section_class.__doc__ or section))
        lines.append(f"[{section}]")
        for field in dataclasses.fields(section_class):
            kind: SettingType = field.metadata["kind"]
            lines.append("")
            lines.extend(_comment(field.metadata["help"]))
            lines.extend(_comment(f"Type: {kind.description}. Environment: {env_name(section, field.name)}."))
            lines.append(f"#{field.name} = {kind.render(field.default)}".rstrip())
    return "\n".join(lines) + "\n"
