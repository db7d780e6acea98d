"""Reward items and the campaign-wide limits (stock per reward, budget) they draw on.

Issuing is one transaction: the reward item (conditional on not existing: exactly once per
participant and rule), the stock decrement (conditional on stock left) and the budget charge
(conditional on room left). Either all happen or none does, so nothing is over-issued.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from pynamodb.connection import Connection
from pynamodb.exceptions import PutError, TransactWriteError
from pynamodb.transactions import TransactWrite

from chalicelib.store import keys
from chalicelib.store.db import ensure_bound, is_condition_failure, unavailable_on_failure
from chalicelib.store.models import CounterItem, Item, RewardItem

Outcome = Literal["issued", "duplicate", "out_of_stock", "over_budget"]


@dataclass
class RewardRecord:
    cid: str
    tid: str
    code: str
    rule: str
    type: str
    name: str
    value_fen: int
    points: int
    status: str
    created_at: str
    reason: str | None = None


_FIELDS = ("cid", "tid", "code", "rule", "type", "name", "value_fen", "points", "status", "created_at", "reason")


def _item(rec: RewardRecord) -> RewardItem:
    return RewardItem(
        PK=keys.participant_pk(rec.code), SK=keys.reward_sk(rec.rule), **{n: getattr(rec, n) for n in _FIELDS}
    )


def _record(item: RewardItem) -> RewardRecord:
    values = {n: getattr(item, n) for n in _FIELDS}
    values["value_fen"], values["points"] = int(item.value_fen), int(item.points)
    return RewardRecord(**values)


def _connection() -> Connection:
    return Item._get_connection().connection


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


def issue(rec: RewardRecord, *, stock_limited: bool, budget: tuple[int, int] | None) -> Outcome:
    """Issue `rec` once; `budget` is (limit, cost) when the campaign has a budget and it costs."""
    ensure_bound()
    try:
        with unavailable_on_failure("issue reward"), TransactWrite(connection=_connection()) as tx:
            tx.save(_item(rec), condition=RewardItem.PK.does_not_exist())
            if stock_limited:
                stock = CounterItem(PK=keys.stock_pk(rec.cid, rec.rule), SK=keys.META)
                tx.update(stock, actions=[CounterItem.remaining.add(-1)], condition=CounterItem.remaining >= 1)
            if budget is not None:
                limit, cost = budget
                charge = CounterItem(PK=keys.budget_pk(rec.cid), SK=keys.META)
                tx.update(charge, actions=[CounterItem.spent.add(cost)], condition=CounterItem.spent <= limit - cost)
    except TransactWriteError as exc:
        reasons = [getattr(r, "code", None) for r in (exc.cancellation_reasons or [])]
        if not reasons or not is_condition_failure(exc):
            raise
        if reasons[0] == "ConditionalCheckFailed":
            return "duplicate"
        return "out_of_stock" if stock_limited and reasons[1] == "ConditionalCheckFailed" else "over_budget"
    return "issued"


def record_unavailable(rec: RewardRecord) -> bool:
    """Record once that a reward could not be issued (the ladder says so); False if one exists."""
    ensure_bound()
    try:
        with unavailable_on_failure("record reward"):
            _item(rec).save(condition=RewardItem.PK.does_not_exist())
    except PutError as exc:
        if is_condition_failure(exc):
            return False
        raise
    return True


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
