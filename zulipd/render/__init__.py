"""Message rendering: text in, HTML and what the text mentions out.

This is the one entry point the rest of zulipd calls. ``render_message``
renders Zulip's Markdown dialect (``zulipd.render.markdown``) against what the
sender's organization holds (a ``RenderContext``, which the action layer
builds: ``zulipd.actions.render_context``), and passes the result through the
HTML allowlist (``zulipd.render.allowlist.clean_html``) before anyone sees it.
"""

from __future__ import annotations

import dataclasses
import re

from zulipd.render.allowlist import clean_html
from zulipd.render.context import EMPTY_CONTEXT, RenderContext
from zulipd.render.linkifiers import topic_links
from zulipd.render.markdown import render_markdown, without_code_blocks

# A bare URL (the longest run, never backtracked into), and the form of one that names an image.
_URL = re.compile(r"https?://[^\s<>\"']+", re.IGNORECASE)
_IMAGE_URL = re.compile(r"[^?]+\.(?:png|jpe?g|gif|webp)(?:\?.*)?", re.IGNORECASE | re.DOTALL)


def _has_image_link(content: str) -> bool:
    """Whether the content has a bare link to an image file, ended by white space or the end."""
    if "://" not in content:
        return False
    for found in _URL.finditer(content):
        end = found.end()
        if (end == len(content) or content[end].isspace()) and _IMAGE_URL.fullmatch(found.group()):
            return True
    return False


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


def render_message(content: str, context: RenderContext = EMPTY_CONTEXT) -> Rendered:
    markup, mentions = render_markdown(content, context)
    return Rendered(
        html=clean_html(markup),
        has_link=mentions.has_link,
        has_image=_has_image_link(content),
        has_attachment="/user_uploads/" in content,
        is_me_message=content.startswith("/me ") and "\n" not in content.strip(),
        mentioned_user_ids=frozenset(mentions.user_ids),
        mentions_stream_wildcard=mentions.channel_wildcard,
        mentions_topic_wildcard=mentions.topic_wildcard,
        mentioned_group_ids=frozenset(mentions.group_ids),
        alert_word_text=without_code_blocks(content),
    )


# Touches the parser, the highlighter, emoji and both bare-URL patterns (a thousand top-level domains each).
_WARM_UP_TEXT = "**warm** up :smile: https://example.com/a_(b) #**x>y** @**z**\n```python\nx = 1\n```"


def warm_up() -> None:
    """Build what the first message would otherwise wait for (~100 ms of compiled patterns and tables).

    The service calls this before it listens, so no client's request stalls the reactor for it.
    """
    render_message(_WARM_UP_TEXT)
    topic_links("example.com", ())


def render_description(text: str) -> str:
    """A channel or organization description."""
    return render_message(text).html
