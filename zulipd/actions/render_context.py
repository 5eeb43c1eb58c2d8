"""What the renderer may know about a message's organization, looked up for one sender.

``possible_references`` says what the text could name; this fetches exactly
that, for every kind at once, in one trip to the pool with one statement per
kind of reference, however many names the message holds. A message that names
nothing costs no database work: its context has only the organization's URL and
its linkifiers, which are kept in memory.

The rules, each as Zulip 10 applies them:
- Users: active users of the organization, by full name compared in any case
  (Python's ``str.lower()``, as ``possible_references`` lowers the names it
  finds), and by id. Bots are users here too.
- Groups: by exact name, system groups included (``@_*role:members*``): Zulip 10
  looks every named group up, ``is_system_group`` or not. Whether the sender may
  mention a group in a notifying mention (``can_mention_group``) is checked
  by ``zulipd.actions.mentions``, for system groups as for others. Deactivated groups are left
  out: Zulip renders them as silent mentions, but a context cannot tell the
  renderer that a group is deactivated, and leaving them out keeps them from
  notifying anyone.
- Channels: by exact name, those the sender can see by zulipd's one rule
  (``actions.streams.access``). Archived channels are linked like the others, as
  Zulip 10 does (it looks channels up with no ``deactivated`` filter): archiving
  changes neither who can see a channel nor its name.
- Topics: for a topic link's ``/with/ID``, the topic's oldest message the sender
  may read (Zulip's ``get_first_message_for_user_in_topic``): any message of a
  channel whose history they read in full, else only messages they received.
  Topics compare as zulipd compares them everywhere, by PostgreSQL's lower().
- Custom emoji: active ones, by exact name, with the URL the register state's
  ``realm_emoji`` gives.
"""

from __future__ import annotations

from collections import defaultdict
from typing import TYPE_CHECKING

from zulipd.actions.linkifiers import realm_linkifiers
from zulipd.actions.streams import access
from zulipd.avatars import realm_emoji_url
from zulipd.models import Realm, Stream, Subscription, UserProfile
from zulipd.render.context import (
    CustomEmoji,
    LinkableStream,
    MentionableGroup,
    MentionableUser,
    PossibleReferences,
    RenderContext,
    possible_references,
)
from zulipd.storage.pool import Transaction
from zulipd.storage.reactions import RealmEmojiDetails
from zulipd.storage.render_context import (
    active_groups_by_name_txn,
    active_realm_emoji_by_name_txn,
    active_users_by_name_or_id_txn,
    first_topic_message_ids_txn,
    streams_by_name_with_subscription_txn,
)
from zulipd.storage.streams import is_storable_text

if TYPE_CHECKING:
    from zulipd.server import Server


_Fetched = tuple[
    list[tuple[int, str]],
    list[tuple[int, str]],
    dict[str, LinkableStream],
    dict[tuple[int, str], int],
    list[RealmEmojiDetails],
]


async def build_render_context(
    server: Server, sender: UserProfile, realm: Realm, content: str, *, secure: bool = True
) -> RenderContext:
    """Everything ``content`` may refer to that ``sender`` may refer to, for rendering it.

    ``secure`` picks the scheme of the organization's URL, as the register state's
    ``realm_url`` does from its request (pass ``request.isSecure()``); without a
    request, https, as Zulip's default ``EXTERNAL_URI_SCHEME``.
    """
    realm_url = server.realms.url_for(realm, secure)
    linkifiers = await realm_linkifiers(server, realm.id)
    references = possible_references(content)
    if references.empty:
        return RenderContext(realm_url=realm_url, linkifiers=linkifiers)
    users, groups, streams, topic_message_ids, emoji = await server.pool.run_reads(
        "render context", _fetch_txn, sender, realm, references
    )
    users_by_name: defaultdict[str, list[MentionableUser]] = defaultdict(list)
    users_by_id: dict[int, MentionableUser] = {}
    for user_id, full_name in users:  # in id order
        user = MentionableUser(user_id, full_name)
        if user_id in references.user_ids:
            users_by_id[user_id] = user
        lowered = full_name.lower()
        if lowered in references.user_names:
            users_by_name[lowered].append(user)
    return RenderContext(
        realm_url=realm_url,
        users_by_name=dict(users_by_name),
        users_by_id=users_by_id,
        groups_by_name={name: MentionableGroup(group_id, name) for group_id, name in groups},
        streams_by_name=streams,
        topic_message_ids=topic_message_ids,
        custom_emoji={
            row.name: CustomEmoji(row.id, row.name, realm_emoji_url(realm.id, row.file_name)) for row in emoji
        },
        linkifiers=linkifiers,
    )


async def _fetch_txn(txn: Transaction, sender: UserProfile, realm: Realm, references: PossibleReferences) -> _Fetched:
    users: list[tuple[int, str]] = []
    if references.user_names or references.user_ids:
        users = await active_users_by_name_or_id_txn(txn, realm.id, references.user_names, references.user_ids)
    groups: list[tuple[int, str]] = []
    if references.group_names:
        groups = await active_groups_by_name_txn(txn, realm.id, references.group_names)
    visible: dict[str, tuple[Stream, bool]] = {}
    if references.stream_names:
        found = await streams_by_name_with_subscription_txn(txn, realm.id, sender.id, references.stream_names)
        visible = _visible_streams(sender, found)
    topic_message_ids: dict[tuple[int, str], int] = {}
    topics = [
        (stream_name, topic)
        for stream_name, topic in sorted(references.stream_topics)
        if stream_name in visible and is_storable_text(topic)
    ]
    if topics:
        asked = [(visible[name][0].recipient_id, topic, visible[name][1]) for name, topic in topics]
        message_ids = await first_topic_message_ids_txn(txn, sender.id, asked)
        for (stream_name, topic), message_id in zip(topics, message_ids, strict=True):
            if message_id is not None:
                topic_message_ids[(visible[stream_name][0].id, topic)] = message_id
    emoji: list[RealmEmojiDetails] = []
    if references.emoji_names:
        emoji = await active_realm_emoji_by_name_txn(txn, realm.id, references.emoji_names)
    streams = {name: LinkableStream(stream.id, stream.name) for name, (stream, _) in visible.items()}
    return users, groups, streams, topic_message_ids, emoji


def _visible_streams(
    sender: UserProfile, found: list[tuple[Stream, Subscription | None]]
) -> dict[str, tuple[Stream, bool]]:
    """The channels the sender can see, by name, each with whether they may read its whole history."""
    visible: dict[str, tuple[Stream, bool]] = {}
    for stream, subscription in found:
        stream_access = access(sender, stream, subscription)
        if stream_access.visible:
            visible[stream.name] = (stream, stream_access.history == "full")
    return visible
