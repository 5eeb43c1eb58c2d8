"""Zulip's Markdown dialect, parsed by mistune and written out as Zulip's markup.

mistune parses (``renderer=None`` gives its token tree); ``_Writer`` writes the
tree as the HTML Zulip's own renderer produces. The dialect differs from
CommonMark where Zulip's does:

- ``*em*`` and ``**strong**``, but ``_x_`` and ``__x__`` stay literal;
- every newline inside a paragraph is a ``<br>``;
- no reference-style links, no setext headings, no raw HTML (it is escaped);
- ``![alt](url)`` is no image: the ``!`` stays and the rest is a link;
- ``~~strike~~``, pipe tables, headings, lists, block quotes;
- fenced blocks whose language is ``quote``, ``spoiler`` or ``math`` (also
  ``tex`` and ``latex``) are a quote, a spoiler and display math;
- mentions, channel, topic and message links, emoji, ``<time:…>``, ``$$TeX$$``,
  bare URLs and the organization's linkifiers.

What a message refers to is resolved against a ``RenderContext``: a mention of
a user, group or channel it does not hold stays plain text. What the text
mentions is collected while writing, into a ``Mentions``.

TeX: zulipd has no KaTeX, so math is written as the source inside
``<span class="tex-error">``, the markup Zulip itself uses for TeX it cannot
render: safe, and clearly marked as not rendered.

Bounds: mistune limits nesting (``MAX_NESTING``); its inline scanning is linear
in the length of the text (delimiter runs are matched with a stack, code spans
with an index of backtick runs), and every pattern here is linear too.
"""

from __future__ import annotations

import dataclasses
import datetime
import functools
import html
import re
from collections.abc import Iterable, Iterator
from typing import Any
from urllib.parse import quote, urlsplit

import mistune
from mistune.block_parser import BlockParser
from mistune.core import BlockState, InlineState
from mistune.inline_parser import InlineParser
from mistune.plugins.table import table
from pygments import highlight
from pygments.formatters import HtmlFormatter
from pygments.lexer import Lexer
from pygments.lexers import get_lexer_by_name
from pygments.util import ClassNotFound

from zulipd.render.allowlist import escape_attribute, escape_code, escape_text
from zulipd.render.context import (
    EMOJI_SYNTAX,
    GROUP_MENTION_SYNTAX,
    MESSAGE_LINK_TOPIC,
    STREAM_LINK_SYNTAX,
    USER_MENTION_SYNTAX,
    CustomEmoji,
    LinkableStream,
    MentionableUser,
    RenderContext,
    split_user_mention,
)
from zulipd.render.emoji import ZULIP_EXTRA_EMOJI_NAMES, emoji_name, unicode_emoji_in, unicode_emoji_names
from zulipd.render.linkifiers import bare_url_pattern, find_linkifier_matches

MAX_NESTING = 10
CHANNEL_WILDCARDS = frozenset({"all", "everyone", "channel", "stream"})
TOPIC_WILDCARD = "topic"
ZULIP_EMOJI_URL = "/static/generated/emoji/images/emoji/unicode/zulip.png"


@dataclasses.dataclass
class Mentions:
    """What a rendering found the text to mention (code excluded)."""

    user_ids: set[int] = dataclasses.field(default_factory=set)
    group_ids: set[int] = dataclasses.field(default_factory=set)
    channel_wildcard: bool = False
    topic_wildcard: bool = False
    has_link: bool = False


# ---------------------------------------------------------------------------
# Links


def hash_component(text: str) -> str:
    """Zulip's encoding of one part of a ``#narrow`` URL: percent-encoding with "." for "%"."""
    return quote(text, safe="").replace(".", "%2E").replace("%", ".")


def channel_narrow(stream: LinkableStream) -> str:
    return f"/#narrow/channel/{stream.id}-{hash_component(stream.name.replace(' ', '-'))}"


# ---------------------------------------------------------------------------
# Block level


# Zulip's fence line: an optional language ("py", ".py", "{js}") and, for spoilers, a header;
# a "~" or "`" anywhere after the fence makes the line no fence at all.
_FENCE_INFO = re.compile(r"\{?\.?(?P<language>[a-zA-Z0-9_+\-./#]*)\}?[ \t]*(?P<header>[^~`]*)")


