"""The merchant's veto before a reward is issued: the release schedule, the validation callback, the approval, and
the existing customers the merchant reports.

Rewards a campaign holds are written `pending_release` by `rewards.issue`. The schedule (`release_rewards`) takes
each due one under a short lease (a conditional move of its next look, so a second run leaves it alone), asks the
merchant's validation URL when the campaign has one (never on a request's path), parks it for an operator when it is
above the approval limit, and otherwise issues it, exactly once (docs/rewards-veto.md).

An existing-customer report is kept per campaign by the keyed hash of the merchant's id, so it holds whether the user
has joined yet or not: the stream does not count such an invitee toward their inviter (nor give them the invitee
reward), a distribution order of theirs earns nobody commission, and held rewards that rest on them are voided at
once. What was issued before the report stays issued (an operator can revoke it).
"""

from __future__ import annotations

import json
import time
import urllib.error
from datetime import datetime, timedelta
from typing import Any, Literal

from chalicelib.accounts import webhook_secret
from chalicelib.campaigns import lifecycle
from chalicelib.campaigns.rules.records import CampaignRecord
from chalicelib.core.clock import iso
from chalicelib.core.codes import Code
from chalicelib.core.config import get_settings
from chalicelib.core.errors import Conflict
from chalicelib.core.observability import logger
from chalicelib.core.rbac import Principal
from chalicelib.core.reasons import ReasonCode
from chalicelib.referral import identity, reviews, rewards
from chalicelib.referral.rules import release as domain
from chalicelib.referral.rules.fraud import ReviewDecision
from chalicelib.referral.rules.participants import identity_hash
from chalicelib.referral.rules.records import ParticipantRecord, RewardRecord
from chalicelib.referral.rules.rewards import INVITEE_RULE, PENDING_RELEASE, parse_reward_id, reward_id
from chalicelib.referral.store import customers as customer_store
from chalicelib.referral.store import rewards as store
from chalicelib.security import egress, signing

MAX_ITEMS_PER_RUN = 100
MAX_SECONDS_PER_RUN = 20.0
REWARD_REVIEW_PREFIX = "reward-"


def _allow_private() -> bool:
    """Only where validation URLs are local test servers may the callback reach private addresses."""
    return get_settings().stage in ("local", "test")


def _ask(rec: CampaignRecord, reward: RewardRecord, now: datetime) -> tuple[int | None, bytes]:
    """POST the held reward to the merchant's validation URL, signed as outbound webhooks are; (None, b"") when
    nothing answered (a timeout, a refused connection, a URL the egress guard refuses)."""
    assert rec.spec.validation_url is not None
    rid = reward_id(reward.code, reward.rule)
    body = domain.payload(
        campaign_id=rec.cid, reward_id=rid, rule=reward.rule, reward_type=reward.type, name=reward.name,
        value_fen=reward.value_fen, points=reward.points, inviter=reward.code, invitees=reward.invitees or [],
        earned_at=reward.created_at, attempt=reward.attempts + 1,
    )  # fmt: skip
    # The `webhook-id` is stable per reward: a merchant that sees it twice (a retry) answers the same.
    msg_id = f"rv_{rid}".replace(":", "_")
    raw = json.dumps(body, sort_keys=True).encode()
    try:
        return signing.post_signed_for_answer(
            rec.spec.validation_url, raw, webhook_secret.signing_keys(rec.tid, now),
            int(now.timestamp()), msg_id, timeout=domain.TIMEOUT_SECONDS, allow_private=_allow_private(),
            max_answer=domain.MAX_ANSWER_BYTES,
        )  # fmt: skip
    except (egress.EgressRefused, urllib.error.URLError, OSError, ValueError) as exc:
        logger.warning("reward validation unanswered", campaign_id=rec.cid, reward_id=rid, error=repr(exc))
        return None, b""


Step = Literal["issued", "pending", "voided", "retried", "parked", "skipped"]


def _validate(rec: CampaignRecord, reward: RewardRecord, now: datetime) -> domain.Verdict:
    status, body = _ask(rec, reward, now)
    found = domain.verdict(status, body)
    if found.outcome != "retry":
        return found
    reward.attempts += 1
    return domain.after_failure(reward.attempts, rec.spec.validation_default)


def process(reward: RewardRecord, now: datetime) -> Step:
    """One due held reward: validate, park or issue it. Safe to run twice (the lease, and conditional writes)."""
    rec = lifecycle.find(reward.cid)
    if rec is None:
        return "skipped"
    lease = iso(now + timedelta(seconds=domain.LEASE_SECONDS))
    if not store.reschedule(reward, lease):
        return "skipped"  # another run took it, or an operator decided meanwhile
    reward.release_at = lease
    if reward.channel is not None and reward.channel in rec.held_channels:
        # A budget stop-loss line holds the participant's channel: looked at again later, never lost.
        due = iso(now + timedelta(seconds=domain.STOP_LOSS_RECHECK_SECONDS))
        store.reschedule(reward, due, reason_code=ReasonCode.STOP_LOSS_HELD.value)
        return "skipped"
    validated = reward.validated_at
    if rec.spec.validation_url is not None and validated is None:
        verdict = _validate(rec, reward, now)
        if verdict.outcome == "retry":
            due = iso(now + timedelta(seconds=domain.backoff_seconds(reward.attempts)))
            store.reschedule(reward, due, attempts=reward.attempts, reason_code=ReasonCode.AWAITING_VALIDATION.value)
            return "retried"
        if verdict.outcome == "void":
            assert verdict.reason is not None and verdict.reason_code is not None
            return "voided" if rewards.void(rec, reward, verdict.reason, verdict.reason_code, now) else "skipped"
        validated = iso(now)
    if reward.approval == domain.REQUIRED:
        parked = store.reschedule(
            reward, None, attempts=reward.attempts, validated_at=validated,
            reason_code=ReasonCode.REWARD_ABOVE_LIMIT.value,
        )  # fmt: skip
        return "parked" if parked else "skipped"
    outcome = rewards.release(rec, reward, now)
    return "skipped" if outcome == "not_held" else "issued" if outcome == "issued" else "pending"


