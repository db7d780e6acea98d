"""Issuing rewards exactly once, within the campaign's stock and budget; coupon code pools;
claiming and revoking."""

from __future__ import annotations

import json
import random
import time
from collections import defaultdict
from datetime import datetime, timedelta
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit

from chalicelib.accounts import audit
from chalicelib.campaigns import lifecycle
from chalicelib.campaigns.rules.records import CampaignRecord
from chalicelib.campaigns.rules.spec import Reward
from chalicelib.core.clock import iso, utcnow
from chalicelib.core.codes import Code
from chalicelib.core.errors import Conflict, Gone, NotFound, Unauthorized, Unavailable, ValidationFailed
from chalicelib.core.observability import logger, metrics
from chalicelib.core.rbac import Principal
from chalicelib.core.reasons import REWARD_TEXT, ReasonCode, reward_reason_code
from chalicelib.messaging import events
from chalicelib.messaging.rules import payloads
from chalicelib.referral import identity
from chalicelib.referral.rules import release as hold_rules
from chalicelib.referral.rules import rewards as domain
from chalicelib.referral.rules.participants import rules_for
from chalicelib.referral.rules.records import ParticipantRecord, ReviewRecord, RewardRecord
from chalicelib.referral.rules.reviews import PENDING as REVIEW_PENDING
from chalicelib.referral.rules.rewards import Grant, ladder_grants, reward_rules
from chalicelib.referral.store import participants as participant_store
from chalicelib.referral.store import reviews as review_store
from chalicelib.referral.store import rewards as store
from chalicelib.security import participant_tokens
from chalicelib.security.pii import get_cipher
from chalicelib.table.changes import Change
from chalicelib.table.images import CouponCodeImage

_REASONS = {"out_of_stock": ReasonCode.STOCK_EXHAUSTED, "over_budget": ReasonCode.BUDGET_EXHAUSTED}
WAITING_FOR_CODE = REWARD_TEXT[ReasonCode.WAITING_FOR_CODES]
MAX_ATTEMPTS = 8  # a code taken by a concurrent issuer, or a transaction conflict: pick again


def _pause(attempt: int) -> None:
    time.sleep(random.uniform(0, 0.005 * (2**attempt)))  # noqa: S311 - jitter, not a secret


def prepare_limits(rec: CampaignRecord) -> None:
    """Stock and budget counters exist before the first participant can earn anything."""
    stock = {rule: reward.stock for rule, reward in reward_rules(rec.spec.rules).items() if reward.stock is not None}
    budget = rec.spec.budget_fen
    if stock or budget is not None:
        store.init_limits(rec.cid, stock, budget)


def _emit_issued(rec: CampaignRecord, reward: RewardRecord, now: datetime) -> None:
    metrics.add_metric(name="RewardIssued", unit=MetricUnit.Count, value=1)
    data = payloads.RewardIssued(
        reward_id=domain.reward_id(reward.code, reward.rule), campaign_id=rec.cid, code=reward.code,
        rule=reward.rule, type=reward.type, name=reward.name, value_fen=reward.value_fen,
        points=reward.points, coupon_code=reward.coupon_code or None,
    )  # fmt: skip
    events.emit(rec.tid, "reward.issued", data, f"{rec.cid}|{reward.code}|{reward.rule}", now)


def reward_review_id(code: str, rule: str) -> str:
    return f"reward-{domain.reward_id(code, rule)}"


def _hold(rec: CampaignRecord, reward: RewardRecord, now: datetime, invitees: set[str] | None) -> None:
    """Hold the reward for the merchant's veto when the campaign says so (it is then written `pending_release`)."""
    hold = hold_rules.hold_of(rec.spec, reward.value_fen, now)
    if hold is None:
        return
    reward.status, reward.issued_at, reward.release_at, reward.approval = (
        domain.PENDING_RELEASE, None, hold.release_at, hold.approval
    )  # fmt: skip
    reward.invitees = sorted(invitees or ())[: hold_rules.MAX_STORED_INVITEES]
    reward.reason_code = hold_rules.waiting_code(
        rec.spec.validation_url is not None, False, hold.approval, hold.release_at, iso(now)
    ).value