def _fence_language(info: str) -> str | None:
    """The lower-cased language of a fence line's info string, "" for none, None if it is no fence."""
    found = _FENCE_INFO.fullmatch(info)
    return found.group("language").lower() if found is not None else None


class _Blocks(BlockParser):
    # No setext headings, reference links or raw HTML; tables come from the plugin.
    DEFAULT_RULES = (  # type: ignore[assignment]
        "fenced_code",
        "indent_code",
        "atx_heading",
        "thematic_break",
        "block_quote",
        "list",
        "blank_line",
    )

    def _parse_plain_paragraph(self, state: BlockState, sc: re.Pattern[str]) -> bool:
        # mistune calls this where no block rule matched, but first declines any line that begins
        # with a digit or punctuation ("@", "#", "[", ":" begin many chat lines), which then costs
        # a search of the whole rest of the text for the next block. Here every such line is text.
        start = position = state.cursor
        while position < state.cursor_max:
            if position > start and sc.match(state.src, position):
                break
            line = state.get_line(position)
            if not line.strip():
                break
            position += len(line)
        if position <= start:
            return False
        state.add_paragraph(state.get_text(position))
        state.cursor = position
        return True

    def parse_list(self, m: re.Match[str], state: BlockState) -> int:
        # In Zulip any ordered list may follow a paragraph line directly ("Steps:\n3. c");
        # mistune, as CommonMark, lets only one that starts at 1 do so.
        last = state.last_token()
        marker, text = m.group("list_2"), m.group("list_3")
        interrupting = last is not None and last["type"] == "paragraph"
        if not interrupting or marker[0] in "*+-" or marker[:-1] == "1" or not text.strip():
            return super().parse_list(m, state)
        paragraph = state.tokens.pop()
        place = len(state.tokens)
        end = super().parse_list(m, state)
        state.tokens.insert(place, paragraph)
        return end

    def parse_fenced_code(self, m: re.Match[str], state: BlockState) -> int | None:
        info = (m.group("fenced_3") or "").strip()
        marker = m.group("fenced_2")
        language = _fence_language(info)
        if language is None:
            return None
        header = _FENCE_INFO.match(info).group("header")  # type: ignore[union-attr]
        # At the nesting limit a quote or spoiler fence holds no more blocks: its body is code.
        too_deep = state.depth() >= self.max_nested_level - 1
        if too_deep or language not in ("quote", "spoiler", "math", "tex", "latex"):
            end = super().parse_fenced_code(m, state)
            token = state.tokens[-1] if state.tokens else None
            if token is not None and token["type"] == "block_code":
                token["attrs"] = {"info": language} if language else {}
            return end
        closing = re.compile(r"^ {0,3}" + re.escape(marker[0]) + "{" + str(len(marker)) + r",}[ \t]*(?:\n|$)", re.M)
        start = m.end() + 1
        found = closing.search(state.src, start)
        body = state.src[start : found.start()] if found else state.src[start:]
        end = found.end() if found else state.cursor_max
        if language in ("math", "tex", "latex"):
            state.append_token({"type": "display_math", "raw": body.strip("\n")})
            return end
        child = state.child_state(body)
        self.parse(child, self.block_quote_rules)
        if language == "quote":
            state.append_token({"type": "block_quote", "children": child.tokens})
        else:
            header_blocks = [{"type": "paragraph", "text": header}] if header else []
            state.append_token(
                {
                    "type": "spoiler",
                    "children": [
                        {"type": "spoiler_header", "children": header_blocks},
                        {"type": "spoiler_content", "children": child.tokens},
                    ],
                }
            )
        return end


# ---------------------------------------------------------------------------
# Inline level

# Mentions may follow only the start of the text, white space or one of these.
_BEFORE_MENTION = r"(?<![^\s'\"\(\{\[/<])"


