"""The register state of the ``realm`` type, and of ``realm_emoji``, ``realm_linkifiers`` and ``realm_filters``.

The ``realm`` state is the organization's settings (``realm_*``) and the
server's limits (``max_*``, ``server_*``). Each value comes from where zulipd
keeps or enforces it: the stored settings, the limits the actions check, and
the constants GET /server_settings answers with, so that the answers agree.
Keys of features zulipd does not have get Zulip's value for an organization
that does not use the feature (listed in docs/events.md).
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

from zulipd.actions.groups import GROUP_CREATOR, GROUP_SETTINGS, NOBODY, REALM_GROUP_SETTINGS, GroupGraph
from zulipd.actions.linkifiers import get_linkifiers
from zulipd.actions.messages import MAX_MESSAGE_LENGTH, MAX_TOPIC_LENGTH, NO_TOPIC
from zulipd.actions.presence import OFFLINE_THRESHOLD_SECS, PRESENCE_PING_INTERVAL_SECS
from zulipd.actions.realm_events import edit_history_policy
from zulipd.actions.realm_permissions import (
    FIXED_REALM_GROUP_SETTINGS,
    UNUSED_REALM_GROUP_SETTINGS,
    realm_group_setting_values,
)
from zulipd.actions.streams import CHANNEL_CREATOR, CHANNEL_GROUP_SETTINGS
from zulipd.actions.streams import MAX_DESCRIPTION_LENGTH as MAX_CHANNEL_DESCRIPTION_LENGTH
from zulipd.actions.streams import MAX_NAME_LENGTH as MAX_CHANNEL_NAME_LENGTH
from zulipd.app.api import ApiRequest, Payload
from zulipd.app.server_settings import EMAIL_AUTH_ENABLED, PUSH_NOTIFICATIONS_ENABLED, realm_icon_url
from zulipd.avatars import realm_emoji_url
from zulipd.passwords import PASSWORD_MAX_LENGTH
from zulipd.realm_settings import REALM_SETTINGS, effective_realm_settings
from zulipd.storage.pool import Transaction
from zulipd.storage.reactions import realm_emoji_txn

# When this process started: clients only put it in error reports.
SERVER_GENERATION = int(time.time())

# Zulip's typing-notification timings; zulipd's server side keeps no timers of its own.
TYPING_STARTED_EXPIRY_PERIOD_MILLISECONDS = 45000
TYPING_STOPPED_WAIT_PERIOD_MILLISECONDS = 12000
TYPING_STARTED_WAIT_PERIOD_MILLISECONDS = 30000
# Zulip's long-poll client timeout; zulipd answers a waiting GET /events within 55 seconds.
EVENT_QUEUE_LONGPOLL_TIMEOUT_SECONDS = 90

JITSI_SERVER_URL = "https://meet.jit.si"
VIDEO_CHAT_PROVIDERS = {
    "disabled": {"name": "None", "id": 0},
    "jitsi_meet": {"name": "Jitsi Meet", "id": 1},
}
GIPHY_RATING_OPTIONS = {
    "disabled": {"name": "GIPHY integration disabled", "id": -1},
    "y": {"name": "Allow GIFs rated Y (Very young audience)", "id": 0},
    "g": {"name": "Allow GIFs rated G (General audience)", "id": 1},
    "pg": {"name": "Allow GIFs rated PG (Parental guidance)", "id": 2},
    "pg13": {"name": "Allow GIFs rated PG-13 (Parental guidance - under 13)", "id": 3},
    "r": {"name": "Allow GIFs rated R (Restricted)", "id": 4},
}
DEFAULT_LOGO_URL = "/static/images/logo/zulip-org-logo.svg?version=0"
UPGRADE_TEXT_STANDARD = "Available on Zulip Cloud Standard. Upgrade to access."

# REALM_SETTINGS the API does not show under their own name (bot_creation_policy is
# shown as the bot-creation group settings).
_NOT_SHOWN_AS_SETTINGS = frozenset({"bot_creation_policy"})

# The values of the realm keys of features zulipd does not have, as Zulip gives them
# for an organization that does not use the feature.
UNUSED_FEATURE_VALUES: dict[str, Any] = {
    "realm_icon_source": "G",
    "max_icon_file_size_mib": 5,
    "realm_logo_url": DEFAULT_LOGO_URL,
    "realm_logo_source": "D",
    "realm_night_logo_url": DEFAULT_LOGO_URL,
    "realm_night_logo_source": "D",
    "max_logo_file_size_mib": 5,
    "max_file_upload_size_mib": 0,
    "max_avatar_file_size_mib": 5,
    "realm_upload_quota_mib": None,
    "realm_message_retention_days": -1,
    "realm_message_content_allowed_in_email_notifications": True,
    "realm_presence_disabled": False,
    "realm_is_zephyr_mirror_realm": False,
    "realm_push_notifications_enabled_end_timestamp": None,
    "realm_plan_type": 1,
    "zulip_plan_is_not_limited": True,
    "upgrade_text_for_wide_organization_logo": UPGRADE_TEXT_STANDARD,
    "realm_enable_guest_user_dm_warning": True,
    "realm_default_external_accounts": {},
    "realm_giphy_rating": 2,
    "giphy_rating_options": GIPHY_RATING_OPTIONS,
    "realm_jitsi_server_url": None,
    "jitsi_server_url": JITSI_SERVER_URL,
    "server_jitsi_server_url": JITSI_SERVER_URL,
    "realm_available_video_chat_providers": VIDEO_CHAT_PROVIDERS,
    "realm_moderation_request_channel_id": -1,
    "realm_new_stream_announcements_stream_id": -1,
    "realm_signup_announcements_stream_id": -1,
    "realm_zulip_update_announcements_stream_id": -1,
    "settings_send_digest_emails": False,
    "development_environment": False,
    "password_min_guesses": 0,
    "server_inline_image_preview": False,
    "server_inline_url_embed_preview": False,
    "server_thumbnail_formats": [],
    "server_avatar_changes_disabled": False,
    "server_name_changes_disabled": False,
    "server_needs_upgrade": False,
    "server_web_public_streams_enabled": False,
    "server_emoji_data_url": "",
    "server_can_summarize_topics": False,
    "server_min_deactivated_realm_deletion_days": None,
    "server_max_deactivated_realm_deletion_days": None,
    # Deprecated enums, as the group settings they became say (channels: members; web-public
    # channels: administrators; wildcard mentions in large channels: administrators).
    "realm_create_public_stream_policy": 1,
    "realm_create_private_stream_policy": 1,
    "realm_create_web_public_stream_policy": 2,
    "realm_wildcard_mention_policy": 5,
}


def _permission_setting(default: str, allow_everyone_group: bool, default_for_system_groups: str | None) -> Payload:
    return {
        "require_system_group": False,
        "allow_internet_group": False,
        "allow_nobody_group": True,
        "allow_everyone_group": allow_everyone_group,
        "default_group_name": default,
        "default_for_system_groups": default_for_system_groups,
        "allowed_system_groups": [],
    }


def supported_permission_settings() -> Payload:
    """server_supported_permission_settings: what each group-valued setting accepts, from zulipd's tables."""
    realm = {
        name: _permission_setting(config.default, config.allow_everyone_group, None)
        for name, config in REALM_GROUP_SETTINGS.items()
    }
    for name, group_name in {**FIXED_REALM_GROUP_SETTINGS, **UNUSED_REALM_GROUP_SETTINGS}.items():
        realm[name] = _permission_setting(group_name, allow_everyone_group=True, default_for_system_groups=None)
    for name in ("can_create_bots_group", "can_create_write_only_bots_group"):
        realm[name] = _permission_setting("role:members", allow_everyone_group=False, default_for_system_groups=None)
    stream = {
        name: _permission_setting(
            "channel_creator" if config.default == CHANNEL_CREATOR else config.default,
            config.allow_everyone_group,
            None,
        )
        for name, config in CHANNEL_GROUP_SETTINGS.items()
    }
    group = {
        name: _permission_setting(
            "group_creator" if config.default == GROUP_CREATOR else config.default, config.allow_everyone_group, NOBODY
        )
        for name, config in GROUP_SETTINGS.items()
    }
    return {"realm": dict(sorted(realm.items())), "stream": stream, "group": group}


