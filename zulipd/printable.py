"""Zulip's rule for the text of names and topics: no control characters, surrogates or noncharacters."""

from __future__ import annotations

import unicodedata

_NONCHARACTERS = frozenset(
    [chr(code) for code in range(0xFDD0, 0xFDF0)]
    + [chr(plane + 0xFFFE) for plane in range(0, 0x110000, 0x10000)]
    + [chr(plane + 0xFFFF) for plane in range(0, 0x110000, 0x10000)]
)


def unprintable_position(text: str) -> int | None:
    """The 1-based position of the first character Zulip refuses in ``text``, or None."""
    for position, character in enumerate(text, start=1):
        if unicodedata.category(character) in ("Cc", "Cs") or character in _NONCHARACTERS:
            return position
    return None
