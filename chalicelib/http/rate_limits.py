"""The rate limiter: local counts per container, flushed to the table now and then (see http.rules).

Cost: a request never waits on a limiter write unless a flush is due (a subject's `threshold`-th
request, its return after `max_age`, or its request at the limit), so the join's hot path stays at
one synchronous write. Accuracy: one container enforces a limit exactly; C containers together let
a subject past it by at most (C - 1) * (threshold - 1) requests per window (docs/architecture.md).
Outages: any storage error lets the request through (fail open), logged and counted.
"""

from __future__ import annotations

import hashlib
import hmac
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from typing import Protocol

from aws_lambda_powertools.metrics import MetricUnit

from chalicelib.core.config import get_settings
from chalicelib.core.errors import FissionError, TooManyRequests
from chalicelib.core.observability import logger, metrics
from chalicelib.http import rules as domain
from chalicelib.http.rules import Limit, RouteClass, Scope, WindowCount
from chalicelib.http.store import TableCounterStore
from chalicelib.security import participant_tokens
from chalicelib.security.keyring import get_keyring

# After a storage error, stop trying to flush for this long: an outage must not add a failing
# round trip to every request. Decisions meanwhile use the local counts alone.
ERROR_BACKOFF_SECONDS = 5.0
# Local state is swept of ended windows when it grows past this many counters.
SWEEP_AT = 10_000


class CounterStore(Protocol):
    def add(self, scope: str, subject_hash: str, window_seconds: int, start: int, n: int, expires_at: int) -> int:
        """Add `n` to a window's counter; return the global total after the add."""
        ...


class RateLimited(TooManyRequests):
    """429 RATE_LIMITED, with Retry-After."""

    def __init__(self, limit: Limit, retry_after: int) -> None:
        super().__init__(
            f"too many requests; retry in {retry_after} s",
            retry_after=retry_after,
            details={"scope": limit.scope.value, "limit": limit.limit, "window_seconds": limit.window_seconds},
        )


@dataclass(frozen=True)
class _Key:
    scope: Scope
    subject: str
    window_seconds: int
    start: int


@lru_cache(maxsize=1)
def _subject_key() -> bytes:
    return get_keyring().secret("rate-limit")


def subject_hash(scope: Scope, raw: str) -> str:
    """A keyed hash of an IP, device id or participant code: the table never holds the raw value."""
    return hmac.new(_subject_key(), f"{scope.value}:{raw}".encode(), hashlib.sha256).hexdigest()[:32]


class Limiter:
    def __init__(self, store: CounterStore, limits: tuple[Limit, ...], *, threshold: int, max_age: float) -> None:
        self._store = store
        self._limits: dict[RouteClass, list[Limit]] = {}
        for limit in limits:
            self._limits.setdefault(limit.route_class, []).append(limit)
        self._threshold = threshold
        self._max_age = max_age
        self._counts: dict[_Key, WindowCount] = {}
        self._lock = threading.Lock()  # Lambda is single-threaded; the local server and tests are not
        self._paused_until = 0.0

    @property
    def enabled(self) -> bool:
        return bool(self._limits)

    def limits_for(self, route_class: RouteClass) -> list[Limit]:
        return self._limits.get(route_class, [])

    def check(self, route_class: RouteClass, subjects: Mapping[Scope, str | None], now: datetime) -> None:
        """Count one request of `route_class`, or raise RateLimited if a subject is over a limit.

        `subjects` maps a scope to its raw value; a scope without one is not limited. A refused
        request is not counted unless its flush already wrote it.
        """
        applicable = [(limit, subjects.get(limit.scope)) for limit in self.limits_for(route_class)]
        applicable = [(limit, raw) for limit, raw in applicable if raw]
        if not applicable:
            return
        at = now.timestamp()
        with self._lock:
            self._sweep(at)
            counted: list[WindowCount] = []
            refusals: list[RateLimited] = []
            for limit, raw in applicable:
                assert raw is not None  # filtered above
                start = domain.window_start(at, limit.window_seconds)
                key = _Key(limit.scope, subject_hash(limit.scope, raw), limit.window_seconds, start)
                count = self._counts.setdefault(key, WindowCount())
                if count.known >= limit.limit:  # already over globally: refuse without a write
                    refusals.append(RateLimited(limit, domain.retry_after(at, limit.window_seconds)))
                    continue
                count.count(at)
                counted.append(count)
                if at >= self._paused_until and domain.should_flush(
                    count, limit.limit, limit.window_seconds, at, threshold=self._threshold, max_age=self._max_age
                ):
                    self._flush(key, count, at)
                if domain.exceeded(count, limit.limit):
                    refusals.append(RateLimited(limit, domain.retry_after(at, limit.window_seconds)))
            if refusals:
                for count in counted:
                    if count.pending > 0:
                        count.uncount()
                raise max(refusals, key=lambda refusal: refusal.retry_after or 0)

    def _flush(self, key: _Key, count: WindowCount, at: float) -> None:
        expires = domain.counter_expiry(key.start, key.window_seconds)
        try:
            total = self._store.add(key.scope.value, key.subject, key.window_seconds, key.start, count.pending, expires)
        except Exception as exc:  # fail open: the limiter never takes the public API down
            self._paused_until = at + ERROR_BACKOFF_SECONDS
            logger.warning("rate limiter store failed; allowing requests", error=repr(exc))
            metrics.add_metric(name="RateLimiterErrors", unit=MetricUnit.Count, value=1)
            return
        count.flushed(total)

    def _sweep(self, at: float) -> None:
        """Forget counters of ended windows (their unflushed counts no longer matter)."""
        if len(self._counts) < SWEEP_AT:
            return
        self._counts = {k: c for k, c in self._counts.items() if k.start + k.window_seconds > at}


@lru_cache(maxsize=1)
def get_limiter() -> Limiter:
    """The container's limiter, built from the settings on first use."""
    settings = get_settings()
    try:
        limits = domain.parse_limits(settings.effective_rate_limits)
    except ValueError as exc:  # a typo must neither open the API nor take it down: keep the defaults
        logger.error("FISSION_RATE_LIMITS is invalid; using the default limits", error=str(exc))
        metrics.add_metric(name="RateLimiterErrors", unit=MetricUnit.Count, value=1)
        limits = domain.DEFAULT_LIMITS
    return Limiter(
        TableCounterStore(),
        limits,
        threshold=settings.rate_limit_flush_threshold,
        max_age=settings.rate_limit_flush_seconds,
    )


def participant_code(authorization: str | None, now: datetime) -> str | None:
    """The participant a bearer token speaks for, or None (the route itself rejects a bad token)."""
    token = participant_tokens.bearer(authorization)
    if token is None or not token.startswith("pt1."):
        return None
    try:
        return participant_tokens.verify(token, now).code
    except FissionError:
        return None


def admit(route_class: RouteClass, subjects: Mapping[Scope, Callable[[], str | None]], now: datetime) -> None:
    """Apply the limits of `route_class`; raise RateLimited or return. Subjects are computed only for
    the scopes that have limits. Any failure other than a refusal lets the request through."""
    limiter = get_limiter()
    try:
        wanted = {limit.scope for limit in limiter.limits_for(route_class)}
        limiter.check(route_class, {scope: subjects[scope]() for scope in wanted if scope in subjects}, now)
    except RateLimited:
        raise
    except Exception:
        logger.exception("rate limiter failed; allowing the request")
        metrics.add_metric(name="RateLimiterErrors", unit=MetricUnit.Count, value=1)
