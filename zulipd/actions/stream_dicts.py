"""A channel, and a user's subscription to one, as the API shows them: routes and events alike."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from zulipd.models import Stream, StreamPostPolicy, Subscription


def stream_payload(stream: Stream, settings: Mapping[str, Any], *, is_default: bool | None = None) -> dict[str, Any]:
    """A channel as the API shows it; ``settings`` are its group settings as api_channel_settings gives them
    (every one of Zulip's channel permission settings, by name)."""
    payload: dict[str, Any] = {
        "stream_id": stream.id,
        "name": stream.name,
        "is_archived": stream.deactivated,
        "description": stream.description,
        "rendered_description": stream.rendered_description,
        "date_created": int(stream.date_created.timestamp()),
        "creator_id": stream.creator_id,
        "invite_only": stream.invite_only,
        "is_web_public": stream.is_web_public,
        "stream_post_policy": int(stream.stream_post_policy),
        "message_retention_days": stream.message_retention_days,
        "history_public_to_subscribers": stream.history_public_to_subscribers,
        "first_message_id": stream.first_message_id,
        # Zulip's default; zulipd keeps no traffic statistics to mark a channel inactive by.
        "is_recently_active": True,
        "is_announcement_only": stream.stream_post_policy == StreamPostPolicy.ADMINS,
        **settings,
        # Traffic statistics are not kept; Zulip sends null for new channels too.
        "stream_weekly_traffic": None,
    }
    if is_default is not None:
        payload["is_default"] = is_default
    return payload


def subscription_payload(
    stream: Stream, settings: Mapping[str, Any], subscription: Subscription, subscribers: list[int] | None
) -> dict[str, Any]:
    payload = stream_payload(stream, settings)
    payload.update(
        {
            "color": subscription.color,
            "is_muted": subscription.is_muted,
            "in_home_view": not subscription.is_muted,
            "pin_to_top": subscription.pin_to_top,
            "desktop_notifications": subscription.desktop_notifications,
            "audible_notifications": subscription.audible_notifications,
            "push_notifications": subscription.push_notifications,
            "email_notifications": subscription.email_notifications,
            "wildcard_mentions_notify": subscription.wildcard_mentions_notify,
        }
    )
    if subscribers is not None:
        payload["subscribers"] = subscribers
    return payload
