"""Rendering a message as its sender writes it, and who it mentions beyond the users it names.

``render_for_sender`` is the one step that sending, editing and POST
/messages/render share: the sender's render context, the rendering, and the
mention flags.

The renderer reports user ids, group ids and the two wildcards
(``zulipd.render.Rendered``). Here the groups become their members, recursively
and active users only, and the topic wildcard becomes the topic's participants:
those who sent a message in it or reacted to one, and the sender. The flags go
only to the message's recipients; storage applies them to receivers alone.

A notifying group mention needs the group's ``can_mention_group`` permission,
as in Zulip: without it the message is refused ("You are not allowed to mention
user group 'x'."), before anything is stored. System groups can only be
mentioned silently. Silent mentions need no permission.

A message without group mentions or the topic wildcard costs no query.
"""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from zulipd.actions.groups import GROUP_SETTINGS, GroupGraph, Permissions, group_setting
from zulipd.actions.render_context import build_render_context
from zulipd.errors import JsonableError
from zulipd.models import MessageFlag, Realm, Stream, UserProfile
from zulipd.render import Rendered, render_message
from zulipd.render.linkifiers import Linkifier
from zulipd.storage.messages import topic_participants_txn
from zulipd.storage.pool import Transaction

if TYPE_CHECKING:
    from zulipd.server import Server

_MENTIONED = int(MessageFlag.MENTIONED)
_TOPIC_WILDCARD_MENTIONED = int(MessageFlag.TOPIC_WILDCARD_MENTIONED)


@dataclasses.dataclass(frozen=True)
class SenderRendering:
    rendered: Rendered
    # user id -> the mention flags the message gives them (before limiting to its recipients).
    mention_flags: dict[int, int]
    # The organization's linkifiers, as the rendering used them (for topic_links too).
    linkifiers: tuple[Linkifier, ...]

    @property
    def mentioned_user_ids(self) -> list[int]:
        """Those the message mentions, group members included, sorted."""
        return sorted(user_id for user_id, flags in self.mention_flags.items() if flags & _MENTIONED)


async def render_for_sender(
    server: Server, sender: UserProfile, realm: Realm, content: str, stream: Stream | None = None, topic: str = "",
    *, secure: bool = True,
) -> SenderRendering:  # fmt: skip
    """``content`` rendered with what ``sender`` may refer to, and whom it mentions.

    ``stream`` and ``topic`` are the conversation's, for ``@**topic**``; without
    a channel the topic wildcard flags nobody. A refused group mention raises.
    """
    context = await build_render_context(server, sender, realm, content, secure=secure)
    rendered = render_message(content, context)
    flags = await mention_flags(server, sender, realm, stream, topic, rendered)
    return SenderRendering(rendered, flags, tuple(context.linkifiers))


async def mention_flags(
    server: Server, sender: UserProfile, realm: Realm, stream: Stream | None, topic: str, rendered: Rendered
) -> dict[int, int]:
    """user id -> the mention flags the message gives them (before limiting to its recipients)."""
    flags = dict.fromkeys(rendered.mentioned_user_ids, _MENTIONED)
    wants_participants = rendered.mentions_topic_wildcard and stream is not None
    if not rendered.mentioned_group_ids and not wants_participants:
        return flags

    async def look_up(txn: Transaction) -> tuple[list[int], list[int]]:
        members: list[int] = []
        if rendered.mentioned_group_ids:
            graph = await GroupGraph.load(txn, realm, datetime.fromtimestamp(server.clock.seconds(), UTC))
            known = sorted(group_id for group_id in rendered.mentioned_group_ids if group_id in graph.groups)
            await _check_can_mention(Permissions(txn, graph, sender), graph, known)
            members = await graph.recursive_members(txn, known) if known else []
        participants: list[int] = []
        if wants_participants:
            assert stream is not None
            participants = await topic_participants_txn(txn, stream.recipient_id, topic)
        return members, participants

    members, participants = await server.pool.run_reads("mentioned groups and participants", look_up)
    for user_id in members:
        flags[user_id] = flags.get(user_id, 0) | _MENTIONED
    if wants_participants:
        for user_id in {*participants, sender.id}:
            flags[user_id] = flags.get(user_id, 0) | _TOPIC_WILDCARD_MENTIONED
    return flags


_CAN_MENTION = "can_mention_group"


async def _check_can_mention(permissions: Permissions, graph: GroupGraph, group_ids: list[int]) -> None:
    allow_everyone = GROUP_SETTINGS[_CAN_MENTION].allow_everyone_group
    for group_id in group_ids:
        group = graph.groups[group_id]
        allowed = await permissions.has(group_setting(graph, group, _CAN_MENTION), allow_everyone_group=allow_everyone)
        if not allowed:
            raise JsonableError(f"You are not allowed to mention user group '{group.name}'.")
