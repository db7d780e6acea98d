"""Participant items: one conditional put per join; invitee sets added to by the stream handler."""

from __future__ import annotations

from datetime import datetime, timedelta

from pynamodb.exceptions import DeleteError, UpdateError
from pynamodb.expressions.update import Action

from chalicelib.core.clock import iso
from chalicelib.core.codes import Code
from chalicelib.core.errors import Conflict
from chalicelib.core.ids import new_id
from chalicelib.referral.rules.records import ParticipantRecord
from chalicelib.table import keys
from chalicelib.table.db import ensure_bound, get_entity, is_condition_failure, save_if, unavailable_on_failure
from chalicelib.table.models import ClickItem, Item, ParticipantItem, ProofItem

_FIELDS = (
    "cid", "tid", "code", "identity", "joined_at", "nickname", "avatar_url", "phone_enc", "phone_hash",
    "device_id", "channel", "inviter", "attribution", "qualified_at", "variant", "depth", "inviter_joined_at",
    "erasing_at", "erased_at",
    "ip_hash", "risk_score", "risk_reasons", "lineage", "review", "held_qualified_at", "payment_hash",
    "person", "contact_enc", "birthday",
)  # fmt: skip


def _record(item: ParticipantItem) -> ParticipantRecord:
    values = {name: getattr(item, name) for name in _FIELDS}
    values["depth"] = None if item.depth is None else int(item.depth)
    values["risk_score"] = None if item.risk_score is None else int(item.risk_score)
    values["token_version"] = int(item.token_version or 0)
    return ParticipantRecord(
        **values,
        counted=set(item.counted or ()),
        rewarded=set(item.rewarded or ()),
        held=set(item.held or ()),
    )


def insert(rec: ParticipantRecord) -> bool:
    """Write a new participant; False if the code is taken (by them on a repeat, or by a collision)."""
    ensure_bound()
    item = ParticipantItem(PK=keys.participant_pk(rec.code), SK=keys.META, **{n: getattr(rec, n) for n in _FIELDS})
    # Indexed in the same put: the campaign's participants (sharded) and the inviter's children.
    item.GSI1PK, item.GSI1SK, item.GSI2PK, item.GSI2SK = keys.participant_index_keys(
        rec.cid, rec.code, rec.joined_at, rec.inviter
    )
    return save_if(item, ParticipantItem.PK.does_not_exist(), "join")


def get(code: str, *, consistent: bool = False) -> ParticipantRecord | None:
    item = get_entity(ParticipantItem, keys.participant_pk(code), keys.META, consistent=consistent)
    return _record(item) if item is not None else None


# What a join reads of its inviter: attribution (depth, time, identity), the fraud checks (device,
# phone, address, lineage) and the erasure marks. Not the invitee sets, which grow with every invite:
# a popular inviter's whole item would be read and parsed on each of their invitees' joins.
_INVITER_FIELDS = (
    "cid", "tid", "code", "identity", "joined_at", "depth", "device_id", "phone_hash", "ip_hash", "lineage",
    "erasing_at", "erased_at",
)  # fmt: skip


def get_inviter(code: str) -> ParticipantRecord | None:
    """The participant behind an invite link, for a join's attribution and fraud checks: the fields in
    `_INVITER_FIELDS` only; the rest (invitee sets, profile, PII) come back empty."""
    item = get_entity(ParticipantItem, keys.participant_pk(code), keys.META, attributes=_INVITER_FIELDS)
    return _record(item) if item is not None else None


def add_counted(inviter_code: str, invitee_codes: set[str]) -> ParticipantRecord:
    """Add invitees to an inviter's counted set (idempotent: a set union); returns the inviter as updated."""
    ensure_bound()
    item = ParticipantItem(PK=keys.participant_pk(inviter_code), SK=keys.META)
    try:
        with unavailable_on_failure("count invitees"):
            item.update(
                actions=[ParticipantItem.counted.add(invitee_codes)],
                condition=ParticipantItem.PK.exists(),
            )
    except UpdateError as exc:
        if is_condition_failure(exc):
            raise Conflict(f"inviter {inviter_code} does not exist", code=Code.INVITER_NOT_FOUND) from exc
        if exc.cause_response_code != "ValidationException":
            raise
        # The item is at DynamoDB's 400 KB limit: tens of thousands of invitees, far past any
        # ladder (milestones and caps stop at 10,000). Keep what is counted; the rest changes nothing.
        full = get(inviter_code, consistent=True)
        if full is None:
            raise
        return full
    return _record(item)


def record_payment(code: str, payment_hash: str) -> None:
    """The account that paid the participant's latest order (a keyed hash)."""
    ensure_bound()
    item = ParticipantItem(PK=keys.participant_pk(code), SK=keys.META)
    with unavailable_on_failure("record payment"):
        item.update(actions=[ParticipantItem.payment_hash.set(payment_hash)], condition=ParticipantItem.PK.exists())


