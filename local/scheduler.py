"""The scheduler: invokes every `@app.schedule` function at its rate, as EventBridge does in the cloud."""

from __future__ import annotations

import importlib
import logging
import re
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from chalice.app import Chalice, Cron, Rate, ScheduledEventConfig, ScheduleExpression
from chalice.local import LambdaContext

from local.background import BackgroundLoop

log = logging.getLogger("fission.scheduler")

_RATE_UNITS = {"minute": 60, "minutes": 60, "hour": 3600, "hours": 3600, "day": 86400, "days": 86400}


def rate_seconds(expression: ScheduleExpression | str) -> int | None:
    """Seconds between runs for rate expressions; None for cron ones."""
    if isinstance(expression, Rate):
        return int(expression.value) * _RATE_UNITS[str(expression.unit).lower()]
    if isinstance(expression, str):
        match = re.fullmatch(r"rate\((\d+)\s+(\w+)\)", expression.strip())
        if match:
            unit = match.group(2).lower()
            if unit not in _RATE_UNITS:
                raise ValueError(f"unsupported rate unit {unit!r}: use minutes, hours or days")
            return int(match.group(1)) * _RATE_UNITS[unit]
    return None


def _field_matches(spec: str, value: int, first: int = 0) -> bool:
    """`first` is the field's smallest value: `*/n` counts from it (days and months start at 1)."""
    if spec in ("*", "?"):
        return True
    for part in spec.split(","):
        step = 1
        if "/" in part:
            part, step_text = part.split("/", 1)
            step = int(step_text)
        if part in ("*", ""):
            low, high = first, 10_000
        elif "-" in part:
            low_text, high_text = part.split("-", 1)
            low, high = int(low_text), int(high_text)
        else:
            low = high = int(part)
            if step != 1:
                high = 10_000
        if low <= value <= high and (value - low) % step == 0:
            return True
    return False


def cron_matches(expression: ScheduleExpression | str, moment: datetime) -> bool:
    """EventBridge cron (minutes hours day-of-month month day-of-week year): numbers, *, ?, -, ',', '/'.

    Day names, L, W and # are not supported locally and raise.
    """
    if isinstance(expression, Rate):
        raise ValueError("a rate expression has no cron fields")
    if isinstance(expression, Cron):
        fields = [
            str(f)
            for f in (
                expression.minutes,
                expression.hours,
                expression.day_of_month,
                expression.month,
                expression.day_of_week,
                expression.year,
            )
        ]
    elif isinstance(expression, str):
        match = re.fullmatch(r"cron\((.+)\)", expression.strip())
        if not match:
            raise ValueError(f"not a schedule expression: {expression!r}")
        fields = match.group(1).split()
    else:
        raise ValueError(f"unsupported schedule expression {expression!r}")
    if len(fields) != 6 or any(re.search(r"[A-Za-z#]", f) for f in fields):
        raise ValueError(f"unsupported cron expression for the local scheduler: {fields}")
    minute, hour, dom, month, dow, year = fields
    eventbridge_dow = (moment.isoweekday() % 7) + 1  # 1 = Sunday
    return (
        _field_matches(minute, moment.minute)
        and _field_matches(hour, moment.hour)
        and _field_matches(dom, moment.day, first=1)
        and _field_matches(month, moment.month, first=1)
        and _field_matches(dow, eventbridge_dow, first=1)
        and _field_matches(year, moment.year)
    )


@dataclass
class Job:
    name: str
    expression: ScheduleExpression | str
    handler: Callable[[dict[str, Any], Any], Any]
    next_run: float = 0.0  # monotonic seconds (rate jobs)
    last_minute: str = ""  # the cron minute last fired
    runs: int = 0
    failures: int = 0


def scheduled_event(name: str, moment: datetime, region: str = "local") -> dict[str, Any]:
    """An EventBridge "Scheduled Event", as Lambda receives it."""
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": "000000000000",
        "time": moment.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "region": region,
        "resources": [f"arn:aws:events:{region}:000000000000:rule/{name}"],
        "detail": {},
    }


def _resolve(handler_string: str) -> Callable[[dict[str, Any], Any], Any]:
    module_name, _, attribute = handler_string.rpartition(".")
    return getattr(importlib.import_module(module_name), attribute)  # type: ignore[no-any-return]


class Scheduler:
    def __init__(self, app: Chalice, *, clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self.clock = clock
        self.jobs: dict[str, Job] = {}
        for source in app.event_sources:
            if isinstance(source, ScheduledEventConfig):
                expression = source.schedule_expression
                if rate_seconds(expression) is None:
                    cron_matches(expression, datetime.now(UTC))  # unsupported expressions fail here, at start
                self.jobs[source.name] = Job(source.name, expression, _resolve(source.handler_string))
        self._loop: BackgroundLoop | None = None

    def invoke(self, name: str) -> Any:
        """Run one scheduled function now, with a Lambda-shaped event (tests, and each tick)."""
        job = self.jobs[name]
        job.runs += 1
        try:
            return job.handler(scheduled_event(name, self.clock()), LambdaContext(name, 256))
        except Exception:
            job.failures += 1
            raise

    def tick(self) -> list[str]:
        """Run every job that is due; returns the names that ran. A failing job does not stop the others."""
        now_mono, now = time.monotonic(), self.clock()
        ran: list[str] = []
        for job in self.jobs.values():
            every = rate_seconds(job.expression)
            if every is not None:
                due = now_mono >= job.next_run
                if due:
                    job.next_run = now_mono + every
            else:
                minute = now.strftime("%Y-%m-%dT%H:%M")
                due = minute != job.last_minute and cron_matches(job.expression, now)
                if due:
                    job.last_minute = minute
            if due:
                try:
                    self.invoke(job.name)
                except Exception:
                    log.exception("scheduled function %s failed; it runs again at its next time", job.name)
                ran.append(job.name)
        return ran

    def start(self, resolution: float = 1.0) -> None:
        def step() -> bool:
            self.tick()
            return False  # never "busy": the next tick is `resolution` away

        self._loop = BackgroundLoop("scheduler", step, idle_wait=resolution)
        self._loop.start()

    def stop(self) -> None:
        if self._loop is not None:
            self._loop.stop()

    def healthy(self, max_age: float = 10.0) -> bool:
        return self._loop is not None and self._loop.healthy(max_age)
