"""Narrows: Zulip's message filters, checked against what the user may read and turned into SQL.

A narrow is a list of terms ``{"operator", "operand", "negated"}`` (or the
legacy ``[operator, operand]`` pairs). With a ``channel`` term, the channel's
history is searched as far as the user may read it; with ``channels:public``,
every public channel's; otherwise only the messages the user received.
"""

from __future__ import annotations

import dataclasses
import re
from typing import TYPE_CHECKING, Any

from zulipd.actions.message_access import InvalidMessage, access_message_txn
from zulipd.actions.streams import get_visible_stream, get_visible_stream_by_name, visible_streams
from zulipd.errors import JsonableError
from zulipd.models import MessageFlag, RecipientType, UserProfile
from zulipd.storage.messages import NarrowSql
from zulipd.storage.pool import Transaction
from zulipd.storage.streams import (
    direct_message_group_members_txn,
    get_stream_by_recipient_txn,
    recipient_info_txn,
)
from zulipd.storage.users import get_user_by_email_txn, get_user_by_id_txn

if TYPE_CHECKING:
    from zulipd.server import Server

OPERATORS = {
    "channel", "stream", "channels", "streams", "topic", "subject", "sender", "dm", "pm-with", "dm-including",
    "group-pm-with", "is", "has", "in", "id", "near", "with", "search",
}  # fmt: skip
_ALIASES = {
    "stream": "channel",
    "streams": "channels",
    "subject": "topic",
    "pm-with": "dm",
    "group-pm-with": "dm-including",
}
MENTION_FLAGS = MessageFlag.MENTIONED | MessageFlag.STREAM_WILDCARD_MENTIONED | MessageFlag.TOPIC_WILDCARD_MENTIONED
RESOLVED_PREFIX = "✔ "


class BadNarrow(JsonableError):
    code = "BAD_NARROW"


@dataclasses.dataclass(frozen=True)
class Term:
    operator: str
    operand: Any
    negated: bool = False


def parse_narrow(raw: Any) -> list[Term]:
    if not isinstance(raw, list):
        raise JsonableError("narrow is not a list")
    terms = []
    for element in raw:
        if isinstance(element, dict):
            operator, operand = element.get("operator"), element.get("operand")
            negated = element.get("negated", False)
            if not isinstance(negated, bool):
                raise JsonableError("Invalid narrow: negated is not a boolean")
        elif isinstance(element, list) and len(element) == 2:
            (operator, operand), negated = element, False
        else:
            raise JsonableError("Invalid narrow: each element must be an object or an [operator, operand] pair")
        if not isinstance(operator, str) or operator not in OPERATORS:
            raise BadNarrow(f"Invalid narrow operator: unknown operator {operator}")
        if operand is None or isinstance(operand, (bool, dict)):
            raise BadNarrow(f"Invalid narrow operator: bad operand for {operator}")
        terms.append(Term(_ALIASES.get(operator, operator), operand, negated))
    return terms


def near_anchor(terms: list[Term]) -> int | None:
    for term in terms:
        if term.operator in ("near", "id") and not term.negated:
            try:
                return int(term.operand)
            except (TypeError, ValueError):
                raise BadNarrow(f"Invalid narrow operator: invalid message ID {term.operand}") from None
    return None


async def _user_id(txn: Transaction, user: UserProfile, operand: Any) -> int | None:
    if operand == "me":
        return user.id
    if isinstance(operand, int):
        found = await get_user_by_id_txn(txn, user.realm_id, operand)
    else:
        found = await get_user_by_email_txn(txn, user.realm_id, str(operand).strip())
    return found.id if found is not None else None


async def _dm_user_ids(txn: Transaction, user: UserProfile, operand: Any) -> list[int] | None:
    if isinstance(operand, int):
        operands: list[Any] = [operand]
    elif isinstance(operand, str):
        operands = [part for part in re.split(r"\s*,\s*", operand.strip()) if part]
    elif isinstance(operand, list):
        operands = operand
    else:
        return None
    ids = []
    for item in operands:
        user_id = await _user_id(txn, user, item)
        if user_id is None:
            return None
        ids.append(user_id)
    return ids


