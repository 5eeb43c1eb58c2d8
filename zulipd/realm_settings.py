"""Organization settings, with Zulip's defaults for a new organization and value types.

Only values that differ from these defaults are stored, in ``realm.settings``.
``name`` and ``description`` are columns of their own.
"""

from __future__ import annotations

from typing import Any, Literal

# Seconds, or "unlimited" (stored as null, as Zulip sends it).
TimeLimit = int | Literal["unlimited"] | None

# name: (type, default). Literal types list the accepted values.
REALM_SETTINGS: dict[str, tuple[Any, Any]] = {
    "invite_required": (bool, True),
    "emails_restricted_to_domains": (bool, False),
    "disallow_disposable_email_addresses": (bool, True),
    "waiting_period_threshold": (int, 0),
    "allow_message_editing": (bool, True),
    "allow_edit_history": (bool, True),
    "message_content_edit_limit_seconds": (TimeLimit, 600),
    "message_content_delete_limit_seconds": (TimeLimit, 600),
    "move_messages_within_stream_limit_seconds": (TimeLimit, 604800),
    "move_messages_between_streams_limit_seconds": (TimeLimit, 604800),
    "mandatory_topics": (bool, False),
    "default_language": (str, "en"),
    "default_code_block_language": (str, ""),
    "digest_emails_enabled": (bool, False),
    "digest_weekday": (Literal[0, 1, 2, 3, 4, 5, 6], 1),
    "send_welcome_emails": (bool, True),
    "inline_image_preview": (bool, True),
    "inline_url_embed_preview": (bool, False),
    "bot_creation_policy": (Literal[1, 2, 3], 1),
    "video_chat_provider": (int, 1),
    "enable_spectator_access": (bool, False),
    "want_advertise_in_communities_directory": (bool, False),
    "org_type": (int, 0),
    "avatar_changes_disabled": (bool, False),
    "name_changes_disabled": (bool, False),
    "email_changes_disabled": (bool, False),
    "require_unique_names": (bool, False),
    "enable_read_receipts": (bool, True),
    "enable_guest_user_indicator": (bool, True),
}


def effective_realm_settings(stored: dict[str, Any]) -> dict[str, Any]:
    return {name: stored.get(name, default) for name, (_, default) in REALM_SETTINGS.items()}
