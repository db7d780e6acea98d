"""Growth KPIs and weekly cohorts (pure; docs/retention.md): which facts make a person active, and what each
activity counts exactly once for that person (an active day, week and month, activation, first payment).

A person is a profile (`tid`, `uid`): the participant's `person`, else `c_{code}`. Their start is their first
join in the tenant; their cohort the ISO week (in the tenant's time zone) of that day. Every count is a
`Claim`: a marker under the person and the counters it adds, written together once (analytics/store/growth.py).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict, Field, model_validator

from chalicelib.core.clock import parse_iso
from chalicelib.core.codes import Code
from chalicelib.core.errors import ValidationFailed
from chalicelib.table.images import (
    AssistImage,
    BeaconImage,
    CheckinImage,
    Image,
    OrderImage,
    ParticipantImage,
    RewardImage,
)

ACTIVATION_WINDOW = timedelta(days=7)  # a share or an invite this soon after joining activates a person
RETENTION_FIRST_DAY, RETENTION_LAST_DAY = 30, 36  # "30-day retention": active on a day in this range after joining
COHORT_WEEKS = 12  # the table's columns: weeks 0..12 after the cohort's week
MAX_COHORT_ROWS = 52
HELD, APPROVED = "held", "approved"
COUNTED_REWARDS = frozenset({"issued", "pending"})  # as the campaign counters (rules/counting.py)
NONE = "-"

# Counter attributes of the day, cohort and month items.
NEW, ACTIVE, ACTIVATED, PAID, SIZE, RETAINED_30 = "new", "active", "activated", "paid", "size", "r30"
START = "START"  # the marker of a person's first join: it holds their start


def new_by(channel: str | None) -> str:
    return f"new|{channel or NONE}"


def cost_by(channel: str | None) -> str:
    return f"cost|{channel or NONE}"


def week_cell(k: int) -> str:
    return f"w{k}"


@dataclass(frozen=True)
class Activity:
    """One thing a person did: `kind` is join, view, share, invite, order, help or checkin. The person is named
    by `uid` (with `tid`) when the image carries it, else by a participant `code` to look up."""

    kind: str
    at: str
    tid: str | None = None
    uid: str | None = None
    code: str | None = None
    channel: str | None = None  # a join's channel


@dataclass(frozen=True)
class Cost:
    """A reward's cost entering (positive) or leaving (negative, when revoked) the tenant's spend, once per
    reward and direction (`key`), charged to the acquisition channel of the person it was issued to."""

    key: str
    code: str
    fen: int
    at: str


@dataclass(frozen=True)
class Start:
    """A person's first join in the tenant."""

    at: str
    day: date
    channel: str | None

    @property
    def week(self) -> str:
        return iso_week(self.day)


@dataclass(frozen=True)
class Claim:
    """Counted once per person: the marker `name` and the counters (item kind, item key, attribute, amount)."""

    name: str
    adds: tuple[tuple[str, str, str, int], ...]
    fields: dict[str, str] = field(default_factory=dict)  # kept on the marker (the start's)


def uid_of(new: ParticipantImage) -> str:
    return new.person or f"c_{new.code}"


def _counted_join(event: str, old: ParticipantImage | None, new: ParticipantImage) -> bool:
    """A join that counts: inserted unheld, or approved after a hold (once, on that change; docs/fraud.md)."""
    if event == "INSERT":
        return new.review != HELD
    return event == "MODIFY" and old is not None and old.review == HELD and new.review == APPROVED


