# ruff: noqa: E501  (expected HTML is kept on one line per case, as Zulip writes it)
"""Zulip's Markdown dialect: exact output for each construct, and what a message mentions.

Expected outputs are the HTML Zulip 10.2 renders for the same input (its own
test cases and documented markup), except where the docs say zulipd differs.
"""

from __future__ import annotations

import pytest

from zulipd.render import render_message, warm_up
from zulipd.render.context import (
    CustomEmoji,
    LinkableStream,
    MentionableGroup,
    MentionableUser,
    RenderContext,
    possible_references,
)
from zulipd.render.linkifiers import Linkifier, bare_url_pattern
from zulipd.render.markdown import parse_time, without_code_blocks

HAMLET = MentionableUser(10, "King Hamlet")
OTHELLO = MentionableUser(11, "Othello, the Moor of Venice")
TWIN_A = MentionableUser(20, "Twin")
TWIN_B = MentionableUser(21, "Twin")
SUPPORT = MentionableGroup(30, "support")
DENMARK = LinkableStream(1, "Denmark")
VERONA = LinkableStream(5, "Verona city")
PARTY = CustomEmoji(7, "party_parrot", "/user_avatars/2/emoji/images/7.gif")

CONTEXT = RenderContext(
    realm_url="http://zulip.testserver",
    users_by_name={
        "king hamlet": [HAMLET],
        "othello, the moor of venice": [OTHELLO],
        "twin": [TWIN_B, TWIN_A],
    },
    users_by_id={user.id: user for user in (HAMLET, OTHELLO, TWIN_A, TWIN_B)},
    groups_by_name={"support": SUPPORT},
    streams_by_name={"Denmark": DENMARK, "Verona city": VERONA},
    topic_message_ids={(1, "some topic"): 42},
    custom_emoji={"party_parrot": PARTY},
    linkifiers=(Linkifier(1, r"#(?P<id>[0-9]{2,8})", "https://trac.example.com/ticket/{id}"),),
)


def html(content: str, context: RenderContext = CONTEXT) -> str:
    return render_message(content, context).html


