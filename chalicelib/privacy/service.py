"""Data-subject rights under PIPL: a participant exports their own data, or erases themselves.

Erasure turns the participant item into a tombstone (docs/privacy.md): the personal attributes go,
the pseudonymous code and the facts that ledgers and aggregates rest on stay, so the inviter keeps
the credit and every total still adds up. It runs as ordered steps, each safe to repeat; the first
step marks the tombstone and strips the item, so a crash part-way leaves nothing readable and the
participant's (or their app's) retry completes the rest.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from chalicelib.analytics import growth
from chalicelib.audience import churn, profiles
from chalicelib.campaigns import lifecycle
from chalicelib.campaigns.rules.records import CampaignRecord
from chalicelib.core.clock import iso, utcnow
from chalicelib.core.codes import Code
from chalicelib.core.errors import NotFound
from chalicelib.core.observability import logger
from chalicelib.core.reasons import reward_reason_code
from chalicelib.loyalty import checkins, points, tasks, tiers
from chalicelib.modes.distribution import service as distribution
from chalicelib.modes.distribution.rules import commission
from chalicelib.payouts import withdrawals
from chalicelib.platforms import codes as platform_codes
from chalicelib.posters import service as posters
from chalicelib.privacy import store
from chalicelib.privacy.rules import SubjectPartition
from chalicelib.referral import identity, leaderboard, links, rewards
from chalicelib.referral.rules.records import ParticipantRecord
from chalicelib.referral.rules.rewards import CLAIMED, reward_id
from chalicelib.security.pii import get_cipher

EXPORT_FORMAT = "fission.data-subject-export.v1"
PSEUDONYM_PREFIX = "erased:"


def _campaign(cid: str) -> CampaignRecord:
    rec = lifecycle.find(cid)
    if rec is None:  # campaigns are never deleted; a token for a missing one is someone else's
        raise NotFound("no such campaign", code=Code.CAMPAIGN_NOT_FOUND)
    return rec


# --- export ---------------------------------------------------------------------------------


def _person(rec: CampaignRecord, p: ParticipantRecord) -> dict[str, Any]:
    phone = get_cipher().decrypt(p.phone_enc, identity.phone_context(p.cid, p.identity)) if p.phone_enc else None
    return {
        "participant_id": p.code,
        "invite_code": p.code,
        "invite_url": links.public_url(f"/v1/i/{p.code}"),
        "joined_at": p.joined_at,
        "qualified_at": p.qualified_at,
        "nickname": p.nickname,
        "avatar_url": p.avatar_url,
        "phone": phone,
        "device_id": p.device_id,
        "channel": p.channel,
        "invited_by": p.inviter,
        "attribution": p.attribution,
        "variant": p.variant,
        # How many of their invitees count; who they are is those people's data.
        "counted_invites": len(p.counted),
    }


def _rewards(code: str) -> list[dict[str, Any]]:
    found = []
    for r in sorted(rewards.for_participant(code), key=lambda r: r.created_at):
        claim = json.loads(get_cipher().decrypt(r.claim_enc, rewards.claim_context(r))) if r.claim_enc else None
        found.append(
            {
                "reward_id": reward_id(r.code, r.rule),
                "rule": r.rule,
                "type": r.type,
                "name": r.name,
                "value_fen": r.value_fen,
                "points": r.points,
                "status": r.status,
                "reason": r.reason,
                "reason_code": reward_reason_code(r.status, r.reason, r.reason_code),
                "coupon_code": r.coupon_code if r.status == CLAIMED else None,
                "created_at": r.created_at,
                "issued_at": r.issued_at,
                "claimed_at": r.claimed_at,
                "revoked_at": r.revoked_at,
                "claim": claim,
            }
        )
    return found


def _commission(own: SubjectPartition, code: str, now: datetime) -> dict[str, Any]:
    entries = [
        {
            "order_id": e.order_id,
            "level": e.level,
            "amount_fen": e.amount_fen,
            "status": e.status,
            "available_at": e.available_at,
            "created_at": e.created_at,
        }
        for e in own.commission  # in ledger order
    ]
    return {"balance": commission.balance(distribution.ledger(code), iso(now)), "entries": entries}


def _assist(own: SubjectPartition) -> dict[str, Any] | None:
    found = own.assist
    if found is None:
        return None
    # The helpers' codes are theirs: the export says how many helped, not who.
    return {
        "goal": found.goal,
        "target": found.target,
        "helpers_required": found.helpers_required,
        "slots": found.slots,
        "original_price": found.original_price,
        "floor_price": found.floor_price,
        "started_at": found.started_at,
        "deadline": found.deadline,
    }


def export(authorization: str | None, proof: identity.Proof, now: datetime) -> dict[str, Any]:
    """Everything stored about the token's participant, decrypted where it is theirs (read-only). Needs
    fresh proof besides the token: a leaked token alone must not hand out a phone number and address."""
    participant = identity.token_holder(authorization, now)
    if participant.erased:
        raise identity.erased_error()
    rec = _campaign(participant.cid)
    identity.prove_fresh(rec, participant, proof, now)
    own = store.partition(participant.code)
    logger.info("data subject export", campaign_id=rec.cid, code=participant.code)
    return {
        "format": EXPORT_FORMAT,
        "exported_at": iso(now),
        "campaign": {
            "campaign_id": rec.cid,
            "title": rec.spec.title,
            "mode": rec.mode,
            "status": rec.status,
            "starts_at": iso(rec.spec.starts_at),
            "ends_at": iso(rec.spec.ends_at),
            "rule_text": rec.spec.rule_text,
        },
        "participant": _person(rec, participant),
        "rewards": _rewards(participant.code),
        "commission": _commission(own, participant.code, now),
        "wallet": withdrawals.subject_export(rec.tid, participant, now),
        "points": points.subject_export(rec.tid, participant, now),
        "checkins": checkins.subject_export(rec.tid, participant),
        "tasks": tasks.subject_export(rec.tid, participant),
        "tier": tiers.subject_export(rec.tid, participant),
        # Profiling (GDPR art. 15(1)(h), PIPL art. 24): the score, what weighed most and how it is made.
        "churn": churn.subject_export(rec.tid, participant.person) if participant.person else None,
        "assist": _assist(own),
        "helps_given": [{"day": h.day, "helps": h.helps} for h in sorted(own.helps, key=lambda h: str(h.day))],
        "groups": [
            {"group_id": m.gid, "leader": m.leader, "joined_at": m.joined_at, "order_id": m.order_id}
            for m in sorted(store.memberships(participant.code), key=lambda m: str(m.joined_at))
        ],
        "orders": [
            {
                "order_id": o.oid,
                "external_id": o.external_id,
                "status": o.status,
                "amount_fen": o.amount,
                "paid_at": o.paid_at,
                "refunded_at": o.refunded_at,
            }
            for o in sorted(store.buyer_orders(participant.code), key=lambda o: str(o.paid_at))
        ],
    }


# --- erasure --------------------------------------------------------------------------------
# The steps after the first, in order. Each reads what is left to do and does it, so a repeat
# after a crash finds less (or nothing) and finishes.


def _strip_claims(p: ParticipantRecord) -> None:
    for reward in rewards.for_participant(p.code):
        if reward.claim_enc:
            store.strip_claim(p.code, reward.rule)


def _pseudonymise_orders(p: ParticipantRecord) -> None:
    # The keyed identity hash we keep anyway: the same value on every attempt, never a hash of a hash.
    pseudonym = PSEUDONYM_PREFIX + p.identity
    for order in store.buyer_orders(p.code):
        if order.external_id != pseudonym:
            store.pseudonymise_order(order, pseudonym)


def _strip_memberships(p: ParticipantRecord) -> None:
    for member in store.memberships(p.code):
        if member.nickname is not None:
            store.strip_member_nickname(member)


def _forget_in_profile(p: ParticipantRecord) -> None:
    profiles.forget(p, utcnow())


def _forget_retention(p: ParticipantRecord) -> None:
    # Check-ins, task progress, the tier, the growth activity calendar and the churn score are the person's across
    # the tenant's campaigns: they go with the person's last campaign there (the profile, just updated, says whether
    # one is left). The points ledger stays: what the merchant owes and gave.
    tid = _campaign(p.cid).tid
    if p.person and profiles.in_campaigns(tid, p.person):
        return
    checkins.forget(tid, p)
    tasks.forget(tid, p)
    tiers.forget(tid, p)
    growth.forget(tid, p.person or f"c_{p.code}")
    if p.person:
        churn.forget(tid, p.person, utcnow())


def _delete_platform_codes(p: ParticipantRecord) -> None:
    # The WeCom contact way goes on WeCom too. The platform being down does not hold the erasure up: the code
    # item remembers it (state `deleting`) and a repeated erasure request asks WeCom again.
    platform_codes.forget(p.code)


def _forget_withdrawal_destinations(p: ParticipantRecord) -> None:
    # The withdrawals are financial records and stay; where the money went, and to whom, does not.
    withdrawals.forget_destinations(_campaign(p.cid).tid, p, utcnow())


STEPS = (
    _strip_claims, _pseudonymise_orders, _strip_memberships, _forget_in_profile, _forget_withdrawal_destinations,
    _delete_platform_codes, _forget_retention,
)  # fmt: skip


def erase(authorization: str | None, proof: identity.Proof, now: datetime) -> dict[str, Any]:
    """Erase the token's participant; a repeat (or a retry after a failure) answers the same. Beginning
    (or resuming) an erasure needs fresh proof besides the token; it revokes every token at the end."""
    participant = identity.token_holder(authorization, now)
    if participant.erased_at is not None:
        _delete_platform_codes(participant)  # one read when nothing is left; a retry when WeCom was down
        _forget_withdrawal_destinations(participant)  # one that was being paid has settled since
        return {"erased": True, "erased_at": participant.erased_at}
    identity.prove_fresh(_campaign(participant.cid), participant, proof, now)
    at = iso(now)
    poster_keys: set[str] = set()
    if participant.erasing_at is None:
        # Computed while the nickname and avatar they hash still exist; stored with the tombstone.
        poster_keys = posters.cached_keys(_campaign(participant.cid), participant)
    tombstone = store.begin_erasure(participant.code, at, poster_keys)
    if tombstone is None:
        raise NotFound("no such participant", code=Code.PARTICIPANT_NOT_FOUND)
    for step in STEPS:
        step(participant)
    leaderboard.hide_nickname(participant.cid, participant.code, at)
    posters.forget(set(tombstone.poster_keys))
    erased_at = store.finish_erasure(participant.code, tombstone.erasing_at)
    if erased_at is None:
        raise NotFound("no such participant", code=Code.PARTICIPANT_NOT_FOUND)
    logger.info("participant erased", campaign_id=participant.cid, code=participant.code)
    return {"erased": True, "erased_at": erased_at}
