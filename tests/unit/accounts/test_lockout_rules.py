"""The guessing limits' arithmetic: when a streak locks, how the lock grows, and what Retry-After says."""

from __future__ import annotations

import inspect

import pytest

from chalicelib.accounts.rules.lockout import (
    POLICIES,
    Attempts,
    Policy,
    Scope,
    lock_seconds,
    remaining_lock,
    streak_end_after_lock,
)

pytestmark = pytest.mark.unit


def test_totp_allows_five_wrong_codes_then_locks_for_fifteen_minutes_doubling_to_four_hours() -> None:
    policy = POLICIES[Scope.TOTP]
    assert [lock_seconds(policy, n) for n in range(1, 5)] == [0, 0, 0, 0]
    assert [lock_seconds(policy, n) for n in range(5, 10)] == [900, 1800, 3600, 7200, 14400]
    assert lock_seconds(policy, 10) == lock_seconds(policy, 10_000) == 4 * 3600
    assert policy.window_seconds == 900


def test_an_account_locks_after_five_failures_for_a_minute_doubling_to_an_hour() -> None:
    policy = POLICIES[Scope.ACCOUNT]
    assert [lock_seconds(policy, n) for n in range(4, 12)] == [0, 60, 120, 240, 480, 960, 1920, 3600]


def test_an_address_has_more_room_than_an_account_and_the_same_backoff() -> None:
    account, address = POLICIES[Scope.ACCOUNT], POLICIES[Scope.ADDRESS]
    assert address.threshold > account.threshold
    assert lock_seconds(address, address.threshold - 1) == 0 and lock_seconds(address, address.threshold) == 60


def test_remaining_lock_rounds_up_and_is_at_least_one_second_while_locked() -> None:
    attempts = Attempts(failures=5, reset_at=2000, locked_until=1000)
    assert remaining_lock(attempts, 999.2) == 1
    assert remaining_lock(attempts, 940.5) == 60
    assert remaining_lock(attempts, 1000) == 0
    assert remaining_lock(None, 0) == 0


def test_a_huge_failure_count_does_not_overflow_the_lock() -> None:
    assert lock_seconds(Policy(threshold=1, window_seconds=1, first_lock_seconds=1, max_lock_seconds=7), 10**9) == 7


def test_the_step_up_entry_point_keeps_its_signature() -> None:
    from chalicelib.accounts import totp

    assert list(inspect.signature(totp.require_step_up).parameters) == ["actor", "code", "now"]


def test_a_lock_keeps_its_streak_for_a_day_so_pausing_buys_no_fresh_allowance() -> None:
    for policy in POLICIES.values():
        assert streak_end_after_lock(policy, 10_000) == 10_000 + 86_400 > 10_000 + policy.window_seconds
