"""Budget stop-loss lines and when one is crossed (pure; docs/retention.md).

A line watches a campaign, or one acquisition channel of it: the reward cost owed within a window (the last N
days of the campaign's calendar, or its lifetime) against a spend line, and/or that cost per new qualified
participant (CAC) against a ceiling, judged only once the window holds a minimum sample of them. The numbers come
from the analytics day counters (`reward_cost_fen` and `qualified` by channel), never from a scan.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from chalicelib.analytics.rules.stats import by_channel, sum_metric

MAX_LINES = 20
MAX_WINDOW_DAYS = 90
MAX_LIFETIME_DAYS = 400  # a lifetime window reads at most this many days of counters
DEFAULT_MIN_SAMPLE = 20
CAMPAIGN = "*"  # the key of the campaign-wide line
COST, QUALIFIED = "reward_cost_fen", "qualified"


class Line(BaseModel):
    """One stop-loss line: at least one of a spend line and a CAC ceiling."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    channel: str | None = Field(default=None, min_length=1, max_length=32, pattern=r"^[a-z0-9_]+$")
    spend_fen: int | None = Field(default=None, ge=1, le=10**12)
    cac_fen: int | None = Field(default=None, ge=1, le=10**10)
    min_sample: int = Field(default=DEFAULT_MIN_SAMPLE, ge=1, le=100_000)
    window_days: int | None = Field(default=None, ge=1, le=MAX_WINDOW_DAYS)  # None: the campaign's lifetime

    @model_validator(mode="after")
    def _something_to_watch(self) -> Line:
        if self.spend_fen is None and self.cac_fen is None:
            raise ValueError("a line needs spend_fen, cac_fen or both")
        return self

    @property
    def key(self) -> str:
        return self.channel or CAMPAIGN


class StopLossRequest(BaseModel):
    """The campaign's whole set of lines (PUT replaces it); one line per channel, one campaign-wide."""

    model_config = ConfigDict(extra="forbid")

    lines: list[Line] = Field(max_length=MAX_LINES)

    @model_validator(mode="after")
    def _one_line_per_scope(self) -> StopLossRequest:
        keys = [line.key for line in self.lines]
        if len(keys) != len(set(keys)):
            raise ValueError("one line per channel, and one for the whole campaign")
        return self


@dataclass(frozen=True)
class Reading:
    """What a line sees now: the window's cost and new qualified participants, the CAC when the sample allows it,
    and which limit it crossed (`spend` first), if any."""

    cost_fen: int
    qualified: int
    cac_fen: int | None
    crossed: str | None  # "spend" | "cac" | None

    def as_dict(self) -> dict[str, Any]:
        return {"cost_fen": self.cost_fen, "qualified": self.qualified, "cac_fen": self.cac_fen}


def window(line: Line, today: date, starts: date) -> list[date]:
    """The campaign days the line sums: the last `window_days` up to today, or every day since the start (at most
    MAX_LIFETIME_DAYS), never before the start."""
    first = max(today - timedelta(days=(line.window_days or MAX_LIFETIME_DAYS) - 1), starts)
    return [first + timedelta(days=i) for i in range((today - first).days + 1)]


def sums(line: Line, per_day: Mapping[date, Mapping[str, int]], days: Iterable[date]) -> tuple[int, int]:
    """(cost, new qualified) of the line's scope over `days`."""
    cost = qualified = 0
    for day in days:
        counts = per_day.get(day, {})
        if line.channel is None:
            cost += sum_metric(counts, COST)
            qualified += sum_metric(counts, QUALIFIED)
        else:
            cost += by_channel(counts, COST).get(line.channel, 0)
            qualified += by_channel(counts, QUALIFIED).get(line.channel, 0)
    return cost, qualified


def read(line: Line, cost_fen: int, qualified: int) -> Reading:
    """Whether the line is crossed: spend above its line, or CAC above its ceiling with at least `min_sample` new
    qualified participants in the window (one early reward never trips a CAC ceiling)."""
    cac = cost_fen // qualified if qualified >= line.min_sample else None
    crossed = None
    if line.spend_fen is not None and cost_fen > line.spend_fen:
        crossed = "spend"
    elif line.cac_fen is not None and cac is not None and cac > line.cac_fen:
        crossed = "cac"
    return Reading(cost_fen, qualified, cac, crossed)


def trip_of(line: Line, reading: Reading, at: str) -> dict[str, Any]:
    """What a trip records on its line: the value that crossed, the limit it crossed and when."""
    assert reading.crossed is not None
    value = reading.cost_fen if reading.crossed == "spend" else reading.cac_fen
    limit = line.spend_fen if reading.crossed == "spend" else line.cac_fen
    return {"at": at, "kind": reading.crossed, "value_fen": value, "limit_fen": limit, **reading.as_dict()}


def step(tripped: bool, reading: Reading) -> str:
    """One crossing trips once: `trip` when newly crossed, `rearm` when an open trip's line is no longer crossed (the
    window moved on, or the line was raised), else `hold`."""
    if reading.crossed is not None and not tripped:
        return "trip"
    if reading.crossed is None and tripped:
        return "rearm"
    return "hold"


@dataclass
class StopLossRecord:
    """A campaign's lines as stored, and per line key the open trip (None once rearmed) and the last one."""

    cid: str
    tid: str
    lines: list[Line]
    trips: dict[str, dict[str, Any] | None]
    last_trips: dict[str, dict[str, Any]]
    version: int
    updated_at: str
    updated_by: str
