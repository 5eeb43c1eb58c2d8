"""Pathological Markdown stays bounded: it renders, the HTML is well-formed, shallow and not much longer.

Each input is built to stress one part of the renderer: deep nesting of quotes,
lists, links and emphasis, long runs of the characters that open inline syntax
(backticks, tildes, dollars, colons, mentions), huge tables, long lines and one
enormous word. zulipd caps message content at 10,000 characters; many inputs go
well beyond that, since the renderer must not rely on the cap.

Nothing here measures time: ``bench/render.py`` renders these same inputs and
prints how long each one takes. The checks read the output with their own
``html.parser`` (the helpers of ``tests.test_render_safety``).
"""

from __future__ import annotations

import pytest

from tests.test_render_safety import assert_allowlisted, assert_safe, read
from zulipd.render import render_message
from zulipd.render.allowlist import MAX_DEPTH
from zulipd.render.context import (
    CustomEmoji,
    LinkableStream,
    MentionableGroup,
    MentionableUser,
    RenderContext,
)
from zulipd.render.linkifiers import Linkifier

MESSAGE_LIMIT = 10_000

_USERS = [MentionableUser(10 + index, name) for index, name in enumerate(["Iago", "Othello, the Moor", "a"])]
CONTEXT = RenderContext(
    realm_url="https://chat.example.com",
    users_by_name={user.full_name.lower(): [user] for user in _USERS},
    users_by_id={user.id: user for user in _USERS},
    groups_by_name={"a": MentionableGroup(3, "a"), "support": MentionableGroup(4, "support")},
    streams_by_name={"a": LinkableStream(5, "a"), "general": LinkableStream(6, "general")},
    custom_emoji={"a": CustomEmoji(7, "a", "/user_avatars/2/emoji/images/7.png")},
    linkifiers=(Linkifier(1, r"#(?P<id>[0-9]+)", "https://github.com/zulip/zulip/issues/{id}"),),
)


def _table(rows: int, columns: int) -> str:
    header = "|" + "|".join(f"h{column}" for column in range(columns)) + "|\n"
    separator = "|" + "|".join("-" for _ in range(columns)) + "|\n"
    body = "".join("|" + "|".join(f"{row % 10}" for _ in range(columns)) + "|\n" for row in range(rows))
    return header + separator + body


def _nested_list(levels: int) -> str:
    return "\n".join("  " * level + f"- level {level}" for level in range(levels))


def _nested_links(depth: int) -> str:
    return "[" * depth + "x" + "](http://a.example)" * depth


# name -> content. bench/render.py times each of these too.
PATHOLOGICAL: dict[str, str] = {
    # Nesting.
    "quote x5000": ">" * 5000 + " deep",
    "quote '> ' x5000": "> " * 5000 + "deep",
    "quote lines, one deeper each x140": "\n".join(">" * depth + " line" for depth in range(1, 141)),
    "list by indentation, 95 levels": _nested_list(95),
    "list by indentation, 2000 levels": _nested_list(2000),
    "list '- ' x5000": "- " * 5000 + "x",
    "ordered list '1. ' x3000": "1. " * 3000 + "x",
    "[ x3000": "[" * 3000,
    "nested links x800": _nested_links(800),
    "nested links x3000": _nested_links(3000),
    "![ x3000": "![" * 3000,
    "fenced quote in quote x100": "```quote\n" * 100 + "deep",
    "fenced quote in quote x1000": "```quote\n" * 1000 + "deep",
    "tilde-fenced quote in quote x200": "~~~quote\n" * 200 + "deep",
    "fenced spoiler in spoiler x1000": "```spoiler header\n" * 1000 + "deep",
    # Emphasis.
    "* x10000": "*" * 10_000,
    "'* ' x5000": "* " * 5000,
    "'*a' x5000": "*a" * 5000,
    "'a*b*' x2500": "a*b*" * 2500,
    "** x5000": "**" * 5000,
    "'**a ' x5000": "**a " * 5000,
    "_ x10000": "_" * 10_000,
    "'_a' x5000": "_a" * 5000,
    # Code, strikethrough, math.
    "` x10000": "`" * 10_000,
    "'` ' x10000": "` " * 10_000,
    "backtick runs of growing length": " ".join("`" * length for length in range(1, 140)),
    "``` lines x3000": "```\n" * 3000,
    "~ x10000": "~" * 10_000,
    "'~~a' x3333": "~~a" * 3333,
    "~~~ lines x3000": "~~~\n" * 3000,
    "$$ x5000": "$$" * 5000,
    "'$$a' x3333": "$$a" * 3333,
    # Emoji, mentions, channel links, times.
    ": x10000": ":" * 10_000,
    "':a' x5000": ":a" * 5000,
    "':smile:' x1400": ":smile:" * 1400,
    "@** x3000": "@**" * 3000,
    "'@**a' x3000": "@**a" * 3000,
    "'@**Iago** ' x1000": "@**Iago** " * 1000,
    "'@*' x5000": "@*" * 5000,
    "#** x3000": "#**" * 3000,
    "'#**a>' x3000": "#**a>" * 3000,
    "'<time:' x2000": "<time:" * 2000,
    # Linkifiers, URLs, long lines.
    "linkifier matches '#N ' x2000": " ".join(f"#{number}" for number in range(2000)),
    "bare URLs with spaces x400": " ".join(f"https://example.com/a_{number}" for number in range(400)),
    "'http://a' x1250, no spaces": "http://a" * 1250,
    "URL of 10,000 characters": "https://example.com/" + "a" * 10_000,
    "'www.a.com/' x1000": "www.a.com/" * 1000,
    "( x10000": "(" * 10_000,
    "< x10000": "<" * 10_000,
    "& x10000": "&" * 10_000,
    "\\ x10000": "\\" * 10_000,
    "# x10000": "#" * 10_000,
    "'a\\n' x5000": "a\n" * 5000,
    "heading lines x2500": "# x\n" * 2500,
    "100 KB single word": "a" * 100_000,
    # Tables.
    "table 500x50 cut at 10,000 characters": _table(500, 50)[:MESSAGE_LIMIT],
    "table 500x50": _table(500, 50),
    "table cut at 100,000 characters": _table(1000, 50)[:100_000],
}

