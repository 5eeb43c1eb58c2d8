"""Password hashing: bcrypt over a SHA-256 pre-hash, always off the reactor thread.

bcrypt reads at most 72 bytes and bcrypt 5 refuses longer input; Zulip allows
passwords of up to 100 characters (400 bytes of UTF-8). Hashing the password
with SHA-256 first and encoding the digest in base64 gives 44 bytes with no
NUL, so every character of every password counts and nothing is truncated.
"""

from __future__ import annotations

import base64
import hashlib

import bcrypt
from twisted.internet import threads

PASSWORD_MAX_LENGTH = 100
_PREFIX = "bcrypt-sha256$"


def _prehash(password: str) -> bytes:
    return base64.b64encode(hashlib.sha256(password.encode("utf-8")).digest())


def hash_password_blocking(password: str, rounds: int) -> str:
    return _PREFIX + bcrypt.hashpw(_prehash(password), bcrypt.gensalt(rounds)).decode("ascii")


def check_password_blocking(password: str, stored: str | None) -> bool:
    if not stored or not stored.startswith(_PREFIX):
        return False
    return bcrypt.checkpw(_prehash(password), stored[len(_PREFIX) :].encode("ascii"))


async def hash_password(password: str, rounds: int) -> str:
    result: str = await threads.deferToThread(hash_password_blocking, password, rounds)
    return result


async def check_password(password: str, stored: str | None) -> bool:
    result: bool = await threads.deferToThread(check_password_blocking, password, stored)
    return result