def _open_approval(rec: CampaignRecord, reward: RewardRecord, now: datetime) -> None:
    """A reward above the approval limit waits in the review queue (idempotent: a repeat finds the review)."""
    limit = rec.spec.approval_above_fen
    detail = f"worth {reward.value_fen} fen, above the campaign's approval limit of {limit} fen"
    reasons: list[dict[str, Any]] = [{"code": ReasonCode.REWARD_ABOVE_LIMIT.value, "weight": 0, "detail": detail}]
    review_store.open_review(ReviewRecord(
        reward_review_id(reward.code, reward.rule), rec.tid, rec.cid, "reward",
        domain.reward_id(reward.code, reward.rule), REVIEW_PENDING, 0, reasons, iso(now),
    ))  # fmt: skip


def _hold_for_stop_loss(reward: RewardRecord, now: datetime) -> None:
    """The rewarded participant's channel is held by a budget stop-loss line: the reward is written `pending_release`
    (stock and budget taken: held, not lost), and the release schedule issues it once an owner releases the channel
    (docs/retention.md). A veto's own hold stays; it is simply looked at no sooner than the recheck."""
    due = iso(now + timedelta(seconds=hold_rules.STOP_LOSS_RECHECK_SECONDS))
    if reward.status != domain.PENDING_RELEASE:
        reward.status, reward.issued_at, reward.approval = domain.PENDING_RELEASE, None, None
    reward.release_at = max(reward.release_at or due, due)
    reward.reason_code = ReasonCode.STOP_LOSS_HELD.value


def _channel_of(code: str) -> str | None:
    found = participant_store.get(code)
    return found.channel if found is not None else None


def issue(
    rec: CampaignRecord,
    code: str,
    grant: Grant,
    now: datetime,
    invitees: set[str] | None = None,
    channel: str | None = None,
) -> str:
    """Issue one grant; a repeat (stream redelivery) is a harmless `duplicate`.

    A pooled coupon takes a free code in the same transaction; with the pool empty the reward is
    written `pending` (stock and budget taken: it is owed) and an alarm metric fires. A campaign with a veto
    (docs/rewards-veto.md) writes it `pending_release` (`held`), stock and budget taken, for the release schedule;
    `invitees` are the invitees it rests on, for the merchant's validation callback. `channel` is the participant's
    acquisition channel (read from the participant when not given): a channel a stop-loss line holds holds the reward.
    """
    at = iso(now)
    budget_fen = rec.spec.budget_fen
    reward = RewardRecord(
        cid=rec.cid, tid=rec.tid, code=code, rule=grant.rule, type=grant.type, name=grant.name,
        value_fen=grant.value_fen, points=grant.points, status=domain.ISSUED, created_at=at, issued_at=at,
        stock_rule=grant.limits if grant.stock_limited else None,
        budget_fen=grant.cost if budget_fen is not None and grant.cost > 0 else None,
        pool_rule=grant.limits if grant.code_pool else None, cost_fen=grant.cost,
        channel=channel if channel is not None else _channel_of(code),
    )  # fmt: skip
    _hold(rec, reward, now, invitees)
    if reward.channel is not None and reward.channel in rec.held_channels:
        _hold_for_stop_loss(reward, now)
    for attempt in range(MAX_ATTEMPTS):
        if reward.pool_rule and reward.status != domain.PENDING_RELEASE:
            coupon = store.free_code(rec.cid, reward.pool_rule)
            reward.coupon_code = coupon
            reward.status, reward.issued_at = (domain.ISSUED, at) if coupon else (domain.PENDING, None)
            reward.reason = None if coupon else WAITING_FOR_CODE
        outcome = store.issue(reward, budget_limit=budget_fen)
        if outcome not in ("code_taken", "conflict"):
            break
        _pause(attempt)
    else:
        raise Unavailable("too much contention issuing this reward; retry", code=Code.REWARD_CONTENTION)
    if outcome in _REASONS:
        reward.status, reward.reason = domain.UNAVAILABLE, REWARD_TEXT[_REASONS[outcome]]
        reward.issued_at = reward.coupon_code = reward.stock_rule = reward.budget_fen = None  # nothing was drawn
        reward.release_at = reward.approval = reward.reason_code = reward.invitees = None  # nothing to hold
        if store.record_unavailable(reward):
            logger.warning("reward unavailable", campaign_id=rec.cid, rule=grant.rule, outcome=outcome)
            metrics.add_metric(name="RewardUnavailable", unit=MetricUnit.Count, value=1)
    elif outcome == "issued":
        _emit_issued(rec, reward, now)
    elif outcome == "held":
        metrics.add_metric(name="RewardHeld", unit=MetricUnit.Count, value=1)
        if reward.approval == hold_rules.REQUIRED:
            _open_approval(rec, reward, now)
    elif outcome == "pending":
        logger.warning("coupon pool exhausted", campaign_id=rec.cid, rule=reward.pool_rule)
        metrics.add_metric(name="CouponPoolExhausted", unit=MetricUnit.Count, value=1)
        # Codes may have arrived between the empty pick and the pending write, after the upload's
        # release looked for pending rewards: look once more so nobody waits for the next upload.
        assert reward.pool_rule is not None
        release_pending(rec, reward.pool_rule, 1, now)
    return outcome


