"""The local scheduler: rate and cron expressions, EventBridge-shaped events, and running jobs when due."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from chalice.app import Blueprint, Chalice, Cron, Rate

from local.scheduler import Scheduler, cron_matches, rate_seconds, scheduled_event
from tests.unit.local import sched_app

# --- rate expressions -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("expression", "seconds"),
    [
        (Rate(1, unit=Rate.MINUTES), 60),
        (Rate(5, unit=Rate.MINUTES), 300),
        (Rate(2, unit=Rate.HOURS), 7200),
        (Rate(1, unit=Rate.DAYS), 86400),
        ("rate(5 minutes)", 300),
        ("rate(1 minute)", 60),
        (" rate(3 hours) ", 10800),
        ("rate(1 day)", 86400),
        ("rate(2 Days)", 172800),
    ],
)
def test_rate_seconds_of_rate_expressions(expression: Rate | str, seconds: int) -> None:
    assert rate_seconds(expression) == seconds


@pytest.mark.parametrize("expression", [Cron(0, 3, "*", "*", "?", "*"), "cron(0 3 * * ? *)", "every minute"])
def test_rate_seconds_is_none_for_anything_but_a_rate(expression: Cron | str) -> None:
    assert rate_seconds(expression) is None


# --- cron expressions -----------------------------------------------------------------------

# 2026-12-06 is a Sunday (EventBridge day-of-week 1); 2026-12-07 a Monday (2); 2026-12-12 a Saturday (7).
SUNDAY = datetime(2026, 12, 6, 3, 0, tzinfo=UTC)
MONDAY = datetime(2026, 12, 7, 3, 0, tzinfo=UTC)
SATURDAY = datetime(2026, 12, 12, 3, 0, tzinfo=UTC)

CRON_CASES: list[tuple[str, datetime, bool]] = [
    ("cron(0 3 * * ? *)", MONDAY, True),
    ("cron(0 3 * * ? *)", MONDAY.replace(minute=1), False),
    ("cron(0 3 * * ? *)", MONDAY.replace(hour=4), False),
    ("cron(0,30 3 * * ? *)", MONDAY.replace(minute=30), True),
    ("cron(0,30 3 * * ? *)", MONDAY.replace(minute=15), False),
    ("cron(0 1-5 * * ? *)", MONDAY.replace(hour=5), True),
    ("cron(0 1-5 * * ? *)", MONDAY.replace(hour=6), False),
    ("cron(*/15 * * * ? *)", MONDAY.replace(minute=45), True),
    ("cron(*/15 * * * ? *)", MONDAY.replace(minute=50), False),
    ("cron(5/10 * * * ? *)", MONDAY.replace(minute=25), True),
    ("cron(5/10 * * * ? *)", MONDAY.replace(minute=0), False),
    ("cron(0-30/10 * * * ? *)", MONDAY.replace(minute=20), True),
    ("cron(0-30/10 * * * ? *)", MONDAY.replace(minute=40), False),
    ("cron(0 3 7 12 ? 2026)", MONDAY, True),
    ("cron(0 3 7 12 ? 2027)", MONDAY, False),
    ("cron(0 3 1 * ? *)", MONDAY, False),
    ("cron(0 3 ? * 1 *)", SUNDAY, True),
    ("cron(0 3 ? * 1 *)", MONDAY, False),
    ("cron(0 3 ? * 2 *)", MONDAY, True),
    ("cron(0 3 ? * 7 *)", SATURDAY, True),
    ("cron(0 3 ? * 2-6 *)", SATURDAY, False),
    ("cron(0 3 ? * 1,7 *)", SATURDAY, True),
]


@pytest.mark.parametrize(
    ("expression", "moment", "expected"), CRON_CASES, ids=[f"{e}@{m:%a-%H%M}" for e, m, _ in CRON_CASES]
)
def test_cron_matches_eventbridge_fields(expression: str, moment: datetime, expected: bool) -> None:
    assert cron_matches(expression, moment) is expected


def test_cron_matches_a_chalice_cron_object() -> None:
    assert cron_matches(Cron(0, 3, "*", "*", "?", "*"), MONDAY)
    assert not cron_matches(Cron(0, 4, "*", "*", "?", "*"), MONDAY)
    assert cron_matches(Cron("0/20", "*", "?", "*", "2", "*"), MONDAY.replace(minute=40))


@pytest.mark.parametrize(
    ("expression", "moment"),
    [
        ("cron(0 0 */2 * ? *)", datetime(2026, 12, 1, tzinfo=UTC)),  # days 1, 3, 5, ...
        ("cron(0 0 1 */3 ? *)", datetime(2026, 1, 1, tzinfo=UTC)),  # January, April, July, October
    ],
    ids=["every-other-day-from-the-1st", "quarterly-from-january"],
)
def test_star_step_in_a_one_based_field_starts_at_one(expression: str, moment: datetime) -> None:
    assert cron_matches(expression, moment)


@pytest.mark.parametrize(
    "expression",
    [
        "cron(0 3 ? * MON *)",
        "cron(0 3 ? * MON-FRI *)",
        "cron(0 3 L * ? *)",
        "cron(0 3 ? * 6L *)",
        "cron(0 3 ? * 2#1 *)",
        "cron(0 3 15W * ? *)",
        "cron(0 3 * JAN ? *)",
        "cron(0 3 * * ?)",
        "0 3 * * ? *",
    ],
)
def test_unsupported_cron_expressions_raise(expression: str) -> None:
    with pytest.raises(ValueError):
        cron_matches(expression, MONDAY)


# --- events ---------------------------------------------------------------------------------


def test_scheduled_event_has_the_eventbridge_shape() -> None:
    event = scheduled_event("close_groups", MONDAY.replace(second=42), region="ap-east-1")

    assert event["detail-type"] == "Scheduled Event"
    assert event["source"] == "aws.events"
    assert event["time"] == "2026-12-07T03:00:42Z"
    assert event["region"] == "ap-east-1"
    assert event["resources"] == ["arn:aws:events:ap-east-1:000000000000:rule/close_groups"]
    assert event["detail"] == {}
    assert event["version"] == "0"
    assert event["id"] != scheduled_event("close_groups", MONDAY)["id"]


# --- the scheduler --------------------------------------------------------------------------


@pytest.fixture(autouse=True)
def _no_calls() -> Iterator[None]:
    sched_app.CALLS.clear()
    yield
    sched_app.CALLS.clear()


def scheduler(*blueprints: Blueprint, now: datetime = MONDAY) -> Scheduler:
    app = Chalice("t")
    for blueprint in blueprints:
        app.register_blueprint(blueprint)
    return Scheduler(app, clock=lambda: now)


def names() -> list[str]:
    return [name for name, _ in sched_app.CALLS]


def test_scheduler_finds_every_scheduled_function() -> None:
    found = scheduler(sched_app.every_minute_bp, sched_app.pair_bp)

    assert sorted(found.jobs) == ["always_fails", "every_minute", "still_runs"]


def test_tick_runs_a_due_rate_job_once() -> None:
    jobs = scheduler(sched_app.every_minute_bp)

    # WHEN the scheduler ticks twice in a row
    first, second = jobs.tick(), jobs.tick()

    # THEN the job ran on the first tick only: it is not due again for a minute
    assert first == ["every_minute"]
    assert second == []
    assert names() == ["every_minute"]
    assert jobs.jobs["every_minute"].runs == 1


def test_a_rate_job_runs_again_once_its_interval_has_passed(monkeypatch: pytest.MonkeyPatch) -> None:
    jobs = scheduler(sched_app.every_minute_bp)
    jobs.tick()
    later = jobs.jobs["every_minute"].next_run + 0.001
    monkeypatch.setattr("local.scheduler.time.monotonic", lambda: later)

    assert jobs.tick() == ["every_minute"]
    assert names() == ["every_minute", "every_minute"]


def test_invoke_calls_the_function_with_a_scheduled_event() -> None:
    jobs = scheduler(sched_app.every_minute_bp)

    result = jobs.invoke("every_minute")

    assert result == "done"
    [(name, event)] = sched_app.CALLS
    assert name == "every_minute"
    assert event["detail-type"] == "Scheduled Event"
    assert event["source"] == "aws.events"
    assert event["time"] == "2026-12-07T03:00:00Z"
    assert event["resources"][0].endswith("rule/every_minute")


def test_a_failing_job_is_counted_and_does_not_stop_the_others() -> None:
    jobs = scheduler(sched_app.pair_bp)

    ran = jobs.tick()

    assert sorted(ran) == ["always_fails", "still_runs"]
    assert sorted(names()) == ["always_fails", "still_runs"]
    assert (jobs.jobs["always_fails"].runs, jobs.jobs["always_fails"].failures) == (1, 1)
    assert (jobs.jobs["still_runs"].runs, jobs.jobs["still_runs"].failures) == (1, 0)


def test_invoking_a_failing_job_raises_and_counts_the_failure() -> None:
    jobs = scheduler(sched_app.pair_bp)

    with pytest.raises(RuntimeError, match="scheduled job failed"):
        jobs.invoke("always_fails")

    assert jobs.jobs["always_fails"].failures == 1


def test_a_cron_job_runs_once_in_its_minute_and_not_outside_it() -> None:
    now = [MONDAY.replace(minute=59, hour=2)]
    app = Chalice("t")
    app.register_blueprint(sched_app.cron_bp)
    jobs = Scheduler(app, clock=lambda: now[0])

    before = jobs.tick()
    now[0] = MONDAY
    at = jobs.tick()
    now[0] = MONDAY + timedelta(seconds=30)
    same_minute = jobs.tick()
    now[0] = MONDAY + timedelta(days=1)
    next_day = jobs.tick()

    assert (before, at, same_minute, next_day) == ([], ["nightly"], [], ["nightly"])


def test_scheduler_is_healthy_only_while_its_loop_is_ticking() -> None:
    jobs = scheduler(sched_app.every_minute_bp)
    jobs.tick()
    assert not jobs.healthy()  # a tick by hand does not keep schedules running

    jobs.start(resolution=0.01)
    try:
        deadline = time.monotonic() + 5
        while not jobs.healthy():
            assert time.monotonic() < deadline
            time.sleep(0.01)
    finally:
        jobs.stop()
