"""Assist mode (助力/砍价): friends help a participant cut a price or unlock a prize."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit

from chalicelib.campaigns import lifecycle, live
from chalicelib.campaigns.rules.records import CampaignRecord
from chalicelib.campaigns.rules.spec import AssistCampaign, AssistRules, shown
from chalicelib.core.clock import iso, parse_iso, utcnow
from chalicelib.core.codes import Code
from chalicelib.core.errors import Conflict, Forbidden, NotFound, TooManyRequests
from chalicelib.core.observability import logger, metrics
from chalicelib.modes.assist import rules as domain
from chalicelib.modes.assist import store
from chalicelib.modes.assist.rules import AssistRecord
from chalicelib.referral import fraud, identity, reviews, rewards
from chalicelib.referral.rules.participants import CODE_PATTERN
from chalicelib.referral.rules.records import ParticipantRecord
from chalicelib.security.keyring import get_keyring
from chalicelib.table.changes import Change
from chalicelib.table.images import AssistImage, CampaignImage

# Missing -> start -> claim, or missing -> started by a racer -> claim: two rounds always decide.
CLAIM_ATTEMPTS = 3


def _assist_campaign(cid: str) -> CampaignRecord:
    rec = live.campaign(cid)
    _rules(rec)
    return rec


def _rules(rec: CampaignRecord) -> AssistRules:
    if not isinstance(rec.spec, AssistCampaign):
        raise Conflict("this campaign is not an assist campaign", code=Code.WRONG_MODE, details={"mode": rec.mode})
    return rec.spec.rules


def _owner(rec: CampaignRecord, code: str) -> ParticipantRecord:
    owner = identity.by_code(code) if re.fullmatch(CODE_PATTERN, code) else None
    # Another campaign's participant is indistinguishable from an unknown code.
    if owner is None or owner.cid != rec.cid:
        raise NotFound("no such assist", code=Code.ASSIST_NOT_FOUND)
    if owner.erased:  # the owner erased their data: their assist takes no more help
        raise identity.erased_error()
    return owner


def _person(p: ParticipantRecord) -> domain.Person:
    return domain.Person(p.code, p.identity, p.device_id, p.phone_hash)


def _ends_at(rec: CampaignRecord) -> datetime:
    return rec.spec.ends_at


def _new_assist(rec: CampaignRecord, owner: str, now: datetime) -> AssistRecord:
    plan = domain.plan(_rules(rec))
    seed = domain.seed(get_keyring().secret("assist-cuts"), rec.cid, owner)
    return AssistRecord(
        cid=rec.cid,
        tid=rec.tid,
        owner=owner,
        goal=plan.goal,
        target=plan.target,
        helpers_required=plan.helpers,
        cuts=domain.cut_sequence(seed, plan.target, plan.helpers, plan.min_cut, plan.max_cut),
        started_at=iso(now),
        deadline=iso(domain.deadline(now, plan.time_limit, _ends_at(rec))),
        original_price=plan.original_price,
        floor_price=plan.floor_price,
    )


def _snapshot(rec: CampaignRecord, assist: AssistRecord | None) -> domain.Snapshot:
    if assist is None:  # nobody has helped yet: the plan as the rules stand now
        plan = domain.plan(_rules(rec))
        return domain.Snapshot(plan.target, plan.helpers, [], None, None, plan.original_price, plan.floor_price)
    return domain.Snapshot(
        assist.target,
        assist.helpers_required,
        assist.cuts[: assist.slots],
        assist.started_at,
        parse_iso(assist.deadline),
        assist.original_price,
        assist.floor_price,
    )


def _claim(rec: CampaignRecord, owner: str, helper: str, now: datetime) -> AssistRecord:
    """One conditional update takes the next slot. Only the first help of an assist also writes
    the plan (a conditional put; when friends race, one put wins and everyone claims on it)."""
    for _ in range(CLAIM_ATTEMPTS):
        claimed = store.claim(owner, helper, iso(now))
        if claimed is not None:
            return claimed
        current = store.get(owner, consistent=True)
        if current is None:
            store.start(_new_assist(rec, owner, now))
            continue
        reason = domain.refusal(current.helped, current.cuts, current.slots, helper, parse_iso(current.deadline), now)
        if reason is not None:
            raise reason
        # Started by another friend between our claim and our read: claim again on it.
    raise Conflict("the assist is busy; try again", code=Code.CONCURRENT_UPDATE)


def help_friend(
    cid: str, owner_code: str, authorization: str | None, now: datetime, ip: str | None = None
) -> dict[str, Any]:
    """The caller (a participant of the same campaign) helps `owner_code` once: the next cut of the plan.

    `ip`, when known, feeds the fraud signals (docs/fraud.md)."""
    rec = _assist_campaign(cid)
    live.open_campaign(cid, now)
    helper = identity.authenticated(cid, authorization, now)
    owner = _owner(rec, owner_code)
    if domain.same_person(_person(owner), _person(helper)):
        raise Forbidden("you cannot help your own assist", code=Code.SELF_ASSIST)
    _screen(rec, owner, helper, ip, now)
    day = domain.help_day(now, rec.spec.timezone)
    limit = _rules(rec).helper_daily_limit
    # Counted before the claim, so the limit holds under concurrency; given back if the claim fails.
    if not store.count_help(cid, helper.code, day, limit, now):
        current = store.get(owner.code, consistent=True)
        repeat = domain.already_helped(current.helped, current.cuts, helper.code) if current is not None else None
        if repeat is not None:
            raise repeat
        raise TooManyRequests(
            f"you can help at most {limit} friends a day", code=Code.HELPER_DAILY_LIMIT, details={"limit": limit}
        )
    try:
        claimed = _claim(rec, owner.code, helper.code, now)
    except Exception:
        _give_back(helper.code, day)
        raise
    slot = claimed.helped[helper.code]
    view = _view(rec, owner.code, claimed, now)
    view["cut"] = claimed.cuts[slot - 1]
    metrics.add_metric(name="AssistHelped", unit=MetricUnit.Count, value=1)
    logger.info("assist helped", campaign_id=cid, owner=owner.code, slot=slot, helpers=claimed.slots)
    return view


def _screen(rec: CampaignRecord, owner: ParticipantRecord, helper: ParticipantRecord, ip: str | None,
            now: datetime) -> None:  # fmt: skip
    """The fraud policy on a help. A held help is refused (409 `HELP_HELD`) and queued for review
    rather than applied later: the cut plan is fixed, and a deferred cut could land after the assist
    completed or expired. Once an operator approves it, the friend's next try goes through."""
    assessment, decision = fraud.assess_help(rec, helper=helper, owner=owner, ip_hash=fraud.fingerprint("ip", ip),
                                             now=now)  # fmt: skip
    if decision == "allow":
        return
    if decision == "block":
        raise Forbidden("this help cannot be accepted", code=Code.HELP_BLOCKED)
    rid = reviews.help_review_id(owner.code, helper.code)
    earlier = reviews.find(rec.tid, rid)
    if earlier is not None and earlier.status == "approved":
        return
    if earlier is not None and earlier.status == "rejected":
        raise Forbidden("this help cannot be accepted", code=Code.HELP_BLOCKED)
    reviews.record(rec.tid, rec.cid, "help", rid, helper.code, assessment.score, assessment.reasons, now)
    raise Conflict("this help is waiting for review", code=Code.HELP_HELD)


