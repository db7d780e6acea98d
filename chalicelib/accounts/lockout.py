"""Guessing limits for sign-in and TOTP codes: who is locked, counting a failure, forgetting after a success.

Subjects are stored as keyed hashes: the table never holds an email or an address for this. The
policies and the arithmetic are in rules/lockout.py; docs/operations.md lists the figures.
"""

from __future__ import annotations

import hashlib
import hmac
import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from chalicelib.accounts.rules.lockout import POLICIES, Attempts, Scope, lock_seconds, remaining_lock
from chalicelib.accounts.rules.lockout import streak_end_after_lock as streak_end
from chalicelib.accounts.store import attempts as store
from chalicelib.security.keyring import get_keyring

KEY_NAME = "login-attempts"


@dataclass(frozen=True)
class Failure:
    """The streak after a failure, and the lock it started (0 s: none)."""

    failures: int
    locked_seconds: int


def subject(scope: Scope, raw: str) -> str:
    """A keyed hash of an email, an address or `tid:email` (an operator's TOTP)."""
    key = get_keyring().secret(KEY_NAME)
    return hmac.new(key, f"{scope.value}:{raw}".encode(), hashlib.sha256).hexdigest()[:32]


def status(subjects: Mapping[Scope, str], now: datetime) -> dict[Scope, Attempts]:
    """The live streaks of these subjects (one consistent read); subjects without one are left out."""
    found = store.get_many((scope.value, hashed) for scope, hashed in subjects.items())
    at = now.timestamp()
    return {
        Scope(scope): attempts
        for (scope, _), attempts in found.items()
        if attempts.reset_at > at or attempts.locked_until > at
    }


def longest_lock(streaks: Mapping[Scope, Attempts], now: datetime) -> tuple[Scope, int] | None:
    """The scope whose lock ends last and the seconds until it does; None when none is locked."""
    at = now.timestamp()
    locks = [(scope, remaining_lock(attempts, at)) for scope, attempts in streaks.items()]
    locks = [(scope, seconds) for scope, seconds in locks if seconds > 0]
    return max(locks, key=lambda lock: lock[1]) if locks else None


def fail(scope: Scope, hashed: str, now: datetime) -> Failure:
    """Count a failure of `hashed` and lock it when the policy says so."""
    policy = POLICIES[scope]
    at = math.floor(now.timestamp())
    streak = store.add_failure(scope.value, hashed, at, policy.window_seconds)
    seconds = lock_seconds(policy, streak.failures)
    if seconds:
        store.lock(scope.value, hashed, at + seconds, streak_end(policy, at + seconds))
    return Failure(failures=streak.failures, locked_seconds=seconds)


def clear(scope: Scope, hashed: str) -> None:
    store.clear(scope.value, hashed)
