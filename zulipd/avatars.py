"""Image URLs: Gravatar identicons for avatars (until avatars can be uploaded), and custom emoji."""

from __future__ import annotations

import functools
import hashlib


@functools.lru_cache(maxsize=65536)
def gravatar_url(email: str, version: int) -> str:
    digest = hashlib.md5(email.strip().lower().encode("utf-8"), usedforsecurity=False).hexdigest()
    return f"https://secure.gravatar.com/avatar/{digest}?d=identicon&version={version}"


def realm_emoji_url(realm_id: int, file_name: str) -> str:
    """Where an organization's custom emoji image is served (its ``source_url``)."""
    return f"/user_avatars/{realm_id}/emoji/images/{file_name}"
