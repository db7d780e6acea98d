"""The review queue: held joins (and flagged helps and orders) awaiting an operator's decision.

Approving a held join is one conditional update of the participant that sets `qualified_at`; the
stream then counts the invitee and issues the rewards with the engine's own exactly-once machinery.
Rejecting sets nothing that counts, ever.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections import defaultdict
from dataclasses import asdict
from datetime import datetime
from typing import Any, Literal

from chalicelib.accounts import audit
from chalicelib.campaigns import lifecycle
from chalicelib.core.clock import iso, parse_iso
from chalicelib.core.codes import Code
from chalicelib.core.errors import BadRequest, Conflict, NotFound
from chalicelib.core.observability import logger
from chalicelib.core.rbac import Principal
from chalicelib.core.reasons import review_reason_code
from chalicelib.referral.rules.fraud import ReviewDecision
from chalicelib.referral.rules.records import ReviewRecord
from chalicelib.referral.rules.reviews import APPROVED, PENDING, ReviewFilter
from chalicelib.referral.store import participants as participant_store
from chalicelib.referral.store import reviews as store
from chalicelib.table.changes import Change
from chalicelib.table.images import ParticipantImage

HELD = "held"


def join_review_id(code: str) -> str:
    return f"join-{code}"


def help_review_id(owner: str, helper: str) -> str:
    return f"help-{owner}{helper}"


def order_review_id(oid: str) -> str:
    return f"order-{oid}"


def view(r: ReviewRecord) -> dict[str, Any]:
    return {
        "id": r.rid, "kind": r.kind, "campaign_id": r.cid, "subject": r.subject, "status": r.status,
        "score": r.score, "reasons": r.reasons, "created_at": r.created_at, "decided_at": r.decided_at,
        "decided_by": r.decided_by, "reason": r.reason, "reason_code": review_reason_code(r.status, r.kind),
    }  # fmt: skip


def _cursor(which: ReviewFilter, last: dict[str, Any]) -> str:
    """Opaque to clients: the key to go on from and the listing's filter, its age window resolved once."""
    return base64.urlsafe_b64encode(json.dumps({"f": asdict(which), "k": last}).encode()).decode()


def _resume(cursor: str, which: ReviewFilter) -> tuple[ReviewFilter, dict[str, Any]]:
    bad = BadRequest("cursor: not one this API issued for these filters", code=Code.INVALID_CURSOR)
    try:
        decoded = json.loads(base64.urlsafe_b64decode(cursor.encode()).decode())
        issued, start = ReviewFilter(**decoded["f"]), decoded["k"]
    except (ValueError, TypeError, KeyError, binascii.Error):
        raise bad from None
    if not isinstance(start, dict) or not issued.well_formed() or not issued.matches(which):
        raise bad
    return issued, start


def page(actor: Principal, which: ReviewFilter, limit: int, cursor: str | None) -> dict[str, Any]:
    """One page of the queue, oldest first; a cursor continues the same window however long paging takes."""
    if which.campaign_id is not None:
        lifecycle.owned(actor.tid, which.campaign_id)  # another tenant's campaign: 404, as if missing
    start = None
    if cursor:
        which, start = _resume(cursor, which)
    items, last = store.page(actor.tid, which, limit, start)
    return {"items": [view(r) for r in items], "next_cursor": _cursor(which, last) if last else None}


def record(
    tid: str, cid: str, kind: str, rid: str, subject: str, score: int, reasons: list[dict[str, Any]], now: datetime
) -> None:
    """Open a review (idempotent: a repeat finds it)."""
    store.open_review(ReviewRecord(rid, tid, cid, kind, subject, PENDING, score, reasons, iso(now)))


def find(tid: str, rid: str) -> ReviewRecord | None:
    return store.get(tid, rid)


def _join_review(tid: str, rid: str) -> ReviewRecord | None:
    """A held join's review, created from the participant if the stream has not projected it yet."""
    found = store.get(tid, rid)
    if found is not None or not rid.startswith("join-"):
        return found
    participant = participant_store.get(rid.removeprefix("join-"), consistent=True)
    if participant is None or participant.tid != tid or participant.review is None:
        return None
    record(tid, participant.cid, "join", rid, participant.code, participant.risk_score or 0,
           participant.risk_reasons or [], parse_iso(participant.joined_at))  # fmt: skip
    return store.get(tid, rid)


def _decide_join(code: str, status: str) -> None:
    for _ in range(3):
        participant = participant_store.get(code, consistent=True)
        if participant is None:
            raise NotFound("no such review", code=Code.REVIEW_NOT_FOUND)
        outcome = store.decide_join(code, status, participant.held_qualified_at)
        if outcome in ("done", "repeat"):
            return
        if outcome == "other":
            raise Conflict("this review was already decided", code=Code.REVIEW_DECIDED)
    raise Conflict("the participant changed while deciding; retry", code=Code.CONCURRENT_UPDATE)


def decide(
    actor: Principal, rid: str, status: Literal["approved", "rejected"], decision: ReviewDecision, now: datetime
) -> dict[str, Any]:
    """Approve or reject once; the same decision again answers the same, the other one conflicts."""
    review = _join_review(actor.tid, rid)
    if review is None:
        raise NotFound("no such review", code=Code.REVIEW_NOT_FOUND)
    if review.status not in (PENDING, status):
        raise Conflict("this review was already decided", code=Code.REVIEW_DECIDED, details={"status": review.status})
    if review.kind == "join":
        # The participant first: it is what the engine acts on; the review item follows (a crash in
        # between is completed by the operator's retry, which finds the participant decided).
        _decide_join(review.subject, status)
    if review.status == PENDING:
        if not store.close(review, status, iso(now), actor.email, decision.reason):
            raise Conflict("this review was already decided", code=Code.REVIEW_DECIDED)
        details = {"kind": review.kind, "campaign_id": review.cid, "subject": review.subject,
                   "reason": decision.reason}  # fmt: skip
        audit.record(actor.tid, actor.email, f"review.{'approve' if status == APPROVED else 'reject'}", rid,
                     details, now)  # fmt: skip
    decided = store.get(actor.tid, rid)
    assert decided is not None
    return view(decided)


# --- the stream side ---------------------------------------------------------------------------


def on_participants(batch: list[Change]) -> set[str]:
    """Held joins open their review item; inviters' `held` sets follow their invitees' review state
    (one update per inviter per batch, from each invitee's last state in the batch)."""
    failed: set[str] = set()
    state: dict[str, dict[str, bool]] = defaultdict(dict)  # inviter -> invitee -> held now
    sequences: dict[str, set[str]] = defaultdict(set)
    for change in batch:
        new, old = change.new_as(ParticipantImage), change.old_as(ParticipantImage)
        if new is None or new.review == (old.review if old else None) or not new.review:
            continue
        if change.event == "INSERT" and new.review == HELD:
            try:
                record(new.tid, new.cid, "join", join_review_id(new.code), new.code, new.risk_score or 0,
                       list(new.risk_reasons or []), parse_iso(new.joined_at))  # fmt: skip
            except Exception:
                logger.exception("could not open a review")
                failed.add(change.sequence)
        if new.inviter:
            state[new.inviter][new.code] = new.review == HELD
            sequences[new.inviter].add(change.sequence)
    for inviter, invitees in state.items():
        try:
            participant_store.set_held(
                inviter, {c for c, h in invitees.items() if h}, {c for c, h in invitees.items() if not h}
            )
        except Exception:
            logger.exception("could not update pending reviews", inviter=inviter)
            failed |= sequences[inviter]
    return failed
