"""The HTML allowlist: an XSS corpus, unit tests and property tests.

The corpus checks use their own parse of the output (``html.parser`` here, not the
sanitizer's code) and their own idea of what is dangerous, so a mistake in the
allowlist's tables cannot hide itself.
"""

from __future__ import annotations

import dataclasses
import html
import re
import unicodedata
from html.parser import HTMLParser
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from zulipd.render import allowlist, render_message
from zulipd.render.allowlist import (
    ALLOWED_ATTRIBUTES,
    ALLOWED_TAGS,
    MAX_DEPTH,
    class_allowed,
    clean_html,
    url_allowed,
)
from zulipd.render.context import EMPTY_CONTEXT
from zulipd.render.markdown import render_markdown

VECTORS_FILE = Path(__file__).parent / "fixtures" / "xss_vectors.txt"


def load_vectors() -> list[str]:
    vectors = []
    for line in VECTORS_FILE.read_text(encoding="utf-8").splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        vectors.append(re.sub(r"\{U\+([0-9A-F]{4})\}", lambda m: chr(int(m.group(1), 16)), line))
    return vectors


VECTORS = load_vectors()


def words(text: str) -> frozenset[str]:
    return frozenset(text.split())


# What must never come out, judged independently of the allowlist's own tables.
FORBIDDEN_TAGS = words(
    """
    script style iframe object embed applet base link meta form input button select textarea
    svg template frame frameset noscript noembed noframes xmp plaintext title head body html
    xml isindex bgsound keygen param source track annotation-xml foreignobject use image set animate
    """
)
FORBIDDEN_ATTRIBUTES = words(
    """
    style srcdoc srcset action formaction background dynsrc lowsrc poster data codebase classid
    xlink:href xmlns:xlink http-equiv content target ping id name autofocus
    """
)
URL_ATTRIBUTES = ("href", "src")
SAFE_SCHEMES = ("http", "https", "mailto")
VOID = frozenset({"br", "hr", "img"})


@dataclasses.dataclass
class Parsed:
    starts: list[tuple[str, list[tuple[str, str | None]]]] = dataclasses.field(default_factory=list)
    others: list[str] = dataclasses.field(default_factory=list)  # comments, declarations, PIs
    problems: list[str] = dataclasses.field(default_factory=list)  # well-formedness
    max_depth: int = 0