CASES = {
    # Paragraphs and line breaks
    "plain": ("test_input", "<p>test_input</p>"),
    "apostrophe": ("it's lunch time", "<p>it's lunch time</p>"),
    "newline is a break": ("a\nb", "<p>a<br>\nb</p>"),
    "paragraphs": ("one\n\ntwo", "<p>one</p>\n<p>two</p>"),
    "entities stay text": ("& &amp; &amp;amp;", "<p>&amp; &amp;amp; &amp;amp;amp;</p>"),
    "raw html is escaped": (
        "<b>hi</b> <script>x</script>",
        "<p>&lt;b&gt;hi&lt;/b&gt; &lt;script&gt;x&lt;/script&gt;</p>",
    ),
    "html inside emphasis": ("*<h1>Hello world</h1>*", "<p><em>&lt;h1&gt;Hello world&lt;/h1&gt;</em></p>"),
    # Emphasis
    "em": ("*foo*", "<p><em>foo</em></p>"),
    "em with spaces": ("A *foo bar* is a *baz quux*", "<p>A <em>foo bar</em> is a <em>baz quux</em></p>"),
    "strong": ("**foo**", "<p><strong>foo</strong></p>"),
    "strong em": ("***foo***", "<p><strong><em>foo</em></strong></p>"),
    "pointer stars are text": ("const char *x = (char *)y", "<p>const char *x = (char *)y</p>"),
    "underscore em disabled": ("_foo_", "<p>_foo_</p>"),
    "underscore strong disabled": ("__foo__", "<p>__foo__</p>"),
    "snake_case": ("call my_function_name now", "<p>call my_function_name now</p>"),
    # Strikethrough
    "strike": ("I like ~~software~~ hardware", "<p>I like <del>software</del> hardware</p>"),
    "strike words": ("I ~~like software~~ love hardware", "<p>I <del>like software</del> love hardware</p>"),
    "strike spaces": ("I ~~ like software ~~ love hardware", "<p>I <del> like software </del> love hardware</p>"),
    "strike link": (
        "~~test http://xx.xx link~~",
        '<p><del>test <a href="http://xx.xx">http://xx.xx</a> link</del></p>',
    ),
    # Headings
    "h1": ("# Hello world", "<h1>Hello world</h1>"),
    "h1 spaces": ("#  Hello world", "<h1>Hello world</h1>"),
    "h6": ("###### Hello world", "<h6>Hello world</h6>"),
    "h7 is text": ("####### Hello world", "<p>####### Hello world</p>"),
    "heading needs a space": ("#Hello world", "<p>#Hello world</p>"),
    "no setext heading": ("Title\n===", "<p>Title<br>\n===</p>"),
    # Lists
    "bullets *": (
        "Some text with a list:\n\n* One item\n* Two items",
        "<p>Some text with a list:</p>\n<ul>\n<li>One item</li>\n<li>Two items</li>\n</ul>",
    ),
    "bullets -": ("- One item\n- Two items", "<ul>\n<li>One item</li>\n<li>Two items</li>\n</ul>"),
    "bullets +": ("+ One item\n+ Two items", "<ul>\n<li>One item</li>\n<li>Two items</li>\n</ul>"),
    "hanging list": (
        "Some text with a hanging list:\n* One item\n* Two items",
        "<p>Some text with a hanging list:</p>\n<ul>\n<li>One item</li>\n<li>Two items</li>\n</ul>",
    ),
    "loose list": ("* Alpha\n\n* Beta", "<ul>\n<li>\n<p>Alpha</p>\n</li>\n<li>\n<p>Beta</p>\n</li>\n</ul>"),
    "nested bullets": (
        "Nested list\n* I am outer list\n  * I am inner nested list first item\n  * I am inner nested list second item",
        "<p>Nested list</p>\n<ul>\n<li>I am outer list<ul>\n<li>I am inner nested list first item</li>\n"
        "<li>I am inner nested list second item</li>\n</ul>\n</li>\n</ul>",
    ),
    "ordered": ("1. A\n2. B", "<ol>\n<li>A</li>\n<li>B</li>\n</ol>"),
    "ordered start": (
        "3. A\n3. B\n3. C\n3. D",
        '<ol start="3">\n<li>A</li>\n<li>B</li>\n<li>C</li>\n<li>D</li>\n</ol>',
    ),
    "ordered nests by two spaces": (
        "This is a heavily nested OL\n1. level-1\n  2. level-2\n    3. level-3\n    3. level-3a\n  2. level-2a\n2. level-1a\n",
        '<p>This is a heavily nested OL</p>\n<ol>\n<li>level-1<ol start="2">\n<li>level-2<ol start="3">\n<li>level-3</li>\n'
        "<li>level-3a</li>\n</ol>\n</li>\n<li>level-2a</li>\n</ol>\n</li>\n<li>level-1a</li>\n</ol>",
    ),
    "numbered list nested": (
        "1. A\n2. B\n  3. C",
        '<ol>\n<li>A</li>\n<li>B<ol start="3">\n<li>C</li>\n</ol>\n</li>\n</ol>',
    ),
    "renumbered nested": (
        "1. A\n1. B\n  1. C\n1. D",
        "<ol>\n<li>A</li>\n<li>B<ol>\n<li>C</li>\n</ol>\n</li>\n<li>D</li>\n</ol>",
    ),
    "two renumbered lists": (
        "1. A\n3. B\n  2. C\n1. D",
        '<ol>\n<li>A</li>\n<li>B<ol start="2">\n<li>C</li>\n</ol>\n</li>\n<li>D</li>\n</ol>',
    ),
    "ordered list after a line": ("Steps:\n3. c\n4. d", '<p>Steps:</p>\n<ol start="3">\n<li>c</li>\n<li>d</li>\n</ol>'),
    "indented list is code": (
        "para:\n\n    1. list-1\n    2. list-2\n      1. list-2a\n    3. list-3\n",
        '<p>para:</p>\n<div class="codehilite"><pre><span></span><code>1. list-1\n2. list-2\n  1. list-2a\n3. list-3\n'
        "</code></pre></div>",
    ),
    "list in a quote": (
        "```quote\nSome text with a hanging list inside quote:\n* one\n* two\n```",
        "<blockquote>\n<p>Some text with a hanging list inside quote:</p>\n<ul>\n<li>one</li>\n<li>two</li>\n</ul>\n</blockquote>",
    ),
    # Code
    "inline code": ("`<&nbsp;>`", "<p><code>&lt;&amp;nbsp;&gt;</code></p>"),
    "inline code keeps spaces": (
        "` outer ` ```    space    ```",
        "<p><code> outer </code> <code>    space    </code></p>",
    ),
    "inline code keeps stars": ("Then ````y = 4 + x**2```` and", "<p>Then <code>y = 4 + x**2</code> and</p>"),
    "fence tilde": ("~~~~\nx = 1\n~~~~", '<div class="codehilite"><pre><span></span><code>x = 1\n</code></pre></div>'),
    "fence backtick": (
        "\n```\nfenced code\n```\n\n```inline code```\n",
        '<div class="codehilite"><pre><span></span><code>fenced code\n</code></pre></div>\n<p><code>inline code</code></p>',
    ),
    "fence python": (
        "Hamlet said:\n~~~~.python \ndef speak(self):\n    x = 1\n~~~~",
        '<p>Hamlet said:</p>\n<div class="codehilite" data-code-language="Python"><pre><span></span><code>'
        '<span class="k">def</span> <span class="nf">speak</span><span class="p">(</span><span class="bp">self</span>'
        '<span class="p">):</span>\n    <span class="n">x</span> <span class="o">=</span> <span class="mi">1</span>\n'
        "</code></pre></div>",
    ),
    "fence alias": (
        "``` py2\nx\n```",
        '<div class="codehilite" data-code-language="Python 2.x"><pre><span></span><code><span class="n">x</span>\n</code></pre></div>',
    ),
    "fence invented language": (
        "``` inventedlanguage\ndef speak(self):\n    x = 1\n```",
        '<div class="codehilite" data-code-language="inventedlanguage"><pre><span></span><code>def speak(self):\n    x = 1\n</code></pre></div>',
    ),
    "fence escapes quotes": (
        "```\ndef hello(): print 'hello\"\n```",
        '<div class="codehilite"><pre><span></span><code>def hello(): print &#39;hello&quot;\n</code></pre></div>',
    ),
    "fence trailing space": (
        "~~~~\ndef func():\n    y = 2\t\t\n\n    z = 3       \n~~~~",
        '<div class="codehilite"><pre><span></span><code>def func():\n    y = 2\n\n    z = 3\n</code></pre></div>',
    ),
    "unclosed fence": (
        "~~~~\ndef foobar(self):\n    return self.baz()",
        '<div class="codehilite"><pre><span></span><code>def foobar(self):\n    return self.baz()\n</code></pre></div>',
    ),
    "fenced list is code": (
        "~~~\nint x = 3\n* 4;\n~~~",
        '<div class="codehilite"><pre><span></span><code>int x = 3\n* 4;\n</code></pre></div>',
    ),
    "indented code": (
        "    def foo(): pass",
        '<div class="codehilite"><pre><span></span><code>def foo(): pass\n</code></pre></div>',
    ),
    "two spaces is no code": ("  notcode", "<p>notcode</p>"),
    "malformed fence": (
        "~~~~~~~~xxxxxxxxx:  xxxxxxxxxxxx xxxxx~~~~~~",
        "<p>~~~~~~~~xxxxxxxxx:  xxxxxxxxxxxx xxxxx~~~~~~</p>",
    ),
    # Quotes and spoilers
    "quote": (
        "> Hello World!\n\n> Hello Universe!",
        "<blockquote>\n<p>Hello World!</p>\n</blockquote>\n<blockquote>\n<p>Hello Universe!</p>\n</blockquote>",
    ),
    "empty quote": (">", "<p>&gt;</p>"),
    "nested empty quotes": (
        ">>>>>",
        "<blockquote>\n<blockquote>\n<blockquote>\n<blockquote>\n<p>&gt;</p>\n</blockquote>\n</blockquote>\n</blockquote>\n</blockquote>",
    ),
    "fenced quote": (
        "Hamlet said:\n~~~ quote\nTo be or **not** to be.\n\nThat is the question\n~~~",
        "<p>Hamlet said:</p>\n<blockquote>\n<p>To be or <strong>not</strong> to be.</p>\n<p>That is the question</p>\n</blockquote>",
    ),
    "fenced quote heading": (
        "```quote\n# line 1\n#line 2\n```",
        "<blockquote>\n<h1>line 1</h1>\n<p>#line 2</p>\n</blockquote>",
    ),
    "fenced quote then quote": (
        "```quote\nText in\nmultiple lines.\n```\n\n> Text in a single line.",
        "<blockquote>\n<p>Text in<br>\nmultiple lines.</p>\n</blockquote>\n<blockquote>\n<p>Text in a single line.</p>\n</blockquote>",
    ),
    "spoiler": (
        "```spoiler Spoiler header\nSpoiler content\n```",
        '<div class="spoiler-block"><div class="spoiler-header">\n<p>Spoiler header</p>\n</div>'
        '<div class="spoiler-content" aria-hidden="true">\n<p>Spoiler content</p>\n</div></div>',
    ),
    "spoiler without header": (
        "```spoiler\nhidden\n```",
        '<div class="spoiler-block"><div class="spoiler-header">\n\n</div>'
        '<div class="spoiler-content" aria-hidden="true">\n<p>hidden</p>\n</div></div>',
    ),
    "spoiler with markup": (
        "~~~spoiler **Bold** header\n* a\n~~~",
        '<div class="spoiler-block"><div class="spoiler-header">\n<p><strong>Bold</strong> header</p>\n</div>'
        '<div class="spoiler-content" aria-hidden="true">\n<ul>\n<li>a</li>\n</ul>\n</div></div>',
    ),
    # Tables
    "table": (
        "|a|b|\n|-|-|\n|1|2|",
        "<table>\n<thead>\n<tr>\n<th>a</th>\n<th>b</th>\n</tr>\n</thead>\n<tbody>\n<tr>\n<td>1</td>\n<td>2</td>\n</tr>\n</tbody>\n</table>",
    ),
    "table aligned": (
        "| l | c | r |\n|:--|:-:|--:|\n| 1 | 2 | 3 |",
        '<table>\n<thead>\n<tr>\n<th style="text-align: left;">l</th>\n<th style="text-align: center;">c</th>\n'
        '<th style="text-align: right;">r</th>\n</tr>\n</thead>\n<tbody>\n<tr>\n<td style="text-align: left;">1</td>\n'
        '<td style="text-align: center;">2</td>\n<td style="text-align: right;">3</td>\n</tr>\n</tbody>\n</table>',
    ),
    "table markup in cells": (
        "|*x*|`y`|\n|-|-|\n|**z**|w|",
        "<table>\n<thead>\n<tr>\n<th><em>x</em></th>\n<th><code>y</code></th>\n</tr>\n</thead>\n<tbody>\n<tr>\n"
        "<td><strong>z</strong></td>\n<td>w</td>\n</tr>\n</tbody>\n</table>",
    ),
    # Links
    "bare url": ("https://github.com", '<p><a href="https://github.com">https://github.com</a></p>'),
    "bare domain": ("see zulip.com today", '<p>see <a href="http://zulip.com">zulip.com</a> today</p>'),
    "url with underscores": ("https://x.org/a_b_c.", '<p><a href="https://x.org/a_b_c">https://x.org/a_b_c</a>.</p>'),
    "url with parentheses": (
        "see https://en.wikipedia.org/wiki/Python_(programming_language) ok",
        '<p>see <a href="https://en.wikipedia.org/wiki/Python_(programming_language)">'
        "https://en.wikipedia.org/wiki/Python_(programming_language)</a> ok</p>",
    ),
    "url in parentheses": (
        "(see https://example.com/a)",
        '<p>(see <a href="https://example.com/a">https://example.com/a</a>)</p>',
    ),
    "url with nested parentheses": (
        "https://x.org/a_(b_(c))_d.",
        '<p><a href="https://x.org/a_(b_(c))_d">https://x.org/a_(b_(c))_d</a>.</p>',
    ),
    "url with unbalanced parenthesis": ("https://x.org/a(b", "<p>https://x.org/a(b</p>"),
    "named link": ("[hello](https://github.com)", '<p><a href="https://github.com">hello</a></p>'),
    "link without text": ("[](https://github.com)", '<p><a href="https://github.com">https://github.com</a></p>'),
    "link with blank text": ("[  ](https://github.com)", '<p><a href="https://github.com">https://github.com</a></p>'),
    "realm link is relative": (
        "[foo](http://zulip.testserver/#narrow/stream/1-Denmark)",
        '<p><a href="#narrow/stream/1-Denmark">foo</a></p>',
    ),
    "other realm path stays": (
        "[foo](http://zulip.testserver/https://example.com)",
        '<p><a href="http://zulip.testserver/https://example.com">foo</a></p>',
    ),
    "javascript link": ("[x](javascript:alert(1))", "<p><a>x</a></p>"),
    "no reference links": (
        "Hello [world]\n\n[world]: https://google.com",
        '<p>Hello [world]</p>\n<p>[world]: <a href="https://google.com">https://google.com</a></p>',
    ),
    "no image syntax": ("![logo](https://example.com/a.png)", '<p>!<a href="https://example.com/a.png">logo</a></p>'),
    "no autolink brackets": (
        "<https://example.com>",
        '<p>&lt;<a href="https://example.com">https://example.com</a>&gt;</p>',
    ),
    "email stays text": ("mail me at a@example.com", "<p>mail me at a@example.com</p>"),
    "linkifier": ("fixed #1234 today", '<p>fixed <a href="https://trac.example.com/ticket/1234">#1234</a> today</p>'),
    "linkifier in a word is text": ("abc#1234", "<p>abc#1234</p>"),
    "linkifier not in code": ("`#1234`", "<p><code>#1234</code></p>"),
    # Mentions
    "user mention": ("@**King Hamlet**", '<p><span class="user-mention" data-user-id="10">@King Hamlet</span></p>'),
    "user mention any case": (
        "@**king hamlet**",
        '<p><span class="user-mention" data-user-id="10">@King Hamlet</span></p>',
    ),
    "user mention with id": (
        "@**King Hamlet|10**",
        '<p><span class="user-mention" data-user-id="10">@King Hamlet</span></p>',
    ),
    "user mention id only": (
        "@**|11**",
        '<p><span class="user-mention" data-user-id="11">@Othello, the Moor of Venice</span></p>',
    ),
    "user mention wrong id": ("@**King Hamlet|11**", "<p>@<strong>King Hamlet|11</strong></p>"),
    "twin by id": ("@**Twin|21**", '<p><span class="user-mention" data-user-id="21">@Twin</span></p>'),
    "silent mention": (
        "@_**King Hamlet**",
        '<p><span class="user-mention silent" data-user-id="10">King Hamlet</span></p>',
    ),
    "unknown mention": ("@**Nobody**", "<p>@<strong>Nobody</strong></p>"),
    "mention in a word is text": ("foo@**King Hamlet**", "<p>foo@<strong>King Hamlet</strong></p>"),
    "mention in parentheses": (
        "(@**King Hamlet**)",
        '<p>(<span class="user-mention" data-user-id="10">@King Hamlet</span>)</p>',
    ),
    "wildcard all": (
        "@**all**",
        '<p><span class="user-mention channel-wildcard-mention" data-user-id="*">@all</span></p>',
    ),
    "wildcard everyone": (
        "@**everyone**",
        '<p><span class="user-mention channel-wildcard-mention" data-user-id="*">@everyone</span></p>',
    ),
    "wildcard channel": (
        "@**channel**",
        '<p><span class="user-mention channel-wildcard-mention" data-user-id="*">@channel</span></p>',
    ),
    "wildcard stream": (
        "@**stream**",
        '<p><span class="user-mention channel-wildcard-mention" data-user-id="*">@stream</span></p>',
    ),
    "silent wildcard": (
        "@_**all**",
        '<p><span class="user-mention channel-wildcard-mention silent" data-user-id="*">all</span></p>',
    ),
    "topic wildcard": ("@**topic**", '<p><span class="topic-mention">@topic</span></p>'),
    "group mention": ("@*support*", '<p><span class="user-group-mention" data-user-group-id="30">@support</span></p>'),
    "silent group mention": (
        "@_*support*",
        '<p><span class="user-group-mention silent" data-user-group-id="30">support</span></p>',
    ),
    "unknown group": ("@*nobody*", "<p>@<em>nobody</em></p>"),
    "mention in code": ("`@**King Hamlet**`", "<p><code>@**King Hamlet**</code></p>"),
    # Channel, topic and message links
    "channel link": (
        "#**Denmark**",
        '<p><a class="stream" data-stream-id="1" href="/#narrow/channel/1-Denmark">#Denmark</a></p>',
    ),
    "channel link with space": (
        "#**Verona city**",
        '<p><a class="stream" data-stream-id="5" href="/#narrow/channel/5-Verona-city">#Verona city</a></p>',
    ),
    "topic link": (
        "#**Denmark>some topic**",
        '<p><a class="stream-topic" data-stream-id="1" href="/#narrow/channel/1-Denmark/topic/some.20topic/with/42">'
        "#Denmark &gt; some topic</a></p>",
    ),
    "topic link without messages": (
        "#**Denmark>new.topic**",
        '<p><a class="stream-topic" data-stream-id="1" href="/#narrow/channel/1-Denmark/topic/new.2Etopic">'
        "#Denmark &gt; new.topic</a></p>",
    ),
    "message link": (
        "#**Denmark>some topic@214**",
        '<p><a class="message-link" href="/#narrow/channel/1-Denmark/topic/some.20topic/near/214">'
        "#Denmark &gt; some topic @ \U0001f4ac</a></p>",
    ),
    "unknown channel": ("#**Secret**", "<p>#<strong>Secret</strong></p>"),
    # Emoji
    "emoji name": (
        "Hi :airplane:",
        '<p>Hi <span aria-label="airplane" class="emoji emoji-2708" role="img" title="airplane">:airplane:</span></p>',
    ),
    "emoji in strong": (
        "**:tada:**",
        '<p><strong><span aria-label="tada" class="emoji emoji-1f389" role="img" title="tada">:tada:</span></strong></p>',
    ),
    "unicode emoji": (
        "\u2708\ufe0f away",
        '<p><span aria-label="airplane" class="emoji emoji-2708" role="img" title="airplane">:airplane:</span> away</p>',
    ),
    "unknown emoji name": (":notanemoji:", "<p>:notanemoji:</p>"),
    "zulip emoji": (
        ":zulip:",
        '<p><img alt=":zulip:" class="emoji" src="/static/generated/emoji/images/emoji/unicode/zulip.png" title="zulip"></p>',
    ),
    "custom emoji": (
        ":party_parrot:",
        '<p><img alt=":party_parrot:" class="emoji" src="/user_avatars/2/emoji/images/7.gif" title="party parrot"></p>',
    ),
    "times are no emoji": ("at 10:30:00 ok", "<p>at 10:30:00 ok</p>"),
    # Times and TeX
    "time iso": ("<time:2017-06-05T22:30:00Z>", '<p><time datetime="2017-06-05T22:30:00Z">1496701800</time></p>'),
    "time offset": (
        "<time:2017-06-06T00:30:00+02:00>",
        '<p><time datetime="2017-06-05T22:30:00Z">1496701800</time></p>',
    ),
    "time unix": ("<time:1496701800>", '<p><time datetime="2017-06-05T22:30:00Z">1496701800</time></p>'),
    "time invalid": (
        "<time:tomorrowish>",
        '<p><span class="timestamp-error">Invalid time format: tomorrowish</span></p>',
    ),
    "inline tex": ("$$x^2$$ ok", '<p><span class="tex-error">$$x^2$$</span> ok</p>'),
    "fenced math": ("```math\n\\frac{1}{2}\n```", '<p><span class="tex-error">$$\\frac{1}{2}$$</span></p>'),
    "dollars are text": ("costs $5 or $$", "<p>costs $5 or $$</p>"),
    # /me
    "me message": ("/me is testing", "<p>/me is testing</p>"),
}


