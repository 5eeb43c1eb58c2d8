"""The HTML allowlist every rendered fragment passes through.

``clean_html`` parses a fragment with the standard library's ``html.parser`` and
writes it out again, keeping only what is listed here: the tags, attributes,
classes and URL schemes of the markup Zulip's renderer emits. The output is
rebuilt from parsed tokens, never copied from the input, so

- every kept tag is an allowlisted tag with allowlisted attributes, written in
  one canonical form (lower-case names, double-quoted, escaped values);
- all text and every attribute value is escaped again, so nothing in them can
  open a tag, close an attribute or start a comment;
- every element it opens it also closes, in order; void elements have no end tag;
- comments, doctypes, processing instructions and CDATA sections are dropped.

A tag that is not on the list loses its markup and keeps its text. The tags whose
content is code or another document (``script``, ``style``, ``iframe``, ``object``,
``template``, ``svg``, ...) lose their content too.

``href`` and ``src`` keep only http, https and mailto URLs and relative ones.
The scheme is judged after the parser has decoded character references and after
every white space and control character has been taken out, which is how a
browser sees ``java&#x09;script:`` or ``&#1;javascript:``. A value with a colon
before its first ``/``, ``?`` or ``#`` names a scheme; if that scheme is not one
of the three, the attribute is dropped, whatever the scheme's spelling.
Protocol-relative URLs (``//host/path``) are kept: a browser resolves them with the
page's own scheme, which for zulipd is http or https.

Work is linear in the input: one pass of the parser, and the open-element stack
is at most ``MAX_DEPTH`` deep. Deeper elements lose their markup (their text is
kept), so a pathological nesting cannot make the output, or a client's DOM,
arbitrarily deep.

This module is pure: no I/O, no state between calls.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser
from typing import Final

__all__ = [
    "ALLOWED_ATTRIBUTES",
    "ALLOWED_CLASSES",
    "ALLOWED_SCHEMES",
    "ALLOWED_TAGS",
    "DROP_CONTENT_TAGS",
    "MAX_DEPTH",
    "VOID_TAGS",
    "class_allowed",
    "clean_html",
    "escape_attribute",
    "escape_code",
    "escape_text",
    "url_allowed",
]


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


MAX_DEPTH: Final = 100
"""Elements nested deeper than this lose their markup; their text is kept."""

VOID_TAGS: Final = frozenset({"br", "hr", "img"})

_MATHML_TAGS: Final = frozenset(
    {
        "math",
        "semantics",
        "annotation",
        "mrow",
        "mi",
        "mn",
        "mo",
        "ms",
        "mtext",
        "mspace",
        "msup",
        "msub",
        "msubsup",
        "mfrac",
        "msqrt",
        "mroot",
        "mover",
        "munder",
        "munderover",
        "mtable",
        "mtr",
        "mtd",
        "mstyle",
        "mpadded",
        "mphantom",
        "menclose",
    }
)

_ATTRIBUTES_BY_TAG: dict[str, frozenset[str]] = {
    "a": frozenset({"href", "title", "class", "data-stream-id", "data-message-id", "data-id"}),
    "span": frozenset(
        {"class", "title", "aria-label", "aria-hidden", "role", "data-user-id", "data-user-group-id", "data-stream-id"}
    ),
    "div": frozenset({"class", "aria-hidden", "data-code-language", "data-id"}),
    "img": frozenset(
        {
            "src",
            "alt",
            "title",
            "class",
            "data-original-dimensions",
            "data-original-content-type",
            "data-animated",
        }
    ),
    "video": frozenset({"src", "preload"}),
    "audio": frozenset({"src", "preload", "controls", "title"}),
    "time": frozenset({"datetime"}),
    "ol": frozenset({"start"}),
    "th": frozenset({"style"}),
    "td": frozenset({"style"}),
    "code": frozenset({"class"}),
    "pre": frozenset({"class"}),
    "math": frozenset({"xmlns", "display"}),
    "annotation": frozenset({"encoding"}),
    "mo": frozenset({"stretchy", "fence", "separator", "lspace", "rspace", "minsize", "maxsize", "movablelimits"}),
    "mi": frozenset({"mathvariant"}),
    "mn": frozenset({"mathvariant"}),
    "mtext": frozenset({"mathvariant"}),
    "mover": frozenset({"accent"}),
    "munder": frozenset({"accentunder"}),
    "munderover": frozenset({"accent", "accentunder"}),
    "mfrac": frozenset({"linethickness"}),
    "mspace": frozenset({"width"}),
    "mpadded": frozenset({"width", "height", "depth", "lspace", "voffset"}),
    "mstyle": frozenset({"displaystyle", "scriptlevel", "mathcolor"}),
    "mtable": frozenset({"rowspacing", "columnspacing", "columnalign", "columnlines", "rowlines"}),
    "mtd": frozenset({"columnalign"}),
    "menclose": frozenset({"notation"}),
}
_PLAIN_TAGS: Final = _words(
    "p br hr strong em del code pre blockquote ul ol li h1 h2 h3 h4 h5 h6 table thead tbody tr th td"
)

ALLOWED_TAGS: Final = _PLAIN_TAGS | frozenset(_ATTRIBUTES_BY_TAG) | _MATHML_TAGS
"""Every tag clean_html keeps: the elements Zulip's Markdown renderer writes."""

