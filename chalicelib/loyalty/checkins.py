"""Daily check-ins (每日签到): the tenant's programme (audited), a participant's check-in, make-up and calendar, and
the coupon a check-in day gives, issued from the stream (docs/retention.md).

A check-in counts for the local day of the tenant's time zone. The day's item and its points are written in one
transaction keyed by the day, so a day is checked in and rewarded once however often, and however concurrently, it
is sent; the reward is fixed when the day is written, from the streak at that moment.
"""

from __future__ import annotations

import random
import time
from datetime import date, datetime
from typing import Any

from chalicelib.accounts import audit, tenants
from chalicelib.campaigns import lifecycle, live
from chalicelib.core.clock import iso, parse_iso
from chalicelib.core.codes import Code
from chalicelib.core.errors import Conflict, ValidationFailed
from chalicelib.core.observability import logger
from chalicelib.core.rbac import Principal
from chalicelib.loyalty import catalogue
from chalicelib.loyalty.points import owner_of
from chalicelib.loyalty.rules import checkins as rules
from chalicelib.loyalty.rules.checkins import CheckinDay, CheckinSettings, MakeupRequest
from chalicelib.loyalty.rules.points import Kind, PointsEntry, expiry_of
from chalicelib.loyalty.store import checkins as store
from chalicelib.loyalty.store.checkins import MadeUp
from chalicelib.referral import identity, rewards
from chalicelib.referral.rules.records import ParticipantRecord
from chalicelib.referral.rules.rewards import Grant
from chalicelib.table.changes import Change
from chalicelib.table.images import CheckinImage

# Concurrent requests for one person's day or month: read again this many times before answering CHECKIN_BUSY.
MAX_ATTEMPTS = 8


def points_source(day: date) -> str:
    """The ledger source of a day's check-in points: one per person and local date."""
    return f"check_in:{day.isoformat()}"


def coupon_rule(day: date) -> str:
    """The reward rule of a day's check-in coupon: (campaign, participant, rule) is issued once."""
    return f"checkin:{day.strftime('%Y%m%d')}"


def _pause(attempt: int) -> None:
    time.sleep(random.uniform(0, 0.005 * (attempt + 1)))  # noqa: S311 - jitter, not a secret


# --- the programme -----------------------------------------------------------------------------------------------


def programme(tid: str) -> CheckinSettings:
    """The tenant's programme; the defaults (switched off) when it never set one."""
    stored = store.settings(tid)
    return CheckinSettings.model_validate_json(stored[0]) if stored else CheckinSettings()


def read_settings(actor: Principal) -> dict[str, Any]:
    stored = store.settings(actor.tid)
    current = CheckinSettings.model_validate_json(stored[0]) if stored else CheckinSettings()
    return {"settings": current.model_dump(mode="json"), "configured": stored is not None}


def update_settings(actor: Principal, body: CheckinSettings, now: datetime) -> dict[str, Any]:
    """Replace the programme whole; it applies to check-ins from now on (days given keep their reward)."""
    stored = store.settings(actor.tid)
    store.put_settings(actor.tid, body.model_dump_json(), stored[1] if stored else 0, iso(now), actor.email)
    audit.record(actor.tid, actor.email, "loyalty.checkins", "checkins", body.model_dump(mode="json"), now)
    return read_settings(actor)


# --- the participant ---------------------------------------------------------------------------------------------


def _context(
    cid: str, authorization: str | None, now: datetime
) -> tuple[str, ParticipantRecord, CheckinSettings, date]:
    rec = live.campaign(cid)
    participant = identity.authenticated(cid, authorization, now)
    settings = programme(rec.tid)
    if not settings.enabled:
        raise Conflict("this merchant has no daily check-in", code=Code.CHECKINS_DISABLED)
    return rec.tid, participant, settings, rules.local_day(now, tenants.timezone(rec.tid))


def check_in(cid: str, authorization: str | None, now: datetime) -> tuple[dict[str, Any], bool]:
    """Check in for today (local); (the day, whether it was checked in by this request). A repeat answers the
    day as it was written, reward included."""
    tid, participant, settings, today = _context(cid, authorization, now)
    uid = owner_of(participant)
    for attempt in range(MAX_ATTEMPTS):
        found = store.day(tid, uid, today)
        if found is not None:
            return found.view(), False
        covered = {d.day for d in store.history(tid, uid).days} | {today}
        streak = rules.streak_ending(covered, today)
        step = rules.reward_for(settings, streak)
        points = step.points if step else 0
        day = CheckinDay(today, False, streak, points, iso(now), cid, step.coupon if step else None)
        credit = None
        if points:
            credit = PointsEntry(
                source=points_source(today), kind=Kind.CHECK_IN, points=points, created_at=iso(now),
                explanation=f"Daily check-in on {today.isoformat()}, day {streak} of a streak",
                expires_at=expiry_of(now, catalogue.policy(tid).expiry_days), cid=cid,
            )  # fmt: skip
        written = store.check_in(tid, uid, participant.code, day, credit)
        if written is not None:
            logger.info("checked in", tid=tid, day=today.isoformat(), streak=streak, points=written.points)
            return written.view(), True
        _pause(attempt)
    raise Conflict("check-in is busy; retry", code=Code.CHECKIN_BUSY)


def _cards_left(settings: CheckinSettings, history: store.History, today: date) -> int:
    return max(0, settings.makeup_cards_per_month - history.cards_used.get(rules.month_of(today), 0))