@pytest.mark.parametrize(("content", "expected"), list(CASES.values()), ids=list(CASES))
def test_exact_output(content: str, expected: str) -> None:
    assert html(content) == expected


def test_duplicate_names_pick_one_user_consistently() -> None:
    assert html("@**Twin**") == html("@**Twin**") == '<p><span class="user-mention" data-user-id="20">@Twin</span></p>'


def test_is_me_message() -> None:
    assert render_message("/me waves", CONTEXT).is_me_message
    assert not render_message("/me waves\nand more", CONTEXT).is_me_message
    assert not render_message("I /me waves", CONTEXT).is_me_message


def test_has_link() -> None:
    assert render_message("see https://example.com", CONTEXT).has_link
    assert render_message("[x](https://example.com)", CONTEXT).has_link
    assert render_message("#1234", CONTEXT).has_link
    assert not render_message("no links here", CONTEXT).has_link
    assert not render_message("`https://example.com`", CONTEXT).has_link


class TestMentionFlags:
    def mentions(self, content: str) -> tuple[frozenset[int], frozenset[int], bool, bool]:
        rendered = render_message(content, CONTEXT)
        return (
            rendered.mentioned_user_ids,
            rendered.mentioned_group_ids,
            rendered.mentions_stream_wildcard,
            rendered.mentions_topic_wildcard,
        )

    def test_user(self) -> None:
        assert self.mentions("hi @**King Hamlet** and @**|11**") == (frozenset({10, 11}), frozenset(), False, False)

    def test_silent_user_is_no_mention(self) -> None:
        assert self.mentions("hi @_**King Hamlet**") == (frozenset(), frozenset(), False, False)

    def test_group(self) -> None:
        assert self.mentions("ping @*support*") == (frozenset(), frozenset({30}), False, False)

    def test_silent_group_is_no_mention(self) -> None:
        assert self.mentions("ping @_*support*") == (frozenset(), frozenset(), False, False)

    @pytest.mark.parametrize("name", ["all", "everyone", "channel", "stream"])
    def test_channel_wildcard(self, name: str) -> None:
        assert self.mentions(f"@**{name}** hello") == (frozenset(), frozenset(), True, False)

    def test_silent_wildcard_is_no_mention(self) -> None:
        assert self.mentions("@_**all** @_**topic**") == (frozenset(), frozenset(), False, False)

    def test_topic_wildcard(self) -> None:
        assert self.mentions("@**topic** look") == (frozenset(), frozenset(), False, True)

    @pytest.mark.parametrize(
        "content",
        [
            "`@**King Hamlet**`",
            "```\n@**King Hamlet** @*support* @**all**\n```",
            "    @**King Hamlet** @**topic**",
            "~~~python\n@**all**\n~~~",
        ],
    )
    def test_code_does_not_mention(self, content: str) -> None:
        assert self.mentions(content) == (frozenset(), frozenset(), False, False)

    def test_unknown_names_mention_nobody(self) -> None:
        assert self.mentions("@**Nobody** @*nogroup*") == (frozenset(), frozenset(), False, False)

    def test_mentions_inside_quotes_and_lists_count(self) -> None:
        assert self.mentions("> @**King Hamlet**\n\n* @*support*") == (frozenset({10}), frozenset({30}), False, False)


