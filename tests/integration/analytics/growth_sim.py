"""A seeded simulation of a tenant's first weeks, played through the real API on a controllable clock, that keeps
its own truth of what happened and derives the expected growth figures from it independently of the engine.

Extension points:
- `ACTIVITIES`: one `ActivitySpec` per thing a person may do on a day after joining: its daily chance, how it is
  done through the API, and what it means for the truth (`active`, `activates`, `pays`); `own_draws` gives a
  spec its own seeded stream, so adding it leaves the base tenant's people and activity as they were.
- `Truth.record(...)` keeps every event (person, kind, moment) and `Truth.extra` is free for new facts; expected
  figures are methods of `Truth` computed from `events` alone (`expected_days`, `expected_cohorts`, `credits`,
  `earned`, `tier_of`: the loyalty programme's arithmetic restated by hand, never the engine's rules).
"""

from __future__ import annotations

import random
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from tests.conftest import Api, Clock, Tenant, join

ZONE = ZoneInfo("Asia/Shanghai")  # the tenant's time zone (the default)
CHANNELS = ("wechat_moments", "douyin", "xiaohongshu", "sms")
INVITER_REWARD_FEN, INVITEE_REWARD_FEN = 500, 300

# The loyalty programme the simulated tenant runs (set before the first day). The truth below restates its
# arithmetic by hand (streak -> ladder day -> points, task periods, tier thresholds) and never calls the engine.
CHECKIN_LADDER = {1: 5, 2: 10, 3: 20}  # day of the 3-day cycle -> points
CHECKINS = {"enabled": True, "cycle_days": 3, "makeup_cards_per_month": 0,
            "ladder": [{"day": d, "points": p} for d, p in CHECKIN_LADDER.items()]}  # fmt: skip
DAILY_CHECKIN_POINTS, WEEKLY_VIEWS, WEEKLY_VIEWS_POINTS = 3, 2, 15
TASKS = [
    {"name": "Check in today", "period": "daily", "fact": "checked_in", "target": 1,
     "reward": {"points": DAILY_CHECKIN_POINTS}},
    {"name": "View 2 pages this week", "period": "weekly", "fact": "viewed", "target": WEEKLY_VIEWS,
     "reward": {"points": WEEKLY_VIEWS_POINTS}},
]  # fmt: skip
TIER_THRESHOLDS = {"silver": 80, "gold": 150}
# A window of whole weeks longer than the simulation: at the end every credit is in it.
TIER_WINDOW_DAYS, TIER_GRACE_DAYS = 91, 14
TIERS = {"measure": "points_earned", "window_days": TIER_WINDOW_DAYS, "grace_days": TIER_GRACE_DAYS,
         "tiers": [{"id": t, "name": t.title(), "threshold": n} for t, n in TIER_THRESHOLDS.items()]}  # fmt: skip


@dataclass
class Person:
    external_id: str
    channel: str
    joined: datetime
    churns_on: int  # the last simulated day the person may act on
    code: str = ""
    token: str = ""
    inviter: Person | None = None
    invited: int = 0


@dataclass(frozen=True)
class ActivitySpec:
    """Something a person may do on a day of their life: `chance(person, day)` of doing it that day."""

    kind: str
    chance: Callable[[Person, int], float]
    perform: Callable[[Simulation, Person, datetime], None]
    active: bool = True  # makes the person active that day
    activates: bool = False  # counts for activation within 7 days of joining
    pays: bool = False  # a paid order
    own_draws: bool = False  # drawn from its own seeded stream: adding it leaves everyone else's draws as they were


def _beacon(kind: str) -> Callable[[Simulation, Person, datetime], None]:
    def perform(sim: Simulation, person: Person, at: datetime) -> None:
        status, body = sim.api.call("POST", f"/v1/campaigns/{sim.cid}/events", {"type": kind}, token=person.token)
        assert status == 202, body

    return perform


def _order(sim: Simulation, person: Person, at: datetime) -> None:
    sim.orders += 1
    payload = {
        "event_id": f"ev-{sim.orders}", "order_id": f"o-{sim.seed}-{sim.orders}", "campaign_id": sim.cid,
        "external_id": person.external_id, "amount": 9_900, "status": "paid",
        "items": [{"sku": "SKU-1", "qty": 1, "price_fen": 9_900}],
    }  # fmt: skip
    status, body = sim.post_order(payload, int(at.timestamp()))
    assert status == 200, body


def _checkin(sim: Simulation, person: Person, at: datetime) -> None:
    status, body = sim.api.call("POST", f"/v1/campaigns/{sim.cid}/me/checkins", token=person.token)
    assert status == 201, body