def make_up(cid: str, authorization: str | None, body: MakeupRequest, now: datetime) -> tuple[dict[str, Any], bool]:
    """Cover a missed day with a make-up card; (the day and the cards left, whether this request covered it). A day
    covered before (checked in or made up) answers as it is and uses no card."""
    tid, participant, settings, today = _context(cid, authorization, now)
    uid = owner_of(participant)
    for attempt in range(MAX_ATTEMPTS):
        history = store.history(tid, uid)
        found = next((d for d in history.days if d.day == body.date), None)
        if found is not None:
            return {**found.view(), "makeup_cards_left": _cards_left(settings, history, today)}, False
        first = min((d.day for d in history.days if not d.made_up), default=None)
        problem = rules.makeup_problem(body.date, today, first, settings.makeup_window_days)
        if problem is not None:
            raise ValidationFailed(
                f"{body.date.isoformat()} cannot be made up ({problem.replace('_', ' ')})",
                code=Code.MAKEUP_DATE_NOT_ALLOWED, details={"reason": problem, "today": today.isoformat()},
            )  # fmt: skip
        limit = settings.makeup_cards_per_month
        if _cards_left(settings, history, today) < 1:
            raise Conflict("no make-up cards left this month", code=Code.MAKEUP_LIMIT, details={"per_month": limit})
        day = CheckinDay(body.date, True, 0, 0, iso(now), cid)
        outcome = store.make_up(tid, uid, participant.code, day, limit)
        if outcome is MadeUp.CREATED:
            logger.info("check-in made up", tid=tid, day=body.date.isoformat())
            used = history.cards_used.get(rules.month_of(today), 0) + 1
            return {**day.view(), "makeup_cards_left": max(0, limit - used)}, True
        if outcome is MadeUp.LIMIT:
            raise Conflict("no make-up cards left this month", code=Code.MAKEUP_LIMIT, details={"per_month": limit})
        _pause(attempt)  # EXISTS is answered from the next read; CONFLICT is tried again
    raise Conflict("check-in is busy; retry", code=Code.CHECKIN_BUSY)


def _reward_view(settings: CheckinSettings, day: date, streak: int) -> dict[str, Any]:
    step = rules.reward_for(settings, streak)
    return {
        "date": day.isoformat(), "streak_day": streak, "cycle_day": rules.cycle_day(streak, settings.cycle_days),
        "points": step.points if step else 0, "coupon": step.coupon.model_dump() if step and step.coupon else None,
    }  # fmt: skip


def calendar(cid: str, authorization: str | None, month: str | None, now: datetime) -> dict[str, Any]:
    """A month of the person's check-ins (the current local month by default), their streaks, the cards left
    this month, today's state and the reward of the next check-in."""
    rec = live.campaign(cid)
    participant = identity.authenticated(cid, authorization, now)
    tid, uid = rec.tid, owner_of(participant)
    settings, zone = programme(tid), tenants.timezone(tid)
    today = rules.local_day(now, zone)
    month = month or rules.month_of(today)
    if not rules.MONTH_RE.match(month):
        raise ValidationFailed(
            "month must be YYYY-MM",
            details={"errors": [{"field": "month", "type": "pattern", "message": "expected YYYY-MM"}]},
        )  # fmt: skip
    history = store.history(tid, uid)
    covered = {d.day for d in history.days}
    nxt, streak = rules.next_streak(covered, today)
    return {
        "enabled": settings.enabled, "timezone": zone, "today": today.isoformat(), "month": month,
        "days": [d.view() for d in history.days if rules.month_of(d.day) == month],
        "checked_in_today": today in covered, "current_streak": rules.current_streak(covered, today),
        "longest_streak": rules.longest_streak(covered), "cycle_days": settings.cycle_days,
        "ladder": [step.model_dump() for step in settings.ladder],
        "makeup_cards_per_month": settings.makeup_cards_per_month,
        "makeup_cards_left": _cards_left(settings, history, today),
        "next_reward": _reward_view(settings, nxt, streak) if settings.enabled else None,
    }  # fmt: skip


# --- the stream --------------------------------------------------------------------------------------------------


def on_checkin(change: Change) -> None:
    """A new check-in day whose ladder day gives a coupon issues it in the participant's campaign, once: the reward's
    rule names the day, so a redelivered record finds it issued."""
    new = change.new_as(CheckinImage)
    if new is None or change.old is not None or new.coupon_name is None or new.made_up:
        return
    rec = lifecycle.find(new.cid)
    if rec is None:
        logger.warning("check-in coupon for a campaign that is gone", tid=new.tid, cid=new.cid, day=new.date)
        return
    day = date.fromisoformat(new.date)
    grant = Grant(rule=coupon_rule(day), type="coupon", name=new.coupon_name, value_fen=new.coupon_value_fen,
                  points=0, stock_limited=False)  # fmt: skip
    outcome = rewards.issue(rec, new.code, grant, parse_iso(new.created_at))
    logger.info("check-in coupon", tid=new.tid, day=new.date, outcome=outcome)


# --- data-subject rights (docs/privacy.md) -------------------------------------------------------------------------


def subject_export(tid: str, participant: ParticipantRecord) -> dict[str, Any]:
    """The person's check-ins in this tenant for a data-subject export: every covered day, oldest first, and the
    make-up cards used per month."""
    history = store.history(tid, owner_of(participant))
    return {"days": [d.view() for d in history.days], "makeup_cards_used": dict(sorted(history.cards_used.items()))}


def forget(tid: str, participant: ParticipantRecord) -> int:
    """Data-subject erasure: the days (when the person was active) and the month counters go; the points they
    earned stay in the ledger, the coupons among the rewards. How many items went."""
    return store.forget(tid, owner_of(participant))