def grant_ladder(
    rec: CampaignRecord,
    code: str,
    counted: int,
    rewarded: set[str],
    now: datetime,
    variant: str | None = None,
    invitees: set[str] | None = None,
    channel: str | None = None,
) -> list[str]:
    """Issue every milestone reached and not yet rewarded (on the ladder of the participant's experiment
    arm, if it has its own), then remember them as rewarded. `invitees`: the invitees counted for the inviter;
    `channel`: the inviter's acquisition channel."""
    rules = rules_for(rec.spec, variant)
    grants = ladder_grants(rules, counted, rewarded) if rules is not None else []
    outcomes = []
    for grant in grants:
        data = payloads.MilestoneReached(campaign_id=rec.cid, code=code, milestone=grant.rule, counted_invites=counted)
        events.emit(rec.tid, "milestone.reached", data, f"{rec.cid}|{code}|{grant.rule}", now)
        outcomes.append(issue(rec, code, grant, now, invitees, channel))
    if grants:
        # Written after the rewards: a crash in between only causes a harmless duplicate attempt.
        participant_store.mark_rewarded(code, {g.rule for g in grants})
    return outcomes


def _reason_code(r: RewardRecord) -> ReasonCode | None:
    return reward_reason_code(r.status, r.reason, r.reason_code)


def _view(r: RewardRecord) -> dict[str, Any]:
    view = {
        "id": domain.reward_id(r.code, r.rule), "rule": r.rule, "type": r.type, "name": r.name,
        "value_fen": r.value_fen, "points": r.points, "status": r.status, "reason": r.reason,
        "reason_code": _reason_code(r),
        "created_at": r.created_at, "issued_at": r.issued_at, "claimed_at": r.claimed_at, "revoked_at": r.revoked_at,
        # A held reward: when the release schedule issues it at the earliest (null once issued, or while it waits
        # for an operator's approval).
        "release_at": r.release_at if r.status == domain.PENDING_RELEASE else None,
    }  # fmt: skip
    if r.pool_rule:
        # The code is revealed by claiming: until then it cannot leak from a screenshot of the page.
        view["coupon_code"] = r.coupon_code if r.status == domain.CLAIMED else None
    return view


def _why(r: RewardRecord) -> dict[str, Any]:
    return {"reason": r.reason, "reason_code": _reason_code(r)}


def view(code: str) -> list[dict[str, Any]]:
    return [_view(r) for r in sorted(store.for_participant(code), key=lambda r: r.created_at)]


