"""Reward items, the campaign-wide limits they draw on (stock per reward, budget), and coupon code pools.

Issuing is one transaction: the reward item (conditional on not existing: exactly once per
participant and rule), the stock decrement (conditional on stock left), the budget charge
(conditional on room left) and, for a pooled coupon, taking one free code (conditional on it
still being free). Either all happen or none does, so nothing is over-issued and no code goes
to two people.
"""

from __future__ import annotations

import secrets
from concurrent.futures import ThreadPoolExecutor
from dataclasses import fields
from typing import Any, Literal

from pynamodb.connection import Connection
from pynamodb.exceptions import PutError, TransactWriteError, UpdateError
from pynamodb.expressions.condition import Condition
from pynamodb.expressions.update import Action
from pynamodb.transactions import TransactWrite

from chalicelib.referral.rules.records import RewardRecord
from chalicelib.referral.rules.rewards import CLAIMED, ISSUED, PENDING, PENDING_RELEASE, REVOKED
from chalicelib.table import keys
from chalicelib.table.db import ensure_bound, get_entity, is_condition_failure, save_if, unavailable_on_failure
from chalicelib.table.models import CounterItem, CouponCodeItem, Item, RewardItem

Outcome = Literal["issued", "pending", "held", "duplicate", "out_of_stock", "over_budget", "code_taken", "conflict"]
Fulfilment = Literal["issued", "code_taken", "not_pending", "conflict"]
UPLOAD_THREADS = 8
RELEASE_SHARDS = keys.RELEASE_SHARDS


_FIELDS = tuple(f.name for f in fields(RewardRecord))
_NUMBERS = ("value_fen", "points", "budget_fen", "cost_fen")


def _shard(code: str) -> int:
    return sum(code.encode()) % keys.RELEASE_SHARDS


def _item(rec: RewardRecord) -> RewardItem:
    values = {n: getattr(rec, n) for n in _FIELDS}
    values["attempts"] = rec.attempts or None
    item = RewardItem(PK=keys.participant_pk(rec.code), SK=keys.reward_sk(rec.rule), **values)
    if rec.status == PENDING and rec.pool_rule:
        item.GSI1PK = keys.pending_rewards_gsi1pk(rec.cid, rec.pool_rule)
        item.GSI1SK = keys.pending_rewards_gsi1sk(rec.created_at, rec.code)
    if rec.status == PENDING_RELEASE and rec.release_at:
        item.GSI2PK = keys.release_due_gsi2pk(_shard(rec.code))
        item.GSI2SK = keys.release_due_gsi2sk(rec.release_at, rec.code, rec.rule)
    return item


def _record(item: RewardItem) -> RewardRecord:
    values: dict[str, Any] = {n: getattr(item, n, None) for n in _FIELDS}
    for name in _NUMBERS:
        values[name] = None if values[name] is None else int(values[name])
    values["attempts"] = int(values["attempts"] or 0)
    values["invitees"] = list(values["invitees"]) if values["invitees"] is not None else None
    return RewardRecord(**values)


def _connection() -> Connection:
    return Item._get_connection().connection


def _reasons(exc: TransactWriteError) -> list[str | None]:
    return [getattr(r, "code", None) for r in (exc.cancellation_reasons or [])]


def _unfulfilled(exc: TransactWriteError) -> Fulfilment:
    """Why a transaction that moves a reward to issued (taking a pool code) did not happen: the reward had moved on
    (its condition), the code was taken meanwhile, or a concurrent transaction; anything else is raised again."""
    reasons = _reasons(exc)
    if not reasons or not is_condition_failure(exc):
        raise exc
    if "TransactionConflict" in reasons:
        return "conflict"
    return "not_pending" if reasons[0] == "ConditionalCheckFailed" else "code_taken"


def init_limits(cid: str, stock: dict[str, int], budget_fen: int | None) -> None:
    """Create the stock and budget counters once (publishing again never resets them)."""
    ensure_bound()
    counters = [
        CounterItem(PK=keys.stock_pk(cid, rule), SK=keys.META, cid=cid, name=f"stock:{rule}", remaining=left)
        for rule, left in stock.items()
    ]
    if budget_fen is not None:
        counters.append(
            CounterItem(PK=keys.budget_pk(cid), SK=keys.META, cid=cid, name="budget", spent=0, limit=budget_fen)
        )
    for counter in counters:
        try:
            with unavailable_on_failure("init limits"):
                counter.save(condition=CounterItem.PK.does_not_exist())
        except PutError as exc:
            if not is_condition_failure(exc):
                raise