class _Reader(HTMLParser):
    """Reads output back: every tag, attribute and structural problem."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parsed = Parsed()
        self.stack: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.parsed.starts.append((tag, attrs))
        if tag not in VOID:
            self.stack.append(tag)
            self.parsed.max_depth = max(self.parsed.max_depth, len(self.stack))

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.parsed.starts.append((tag, attrs))
        self.parsed.problems.append(f"self-closing <{tag}/>")

    def handle_endtag(self, tag: str) -> None:
        if tag in VOID:
            self.parsed.problems.append(f"end tag for void {tag}")
        elif not self.stack or self.stack[-1] != tag:
            self.parsed.problems.append(f"</{tag}> does not close {self.stack[-1:]}")
        else:
            self.stack.pop()

    def handle_comment(self, data: str) -> None:
        self.parsed.others.append("comment " + data)

    def handle_decl(self, decl: str) -> None:
        self.parsed.others.append("declaration " + decl)

    def handle_pi(self, data: str) -> None:
        self.parsed.others.append("pi " + data)

    def unknown_decl(self, data: str) -> None:
        self.parsed.others.append("marked section " + data)


def read(output: str) -> Parsed:
    reader = _Reader()
    reader.feed(output)
    reader.close()
    if reader.stack:
        reader.parsed.problems.append(f"unclosed {reader.stack}")
    if reader.rawdata:
        reader.parsed.problems.append(f"unparsed {reader.rawdata!r}")
    return reader.parsed


def url_scheme(value: str) -> str | None:
    """The scheme a browser would see, after decoding and dropping white space and controls."""
    compact = "".join(
        c for c in value if not (c.isspace() or unicodedata.category(c) in ("Cc", "Cf", "Zs", "Zl", "Zp"))
    )
    match = re.match(r"([a-zA-Z][a-zA-Z0-9+.\-]*):", compact)
    if match is not None:
        return match.group(1).lower()
    before = re.split(r"[/?#]", compact, maxsplit=1)[0]
    return "?" if ":" in before else None


def assert_safe(output: str) -> None:
    """No dangerous tag, attribute or URL in the output, and it is well-formed."""
    parsed = read(output)
    assert not parsed.problems, (output, parsed.problems)
    assert not parsed.others, (output, parsed.others)
    for tag, attrs in parsed.starts:
        assert tag not in FORBIDDEN_TAGS, (output, tag)
        for name, value in attrs:
            assert not name.startswith("on"), (output, name)
            assert name not in FORBIDDEN_ATTRIBUTES, (output, name)
            if name in URL_ATTRIBUTES:
                assert value is not None
                # Decoded once by the parser; decode again in case a consumer double-decodes.
                for candidate in (value, html.unescape(value)):
                    scheme = url_scheme(candidate)
                    assert scheme is None or scheme in SAFE_SCHEMES, (output, name, value)


def assert_allowlisted(output: str) -> None:
    """Every tag, attribute, class and URL scheme in the output is on the allowlist."""
    for tag, attrs in read(output).starts:
        assert tag in ALLOWED_TAGS, (output, tag)
        for name, value in attrs:
            assert name in ALLOWED_ATTRIBUTES[tag], (output, tag, name)
            if name == "class":
                assert value, (output, "empty class")
                assert all(class_allowed(c) for c in value.split()), (output, value)
            if name in URL_ATTRIBUTES:
                assert value is not None
                assert url_scheme(value) in (None, *SAFE_SCHEMES), (output, value)


# --- the checks themselves must be able to fail


@pytest.mark.parametrize(
    "unsafe",
    [
        "<script>alert(1)</script>",
        '<img src="x" onerror="alert(1)">',
        '<a href="jav&#x09;ascript:alert(1)">x</a>',
        '<a href="&#x6A;avascript:alert(1)">x</a>',
        '<a href="&amp;#x6A;avascript:alert(1)">x</a>',
        '<a href="java\u200bscript:alert(1)">x</a>',
        '<img src="data:image/svg+xml,x">',
        '<div style="x">y</div>',
        '<iframe srcdoc="x"></iframe>',
        "<p><span>x</p></span>",
        "<p>unclosed",
        "<br/>",
        "<!-- x -->",
    ],
)
def test_the_safety_check_rejects_unsafe_output(unsafe: str) -> None:
    with pytest.raises(AssertionError):
        assert_safe(unsafe)


@pytest.mark.parametrize(
    "outside",
    ["<b>x</b>", '<span class="evil">x</span>', '<a href="ftp://x">y</a>', '<p title="x">y</p>'],
)
def test_the_allowlist_check_rejects_what_is_not_listed(outside: str) -> None:
    with pytest.raises(AssertionError):
        assert_allowlisted(outside)


# --- the corpus


def test_corpus_has_at_least_150_distinct_vectors() -> None:
    assert len(VECTORS) >= 150
    assert len(set(VECTORS)) == len(VECTORS)


@pytest.mark.parametrize("vector", VECTORS)
def test_vector_cleaned_as_html(vector: str) -> None:
    output = clean_html(vector)
    assert_safe(output)
    assert_allowlisted(output)
    assert clean_html(output) == output


@pytest.mark.parametrize("vector", VECTORS)
def test_vector_inside_allowed_markup(vector: str) -> None:
    output = clean_html(f'<p><span class="user-mention" data-user-id="4">{vector}</span> after</p>')
    assert_safe(output)
    assert_allowlisted(output)


@pytest.mark.parametrize("vector", VECTORS)
def test_vector_as_message_content(vector: str) -> None:
    output = render_message(vector).html
    assert_safe(output)
    assert_allowlisted(output)
    # Raw HTML is text in Zulip's Markdown: none of the vector's own tags becomes an element.
    written = {tag for tag, _ in read(output).starts}
    assert written <= MARKDOWN_TAGS, written - MARKDOWN_TAGS


# What the Markdown renderer writes for content without mentions (the rest is the vector's text).
MARKDOWN_TAGS = words("p br strong em del code pre div span blockquote ul ol li h1 h2 h3 h4 h5 h6 hr a time")


# --- the allowlist keeps Zulip's markup as it is

ZULIP_MARKUP = [
    '<p>Hi <span class="user-mention" data-user-id="8">@King Hamlet</span></p>',
    '<p><span class="user-mention silent" data-user-id="8">King Hamlet</span></p>',
    '<p><span class="user-group-mention" data-user-group-id="12">@support</span></p>',
    '<p><span class="user-mention channel-wildcard-mention" data-user-id="*">@all</span></p>',
    '<p><span class="topic-mention">@topic</span></p>',
    '<p><a class="stream" data-stream-id="3" href="/#narrow/channel/3-Denmark">#Denmark</a></p>',
    '<p><a class="stream-topic" data-stream-id="3" href="/#narrow/channel/3-Denmark/topic/castle">'
    "#Denmark &gt; castle</a></p>",
    '<p><a class="message-link" href="/#narrow/channel/3-Denmark/topic/castle/near/42">'
    "#Denmark &gt; castle @ 💬</a></p>",
    '<div class="codehilite" data-code-language="Python"><pre><span></span><code><span class="k">def</span> '
    '<span class="nf">f</span><span class="p">():</span>\n    <span class="k">return</span> '
    '<span class="mi">1</span>\n</code></pre></div>',
    '<div class="message_inline_image"><a href="/user_uploads/2/ab/cat.png" title="cat.png">'
    '<img data-original-content-type="image/png" data-original-dimensions="640x480" '
    'src="/user_uploads/thumbnail/2/ab/cat.png/840x560.webp"></a></div>',
    '<div class="message_inline_image"><a href="https://example.com/a.jpg"><img src="https://example.com/a.jpg"></a>'
    "</div>",
    '<p><span aria-label="smile" class="emoji emoji-1f642" role="img" title="smile">:smile:</span></p>',
    '<p><span aria-label="family" class="emoji emoji-1f468-200d-1f469-200d-1f467" role="img" title="family">'
    ":family:</span></p>",
    '<p><img alt=":green_tick:" class="emoji" src="/user_avatars/2/emoji/images/1.png" title="green tick"></p>',
    '<div class="spoiler-block"><div class="spoiler-header">\n<p>Header</p>\n</div>'
    '<div class="spoiler-content" aria-hidden="true">\n<p>Hidden</p>\n</div></div>',
    '<p><time datetime="2024-02-13T21:00:00Z">1707858000</time></p>',
    "<blockquote>\n<p>quoted</p>\n</blockquote>",
    '<ol start="3">\n<li>three</li>\n</ol>\n'
    "<ul>\n<li><strong>a</strong> <em>b</em> <del>c</del> <code>d</code></li>\n</ul>",
    "<table>\n<thead>\n<tr>\n<th>a</th>\n</tr>\n</thead>\n<tbody>\n<tr>\n<td>1</td>\n</tr>\n</tbody>\n</table>",
    "<h1>one</h1><h6>six</h6><hr><p>a<br>\nb</p>",
    '<p><a href="https://zulip.com/">https://zulip.com/</a> <a href="mailto:a@example.com">mail</a></p>',
    '<p><span class="katex"><span class="katex-mathml"><math xmlns="http://www.w3.org/1998/Math/MathML">'
    '<semantics><mrow><mi>x</mi><mo>+</mo><mn>1</mn></mrow><annotation encoding="application/x-tex">x+1'
    '</annotation></semantics></math></span><span aria-hidden="true" class="katex-html"><span class="base">'
    '<span class="mord mathnormal">x</span></span></span></span></p>',
    '<div class="youtube-video message_inline_image"><a data-id="dQw4w9WgXcQ" '
    'href="https://www.youtube.com/watch?v=dQw4w9WgXcQ"><img src="https://i.ytimg.com/vi/dQw4w9WgXcQ/default.jpg">'
    "</a></div>",
    '<div class="message_inline_image message_inline_video"><a href="/user_uploads/1/v.mp4" title="v.mp4">'
    '<video preload="metadata" src="/user_uploads/1/v.mp4"></video></a></div>',
    '<p><audio controls preload="metadata" src="/user_uploads/1/a.mp3" title="a.mp3"></audio></p>',
]


@pytest.mark.parametrize("markup", ZULIP_MARKUP)
def test_zulip_markup_passes_unchanged(markup: str) -> None:
    assert clean_html(markup) == markup


def test_every_pygments_token_class_is_allowed() -> None:
    token = pytest.importorskip("pygments.token")
    classes = {name for name in token.STANDARD_TYPES.values() if name}
    assert classes
    assert {name for name in classes if not class_allowed(name)} == set()


@pytest.mark.parametrize(
    ("dirty", "clean"),
    [
        (
            '<span class="user-mention" data-user-id="4" onclick="x()" style="color:red" id="me">@a</span>',
            '<span class="user-mention" data-user-id="4">@a</span>',
        ),
        ('<span class="user-mention evil silent">a</span>', '<span class="user-mention silent">a</span>'),
        ('<span class="evil other">a</span>', "<span>a</span>"),
        ('<span class="emoji emoji-xyz emoji-1F600">a</span>', '<span class="emoji">a</span>'),
        ('<span data-user-id="4 x" class="user-mention">a</span>', '<span class="user-mention">a</span>'),
        ('<a href="/x" title="t" rel="noopener" target="_blank">a</a>', '<a href="/x" title="t">a</a>'),
        ('<p align="center" title="t">a</p>', "<p>a</p>"),
        ('<img src="/a.png" width="1" onload="x">', '<img src="/a.png">'),
        ('<time datetime="tomorrow">x</time>', "<time>x</time>"),
        ('<a href="x" href="javascript:y">a</a>', '<a href="x">a</a>'),
        ('<a href=" https://x.test/ ">a</a>', '<a href="https://x.test/">a</a>'),
        ("<b>bold</b> <i>it</i> <u>u</u>", "bold it u"),
        ("<script>alert(1)</script>after", "after"),
        ("<iframe>inner <b>x</b></iframe>after", "after"),
        ("<svg><p>x</p></svg><p>y</p>", "<p>y</p>"),
        ("<object><object>a</object>b</object>c", "c"),
        ("<embed src=x>after", "after"),
        ("<!-- note -->a<!doctype html>b<?pi x?>c", "abc"),
        ("<![CDATA[x]]>y", "y"),
        ("<![CDATA[a>b]]>c", "b]]&gt;c"),
        ("x<!-- never closed <p>y</p>", "x"),
    ],
)
def test_disallowed_markup_is_taken_out(dirty: str, clean: str) -> None:
    assert clean_html(dirty) == clean


@pytest.mark.parametrize(
    ("text", "escaped"),
    [
        ("<p>5 > 3 & 2 < 4</p>", "<p>5 &gt; 3 &amp; 2 &lt; 4</p>"),
        ("<p>&lt;b&gt; &amp;amp; &#39; &quot;</p>", "<p>&lt;b&gt; &amp;amp; ' \"</p>"),
        ("<p>\"quotes\" and 'apostrophes'</p>", "<p>\"quotes\" and 'apostrophes'</p>"),
        ("<pre>'a' \"b\" &amp;</pre>", "<pre>&#39;a&#39; &quot;b&quot; &amp;</pre>"),
        ('<a title="a &quot;b&quot; <c>" href="/">x</a>', '<a title="a &quot;b&quot; &lt;c&gt;" href="/">x</a>'),
        ("a < b", "a &lt; b"),
        ("tail <a href", "tail &lt;a href"),
    ],
)
def test_text_and_attribute_values_are_escaped(text: str, escaped: str) -> None:
    assert clean_html(text) == escaped


@pytest.mark.parametrize(
    ("broken", "fixed"),
    [
        ("<p>a <strong>b <em>c", "<p>a <strong>b <em>c</em></strong></p>"),
        ("<strong><em>x</strong>y</em>", "<strong><em>x</em></strong>y"),
        ("</p></div>stray", "stray"),
        ("<br/><br></br><hr/>", "<br><br><hr>"),
        ('<img src="/a.png"></img>', '<img src="/a.png">'),
        ("<span/>x", "<span></span>x"),
    ],
)
def test_output_is_well_formed(broken: str, fixed: str) -> None:
    assert clean_html(broken) == fixed
    assert not read(clean_html(broken)).problems


@pytest.mark.parametrize(
    "url",
    [
        "https://example.com/",
        "http://example.com/a?b=c#d",
        "HTTPS://EXAMPLE.COM/",
        "mailto:a@example.com",
        "/user_uploads/1/a.png",
        "#narrow/channel/1-x",
        "?q=1",
        "relative/path:with-colon",
        "./a:b",
        "//example.com/protocol-relative",
        "",
    ],
)
def test_allowed_urls(url: str) -> None:
    assert url_allowed(url)


@pytest.mark.parametrize(
    "url",
    [
        "javascript:alert(1)",
        "JavaScript:alert(1)",
        " javascript:alert(1)",
        "\x01javascript:alert(1)",
        "java\tscript:alert(1)",
        "java\nscript:alert(1)",
        "java\x00script:alert(1)",
        "java\u200bscript:alert(1)",
        "javascript\u00ad:alert(1)",
        "vbscript:msgbox(1)",
        "data:text/html,x",
        "file:///etc/passwd",
        "ftp://example.com/",
        "%6Aavascript:alert(1)",
        "x:y",
        "a b:c",
    ],
)
def test_rejected_urls(url: str) -> None:
    assert not url_allowed(url)


# --- bounds


def test_deep_nesting_is_capped_and_keeps_the_text() -> None:
    depth = 10 * MAX_DEPTH
    output = clean_html("<span>" * depth + "deep" + "</span>" * depth + "<p>after</p>")
    parsed = read(output)
    assert parsed.max_depth == MAX_DEPTH
    assert not parsed.problems
    assert "deep" in output
    assert output.endswith("<p>after</p>")


def test_deep_nesting_that_never_closes() -> None:
    output = clean_html("<blockquote><div>" * 5000 + "x")
    parsed = read(output)
    assert parsed.max_depth == MAX_DEPTH
    assert not parsed.problems
    assert output.count("x") == 1


@pytest.mark.parametrize(
    "unit",
    [
        "<span>",
        "<!--",
        "<a ",
        "<![CDATA[",
        "</",
        "<",
        "&#x6A;",
        "<!-->",
        '<a title="',
        "<object>",
        '<p class="emoji">x</p>\n',
    ],
)
def test_a_megabyte_of_pathological_input_completes(unit: str) -> None:
    fragment = unit * (1_000_000 // len(unit))
    output = clean_html(fragment)
    assert_safe(output)
    # Escaping can grow text, but never past a few times the input.
    assert len(output) <= 6 * len(fragment)


# --- render_message


@pytest.mark.parametrize(
    "content",
    [
        "hello",
        "Hello <b>",
        "a & b < c > d \"e\" 'f'",
        "first paragraph\n\nsecond\nline",
        "<script>alert(1)</script>",
        "&lt;already escaped&gt; &amp; &#39;",
        "tabs\tand \x00 and \r\n and \x0c",
        "<!-- not a comment -->",
        "https://example.com/a.png",
    ],
)
def test_render_message_output_is_unchanged_by_the_allowlist(content: str) -> None:
    assert render_message(content).html == render_markdown(content, EMPTY_CONTEXT)[0]


def test_render_message_escapes_markup() -> None:
    assert render_message("Hi <b>you</b> & 'me'\nbye").html == ("<p>Hi &lt;b&gt;you&lt;/b&gt; &amp; 'me'<br>\nbye</p>")


# --- properties

PROPERTY_SETTINGS = settings(
    max_examples=300,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)

FRAGMENTS = st.sampled_from(
    [
        "<",
        ">",
        "</",
        "/>",
        "=",
        '"',
        "'",
        "`",
        " ",
        "\t",
        "\n",
        "\x00",
        "&",
        "&#",
        "&#x",
        ";",
        "<!--",
        "-->",
        "--!>",
        "<![CDATA[",
        "]]>",
        "<!doctype html>",
        "<?",
        "<script>",
        "</script>",
        "<style>",
        "<svg>",
        "<math>",
        "<iframe",
        "<img",
        "<a",
        "<span",
        "<p>",
        "</p>",
        "<div",
        "</div>",
        "<br>",
        "<code>",
        " href=",
        " src=",
        " class=",
        " style=",
        " onerror=",
        " onclick=",
        " srcdoc=",
        " data-user-id=",
        " title=",
        "javascript:",
        "java&#x09;script:",
        "&#106;avascript:",
        "vbscript:",
        "data:",
        "http://",
        "https:",
        "mailto:",
        "//",
        "user-mention",
        "emoji emoji-1f600",
        "codehilite",
        "alert(1)",
    ]
)
HTMLISH = st.lists(st.one_of(FRAGMENTS, st.text(max_size=4)), max_size=40).map("".join)

TAG_NAMES = st.sampled_from(sorted(ALLOWED_TAGS | FORBIDDEN_TAGS | {"b", "x-y", "SCRIPT", "Img", "scr\x00ipt"}))
ATTR_NAMES = st.sampled_from(
    sorted({a for attrs in ALLOWED_ATTRIBUTES.values() for a in attrs} | FORBIDDEN_ATTRIBUTES | {"onload", "OnError"})
)
ATTR_VALUES = st.one_of(
    st.sampled_from(
        [
            "javascript:alert(1)",
            "JaVa&#x0A;ScRiPt:x",
            "data:text/html,x",
            "/x",
            "https://x.test/",
            "user-mention x",
            "4",
        ]
    ),
    st.text(max_size=12),
)
QUOTES = st.sampled_from(['"', "'", ""])


@st.composite
def elements(draw: st.DrawFn) -> str:
    parts = []
    for _ in range(draw(st.integers(min_value=1, max_value=8))):
        tag = draw(TAG_NAMES)
        attrs = "".join(
            f" {name}={quote}{value}{quote}"
            for name, value, quote in draw(st.lists(st.tuples(ATTR_NAMES, ATTR_VALUES, QUOTES), max_size=4))
        )
        text = draw(st.text(max_size=8))
        close = draw(st.booleans())
        parts.append(f"<{tag}{attrs}>{text}" + (f"</{tag}>" if close else ""))
    return "".join(parts)


@PROPERTY_SETTINGS
@given(st.text())
def test_property_arbitrary_text(text: str) -> None:
    output = clean_html(text)
    assert_safe(output)
    assert_allowlisted(output)
    assert clean_html(output) == output


@PROPERTY_SETTINGS
@given(HTMLISH)
def test_property_htmlish_strings(fragment: str) -> None:
    output = clean_html(fragment)
    assert_safe(output)
    assert_allowlisted(output)
    assert clean_html(output) == output


@PROPERTY_SETTINGS
@given(elements())
def test_property_tags_and_attributes(fragment: str) -> None:
    output = clean_html(fragment)
    assert_safe(output)
    assert_allowlisted(output)
    assert clean_html(output) == output


@PROPERTY_SETTINGS
@given(st.one_of(st.text(), HTMLISH))
def test_property_render_message(content: str) -> None:
    output = render_message(content).html
    assert output == render_markdown(content, EMPTY_CONTEXT)[0]
    assert_safe(output)
    assert_allowlisted(output)


_PLAIN_PIECES = [
    "<p>", "</p>", "<strong>", "</strong>", "<em>", "</em>", "<del>", "</del>", "<code>", "</code>",
    "<blockquote>", "</blockquote>", "<br>", "&amp;", "&lt;", "&gt;", "&quot;", "&#39;", "&", "<", ">", "\x00",
    "a", " ", "\n", '"', "'", "é", "<P>", "<pre>", "</pre>", "<br/>", "<p >", "<script>", "</script>", "<!--",
    "-->", "<![CDATA[", "&amp", "&#x3c;", "javascript:", "<a href='x'>", "</a>", "<span>", "\r",
]  # fmt: skip


@settings(max_examples=3000, deadline=None)
@given(st.lists(st.sampled_from(_PLAIN_PIECES), max_size=14))
def test_markup_taken_as_already_clean_is_what_the_cleaner_writes(pieces: list[str]) -> None:
    fragment = "".join(pieces)
    if allowlist._already_clean(fragment):
        assert allowlist._rewrite(fragment) == fragment
    assert clean_html(fragment) == allowlist._rewrite(fragment)


def test_plain_message_markup_is_taken_as_already_clean() -> None:
    for fragment in (
        "<p>hello</p>",
        "<p>fish &amp; chips<br>\n<strong>now</strong> &lt;3 &gt;</p>",
        "<blockquote>\n<p><em>quoted</em> <del>old</del> <code>x = 1</code></p>\n</blockquote>",
    ):
        assert allowlist._already_clean(fragment), fragment
    too_deep = "<p>" * (MAX_DEPTH + 1) + "</p>" * (MAX_DEPTH + 1)
    unclean = ["<p>open", "<p><em>crossed</p></em>", "</p>", "a & b", "1 > 0", "<p>x</p>\x00", '<p class="x">y</p>']
    for fragment in [*unclean, "<script>alert(1)</script>", "&quot;", too_deep]:
        assert not allowlist._already_clean(fragment), fragment
