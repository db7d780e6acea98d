"""Rate limits: window maths, Retry-After, parsing the setting, and when a container flushes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from chalicelib.core import observability
from chalicelib.http import rate_limits
from chalicelib.http import rules as domain
from chalicelib.http.rate_limits import Limiter, RateLimited
from chalicelib.http.rules import Limit, RouteClass, Scope, WindowCount

T0 = datetime(2026, 11, 24, 10, 0, 0, tzinfo=UTC)  # on a minute (and day-aligned in UTC)


@pytest.fixture(autouse=True)
def _secrets(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from chalicelib.core.config import get_settings
    from chalicelib.security import keyring

    monkeypatch.setenv("FISSION_SECRETS_DIR", str(tmp_path))
    get_settings.cache_clear()
    keyring.get_keyring.cache_clear()
    rate_limits._subject_key.cache_clear()


class FakeStore:
    """The table's counters in memory; shared by several limiters it plays the global table."""

    def __init__(self) -> None:
        self.totals: dict[tuple[str, str, int, int], int] = {}
        self.writes = 0
        self.fail = False

    def add(self, scope: str, subject_hash: str, window_seconds: int, start: int, n: int, expires_at: int) -> int:
        if self.fail:
            raise RuntimeError("throttled")
        assert expires_at == start + window_seconds + domain.TTL_MARGIN_SECONDS
        self.writes += 1
        key = (scope, subject_hash, window_seconds, start)
        self.totals[key] = self.totals.get(key, 0) + n
        return self.totals[key]

    def total(self) -> int:
        return sum(self.totals.values())


def limiter(store: FakeStore, *limits: Limit, threshold: int = 20, max_age: float = 1.0) -> Limiter:
    return Limiter(store, limits, threshold=threshold, max_age=max_age)


def admitted(lim: Limiter, n: int, now: datetime, ip: str = "203.0.113.7", route: RouteClass = RouteClass.JOIN) -> int:
    ok = 0
    for _ in range(n):
        try:
            lim.check(route, {Scope.IP: ip}, now)
            ok += 1
        except RateLimited:
            pass
    return ok


def test_window_start_and_retry_after() -> None:
    assert domain.window_start(125.5, 60) == 120
    assert domain.window_start(86400 * 3 + 5, 86400) == 86400 * 3
    assert domain.retry_after(125.5, 60) == 55  # 54.5 s left rounds up
    assert domain.retry_after(179.9, 60) == 1  # never 0
    assert domain.retry_after(120.0, 60) == 60
    assert domain.counter_expiry(120, 60) == 180 + domain.TTL_MARGIN_SECONDS


def test_parse_limits() -> None:
    assert domain.parse_limits("off") == ()
    assert domain.parse_limits(None) == domain.DEFAULT_LIMITS
    assert domain.parse_limits("on") == domain.DEFAULT_LIMITS
    parsed = domain.parse_limits("join.ip=5/min, join.device=0/min, event.device=7/hour, read.ip=9/30")
    by_slot = {limit.slot: limit.limit for limit in parsed}
    assert by_slot[(RouteClass.JOIN, Scope.IP, 60)] == 5
    assert by_slot[(RouteClass.JOIN, Scope.IP, 86400)] == 500  # untouched default
    assert (RouteClass.JOIN, Scope.DEVICE, 60) not in by_slot
    assert by_slot[(RouteClass.EVENT, Scope.DEVICE, 3600)] == 7
    assert by_slot[(RouteClass.READ, Scope.IP, 30)] == 9
    for bad in ("join=5/min", "join.ip=five/min", "nope.ip=5/min", "join.ip=5/fortnight", "join.ip=-1/min"):
        with pytest.raises(ValueError):
            domain.parse_limits(bad)


def test_effective_setting_is_off_only_in_the_test_stage(monkeypatch: pytest.MonkeyPatch) -> None:
    from chalicelib.core.config import Settings

    monkeypatch.delenv("FISSION_RATE_LIMITS", raising=False)
    assert Settings(stage="local").effective_rate_limits == "on"
    assert Settings(stage="test").effective_rate_limits == "off"
    assert Settings(stage="test", rate_limits="join.ip=3/min").effective_rate_limits == "join.ip=3/min"


def test_flush_decisions() -> None:
    count = WindowCount()
    assert not domain.should_flush(count, 30, 60, 0.0, threshold=20, max_age=1.0)  # nothing waiting
    count.count(0.0)
    assert not domain.should_flush(count, 30, 60, 0.5, threshold=20, max_age=1.0)
    assert domain.should_flush(count, 30, 60, 1.0, threshold=20, max_age=1.0)  # old enough
    for _ in range(19):
        count.count(0.1)
    assert domain.should_flush(count, 30, 60, 0.2, threshold=20, max_age=1.0)  # threshold
    count.flushed(25)
    assert (count.known, count.pending, count.pending_since) == (25, 0, None)
    for _ in range(4):
        count.count(0.3)
    assert not domain.should_flush(count, 30, 60, 0.3, threshold=20, max_age=1.0)
    count.count(0.3)
    assert domain.should_flush(count, 30, 60, 0.3, threshold=20, max_age=1.0)  # at the limit: ask the table
    count.flushed(3)  # a stale answer never lowers what is known
    assert count.known == 25
    assert domain.flush_threshold(30, 20) == 20
    assert domain.flush_threshold(500, 20) == 50  # a large limit is written less often
    assert domain.flush_age(60, 1.0) == 1.0 and domain.flush_age(30, 1.0) == 1.0
    assert domain.flush_age(86400, 1.0) == 1440.0  # a day counter may wait longer
    count = WindowCount()
    count.count(0.0)
    assert not domain.should_flush(count, 500, 86400, 2.0, threshold=20, max_age=1.0)