# Output over input, at most. The default covers escaping (& is &amp;) and block markup;
# emoji, mentions and links legitimately turn a few characters into a tag of fifty.
DEFAULT_GROWTH = 8
GROWTH: dict[str, int] = {
    "':a' x5000": 25,
    "':smile:' x1400": 15,
    "'#**a>' x3000": 12,
    "'@**Iago** ' x1000": 10,
    "'$$a' x3333": 10,
    "``` lines x3000": 10,
    "~~~ lines x3000": 10,
    "linkifier matches '#N ' x2000": 15,
}


def _cases() -> list[object]:
    cases: list[object] = []
    for name in PATHOLOGICAL:
        cases.append(pytest.param(name, id=name))
    return cases


def test_the_inputs_are_as_large_as_meant() -> None:
    assert len(PATHOLOGICAL["table 500x50 cut at 10,000 characters"]) == MESSAGE_LIMIT
    assert len(PATHOLOGICAL["table 500x50"]) > MESSAGE_LIMIT
    assert PATHOLOGICAL["table 500x50"].count("\n") == 502
    assert len(PATHOLOGICAL["table cut at 100,000 characters"]) == 100_000
    assert len(PATHOLOGICAL["100 KB single word"]) == 100_000
    assert PATHOLOGICAL["list by indentation, 2000 levels"].endswith("\n" + "  " * 1999 + "- level 1999")


@pytest.mark.parametrize("name", _cases())
def test_pathological_input_stays_bounded(name: str) -> None:
    content = PATHOLOGICAL[name]
    html = render_message(content, CONTEXT).html
    assert_safe(html)
    assert_allowlisted(html)
    parsed = read(html)
    assert parsed.max_depth <= MAX_DEPTH, parsed.max_depth
    assert len(html) <= GROWTH.get(name, DEFAULT_GROWTH) * len(content) + 100, (len(content), len(html))
    # Nothing the content says disappears wholesale: some of its text comes out.
    assert html.strip()


@pytest.mark.parametrize(
    ("name", "kept"),
    [
        ("quote x5000", "deep"),
        ("quote '> ' x5000", "deep"),
        ("list by indentation, 2000 levels", "level 1999"),
        ("nested links x800", "x"),
        ("fenced quote in quote x100", "deep"),
        ("100 KB single word", "a" * 100_000),
        ("URL of 10,000 characters", "a" * 10_000),
    ],
)
def test_the_deepest_text_is_kept(name: str, kept: str) -> None:
    assert kept in render_message(PATHOLOGICAL[name], CONTEXT).html


def test_a_table_within_the_limit_is_a_table() -> None:
    html = render_message(PATHOLOGICAL["table 500x50 cut at 10,000 characters"], CONTEXT).html
    parsed = read(html)
    assert [tag for tag, _ in parsed.starts].count("table") == 1
    assert [tag for tag, _ in parsed.starts].count("th") == 50


def test_a_table_beyond_the_limit_keeps_every_row() -> None:
    html = render_message(PATHOLOGICAL["table 500x50"], CONTEXT).html
    tags = [tag for tag, _ in read(html).starts]
    assert tags.count("tr") == 501
    assert tags.count("td") == 500 * 50
