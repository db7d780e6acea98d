"""Failed sign-ins and TOTP codes per subject (`LA#{scope}#{hash}` / `META`): atomic counters with a TTL.

Every change is one conditional UpdateItem, never a read then a write: concurrent failures from many
containers each count, and a lock is only ever lengthened.
"""

from __future__ import annotations

from collections.abc import Iterable

from pynamodb.exceptions import DeleteError, UpdateError

from chalicelib.accounts.rules.lockout import Attempts, expiry
from chalicelib.core.codes import Code
from chalicelib.core.errors import Unavailable
from chalicelib.table import keys
from chalicelib.table.db import ensure_bound, is_condition_failure, unavailable_on_failure
from chalicelib.table.models import LoginAttemptsItem

# Continue-or-restart races settle in a round or two; more means something is wrong.
MAX_ROUNDS = 4


def _item(scope: str, subject: str) -> LoginAttemptsItem:
    return LoginAttemptsItem(PK=keys.login_attempts_pk(scope, subject), SK=keys.META)


def _attempts(item: LoginAttemptsItem) -> Attempts:
    return Attempts(
        failures=int(item.failures or 0), reset_at=int(item.reset_at or 0), locked_until=int(item.locked_until or 0)
    )


def get_many(subjects: Iterable[tuple[str, str]]) -> dict[tuple[str, str], Attempts]:
    """The current streaks of (scope, subject) pairs, in one strongly consistent read; absent ones are left out."""
    ensure_bound()
    wanted = {(keys.login_attempts_pk(scope, subject), keys.META): (scope, subject) for scope, subject in subjects}
    found: dict[tuple[str, str], Attempts] = {}
    if not wanted:
        return found
    with unavailable_on_failure("read sign-in attempts"):
        for item in LoginAttemptsItem.batch_get(list(wanted), consistent_read=True):
            found[wanted[(item.PK, item.SK)]] = _attempts(item)
    return found


def add_failure(scope: str, subject: str, now: int, window_seconds: int) -> Attempts:
    """Count one failure: add to the live streak, or start a new one if there is none or it has ended.
    Returns the streak after the failure."""
    ensure_bound()
    for _ in range(MAX_ROUNDS):
        item = _item(scope, subject)
        try:
            with unavailable_on_failure("count a failed attempt"):
                item.update(
                    actions=[LoginAttemptsItem.failures.add(1)],
                    condition=LoginAttemptsItem.reset_at > now,
                )
            return _attempts(item)
        except UpdateError as exc:
            if not is_condition_failure(exc):
                raise
        reset_at = now + window_seconds
        item = _item(scope, subject)
        try:
            with unavailable_on_failure("start a failure streak"):
                item.update(
                    actions=[
                        LoginAttemptsItem.failures.set(1),
                        LoginAttemptsItem.reset_at.set(reset_at),
                        LoginAttemptsItem.locked_until.set(0),
                        LoginAttemptsItem.entity.set(LoginAttemptsItem),
                        LoginAttemptsItem.expires_at.set(expiry(reset_at)),
                    ],
                    condition=LoginAttemptsItem.PK.does_not_exist() | (LoginAttemptsItem.reset_at <= now),
                )
            return _attempts(item)
        except UpdateError as exc:
            if not is_condition_failure(exc):
                raise
        # Another request started a streak between the two: count into it.
    raise Unavailable("sign-in attempts are busy; retry shortly", code=Code.STORAGE_UNAVAILABLE)


def lock(scope: str, subject: str, until: int, reset_at: int) -> None:
    """Lock the subject until `until` and keep its streak to `reset_at`, unless a longer lock is in place."""
    ensure_bound()
    try:
        with unavailable_on_failure("lock a subject"):
            _item(scope, subject).update(
                actions=[
                    LoginAttemptsItem.locked_until.set(until),
                    LoginAttemptsItem.reset_at.set(reset_at),
                    LoginAttemptsItem.expires_at.set(expiry(reset_at)),
                ],
                condition=LoginAttemptsItem.PK.exists() & (LoginAttemptsItem.locked_until < until),
            )
    except UpdateError as exc:
        if not is_condition_failure(exc):
            raise


def clear(scope: str, subject: str) -> None:
    """Forget the subject's failures (after a success)."""
    ensure_bound()
    try:
        with unavailable_on_failure("clear sign-in attempts"):
            _item(scope, subject).delete()
    except DeleteError as exc:
        if not is_condition_failure(exc):
            raise