def activities(entity: str, event: str, old: Image | None, new: Image | None, created: str | None) -> list[Activity]:
    """The activities one stream change records: joins (and the inviter's invite), view and share beacons of a
    known participant, paid orders, new helpers of an assist, check-ins. Removals record nothing."""
    if new is None or event == "REMOVE":
        return []
    if isinstance(new, ParticipantImage):
        if not _counted_join(event, old if isinstance(old, ParticipantImage) else None, new):
            return []
        found = [Activity("join", new.joined_at, new.tid, uid_of(new), channel=new.channel)]
        if new.inviter:
            found.append(Activity("invite", new.joined_at, code=new.inviter))
        return found
    if isinstance(new, BeaconImage) and event == "INSERT" and new.code and new.type in ("view", "share"):
        return [Activity(new.type, new.at, code=new.code)]
    if isinstance(new, OrderImage) and event == "INSERT" and new.status == "paid" and new.buyer:
        return [Activity("order", new.paid_at, new.tid, code=new.buyer)]
    if isinstance(new, AssistImage) and created:
        before = set(old.helped) if isinstance(old, AssistImage) else set()
        return [Activity("help", created, new.tid, code=c) for c in sorted(set(new.helped) - before)]
    if isinstance(new, CheckinImage) and event == "INSERT":
        # Active when they acted: a make-up sent on Thursday for Wednesday is Thursday's activity.
        return [Activity("checkin", new.created_at, new.tid, new.uid)]
    return []


def cost(event: str, old: Image | None, new: Image | None) -> Cost | None:
    """A reward's cost from when it is owed (issued or pending) until it is revoked, as the campaign counters."""
    if not isinstance(new, RewardImage):
        return None
    fen = new.cost_fen if new.cost_fen is not None else new.value_fen
    before = isinstance(old, RewardImage) and old.status in COUNTED_REWARDS and event == "MODIFY"
    after = new.status in COUNTED_REWARDS
    key = f"{new.cid}|{new.code}|{new.rule}"
    if after and not before and fen:
        return Cost(f"RW|{key}", new.code, fen, new.created_at)
    if before and not after and new.status == "revoked" and fen:
        return Cost(f"RV|{key}", new.code, -fen, new.revoked_at or new.created_at)
    return None


def local_day(at: str, zone: ZoneInfo) -> date:
    return parse_iso(at).astimezone(zone).date()


def iso_week(day: date) -> str:
    year, week, _ = day.isocalendar()
    return f"{year}-W{week:02d}"


def week_monday(week: str) -> date:
    year, number = week.split("-W")
    return date.fromisocalendar(int(year), int(number), 1)


def start_of(join: Activity, zone: ZoneInfo) -> Start:
    return Start(join.at, local_day(join.at, zone), join.channel)


def start_claim(start: Start) -> Claim:
    day = start.day.isoformat()
    adds = (("day", day, NEW, 1), ("day", day, new_by(start.channel), 1), ("cohort", start.week, SIZE, 1))
    return Claim(START, adds, {"at": start.at, "day": day, "channel": start.channel or NONE})


def claims(start: Start | None, act: Activity, zone: ZoneInfo) -> list[Claim]:
    """What one activity counts for its person (each once, whatever else the person did that day or week).
    Without a known start (the join not seen yet) only the day and the month count."""
    day = local_day(act.at, zone)
    found = [
        Claim(f"D|{day.isoformat()}", (("day", day.isoformat(), ACTIVE, 1),)),
        Claim(f"MO|{day.isoformat()[:7]}", (("month", day.isoformat()[:7], ACTIVE, 1),)),
    ]
    if start is None or day < start.day:
        return found
    cohort, joined = start.week, start.day.isoformat()
    k = (day - week_monday(cohort)).days // 7
    if k <= COHORT_WEEKS:
        found.append(Claim(f"W|{iso_week(day)}", (("cohort", cohort, week_cell(k), 1),)))
    if RETENTION_FIRST_DAY <= (day - start.day).days <= RETENTION_LAST_DAY:
        found.append(Claim("R30", (("cohort", cohort, RETAINED_30, 1),)))
    since = parse_iso(act.at) - parse_iso(start.at)
    if act.kind in ("share", "invite") and timedelta(0) <= since <= ACTIVATION_WINDOW:
        found.append(Claim("ACT", (("day", joined, ACTIVATED, 1), ("cohort", cohort, ACTIVATED, 1))))
    if act.kind == "order":
        found.append(Claim("PAID", (("day", joined, PAID, 1), ("cohort", cohort, PAID, 1))))
    return found