def set_held(inviter_code: str, held: set[str], decided: set[str]) -> None:
    """Keep the inviter's set of invitees awaiting review (set operations: safe to repeat)."""
    ensure_bound()
    item = ParticipantItem(PK=keys.participant_pk(inviter_code), SK=keys.META)
    # ADD and DELETE of one attribute cannot share an update expression.
    actions: list[Action] = []
    if held:
        actions.append(ParticipantItem.held.add(held))
    if decided:
        actions.append(ParticipantItem.held.delete(decided))
    for action in actions:
        try:
            with unavailable_on_failure("pending reviews"):
                item.update(actions=[action], condition=ParticipantItem.PK.exists())
        except UpdateError as exc:
            if not is_condition_failure(exc):
                raise


def mark_rewarded(code: str, rules: set[str]) -> None:
    ensure_bound()
    item = ParticipantItem(PK=keys.participant_pk(code), SK=keys.META)
    with unavailable_on_failure("mark rewarded"):
        item.update(actions=[ParticipantItem.rewarded.add(rules)])


CLICK_RETENTION = timedelta(days=90)


def record_click(cid: str, code: str, channel: str | None, now: datetime) -> None:
    """One fact per click, under its own key (a viral link never heats one partition);
    analytics aggregate them from the stream, and TTL removes them later."""
    ensure_bound()
    item = ClickItem(
        PK=keys.click_pk(new_id("clk")),
        SK=keys.META,
        cid=cid,
        code=code,
        channel=channel,
        at=iso(now),
        expires_at=int((now + CLICK_RETENTION).timestamp()),
    )
    with unavailable_on_failure("record click"):
        item.save()


def mark_qualified(code: str, at: str) -> bool:
    """Record the qualifying action once; False if it was recorded before (a repeated webhook).

    A participant held for review (or rejected) never qualifies here: a held one keeps the time in
    `held_qualified_at`, which approving turns into `qualified_at` (docs/fraud.md)."""
    ensure_bound()
    item = ParticipantItem(PK=keys.participant_pk(code), SK=keys.META)
    reviewed = ParticipantItem.review.is_in("held", "rejected")
    try:
        with unavailable_on_failure("qualify"):
            item.update(
                actions=[ParticipantItem.qualified_at.set(at)],
                condition=ParticipantItem.PK.exists() & ParticipantItem.qualified_at.does_not_exist() & ~reviewed,
            )
    except UpdateError as exc:
        if not is_condition_failure(exc):
            raise
        try:
            with unavailable_on_failure("qualify"):
                item.update(
                    actions=[ParticipantItem.held_qualified_at.set(at)],
                    condition=(ParticipantItem.review == "held") & ParticipantItem.held_qualified_at.does_not_exist(),
                )
        except UpdateError as again:
            if not is_condition_failure(again):
                raise
        return False
    return True


def persons(codes: set[str]) -> dict[str, tuple[str, str]]:
    """Participant code -> (tenant, person uid), for facts that name only a participant."""
    ensure_bound()
    out: dict[str, tuple[str, str]] = {}
    if not codes:
        return out
    with unavailable_on_failure("participants' persons"):
        for item in Item.batch_get([(keys.participant_pk(c), keys.META) for c in sorted(codes)]):
            if isinstance(item, ParticipantItem) and item.person:
                out[item.code] = (item.tid, item.person)
    return out


def bump_token_version(code: str) -> int:
    """Revoke every token issued so far: the participant's token version goes up by one."""
    ensure_bound()
    item = ParticipantItem(PK=keys.participant_pk(code), SK=keys.META)
    try:
        with unavailable_on_failure("revoke tokens"):
            item.update(actions=[ParticipantItem.token_version.add(1)], condition=ParticipantItem.PK.exists())
    except UpdateError as exc:
        if is_condition_failure(exc):
            raise Conflict("no such participant", code=Code.PARTICIPANT_NOT_FOUND) from exc
        raise
    return int(item.token_version or 0)


def add_proof(code: str, digest: str, created_at: str, expires_at: int) -> None:
    """A one-time proof, kept by the hash of its code until used or expired (TTL)."""
    ensure_bound()
    item = ProofItem(
        PK=keys.participant_pk(code), SK=keys.proof_sk(digest), code=code, created_at=created_at, expires_at=expires_at
    )
    save_if(item, ProofItem.PK.does_not_exist(), "proof")


def use_proof(code: str, digest: str, now: int) -> bool:
    """Delete the proof if it exists and has not expired: True exactly once per proof."""
    ensure_bound()
    item = ProofItem(PK=keys.participant_pk(code), SK=keys.proof_sk(digest))
    try:
        with unavailable_on_failure("use proof"):
            item.delete(condition=ProofItem.PK.exists() & (ProofItem.expires_at > now))
    except DeleteError as exc:
        if is_condition_failure(exc):
            return False
        raise
    return True