async def build_narrow(server: Server, user: UserProfile, terms: list[Term]) -> NarrowSql:
    """The SQL for ``terms``, within what ``user`` may read."""
    terms = await expand_with(server, user, terms)
    channel_terms = [term for term in terms if term.operator == "channel" and not term.negated]
    narrow = NarrowSql(user_id=user.id, own_rows_only=True)
    if channel_terms:
        recipients = set()
        for term in channel_terms:
            try:
                if isinstance(term.operand, int):
                    stream, stream_access = await get_visible_stream(server, user, term.operand)
                else:
                    stream, stream_access = await get_visible_stream_by_name(server, user, str(term.operand))
            except JsonableError:
                raise BadNarrow("Invalid narrow operator: unknown channel") from None
            recipients.add(stream.recipient_id)
            narrow.own_rows_only = False
            if stream_access.history == "full":
                narrow.full_history.append(stream.recipient_id)
            else:
                narrow.own_rows_history.append(stream.recipient_id)
        if len(recipients) > 1:
            narrow.add("FALSE")  # two different channels: nothing is in both
    elif any(term.operator == "channels" and not term.negated for term in terms):
        narrow.own_rows_only = False
        for stream, stream_access in await visible_streams(server, user):
            if not stream.invite_only and stream_access.history == "full":
                narrow.full_history.append(stream.recipient_id)

    async def add_terms(txn: Transaction) -> None:
        for term in terms:
            await _add_term(txn, server, user, narrow, term)

    await server.pool.run_reads("narrow", add_terms)
    return narrow


async def _add_term(txn: Transaction, server: Server, user: UserProfile, narrow: NarrowSql, term: Term) -> None:
    operator, operand = term.operator, term.operand
    sql: str
    parameters: list[Any] = []
    if operator == "channel":
        if not term.negated:
            return  # handled by the choice of recipients
        from zulipd.storage.streams import get_stream_by_name_txn, get_stream_txn

        if isinstance(operand, int):
            stream = await get_stream_txn(txn, user.realm_id, operand)
        else:
            stream = await get_stream_by_name_txn(txn, user.realm_id, str(operand))
        if stream is None:
            return  # excluding a channel that does not exist excludes nothing
        sql, parameters = "m.recipient_id = %s", [stream.recipient_id]
    elif operator == "channels":
        if operand not in ("public", "web-public"):
            raise BadNarrow(f"Invalid narrow operator: invalid channels operand {operand}")
        if not term.negated:
            return
        sql = "m.is_channel_message"
    elif operator == "topic":
        sql, parameters = "lower(m.subject) = lower(%s)", [str(operand)]
    elif operator == "sender":
        sender_id = await _user_id(txn, user, operand)
        if sender_id is None:
            raise BadNarrow("Invalid narrow operator: unknown user")
        sql, parameters = "m.sender_id = %s", [sender_id]
    elif operator == "dm":
        ids = await _dm_user_ids(txn, user, operand)
        if ids is None:
            raise BadNarrow("Invalid narrow operator: unknown user")
        sql, parameters = await _conversation_sql(txn, user, ids)
    elif operator == "dm-including":
        other = await _user_id(txn, user, operand)
        if other is None:
            raise BadNarrow("Invalid narrow operator: unknown user")
        sql = (
            "(um.flags & 256 <> 0 AND EXISTS "
            "(SELECT 1 FROM user_message other WHERE other.message_id = m.id AND other.user_id = %s))"
        )
        parameters = [other]
    elif operator == "is":
        sql, parameters = _is_sql(user, str(operand))
    elif operator == "has":
        columns = {"link": "m.has_link", "image": "m.has_image", "attachment": "m.has_attachment"}
        if operand == "reaction":
            sql = "EXISTS (SELECT 1 FROM reaction r WHERE r.message_id = m.id)"
        elif operand in columns:
            sql = columns[str(operand)]
        else:
            raise BadNarrow(f"Invalid narrow operator: unknown 'has' operand {operand}")
    elif operator == "in":
        if operand not in ("home", "all"):
            raise BadNarrow(f"Invalid narrow operator: unknown 'in' operand {operand}")
        if operand == "all" or term.negated:
            return
        sql = _muted_sql()
        sql, parameters = f"NOT {sql}", [user.id, user.id, user.id]
    elif operator == "id":
        try:
            sql, parameters = "m.id = %s", [int(operand)]
        except (TypeError, ValueError):
            raise BadNarrow(f"Invalid narrow operator: invalid message ID {operand}") from None
    elif operator == "near":
        return
    elif operator == "with":
        return  # replaced by the conversation's own terms before this point
    elif operator == "search":
        text = str(operand).strip()
        if not text:
            return
        sql, parameters = "m.search_tsvector @@ websearch_to_tsquery('english', %s)", [text]
        if not term.negated:
            narrow.search_query = text if narrow.search_query is None else f"{narrow.search_query} {text}"
    else:  # pragma: no cover - parse_narrow admits only known operators
        raise BadNarrow(f"Invalid narrow operator: {operator}")
    narrow.add(f"NOT ({sql})" if term.negated else sql, *parameters)


