"""Emoji names and codes, from the ``emoji`` package's data.

A Unicode emoji's code is its code points in lower-case hex joined by dashes,
without variation selectors, as Zulip writes them (``1f44d``, ``0023-20e3``).
Its names are the package's CLDR name and its aliases (GitHub's and Slack's
short names, such as ``+1``, ``tada`` and ``smile``), lower-cased; the CLDR
name wins where an alias spells the same name as another emoji's CLDR name.

The name a rendered emoji shows (``emoji_name``) is its first alias, else its
CLDR name: the short names are what Zulip's own names mostly are. Zulip keeps
a hand-curated name table of its own, so a few names differ from Zulip's (for
example Zulip calls U+1F642 ``smile`` where the aliases call U+1F604 so).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterator

import emoji

ZULIP_EXTRA_EMOJI_NAMES = frozenset({"zulip"})
_VARIATION_SELECTORS = frozenset("\ufe0e\ufe0f")
# Every emoji has a character at or above U+00A9; text without one has none to look for.
_MAY_HOLD_EMOJI = re.compile("[\u00a9\u00ae\u203c-\U0010ffff]")


def emoji_code(text: str) -> str:
    """Zulip's code for a Unicode emoji: ``1f44d``, ``0023-20e3``, ``1f468-200d-1f4bb``."""
    return "-".join(f"{ord(character):04x}" for character in text if character not in _VARIATION_SELECTORS)


def _bare(name: str) -> str:
    return name.strip(":").lower()


@functools.cache
def unicode_emoji_names() -> dict[str, str]:
    """name -> code. Official names win over aliases when both spell the same name."""
    names: dict[str, str] = {}
    aliases: list[tuple[str, str]] = []
    for text, data in emoji.EMOJI_DATA.items():
        code = emoji_code(text)
        names.setdefault(_bare(data["en"]), code)
        aliases.extend((_bare(alias), code) for alias in data.get("alias", []))
    for name, code in aliases:
        names.setdefault(name, code)
    return names


@functools.cache
def unicode_emoji_codes() -> frozenset[str]:
    return frozenset(unicode_emoji_names().values())


@functools.cache
def _display_names() -> dict[str, str]:
    """code -> the name a rendered emoji shows."""
    names: dict[str, str] = {}
    for text, data in emoji.EMOJI_DATA.items():
        aliases = data.get("alias", [])
        name = _bare(aliases[0] if aliases else data["en"])
        # A name the lookup table gives to another emoji would not round-trip; take the CLDR name.
        if unicode_emoji_names().get(name) is None:
            name = _bare(data["en"])
        names.setdefault(emoji_code(text), name)
    return names


def emoji_name(code: str) -> str | None:
    """The name a rendered Unicode emoji shows, or None for a code that is no emoji."""
    return _display_names().get(code)


def unicode_emoji_in(text: str) -> Iterator[tuple[int, int, str]]:
    """(start, end, code) of each Unicode emoji in the text, in order."""
    if _MAY_HOLD_EMOJI.search(text) is None:
        return
    for found in emoji.emoji_list(text):
        yield found["match_start"], found["match_end"], emoji_code(found["emoji"])
