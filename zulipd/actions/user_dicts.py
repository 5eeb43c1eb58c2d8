"""A user as the API shows them to one viewer: who may see their real address, and Zulip's ``User`` object.

Routes (GET /users, the realm_user register state) and events (realm_user
``add``) build users here, so that they never disagree.
"""

from __future__ import annotations

import functools
from datetime import datetime
from typing import Any

from zulipd.avatars import gravatar_url
from zulipd.models import Role, UserProfile

# Who may see a user's real address, by that user's email_address_visibility.
EMAIL_VISIBLE_TO_EVERYONE, MEMBERS, ADMINS, NOBODY, MODERATORS = 1, 2, 3, 4, 5


def can_see_delivery_email(viewer: UserProfile, user: UserProfile) -> bool:
    """Zulip's email_address_visibility: "nobody" hides the address from administrators too."""
    if viewer.id == user.id or user.is_bot:
        return True
    visibility = user.settings.get("email_address_visibility", EMAIL_VISIBLE_TO_EVERYONE)
    if visibility == EMAIL_VISIBLE_TO_EVERYONE:
        return True
    if visibility == MEMBERS:
        return not viewer.is_guest
    if visibility == ADMINS:
        return viewer.is_realm_admin
    if visibility == MODERATORS:
        return viewer.role <= Role.MODERATOR
    return False


def api_email(user: UserProfile, email_domain: str) -> str:
    """The address the API shows: the real one, unless its owner restricts who may see it."""
    visibility = user.settings.get("email_address_visibility", EMAIL_VISIBLE_TO_EVERYONE)
    if user.is_bot or visibility == EMAIL_VISIBLE_TO_EVERYONE:
        return user.email
    return f"user{user.id}@{email_domain}"


@functools.lru_cache(maxsize=65536)
def _isoformat(moment: datetime) -> str:
    return moment.isoformat()


def user_payload(
    viewer: UserProfile, user: UserProfile, email_domain: str, *, client_gravatar: bool, profile_data: bool
) -> dict[str, Any]:
    """A user as Zulip's ``User`` object describes it, as ``viewer`` may see it.

    The viewer matters only through ``can_see_delivery_email``: two viewers who
    may both (or both not) see the address get the same object.
    """
    visible = can_see_delivery_email(viewer, user)
    payload: dict[str, Any] = {
        "user_id": user.id,
        "delivery_email": user.delivery_email if visible else None,
        "email": api_email(user, email_domain),
        "full_name": user.full_name,
        "date_joined": _isoformat(user.date_joined),
        "is_active": user.is_active,
        "is_owner": user.is_owner,
        "is_admin": user.is_realm_admin,
        "is_guest": user.is_guest,
        "is_bot": user.is_bot,
        "role": int(user.role),
        "timezone": user.timezone,
        # With client_gravatar the client computes the Gravatar URL itself, from an address it can see.
        "avatar_url": None
        if client_gravatar and visible and not user.is_bot
        else gravatar_url(user.delivery_email, user.avatar_version),
        "avatar_version": user.avatar_version,
    }
    if user.is_bot:
        payload["bot_type"] = int(user.bot_type) if user.bot_type is not None else None
        payload["bot_owner_id"] = user.bot_owner_id
    if profile_data:
        payload["profile_data"] = {}
    return payload
