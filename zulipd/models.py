"""zulipd's domain objects: plain, immutable data that storage returns and actions pass around."""

from __future__ import annotations

import dataclasses
import enum
from datetime import datetime
from typing import Any


class Role(enum.IntEnum):
    """Zulip's organization-level roles; a smaller number is more privileged."""

    OWNER = 100
    ADMINISTRATOR = 200
    MODERATOR = 300
    MEMBER = 400
    GUEST = 600


class BotType(enum.IntEnum):
    GENERIC = 1
    INCOMING_WEBHOOK = 2
    OUTGOING_WEBHOOK = 3
    EMBEDDED = 4


@dataclasses.dataclass(frozen=True)
class Realm:
    id: int
    string_id: str
    name: str
    description: str
    deactivated: bool
    date_created: datetime
    settings: dict[str, Any]


@dataclasses.dataclass(frozen=True)
class UserProfile:
    id: int
    realm_id: int
    email: str
    delivery_email: str
    full_name: str
    role: Role
    is_active: bool
    is_bot: bool
    bot_type: BotType | None
    bot_owner_id: int | None
    api_key: str
    date_joined: datetime
    timezone: str
    avatar_version: int
    settings: dict[str, Any]

    @property
    def is_owner(self) -> bool:
        return self.role == Role.OWNER

    @property
    def is_realm_admin(self) -> bool:
        return self.role in (Role.OWNER, Role.ADMINISTRATOR)

    @property
    def is_moderator(self) -> bool:
        return self.role == Role.MODERATOR

    @property
    def is_guest(self) -> bool:
        return self.role == Role.GUEST

    @property
    def is_incoming_webhook(self) -> bool:
        return self.bot_type == BotType.INCOMING_WEBHOOK


@dataclasses.dataclass(frozen=True)
class BotService:
    bot_id: int
    base_url: str
    token: str
    interface: int
    service_name: str
    config: dict[str, Any]


class RecipientType(enum.IntEnum):
    PERSONAL = 1
    STREAM = 2
    DIRECT_MESSAGE_GROUP = 3


class StreamPostPolicy(enum.IntEnum):
    EVERYONE = 1
    ADMINS = 2
    RESTRICT_NEW_MEMBERS = 3
    MODERATORS = 4


@dataclasses.dataclass(frozen=True)
class Stream:
    id: int
    realm_id: int
    name: str
    description: str
    rendered_description: str
    invite_only: bool
    history_public_to_subscribers: bool
    is_web_public: bool
    stream_post_policy: StreamPostPolicy
    message_retention_days: int | None
    creator_id: int | None
    date_created: datetime
    deactivated: bool
    first_message_id: int | None
    settings: dict[str, Any]
    recipient_id: int

    @property
    def is_public(self) -> bool:
        return not self.invite_only


@dataclasses.dataclass(frozen=True)
class Subscription:
    user_id: int
    recipient_id: int
    active: bool
    color: str
    is_muted: bool
    pin_to_top: bool
    desktop_notifications: bool | None
    audible_notifications: bool | None
    push_notifications: bool | None
    email_notifications: bool | None
    wildcard_mentions_notify: bool | None
    date_subscribed: datetime


@dataclasses.dataclass(frozen=True)
class UserGroup:
    id: int
    realm_id: int
    name: str
    description: str
    is_system_group: bool
    deactivated: bool
    creator_id: int | None
    date_created: datetime
    settings: dict[str, Any]


class MessageFlag(enum.IntFlag):
    READ = 1
    STARRED = 2
    COLLAPSED = 4
    MENTIONED = 8
    STREAM_WILDCARD_MENTIONED = 16
    TOPIC_WILDCARD_MENTIONED = 32
    HAS_ALERT_WORD = 64
    HISTORICAL = 128
    IS_PRIVATE = 256
    ACTIVE_MOBILE_PUSH_NOTIFICATION = 512


@dataclasses.dataclass(frozen=True)
class Message:
    id: int
    realm_id: int
    sender_id: int
    recipient_id: int
    subject: str
    content: str
    rendered_content: str
    date_sent: datetime
    last_edit_time: datetime | None
    last_moved_time: datetime | None
    sending_client: str
    is_channel_message: bool
    is_me_message: bool
    has_link: bool
    has_attachment: bool
    has_image: bool