def _take_code(tx: TransactWrite, cid: str, rule: str, coupon: str, owner: str, at: str) -> None:
    """Take a free code for `owner`: conditional on it still being free, it leaves the free index."""
    code_item = CouponCodeItem(PK=keys.coupon_pool_pk(cid, rule), SK=keys.coupon_code_sk(coupon))
    tx.update(
        code_item,
        actions=[
            CouponCodeItem.assigned_to.set(owner),
            CouponCodeItem.assigned_at.set(at),
            CouponCodeItem.GSI2PK.remove(),
            CouponCodeItem.GSI2SK.remove(),
        ],
        condition=CouponCodeItem.GSI2PK.exists(),
    )


def issue(rec: RewardRecord, *, budget_limit: int | None) -> Outcome:
    """Write `rec` once, drawing on its stock rule, the budget (when `budget_limit` is set and it
    costs) and, when it is `issued` with a pooled coupon code, that code.

    A pooled reward written as `pending` (no free code) still takes its stock and budget: it is
    owed to the participant and is fulfilled when codes arrive.
    """
    ensure_bound()
    steps: list[str] = ["reward"]
    try:
        with unavailable_on_failure("issue reward"), TransactWrite(connection=_connection()) as tx:
            tx.save(_item(rec), condition=RewardItem.PK.does_not_exist())
            if rec.stock_rule:
                steps.append("stock")
                stock = CounterItem(PK=keys.stock_pk(rec.cid, rec.stock_rule), SK=keys.META)
                tx.update(stock, actions=[CounterItem.remaining.add(-1)], condition=CounterItem.remaining >= 1)
            if budget_limit is not None and rec.budget_fen:
                steps.append("budget")
                charge = CounterItem(PK=keys.budget_pk(rec.cid), SK=keys.META)
                tx.update(
                    charge,
                    actions=[CounterItem.spent.add(rec.budget_fen)],
                    condition=CounterItem.spent <= budget_limit - rec.budget_fen,
                )
            if rec.status == ISSUED and rec.pool_rule and rec.coupon_code:
                steps.append("code")
                _take_code(tx, rec.cid, rec.pool_rule, rec.coupon_code, rec.code, rec.created_at)
    except TransactWriteError as exc:
        reasons = _reasons(exc)
        if not reasons or not is_condition_failure(exc):
            raise
        if "TransactionConflict" in reasons:
            return "conflict"
        failed = next((steps[i] for i, r in enumerate(reasons) if r == "ConditionalCheckFailed"), None)
        outcomes: dict[str | None, Outcome] = {
            "reward": "duplicate", "stock": "out_of_stock", "budget": "over_budget", "code": "code_taken",
        }  # fmt: skip
        if failed not in outcomes:
            raise
        return outcomes[failed]
    return {ISSUED: "issued", PENDING_RELEASE: "held"}.get(rec.status, "pending")  # type: ignore[return-value]


def record_unavailable(rec: RewardRecord) -> bool:
    """Record once that a reward could not be issued (the ladder says so); False if one exists."""
    ensure_bound()
    return save_if(_item(rec), RewardItem.PK.does_not_exist(), "record reward")


def get(code: str, rule: str) -> RewardRecord | None:
    found = get_entity(RewardItem, keys.participant_pk(code), keys.reward_sk(rule), consistent=True)
    return _record(found) if found is not None else None


def for_participant(code: str) -> list[RewardRecord]:
    ensure_bound()
    with unavailable_on_failure("list rewards"):
        items = Item.query(keys.participant_pk(code), Item.SK.startswith(keys.REWARD_PREFIX), consistent_read=True)
        return [_record(i) for i in items if isinstance(i, RewardItem)]


def stock_left(cid: str, rules: list[str]) -> dict[str, int]:
    ensure_bound()
    with unavailable_on_failure("read stock"):
        found = CounterItem.batch_get([(keys.stock_pk(cid, rule), keys.META) for rule in rules])
        return {str(c.name).removeprefix("stock:"): int(c.remaining or 0) for c in found}


# --- coupon code pools ----------------------------------------------------------------------


def add_codes(cid: str, rule: str, codes: list[str], at: str) -> tuple[int, int]:
    """Add codes to a pool, each at most once ever (issued or not): (added, already there)."""
    ensure_bound()

    def put(coupon: str) -> bool:
        item = CouponCodeItem(
            PK=keys.coupon_pool_pk(cid, rule), SK=keys.coupon_code_sk(coupon), cid=cid, rule=rule, code=coupon,
            uploaded_at=at, GSI2PK=keys.free_codes_gsi2pk(cid, rule), GSI2SK=secrets.token_hex(8),
        )  # fmt: skip
        return save_if(item, Item.PK.does_not_exist(), "add coupon code")

    # One conditional put per code (a batch write cannot refuse a code that exists), in parallel.
    with ThreadPoolExecutor(max_workers=UPLOAD_THREADS) as pool:
        added = sum(pool.map(put, codes))
    return added, len(codes) - added