# --- claiming -------------------------------------------------------------------------------


def _own_reward(rid: str, authorization: str | None, now: datetime) -> tuple[RewardRecord, ParticipantRecord]:
    claims = participant_tokens.from_header(authorization, now)
    parsed = domain.parse_reward_id(rid)
    # Someone else's reward is indistinguishable from a missing one.
    found = store.get(*parsed) if parsed is not None and parsed[0] == claims.code else None
    if found is None or found.cid != claims.cid:
        raise NotFound("no such reward", code=Code.REWARD_NOT_FOUND)
    holder = participant_store.get(claims.code, consistent=True)
    if holder is None or holder.erased:  # a claim would store a new address for an erased person
        raise Gone("this participant erased their data", code=Code.PARTICIPANT_ERASED)
    if claims.version != holder.token_version:
        raise Unauthorized("the participant token was revoked; join again", code=Code.PARTICIPANT_TOKEN_REVOKED)
    return found, holder


def claim_context(reward: RewardRecord) -> str:
    """What a claim's ciphertext is bound to (the data-subject export decrypts it too)."""
    return f"reward:{reward.code}:{reward.rule}:claim"


def claim(
    rid: str, authorization: str | None, request: domain.ClaimRequest, proof: identity.Proof, now: datetime
) -> dict[str, Any]:
    """`issued` -> `claimed` once; an identical repeat answers the same, a different one conflicts. A
    delivery address needs fresh proof besides the token: a leaked token must not redirect a gift."""
    reward, holder = _own_reward(rid, authorization, now)
    address = request.address.model_dump(exclude_none=True) if request.address else None
    if address is not None:
        rec = lifecycle.find(reward.cid)
        if rec is None:
            raise NotFound("no such reward", code=Code.REWARD_NOT_FOUND)
        identity.prove_fresh(rec, holder, proof, now)
    if reward.type == "gift" and address is None:
        raise ValidationFailed("a gift needs the delivery address", code=Code.ADDRESS_REQUIRED)
    if reward.type != "gift" and address is not None:
        raise ValidationFailed("only a gift takes a delivery address", code=Code.ADDRESS_NOT_ALLOWED)
    if reward.status != domain.CLAIMED:
        problem = domain.claim_problem(reward.status)
        if problem in (Code.REWARD_REVOKED, Code.REWARD_VOIDED):
            raise Gone(f"this reward was {reward.status}", code=problem, details=_why(reward))
        if problem is not None:
            raise Conflict(f"this reward cannot be claimed while {reward.status}", code=problem,
                           details=_why(reward))  # fmt: skip
        cipher = get_cipher()
        sealed = cipher.encrypt(json.dumps(address, sort_keys=True), claim_context(reward)) if address else None
        store.claim(reward.code, reward.rule, iso(now), sealed)
        claimed = store.get(reward.code, reward.rule)
        assert claimed is not None
        reward = claimed
    if reward.status != domain.CLAIMED:  # revoked in between
        raise Conflict("this reward changed while claiming; read it again", code=Code.REWARD_CHANGED)
    stored = json.loads(get_cipher().decrypt(reward.claim_enc, claim_context(reward))) if reward.claim_enc else None
    if stored != address:
        raise Conflict("this reward was already claimed with other details", code=Code.REWARD_ALREADY_CLAIMED)
    rec = lifecycle.find(reward.cid)
    if rec is not None:
        data = payloads.RewardClaimed(
            reward_id=rid, campaign_id=reward.cid, code=reward.code, rule=reward.rule, type=reward.type,
            name=reward.name, claimed_at=reward.claimed_at, address=stored or None,
        )  # fmt: skip
        # Emitted on repeats too (idempotent): a crash after the claim is completed by the retry.
        events.emit(rec.tid, "reward.claimed", data, f"{reward.cid}|{reward.code}|{reward.rule}", now)
    return _view(reward)


# --- operators: coupon pools and revoking ----------------------------------------------------


