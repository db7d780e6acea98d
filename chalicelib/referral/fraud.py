"""Fraud signals at the join and the help, and the stream side that keeps their counters.

The join stays one write: everything here on the join path is a read (velocity windows in one
BatchGetItem, the person record by phone). The counters are kept by the stream (docs/fraud.md).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from chalicelib.campaigns import live
from chalicelib.campaigns.rules import fraud_policy
from chalicelib.campaigns.rules.fraud_policy import Decision, FraudPolicy
from chalicelib.campaigns.rules.records import CampaignRecord
from chalicelib.campaigns.rules.spec import LadderRules, policy_of
from chalicelib.core.clock import parse_iso, utcnow
from chalicelib.core.errors import FissionError
from chalicelib.core.observability import logger
from chalicelib.referral import reviews
from chalicelib.referral.rules import fraud as domain
from chalicelib.referral.rules.fraud import Assessment, Node, Signal
from chalicelib.referral.rules.records import ParticipantRecord
from chalicelib.referral.store import fraud as store
from chalicelib.referral.store import participants as participant_store
from chalicelib.referral.store import rewards as reward_store
from chalicelib.referral.store.fraud import WindowKey
from chalicelib.security.keyring import get_keyring
from chalicelib.table.changes import Change
from chalicelib.table.images import ParticipantImage

WINDOWS = ("minute", "day")


def _secret() -> bytes:
    return get_keyring().secret("risk-signals")


def fingerprint(kind: str, value: str | None) -> str | None:
    return domain.fingerprint(_secret(), kind, value) if value else None


def node(p: ParticipantRecord) -> Node:
    return Node(p.code, fingerprint("device", p.device_id), p.ip_hash, fingerprint("phone", p.phone_hash))


@dataclass
class Risk:
    """The assessment of one join: what to store with the participant, and the decision."""

    assessment: Assessment
    decision: Decision
    lineage: list[dict[str, str]] | None = None
    windows: list[WindowKey] = field(default_factory=list)

    @property
    def reasons(self) -> list[dict[str, Any]] | None:
        return self.assessment.reasons or None

    @property
    def score(self) -> int | None:
        return self.assessment.score or None


def _windows(cid: str, subjects: dict[str, str], epoch: int) -> list[WindowKey]:
    return [
        WindowKey(cid, scope, subject, window, domain.window_start(epoch, window))
        for scope, subject in subjects.items()
        for window in WINDOWS
    ]


def _velocity(policy: FraudPolicy, windows: list[WindowKey], subjects: dict[str, str]) -> list[Signal]:
    if not windows:
        return []
    found = store.counts(windows)
    return domain.velocity_signals({(k.scope, k.window): n for k, n in found.items()}, policy, subjects)


def assess_join(
    rec: CampaignRecord,
    *,
    code: str,
    ip_hash: str | None,
    device_id: str | None,
    phone_digits: str | None,
    phone_hash: str | None,
    inviter: ParticipantRecord | None,
    now: datetime,
) -> Risk:
    """Score a join before its one write. Velocity applies only when the request's address is known."""
    policy = policy_of(rec.spec)
    signals: list[Signal] = []
    joiner = Node(code, fingerprint("device", device_id), ip_hash, fingerprint("phone", phone_hash))
    lineage: list[dict[str, str]] | None = None
    if inviter is not None:
        if ip_hash and inviter.ip_hash == ip_hash:
            signals.append(Signal(fraud_policy.SHARED_IP, "same network address as the inviter"))
        lineage = domain.lineage(node(inviter), inviter.lineage or [])
        cluster = domain.cluster_signal(joiner, [domain.node_of(e) for e in lineage], policy.cluster_links)
        if cluster is not None:
            signals.append(cluster)
    if phone_digits:
        prefix = domain.virtual_operator(phone_digits)
        if prefix is not None:
            signals.append(Signal(fraud_policy.VIRTUAL_OPERATOR_PHONE, f"number range {prefix}"))
    if phone_hash:
        person = store.person(rec.tid, phone_hash)
        if person is not None:
            hunter = domain.bonus_hunter(len(person.rewarded - {rec.cid}), len(person.paid))
            if hunter is not None:
                signals.append(hunter)
    windows: list[WindowKey] = []
    if ip_hash:
        subjects = {"ip": ip_hash}
        if joiner.device:
            subjects["device"] = joiner.device
        if inviter is not None:
            subjects["inviter"] = inviter.code
        windows = _windows(rec.cid, subjects, int(now.timestamp()))
        signals += _velocity(policy, windows, subjects)
    assessment, decision = domain.assess(signals, policy)
    return Risk(assessment, decision, lineage, windows)