def _give_back(helper: str, day: str) -> None:
    try:
        store.uncount_help(helper, day)
    except Exception:
        # The help stays counted: the helper may lose one of today's helps, never gain one.
        logger.exception("could not give back a counted help", helper=helper, day=day)


def progress(cid: str, owner_code: str, now: datetime) -> dict[str, Any]:
    """The owner's assist as anyone may see it (the landing page a friend opens)."""
    rec = _assist_campaign(cid)
    owner = _owner(rec, owner_code)
    return _view(rec, owner.code, store.get(owner.code), now)


def _view(rec: CampaignRecord, owner: str, assist: AssistRecord | None, now: datetime) -> dict[str, Any]:
    rules = _rules(rec)
    goal = assist.goal if assist is not None else rules.goal
    view = {"owner": owner, **domain.progress(goal, _snapshot(rec, assist), now, rec.closes_at)}
    if goal == "unlock":
        view["prize"] = shown(rules.prize) if rules.prize is not None else None
    return view


def on_assist_change(change: Change) -> None:
    """The update that took the last slot issues the owner's prize, exactly once (by its rule id)."""
    new, old = change.new_as(AssistImage), change.old_as(AssistImage)
    if change.event != "MODIFY" or new is None:
        return
    required = new.helpers_required
    if not (old.slots if old else 0) < required <= new.slots:
        return
    rec = live.campaign(new.cid)
    floor = new.floor_price
    grant = domain.prize(_rules(rec), floor)
    outcome = rewards.issue(rec, new.owner, grant, utcnow())
    store.unindex(new.owner)
    logger.info("assist completed", campaign_id=rec.cid, owner=new.owner, outcome=outcome)


def expire_for_campaign(cid: str) -> list[str]:
    """Expire every unfinished assist of a campaign that has ended, at the moment it ended (found by key
    under the campaign); returns their owners."""
    rec = lifecycle.find(cid)
    if rec is None:
        return []
    at = iso(rec.closes_at)
    expired = [a.owner for a in store.in_campaign(cid) if store.expire(a.owner, at)]
    if expired:
        logger.info("assists expired at the campaign's end", campaign_id=cid, owners=len(expired))
    return expired


def on_campaign_change(change: Change) -> None:
    """An assist campaign that has just ended (by an operator or at its end time) expires its assists.
    A paused campaign keeps them: it may resume."""
    old, new = change.old_as(CampaignImage), change.new_as(CampaignImage)
    if new is None or new.status != "ended" or (old is not None and old.status == "ended"):
        return
    if new.mode in (None, "assist"):
        expire_for_campaign(new.cid)