def cost_claim(item: Cost, start: Start | None, zone: ZoneInfo) -> Claim:
    day = local_day(item.at, zone).isoformat()
    return Claim(item.key, (("day", day, cost_by(start.channel if start else None), item.fen),))


# --- reports --------------------------------------------------------------------------------------


def pct(numerator: int, denominator: int) -> int | None:
    """A whole percentage, rounded half up; None of nobody."""
    return (200 * numerator + denominator) // (2 * denominator) if denominator > 0 else None


def day_rows(days: dict[str, dict[str, int]], start: date, end: date) -> list[dict[str, Any]]:
    rows = []
    for i in range((end - start).days + 1):
        day = (start + timedelta(days=i)).isoformat()
        values = days.get(day, {})
        rows.append({
            "date": day, "new": values.get(NEW, 0), "active": values.get(ACTIVE, 0),
            "activated": values.get(ACTIVATED, 0), "paid": values.get(PAID, 0),
            "reward_cost_fen": sum(v for k, v in values.items() if k.startswith("cost|")),
        })  # fmt: skip
    return rows


def totals(rows: list[dict[str, Any]]) -> dict[str, Any]:
    new, activated, paid = (sum(int(r[k]) for r in rows) for k in (NEW, ACTIVATED, PAID))
    return {
        "new": new, "activated": activated, "paid": paid, "activation_pct": pct(activated, new),
        "paid_conversion_pct": pct(paid, new), "reward_cost_fen": sum(int(r["reward_cost_fen"]) for r in rows),
    }  # fmt: skip


