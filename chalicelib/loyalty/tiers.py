"""Membership tiers (会员等级): operators' ladder, upgrades from the stream, downgrades by the daily review after a
grace period, the participant's standing and the points multiplier (docs/retention.md).

Every evaluation recomputes the measure from stored facts (points credits in the ledger, orders' net amounts,
qualified invitees) and writes the standing only when it differs, under its version: a redelivered batch, or a
review run twice on one day, changes nothing.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

from chalicelib.accounts import audit
from chalicelib.campaigns import live
from chalicelib.core.clock import iso, utcnow
from chalicelib.core.codes import Code
from chalicelib.core.errors import Conflict
from chalicelib.core.observability import logger
from chalicelib.core.rbac import Principal
from chalicelib.loyalty.rules import tiers as rules_
from chalicelib.loyalty.rules.points import EARNING, Kind
from chalicelib.loyalty.rules.tiers import Fact, Standing, TierRules
from chalicelib.loyalty.store import ledger
from chalicelib.loyalty.store import tiers as store
from chalicelib.loyalty.store.tiers import TierState
from chalicelib.referral import identity
from chalicelib.referral.rules.records import ParticipantRecord
from chalicelib.table.changes import Change
from chalicelib.table.images import OrderImage, ParticipantImage, PointsEntryImage

SAVE_ATTEMPTS = 6
# How many people one daily run reviews at most; those left are due still and go first the next day.
MAX_REVIEWS_PER_RUN = 20_000
REVIEW_EVERY = timedelta(days=1)
ORDER_FACT = "order"
INVITE_FACT = "invite"


# --- the ladder ------------------------------------------------------------------------------------------------


def ladder(tid: str) -> TierRules:
    """The tenant's ladder; no tiers when it never set one."""
    stored = store.rules(tid)
    return TierRules.model_validate_json(stored[0]) if stored else TierRules()


def read_rules(actor: Principal) -> dict[str, Any]:
    stored = store.rules(actor.tid)
    current = TierRules.model_validate_json(stored[0]) if stored else TierRules()
    return {"rules": current.model_dump(mode="json"), "configured": stored is not None}


def update_rules(actor: Principal, body: TierRules, now: datetime) -> dict[str, Any]:
    """Replace the ladder whole. Upgrades it allows happen at the person's next fact or review; holders it puts
    below their tier's threshold go down after the grace period; holders of a tier it removed, at the next review."""
    stored = store.rules(actor.tid)
    store.put_rules(actor.tid, body.model_dump_json(), stored[1] if stored else 0, iso(now), actor.email)
    audit.record(actor.tid, actor.email, "loyalty.tiers", "tiers", body.model_dump(mode="json"), now)
    return read_rules(actor)


# --- the measure -----------------------------------------------------------------------------------------------


def measure(tid: str, uid: str, rules: TierRules, now: datetime) -> int:
    """The person's measure over the rolling window ending `now`."""
    since = rules_.window_start(now, rules.window_days)
    if rules.measure == "points_earned":
        credits = [
            Fact(e.created_at, e.points) for e in ledger.ledger(tid, uid).entries if e.kind in EARNING
        ]  # points credited, multiplied ones included
        return rules_.window_sum(credits, now, rules.window_days)
    kind = ORDER_FACT if rules.measure == "spend_fen" else INVITE_FACT
    return rules_.window_sum(store.facts(tid, uid, kind, since), now, rules.window_days)


def _next(state: TierState, rules: TierRules, standing: Standing, value: int, now: datetime) -> TierState:
    """The state after a decision; the same state (same version) when nothing changes."""
    spec = rules.spec(standing.tier)
    changed = standing.tier != state.tier
    review_at = state.review_at
    if standing.tier is None:
        review_at = None
    elif changed or review_at is None:
        review_at = iso(now + REVIEW_EVERY)
    after = replace(
        state, tier=standing.tier, tier_name=spec.name if spec else None, rank=rules.rank(standing.tier),
        at_least=tuple(sorted(rules.at_least(standing.tier))), below_since=standing.below_since,
        previous=state.tier if changed else state.previous, since=iso(now) if changed else state.since,
        changed_at=iso(now) if changed else state.changed_at, review_at=review_at,
    )  # fmt: skip
    if after == state:
        return state
    # The measure is kept with a change, for the view; a new measure alone is no reason to write.
    return replace(after, value=value, version=state.version + 1)


def evaluate(tid: str, uid: str, now: datetime, *, daily: bool = False) -> TierState | None:
    """Upgrade (from the stream) or review (daily) one person; the state written, None when nothing changed."""
    rules = ladder(tid)
    for _ in range(SAVE_ATTEMPTS):
        state = store.state(tid, uid)
        if not rules.tiers and state.tier is None:
            return None  # tiers are off and were never held: nothing to keep
        value = measure(tid, uid, rules, now)
        standing = Standing(state.tier, state.below_since)
        decided = rules_.review(rules, standing, value, now) if daily else rules_.on_fact(rules, standing, value)
        after = _next(state, rules, decided, value, now)
        if daily and after.tier is not None and (after.review_at or "") <= iso(now):
            after = replace(after, review_at=iso(now + REVIEW_EVERY), version=state.version + 1)
        if after is state:
            return None
        if store.put_state(after):
            if after.tier != state.tier:
                logger.info("tier changed", tid=tid, uid=uid, tier=after.tier, previous=state.tier, value=value)
            return after
    raise Conflict("the tier changed while saving; retry", code=Code.CONCURRENT_UPDATE)


# --- the stream ------------------------------------------------------------------------------------------------


