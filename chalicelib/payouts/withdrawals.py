"""Withdrawals: a participant's request, finance's decisions, the paying schedule and provider outcomes.

Money moves only in the store's transactions (docs/payouts.md): a request is written at the wallet version its
balance was read at, so parallel requests can never overdraw; each change of status is conditional on the
status it leaves, and a rejection or a failure gives the money back in the same write.
"""

from __future__ import annotations

import hashlib
import json
import random
import re
import time
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from chalicelib.accounts import audit, tenants, totp
from chalicelib.campaigns import live
from chalicelib.core.clock import iso
from chalicelib.core.codes import Code
from chalicelib.core.errors import BadRequest, Conflict, NotFound, Unauthorized, ValidationFailed
from chalicelib.core.observability import logger
from chalicelib.core.rbac import Principal
from chalicelib.core.reasons import ReasonCode
from chalicelib.payouts import providers
from chalicelib.payouts import settings as payout_settings
from chalicelib.payouts.providers.base import BadNotification, Outcome, Provider, ProviderUnreachable, Result, Transfer
from chalicelib.payouts.rules import requests as rules
from chalicelib.payouts.rules import states
from chalicelib.payouts.rules.policy import PayoutSettings, auto_approved, check_request
from chalicelib.payouts.rules.records import WithdrawalRecord
from chalicelib.payouts.rules.risk import REFUND_HOLD_TEXT, destination_key, flags_of, refund_hold, refund_rate, shared
from chalicelib.payouts.rules.states import Status
from chalicelib.payouts.rules.wallet import Kind, balances, withdrawal_id
from chalicelib.payouts.store import ledger
from chalicelib.payouts.store.ledger import Requested
from chalicelib.payouts.wallets import owner_of
from chalicelib.referral import identity
from chalicelib.referral.rules.records import ParticipantRecord
from chalicelib.security.pii import get_cipher, mask_name

_KEY_RE = re.compile(r"^[A-Za-z0-9_\-:.]{8,128}$")
# A request re-reads the wallet and tries again when another request changed it meanwhile; this many times.
MAX_ATTEMPTS = 12
# A paying withdrawal whose provider has said nothing for this long is asked about (query) by the schedule.
QUERY_AFTER = timedelta(minutes=1)
NO_PROVIDER = "no payout provider for this method yet: pay it by hand and mark it paid"
REMARK = "佣金提现"
SYSTEM = "system:payouts"


def _context(tid: str, wid: str, what: str) -> str:
    return f"payouts:{what}:{tid}:{wid}"


def withdrawal_number(tid: str, uid: str, key: str) -> str:
    """The same request key from the same person names the same withdrawal (the provider's idempotency number)."""
    return "wd_" + hashlib.sha256(f"{tid}|{uid}|{key}".encode()).hexdigest()[:24]


def _request_hash(body: rules.WithdrawalCreate) -> str:
    """A keyed digest of what was asked: a retry must ask for the same, without storing the destination twice."""
    text = json.dumps(body.model_dump(mode="json"), sort_keys=True, ensure_ascii=False)
    return get_cipher().blind_index(text, "payouts:request")


def own_view(w: WithdrawalRecord) -> dict[str, Any]:
    return {
        "withdrawal_id": w.wid, "amount_fen": w.amount_fen, "fee_fen": w.fee_fen, "net_fen": w.net_fen,
        "method": w.method, "destination": rules.masked(w.destination_hint), "status": w.status,
        "reason": w.reason, "created_at": w.created_at, "updated_at": w.updated_at,
    }  # fmt: skip


def _flags_now(w: WithdrawalRecord, sharing: int | None) -> list[str]:
    """The flags it was given, and `SHARED_DESTINATION` when another wallet has used its destination since."""
    have = set(w.flags) | ({ReasonCode.SHARED_DESTINATION.value} if sharing is not None and sharing > 1 else set())
    return [code.value for code in ReasonCode if code.value in have]


