"""Points: credited from the stream when a points reward is issued, shown to the participant, spent on the
redemption catalogue (docs/retention.md).

Points move only in the store's writes: a credit is keyed by its source, so it happens once; a redemption is
written at the ledger version its balance was read at, together with the stock it takes, so parallel redemptions
can never overdraw the points nor oversell the item. A points reward revoked after its points were credited takes
them back with a revocation entry keyed by the reward (docs/retention.md, "Revocation and debt").
"""

from __future__ import annotations

import hashlib
import random
import re
import time
from datetime import datetime
from typing import Any

from chalicelib.campaigns import live
from chalicelib.core.clock import iso, parse_iso
from chalicelib.core.codes import Code
from chalicelib.core.errors import BadRequest, Conflict
from chalicelib.core.observability import logger
from chalicelib.loyalty import catalogue, tiers
from chalicelib.loyalty.rules.catalogue import RedemptionCreate
from chalicelib.loyalty.rules.points import Balance, Kind, PointsEntry, balance, expired_rows, expiry_of, signed
from chalicelib.loyalty.rules.tiers import ONE, multiplier_text, multiply
from chalicelib.loyalty.store import ledger
from chalicelib.loyalty.store.ledger import Redeemed
from chalicelib.referral import identity
from chalicelib.referral.rules.records import ParticipantRecord
from chalicelib.referral.rules.rewards import ISSUED, REVOKED, VOIDED, reward_id
from chalicelib.table.changes import Change
from chalicelib.table.images import RewardImage

_KEY_RE = re.compile(r"^[A-Za-z0-9_\-:.]{8,128}$")
# A redemption re-reads the ledger and tries again when another one changed it meanwhile; this many times.
MAX_ATTEMPTS = 12
MAX_ENTRIES_SHOWN = 100


def owner_of(participant: ParticipantRecord) -> str:
    """The ledger's owner: the person behind the participant (one ledger per person and tenant, whatever campaign
    they earn in); a participant who joined before profiles existed has their code's own ledger."""
    return participant.owner


def reward_source(rid: str) -> str:
    return f"reward:{rid}"


def revocation_source(rid: str) -> str:
    return f"revocation:{rid}"


def redemption_number(tid: str, uid: str, key: str) -> str:
    """The same request key from the same person names the same redemption."""
    return "rd_" + hashlib.sha256(f"{tid}|{uid}|{key}".encode()).hexdigest()[:24]


# --- earning ---------------------------------------------------------------------------------------------------


def on_reward(change: Change) -> None:
    """A points reward that is issued credits its points to the person's ledger, once: the entry's key is the
    reward's id, so a redelivered record (or a later change of the reward) writes nothing."""
    new = change.new_as(RewardImage)
    if new is None or new.type != "points" or new.points <= 0:
        return
    if new.status in (REVOKED, VOIDED):
        _take_back(new)
        return
    if new.status != ISSUED:
        return
    old = change.old_as(RewardImage)
    if old is not None and old.status == ISSUED:
        return  # credited when it became issued
    earner = identity.by_code(new.code, consistent=True)
    if earner is None:
        raise RuntimeError(f"points reward for an unknown participant {new.code}")  # retried, then reported
    earned_at = new.issued_at or new.created_at
    rid = reward_id(new.code, new.rule)
    uid = owner_of(earner)
    source = reward_source(rid)
    if ledger.entry(new.tid, uid, source) is not None:
        return  # credited before: the multiplier is not read again (the tier may have changed since)
    # The person's tier multiplies points rewards (docs/retention.md); whole points, rounded down.
    pct, tier_name = tiers.multiplier(new.tid, uid)
    credited = multiply(new.points, pct)
    bonus = f", {multiplier_text(pct)} for tier {tier_name}" if tier_name and pct != ONE else ""
    entry = PointsEntry(
        source=source, kind=Kind.REWARD, points=credited, created_at=earned_at,
        explanation=f"Reward “{new.name}” ({rid}) in campaign {new.cid}{bonus}",
        expires_at=expiry_of(parse_iso(earned_at), catalogue.policy(new.tid).expiry_days), cid=new.cid,
    )  # fmt: skip
    if ledger.credit(new.tid, uid, entry):
        logger.info("points credited", tid=new.tid, reward=rid, points=credited, multiplier=pct)


