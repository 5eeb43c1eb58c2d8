"""Personal settings (Zulip's ``user_settings``), with Zulip's defaults and value types.

Only values that differ from these defaults are stored, in ``user_profile.settings``.
"""

from __future__ import annotations

from typing import Any, Literal

# name: (type, default). Literal types list the accepted values.
USER_SETTINGS: dict[str, tuple[Any, Any]] = {
    "twenty_four_hour_time": (bool, False),
    "web_mark_read_on_scroll_policy": (Literal[1, 2, 3], 1),
    "web_channel_default_view": (Literal[1, 2, 3, 4], 1),
    "starred_message_counts": (bool, True),
    "receives_typing_notifications": (bool, True),
    "web_suggest_update_timezone": (bool, True),
    "fluid_layout_width": (bool, False),
    "high_contrast_mode": (bool, False),
    "web_font_size_px": (int, 16),
    "web_line_height_percent": (int, 140),
    "color_scheme": (Literal[1, 2, 3], 1),
    "enable_drafts_synchronization": (bool, True),
    "translate_emoticons": (bool, False),
    "display_emoji_reaction_users": (bool, True),
    "default_language": (str, "en"),
    "web_home_view": (Literal["recent_topics", "inbox", "all_messages"], "inbox"),
    "web_escape_navigates_to_home_view": (bool, True),
    "left_side_userlist": (bool, False),
    "emojiset": (Literal["google", "twitter", "text", "google-blob"], "google"),
    "demote_inactive_streams": (Literal[1, 2, 3], 1),
    "user_list_style": (Literal[1, 2, 3], 2),
    "web_animate_image_previews": (Literal["always", "on_hover", "never"], "on_hover"),
    "web_stream_unreads_count_display_policy": (Literal[1, 2, 3], 2),
    "hide_ai_features": (bool, False),
    "enable_stream_desktop_notifications": (bool, False),
    "enable_stream_email_notifications": (bool, False),
    "enable_stream_push_notifications": (bool, False),
    "enable_stream_audible_notifications": (bool, False),
    "notification_sound": (str, "zulip"),
    "enable_desktop_notifications": (bool, True),
    "enable_sounds": (bool, True),
    "email_notifications_batching_period_seconds": (int, 120),
    "enable_offline_email_notifications": (bool, True),
    "enable_offline_push_notifications": (bool, True),
    "enable_online_push_notifications": (bool, True),
    "enable_followed_topic_desktop_notifications": (bool, True),
    "enable_followed_topic_email_notifications": (bool, True),
    "enable_followed_topic_push_notifications": (bool, True),
    "enable_followed_topic_audible_notifications": (bool, True),
    "enable_digest_emails": (bool, True),
    "enable_marketing_emails": (bool, True),
    "enable_login_emails": (bool, True),
    "message_content_in_email_notifications": (bool, True),
    "pm_content_in_desktop_notifications": (bool, True),
    "wildcard_mentions_notify": (bool, True),
    "enable_followed_topic_wildcard_mentions_notify": (bool, True),
    "desktop_icon_count_display": (Literal[1, 2, 3], 1),
    "realm_name_in_email_notifications_policy": (Literal[1, 2, 3], 1),
    "automatically_follow_topics_policy": (Literal[1, 2, 3, 4], 3),
    "automatically_unmute_topics_in_muted_streams_policy": (Literal[1, 2, 3, 4], 3),
    "automatically_follow_topics_where_mentioned": (bool, True),
    "presence_enabled": (bool, True),
    "enter_sends": (bool, False),
    "send_private_typing_notifications": (bool, True),
    "send_stream_typing_notifications": (bool, True),
    "send_read_receipts": (bool, True),
    "allow_private_data_export": (bool, False),
    "email_address_visibility": (Literal[1, 2, 3, 4, 5], 1),
    "web_navigate_to_sent_message": (bool, True),
}


def effective_user_settings(stored: dict[str, Any]) -> dict[str, Any]:
    return {name: stored.get(name, default) for name, (_, default) in USER_SETTINGS.items()}


def effective_user_setting(stored: dict[str, Any], name: str) -> Any:
    """One setting's value: as stored, or its default."""
    return stored.get(name, USER_SETTINGS[name][1])