class _Inline(InlineParser):
    def __init__(self) -> None:
        super().__init__(hard_wrap=True, max_nested_level=MAX_NESTING)
        # Zulip's dialect has neither raw HTML nor <autolinks>.
        for rule in ("inline_html", "auto_link", "auto_email"):
            if rule in self.rules:
                self.rules.remove(rule)
        self.register(
            "user_mention",
            _BEFORE_MENTION + USER_MENTION_SYNTAX,
            _parse_user_mention,
            before="emphasis",
            start_chars="@",
        )
        self.register(
            "group_mention",
            _BEFORE_MENTION + GROUP_MENTION_SYNTAX,
            _parse_group_mention,
            before="emphasis",
            start_chars="@",
        )
        self.register(
            "stream_link",
            STREAM_LINK_SYNTAX,
            _parse_stream_link,
            before="emphasis",
            start_chars="#",
        )
        self.register("emoji", EMOJI_SYNTAX, _parse_emoji, start_chars=":")
        self.register("time", r"<time:(?P<time_text>[^>\n]{0,100})>", _parse_time, start_chars="<")
        self.register(
            "inline_math",
            r"(?<!\$)\$\$(?P<tex>[^\n$](?:\\\$|[^$\n])*?)\$\$(?!\$)",
            _parse_inline_math,
            before="emphasis",
            start_chars="$",
        )
        self.register("strikethrough", r"(?<!~)~~(?P<strike_text>[^~\n]+?)~~(?!~)", _parse_strike, start_chars="~")

    def parse_codespan(self, m: re.Match[str], state: InlineState) -> int:
        # As in Zulip, the code keeps its spaces; a newline in it is a space.
        marker = m.group(0)
        end = state.delimiters.code_end(marker, m.end())
        if end is None:
            state.append_token({"type": "text", "raw": marker})
            return m.end()
        state.append_token({"type": "codespan", "raw": state.src[m.end() : end].replace("\n", " ")})
        return end + len(marker)

    def process_text(self, text: str, state: InlineState, parse_emphasis: bool = True) -> None:
        # Underscores never make emphasis: keep each run of them out of the delimiter scan.
        if parse_emphasis and "_" in text:
            for piece in _UNDERSCORES.split(text):
                if piece:
                    super().process_text(piece, state, parse_emphasis=piece[0] != "_")
            return
        super().process_text(text, state, parse_emphasis)


_UNDERSCORES = re.compile(r"(_+)")


def _context(state: InlineState) -> RenderContext:
    context: RenderContext = state.env["context"]
    return context


def _parse_user_mention(inline: _Inline, m: re.Match[str], state: InlineState) -> int | None:
    silent = bool(m.group("um_silent"))
    text = m.group("um_text")
    if text in CHANNEL_WILDCARDS or text == TOPIC_WILDCARD:
        state.append_token({"type": "wildcard_mention", "raw": text, "attrs": {"silent": silent}})
        return m.end()
    user = _mentioned_user(_context(state), text)
    if user is None:
        return None
    state.append_token({"type": "user_mention", "raw": user.full_name, "attrs": {"id": user.id, "silent": silent}})
    return m.end()


def _mentioned_user(context: RenderContext, text: str) -> MentionableUser | None:
    name, user_id = split_user_mention(text)
    if user_id is not None:
        user = context.users_by_id.get(user_id)
        if user is None or (name is not None and user.full_name.lower() != name.lower()):
            return None
        return user
    assert name is not None
    candidates = context.users_by_name.get(name.lower())
    return min(candidates, key=lambda user: user.id) if candidates else None


def _parse_group_mention(inline: _Inline, m: re.Match[str], state: InlineState) -> int | None:
    group = _context(state).groups_by_name.get(m.group("gm_name"))
    if group is None:
        return None
    silent = bool(m.group("gm_silent"))
    state.append_token({"type": "group_mention", "raw": group.name, "attrs": {"id": group.id, "silent": silent}})
    return m.end()


def _parse_stream_link(inline: _Inline, m: re.Match[str], state: InlineState) -> int | None:
    context = _context(state)
    stream = context.streams_by_name.get(m.group("sl_stream"))
    if stream is None:
        return None
    topic = m.group("sl_topic")
    if topic is None:
        state.append_token({"type": "stream_link", "attrs": {"stream": stream}})
        return m.end()
    message = MESSAGE_LINK_TOPIC.match(topic)
    if message is not None:
        attrs = {"stream": stream, "topic": message.group(1), "message_id": int(message.group(2))}
        state.append_token({"type": "message_link", "attrs": attrs})
        return m.end()
    with_id = context.topic_message_ids.get((stream.id, topic))
    state.append_token({"type": "topic_link", "attrs": {"stream": stream, "topic": topic, "with_id": with_id}})
    return m.end()