def _take_back(reward: RewardImage) -> None:
    """A revoked (or voided) points reward whose points were credited: a revocation entry keyed by the reward takes
    them back, once. It takes what is left of the reward's own credit first; what the person already spent is taken
    from their other points, and what those do not cover is a debt that later credits pay first. Points of the
    reward that had already expired are not taken again. A reward that was never credited (revoked while pending,
    voided while held) writes nothing."""
    earner = identity.by_code(reward.code, consistent=True)
    if earner is None:
        raise RuntimeError(f"points reward for an unknown participant {reward.code}")  # retried, then reported
    tid, uid, rid = reward.tid, owner_of(earner), reward_id(reward.code, reward.rule)
    credited, source = reward_source(rid), revocation_source(rid)
    for attempt in range(MAX_ATTEMPTS):
        read = ledger.ledger(tid, uid)
        sources = {e.source for e in read.entries}
        if credited not in sources or source in sources:
            return
        # Dated no earlier than the last debit, as redemptions are: the replay takes back in the order it was written.
        at = max([reward.revoked_at or reward.created_at, *(e.created_at for e in read.entries if not e.credit)])
        expired = sum(lot.expired for lot in balance(read.entries, at).lots if lot.entry.source == credited)
        points = next(e.points for e in read.entries if e.source == credited) - expired
        if points <= 0:
            return  # all of it expired unspent: nothing left to take back
        gone = f" ({expired} of them had expired)" if expired else ""
        debit = PointsEntry(
            source=source, kind=Kind.REVOCATION, points=points, created_at=at,
            explanation=f"Reward “{reward.name}” ({rid}) in campaign {reward.cid} was {reward.status}: "
                        f"its {points} points are taken back{gone}",
            cid=reward.cid, reverses=credited,
        )  # fmt: skip
        written = ledger.revoke(tid, uid, debit, read.version)
        if written is Redeemed.CREATED:
            logger.info("points taken back", tid=tid, reward=rid, points=points)
            return
        if written is Redeemed.EXISTS:
            return
        time.sleep(random.uniform(0, 0.005 * (attempt + 1)))
    raise RuntimeError(f"points ledger busy while taking back reward {rid}")  # the batch is retried


# --- the participant -------------------------------------------------------------------------------------------


def entry_view(e: PointsEntry, debt_paid: int = 0) -> dict[str, Any]:
    return {
        "source": e.source, "kind": e.kind.value, "points": signed(e), "created_at": e.created_at,
        "expires_at": e.expires_at, "explanation": e.explanation, "campaign_id": e.cid, "item_id": e.item_id,
        "debt_paid": debt_paid,
    }  # fmt: skip


def _figures(result: Balance, now: datetime) -> dict[str, Any]:
    return {
        "balance": result.balance, "earned": result.earned, "spent": result.spent, "expired": result.expired,
        "revoked": result.revoked, "debt": result.debt,
        "expiring_soon": [{"points": left, "expires_at": at} for at, left in result.expiring(now)],
    }  # fmt: skip


def _rows(entries: list[PointsEntry], now: datetime) -> tuple[Balance, list[dict[str, Any]]]:
    """The figures at `now` and every entry counted by then, with an `expired` row for each credit that lost points,
    newest first; a credit that paid a debt says how much of it did."""
    result = balance(entries, iso(now))
    paid = {lot.entry.source: lot.paid for lot in result.lots}
    rows = [e for e in entries if e.created_at <= iso(now)] + expired_rows(result)
    rows.sort(key=lambda e: (e.created_at, e.source), reverse=True)
    return result, [entry_view(e, paid.get(e.source, 0)) for e in rows]


def mine(cid: str, authorization: str | None, now: datetime) -> dict[str, Any]:
    """The person's points in this campaign's tenant: the figures, what expires soon, and the latest entries
    (expiries included) newest first."""
    rec = live.campaign(cid)
    participant = identity.authenticated(cid, authorization, now)
    result, rows = _rows(ledger.ledger(rec.tid, owner_of(participant)).entries, now)
    return {**_figures(result, now), "entries": rows[:MAX_ENTRIES_SHOWN]}