ALLOWED_ATTRIBUTES: Final = {tag: _ATTRIBUTES_BY_TAG.get(tag, frozenset()) for tag in sorted(ALLOWED_TAGS)}
"""For each allowed tag, the attributes it keeps."""

DROP_CONTENT_TAGS: Final = frozenset(
    {
        "script",
        "style",
        "template",
        "iframe",
        "object",
        "applet",
        "noscript",
        "noembed",
        "noframes",
        "frameset",
        "svg",
        "annotation-xml",
        "textarea",
        "title",
        "xmp",
        "plaintext",
        "select",
        "head",
        "xml",
    }
)
"""Tags whose content is dropped with their markup (code, other documents, raw text)."""

ALLOWED_SCHEMES: Final = frozenset({"http", "https", "mailto"})
"""URL schemes href and src may use; relative URLs have none and are kept too."""

_URL_ATTRIBUTES: Final = frozenset({"href", "src"})
_BOOLEAN_ATTRIBUTES: Final = frozenset({"controls"})

# Attributes whose values have a fixed form; a value not of that form drops the attribute.
_ID = re.compile(r"[0-9]{1,20}")
_VALUE_FORMS: Final[dict[str, re.Pattern[str]]] = {
    "data-user-id": re.compile(r"[0-9]{1,20}|\*"),
    "data-user-group-id": _ID,
    "data-stream-id": _ID,
    "data-message-id": _ID,
    "data-id": re.compile(r"[A-Za-z0-9_-]{1,64}"),
    "data-original-dimensions": re.compile(r"[0-9]{1,6}x[0-9]{1,6}"),
    "data-original-content-type": re.compile(r"[a-z]{1,20}/[a-z0-9.+-]{1,60}"),
    "data-animated": re.compile(r"true|false"),
    "aria-hidden": re.compile(r"true|false"),
    "role": re.compile(r"img"),
    "preload": re.compile(r"metadata|none|auto"),
    "start": re.compile(r"[0-9]{1,9}"),
    # A table column's alignment is the one style kept.
    "style": re.compile(r"text-align: (?:left|center|right);"),
    "datetime": re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:.]{5,15}(?:Z|[+-][0-9]{2}:?[0-9]{2})"),
    "xmlns": re.compile(r"http://www\.w3\.org/1998/Math/MathML"),
    "display": re.compile(r"block|inline"),
    "encoding": re.compile(r"application/x-tex"),
    "mathvariant": re.compile(r"[a-z-]{1,30}"),
    "stretchy": re.compile(r"true|false"),
    "fence": re.compile(r"true|false"),
    "separator": re.compile(r"true|false"),
    "movablelimits": re.compile(r"true|false"),
    "accent": re.compile(r"true|false"),
    "accentunder": re.compile(r"true|false"),
    "displaystyle": re.compile(r"true|false"),
    "scriptlevel": re.compile(r"[+-]?[0-9]{1,2}"),
    "mathcolor": re.compile(r"#[0-9a-fA-F]{3,8}|[a-z]{1,20}"),
    "notation": re.compile(r"[a-z ]{1,80}"),
    "columnalign": re.compile(r"[a-z ]{1,200}"),
    "columnlines": re.compile(r"[a-z ]{1,200}"),
    "rowlines": re.compile(r"[a-z ]{1,200}"),
}
# Lengths (KaTeX's MathML uses em, ex, pt and plain numbers).
_LENGTH = re.compile(r"(?:[+-]?[0-9]{0,6}(?:\.[0-9]{1,6})?(?:em|ex|pt|px|mu|%)?\s?){1,40}")
for _name in ("lspace", "rspace", "minsize", "maxsize", "width", "height", "depth", "voffset", "linethickness"):
    _VALUE_FORMS[_name] = _LENGTH
