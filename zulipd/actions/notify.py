"""Publishing events: what actions call once their transaction has committed.

Each helper builds one shared event and hands it to the router with the users
who may see it; the router delivers it to their queues that accept it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from zulipd.events.event import Notice, SharedEvent

if TYPE_CHECKING:
    from zulipd.server import Server


def publish(
    server: Server, body: Mapping[str, Any], user_ids: Iterable[int], *, capability: tuple[str, bool] | None = None
) -> None:
    """``capability`` limits the event to queues that declared that client capability (True) or did not (False)."""
    server.events.publish(Notice(SharedEvent(body), sorted(set(user_ids)), capability=capability))


def publish_flags(
    server: Server,
    user_id: int,
    op: str,
    flag: str,
    message_ids: Sequence[int],
    *,
    message_details: Mapping[str, Any] | None = None,
) -> None:
    """An update_message_flags event to the user whose flags changed (nothing when none did)."""
    if not message_ids:
        return
    body: dict[str, Any] = {
        "type": "update_message_flags",
        "op": op,
        "operation": op,
        "flag": flag,
        "messages": sorted(message_ids),
        "all": False,
    }
    if message_details is not None:
        body["message_details"] = message_details
    publish(server, body, [user_id])


def publish_user_topic(
    server: Server, user_id: int, stream_id: int, topic_name: str, policy: int, when: datetime
) -> None:
    body = {
        "type": "user_topic",
        "stream_id": stream_id,
        "topic_name": topic_name,
        "last_updated": int(when.timestamp()),
        "visibility_policy": policy,
    }
    publish(server, body, [user_id])