def channels(days: dict[str, dict[str, int]]) -> list[dict[str, Any]]:
    """CAC by acquisition channel: reward cost charged to the channel / new people from it, in whole fen."""
    new: dict[str, int] = {}
    spent: dict[str, int] = {}
    for values in days.values():
        for name, amount in values.items():
            kind, _, channel = name.partition("|")
            if kind == "new" and channel:
                new[channel] = new.get(channel, 0) + amount
            elif kind == "cost" and channel:
                spent[channel] = spent.get(channel, 0) + amount
    return [
        {"channel": None if ch == NONE else ch, "new": new.get(ch, 0), "reward_cost_fen": spent.get(ch, 0),
         "cac_fen": spent.get(ch, 0) // new[ch] if new.get(ch) else None}
        for ch in sorted(set(new) | set(spent))
    ]  # fmt: skip


def cohort_rows(cohorts: dict[str, dict[str, int]], weeks: list[str], today: date) -> list[dict[str, Any]]:
    """One row per cohort week, newest first: its size, then per week k the people active in it (a cell is None
    until week k has begun), 30-day retention (final once its last member's day 36 has passed), activation and
    paid conversion. Percentages are whole, of the cohort's size, with their numerators."""
    rows = []
    for week in sorted(weeks, reverse=True):
        values, monday = cohorts.get(week, {}), week_monday(week)
        size = values.get(SIZE, 0)
        cells: list[dict[str, int | None] | None] = []
        for k in range(COHORT_WEEKS + 1):
            begun = monday + timedelta(days=7 * k) <= today
            active = values.get(week_cell(k), 0)
            cells.append({"week": k, "active": active, "pct": pct(active, size)} if begun else None)
        retained = values.get(RETAINED_30, 0)
        rows.append({
            "cohort": week, "starts": monday.isoformat(), "size": size, "weeks": cells,
            "retention_30d": {"retained": retained, "pct": pct(retained, size),
                              "final": today > monday + timedelta(days=6 + RETENTION_LAST_DAY)},
            "activated": values.get(ACTIVATED, 0), "activation_pct": pct(values.get(ACTIVATED, 0), size),
            "paid": values.get(PAID, 0), "paid_conversion_pct": pct(values.get(PAID, 0), size),
        })  # fmt: skip
    return rows


def last_weeks(today: date, count: int) -> list[str]:
    monday = today - timedelta(days=today.weekday())
    return [iso_week(monday - timedelta(days=7 * i)) for i in range(count)]


def cohort_count(raw: str | None) -> int:
    if raw in (None, ""):
        return COHORT_WEEKS
    if not str(raw).isdigit() or not 1 <= int(str(raw)) <= MAX_COHORT_ROWS:
        raise ValidationFailed(
            f"weeks must be a whole number from 1 to {MAX_COHORT_ROWS}, got {raw!r}",
            code=Code.INVALID_RANGE, details={"field": "weeks", "value": raw, "max": MAX_COHORT_ROWS},
        )  # fmt: skip
    return int(str(raw))


# --- quarterly targets ---------------------------------------------------------------------------

_QUARTER = re.compile(r"^([0-9]{4})Q([1-4])$")
TARGET_FIELDS = ("new_users", "retention_30d_pct", "paid_conversion_pct", "monthly_active")


class GrowthTarget(BaseModel):
    """A quarter's targets (each optional): new people, 30-day retention and paid conversion as whole
    percentages, and monthly active people."""

    model_config = ConfigDict(extra="forbid")

    quarter: str = Field(pattern=r"^[0-9]{4}Q[1-4]$", description='A calendar quarter, as "2027Q1".')
    new_users: int | None = Field(default=None, ge=0, le=10**9)
    retention_30d_pct: int | None = Field(default=None, ge=0, le=100)
    paid_conversion_pct: int | None = Field(default=None, ge=0, le=100)
    monthly_active: int | None = Field(default=None, ge=0, le=10**9)

    @model_validator(mode="after")
    def _something(self) -> GrowthTarget:
        if all(getattr(self, name) is None for name in TARGET_FIELDS):
            raise ValueError("set at least one target")
        return self


def quarter_of(day: date) -> str:
    return f"{day.year}Q{(day.month - 1) // 3 + 1}"


def quarter_range(quarter: str) -> tuple[date, date]:
    found = _QUARTER.match(quarter)
    if found is None:
        raise ValueError(quarter)
    year, number = int(found.group(1)), int(found.group(2))
    first = date(year, 3 * number - 2, 1)
    after = date(year + 1, 1, 1) if number == 4 else date(year, 3 * number + 1, 1)
    return first, after - timedelta(days=1)


def quarter_weeks(quarter: str) -> list[str]:
    """The cohorts of a quarter: the ISO weeks whose Monday falls in it."""
    first, last = quarter_range(quarter)
    monday = first + timedelta(days=(7 - first.weekday()) % 7)
    weeks = []
    while monday <= last:
        weeks.append(iso_week(monday))
        monday += timedelta(days=7)
    return weeks


def quarter_actuals(
    days: dict[str, dict[str, int]], cohorts: dict[str, dict[str, int]], months: dict[str, dict[str, int]], today: date
) -> dict[str, Any]:
    """The quarter so far: new people, their paid conversion, the 30-day retention of its cohorts whose
    retention is final (exact numerator and denominator), and the active people of its latest month so far."""
    new, paid = (sum(v.get(k, 0) for v in days.values()) for k in (NEW, PAID))
    final = [w for w in cohorts if today > week_monday(w) + timedelta(days=6 + RETENTION_LAST_DAY)]
    retained, size = (sum(cohorts[w].get(k, 0) for w in final) for k in (RETAINED_30, SIZE))
    latest = max((m for m in months if m <= today.isoformat()[:7]), default=None)
    return {
        "new_users": new, "paid": paid, "paid_conversion_pct": pct(paid, new), "retained_30d": retained,
        "retention_30d_cohort_size": size, "retention_30d_pct": pct(retained, size),
        "monthly_active": months[latest].get(ACTIVE, 0) if latest else 0, "month": latest,
    }  # fmt: skip


def progress(target: dict[str, Any] | None, actual: dict[str, Any]) -> dict[str, int | None]:
    """Each target's progress as a whole percentage of it (None where no target is set or it is zero)."""
    found: dict[str, int | None] = {}
    for name in TARGET_FIELDS:
        goal, have = (target or {}).get(name), actual.get(name)
        found[name] = pct(int(have), int(goal)) if goal and have is not None else None
    return found