ACTIVITIES: list[ActivitySpec] = [
    ActivitySpec("view", lambda p, d: 0.3, _beacon("view")),
    ActivitySpec("share", lambda p, d: 0.06, _beacon("share"), activates=True),
    ActivitySpec("order", lambda p, d: 0.03, _order, pays=True),
    ActivitySpec("checkin", lambda p, d: 0.25, _checkin, own_draws=True),
]
FLAGS = {spec.kind: spec for spec in ACTIVITIES}


@dataclass
class Truth:
    """What happened, as the simulation did it; the expected figures are computed from `events` alone."""

    start: dict[str, datetime] = field(default_factory=dict)
    channel: dict[str, str] = field(default_factory=dict)
    events: list[tuple[str, str, datetime]] = field(default_factory=list)  # (person, kind, moment)
    cost: dict[str, int] = field(default_factory=lambda: defaultdict(int))  # acquisition channel -> fen
    extra: dict[str, Any] = field(default_factory=dict)

    def record(self, who: str, kind: str, at: datetime) -> None:
        self.events.append((who, kind, at))

    def _active_days(self) -> dict[str, set[date]]:
        days: dict[str, set[date]] = defaultdict(set)
        for who, kind, at in self.events:
            if kind in ("join", "invite") or FLAGS[kind].active:
                days[who].add(at.astimezone(ZONE).date())
        return days

    def _joined(self, who: str) -> date:
        return self.start[who].astimezone(ZONE).date()

    def activated(self) -> set[str]:
        return {
            who for who, kind, at in self.events
            if (kind == "invite" or (kind in FLAGS and FLAGS[kind].activates))
            and timedelta(0) <= at - self.start[who] <= timedelta(days=7)
        }  # fmt: skip

    def paid(self) -> set[str]:
        return {who for who, kind, _ in self.events if kind in FLAGS and FLAGS[kind].pays}

    def expected_days(self, first: date, last: date) -> dict[str, dict[str, int]]:
        rows: dict[str, dict[str, int]] = {}
        active, activated, paid = self._active_days(), self.activated(), self.paid()
        for i in range((last - first).days + 1):
            day = first + timedelta(days=i)
            joined = [w for w in self.start if self._joined(w) == day]
            rows[day.isoformat()] = {
                "new": len(joined), "active": sum(day in days for days in active.values()),
                "activated": len(set(joined) & activated), "paid": len(set(joined) & paid),
            }  # fmt: skip
        return rows

    def expected_months(self) -> dict[str, int]:
        months: dict[str, set[str]] = defaultdict(set)
        for who, days in self._active_days().items():
            for day in days:
                months[day.isoformat()[:7]].add(who)
        return {m: len(people) for m, people in months.items()}

    def expected_channels(self) -> dict[str, dict[str, int]]:
        found: dict[str, dict[str, int]] = {}
        for channel in sorted(set(self.channel.values()) | set(self.cost)):
            new = sum(1 for c in self.channel.values() if c == channel)
            found[channel] = {"new": new, "reward_cost_fen": self.cost[channel]}
        return found

    def credits(self) -> dict[str, list[tuple[datetime, int, str]]]:
        """Who -> (when, points, what for) of every credit the programme owes: a check-in gives its streak's ladder
        day and completes the daily task; the second view of a local ISO week completes the weekly task."""
        found: dict[str, list[tuple[datetime, int, str]]] = defaultdict(list)
        checkins: dict[str, list[datetime]] = defaultdict(list)
        views: dict[tuple[str, tuple[int, int]], list[datetime]] = defaultdict(list)
        for who, kind, at in sorted(self.events, key=lambda e: e[2]):
            if kind == "checkin":
                checkins[who].append(at)
            elif kind == "view":
                views[(who, at.astimezone(ZONE).isocalendar()[:2])].append(at)
        for who, moments in checkins.items():
            streak, previous = 0, None
            for at in moments:
                day = at.astimezone(ZONE).date()
                streak = streak + 1 if previous is not None and day - previous == timedelta(days=1) else 1
                previous = day
                found[who].append((at, CHECKIN_LADDER.get((streak - 1) % len(CHECKIN_LADDER) + 1, 0), "check_in"))
                found[who].append((at, DAILY_CHECKIN_POINTS, "daily_task"))
        for (who, _), moments in views.items():
            if len(moments) >= WEEKLY_VIEWS:
                found[who].append((moments[WEEKLY_VIEWS - 1], WEEKLY_VIEWS_POINTS, "weekly_task"))
        return found

    def earned(self, since: datetime | None = None, until: datetime | None = None) -> dict[str, int]:
        """Who -> points credited in (since, until] (everyone who joined, 0 included)."""
        credits, lo, hi = (
            self.credits(),
            since or datetime.min.replace(tzinfo=UTC),
            until or datetime.max.replace(tzinfo=UTC),
        )
        return {who: sum(p for at, p, _ in credits.get(who, []) if lo < at <= hi) for who in self.start}

    @staticmethod
    def tier_of(points: int) -> str | None:
        reached = [t for t, n in TIER_THRESHOLDS.items() if points >= n]
        return max(reached, key=TIER_THRESHOLDS.__getitem__) if reached else None

    def expected_cohorts(self, today: date) -> dict[str, dict[str, Any]]:
        """Cohort (ISO week of the first join) -> size, people active per week k, 30-day retained, activated, paid."""
        active, activated, paid = self._active_days(), self.activated(), self.paid()
        rows: dict[str, dict[str, Any]] = {}
        for who in self.start:
            joined = self._joined(who)
            year, week, _ = joined.isocalendar()
            monday = joined - timedelta(days=joined.weekday())
            row = rows.setdefault(
                f"{year}-W{week:02d}", {"size": 0, "weeks": [0] * 13, "r30": 0, "activated": 0, "paid": 0}
            )
            row["size"] += 1
            weeks = {(d - monday).days // 7 for d in active[who]}
            for k in range(13):
                row["weeks"][k] += k in weeks
            row["r30"] += any(30 <= (d - joined).days <= 36 for d in active[who])
            row["activated"] += who in activated
            row["paid"] += who in paid
        return rows


@dataclass
class Simulation:
    """`days` simulated days ending yesterday (tenant time): people join over the first `join_days` with a
    channel (some invited by an earlier person), act on later days until they churn, and pay now and then."""

    api: Api
    tenant: Tenant
    clock: Clock
    cid: str
    post_order: Callable[[dict[str, Any], int], tuple[int, Any]]
    new_ip: Callable[[], str]
    seed: int = 20
    days: int = 60
    join_days: int = 35
    joins_per_day: tuple[int, int] = (0, 2)
    invited_share: float = 0.3
    truth: Truth = field(default_factory=Truth)
    people: list[Person] = field(default_factory=list)
    orders: int = 0

    def __post_init__(self) -> None:
        self.rng = random.Random(self.seed)
        self.draws = {s.kind: random.Random(f"{self.seed}-{s.kind}") if s.own_draws else self.rng for s in ACTIVITIES}
        self.first_day = datetime.now(ZONE).date() - timedelta(days=self.days)

    def moment(self, day: int, minute: int) -> datetime:
        """A moment of simulated day `day`, 09:00 + `minute` local time (well away from midnight)."""
        start = datetime.combine(self.first_day + timedelta(days=day), time(9), ZONE)
        return (start + timedelta(minutes=minute)).astimezone(UTC)

    def at(self, moment: datetime) -> None:
        """The API's clock set to `moment`."""
        self.clock.offset = moment - datetime.now(UTC)

    def _join(self, day: int, minute: int) -> None:
        at = self.moment(day, minute)
        inviter = None
        earlier = [p for p in self.people if p.joined < at]
        if earlier and self.rng.random() < self.invited_share:
            inviter = self.rng.choice(earlier)
        channel = self.rng.choice(CHANNELS)
        lifetime = min(int(self.rng.expovariate(1 / 20)), self.days)
        person = Person(f"sim-{self.seed}-{len(self.people)}", channel, at, day + lifetime, inviter=inviter)
        self.at(at)
        self.new_ip()
        extra = {"ref": inviter.code} if inviter else {}
        status, body = join(self.api, self.cid, external_id=person.external_id, channel=channel, **extra)
        assert status == 201, body
        person.code, person.token = body["invite_code"], body["token"]
        self.people.append(person)
        self.truth.start[person.external_id] = at
        self.truth.channel[person.external_id] = channel
        self.truth.record(person.external_id, "join", at)
        if inviter is not None:
            self.truth.record(inviter.external_id, "invite", at)
            inviter.invited += 1
            self.truth.cost[channel] += INVITEE_REWARD_FEN
            if inviter.invited == 1:
                self.truth.cost[inviter.channel] += INVITER_REWARD_FEN

    def run(self, drain: Callable[[], object]) -> None:
        """Play every day in order (joins first, then each living person's activities), draining the stream
        weekly; the clock is left at the real now."""
        for day in range(self.days):
            if day < self.join_days:
                for n in range(self.rng.randint(*self.joins_per_day)):
                    self._join(day, 30 * n)
            for person in list(self.people):
                if person.joined >= self.moment(day, 0) or day > person.churns_on:
                    continue
                for spec in ACTIVITIES:
                    rng = self.draws[spec.kind]
                    if rng.random() < spec.chance(person, day):
                        at = self.moment(day, 120 + rng.randrange(600))
                        self.at(at)
                        spec.perform(self, person, at)
                        self.truth.record(person.external_id, spec.kind, at)
            if day % 7 == 6:
                drain()
        self.clock.offset = timedelta()
        drain()
