"""Guessing limits on sign-in and TOTP codes: the policies and the lock arithmetic (pure).

A subject (an email, a client address, an operator's TOTP) collects failures in a streak that starts
with its first failure and ends `window_seconds` later. Reaching `threshold` failures locks it for
`first_lock_seconds`; every further failure of the same streak (each one possible only once the
previous lock has ended) doubles the lock, up to `max_lock_seconds`. A lock keeps the streak alive for
`memory_seconds` after it ends, so pausing between locks does not buy a fresh allowance: a guesser
gets `threshold` tries, then one per lock.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import StrEnum


class Scope(StrEnum):
    ACCOUNT = "account"  # one email, known or not: an unknown one locks the same way
    ADDRESS = "address"  # one client address, whichever emails it tries
    TOTP = "totp"  # one operator's codes, at login and at step-up together


@dataclass(frozen=True)
class Policy:
    threshold: int
    window_seconds: int
    first_lock_seconds: int
    max_lock_seconds: int
    memory_seconds: int = 86400


POLICIES: dict[Scope, Policy] = {
    # 5 wrong passwords (or codes) for one email in 15 min: 1 min, then 2, 4, ... up to an hour.
    Scope.ACCOUNT: Policy(threshold=5, window_seconds=900, first_lock_seconds=60, max_lock_seconds=3600),
    # An office behind one NAT shares an address: more room, the same backoff.
    Scope.ADDRESS: Policy(threshold=30, window_seconds=900, first_lock_seconds=60, max_lock_seconds=3600),
    # 5 wrong codes in 15 min: 15 min, then 30, 60, ... up to 4 h (a code is 1 in 10^6 per try).
    Scope.TOTP: Policy(threshold=5, window_seconds=900, first_lock_seconds=900, max_lock_seconds=4 * 3600),
}

# Stored attempts outlive their streak by this much before DynamoDB's TTL may delete them.
TTL_MARGIN_SECONDS = 3600


@dataclass(frozen=True)
class Attempts:
    """A subject's current streak: failures so far, when it ends, and the end of its lock (epoch seconds)."""

    failures: int
    reset_at: int
    locked_until: int


def lock_seconds(policy: Policy, failures: int) -> int:
    """How long the `failures`-th failure of a streak locks the subject (0: not at all)."""
    if failures < policy.threshold:
        return 0
    doublings = min(failures - policy.threshold, 32)  # far past the cap already; keeps the power small
    return min(policy.max_lock_seconds, policy.first_lock_seconds << doublings)


def remaining_lock(attempts: Attempts | None, now: float) -> int:
    """Whole seconds until the subject may try again (0: it may now); at least 1 while locked."""
    if attempts is None or attempts.locked_until <= now:
        return 0
    return max(1, math.ceil(attempts.locked_until - now))


def streak_end_after_lock(policy: Policy, locked_until: int) -> int:
    return locked_until + policy.memory_seconds


def expiry(reset_at: int) -> int:
    """The TTL of a stored streak."""
    return reset_at + TTL_MARGIN_SECONDS
