"""Issuing rewards exactly once, within the campaign's stock and budget."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit

from chalicelib.domain.clock import iso
from chalicelib.domain.rewards import Grant, ladder_grants, reward_rules
from chalicelib.observability import logger, metrics
from chalicelib.services import outbox
from chalicelib.store import participants as participant_store
from chalicelib.store import rewards as store
from chalicelib.store.campaigns import CampaignRecord
from chalicelib.store.rewards import RewardRecord

_REASONS = {"out_of_stock": "this reward has run out", "over_budget": "the campaign's reward budget is spent"}


def prepare_limits(rec: CampaignRecord) -> None:
    """Stock and budget counters exist before the first participant can earn anything."""
    rules = rec.spec.get("rules", {})
    stock = {
        rule: int(reward["stock"]) for rule, reward in reward_rules(rules).items() if reward.get("stock") is not None
    }
    budget = rec.spec.get("budget_fen")
    if stock or budget is not None:
        store.init_limits(rec.cid, stock, budget)


def issue(rec: CampaignRecord, code: str, grant: Grant, now: datetime) -> str:
    """Issue one grant; a repeat (stream redelivery) is a harmless `duplicate`."""
    reward = RewardRecord(
        cid=rec.cid, tid=rec.tid, code=code, rule=grant.rule, type=grant.type, name=grant.name,
        value_fen=grant.value_fen, points=grant.points, status="issued", created_at=iso(now),
    )  # fmt: skip
    budget_fen = rec.spec.get("budget_fen")
    budget = (int(budget_fen), grant.value_fen) if budget_fen is not None and grant.value_fen > 0 else None
    outcome = store.issue(reward, stock_limited=grant.stock_limited, budget=budget)
    if outcome in _REASONS:
        reward.status, reward.reason = "unavailable", _REASONS[outcome]
        if store.record_unavailable(reward):
            logger.warning("reward unavailable", campaign_id=rec.cid, rule=grant.rule, outcome=outcome)
            metrics.add_metric(name="RewardUnavailable", unit=MetricUnit.Count, value=1)
    elif outcome == "issued":
        metrics.add_metric(name="RewardIssued", unit=MetricUnit.Count, value=1)
        data = {"campaign_id": rec.cid, "code": code, "rule": grant.rule, "type": grant.type, "name": grant.name,
                "value_fen": grant.value_fen, "points": grant.points}  # fmt: skip
        outbox.emit(rec.tid, "reward.issued", data, f"{rec.cid}|{code}|{grant.rule}", now)
    return outcome


def grant_ladder(rec: CampaignRecord, code: str, counted: int, rewarded: set[str], now: datetime) -> list[str]:
    """Issue every milestone reached and not yet rewarded, then remember them as rewarded."""
    grants = ladder_grants(rec.spec["rules"], counted, rewarded)
    outcomes = [issue(rec, code, grant, now) for grant in grants]
    if grants:
        # Written after the rewards: a crash in between only causes a harmless duplicate attempt.
        participant_store.mark_rewarded(code, {g.rule for g in grants})
    return outcomes


def view(code: str) -> list[dict[str, Any]]:
    return [
        {
            "rule": r.rule,
            "type": r.type,
            "name": r.name,
            "value_fen": r.value_fen,
            "points": r.points,
            "status": r.status,
            "reason": r.reason,
            "created_at": r.created_at,
        }  # fmt: skip
        for r in sorted(store.for_participant(code), key=lambda r: r.created_at)
    ]