def _parse_emoji(inline: _Inline, m: re.Match[str], state: InlineState) -> int | None:
    name = m.group("emoji_name")
    custom = _context(state).custom_emoji.get(name)
    if custom is not None:
        state.append_token({"type": "custom_emoji", "attrs": {"emoji": custom}})
        return m.end()
    if name in ZULIP_EXTRA_EMOJI_NAMES:
        state.append_token({"type": "zulip_emoji", "raw": name})
        return m.end()
    code = unicode_emoji_names().get(name.lower()) if name == name.lower() else None
    if code is None:
        # Not an emoji: keep the first colon as text and go on from the name, which may end in a
        # colon that starts one (":not:smile:").
        return None
    state.append_token({"type": "unicode_emoji", "raw": name, "attrs": {"code": code}})
    return m.end()


def _parse_time(inline: _Inline, m: re.Match[str], state: InlineState) -> int:
    state.append_token({"type": "time", "raw": m.group("time_text")})
    return m.end()


def _parse_inline_math(inline: _Inline, m: re.Match[str], state: InlineState) -> int:
    state.append_token({"type": "inline_math", "raw": m.group("tex")})
    return m.end()


def _parse_strike(inline: _Inline, m: re.Match[str], state: InlineState) -> int:
    if state.depth >= MAX_NESTING:
        return 0
    child = state.copy()
    child.src = m.group("strike_text")
    child.depth += 1
    child.tokens = []
    inline.parse(child)
    state.append_token({"type": "strikethrough", "children": child.tokens})
    return m.end()


# ---------------------------------------------------------------------------
# Times


def parse_time(text: str) -> datetime.datetime | None:
    """What ``<time:text>`` names: a Unix timestamp, or an ISO 8601 time (UTC when it has no zone)."""
    text = text.strip()
    try:
        if re.fullmatch(r"-?\d{1,12}(?:\.\d+)?", text):
            return datetime.datetime.fromtimestamp(float(text), tz=datetime.UTC)
        parsed = datetime.datetime.fromisoformat(text)
    except (ValueError, OverflowError, OSError):
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=datetime.UTC)
    try:
        return parsed.astimezone(datetime.UTC)
    except (ValueError, OverflowError):
        return None


# ---------------------------------------------------------------------------
# Code


@functools.lru_cache(maxsize=512)
def _lexer(language: str) -> Lexer | None:
    try:
        return get_lexer_by_name(language, stripnl=False, ensurenl=True)
    except ClassNotFound:
        return None


_FORMATTER = HtmlFormatter(nowrap=True)
_WHITESPACE_TOKEN = re.compile(r'<span class="w">([^<]*)</span>')
_TRAILING_SPACE = re.compile(r"[ \t]+$", re.M)


def code_block(code: str, language: str) -> str:
    """A code block as Zulip writes it: Pygments' markup inside ``div.codehilite``."""
    code = _TRAILING_SPACE.sub("", code).rstrip("\n") + "\n"
    lexer = _lexer(language) if language else None
    if lexer is not None:
        # Zulip's code blocks show white space as text, not as Pygments' "w" tokens.
        body = _WHITESPACE_TOKEN.sub(r"\1", highlight(code, lexer, _FORMATTER))
        attribute = f' data-code-language="{escape_attribute(lexer.name)}"'
    else:
        body = escape_code(code)
        attribute = f' data-code-language="{escape_attribute(language)}"' if language else ""
    return f'<div class="codehilite"{attribute}><pre><span></span><code>{body}</code></pre></div>'


# ---------------------------------------------------------------------------
# Writing


def _tex_error(source: str) -> str:
    return f'<span class="tex-error">{escape_text(source)}</span>'


