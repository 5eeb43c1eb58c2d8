"""Message rendering: text in, HTML and what the text mentions out.

This is the one entry point the rest of zulipd calls. Until Zulip's Markdown
dialect lands, content is rendered as escaped text: paragraphs split at blank
lines and single newlines as ``<br>``. Nothing a user types can become markup.

Whatever a renderer writes, ``render_message`` passes it through the HTML
allowlist (``zulipd.render.allowlist.clean_html``) before anyone sees it.
"""

from __future__ import annotations

import dataclasses
import html
import re

from zulipd.render.allowlist import clean_html

_URL = re.compile(r"https?://[^\s<>\"']+", re.IGNORECASE)
_IMAGE = re.compile(r"https?://[^\s<>\"']+\.(?:png|jpe?g|gif|webp)(?:\?[^\s<>\"']*)?(?=\s|$)", re.IGNORECASE)


@dataclasses.dataclass(frozen=True)
class Rendered:
    html: str
    has_link: bool
    has_image: bool
    has_attachment: bool
    is_me_message: bool
    mentioned_user_ids: frozenset[int] = frozenset()
    mentions_stream_wildcard: bool = False
    mentions_topic_wildcard: bool = False
    # Non-silent group mentions; the action layer expands them to the groups' members.
    mentioned_group_ids: frozenset[int] = frozenset()
    # The text alert words are looked for in: the source without its code blocks.
    alert_word_text: str = ""


def _render_text(content: str) -> str:
    """The escaped-text renderer: paragraphs at blank lines, ``<br>`` at single newlines."""
    paragraphs = [part for part in re.split(r"\n\s*\n", content.strip()) if part.strip()]
    return "".join(
        "<p>" + "<br>\n".join(html.escape(line) for line in paragraph.split("\n")) + "</p>" for paragraph in paragraphs
    )


def render_message(content: str) -> Rendered:
    return Rendered(
        html=clean_html(_render_text(content)),
        has_link=_URL.search(content) is not None,
        has_image=_IMAGE.search(content) is not None,
        has_attachment="/user_uploads/" in content,
        is_me_message=content.startswith("/me ") and "\n" not in content.strip(),
        alert_word_text=content,
    )


def render_description(text: str) -> str:
    """A channel or organization description."""
    return render_message(text).html
