"""Identifiers: short, URL-safe, roughly time-ordered."""

from __future__ import annotations

import secrets
import time

_ALPHABET = "0123456789abcdefghjkmnpqrstvwxyz"  # Crockford base32, lower case


def _b32(number: int, length: int) -> str:
    chars = []
    for _ in range(length):
        number, rem = divmod(number, 32)
        chars.append(_ALPHABET[rem])
    return "".join(reversed(chars))


def new_id(prefix: str) -> str:
    """`prefix` + 9 chars of milliseconds + 10 random chars, e.g. `cmp_01hx...`."""
    millis = int(time.time() * 1000)
    return f"{prefix}_{_b32(millis, 9)}{_b32(secrets.randbits(50), 10)}"
