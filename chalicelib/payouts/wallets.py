"""Commission wallets: credited from the stream when a commission reaches its earner, read by the earner's own
view and by finance (docs/payouts.md)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from chalicelib.campaigns.rules.records import CampaignRecord
from chalicelib.core.clock import iso
from chalicelib.core.codes import Code
from chalicelib.core.errors import NotFound
from chalicelib.core.observability import logger
from chalicelib.core.rbac import Principal
from chalicelib.payouts.rules.wallet import Balances, balances
from chalicelib.payouts.store import ledger
from chalicelib.referral import identity
from chalicelib.referral.rules.records import ParticipantRecord
from chalicelib.table.changes import Change
from chalicelib.table.images import CommissionMirrorImage


def owner_of(participant: ParticipantRecord) -> str:
    """The wallet's owner: the person behind the participant (one wallet per person and tenant, whatever
    campaigns they earn in); a participant who joined before profiles existed has their code's own wallet."""
    return participant.person or f"c_{participant.code}"


def on_commission(change: Change) -> None:
    """A commission (or clawback) mirrored under its earner becomes a wallet entry, once: the entry's key is the
    order and level, so a redelivered record writes nothing."""
    if change.event != "INSERT":
        return
    mirror = change.new_as(CommissionMirrorImage)
    if mirror is None:
        return
    earner = identity.by_code(mirror.code, consistent=True)
    if earner is None:
        raise RuntimeError(f"commission for an unknown participant {mirror.code}")  # retried, then reported
    uid = owner_of(earner)
    written = ledger.credit(
        mirror.tid, uid, oid=mirror.oid, level=mirror.level, clawback=mirror.clawback, amount_fen=mirror.amount_fen,
        available_at=mirror.available_at, cid=mirror.cid, code=mirror.code, at=mirror.created_at,
    )  # fmt: skip
    if written:
        logger.info("wallet credited", tid=mirror.tid, oid=mirror.oid, level=mirror.level, clawback=mirror.clawback)


def balances_of(tid: str, uid: str, now: datetime) -> Balances:
    return balances(ledger.wallet(tid, uid).entries, iso(now))


def section(rec: CampaignRecord, participant: ParticipantRecord, now: datetime) -> dict[str, int]:
    """The `wallet` of a distribution participant's own view: the person's balances across the tenant."""
    return balances_of(rec.tid, owner_of(participant), now).as_view()


def console_view(actor: Principal, uid: str, now: datetime) -> dict[str, Any]:
    """One person's wallet for finance: the balances and every entry, newest first."""
    wallet = ledger.wallet(actor.tid, uid)
    if not wallet.entries:
        raise NotFound("no wallet for this person", code=Code.WALLET_NOT_FOUND)
    rows = sorted(wallet.entries, key=lambda e: (e.created_at, e.key), reverse=True)
    return {
        "uid": uid,
        "balances": balances(wallet.entries, iso(now)).as_view(),
        "entries": [
            {
                "key": e.key, "kind": e.kind.value, "amount_fen": e.amount_fen, "created_at": e.created_at,
                "available_at": e.available_at, "campaign_id": e.cid, "order_id": e.oid, "level": e.level,
            }
            for e in rows
        ],
    }  # fmt: skip