def console_view(w: WithdrawalRecord, sharing: int | None = None) -> dict[str, Any]:
    """Finance's view; `sharing`: how many wallets withdrew to its destination (None: not looked up or unknown)."""
    name = get_cipher().decrypt(w.name_enc, _context(w.tid, w.wid, "name")) if w.name_enc else None
    return {
        **own_view(w), "uid": w.uid, "campaign_id": w.cid, "name": mask_name(name) if name else None,
        "provider_ref": w.provider_ref, "attempts": w.attempts, "submitted_at": w.submitted_at,
        "decided_by": w.decided_by, "flags": _flags_now(w, sharing), "shared_destination_wallets": sharing,
    }  # fmt: skip


def _sharing(records: list[WithdrawalRecord]) -> dict[str, int]:
    """How many wallets withdrew to each record's destination (one batch read for a page)."""
    digests = [w.destination_index for w in records if w.destination_index]
    return ledger.destination_counts(records[0].tid, digests) if digests else {}


def console_views(records: list[WithdrawalRecord]) -> list[dict[str, Any]]:
    counts = _sharing(records)
    return [console_view(w, counts.get(w.destination_index) if w.destination_index else None) for w in records]


# --- the participant ------------------------------------------------------------------------------------------


def wallet(cid: str, authorization: str | None, now: datetime) -> dict[str, Any]:
    """The participant's wallet and what a withdrawal from it costs (the page's withdrawal form)."""
    rec = live.campaign(cid)
    participant = identity.authenticated(cid, authorization, now)
    policy = payout_settings.effective(rec.tid, rec)
    figures = balances(ledger.wallet(rec.tid, owner_of(participant)).entries, iso(now))
    return {
        "balances": figures.as_view(),
        "policy": {
            "enabled": policy.enabled, "min_withdraw_fen": policy.min_withdraw_fen, "fee_bp": policy.fee_bp,
            "fee_fixed_fen": policy.fee_fixed_fen, "fee_min_fen": policy.fee_min_fen, "methods": list(policy.methods),
        },
    }  # fmt: skip


def request(
    cid: str, authorization: str | None, proof: identity.Proof, body: rules.WithdrawalCreate, key: str | None,
    now: datetime,
) -> tuple[dict[str, Any], bool]:  # fmt: skip
    """Withdraw from the participant's wallet; (the withdrawal, whether it was created). The same key again
    answers the same withdrawal; the same key with a different request is a 409."""
    if key is None:
        raise BadRequest("a withdrawal needs an Idempotency-Key header", code=Code.IDEMPOTENCY_KEY_REQUIRED)
    if not _KEY_RE.match(key):
        raise BadRequest(
            "Idempotency-Key must be 8-128 characters of letters, digits, '-', '_', ':' or '.'",
            code=Code.INVALID_IDEMPOTENCY_KEY,
        )
    rec = live.campaign(cid)
    participant = identity.authenticated(cid, authorization, now)
    identity.prove_fresh(rec, participant, proof, now)  # money leaves to a destination: a leaked token is not enough
    tid, uid = rec.tid, owner_of(participant)
    wid, asked = withdrawal_number(tid, uid, key), _request_hash(body)
    policy = payout_settings.effective(tid, rec)
    zone = tenants.timezone(tid)
    at, cipher = iso(now), get_cipher()
    digest = cipher.blind_index(destination_key(body.method, body.destination), "payouts:destination")
    found = ledger.get(tid, wid)
    for attempt in range(MAX_ATTEMPTS):
        if found is not None:
            return _repeat(found, asked), False
        read = ledger.wallet(tid, uid)
        quote = check_request(policy, body.method, body.amount_fen, balances(read.entries, at).available_fen,
                              read.entries, now, zone)  # fmt: skip
        # Money-side fraud: a flagged request is accepted but waits for finance (docs/payouts.md).
        used = ledger.destination(tid, digest)
        held = refund_hold(policy.refund_rate_hold_bp, policy.refund_rate_min_orders, refund_rate(read.entries))
        flags = flags_of(held, shared(used.wallets, uid))
        w = WithdrawalRecord(
            tid=tid, wid=wid, uid=uid, cid=rec.cid, amount_fen=quote.amount_fen, fee_fen=quote.fee_fen,
            net_fen=quote.net_fen, method=body.method,
            destination_enc=cipher.encrypt(body.destination, _context(tid, wid, "destination")),
            destination_hint=rules.hint_of(body.destination), status=Status.REQUESTED.value, created_at=at,
            updated_at=at, request_hash=asked,
            name_enc=cipher.encrypt(body.name, _context(tid, wid, "name")) if body.name else None,
            destination_index=digest, flags=tuple(flags),
        )  # fmt: skip
        written = ledger.request(w, read.version, used)
        if written is Requested.CREATED:
            logger.info("withdrawal requested", tid=tid, wid=wid, amount_fen=w.amount_fen, method=w.method,
                        flags=flags)  # fmt: skip
            if not flags and auto_approved(policy, w.amount_fen):
                w = _approve(w, SYSTEM, now) or w
            return own_view(w), True
        if written is Requested.EXISTS:
            found = ledger.get(tid, wid)  # a retry of this very request won the race: answered from it
            continue
        time.sleep(random.uniform(0, 0.005 * (attempt + 1)))  # another request changed the wallet: read it again
    raise Conflict("the wallet is busy; retry with the same Idempotency-Key", code=Code.WALLET_BUSY)