def _pooled_rules(rec: CampaignRecord) -> dict[str, Reward]:
    return {rule: r for rule, r in reward_rules(rec.spec.rules).items() if r.code_pool}


def _pool_view(rec: CampaignRecord, rule: str, reward: Reward) -> dict[str, Any]:
    total, free = store.pool_counts(rec.cid, rule)
    return {"rule": rule, "name": reward.name, "uploaded": total, "free": free, "issued": total - free}


def pools(actor: Principal, cid: str) -> dict[str, Any]:
    rec = lifecycle.owned(actor.tid, cid)
    return {"items": [_pool_view(rec, rule, reward) for rule, reward in sorted(_pooled_rules(rec).items())]}


def upload_codes(actor: Principal, cid: str, rule: str, upload: domain.CodesUpload, now: datetime) -> dict[str, Any]:
    """Add codes to a pool; codes seen before (in this upload or any earlier) are counted, not added.
    Rewards waiting for codes are served by the stream as the new codes land."""
    rec = lifecycle.owned(actor.tid, cid)
    pooled = _pooled_rules(rec)
    if rule not in pooled:
        raise NotFound("this campaign has no coupon code pool for that reward", code=Code.POOL_NOT_FOUND,
                       details={"pools": sorted(pooled)})  # fmt: skip
    unique = list(dict.fromkeys(upload.codes))
    added, existing = store.add_codes(cid, rule, unique, iso(now))
    duplicates = existing + len(upload.codes) - len(unique)
    # Counts only: the codes themselves are redeemable value.
    details = {"campaign_id": cid, "rule": rule, "added": added, "duplicates": duplicates}
    audit.record(rec.tid, actor.email, "coupon_codes.upload", f"{cid}/{rule}", details, now)
    return {**_pool_view(rec, rule, pooled[rule]), "added": added, "duplicates": duplicates}


def release_pending(rec: CampaignRecord, rule: str, limit: int, now: datetime) -> int:
    """Give waiting rewards of a pool their codes, oldest first; returns how many were issued."""
    released = 0
    at = iso(now)
    for reward in store.pending(rec.cid, rule, limit):
        for attempt in range(MAX_ATTEMPTS):
            coupon = store.free_code(rec.cid, rule)
            if coupon is None:
                return released
            result = store.fulfil(reward, coupon, at)
            if result == "issued":
                reward.status, reward.coupon_code, reward.issued_at = domain.ISSUED, coupon, at
                _emit_issued(rec, reward, now)
                released += 1
                break
            if result == "not_pending":
                break
            _pause(attempt)
    return released


def on_codes_added(batch: list[Change]) -> set[str]:
    """New free codes in a batch release as many waiting rewards of their pool (safe to repeat)."""
    by_pool: dict[tuple[str, str], list[str]] = defaultdict(list)
    for change in batch:
        new = change.new_as(CouponCodeImage)
        if change.event == "INSERT" and new is not None and new.GSI2PK:
            by_pool[(new.cid, new.rule)].append(change.sequence)
    failed: set[str] = set()
    now = utcnow()
    for (cid, rule), sequences in by_pool.items():
        rec = lifecycle.find(cid)
        if rec is None:
            continue
        try:
            released = release_pending(rec, rule, len(sequences), now)
        except Exception:
            logger.exception("could not release pending rewards", campaign_id=cid, rule=rule)
            failed |= set(sequences)
            continue
        if released:
            logger.info("pending rewards released", campaign_id=cid, rule=rule, released=released)
    return failed