for _name in ("rowspacing", "columnspacing"):
    _VALUE_FORMS[_name] = _LENGTH

# Pygments' short token classes (pygments.token.STANDARD_TYPES) and its line-highlight class.
_PYGMENTS_CLASSES: Final = _words(
    """
    hll w err esc x k kc kd kn kp kr kt n na nb bp nc no nd ni ne nf fm py nl nn nx nt nv vc vg vi vm
    l ld s sa sb sc dl sd s2 se sh si sx sr s1 ss m mb mf mh mi il mo o ow p pm
    c ch cm cp cpf c1 cs g gd ge ges gr gh gi go gp gs gu gt
    """
)

# The classes KaTeX writes into its HTML rendering of TeX.
_KATEX_CLASSES: Final = _words(
    """
    katex katex-display katex-mathml katex-html katex-error base strut mord mop mbin mrel mopen mclose
    mpunct minner mspace mtight mfrac frac-line msupsub vlist-t vlist-t2 vlist-r vlist vlist-s pstrut
    sizing fontsize-ensurer delimsizing delimsizinginner delim-size1 delim-size4 nulldelimiter delimcenter
    op-symbol small-op large-op op-limits accent accent-body accent-full overline underline overline-line
    underline-line sqrt svg-align hide-tail root stretchy arraycolsep col-align-c col-align-l col-align-r
    mtable hline hdashline rule boxpad fbox fcolorbox cancel-pad cancel-lap sout bcancel xcancel anglpad
    x-arrow x-arrow-pad mover munder tag eqn-num mult newline brace-left brace-right brace-center
    halfarrow-left halfarrow-right text textrm textsf texttt textit textbf textnormal textmd textup
    mathnormal mathit mathrm mathbf mathsf mathtt mathbb mathcal mathfrak mathscr mathboldsf mathitsf
    mathsfit mathboldfrak mathdefault boldsymbol amsrm enclosing mathcolor
    """
)

_ZULIP_CLASSES: Final = _words(
    """
    user-mention user-group-mention silent channel-wildcard-mention topic-mention
    stream stream-topic message-link
    emoji
    codehilite tex-error timestamp-error
    spoiler-block spoiler-header spoiler-content
    message_inline_image message_inline_video youtube-video embed-video vimeo-video image-loading-placeholder
    message_embed message_embed_image message_embed_title message_embed_description data-container
    """
)

ALLOWED_CLASSES: Final = _ZULIP_CLASSES | _PYGMENTS_CLASSES | _KATEX_CLASSES
"""Class names kept as they are; ``class_allowed`` also accepts a few patterns."""

_CLASS_PATTERN = re.compile(
    r"emoji-[0-9a-f]{1,8}(?:-[0-9a-f]{1,8}){0,8}"  # a Unicode emoji by code points: emoji-1f44d
    r"|reset-size[0-9]{1,2}|size[0-9]{1,2}"  # KaTeX's font sizes
)

_STRIPPED_FROM_URLS = re.compile(r"[\x00-\x20\x7f-\x9f\s\u200b-\u200f\u2028-\u202f\u2060-\u206f\ufeff]+")
_CONTROL_CHARACTERS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_SCHEME = re.compile(r"([a-zA-Z][a-zA-Z0-9+.-]*):")


def class_allowed(name: str) -> bool:
    """Whether one class name is on the allowlist."""
    return name in ALLOWED_CLASSES or _CLASS_PATTERN.fullmatch(name) is not None


