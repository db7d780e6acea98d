"""Review items (held or flagged facts) and the decision on a held join's participant item."""

from __future__ import annotations

from typing import Any

from pynamodb.exceptions import UpdateError
from pynamodb.indexes import GlobalSecondaryIndex

from chalicelib.referral.rules.records import ReviewRecord
from chalicelib.referral.rules.reviews import APPROVED, PENDING, ReviewFilter
from chalicelib.table import keys
from chalicelib.table.db import ensure_bound, get_entity, is_condition_failure, save_if, unavailable_on_failure
from chalicelib.table.models import ParticipantItem, ReviewItem


def item_key(tid: str, rid: str) -> tuple[str, str] | None:
    """Where review `rid` lives: `join-{code}`, `help-{owner}{helper}` (two 8-letter codes), `order-{oid}`
    (a paid order flagged), `refund-{oid}` (a refund flagged), `reward-{code}-{rule}` (a reward above the campaign's
    approval limit)."""
    kind, _, ref = rid.partition("-")
    if kind == "join" and len(ref) == 8:
        return keys.participant_pk(ref), keys.REVIEW_SK
    if kind == "help" and len(ref) == 16:
        return keys.participant_pk(ref[8:]), keys.help_review_sk(ref[:8])
    if kind == "order" and ref:
        return keys.order_pk(tid, ref), keys.REVIEW_SK
    if kind == "reward" and len(ref) > 9 and ref[8] == "-":
        return keys.participant_pk(ref[:8]), keys.reward_review_sk(ref[9:])
    if kind == "refund" and ref:
        return keys.order_pk(tid, ref), keys.refund_review_sk()
    return None


def _record(item: ReviewItem) -> ReviewRecord:
    return ReviewRecord(
        rid=item.rid, tid=item.tid, cid=item.cid, kind=item.kind, subject=item.subject, status=item.status,
        score=int(item.score or 0), reasons=list(item.reasons or []), created_at=item.created_at,
        decided_at=item.decided_at, decided_by=item.decided_by, reason=item.reason,
    )  # fmt: skip


def open_review(rec: ReviewRecord) -> bool:
    """Create the review once; False if it exists (a repeat, or a later state already recorded)."""
    ensure_bound()
    found = item_key(rec.tid, rec.rid)
    assert found is not None
    item = ReviewItem(
        PK=found[0], SK=found[1], rid=rec.rid, tid=rec.tid, cid=rec.cid, kind=rec.kind, subject=rec.subject,
        status=rec.status, score=rec.score, reasons=rec.reasons, created_at=rec.created_at,
        decided_at=rec.decided_at, decided_by=rec.decided_by, reason=rec.reason,
        GSI1PK=keys.reviews_gsi1pk(rec.tid, rec.status), GSI1SK=keys.review_gsi1sk(rec.created_at, rec.rid),
        GSI2PK=keys.campaign_reviews_gsi2pk(rec.cid, rec.status), GSI2SK=keys.review_gsi1sk(rec.created_at, rec.rid),
    )  # fmt: skip
    return save_if(item, ReviewItem.PK.does_not_exist(), "open review")


def get(tid: str, rid: str) -> ReviewRecord | None:
    found = item_key(tid, rid)
    if found is None:
        return None
    item = get_entity(ReviewItem, found[0], found[1], consistent=True)
    return _record(item) if item is not None and item.tid == tid else None


def close(rec: ReviewRecord, status: str, at: str, by: str, reason: str) -> bool:
    """pending -> `status`; False if it was decided otherwise (a repeat of the same decision is True)."""
    ensure_bound()
    found = item_key(rec.tid, rec.rid)
    assert found is not None
    item = ReviewItem(PK=found[0], SK=found[1])
    try:
        with unavailable_on_failure("decide review"):
            item.update(
                actions=[
                    ReviewItem.status.set(status),
                    ReviewItem.decided_at.set(at),
                    ReviewItem.decided_by.set(by),
                    ReviewItem.reason.set(reason),
                    ReviewItem.GSI1PK.set(keys.reviews_gsi1pk(rec.tid, status)),
                    # Set on close even for a review opened before the campaign index existed.
                    ReviewItem.GSI2PK.set(keys.campaign_reviews_gsi2pk(rec.cid, status)),
                    ReviewItem.GSI2SK.set(keys.review_gsi1sk(rec.created_at, rec.rid)),
                ],
                condition=ReviewItem.PK.exists() & (ReviewItem.status == PENDING),
            )
    except UpdateError as exc:
        if not is_condition_failure(exc):
            raise
        again = get(rec.tid, rec.rid)
        return again is not None and again.status == status
    return True


def decide_join(code: str, status: str, held_qualified_at: str | None) -> str:
    """The held participant -> approved (qualifying now if it had qualified while held) or rejected.

    One conditional update. Returns "done", "repeat" (already so decided), "other" (decided the other
    way) or "changed" (`held_qualified_at` moved since it was read: read again and retry)."""
    ensure_bound()
    item = ParticipantItem(PK=keys.participant_pk(code), SK=keys.META)
    actions: list[Any] = [ParticipantItem.review.set(status)]
    unchanged = (
        ParticipantItem.held_qualified_at == held_qualified_at
        if held_qualified_at is not None
        else ParticipantItem.held_qualified_at.does_not_exist()
    )
    if status == APPROVED and held_qualified_at is not None:
        actions.append(ParticipantItem.qualified_at.set(held_qualified_at))
    try:
        with unavailable_on_failure("decide join"):
            item.update(actions=actions, condition=(ParticipantItem.review == "held") & unchanged)
    except UpdateError as exc:
        if not is_condition_failure(exc):
            raise
        now = get_entity(ParticipantItem, keys.participant_pk(code), keys.META, consistent=True)
        if now is None:
            return "other"
        if now.review == status:
            return "repeat"
        return "changed" if now.review == "held" else "other"
    return "done"


def page(
    tid: str, which: ReviewFilter, limit: int, start: dict[str, Any] | None
) -> tuple[list[ReviewRecord], dict[str, Any] | None]:
    """One page of a tenant's reviews in one status, oldest first, from the key after `start`.

    By key alone: the tenant's status partition of GSI1, or the campaign's of GSI2, and the creation-time
    window as a sort-key range (the sort key starts with `created_at`)."""
    ensure_bound()
    index: GlobalSecondaryIndex[Any]
    if which.campaign_id is None:
        index, pk, sk = ReviewItem.gsi1, keys.reviews_gsi1pk(tid, which.status), ReviewItem.GSI1SK
    else:
        pk = keys.campaign_reviews_gsi2pk(which.campaign_id, which.status)
        index, sk = ReviewItem.gsi2, ReviewItem.GSI2SK
    lo, hi = which.created_from, which.created_before
    window = sk.between(lo, hi) if lo and hi else sk >= lo if lo else sk < hi if hi else None
    with unavailable_on_failure("list reviews"):
        result = index.query(pk, window, limit=limit, last_evaluated_key=start, page_size=limit)
        # The campaign was checked to be the tenant's; the tenant test stays as a second lock.
        items = [_record(i) for i in result if isinstance(i, ReviewItem) and i.tid == tid]
        last = result.last_evaluated_key
    return items, last
