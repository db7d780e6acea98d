"""Tasks (游戏化任务): what operators define, the facts that move them, and the period a fact falls in (pure).

A task counts one kind of fact (a join, a counted invite, a help, a paid order, a check-in, a page view) towards
a target within a period: the tenant's local day, its local ISO week (Monday to Sunday), or once for good. The
period is part of the progress item's key, so a new day or week starts from zero without anything being reset.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Annotated
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict, Field

from chalicelib.core.clock import iso

MAX_TASKS = 50  # per tenant: the task list is read whole for every stream batch that has facts
MAX_TARGET = 100  # a progress item keeps the ids of the facts it counted, up to the target
MAX_TASK_POINTS = 1_000_000
# A finished period's progress is kept this long after the period ends (for the participant's history), then
# removed by the table's TTL.
KEEP_PROGRESS_DAYS = 35

TaskId = Annotated[str, Field(pattern=r"^lt_[0-9a-f]{16}$")]
_Name = Annotated[str, Field(min_length=1, max_length=64)]
_CampaignId = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_\-]+$")]


class Period(StrEnum):
    DAILY = "daily"  # the tenant's local day
    WEEKLY = "weekly"  # the tenant's local ISO week, Monday 00:00 to Sunday 24:00
    ONCE = "once"  # never resets


class FactKind(StrEnum):
    JOINED = "joined"  # the person joined a campaign
    INVITED = "invited"  # a friend the person invited was counted (qualified)
    HELPED = "helped"  # the person helped someone's assist
    ORDER_PAID = "order_paid"  # the person paid an order
    CHECKED_IN = "checked_in"  # the person checked in (daily check-ins)
    VIEWED = "viewed"  # a landing page sent a view beacon with the person's token


class TaskReward(BaseModel):
    """What completing the task earns: points, credited to the person's ledger once per period."""

    model_config = ConfigDict(extra="forbid")

    points: int = Field(ge=1, le=MAX_TASK_POINTS)


class TaskCreate(BaseModel):
    """A task: count `fact` up to `target` within each `period`, optionally only in one campaign."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    name: _Name
    description: str | None = Field(default=None, max_length=500)
    period: Period
    fact: FactKind
    target: int = Field(ge=1, le=MAX_TARGET)
    campaign_id: _CampaignId | None = Field(default=None, description="Count only facts of this campaign.")
    reward: TaskReward
    active: bool = True


class TaskPatch(BaseModel):
    """Any of a task's fields; `campaign_id: null` counts facts of every campaign again. A change applies to facts
    counted from then on; progress already made stays."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    name: _Name | None = None
    description: str | None = Field(default=None, max_length=500)
    period: Period | None = None
    fact: FactKind | None = None
    target: int | None = Field(default=None, ge=1, le=MAX_TARGET)
    campaign_id: _CampaignId | None = None
    reward: TaskReward | None = None
    active: bool | None = None


@dataclass(frozen=True)
class Task:
    tid: str
    task_id: str
    name: str
    period: Period
    fact: FactKind
    target: int
    points: int
    created_at: str
    updated_at: str
    description: str | None = None
    campaign_id: str | None = None
    active: bool = True

    def view(self) -> dict[str, object]:
        return {
            "task_id": self.task_id, "name": self.name, "description": self.description, "period": self.period.value,
            "fact": self.fact.value, "target": self.target, "campaign_id": self.campaign_id,
            "reward": {"points": self.points}, "active": self.active, "created_at": self.created_at,
            "updated_at": self.updated_at,
        }  # fmt: skip


@dataclass(frozen=True)
class Fact:
    """One thing a person did, as tasks count it. `fact_id` is unique per fact (the same fact delivered twice has
    the same id, so it counts once); `at` is when it happened (any time zone; the tenant's decides the period)."""

    kind: FactKind
    fact_id: str
    at: datetime
    cid: str | None = None


def _local(at: datetime, tz: str) -> datetime:
    if at.tzinfo is None:
        raise ValueError("a fact's time needs a time zone")
    return at.astimezone(ZoneInfo(tz))


def period_key(period: Period, at: datetime, tz: str) -> str:
    """The period `at` falls in, in the tenant's zone `tz`: `D2026-12-07`, `W2026-W50` (the ISO week-year, which
    differs from the calendar year around New Year) or `ONCE`."""
    if period is Period.ONCE:
        return "ONCE"
    local = _local(at, tz)
    if period is Period.DAILY:
        return "D" + local.date().isoformat()
    year, week, _ = local.isocalendar()
    return f"W{year:04d}-W{week:02d}"


def resets_at(period: Period, at: datetime, tz: str) -> str | None:
    """When the period `at` falls in ends (the next local midnight, or the next local Monday's), as UTC ISO; None
    for a one-off task. Built from the local date, so a day with a daylight-saving change ends at its midnight."""
    if period is Period.ONCE:
        return None
    local = _local(at, tz)
    days = 1 if period is Period.DAILY else 7 - local.weekday()
    nxt = local.date() + timedelta(days=days)
    midnight = datetime(nxt.year, nxt.month, nxt.day, tzinfo=ZoneInfo(tz))
    return iso(midnight.astimezone(UTC))


def keep_until(period: Period, at: datetime, tz: str) -> int | None:
    """The TTL (epoch seconds) of a progress item for the period `at` falls in; None: kept (one-off tasks)."""
    end = resets_at(period, at, tz)
    if end is None:
        return None
    return int(datetime.fromisoformat(end.replace("Z", "+00:00")).timestamp()) + KEEP_PROGRESS_DAYS * 86_400


def matches(task: Task, fact: Fact) -> bool:
    """Whether the fact moves the task: the task is active, counts this kind of fact, and the fact is in the
    task's campaign when it names one (a fact without a campaign, a check-in, moves only tasks without one)."""
    if not task.active or task.fact is not fact.kind:
        return False
    return task.campaign_id is None or task.campaign_id == fact.cid


def reward_source(task_id: str, key: str) -> str:
    """The ledger entry a completed task credits, in the person's ledger: one per task and period."""
    return f"task:{task_id}:{key}"


def progress_view(task: Task, counted: int, now: datetime, tz: str) -> dict[str, object]:
    """A task as its participant sees it now: how far they are in the current period and when it starts over."""
    return {
        "task_id": task.task_id, "name": task.name, "description": task.description, "period": task.period.value,
        "fact": task.fact.value, "campaign_id": task.campaign_id, "progress": min(counted, task.target),
        "target": task.target, "done": counted >= task.target, "reward": {"points": task.points},
        "period_key": period_key(task.period, now, tz), "resets_at": resets_at(task.period, now, tz),
    }  # fmt: skip