def subject_export(tid: str, participant: ParticipantRecord, now: datetime) -> dict[str, Any]:
    """The person's points in this tenant for a data-subject export: the figures and every entry."""
    result, rows = _rows(ledger.ledger(tid, owner_of(participant)).entries, now)
    return {**_figures(result, now), "entries": rows}


def on_sale(cid: str) -> dict[str, Any]:
    """What this campaign's tenant's catalogue offers participants now: active items, cheapest first."""
    rec = live.campaign(cid)
    return {"items": [i.public_view() for i in catalogue.on_sale(rec.tid)]}


def _redemption_view(debit: PointsEntry, rid: str, left: int) -> dict[str, Any]:
    return {
        "redemption_id": rid, "item_id": debit.item_id, "points": debit.points, "created_at": debit.created_at,
        "explanation": debit.explanation, "balance": left,
    }  # fmt: skip


def redeem(
    cid: str, authorization: str | None, body: RedemptionCreate, key: str | None, now: datetime
) -> tuple[dict[str, Any], bool]:
    """Spend points on one catalogue item; (the redemption, whether it was created). The same key again answers
    the same redemption; the same key for another item is a 409."""
    if key is None:
        raise BadRequest("a redemption needs an Idempotency-Key header", code=Code.IDEMPOTENCY_KEY_REQUIRED)
    if not _KEY_RE.match(key):
        raise BadRequest(
            "Idempotency-Key must be 8-128 characters of letters, digits, '-', '_', ':' or '.'",
            code=Code.INVALID_IDEMPOTENCY_KEY,
        )
    rec = live.campaign(cid)
    participant = identity.authenticated(cid, authorization, now)
    tid, uid = rec.tid, owner_of(participant)
    rid = redemption_number(tid, uid, key)
    source = f"redemption:{rid}"
    for attempt in range(MAX_ATTEMPTS):
        found = ledger.entry(tid, uid, source)
        if found is not None:
            return _repeat(found, rid, body, ledger.ledger(tid, uid).entries, now), False
        item = catalogue.available(tid, body.item_id)
        read = ledger.ledger(tid, uid)
        # Debits are dated in the order they are written, so replaying the ledger in time order spends as it was
        # checked here, even when this container's clock is behind the one that wrote the last redemption.
        at = max([iso(now), *(e.created_at for e in read.entries if not e.credit)])
        taken = sum(1 for e in read.entries if e.kind is Kind.REDEMPTION and e.item_id == item.item_id)
        if item.per_person_limit is not None and taken >= item.per_person_limit:
            raise Conflict(
                "this item's limit per person is reached", code=Code.REDEMPTION_LIMIT,
                details={"per_person_limit": item.per_person_limit},
            )  # fmt: skip
        have = balance(read.entries, at).balance
        if have < item.cost_points:
            raise Conflict(
                "not enough points for this item", code=Code.INSUFFICIENT_POINTS,
                details={"balance": have, "cost_points": item.cost_points},
            )  # fmt: skip
        debit = PointsEntry(
            source=source, kind=Kind.REDEMPTION, points=item.cost_points, created_at=at,
            explanation=f"Redeemed “{item.name}” for {item.cost_points} points", cid=rec.cid, item_id=item.item_id,
        )  # fmt: skip
        written = ledger.redeem(tid, uid, debit, read.version, item.cost_points)
        if written is Redeemed.CREATED:
            logger.info("points redeemed", tid=tid, redemption=rid, item=item.item_id, points=item.cost_points)
            return _redemption_view(debit, rid, have - item.cost_points), True
        if written is Redeemed.EXISTS:
            continue  # a retry of this very request won the race: answered from it
        # Stale, or the item changed (stock, price, switched off): read both again.
        time.sleep(random.uniform(0, 0.005 * (attempt + 1)))
    raise Conflict("the points ledger is busy; retry with the same Idempotency-Key", code=Code.POINTS_BUSY)


def _repeat(
    found: PointsEntry, rid: str, body: RedemptionCreate, entries: list[PointsEntry], now: datetime
) -> dict[str, Any]:
    if found.item_id != body.item_id:
        raise Conflict(
            "this Idempotency-Key was used for a different redemption", code=Code.REDEMPTION_KEY_CONFLICT,
            details={"redemption_id": rid},
        )  # fmt: skip
    return _redemption_view(found, rid, balance(entries, max(iso(now), found.created_at)).balance)