def revoke(actor: Principal, cid: str, rid: str, request: domain.RevokeRequest, now: datetime) -> dict[str, Any]:
    """Take back an issued or pending reward (fraud, a mistake); its stock and budget return."""
    rec = lifecycle.owned(actor.tid, cid)
    parsed = domain.parse_reward_id(rid)
    reward = store.get(*parsed) if parsed is not None else None
    if reward is None or reward.cid != rec.cid:
        raise NotFound("no such reward", code=Code.REWARD_NOT_FOUND)
    if reward.status == domain.PENDING_RELEASE:
        # Never issued: voided, with no `reward.revoked` (the merchant never heard of it as issued).
        if not void(rec, reward, request.reason, ReasonCode.OPERATOR_REVOKED, now, actor.email):
            raise Conflict("this reward changed while revoking; read it again", code=Code.REWARD_CHANGED)
        voided = store.get(reward.code, reward.rule)
        assert voided is not None
        return _view(voided)
    if reward.status != domain.REVOKED:
        problem = domain.revoke_problem(reward.status)
        if problem is not None:
            raise Conflict(f"a reward that is {reward.status} cannot be revoked", code=problem)
        if not store.revoke(reward, iso(now), request.reason):
            raise Conflict("this reward changed while revoking; read it again", code=Code.REWARD_CHANGED)
        metrics.add_metric(name="RewardRevoked", unit=MetricUnit.Count, value=1)
        audit.record(rec.tid, actor.email, "reward.revoke", rid, {"campaign_id": cid, "was": reward.status}, now)
        revoked = store.get(reward.code, reward.rule)
        assert revoked is not None
        reward = revoked
    data = payloads.RewardRevoked(
        reward_id=rid, campaign_id=cid, code=reward.code, rule=reward.rule, type=reward.type, name=reward.name,
        reason=reward.reason, revoked_at=reward.revoked_at,
    )  # fmt: skip
    events.emit(rec.tid, "reward.revoked", data, f"{cid}|{reward.code}|{reward.rule}", now)
    return _view(reward)


def for_participant(code: str) -> list[RewardRecord]:
    """Every reward of one participant, whatever its state."""
    return store.for_participant(code)


# --- rewards held for the merchant's veto (docs/rewards-veto.md) ---------------------------------


def get(code: str, rule: str) -> RewardRecord | None:
    return store.get(code, rule)


def release(rec: CampaignRecord, reward: RewardRecord, now: datetime) -> str:
    """Issue a held reward, exactly once (conditional on it still being held): `issued`, `pending` (a pooled coupon
    with the pool empty, waiting for codes) or `not_held` (released or voided meanwhile)."""
    at = iso(now)
    coupon: str | None = None
    for attempt in range(MAX_ATTEMPTS):
        coupon = store.free_code(rec.cid, reward.pool_rule) if reward.pool_rule else None
        reward.reason = WAITING_FOR_CODE if reward.pool_rule and coupon is None else None
        result = store.release(reward, coupon, at)
        if result == "issued":
            break
        if result == "not_pending":
            return "not_held"
        _pause(attempt)
    else:
        raise Unavailable("too much contention issuing this reward; retry", code=Code.REWARD_CONTENTION)
    reward.release_at = reward.reason_code = None
    if reward.pool_rule and coupon is None:
        reward.status = domain.PENDING
        metrics.add_metric(name="CouponPoolExhausted", unit=MetricUnit.Count, value=1)
        release_pending(rec, reward.pool_rule, 1, now)
        return "pending"
    reward.status, reward.issued_at, reward.coupon_code = domain.ISSUED, at, coupon
    _emit_issued(rec, reward, now)
    return "issued"


def void(
    rec: CampaignRecord, reward: RewardRecord, reason: str, code: ReasonCode, now: datetime, actor: str = audit.SYSTEM
) -> bool:
    """Void a held reward (the merchant or an operator said no): its stock and budget return; audited. False when it
    was not held as read any more (released or voided meanwhile)."""
    if not store.revoke(reward, iso(now), reason, status=domain.VOIDED, reason_code=code.value):
        return False
    metrics.add_metric(name="RewardVoided", unit=MetricUnit.Count, value=1)
    rid = domain.reward_id(reward.code, reward.rule)
    details = {"campaign_id": rec.cid, "reason_code": code.value, "reason": reason}
    audit.record(rec.tid, actor, "reward.void", rid, details, now)
    return True
