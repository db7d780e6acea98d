"""Operator passwords, hashed with argon2id (imported on first use: landing-page cold starts skip it)."""

from __future__ import annotations

from functools import lru_cache
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from argon2 import PasswordHasher

MIN_LENGTH = 8


@lru_cache(maxsize=1)
def _hasher() -> PasswordHasher:
    from argon2 import PasswordHasher  # argon2 on first use only: landing-page cold starts skip it

    return PasswordHasher()


def hash_password(password: str) -> str:
    return _hasher().hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    from argon2.exceptions import InvalidHashError, VerificationError  # argon2 on first use only

    try:
        return _hasher().verify(password_hash, password)
    except (VerificationError, InvalidHashError):  # VerifyMismatchError is a VerificationError
        return False


@lru_cache(maxsize=1)
def _dummy_hash() -> str:
    return hash_password("not-a-real-password")


def burn_time(password: str) -> None:
    """Verify against a dummy hash when the email is unknown, so a miss costs what a wrong password costs."""
    verify_password(_dummy_hash(), password)