def test_a_quiet_subject_costs_no_write_and_a_busy_one_about_one_in_threshold() -> None:
    store = FakeStore()
    lim = limiter(store, Limit(RouteClass.JOIN, Scope.IP, 1000, 60))
    for i in range(50):
        lim.check(RouteClass.JOIN, {Scope.IP: f"198.51.100.{i}"}, T0)
    assert store.writes == 0
    admitted(lim, 200, T0 + timedelta(seconds=1))
    assert store.writes == 2  # 200 requests, threshold a tenth of the limit


def test_one_container_enforces_the_limit_exactly_with_retry_after() -> None:
    store = FakeStore()
    lim = limiter(store, Limit(RouteClass.JOIN, Scope.IP, 30, 60))
    now = T0 + timedelta(seconds=15)
    assert admitted(lim, 30, now) == 30
    with pytest.raises(RateLimited) as refused:
        lim.check(RouteClass.JOIN, {Scope.IP: "203.0.113.7"}, now)
    assert refused.value.status == 429 and refused.value.code == "RATE_LIMITED"
    assert refused.value.headers == {"Retry-After": "45"}
    assert refused.value.details == {"scope": "ip", "limit": 30, "window_seconds": 60, "retry_after": 45}
    writes = store.writes
    assert admitted(lim, 100, now) == 0
    assert store.writes == writes  # refusing a known-over subject writes nothing
    assert admitted(lim, 1, now, ip="203.0.113.8") == 1  # another subject is unaffected
    assert admitted(lim, 30, T0 + timedelta(minutes=1)) == 30  # a new window


def test_a_returning_subject_is_counted_after_max_age() -> None:
    store = FakeStore()
    lim = limiter(store, Limit(RouteClass.JOIN, Scope.IP, 30, 60))
    lim.check(RouteClass.JOIN, {Scope.IP: "203.0.113.7"}, T0)
    assert store.writes == 0
    lim.check(RouteClass.JOIN, {Scope.IP: "203.0.113.7"}, T0 + timedelta(seconds=2))
    assert store.writes == 1 and store.total() == 2


def test_containers_together_overshoot_by_at_most_one_flush_each() -> None:
    store = FakeStore()
    limit, threshold, containers = 100, 20, 4
    fleet = [
        limiter(store, Limit(RouteClass.JOIN, Scope.IP, limit, 60), threshold=threshold) for _ in range(containers)
    ]
    ok = 0
    for _ in range(100):  # round robin, the worst case for stale views
        for lim in fleet:
            ok += admitted(lim, 1, T0)
    assert limit <= ok <= limit + (containers - 1) * (threshold - 1)


def test_a_refusal_by_one_limit_does_not_count_against_the_others() -> None:
    store = FakeStore()
    lim = limiter(store, Limit(RouteClass.JOIN, Scope.IP, 100, 60), Limit(RouteClass.JOIN, Scope.DEVICE, 2, 60))
    subjects: dict[Scope, str | None] = {Scope.IP: "203.0.113.7", Scope.DEVICE: "dev-1"}
    lim.check(RouteClass.JOIN, subjects, T0)
    lim.check(RouteClass.JOIN, subjects, T0)
    for _ in range(5):
        with pytest.raises(RateLimited) as refused:
            lim.check(RouteClass.JOIN, subjects, T0)
        assert refused.value.details["scope"] == "device"
    assert admitted(lim, 98, T0) == 98  # the ip saw 2 counted requests, not 7


def test_no_subject_no_limit() -> None:
    store = FakeStore()
    lim = limiter(store, Limit(RouteClass.JOIN, Scope.IP, 1, 60))
    for _ in range(5):
        lim.check(RouteClass.JOIN, {Scope.IP: None}, T0)
        lim.check(RouteClass.EVENT, {Scope.IP: "203.0.113.7"}, T0)  # no limit for this class
    assert store.writes == 0


def test_store_failure_fails_open_and_backs_off(monkeypatch: pytest.MonkeyPatch) -> None:
    errors: list[str] = []
    monkeypatch.setattr(observability.metrics, "add_metric", lambda name, unit, value: errors.append(name))
    store = FakeStore()
    store.fail = True
    lim = limiter(store, Limit(RouteClass.JOIN, Scope.IP, 20, 60), threshold=2)
    assert admitted(lim, 10, T0) == 10
    assert errors == ["RateLimiterErrors"]  # one failed write, then a pause
    store.fail = False
    assert admitted(lim, 1, T0 + timedelta(seconds=6)) == 1
    assert store.total() == 11  # the pause's counts were kept and written after it


def test_subjects_are_keyed_hashes() -> None:
    digest = rate_limits.subject_hash(Scope.IP, "203.0.113.7")
    assert len(digest) == 32 and int(digest, 16) >= 0  # hex, fixed length, not the address
    assert digest != rate_limits.subject_hash(Scope.DEVICE, "203.0.113.7")


def test_a_bad_setting_keeps_the_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    from chalicelib.core.config import get_settings

    monkeypatch.setenv("FISSION_RATE_LIMITS", "join.ip=lots/min")
    get_settings.cache_clear()
    rate_limits.get_limiter.cache_clear()
    monkeypatch.setattr(observability.metrics, "add_metric", lambda name, unit, value: None)
    try:
        assert rate_limits.get_limiter().limits_for(RouteClass.JOIN) == [
            limit for limit in domain.DEFAULT_LIMITS if limit.route_class is RouteClass.JOIN
        ]
    finally:
        get_settings.cache_clear()
        rate_limits.get_limiter.cache_clear()
