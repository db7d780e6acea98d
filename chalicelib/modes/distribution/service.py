"""Orders from the merchant's shop: first-paid-order qualification, group payment, distribution commission."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from chalicelib.campaigns import live
from chalicelib.campaigns.rules.records import CampaignRecord
from chalicelib.campaigns.rules.spec import DistributionCampaign, DistributionRules, LadderRules
from chalicelib.core.clock import iso, parse_iso
from chalicelib.core.codes import Code
from chalicelib.core.errors import Conflict, NotFound
from chalicelib.messaging import events
from chalicelib.messaging.rules import payloads
from chalicelib.modes.distribution import store
from chalicelib.modes.distribution.rules import commission
from chalicelib.modes.distribution.rules.orders import OrderEvent
from chalicelib.modes.distribution.rules.records import Entry, LedgerEntry, OrderRecord
from chalicelib.referral import fraud, identity, progress, releases
from chalicelib.referral.rules.records import ParticipantRecord


def _chain(first: str | None) -> list[str]:
    """The attributed participant and their own inviter: two levels at most, never deeper."""
    if first is None:
        return []
    found = identity.by_code(first, consistent=True)
    return [first] + ([found.inviter] if found is not None and found.inviter else [])


def _shares(rules: DistributionRules, event: OrderEvent, buyer: str, inviter: str | None, cid: str) -> list[Any]:
    ref = event.ref_code
    if ref is not None:
        found = identity.by_code(ref, consistent=True)
        ref = ref if found is not None and found.cid == cid else None  # a code of another campaign earns nothing
    chain = _chain(commission.attribute(buyer, ref, inviter, rules.binding))
    return commission.shares(rules, event.amount, buyer, chain)


def _refuse_conflict(tid: str, event: OrderEvent, stored: OrderRecord | None) -> None:
    """A repeated order id must describe the same order: anything else is the merchant's mistake, never a
    duplicate to acknowledge, and nothing is changed."""
    if stored is None:
        return
    got = (event.campaign_id, int(event.amount), event.external_id)
    had = (stored.cid, stored.amount, stored.external_id)
    if got != had:
        raise Conflict(
            "this order id was already received with a different campaign, amount or external_id",
            code=Code.ORDER_CONFLICT,
            details={"order_id": event.order_id},
        )


def _announce(tid: str, event_type: str, cid: str, oid: str, entries: list[Entry], now: datetime) -> None:
    """One outbound event per ledger entry. The event id comes from the entry, so a repeated delivery emits
    nothing new but repairs an emit lost after the ledger write."""
    for e in entries:
        data = payloads.Commission(
            campaign_id=cid, order_id=oid, level=e.level, code=e.code, amount_fen=e.amount_fen,
            available_at=e.available_at,
        )  # fmt: skip
        events.emit(tid, event_type, data, f"{tid}|{oid}|{e.level}|{e.code}", now)


# An order that names a group is a member's payment, which group buying records. The modes never
# import each other, so group buying plugs its recorder in at start (the entry points' wiring).
GroupPayment = Callable[[str, str, str], bool]
_group_payments: dict[str, GroupPayment] = {}


def on_group_payment(name: str, record: GroupPayment) -> None:
    """`record(group id, buyer code, order id)` answers whether the buyer is a member of that group."""
    _group_payments[name] = record


def _group_payment(gid: str, code: str, oid: str) -> bool:
    if not _group_payments:
        raise RuntimeError("nothing records group payments: the entry points' wiring did not run")
    recorded = [record(gid, code, oid) for record in _group_payments.values()]  # every recorder runs
    return all(recorded)


def receive(tid: str, event: OrderEvent, now: datetime) -> dict[str, Any]:
    """Apply a paid or refunded order once; repeated deliveries change nothing."""
    rec = live.campaign(event.campaign_id)
    if rec.tid != tid:
        raise NotFound("no such campaign", code=Code.CAMPAIGN_NOT_FOUND)
    if event.status == "refunded":
        return _refund(tid, event, now)
    buyer = identity.find(rec.cid, event.external_id)
    if buyer is None:
        _refuse_conflict(tid, event, store.get(tid, event.order_id))  # a changed buyer is a conflict, not a 404
        raise NotFound("this user has not joined the campaign; send the order after the join",
                       code=Code.PARTICIPANT_NOT_FOUND)  # fmt: skip
    if buyer.erased:
        # Nothing more is recorded against an erased participant; refunds of earlier orders still apply.
        raise identity.erased_error()
    at = iso(now)
    entries: list[Entry] = []
    # An existing customer's order earns nobody commission (docs/rewards-veto.md); the order itself is recorded.
    if isinstance(rec.spec, DistributionCampaign) and not releases.is_existing(rec.cid, buyer):
        rules = rec.spec.rules
        due = iso(commission.available_at(now, rules))
        bound = buyer.inviter if commission.binding_active(parse_iso(buyer.joined_at), now, rules) else None
        entries = [Entry(s.level, s.code, s.amount_fen, due) for s in _shares(rules, event, buyer.code, bound, rec.cid)]
    order = OrderRecord(
        oid=event.order_id, cid=rec.cid, amount=event.amount, external_id=event.external_id, buyer=buyer.code,
        channel=buyer.channel, variant=buyer.variant, invited=buyer.inviter is not None,
    )  # fmt: skip
    created = store.record_paid(tid, order, entries, at)
    if not created:
        _refuse_conflict(tid, event, store.get(tid, event.order_id))
    # The effects below are idempotent themselves, so they run on repeats too: a delivery that
    # failed half-way is completed by the merchant's retry.
    written = entries if created or rec.mode != "distribution" else store.entries(tid, event.order_id)
    fraud.screen_paid(rec, event.order_id, buyer, event.payment_hash, now)  # flags for review, never refuses
    _announce(tid, "commission.earned", rec.cid, event.order_id, written, now)
    qualified = False
    if isinstance(rec.spec.rules, LadderRules) and rec.spec.rules.qualifying_action == "first_paid_order":
        qualified = progress.qualify(buyer.code, at)
    member = _group_payment(event.group_id, buyer.code, event.order_id) if event.group_id else None
    return {
        "event_id": event.event_id,
        "result": "recorded" if created else "duplicate",
        "qualified": qualified,
        "group_member": member,
        "commissions": [{"level": e.level, "code": e.code, "amount_fen": e.amount_fen} for e in entries]
        if created
        else [],
    }


def _refund(tid: str, event: OrderEvent, now: datetime) -> dict[str, Any]:
    order = store.get(tid, event.order_id)
    if order is None:
        raise NotFound("no such order", code=Code.ORDER_NOT_FOUND)
    clawbacks = [
        Entry(e.level, e.code, -e.amount_fen, e.available_at, clawback=True) for e in store.entries(tid, event.order_id)
    ]
    done = store.record_refund(tid, event.order_id, order.cid, clawbacks, iso(now))
    _announce(tid, "commission.clawed_back", order.cid, event.order_id, clawbacks, now)  # repeats too
    fraud.screen_refund(live.campaign(order.cid), event.order_id, order.buyer, now)
    return {"event_id": event.event_id, "result": "refunded" if done else "duplicate"}


def commission_view(rec: CampaignRecord, participant: ParticipantRecord, now: datetime) -> dict[str, int]:
    """A distribution participant's commission balance, summed from their ledger (`/me`)."""
    return commission.balance(store.ledger(participant.code), iso(now))


def ledger(code: str, *, consistent: bool = True) -> list[LedgerEntry]:
    """A participant's commission ledger entries, in order (the data-subject and CSV exports)."""
    return store.ledger(code, consistent=consistent)