def free_code(cid: str, rule: str) -> str | None:
    """A free code of the pool, from a random place in the free index so that concurrent
    issuers seldom reach for the same one; None when none is left."""
    ensure_bound()
    start = secrets.token_hex(8)
    pk = keys.free_codes_gsi2pk(cid, rule)
    with unavailable_on_failure("pick coupon code"):
        for condition in (Item.GSI2SK >= start, Item.GSI2SK < start):
            for item in Item.gsi2.query(pk, condition, limit=1):
                if isinstance(item, CouponCodeItem):
                    return str(item.code)
    return None


def pool_counts(cid: str, rule: str) -> tuple[int, int]:
    """(codes uploaded, codes still free) of one pool: two key-range counts, no scan."""
    ensure_bound()
    with unavailable_on_failure("count coupon codes"):
        total = Item.count(keys.coupon_pool_pk(cid, rule), Item.SK.startswith(keys.COUPON_CODE_PREFIX))
        free = Item.gsi2.count(keys.free_codes_gsi2pk(cid, rule))
    return int(total), int(free)


def pending(cid: str, rule: str, limit: int) -> list[RewardRecord]:
    """Rewards of one pool still waiting for a code, oldest first."""
    ensure_bound()
    with unavailable_on_failure("list pending rewards"):
        found = Item.gsi1.query(keys.pending_rewards_gsi1pk(cid, rule), limit=limit)
        return [_record(i) for i in found if isinstance(i, RewardItem)]


def fulfil(rec: RewardRecord, coupon: str, at: str) -> Fulfilment:
    """Give a pending reward its code: the reward turns `issued` and the code is taken, together."""
    ensure_bound()
    assert rec.pool_rule is not None
    try:
        with unavailable_on_failure("fulfil reward"), TransactWrite(connection=_connection()) as tx:
            tx.update(
                RewardItem(PK=keys.participant_pk(rec.code), SK=keys.reward_sk(rec.rule)),
                actions=[
                    RewardItem.status.set(ISSUED),
                    RewardItem.coupon_code.set(coupon),
                    RewardItem.issued_at.set(at),
                    RewardItem.reason.remove(),
                    RewardItem.GSI1PK.remove(),
                    RewardItem.GSI1SK.remove(),
                ],
                condition=RewardItem.status == PENDING,
            )
            _take_code(tx, rec.cid, rec.pool_rule, coupon, rec.code, at)
    except TransactWriteError as exc:
        return _unfulfilled(exc)
    return "issued"


def claim(code: str, rule: str, at: str, claim_enc: str | None) -> bool:
    """`issued` -> `claimed`, once; False when the reward was not `issued` any more."""
    ensure_bound()
    actions: list[Action] = [RewardItem.status.set(CLAIMED), RewardItem.claimed_at.set(at)]
    if claim_enc is not None:
        actions.append(RewardItem.claim_enc.set(claim_enc))
    try:
        with unavailable_on_failure("claim reward"):
            RewardItem(PK=keys.participant_pk(code), SK=keys.reward_sk(rule)).update(
                actions=actions, condition=RewardItem.status == ISSUED
            )
    except UpdateError as exc:
        if is_condition_failure(exc):
            return False
        raise
    return True


def revoke(rec: RewardRecord, at: str, reason: str, *, status: str = REVOKED, reason_code: str | None = None) -> bool:
    """Revoke an issued or pending reward (or void a held one: `status`) and give back what it drew on (stock,
    budget) in the same transaction. A pooled code already handed out stays spent: the participant may have seen it.
    Conditional on the status read: a reward released meanwhile is not voided."""
    ensure_bound()
    condition: Condition = RewardItem.status == rec.status
    actions: list[Action] = [
        RewardItem.status.set(status),
        RewardItem.revoked_at.set(at),
        RewardItem.reason.set(reason),
        RewardItem.GSI1PK.remove(),
        RewardItem.GSI1SK.remove(),
        RewardItem.GSI2PK.remove(),
        RewardItem.GSI2SK.remove(),
        RewardItem.release_at.remove(),
    ]
    actions.append(RewardItem.reason_code.set(reason_code) if reason_code else RewardItem.reason_code.remove())
    try:
        with unavailable_on_failure("revoke reward"), TransactWrite(connection=_connection()) as tx:
            tx.update(
                RewardItem(PK=keys.participant_pk(rec.code), SK=keys.reward_sk(rec.rule)),
                actions=actions,
                condition=condition,
            )
            if rec.stock_rule:
                stock = CounterItem(PK=keys.stock_pk(rec.cid, rec.stock_rule), SK=keys.META)
                tx.update(stock, actions=[CounterItem.remaining.add(1)])
            if rec.budget_fen:
                budget = CounterItem(PK=keys.budget_pk(rec.cid), SK=keys.META)
                tx.update(budget, actions=[CounterItem.spent.add(-rec.budget_fen)], condition=CounterItem.PK.exists())
    except TransactWriteError as exc:
        if is_condition_failure(exc):
            return False
        raise
    return True