def count_refused(windows: list[WindowKey], member: str) -> None:
    """A blocked join is never written, so the stream cannot count it: count it here."""
    for key in windows:
        store.add(key, {member}, domain.window_ttl(key.start, key.window))


def assess_help(
    rec: CampaignRecord, *, helper: ParticipantRecord, owner: ParticipantRecord, ip_hash: str | None, now: datetime
) -> tuple[Assessment, Decision]:
    """Score a help: a brand-new helper, a device or address shared with the owner, help velocity.

    Help windows are counted here, synchronously (the help path already writes; the assist item
    does not carry the helper's address for the stream to count)."""
    policy = policy_of(rec.spec)
    signals: list[Signal] = []
    age = (now - parse_iso(helper.joined_at)).total_seconds()
    if age < policy.new_account_seconds:
        signals.append(Signal(fraud_policy.NEW_ACCOUNT_HELP, f"joined {int(age)} s before helping"))
    if ip_hash and owner.ip_hash == ip_hash:
        signals.append(Signal(fraud_policy.SHARED_IP, "same network address as the owner"))
    if ip_hash:
        subjects = {"ip": ip_hash}
        device = fingerprint("device", helper.device_id)
        if device:
            subjects["device"] = device
        windows = [
            WindowKey(rec.cid, f"help_{k.scope}", k.subject, k.window, k.start)
            for k in _windows(rec.cid, subjects, int(now.timestamp()))
        ]
        found = store.counts(windows)
        counts = {(k.scope.removeprefix("help_"), k.window): n for k, n in found.items()}
        signals += domain.velocity_signals(counts, policy, subjects)
        for key in windows:
            store.add(key, {f"{helper.code}>{owner.code}"}, domain.window_ttl(key.start, key.window))
    return domain.assess(signals, policy)


# --- the stream side ---------------------------------------------------------------------------


def count_attempts(batch: list[Change]) -> set[str]:
    """Velocity windows from participant INSERTs (held ones too: they are attempts), coalesced to
    one set union per window per batch. Only joins with a known address are counted (and checked)."""
    members: dict[WindowKey, set[str]] = defaultdict(set)
    sequences: dict[WindowKey, set[str]] = defaultdict(set)
    for change in batch:
        new = change.new_as(ParticipantImage)
        if change.event != "INSERT" or new is None or not new.ip_hash:
            continue
        subjects = {"ip": new.ip_hash}
        device = fingerprint("device", new.device_id)
        if device:
            subjects["device"] = device
        if new.inviter:
            subjects["inviter"] = new.inviter
        epoch = int(parse_iso(new.joined_at).timestamp())
        for key in _windows(new.cid, subjects, epoch):
            members[key].add(new.code)
            sequences[key].add(change.sequence)
    failed: set[str] = set()
    now = int(utcnow().timestamp())
    for key, codes in members.items():
        if domain.window_closed(key.start, key.window, now):
            continue  # no join reads a closed window again: a late or replayed record need not write it
        try:
            store.add(key, codes, domain.window_ttl(key.start, key.window))
        except Exception:
            logger.exception("could not count join attempts", scope=key.scope)
            failed |= sequences[key]
    return failed