async def _group_values(txn: Transaction, ctx: ApiRequest) -> dict[str, Any]:
    now = datetime.fromtimestamp(ctx.server.clock.seconds(), UTC)
    return await realm_group_setting_values(txn, await GroupGraph.load(txn, ctx.requester_realm, now))


async def realm_state(ctx: ApiRequest) -> Payload:
    realm = ctx.requester_realm
    settings = effective_realm_settings(realm.settings)
    url = ctx.server.realms.url_for(realm, ctx.request.isSecure())
    groups = await ctx.server.pool.run_reads("realm group settings", _group_values, ctx)
    state: Payload = {
        "max_stream_name_length": MAX_CHANNEL_NAME_LENGTH,
        "max_stream_description_length": MAX_CHANNEL_DESCRIPTION_LENGTH,
        "max_topic_length": MAX_TOPIC_LENGTH,
        "max_message_length": MAX_MESSAGE_LENGTH,
        "server_presence_ping_interval_seconds": PRESENCE_PING_INTERVAL_SECS,
        "server_presence_offline_threshold_seconds": OFFLINE_THRESHOLD_SECS,
        "server_typing_started_expiry_period_milliseconds": TYPING_STARTED_EXPIRY_PERIOD_MILLISECONDS,
        "server_typing_stopped_wait_period_milliseconds": TYPING_STOPPED_WAIT_PERIOD_MILLISECONDS,
        "server_typing_started_wait_period_milliseconds": TYPING_STARTED_WAIT_PERIOD_MILLISECONDS,
        "event_queue_longpoll_timeout_seconds": EVENT_QUEUE_LONGPOLL_TIMEOUT_SECONDS,
        "server_generation": SERVER_GENERATION,
        "password_min_length": ctx.server.config.auth.password_min_length,
        "password_max_length": PASSWORD_MAX_LENGTH,
        "server_supported_permission_settings": supported_permission_settings(),
        "realm_date_created": int(realm.date_created.timestamp()),
        "realm_name": realm.name,
        "realm_description": realm.description,
        "realm_uri": url,
        "realm_url": url,
        "realm_icon_url": realm_icon_url(realm),
        "realm_bot_domain": ctx.server.realms.email_domain(realm),
        "realm_email_auth_enabled": EMAIL_AUTH_ENABLED,
        "realm_password_auth_enabled": EMAIL_AUTH_ENABLED,
        "realm_authentication_methods": {"Email": {"enabled": EMAIL_AUTH_ENABLED, "available": True}},
        "realm_push_notifications_enabled": PUSH_NOTIFICATIONS_ENABLED,
        "realm_empty_topic_display_name": NO_TOPIC,
        "realm_message_edit_history_visibility_policy": edit_history_policy(settings["allow_edit_history"]),
        **UNUSED_FEATURE_VALUES,
    }
    for name in REALM_SETTINGS:
        if name not in _NOT_SHOWN_AS_SETTINGS:
            state[f"realm_{name}"] = settings[name]
    for name, value in groups.items():
        state[f"realm_{name}"] = value
    return state