def _repeat(found: WithdrawalRecord, asked: str) -> dict[str, Any]:
    if found.request_hash != asked:
        raise Conflict(
            "this Idempotency-Key was used for a different withdrawal", code=Code.WITHDRAWAL_KEY_CONFLICT,
            details={"withdrawal_id": found.wid},
        )  # fmt: skip
    return own_view(found)


def mine(cid: str, authorization: str | None, now: datetime) -> dict[str, Any]:
    """The participant's withdrawals in this tenant, newest first."""
    rec = live.campaign(cid)
    participant = identity.authenticated(cid, authorization, now)
    entries = ledger.wallet(rec.tid, owner_of(participant)).entries
    wids = [withdrawal_id(e.key) for e in entries if e.kind is Kind.WITHDRAWAL]
    found = sorted(ledger.get_many(rec.tid, wids), key=lambda w: (w.created_at, w.wid), reverse=True)
    return {"items": [own_view(w) for w in found]}


# --- finance ---------------------------------------------------------------------------------------------------


def queue(actor: Principal, status: str, limit: int, cursor: str | None) -> dict[str, Any]:
    try:
        wanted = Status(status)
    except ValueError as exc:
        raise BadRequest(f"status is one of {[s.value for s in Status]}", code=Code.INVALID_STATUS) from exc
    if not 1 <= limit <= 100:
        raise BadRequest("limit is 1 to 100", code=Code.INVALID_LIMIT)
    found, after = ledger.by_status(actor.tid, wanted, limit, cursor)
    return {"items": console_views(found), "next_cursor": after}


def _approve(w: WithdrawalRecord, by: str, now: datetime) -> WithdrawalRecord | None:
    """Approve a requested withdrawal. Finance may approve a flagged one: an informed decision, the flags it knew of
    kept on it (`approved_flags`) and in the audit. An approved one the schedule holds (its wallet's refund rate
    rose after the approval) is approved again the same way: the hold is then acknowledged and it is paid."""
    at = iso(now)
    sharing = _sharing([w]).get(w.destination_index or "")
    known = _flags_now(w, sharing)
    details = {"amount_fen": w.amount_fen, "method": w.method, "flags": known, "shared_destination_wallets": sharing}
    fields: dict[str, str | int | None] = {"decided_by": by, "approved_flags": ",".join(known) or None}
    if w.status == Status.APPROVED and by != SYSTEM and set(w.flags) - set(w.approved_flags):
        if not ledger.annotate(w, Status.APPROVED, at, {"decided_by": by, "approved_flags": ",".join(known)}):
            return None
    elif not ledger.move(w, {Status.REQUESTED}, Status.APPROVED, at, fields=fields,
                         payable=providers.paid_by_provider(w.method)):  # fmt: skip
        return None
    audit.record(w.tid, by, "withdrawal.approve", w.wid, details, now)
    return ledger.get(w.tid, w.wid)


