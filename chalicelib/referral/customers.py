"""Existing customers: the merchant reports users who bought before; they count for nobody (docs/rewards-veto.md).

A report is kept per campaign by the keyed hash of the merchant's id, so it holds whether the user has joined yet or
not: the stream does not count such an invitee toward their inviter (nor give them the invitee reward), a distribution
order of theirs earns nobody commission, and rewards still held for the merchant's veto that rest on them are voided
at once. What was issued before the report stays issued (an operator can revoke it).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from chalicelib.campaigns import lifecycle
from chalicelib.campaigns.rules.records import CampaignRecord
from chalicelib.core.clock import iso
from chalicelib.core.rbac import Principal
from chalicelib.core.reasons import ReasonCode
from chalicelib.referral import identity, rewards
from chalicelib.referral.rules import release as domain
from chalicelib.referral.rules.participants import identity_hash
from chalicelib.referral.rules.records import ParticipantRecord
from chalicelib.referral.rules.rewards import INVITEE_RULE, PENDING_RELEASE
from chalicelib.referral.store import customers as store


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
    added = store.report(cid, rec.tid, {identity_hash(secret, cid, e) for e in unique}, iso(now))
    voided = 0
    for external_id in unique:
        participant = identity.find(cid, external_id)
        if participant is not None:
            voided += _void_held(rec, participant, now, actor.email)
    return {"reported": len(unique), "new": added, "voided_rewards": voided}


def is_existing(cid: str, participant: ParticipantRecord) -> bool:
    """Whether the merchant reported this participant as an existing customer of the campaign."""
    return bool(store.reported({(cid, participant.identity)}))
