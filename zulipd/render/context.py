"""What the renderer may know about the organization a message is sent in.

Rendering is pure: the action layer looks up, before rendering, exactly what a
message's text could refer to, and hands it over as a ``RenderContext``. It
learns what to look up from ``possible_references(content)``, a cheap scan of
the raw text that over-approximates: it may name things the Markdown parser
later finds inside code (and ignores), but never misses one it would use. A
message that names nothing needs no look-up at all.

Everything in a context is already filtered for the sender: only active users
appear, only groups that exist, only channels the sender can see. A reference
to anything missing stays plain text, as in Zulip.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping, Sequence

from zulipd.render.linkifiers import Linkifier


@dataclasses.dataclass(frozen=True)
class MentionableUser:
    id: int
    full_name: str


@dataclasses.dataclass(frozen=True)
class MentionableGroup:
    id: int
    name: str


@dataclasses.dataclass(frozen=True)
class LinkableStream:
    id: int
    name: str


@dataclasses.dataclass(frozen=True)
class CustomEmoji:
    """An active realm emoji; ``url`` is where its image is served."""

    id: int
    name: str
    url: str


@dataclasses.dataclass(frozen=True)
class RenderContext:
    # The organization's own URL, without a trailing slash ("https://chat.example.com");
    # links to it become relative "#narrow/..." links.
    realm_url: str = ""
    # Active users by their lower-cased full name (several may share one), and by id.
    users_by_name: Mapping[str, Sequence[MentionableUser]] = dataclasses.field(default_factory=dict)
    users_by_id: Mapping[int, MentionableUser] = dataclasses.field(default_factory=dict)
    # Groups by exact name (Zulip matches group names exactly).
    groups_by_name: Mapping[str, MentionableGroup] = dataclasses.field(default_factory=dict)
    # Channels the sender can see, by exact name.
    streams_by_name: Mapping[str, LinkableStream] = dataclasses.field(default_factory=dict)
    # (channel id, topic as written) -> the id of the topic's oldest message the sender may see,
    # for topic links' "/with/ID" (absent: the topic has none, and the link goes without it).
    topic_message_ids: Mapping[tuple[int, str], int] = dataclasses.field(default_factory=dict)
    # Active realm emoji by name.
    custom_emoji: Mapping[str, CustomEmoji] = dataclasses.field(default_factory=dict)
    linkifiers: Sequence[Linkifier] = ()


EMPTY_CONTEXT = RenderContext()


@dataclasses.dataclass(frozen=True)
class PossibleReferences:
    """What a message's text may refer to; the action layer fetches these and nothing else."""

    # Lower-cased full names of @**Name** and @_**Name** mentions (without any |id).
    user_names: frozenset[str] = frozenset()
    # Ids of @**Name|id** and @**|id** mentions.
    user_ids: frozenset[int] = frozenset()
    # Names of @*group* and @_*group* mentions.
    group_names: frozenset[str] = frozenset()
    # Names of #**channel**, #**channel>topic** and #**channel>topic@id** links.
    stream_names: frozenset[str] = frozenset()
    # (channel name, topic) of topic links, for their "/with/ID".
    stream_topics: frozenset[tuple[str, str]] = frozenset()
    # Names in :name: that may be custom emoji.
    emoji_names: frozenset[str] = frozenset()

    @property
    def empty(self) -> bool:
        return not (self.user_names or self.user_ids or self.group_names or self.stream_names or self.emoji_names)


# The syntax of each kind of reference. The Markdown parser's inline rules are these patterns
# (zulipd.render.markdown; mentions also need a boundary before them), so the scan below can
# only find more than the parser does, never less.
USER_MENTION_SYNTAX = r"@(?P<um_silent>_?)\*\*(?P<um_text>[^*\n]+?)\*\*"
GROUP_MENTION_SYNTAX = r"@(?P<gm_silent>_?)\*(?P<gm_name>[^*\n]+?)\*"
STREAM_LINK_SYNTAX = r"#\*\*(?P<sl_stream>[^*>\n]+)(?:>(?P<sl_topic>[^*\n]+?))?\*\*"
EMOJI_SYNTAX = r":(?P<emoji_name>[\w+-]+):"
# The scan looks at every position (a lookahead consumes nothing): the parser, where one
# candidate fails, goes on inside it (":not:party_parrot:" holds an emoji).
_USER_MENTIONS = re.compile(f"(?={USER_MENTION_SYNTAX})")
_GROUP_MENTIONS = re.compile(f"(?={GROUP_MENTION_SYNTAX})")
_STREAM_LINKS = re.compile(f"(?={STREAM_LINK_SYNTAX})")
_EMOJI = re.compile(f"(?={EMOJI_SYNTAX})")
# "Name|123" or "|123".
_NAME_WITH_ID = re.compile(r"^(.*)\|(\d+)$", re.DOTALL)
# "topic@123": a message link.
MESSAGE_LINK_TOPIC = re.compile(r"^(.*)@(\d+)$", re.DOTALL)


def split_user_mention(text: str) -> tuple[str | None, int | None]:
    """The name and id that ``@**text**`` asks for: ``Name|12`` -> (Name, 12), ``|12`` -> (None, 12)."""
    found = _NAME_WITH_ID.match(text)
    if found is None:
        return text, None
    name = found.group(1)
    return (name or None), int(found.group(2))


def possible_references(content: str) -> PossibleReferences:
    """A superset of what ``content`` refers to (see the module docstring)."""
    if "@" not in content and "#" not in content and ":" not in content:
        return PossibleReferences()
    user_names: set[str] = set()
    user_ids: set[int] = set()
    for found in _USER_MENTIONS.finditer(content):
        name, user_id = split_user_mention(found.group("um_text"))
        if name is not None:
            user_names.add(name.lower())
        if user_id is not None:
            user_ids.add(user_id)
    groups = {found.group("gm_name") for found in _GROUP_MENTIONS.finditer(content)}
    streams: set[str] = set()
    topics: set[tuple[str, str]] = set()
    for found in _STREAM_LINKS.finditer(content):
        stream, topic = found.group("sl_stream"), found.group("sl_topic")
        streams.add(stream)
        if topic is not None and MESSAGE_LINK_TOPIC.match(topic) is None:
            topics.add((stream, topic))
    emoji = {found.group("emoji_name") for found in _EMOJI.finditer(content)}
    return PossibleReferences(
        user_names=frozenset(user_names),
        user_ids=frozenset(user_ids),
        group_names=frozenset(groups),
        stream_names=frozenset(streams),
        stream_topics=frozenset(topics),
        emoji_names=frozenset(emoji),
    )