class _Writer:
    """Writes mistune's token tree as Zulip's HTML, collecting mentions as it goes."""

    def __init__(self, context: RenderContext, mentions: Mentions) -> None:
        self.context = context
        self.mentions = mentions
        self.realm_prefix = context.realm_url.rstrip("/") + "/#narrow" if context.realm_url else None
        self.bare_urls = bare_url_pattern(parentheses=True)

    # Blocks -----------------------------------------------------------------

    def blocks(self, tokens: Iterable[dict[str, Any]]) -> str:
        return "\n".join(part for part in (self.block(token) for token in tokens) if part)

    def block(self, token: dict[str, Any]) -> str:
        kind = token["type"]
        if kind == "paragraph":
            return f"<p>{self.inline(token['children'])}</p>"
        if kind == "block_text":
            return self.inline(token["children"])
        if kind == "heading":
            level = token["attrs"]["level"]
            return f"<h{level}>{self.inline(token['children'])}</h{level}>"
        if kind == "block_code":
            return code_block(token["raw"], token.get("attrs", {}).get("info", ""))
        if kind == "block_quote":
            inside = self.blocks(token["children"])
            # A quote with nothing in it is no quote: Zulip shows its ">".
            return f"<blockquote>\n{inside}\n</blockquote>" if inside else "<p>&gt;</p>"
        if kind == "list":
            return self.list(token)
        if kind == "thematic_break":
            return "<hr>"
        if kind == "table":
            return self.table(token)
        if kind == "spoiler":
            header, content = token["children"]
            return (
                '<div class="spoiler-block"><div class="spoiler-header">\n'
                f"{self.blocks(header['children'])}\n"
                '</div><div class="spoiler-content" aria-hidden="true">\n'
                f"{self.blocks(content['children'])}\n"
                "</div></div>"
            )
        if kind == "display_math":
            return f"<p>{_tex_error('$$' + token['raw'] + '$$')}</p>"
        if kind == "blank_line":
            return ""
        # Anything else mistune might produce is written as its text.
        return escape_text(token.get("raw", ""))

    def list(self, token: dict[str, Any]) -> str:
        attrs = token["attrs"]
        if attrs.get("ordered"):
            start = attrs.get("start", 1)
            opening = "<ol>" if start in (None, 1) else f'<ol start="{int(start)}">'
            closing = "</ol>"
        else:
            opening, closing = "<ul>", "</ul>"
        items = [self.list_item(item, token.get("tight", True)) for item in token["children"]]
        return opening + "\n" + "\n".join(items) + "\n" + closing

    def list_item(self, item: dict[str, Any], tight: bool) -> str:
        children = item["children"]
        if not tight:
            return f"<li>\n{self.blocks(children)}\n</li>"
        parts = [self.block(child) for child in children]
        text = ""
        for child, part in zip(children, parts, strict=True):
            if child["type"] in ("list", "block_code", "block_quote", "table", "heading", "spoiler"):
                text += part + "\n"
            elif part:
                text += part
        return f"<li>{text}</li>"

    def table(self, token: dict[str, Any]) -> str:
        head, body = token["children"]
        lines = ["<table>", "<thead>", "<tr>"]
        lines.extend(self.cell(cell, "th") for cell in head["children"])
        lines.extend(["</tr>", "</thead>", "<tbody>"])
        for row in body["children"]:
            lines.append("<tr>")
            lines.extend(self.cell(cell, "td") for cell in row["children"])
            lines.append("</tr>")
        lines.extend(["</tbody>", "</table>"])
        return "\n".join(lines)

    def cell(self, cell: dict[str, Any], tag: str) -> str:
        align = cell["attrs"].get("align")
        style = f' style="text-align: {align};"' if align in ("left", "center", "right") else ""
        return f"<{tag}{style}>{self.inline(cell['children'])}</{tag}>"

    # Inline -----------------------------------------------------------------

    def inline(self, tokens: Iterable[dict[str, Any]], in_link: bool = False) -> str:
        return "".join(self.inline_token(token, in_link) for token in _joined_text(tokens))

    def inline_token(self, token: dict[str, Any], in_link: bool) -> str:
        kind = token["type"]
        if kind == "text":
            return escape_text(token["raw"]) if in_link else self.text(token["raw"])
        if kind == "strong":
            return f"<strong>{self.inline(token['children'], in_link)}</strong>"
        if kind == "emphasis":
            children = token["children"]
            if len(children) == 1 and children[0]["type"] == "strong":
                # "***x***": Zulip puts the strong outside.
                return f"<strong><em>{self.inline(children[0]['children'], in_link)}</em></strong>"
            return f"<em>{self.inline(children, in_link)}</em>"
        if kind == "strikethrough":
            return f"<del>{self.inline(token['children'], in_link)}</del>"
        if kind == "codespan":
            return f"<code>{escape_text(token['raw'])}</code>"
        if kind == "linebreak" or kind == "softbreak":
            return "<br>\n"
        if kind == "link":
            return self.link(token, in_link)
        if kind == "image":
            # Zulip has no image syntax: "![alt](url)" is a "!" and a link.
            return "!" + self.link(token, in_link)
        if kind == "user_mention":
            attrs = token["attrs"]
            if attrs["silent"]:
                return (
                    f'<span class="user-mention silent" data-user-id="{attrs["id"]}">{escape_text(token["raw"])}</span>'
                )
            self.mentions.user_ids.add(attrs["id"])
            return f'<span class="user-mention" data-user-id="{attrs["id"]}">@{escape_text(token["raw"])}</span>'
        if kind == "wildcard_mention":
            return self.wildcard(token["raw"], token["attrs"]["silent"])
        if kind == "group_mention":
            attrs = token["attrs"]
            name = escape_text(token["raw"])
            if attrs["silent"]:
                return f'<span class="user-group-mention silent" data-user-group-id="{attrs["id"]}">{name}</span>'
            self.mentions.group_ids.add(attrs["id"])
            return f'<span class="user-group-mention" data-user-group-id="{attrs["id"]}">@{name}</span>'
        if kind == "stream_link":
            stream = token["attrs"]["stream"]
            return (
                f'<a class="stream" data-stream-id="{stream.id}" href="{channel_narrow(stream)}">'
                f"#{escape_text(stream.name)}</a>"
            )
        if kind == "topic_link":
            attrs = token["attrs"]
            ending = f"/with/{attrs['with_id']}" if attrs["with_id"] is not None else ""
            stream = attrs["stream"]
            return _topic_anchor(
                f'class="stream-topic" data-stream-id="{stream.id}"', stream, attrs["topic"], ending, ""
            )
        if kind == "message_link":
            attrs = token["attrs"]
            ending = f"/near/{attrs['message_id']}"
            return _topic_anchor('class="message-link"', attrs["stream"], attrs["topic"], ending, " @ \U0001f4ac")
        if kind == "unicode_emoji":
            return _unicode_emoji(token["attrs"]["code"], token["raw"])
        if kind == "zulip_emoji":
            return f'<img alt=":zulip:" class="emoji" src="{ZULIP_EMOJI_URL}" title="zulip">'
        if kind == "custom_emoji":
            custom: CustomEmoji = token["attrs"]["emoji"]
            name, title = escape_attribute(custom.name), escape_attribute(custom.name.replace("_", " "))
            return f'<img alt=":{name}:" class="emoji" src="{escape_attribute(custom.url)}" title="{title}">'
        if kind == "time":
            return _time(token["raw"])
        if kind == "inline_math":
            return _tex_error("$$" + token["raw"] + "$$")
        return escape_text(token.get("raw", ""))

    def wildcard(self, name: str, silent: bool) -> str:
        if name == TOPIC_WILDCARD:
            if silent:
                return '<span class="topic-mention silent">topic</span>'
            self.mentions.topic_wildcard = True
            return '<span class="topic-mention">@topic</span>'
        if silent:
            return f'<span class="user-mention channel-wildcard-mention silent" data-user-id="*">{name}</span>'
        self.mentions.channel_wildcard = True
        return f'<span class="user-mention channel-wildcard-mention" data-user-id="*">@{name}</span>'

    def link(self, token: dict[str, Any], in_link: bool) -> str:
        children = token["children"]
        if in_link:
            return self.inline(children, in_link=True)
        href = self.href(html.unescape(token["attrs"]["url"]))
        text = self.inline(children, in_link=True)
        if not text.strip():
            text = escape_text(href or "")
        if href is None:
            return f"<a>{text}</a>"
        self.mentions.has_link = True
        return f'<a href="{escape_attribute(href)}">{text}</a>'

    def href(self, url: str) -> str | None:
        """Where a link goes: http, https and mailto URLs, relative ones, scheme-less ones over http."""
        url = url.strip()
        if self.realm_prefix is not None and url.startswith(self.realm_prefix):
            return url[len(self.realm_prefix) - len("#narrow") :]
        try:
            scheme = urlsplit(url).scheme.lower()
        except ValueError:
            return None
        if not scheme:
            if url.startswith(("/", "#", "?")):
                return url
            return "http://" + url
        if scheme in ("http", "https", "mailto"):
            return url
        return None

    def text(self, text: str) -> str:
        """Plain text, with its bare URLs, linkifier matches and Unicode emoji made markup."""
        if "." not in text and "://" not in text and not self.context.linkifiers:
            return self.emoji_text(text)
        out: list[str] = []
        position = 0
        for start, end, url in self.links_in(text):
            out.append(self.emoji_text(text[position:start]))
            href = self.href(url)
            if href is None:
                out.append(self.emoji_text(text[start:end]))
            else:
                self.mentions.has_link = True
                out.append(f'<a href="{escape_attribute(href)}">{escape_text(text[start:end])}</a>')
            position = end
        out.append(self.emoji_text(text[position:]))
        return "".join(out)

    def links_in(self, text: str) -> Iterator[tuple[int, int, str]]:
        """(start, end, url) of the bare URLs in the text, then the linkifier matches between them."""
        urls: list[tuple[int, int, str]] = []
        if "." in text or "://" in text:
            for found in self.bare_urls.finditer(text):
                written = found.group("url")
                if "@" in written.split("/", 1)[0] and "://" not in written:
                    continue  # an email address, which Zulip leaves as text
                if written.startswith("bitcoin:"):
                    continue
                urls.append((found.start("url"), found.end("url"), written))
        if not self.context.linkifiers:
            yield from urls
            return
        position = 0
        found_links: list[tuple[int, int, str]] = []
        for start, end, url in [*urls, (len(text), len(text), "")]:
            piece = text[position:start]
            for match in find_linkifier_matches(piece, self.context.linkifiers):
                found_links.append((position + match.start, position + match.end, match.url))
            if url:
                found_links.append((start, end, url))
            position = end
        yield from found_links

    def emoji_text(self, text: str) -> str:
        out: list[str] = []
        position = 0
        for start, end, code in unicode_emoji_in(text):
            name = emoji_name(code)
            if name is None:
                continue
            out.append(escape_text(text[position:start]))
            out.append(_unicode_emoji(code, name))
            position = end
        out.append(escape_text(text[position:]))
        return "".join(out)


