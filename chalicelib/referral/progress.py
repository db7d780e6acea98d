"""Inviter progress, aggregated from the stream: one idempotent write per inviter per batch."""

from __future__ import annotations

from collections import defaultdict

from aws_lambda_powertools.metrics import MetricUnit

from chalicelib.campaigns.live import campaign
from chalicelib.core.clock import utcnow
from chalicelib.core.codes import Code
from chalicelib.core.errors import FissionError
from chalicelib.core.observability import logger, metrics
from chalicelib.referral import leaderboard, rewards
from chalicelib.referral.rules.rewards import invitee_grant
from chalicelib.referral.store import customers as customer_store
from chalicelib.referral.store import participants as store
from chalicelib.table.changes import Change
from chalicelib.table.images import ParticipantImage


def _qualified_invites(batch: list[Change]) -> dict[tuple[str, str], dict[str, str]]:
    """(campaign id, inviter code) -> {invitee code: sequence} for the invitees that count now: newly qualified,
    and not reported by the merchant as existing customers (one BatchGetItem for the batch; docs/rewards-veto.md)."""
    by_inviter: dict[tuple[str, str], dict[str, str]] = defaultdict(dict)
    identities: dict[str, tuple[str, str]] = {}
    for change in batch:
        # An invitee counts when `qualified_at` appears: at the join for `join` campaigns, later
        # (a follow, a first paid order) for the others.
        new, old = change.new_as(ParticipantImage), change.old_as(ParticipantImage)
        if new is None:
            continue
        newly_qualified = new.qualified_at and not (old and old.qualified_at)
        if new.inviter and newly_qualified:
            key = (new.cid, new.inviter)
            by_inviter[key][new.code] = change.sequence
            if new.identity:
                identities[new.code] = (new.cid, new.identity)
    existing = customer_store.reported(set(identities.values())) if identities else set()
    if existing:
        for invitees in by_inviter.values():
            for code in [c for c in invitees if identities.get(c) in existing]:
                del invitees[code]
        metrics.add_metric(name="ExistingCustomersNotCounted", unit=MetricUnit.Count, value=len(existing))
    return {key: invitees for key, invitees in by_inviter.items() if invitees}


def count_invites(batch: list[Change]) -> set[str]:
    """Add each inviter's newly qualified invitees in one update (a set union, safe to repeat),
    then issue the milestones reached and the invitees' own rewards, each exactly once."""
    failed: set[str] = set()
    writes = 0
    now = utcnow()
    boards: dict[str, dict[str, tuple[int, str | None]]] = defaultdict(dict)
    sequences: dict[str, set[str]] = defaultdict(set)
    # Each invitee's acquisition channel, which its reward carries (budget stop-loss lines per channel).
    channels = {new.code: new.channel for change in batch if (new := change.new_as(ParticipantImage)) is not None}
    for (cid, inviter), invitees in _qualified_invites(batch).items():
        try:
            rec = campaign(cid)
            updated = store.add_counted(inviter, set(invitees))
            total, rewarded = len(updated.counted), updated.rewarded
            writes += 1
            boards[rec.cid][inviter] = (total, updated.nickname)
            sequences[rec.cid] |= set(invitees.values())
            rewards.grant_ladder(rec, inviter, total, rewarded, now, updated.variant, updated.counted, updated.channel)
            invitee_reward = invitee_grant(rec.spec.rules)
            if invitee_reward is not None:
                for invitee in invitees:
                    rewards.issue(rec, invitee, invitee_reward, now, channel=channels.get(invitee))
        except FissionError:
            logger.exception("could not count invitees", inviter=inviter, invitees=len(invitees))
            failed |= set(invitees.values())
            continue
        logger.debug("invites counted", inviter=inviter, added=len(invitees), total=total)
    for cid, updates in boards.items():
        try:
            leaderboard.record(cid, updates, now)
        except FissionError as error:
            if error.code == Code.LEADERBOARD_BUSY:  # contention under a burst, settled by the redelivery
                logger.warning("leaderboard busy; the batch will be retried", campaign_id=cid)
            else:
                logger.exception("could not update the leaderboard", campaign_id=cid)
            failed |= sequences[cid]  # redelivered: the set union and the rewards are idempotent
    if writes:
        metrics.add_metric(name="InviterProgressWrites", unit=MetricUnit.Count, value=writes)
    return failed


def qualify(code: str, at: str) -> bool:
    """The participant's invite qualifies (a follow, a first paid order); False if it already had."""
    return store.mark_qualified(code, at)
