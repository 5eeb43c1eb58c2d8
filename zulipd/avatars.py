"""Avatar URLs: Gravatar identicons, until avatars can be uploaded."""

from __future__ import annotations

import functools
import hashlib


@functools.lru_cache(maxsize=65536)
def gravatar_url(email: str, version: int) -> str:
    digest = hashlib.md5(email.strip().lower().encode("utf-8"), usedforsecurity=False).hexdigest()
    return f"https://secure.gravatar.com/avatar/{digest}?d=identicon&version={version}"