def url_allowed(url: str) -> bool:
    """Whether a decoded URL may stay: http, https, mailto, or no scheme at all.

    The check is on the URL without any white space or control character, since
    browsers skip those (``java\\tscript:``) or ignore them at the ends.
    """
    compact = _STRIPPED_FROM_URLS.sub("", url)
    # A colon before the first "/", "?" or "#" makes what precedes it a scheme.
    head = re.split(r"[/?#]", compact, maxsplit=1)[0]
    if ":" not in head:
        return True
    scheme = _SCHEME.match(head)
    return scheme is not None and scheme.end() == head.index(":") + 1 and scheme.group(1).lower() in ALLOWED_SCHEMES


def escape_text(text: str) -> str:
    """Text outside ``<pre>``: only what could start markup; quotes stay as they are, as Zulip writes them."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


_CODE_ESCAPES = {ord("&"): "&amp;", ord("<"): "&lt;", ord(">"): "&gt;", ord('"'): "&quot;", ord("'"): "&#39;"}


def escape_code(text: str) -> str:
    """Text inside ``<pre>``: Pygments' escapes, quotes included, which Zulip's code blocks show."""
    return text.translate(_CODE_ESCAPES)


def escape_attribute(value: str) -> str:
    """An attribute value, always written double-quoted."""
    return escape_text(value).replace('"', "&quot;")


class _Stack:
    """A stack of tag names that answers "is this name on it?" in constant time."""

    def __init__(self) -> None:
        self.names: list[str] = []
        self.counts: dict[str, int] = {}

    def __bool__(self) -> bool:
        return bool(self.names)

    def __len__(self) -> int:
        return len(self.names)

    def __contains__(self, name: str) -> bool:
        return self.counts.get(name, 0) > 0

    def push(self, name: str) -> None:
        self.names.append(name)
        self.counts[name] = self.counts.get(name, 0) + 1

    def pop(self) -> str:
        name = self.names.pop()
        self.counts[name] -= 1
        return name

    def pop_through(self, name: str) -> list[str]:
        """Pops down to and including the innermost ``name``; returns what it popped, innermost first."""
        popped = [self.pop()]
        while popped[-1] != name:
            popped.append(self.pop())
        return popped


class _Cleaner(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.out: list[str] = []
        # Allowed elements written and not yet closed (at most MAX_DEPTH).
        self.open = _Stack()
        # Elements whose content is being dropped.
        self.dropping = _Stack()
        # Allowed elements beyond MAX_DEPTH, whose markup is left out.
        self.too_deep = _Stack()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self._start(tag, attrs, self_closing=False)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self._start(tag, attrs, self_closing=True)

    def _start(self, tag: str, attrs: list[tuple[str, str | None]], *, self_closing: bool) -> None:
        if tag in DROP_CONTENT_TAGS:
            # For script and style the parser itself then passes the content as text until the end tag.
            if not self_closing:
                self.dropping.push(tag)
            return
        if self.dropping or tag not in ALLOWED_TAGS:
            return
        if tag in VOID_TAGS:
            self.out.append(self._tag(tag, attrs))
        elif len(self.open) >= MAX_DEPTH:
            if not self_closing:
                self.too_deep.push(tag)
        elif self_closing:
            self.out.append(self._tag(tag, attrs) + f"</{tag}>")
        else:
            self.out.append(self._tag(tag, attrs))
            self.open.push(tag)

    def handle_endtag(self, tag: str) -> None:
        if self.dropping:
            if tag in self.dropping:
                self.dropping.pop_through(tag)
        elif tag in self.too_deep:
            self.too_deep.pop_through(tag)
        elif tag in self.open:
            self.too_deep = _Stack()  # anything left deeper than tag was never closed
            self.out.extend(f"</{name}>" for name in self.open.pop_through(tag))

    def handle_data(self, data: str) -> None:
        if not self.dropping:
            self.out.append(escape_code(data) if "pre" in self.open else escape_text(data))

    # Comments, doctypes, processing instructions and CDATA sections: dropped.
    def handle_comment(self, data: str) -> None:
        pass

    def handle_decl(self, decl: str) -> None:
        pass

    def handle_pi(self, data: str) -> None:
        pass

    def unknown_decl(self, data: str) -> None:
        pass

    def _tag(self, tag: str, attrs: list[tuple[str, str | None]]) -> str:
        allowed = ALLOWED_ATTRIBUTES[tag]
        parts = [tag]
        seen: set[str] = set()
        for name, raw in attrs:
            if name in seen or name not in allowed:
                continue
            seen.add(name)  # a browser keeps the first of repeated attributes
            value = _CONTROL_CHARACTERS.sub("", raw or "")
            if name in _BOOLEAN_ATTRIBUTES:
                parts.append(name)
                continue
            if name == "class":
                value = " ".join(dict.fromkeys(c for c in value.split() if class_allowed(c)))
                if not value:
                    continue
            elif name in _URL_ATTRIBUTES:
                value = value.strip(" \t\n\r\f")
                if not url_allowed(value):
                    continue
            elif name in _VALUE_FORMS and _VALUE_FORMS[name].fullmatch(value) is None:
                continue
            parts.append(f'{name}="{escape_attribute(value)}"')
        return "<" + " ".join(parts) + ">"

    def finish(self) -> str:
        self.close()
        while self.open:
            self.out.append(f"</{self.open.pop()}>")
        return "".join(self.out)


_COMMENT_CLOSE = re.compile(r"--\s*>")


def _bounded(fragment: str) -> str:
    """The fragment with the constructs that never end made into ones that do.

    ``html.parser`` looks for the end of a comment, a declaration or a tag from each
    place one starts; where there is no end, it goes on one character further and
    looks again, which is quadratic in the length of the input. Here, in one pass:

    - ``<![`` (CDATA and other marked sections) becomes a bogus comment that ends
      at the next ``>``, as in an HTML document;
    - the input ends at the first ``<!--`` that no comment end follows, since a
      browser reads such a comment to the end of the input;
    - after the last ``>``, which ends no tag, every ``<`` is text.
    """
    fragment = fragment.replace("<![", "<!_[")
    last_close = -1
    for match in _COMMENT_CLOSE.finditer(fragment):
        last_close = match.start()
    unclosed = fragment.find("<!--", max(0, last_close - 3))
    if unclosed >= 0:
        fragment = fragment[:unclosed]
    last_gt = fragment.rfind(">")
    return fragment[: last_gt + 1] + fragment[last_gt + 1 :].replace("<", "&lt;")


# What the cleaner writes unchanged: these tags with no attributes, properly nested, and
# text with no markup character but the three escapes it writes itself. Most messages'
# HTML is no more than that; checking so is one regular-expression scan.
_PLAIN_CLEAN_TAGS: Final = frozenset({"p", "strong", "em", "del", "code", "blockquote"})
_PLAIN_CLEAN_TOKENS = re.compile(r"<(/?)(p|strong|em|del|code|blockquote)>|<br>|&(?:amp|lt|gt);|[<>&\x00]")
assert _PLAIN_CLEAN_TAGS | {"br"} <= ALLOWED_TAGS


def _already_clean(fragment: str) -> bool:
    """Whether ``fragment`` is in the form the cleaner would write it in (a sufficient test, not a necessary one)."""
    open_tags: list[str] = []
    for token in _PLAIN_CLEAN_TOKENS.finditer(fragment):
        tag = token.group(2)
        if tag is None:
            if len(token.group(0)) > 1:  # a line break or an escape
                continue
            return False  # a lone markup character, or NUL
        if token.group(1):
            if not open_tags or open_tags.pop() != tag:
                return False
        elif len(open_tags) >= MAX_DEPTH:
            return False
        else:
            open_tags.append(tag)
    return not open_tags


def clean_html(fragment: str) -> str:
    """The fragment with everything not on the allowlist taken out.

    Allowed tags keep their allowed attributes (per tag), their allowed classes,
    and ``href``/``src`` only with an allowed scheme. Other tags lose their markup
    and keep their text, except the ``DROP_CONTENT_TAGS``, whose content goes too.
    The result is well-formed, and ``clean_html`` of it is the same string.
    """
    if _already_clean(fragment):
        return fragment
    return _rewrite(fragment)


def _rewrite(fragment: str) -> str:
    """``clean_html`` the long way: parsed, and written out again from the tokens."""
    cleaner = _Cleaner()
    cleaner.feed(_bounded(fragment))
    return cleaner.finish()