def test_unknown_references_render_without_context() -> None:
    assert html("@**King Hamlet** #**Denmark** :party_parrot:", RenderContext()) == (
        "<p>@<strong>King Hamlet</strong> #<strong>Denmark</strong> :party_parrot:</p>"
    )


def test_possible_references() -> None:
    found = possible_references(
        "@**King Hamlet** @_**Twin|21** @**|11** @*support* #**Denmark>t** #**Verona city** :tada:"
    )
    assert found.user_names == {"king hamlet", "twin"}
    assert found.user_ids == {21, 11}
    assert found.group_names == {"support"}
    assert found.stream_names == {"Denmark", "Verona city"}
    assert found.stream_topics == {("Denmark", "t")}
    assert found.emoji_names == {"tada"}
    assert possible_references("plain text, nothing else").empty


def test_possible_references_cover_what_renders() -> None:
    # Whatever the renderer resolves, the scan named beforehand.
    content = "(@**King Hamlet**) **@*support*** > #**Denmark>some topic@3** ~~:tada:~~"
    found = possible_references(content)
    assert "king hamlet" in found.user_names
    assert "support" in found.group_names
    assert "Denmark" in found.stream_names
    assert "tada" in found.emoji_names


def test_possible_references_find_what_the_parser_finds_inside_a_failed_candidate() -> None:
    # The parser goes on inside a candidate that names nothing; the scan must have looked there too.
    found = possible_references(":not:party_parrot: @**a @**King Hamlet** :café:")
    assert "party_parrot" in found.emoji_names
    assert "king hamlet" in found.user_names
    assert "café" in found.emoji_names  # custom emoji names need not be ASCII


def test_alert_word_text_leaves_out_code_blocks() -> None:
    content = "before\n```\nsecret words\n```\nafter\n~~~ quote\nquoted\n~~~"
    assert without_code_blocks(content) == "before\nafter\n~~~ quote\nquoted\n~~~"
    assert render_message(content, CONTEXT).alert_word_text == without_code_blocks(content)


@pytest.mark.parametrize(
    ("text", "stamp"),
    [
        ("1496701800", 1496701800),
        ("2017-06-05T22:30:00Z", 1496701800),
        ("2017-06-05 22:30", 1496701800),
        ("2017-06-05T18:30:00-04:00", 1496701800),
    ],
)
def test_parse_time(text: str, stamp: int) -> None:
    moment = parse_time(text)
    assert moment is not None
    assert int(moment.timestamp()) == stamp


@pytest.mark.parametrize("text", ["", "soon", "2017-13-45", "99999999999999999999"])
def test_parse_time_rejects(text: str) -> None:
    assert parse_time(text) is None


def test_warming_up_builds_both_bare_url_patterns() -> None:
    bare_url_pattern.cache_clear()
    warm_up()
    assert bare_url_pattern.cache_info().currsize == 2