def _topic_anchor(attributes: str, stream: LinkableStream, topic: str, href_ending: str, text_ending: str) -> str:
    """A link to a topic (``#channel > topic``), or to a message in it."""
    href = f"{channel_narrow(stream)}/topic/{hash_component(topic)}{href_ending}"
    return (
        f'<a {attributes} href="{escape_attribute(href)}">'
        f"#{escape_text(stream.name)} &gt; {escape_text(topic)}{text_ending}</a>"
    )


def _joined_text(tokens: Iterable[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    """The tokens with each run of text tokens made one (a URL may span several)."""
    pending: list[str] = []
    for token in tokens:
        if token["type"] == "text":
            pending.append(token["raw"])
            continue
        if pending:
            yield {"type": "text", "raw": "".join(pending)}
            pending = []
        yield token
    if pending:
        yield {"type": "text", "raw": "".join(pending)}


def _unicode_emoji(code: str, name: str) -> str:
    label = escape_attribute(name.replace("_", " "))
    return (
        f'<span aria-label="{label}" class="emoji emoji-{code}" role="img" title="{label}">:{escape_text(name)}:</span>'
    )


def _time(text: str) -> str:
    moment = parse_time(text)
    if moment is None:
        return f'<span class="timestamp-error">Invalid time format: {escape_text(text)}</span>'
    stamp = moment.strftime("%Y-%m-%dT%H:%M:%SZ")
    return f'<time datetime="{stamp}">{int(moment.timestamp())}</time>'


# ---------------------------------------------------------------------------


@functools.cache
def _parser() -> mistune.Markdown:
    inline = _Inline()
    block = _Blocks(max_nested_level=MAX_NESTING)
    markdown = mistune.Markdown(renderer=None, block=block, inline=inline)
    table(markdown)
    # The table plugin adds its rules to quotes and lists only through these lists.
    for rules in (block.block_quote_rules, block.list_rules):
        for rule in ("table", "nptable"):
            if rule in block.rules and rule not in rules:
                rules.append(rule)
    return markdown


def render_markdown(content: str, context: RenderContext) -> tuple[str, Mentions]:
    """Zulip's HTML for the content, and what it mentions."""
    mentions = Mentions()
    state = BlockState()
    state.env["context"] = context
    source = nest_lists_by_two_spaces(content.replace("\r\n", "\n").replace("\r", "\n"))
    tokens, _ = _parser().parse(source, state)
    assert isinstance(tokens, list)
    return _Writer(context, mentions).blocks(tokens), mentions


_FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})")