def run_due(now: datetime) -> dict[str, int]:
    """The schedule: every held reward whose next look has come, bounded in items and time; one failing reward
    never holds back the others."""
    started = time.monotonic()
    counts = {"issued": 0, "pending": 0, "voided": 0, "retried": 0, "parked": 0, "errors": 0}
    budget = MAX_ITEMS_PER_RUN
    for shard in range(store.RELEASE_SHARDS):
        for reward in store.due_releases(shard, iso(now), budget):
            if budget <= 0 or time.monotonic() - started > MAX_SECONDS_PER_RUN:
                return counts
            budget -= 1
            try:
                step = process(reward, now)
            except Exception:  # noqa: BLE001 - a storage hiccup on one reward must not stop the run
                logger.exception(
                    "reward release failed", campaign_id=reward.cid, reward_id=reward_id(reward.code, reward.rule)
                )
                counts["errors"] += 1
                continue
            if step != "skipped":
                counts[step] += 1
    return counts


# --- operators: the approval of a reward above the limit -----------------------------------------


def _held_reward(rid: str) -> RewardRecord | None:
    parsed = parse_reward_id(rid.removeprefix(REWARD_REVIEW_PREFIX))
    return store.get(*parsed) if parsed is not None else None


def _apply(actor: Principal, rid: str, status: Literal["approved", "rejected"], note: str, now: datetime) -> None:
    """The decision on the reward itself: approved -> issued now when the schedule already parked it (otherwise when
    due); rejected -> voided. A reward no longer held (revoked meanwhile) is left as it is."""
    for _ in range(3):
        reward = _held_reward(rid)
        if reward is None or reward.tid != actor.tid or reward.status != PENDING_RELEASE:
            return
        rec = lifecycle.owned(actor.tid, reward.cid)
        if status == "rejected":
            if rewards.void(rec, reward, note, ReasonCode.OPERATOR_REJECTED, now, actor.email):
                return
            continue
        if reward.approval == domain.APPROVED and reward.release_at is not None:
            return  # approved before; the schedule issues it when due
        parked = reward.release_at is None
        if not store.approve(reward):
            continue  # the schedule moved it meanwhile: read again
        if parked:
            reward.approval = domain.APPROVED
            rewards.release(rec, reward, now)
        return
    raise Conflict("the reward changed while deciding; retry", code=Code.CONCURRENT_UPDATE)


def decide(
    actor: Principal, rid: str, status: Literal["approved", "rejected"], decision: ReviewDecision, now: datetime
) -> dict[str, Any]:
    """Approve or reject a review: a reward's review (`reward-{reward id}`) also issues or voids the reward; every
    other kind is the review queue's own (`reviews.decide`)."""
    view = reviews.decide(actor, rid, status, decision, now)
    if rid.startswith(REWARD_REVIEW_PREFIX) and view["kind"] == "reward":
        _apply(actor, rid, status, decision.reason, now)
    return view


# --- existing customers ----------------------------------------------------------------------


def _void_held(rec: CampaignRecord, participant: ParticipantRecord, now: datetime, actor: str) -> int:
    """Void the held rewards that rest on `participant`: their inviter's that list them, and their own invitee
    reward."""
    voided = 0
    held = [(participant.inviter, participant.code)] if participant.inviter else []
    for owner, invitee in [*held, (participant.code, None)]:
        for reward in rewards.for_participant(owner):
            if reward.cid != rec.cid or reward.status != PENDING_RELEASE:
                continue
            rests_on = invitee in (reward.invitees or []) if invitee else reward.rule == INVITEE_RULE
            if rests_on:
                voided += rewards.void(
                    rec, reward, domain.EXISTING_CUSTOMER_TEXT, ReasonCode.EXISTING_CUSTOMER, now, actor
                )
    return voided


def report(actor: Principal, cid: str, request: domain.ExistingCustomers, now: datetime) -> dict[str, Any]:
    """Record the users as existing customers of the campaign (idempotent) and void what is held on them."""
    rec = lifecycle.owned(actor.tid, cid)
    secret = identity.code_secret()
    unique = list(dict.fromkeys(request.external_ids))
    added = customer_store.report(cid, rec.tid, {identity_hash(secret, cid, e) for e in unique}, iso(now))
    voided = 0
    for external_id in unique:
        participant = identity.find(cid, external_id)
        if participant is not None:
            voided += _void_held(rec, participant, now, actor.email)
    return {"reported": len(unique), "new": added, "voided_rewards": voided}


def is_existing(cid: str, participant: ParticipantRecord) -> bool:
    """Whether the merchant reported this participant as an existing customer of the campaign."""
    return bool(customer_store.reported({(cid, participant.identity)}))