async def realm_emoji_state(ctx: ApiRequest) -> Payload:
    """The organization's custom emoji, deactivated ones too, keyed by id (as a string)."""
    realm = ctx.requester_realm
    rows = await ctx.server.pool.run_reads("realm emoji", realm_emoji_txn, realm.id)
    return {
        "realm_emoji": {
            str(emoji.id): {
                "id": str(emoji.id),
                "name": emoji.name,
                "source_url": realm_emoji_url(realm.id, emoji.file_name),
                "still_url": None,
                "deactivated": emoji.deactivated,
                "author_id": emoji.author_id,
            }
            for emoji in rows
        }
    }


async def realm_linkifiers_state(ctx: ApiRequest, *, url_template_capable: bool) -> Payload:
    """The organization's linkifiers in order, as GET /realm/linkifiers lists them.

    As in Zulip, only for clients that declared ``linkifier_url_template``: the
    others would read the URL templates as the old format strings."""
    if not url_template_capable:
        return {"realm_linkifiers": []}
    return {"realm_linkifiers": await get_linkifiers(ctx.server, ctx.requester)}


async def realm_filters_state(ctx: ApiRequest) -> Payload:
    # The legacy form of linkifiers, always empty since Zulip 7.0 (feature level 176).
    return {"realm_filters": []}