def _closes(line: str, fence: str) -> bool:
    found = _FENCE.match(line)
    return (
        found is not None
        and found.group(1)[0] == fence[0]
        and len(found.group(1)) >= len(fence)
        and not line[found.end() :].strip()
    )


def without_code_blocks(content: str) -> str:
    """The content without its fenced code blocks (where alert words are looked for)."""
    if "```" not in content and "~~~" not in content:
        return content
    kept: list[str] = []
    code_fence: str | None = None
    # The fences of the quotes and spoilers that are open: their text is kept.
    open_fences: list[str] = []
    for line in content.split("\n"):
        if code_fence is not None:
            if _closes(line, code_fence):
                code_fence = None
            continue
        if open_fences and _closes(line, open_fences[-1]):
            open_fences.pop()
            kept.append(line)
            continue
        found = _FENCE.match(line)
        if found is not None:
            language = _fence_language(line[found.end() :].strip())
            if language is None:
                kept.append(line)
            elif language in ("quote", "spoiler"):
                open_fences.append(found.group(1))
                kept.append(line)
            else:
                code_fence = found.group(1)
            continue
        kept.append(line)
    return "\n".join(kept)


_LIST_ITEM = re.compile(r"( *)([*+-]|\d{1,9}[.)])( +|$)")


def nest_lists_by_two_spaces(source: str) -> str:
    """The source with list items re-indented so that two spaces nest one, as in Zulip.

    mistune nests an item only under as much indentation as its parent's marker
    takes (three spaces under ``1. ``); Zulip nests under any indentation deeper
    than the parent's. Each item line indented deeper than the item before it,
    but not as deep as that item's text, is moved to where its text starts.
    Lines in fenced code, and lists that begin as indented code (four spaces),
    are left alone.
    """
    if "\n " not in source:
        return source
    lines = source.split("\n")
    # Open items: (indent as written, indent as re-written, where the item's text starts).
    open_items: list[tuple[int, int, int]] = []
    fence: str | None = None
    changed = False
    for index, line in enumerate(lines):
        found_fence = _FENCE.match(line)
        if fence is not None:
            if found_fence is not None and _closes(line, fence):
                fence = None
            continue
        if found_fence is not None:
            fence = found_fence.group(1)
            open_items.clear()
            continue
        item = _LIST_ITEM.match(line)
        if item is None:
            if line.strip() and not line.startswith(" "):
                open_items.clear()
            continue
        written = len(item.group(1))
        while open_items and open_items[-1][0] >= written:
            open_items.pop()
        if not open_items:
            if written <= 3:
                open_items.append((written, written, written + len(item.group(2)) + 1))
            continue
        indent = max(written, open_items[-1][2])
        if indent != written:
            lines[index] = " " * indent + line[written:]
            changed = True
        open_items.append((written, indent, indent + len(item.group(2)) + 1))
    return "\n".join(lines) if changed else source