def _reject(w: WithdrawalRecord, by: str, reason: str, now: datetime) -> bool:
    fields: dict[str, str | int | None] = {"decided_by": by, "reason": reason}
    if not ledger.move(w, states.sources(Status.REJECTED), Status.REJECTED, iso(now), money="return", fields=fields,
                       payable=False):  # fmt: skip
        return False
    audit.record(w.tid, by, "withdrawal.reject", w.wid, {"amount_fen": w.amount_fen, "reason": reason}, now)
    return True


def decide(
    actor: Principal, decision: str, batch: rules.WithdrawalBatch, totp_code: str | None, now: datetime
) -> dict[str, Any]:
    """Approve or reject several withdrawals (one step-up for the batch). Each one is decided on its own: one
    that moved meanwhile is reported, not an error."""
    if decision == "reject" and not batch.reason:
        raise ValidationFailed(
            "a rejection needs a reason: the person sees it",
            details={"errors": [{"field": "reason", "type": "missing", "message": "required to reject"}]},
        )
    totp.require_step_up(actor, totp_code, now)
    results = []
    for wid in dict.fromkeys(batch.withdrawal_ids):
        w = ledger.get(actor.tid, wid)
        if w is None:
            results.append({"withdrawal_id": wid, "result": "not_found", "status": None})
            continue
        done = _approve(w, actor.email, now) is not None if decision == "approve" else (
            _reject(w, actor.email, batch.reason or "", now)
        )  # fmt: skip
        after = ledger.get(actor.tid, wid)
        results.append({"withdrawal_id": wid, "result": "done" if done else "unchanged",
                        "status": after.status if after else None})  # fmt: skip
    return {"items": results}


def mark_paid(actor: Principal, wid: str, body: rules.MarkPaid, totp_code: str | None, now: datetime) -> dict[str, Any]:
    """An approved withdrawal paid by hand (a bank transfer, or a provider's own console), with its reference."""
    totp.require_step_up(actor, totp_code, now)
    w = ledger.get(actor.tid, wid)
    if w is None:
        raise NotFound("no such withdrawal", code=Code.WITHDRAWAL_NOT_FOUND)
    fields: dict[str, str | int | None] = {"provider_ref": body.reference, "decided_by": actor.email, "reason": None}
    if not ledger.move(w, {Status.APPROVED}, Status.PAID, iso(now), money="paid", fields=fields, payable=False):
        if w.status == Status.PAID and w.provider_ref == body.reference:
            return console_views([w])[0]  # the same mark again
        raise Conflict(
            f"only an approved withdrawal can be marked paid; this one is {w.status}", code=Code.WITHDRAWAL_STATE,
            details={"status": w.status},
        )  # fmt: skip
    audit.record(actor.tid, actor.email, "withdrawal.mark_paid", wid,
                 {"amount_fen": w.amount_fen, "net_fen": w.net_fen, "reference": body.reference}, now)  # fmt: skip
    after = ledger.get(actor.tid, wid)
    return console_views([after or w])[0]


def bank_transfers(actor: Principal, totp_code: str | None, now: datetime) -> str:
    """The approved bank withdrawals as the CSV finance uploads to the bank (names and accounts in clear: a
    step-up, and audited)."""
    totp.require_step_up(actor, totp_code, now)
    cipher, rows, cursor = get_cipher(), [], None
    while True:
        page, cursor = ledger.by_status(actor.tid, Status.APPROVED, 100, cursor)
        for w in page:
            if w.method != "bank":
                continue
            name = cipher.decrypt(w.name_enc, _context(w.tid, w.wid, "name")) if w.name_enc else ""
            account = cipher.decrypt(w.destination_enc, _context(w.tid, w.wid, "destination"))
            rows.append((w.wid, name, account, w.net_fen, w.fee_fen, w.created_at))
        if cursor is None:
            break
    audit.record(actor.tid, actor.email, "withdrawal.bank_export", "payouts",
                 {"withdrawal_ids": [r[0] for r in rows]}, now)  # fmt: skip
    return rules.bank_csv(rows)


# --- paying: the schedule and the providers' answers ----------------------------------------------------------


def _transfer(w: WithdrawalRecord) -> Transfer:
    cipher = get_cipher()
    return Transfer(
        tid=w.tid, wid=w.wid, amount_fen=w.net_fen,
        destination=cipher.decrypt(w.destination_enc, _context(w.tid, w.wid, "destination")),
        name=cipher.decrypt(w.name_enc, _context(w.tid, w.wid, "name")) if w.name_enc else None, remark=REMARK,
    )  # fmt: skip