# --- rewards held for the merchant's veto (docs/rewards-veto.md) ---------------------------------


def _held(rec: RewardRecord) -> RewardItem:
    return RewardItem(PK=keys.participant_pk(rec.code), SK=keys.reward_sk(rec.rule))


def _update_held(rec: RewardRecord, actions: list[Action], what: str) -> bool:
    """One conditional update of a held reward, as it was read (status, next look and approval unchanged): of a
    schedule run and an operator, or of two runs, one wins and the other reads again. False when it lost."""
    ensure_bound()
    same_due = (
        RewardItem.release_at == rec.release_at
        if rec.release_at is not None
        else RewardItem.release_at.does_not_exist()
    )
    same_approval = (
        RewardItem.approval == rec.approval if rec.approval is not None else RewardItem.approval.does_not_exist()
    )
    try:
        with unavailable_on_failure(what):
            _held(rec).update(
                actions=actions, condition=(RewardItem.status == PENDING_RELEASE) & same_due & same_approval
            )
    except UpdateError as exc:
        if is_condition_failure(exc):
            return False
        raise
    return True


def _due_actions(rec: RewardRecord, due: str | None) -> list[Action]:
    if due is None:
        return [RewardItem.release_at.remove(), RewardItem.GSI2PK.remove(), RewardItem.GSI2SK.remove()]
    return [
        RewardItem.release_at.set(due),
        RewardItem.GSI2PK.set(keys.release_due_gsi2pk(_shard(rec.code))),
        RewardItem.GSI2SK.set(keys.release_due_gsi2sk(due, rec.code, rec.rule)),
    ]


def due_releases(shard: int, until: str, limit: int) -> list[RewardRecord]:
    """Held rewards of one shard whose next look is at or before `until`, earliest first (found by key)."""
    ensure_bound()
    with unavailable_on_failure("due rewards"):
        found = Item.gsi2.query(keys.release_due_gsi2pk(shard), Item.GSI2SK <= f"{until}#~", limit=limit)
        return [_record(i) for i in found if isinstance(i, RewardItem)]


def reschedule(
    rec: RewardRecord,
    due: str | None,
    *,
    attempts: int | None = None,
    validated_at: str | None = None,
    reason_code: str | None = None,
) -> bool:
    """Move a held reward's next look to `due` (None: parked until an operator approves it), recording the
    callback's attempts, its yes, and why it waits. Conditional on the reward as read: of two runs, one moves it
    (a lease); the record read is not changed."""
    actions = _due_actions(rec, due)
    if attempts:
        actions.append(RewardItem.attempts.set(attempts))
    if validated_at is not None:
        actions.append(RewardItem.validated_at.set(validated_at))
    if reason_code is not None:
        actions.append(RewardItem.reason_code.set(reason_code))
    return _update_held(rec, actions, "reschedule reward")


def approve(rec: RewardRecord) -> bool:
    """An operator approved a held reward: `approval` -> approved (the schedule issues it when due)."""
    return _update_held(rec, [RewardItem.approval.set("approved")], "approve reward")


def release(rec: RewardRecord, coupon: str | None, at: str) -> Fulfilment:
    """A held reward is issued: `pending_release` -> `issued` (taking `coupon` from its pool in the same transaction),
    or, for a pooled coupon with no free code, -> `pending`, waiting for codes. Exactly once: conditional on it still
    being held."""
    ensure_bound()
    waiting = rec.pool_rule is not None and coupon is None
    actions: list[Action] = [
        RewardItem.release_at.remove(), RewardItem.GSI2PK.remove(), RewardItem.GSI2SK.remove(),
        RewardItem.reason_code.remove(),
    ]  # fmt: skip
    if waiting:
        assert rec.pool_rule is not None
        actions += [
            RewardItem.status.set(PENDING),
            RewardItem.reason.set(rec.reason or ""),
            RewardItem.GSI1PK.set(keys.pending_rewards_gsi1pk(rec.cid, rec.pool_rule)),
            RewardItem.GSI1SK.set(keys.pending_rewards_gsi1sk(rec.created_at, rec.code)),
        ]
    else:
        actions += [RewardItem.status.set(ISSUED), RewardItem.issued_at.set(at), RewardItem.reason.remove()]
        if coupon is not None:
            actions.append(RewardItem.coupon_code.set(coupon))
    try:
        with unavailable_on_failure("release reward"), TransactWrite(connection=_connection()) as tx:
            tx.update(_held(rec), actions=actions, condition=RewardItem.status == PENDING_RELEASE)
            if coupon is not None:
                assert rec.pool_rule is not None
                _take_code(tx, rec.cid, rec.pool_rule, coupon, rec.code, at)
    except TransactWriteError as exc:
        return _unfulfilled(exc)
    return "issued"
