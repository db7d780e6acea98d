"""Growth KPIs, weekly cohort retention and quarterly targets per tenant (docs/retention.md): kept from the
stream one count per person and period, read per local day, cohort and month in the tenant's time zone."""

from __future__ import annotations

from collections import defaultdict
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from chalicelib.accounts import audit, zones
from chalicelib.analytics.rules import growth as rules
from chalicelib.analytics.rules import stats as analytics
from chalicelib.analytics.rules.growth import Activity, Claim, Cost, GrowthTarget, Start
from chalicelib.analytics.store import growth as store
from chalicelib.core.clock import iso, utcnow
from chalicelib.core.observability import logger
from chalicelib.core.rbac import Principal
from chalicelib.referral import identity
from chalicelib.table.changes import Change

Person = tuple[str, str]


def _zone(tid: str, cache: dict[str, ZoneInfo]) -> ZoneInfo:
    if tid not in cache:
        cache[tid] = ZoneInfo(zones.timezone(tid))
    return cache[tid]


def _read(batch: list[Change]) -> tuple[list[tuple[Activity, str]], list[tuple[Cost, str]]]:
    acts: list[tuple[Activity, str]] = []
    costs: list[tuple[Cost, str]] = []
    for change in batch:
        created = iso(datetime.fromtimestamp(change.created, tz=utcnow().tzinfo)) if change.created else None
        acts += [(a, change.sequence) for a in rules.activities(change.entity, change.event, change.old, change.new,
                                                                  created)]  # fmt: skip
        found = rules.cost(change.event, change.old, change.new)
        if found is not None:
            costs.append((found, change.sequence))
    return acts, costs


def on_batch(batch: list[Change]) -> set[str]:
    """Stream handler: every activity and reward cost of the batch, counted once per person and period."""
    acts, costs = _read(batch)
    if not acts and not costs:
        return set()
    now = utcnow()
    codes = {a.code for a, _ in acts if a.uid is None and a.code} | {c.code for c, _ in costs}
    people = identity.persons({c for c in codes if c}) if codes else {}
    cache: dict[str, ZoneInfo] = {}
    owned: list[tuple[Person, Activity, str]] = []
    for act, sequence in acts:
        person = (act.tid, act.uid) if act.tid and act.uid else people.get(act.code or "")
        if person is not None:  # a participant without a person (before profiles existed) is not counted
            owned.append((person, act, sequence))
    charged = [(people[c.code], c, s) for c, s in costs if c.code in people]
    known = store.starts({p for p, _, _ in owned} | {p for p, _, _ in charged})
    starts: dict[Person, Start] = {
        p: Start(v["at"], date.fromisoformat(v["day"]), None if v["channel"] == rules.NONE else v["channel"])
        for p, v in known.items()
    }
    claims: list[tuple[Person, Claim]] = []
    sources: dict[Person, set[str]] = defaultdict(set)
    # A person's first join: the recorded one, else the earliest in this batch (first written wins).
    for person, act, sequence in sorted(owned, key=lambda o: o[1].at):
        if act.kind == "join" and person not in known and person not in starts:
            starts[person] = rules.start_of(act, _zone(person[0], cache))
            claims.append((person, rules.start_claim(starts[person])))
            sources[person].add(sequence)
    for person, act, sequence in owned:
        claims += [(person, c) for c in rules.claims(starts.get(person), act, _zone(person[0], cache))]
        sources[person].add(sequence)
    for person, item, sequence in charged:
        claims.append((person, rules.cost_claim(item, starts.get(person), _zone(person[0], cache))))
        sources[person].add(sequence)
    try:
        store.claim(claims, now)
    except Exception:
        logger.exception("growth counters failed", claims=len(claims))
        return {s for found in sources.values() for s in found}
    return set()


# --- reads ---------------------------------------------------------------------------------------


def _days(tid: str, first: date, last: date) -> dict[str, dict[str, int]]:
    return store.read(tid, "day", first.isoformat(), last.isoformat())


def _quarter(tid: str, quarter: str, today: date) -> dict[str, Any]:
    first, last = rules.quarter_range(quarter)
    weeks = rules.quarter_weeks(quarter)
    cohorts = store.read(tid, "cohort", weeks[0], weeks[-1]) if weeks else {}
    months = store.read(tid, "month", first.isoformat()[:7], last.isoformat()[:7])
    actual = rules.quarter_actuals(_days(tid, first, last), cohorts, months, today)
    goal = store.target(tid, quarter)
    return {"quarter": quarter, "target": goal, "actual": actual, "progress_pct": rules.progress(goal, actual)}


def report(actor: Principal, query: dict[str, str | None], now: datetime) -> dict[str, Any]:
    """KPIs per local day of the range with their totals, active people per month, CAC by channel, and the
    quarter of the range's last day against its targets."""
    zone = ZoneInfo(zones.timezone(actor.tid))
    today = now.astimezone(zone).date()
    start, end, _ = analytics.validate_range(query.get("from"), query.get("to"), None, today)
    days = _days(actor.tid, start, end)
    rows = rules.day_rows(days, start, end)
    months = store.read(actor.tid, "month", start.isoformat()[:7], end.isoformat()[:7])
    return {
        "timezone": str(zone), "from": start.isoformat(), "to": end.isoformat(), "days": rows,
        "totals": rules.totals(rows),
        "months": [{"month": m, "active": v.get(rules.ACTIVE, 0)} for m, v in sorted(months.items())],
        "channels": rules.channels(days), "quarter": _quarter(actor.tid, rules.quarter_of(end), today),
    }  # fmt: skip


def cohorts(actor: Principal, weeks: str | None, now: datetime) -> dict[str, Any]:
    zone = ZoneInfo(zones.timezone(actor.tid))
    today = now.astimezone(zone).date()
    wanted = rules.last_weeks(today, rules.cohort_count(weeks))
    found = store.read(actor.tid, "cohort", wanted[-1], wanted[0])
    return {
        "timezone": str(zone), "today": today.isoformat(), "weeks": rules.COHORT_WEEKS,
        "rows": rules.cohort_rows(found, wanted, today),
    }  # fmt: skip


def targets(actor: Principal) -> dict[str, Any]:
    return {"items": sorted(store.targets(actor.tid), key=lambda t: str(t["quarter"]))}


def set_target(actor: Principal, body: GrowthTarget, now: datetime) -> dict[str, Any]:
    values = {name: getattr(body, name) for name in rules.TARGET_FIELDS}
    saved = store.put_target(actor.tid, body.quarter, values, now)
    audit.record(actor.tid, actor.email, "growth.target.set", body.quarter, body.model_dump(mode="json"), now)
    return saved


def forget(tid: str, uid: str) -> int:
    """Data-subject erasure of a person's last campaign in the tenant: the days, weeks and months they were active
    go; the tenant's counters (aggregates) stay as they are. How many markers went."""
    return store.forget_activity(tid, uid)