def _rewarded(old: ParticipantImage | None, new: ParticipantImage) -> bool:
    """Whether a participant change is them earning a reward, read from the image alone (the stream
    replays history, so no reads here): a milestone added to `rewarded`, or their own invite
    qualifying in a campaign with an invitee reward."""
    if new.rewarded - (old.rewarded if old else frozenset()):
        return True
    if new.inviter and new.qualified_at and not (old and old.qualified_at):
        try:
            rules = live.campaign(new.cid).spec.rules
            return isinstance(rules, LadderRules) and rules.invitee_reward is not None
        except FissionError:
            return False
    return False


def record_people(batch: list[Change]) -> set[str]:
    """The per-phone person records (bonus hunters): campaigns rewarded, as set unions, one update per
    phone per batch. (Paid orders are added by the order webhook, which has the buyer at hand.)"""
    rewarded: dict[tuple[str, str], set[str]] = defaultdict(set)
    sequences: dict[tuple[str, str], set[str]] = defaultdict(set)
    for change in batch:
        new = change.new_as(ParticipantImage) if change.entity == "participant" else None
        if new is not None and new.phone_hash and _rewarded(change.old_as(ParticipantImage), new):
            key = (new.tid, new.phone_hash)
            rewarded[key].add(new.cid)
            sequences[key].add(change.sequence)
    failed: set[str] = set()
    for (tid, phone_hash), cids in rewarded.items():
        try:
            store.add_person(tid, phone_hash, rewarded=cids)
        except Exception:
            logger.exception("could not record a person for fraud signals")
            failed |= sequences[(tid, phone_hash)]
    return failed


# --- orders: flagged for review, never refused (the order happened) --------------------------------


def screen_paid(
    rec: CampaignRecord, oid: str, buyer: ParticipantRecord, payment_hash: str | None, now: datetime
) -> None:
    """SHARED_PAYMENT: the buyer paid with the account their inviter paid with. Flagged for review
    (no automatic effect: a reviewer may revoke rewards with the revoke route)."""
    if buyer.phone_hash:
        store.add_person(buyer.tid, buyer.phone_hash, paid={oid})  # the bonus-hunter record: a set union
    paid_with = fingerprint("payment", payment_hash)
    if paid_with is None:
        return
    signals: list[Signal] = []
    inviter = participant_store.get(buyer.inviter) if buyer.inviter else None
    if inviter is not None and inviter.payment_hash == paid_with:
        signals.append(Signal(fraud_policy.SHARED_PAYMENT, "paid with the inviter's payment account"))
    if buyer.payment_hash != paid_with:
        participant_store.record_payment(buyer.code, paid_with)
    _flag(rec, "order", oid, signals, now)


def screen_refund(rec: CampaignRecord, oid: str, buyer_code: str | None, now: datetime) -> None:
    """REFUND_AFTER_REWARD: the refunded order's buyer, or the buyer's inviter, already holds a reward here."""
    if not buyer_code:
        return
    buyer = participant_store.get(buyer_code)
    rewarded = []
    for code in [buyer_code] + ([buyer.inviter] if buyer is not None and buyer.inviter else []):
        held = [r for r in reward_store.for_participant(code) if r.cid == rec.cid and r.status in ("issued", "claimed")]
        if held:
            rewarded.append(f"{code}: {', '.join(sorted(r.rule for r in held))}")
    signals = [Signal(fraud_policy.REFUND_AFTER_REWARD, "; ".join(rewarded))] if rewarded else []
    _flag(rec, "refund", oid, signals, now)


def _flag(rec: CampaignRecord, kind: str, oid: str, signals: list[Signal], now: datetime) -> None:
    if not signals:
        return
    assessment = domain.score(signals, policy_of(rec.spec).weights)
    reviews.record(rec.tid, rec.cid, "order", f"{kind}-{oid}", oid, assessment.score, assessment.reasons, now)