def _resolve(w: WithdrawalRecord, result: Result, now: datetime) -> str:
    """Apply a provider's outcome to a paying withdrawal; what happened (idempotent: a repeat changes nothing)."""
    at, by = iso(now), f"provider:{w.method}"
    if result.outcome is Outcome.SUCCEEDED:
        fields: dict[str, str | int | None] = {"provider_ref": result.provider_ref, "reason": None}
        if ledger.move(w, {Status.PAYING}, Status.PAID, at, money="paid", fields=fields, payable=False):
            audit.record(w.tid, by, "withdrawal.paid", w.wid, {"net_fen": w.net_fen, "ref": result.provider_ref}, now)
            return "paid"
    elif result.outcome is Outcome.FAILED:
        fields = {"reason": result.reason or "the provider refused the transfer", "provider_ref": result.provider_ref}
        if ledger.move(w, {Status.PAYING}, Status.FAILED, at, money="return", fields=fields, payable=False):
            audit.record(w.tid, by, "withdrawal.failed", w.wid, {"amount_fen": w.amount_fen, "reason": result.reason},
                         now)  # fmt: skip
            return "failed"
    elif result.outcome is Outcome.ACCEPTED and result.provider_ref and result.provider_ref != w.provider_ref:
        ledger.annotate(w, Status.PAYING, at, {"provider_ref": result.provider_ref})
    return "waiting"


def _submit(w: WithdrawalRecord, provider: Provider, now: datetime) -> str:
    try:
        result = provider.submit(_transfer(w))
    except ProviderUnreachable:
        logger.warning("payout provider unreachable", tid=w.tid, wid=w.wid, method=w.method)
        return "waiting"  # the next run asks the provider (query) with the same number before anything else
    return _resolve(w, result, now)


def _held(w: WithdrawalRecord, holds: dict[tuple[str, str], bool], policies: dict[str, PayoutSettings]) -> bool:
    """The wallet's refund rate is above its tenant's policy and finance has not approved it knowing that (each
    wallet and each tenant's policy read once a run)."""
    if ReasonCode.REFUND_RATE_HOLD in w.approved_flags:
        return False
    if (w.tid, w.uid) not in holds:
        if w.tid not in policies:
            policies[w.tid] = payout_settings.effective(w.tid)
        policy = policies[w.tid]
        rate = refund_rate(ledger.wallet(w.tid, w.uid).entries)
        holds[(w.tid, w.uid)] = refund_hold(policy.refund_rate_hold_bp, policy.refund_rate_min_orders, rate)
    return holds[(w.tid, w.uid)]


def pay_due(now: datetime) -> dict[str, int]:
    """One run of the paying schedule: settle what is paying (query), then submit what is approved."""
    counts = {"submitted": 0, "paid": 0, "failed": 0, "waiting": 0, "no_provider": 0, "held": 0}
    at = iso(now)
    found: dict[tuple[str, str], Provider | None] = {}  # each tenant's credentials read and parsed once a run
    holds: dict[tuple[str, str], bool] = {}  # each wallet's refund-rate hold, read once a run
    policies: dict[str, PayoutSettings] = {}
    for w in ledger.payable():
        if (w.method, w.tid) not in found:
            found[(w.method, w.tid)] = providers.provider_for(w.method, w.tid)
        provider = found[(w.method, w.tid)]
        if provider is None:
            counts["no_provider"] += 1
            if w.status == Status.APPROVED and w.reason != NO_PROVIDER:
                ledger.annotate(w, Status.APPROVED, at, {"reason": NO_PROVIDER})
            continue
        if w.status == Status.PAYING:
            if w.submitted_at and w.submitted_at > iso(now - QUERY_AFTER):
                counts["waiting"] += 1
                continue
            try:
                result = provider.query(_transfer(w))
            except ProviderUnreachable:
                counts["waiting"] += 1
                continue
            if result.outcome is Outcome.NOT_FOUND:
                # The provider never received it: submitting the same number again cannot pay twice.
                ledger.annotate(w, Status.PAYING, at, {"attempts": w.attempts + 1, "submitted_at": at})
                counts["submitted"] += 1
                outcome = _submit(w, provider, now)
            else:
                outcome = _resolve(w, result, now)
        elif w.status == Status.APPROVED:
            if _held(w, holds, policies):
                counts["held"] += 1
                if w.reason != REFUND_HOLD_TEXT or ReasonCode.REFUND_RATE_HOLD not in w.flags:
                    ledger.annotate(w, Status.APPROVED, at, {"reason": REFUND_HOLD_TEXT},
                                    add_flags=[ReasonCode.REFUND_RATE_HOLD.value])  # fmt: skip
                continue
            fields: dict[str, str | int | None] = {"attempts": w.attempts + 1, "submitted_at": at, "reason": None}
            if not ledger.move(w, {Status.APPROVED}, Status.PAYING, at, fields=fields):
                continue  # finance marked it paid (or rejected it) meanwhile
            counts["submitted"] += 1
            outcome = _submit(w, provider, now)
        else:
            continue
        counts[outcome] += 1
    return counts