def _configured(tid: str) -> bool:
    return store.rules(tid) is not None


def on_points(change: Change) -> None:
    """A points credit may lift the person's measure: upgrade at once (points_earned ladders)."""
    new = change.new_as(PointsEntryImage)
    if change.event != "INSERT" or new is None or Kind(new.kind) not in EARNING:
        return
    rules = ladder(new.tid)
    if rules.tiers and rules.measure == "points_earned":
        evaluate(new.tid, new.uid, utcnow())


def on_order(change: Change) -> None:
    """A paid order is spend at its payment time; a refund takes it back (the fact holds the net amount)."""
    new = change.new_as(OrderImage)
    if new is None or not new.buyer or not _configured(new.tid):
        return
    old = change.old_as(OrderImage)
    if old is not None and (old.status, old.amount) == (new.status, new.amount):
        return
    buyer = identity.by_code(new.buyer, consistent=True)
    if buyer is None:
        return
    uid = buyer.owner
    # An erased buyer's earlier order (a refund) updates a fact still kept, never writes one their erasure took away.
    fact = Fact(new.paid_at, new.amount if new.status == "paid" else 0)
    if not store.put_fact(new.tid, uid, ORDER_FACT, new.oid, fact, if_exists=buyer.erased):
        return
    if ladder(new.tid).measure == "spend_fen":
        evaluate(new.tid, uid, utcnow())


def on_participant(change: Change) -> None:
    """An invitee who qualifies is a qualified invite of the inviter's person, dated when they qualified."""
    new = change.new_as(ParticipantImage)
    if new is None or not new.inviter or not new.qualified_at or not _configured(new.tid):
        return
    old = change.old_as(ParticipantImage)
    if old is not None and old.qualified_at == new.qualified_at and old.inviter == new.inviter:
        return
    inviter = identity.by_code(new.inviter, consistent=True)
    if inviter is None:
        return
    uid = inviter.owner
    # An erased inviter's person gets no new fact (their tier may have gone with their last campaign).
    if not store.put_fact(new.tid, uid, INVITE_FACT, new.code, Fact(new.qualified_at, 1), if_exists=inviter.erased):
        return
    if ladder(new.tid).measure == "qualified_invites":
        evaluate(new.tid, uid, utcnow())


# --- the daily review ------------------------------------------------------------------------------------------


def review_due(now: datetime) -> dict[str, int]:
    """The schedule: every tier holder due for review (each once a day) is reviewed; down after the grace."""
    counts = {"reviewed": 0, "changed": 0, "errors": 0}
    budget = MAX_REVIEWS_PER_RUN
    for shard in range(store.REVIEW_SHARDS):
        failed: set[tuple[str, str]] = set()  # still due after failing: read again, not reviewed again this run
        while budget > 0:
            page = [due for due in store.due(shard, iso(now), min(budget, 100) + len(failed)) if due not in failed]
            if not page:
                break
            for tid, uid in page:
                budget -= 1
                try:
                    written = evaluate(tid, uid, now, daily=True)
                    counts["reviewed"] += 1
                    counts["changed"] += bool(written and written.changed_at == iso(now))
                except Exception:
                    logger.exception("tier review failed", tid=tid, uid=uid)
                    counts["errors"] += 1
                    failed.add((tid, uid))
    return counts


# --- the points multiplier -------------------------------------------------------------------------------------


def multiplier(tid: str, uid: str) -> tuple[int, str | None]:
    """(multiplier in hundredths, the tier's name) for a points reward credited now: x1 without a tier."""
    state = store.state(tid, uid)
    if state.tier is None:
        return rules_.ONE, None
    spec = ladder(tid).spec(state.tier)
    return (spec.multiplier_pct, spec.name) if spec else (rules_.ONE, None)


# --- the participant -------------------------------------------------------------------------------------------


def mine(cid: str, authorization: str | None, now: datetime) -> dict[str, Any]:
    """The person's tier in this campaign's tenant: the tier, the measure, the next tier and how far, and the
    grace deadline when the measure is below the tier held."""
    rec = live.campaign(cid)
    participant = identity.authenticated(cid, authorization, now)
    uid = participant.owner
    rules = ladder(rec.tid)
    state = store.state(rec.tid, uid)
    value = measure(rec.tid, uid, rules, now) if rules.tiers else 0
    view = rules_.progress(rules, Standing(state.tier, state.below_since), value, now)
    view["since"] = state.since if state.tier else None
    return view


# --- data-subject rights (docs/privacy.md) -----------------------------------------------------------------------


def subject_export(tid: str, participant: ParticipantRecord) -> dict[str, Any]:
    """The person's standing in this tenant for a data-subject export, and the facts its measure sums: their own
    orders by id, the invitees who qualified as a count each (who they are is those people's data)."""
    uid = participant.owner
    state = store.state(tid, uid)
    facts = [
        {"kind": kind, "order_id": key if kind == ORDER_FACT else None, "at": fact.at, "amount": fact.amount}
        for kind, key, fact in store.all_facts(tid, uid)
    ]
    return {
        "tier": state.tier, "tier_name": state.tier_name, "rank": state.rank, "since": state.since,
        "previous": state.previous, "changed_at": state.changed_at, "below_since": state.below_since,
        "value": state.value, "review_at": state.review_at, "facts": facts,
    }  # fmt: skip


def forget(tid: str, participant: ParticipantRecord) -> int:
    """Data-subject erasure: the standing goes, and with it its place in the daily review's index, and so do the
    facts (orders' amounts and dates, invitees). Points earned under a multiplier stay in the ledger. How many items
    went."""
    return store.forget(tid, participant.owner)
