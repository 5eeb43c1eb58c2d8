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