def notified(tid: str, method: str, headers: Mapping[str, str], body: bytes, now: datetime) -> dict[str, Any]:
    """A provider's callback about a transfer, resolved like the schedule's query (a repeat changes nothing)."""
    provider = providers.provider_for(method, tid)
    if provider is None:  # answered like a forgery, so that tenant ids cannot be probed
        raise Unauthorized("the notification does not verify", code=Code.INVALID_SIGNATURE)
    try:
        wid, result = provider.notification(headers, body)
    except BadNotification as exc:
        raise Unauthorized("the notification does not verify", code=Code.INVALID_SIGNATURE) from exc
    w = ledger.get(tid, wid)
    if w is None:  # signed by the provider, about no withdrawal of ours: nothing to do, and no reason to resend
        logger.warning("payout notification for an unknown withdrawal", tid=tid, wid=wid, method=method)
        return {"withdrawal_id": wid, "result": "unknown"}
    outcome = _resolve(w, result, now) if w.status == Status.PAYING else w.status
    return {"withdrawal_id": wid, "result": outcome}


# --- the data subject: export and erasure (chalicelib/privacy) -----------------------------------------------

ERASED = "the person asked to be erased: the destination is forgotten"


def subject_export(tid: str, participant: ParticipantRecord, now: datetime) -> dict[str, Any]:
    """The person's wallet in this tenant, its balances and every withdrawal, destinations masked."""
    entries = ledger.wallet(tid, owner_of(participant)).entries
    wids = [withdrawal_id(e.key) for e in entries if e.kind is Kind.WITHDRAWAL]
    found = sorted(ledger.get_many(tid, wids), key=lambda w: (w.created_at, w.wid))
    return {"balances": balances(entries, iso(now)).as_view(), "withdrawals": [own_view(w) for w in found]}


def forget_destinations(tid: str, participant: ParticipantRecord, now: datetime) -> int:
    """An erasure: the withdrawals requested through this participant lose their destination and name; their
    amounts, status and ledger entries are financial records and stay. One not yet sent (requested, approved) is
    rejected first, its money back in the wallet: there is nowhere to pay it. One being paid keeps them until it
    settles (the provider is asked about it with its destination); repeating the erasure drops them then. The
    number of withdrawals forgotten this time."""
    entries = ledger.wallet(tid, owner_of(participant)).entries
    wids = [withdrawal_id(e.key) for e in entries if e.kind is Kind.WITHDRAWAL]
    forgotten, at = 0, iso(now)
    for w in ledger.get_many(tid, wids):
        if w.cid != participant.cid or not w.destination_enc:
            continue
        if w.status in (Status.REQUESTED, Status.APPROVED):
            _reject(w, SYSTEM, ERASED, now)
            w = ledger.get(tid, w.wid) or w
        if w.status == Status.PAYING:
            logger.info("erasure: a withdrawal being paid keeps its destination until it settles", tid=tid, wid=w.wid)
            continue
        forgotten += ledger.forget_destination(w, at)
    return forgotten