def _muted_sql() -> str:
    """Messages in muted topics, or in muted channels outside unmuted or followed topics."""
    return (
        "(EXISTS (SELECT 1 FROM user_topic ut JOIN recipient r ON r.type = 2 AND r.type_id = ut.stream_id "
        "WHERE ut.user_id = %s AND r.id = m.recipient_id AND lower(ut.topic_name) = lower(m.subject) "
        "AND ut.visibility_policy = 1) OR (EXISTS (SELECT 1 FROM subscription sub WHERE sub.user_id = %s "
        "AND sub.recipient_id = m.recipient_id AND sub.is_muted) AND NOT EXISTS (SELECT 1 FROM user_topic ut "
        "JOIN recipient r ON r.type = 2 AND r.type_id = ut.stream_id WHERE ut.user_id = %s "
        "AND r.id = m.recipient_id AND lower(ut.topic_name) = lower(m.subject) AND ut.visibility_policy IN (2, 3))))"
    )


def _is_sql(user: UserProfile, operand: str) -> tuple[str, list[Any]]:
    if operand in ("dm", "private"):
        return "um.flags & 256 <> 0", []
    if operand == "starred":
        return "um.flags & 2 <> 0", []
    if operand == "unread":
        return "(um.user_id IS NOT NULL AND um.flags & 1 = 0)", []
    # "flags & 120 <> 0" repeats the condition of the partial index user_message_mentioned,
    # so that PostgreSQL sees the index applies (it cannot infer it from the narrower test).
    if operand == "mentioned":
        return f"(um.flags & 120 <> 0 AND um.flags & {int(MENTION_FLAGS)} <> 0)", []
    if operand == "alerted":
        return "(um.flags & 120 <> 0 AND um.flags & 64 <> 0)", []
    if operand == "resolved":
        return "m.subject LIKE %s", [RESOLVED_PREFIX + "%"]
    if operand == "followed":
        return (
            "EXISTS (SELECT 1 FROM user_topic ut JOIN recipient r ON r.type = 2 AND r.type_id = ut.stream_id "
            "WHERE ut.user_id = %s AND r.id = m.recipient_id AND lower(ut.topic_name) = lower(m.subject) "
            "AND ut.visibility_policy = 3)",
            [user.id],
        )
    if operand == "muted":
        return _muted_sql(), [user.id, user.id, user.id]
    raise BadNarrow(f"Invalid narrow operator: unknown 'is' operand {operand}")


async def _conversation_sql(txn: Transaction, user: UserProfile, ids: list[int]) -> tuple[str, list[Any]]:
    """The direct-message conversation between the user and ``ids``."""
    members = sorted(set(ids) | {user.id})
    personal = "(SELECT id FROM recipient WHERE type = 1 AND type_id = %s)"
    if members == [user.id]:
        return f"(m.recipient_id = {personal} AND m.sender_id = %s)", [user.id, user.id]
    if len(members) == 2:
        other = members[0] if members[1] == user.id else members[1]
        return (
            f"((m.recipient_id = {personal} AND m.sender_id = %s) "
            f"OR (m.recipient_id = {personal} AND m.sender_id = %s))",
            [other, user.id, user.id, other],
        )
    row = await txn.fetch_one(
        "SELECT r.id FROM direct_message_group g JOIN recipient r ON r.type = 3 AND r.type_id = g.id "
        "WHERE g.realm_id = %s AND g.member_ids = %s",
        (user.realm_id, members),
    )
    return ("m.recipient_id = %s", [row[0]]) if row else ("FALSE", [])


async def expand_with(server: Server, user: UserProfile, terms: list[Term]) -> list[Term]:
    """Replace ``with:<message id>`` by the terms of that message's conversation, as Zulip does.

    The conversation's terms take the place of any channel, topic and dm terms.
    A message the user may not read (or that does not exist) leaves the narrow
    as it is without the ``with`` term, so the answer does not reveal which.
    """
    with_terms = [term for term in terms if term.operator == "with"]
    if not with_terms:
        return terms
    if len(with_terms) > 1:
        raise BadNarrow("Duplicate 'with' operators.")
    others = [term for term in terms if term.operator != "with"]
    try:
        message_id = int(with_terms[0].operand)
    except (TypeError, ValueError):
        raise BadNarrow("Invalid 'with' operator") from None

    async def conversation(txn: Transaction) -> list[Term] | None:
        try:
            message = (await access_message_txn(txn, user, message_id)).message
        except InvalidMessage:
            return None
        if message.is_channel_message:
            stream = await get_stream_by_recipient_txn(txn, message.recipient_id)
            assert stream is not None  # access_message_txn reads channel messages only through their channel
            return [Term("channel", stream.id), Term("topic", message.subject)]
        kind, type_id = (await recipient_info_txn(txn, [message.recipient_id]))[message.recipient_id]
        if kind == RecipientType.DIRECT_MESSAGE_GROUP:
            members = (await direct_message_group_members_txn(txn, [type_id]))[type_id]
        else:
            members = sorted({type_id, message.sender_id})
        return [Term("dm", members)]

    replacement = await server.pool.run_reads("narrow with", conversation)
    if replacement is None:
        return others
    return replacement + [term for term in others if term.operator not in ("channel", "topic", "dm")]
