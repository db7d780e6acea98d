"""Fraud velocity windows and per-phone person records: set unions, so a redelivered batch changes nothing."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from pynamodb.exceptions import UpdateError
from pynamodb.expressions.condition import size
from pynamodb.expressions.update import Action

from chalicelib.campaigns.rules.fraud_policy import MAX_WINDOW_MEMBERS
from chalicelib.table import keys
from chalicelib.table.db import ensure_bound, get_entity, is_condition_failure, unavailable_on_failure
from chalicelib.table.models import RiskPersonItem, RiskWindowItem


@dataclass(frozen=True)
class WindowKey:
    cid: str
    scope: str  # ip | device | inviter | help_ip | help_device
    subject: str  # a fingerprint, or the inviter's code
    window: str  # minute | day
    start: int  # epoch seconds

    def pk(self) -> str:
        return keys.risk_window_pk(self.cid, self.scope, self.subject)

    def sk(self) -> str:
        return keys.risk_window_sk(self.window, self.start)


def counts(wanted: Iterable[WindowKey]) -> dict[WindowKey, int]:
    """How many distinct attempts each window holds (missing windows: 0). One BatchGetItem."""
    ensure_bound()
    by_key = {(k.pk(), k.sk()): k for k in wanted}
    found = dict.fromkeys(by_key.values(), 0)
    if not by_key:
        return found
    with unavailable_on_failure("read velocity"):
        for item in RiskWindowItem.batch_get(list(by_key)):
            found[by_key[(item.PK, item.SK)]] = len(item.members or ())
    return found


def add(key: WindowKey, members: set[str], expires_at: int) -> None:
    """Add attempts to a window. A window stops growing at MAX_WINDOW_MEMBERS: far past any limit,
    and it keeps the item (read on every join of that subject) small."""
    ensure_bound()
    item = RiskWindowItem(PK=key.pk(), SK=key.sk())
    room = RiskWindowItem.members.does_not_exist() | (
        size(RiskWindowItem.members) < MAX_WINDOW_MEMBERS  # type: ignore[no-untyped-call]
    )
    try:
        with unavailable_on_failure("count velocity"):
            item.update(
                actions=[
                    RiskWindowItem.members.add(members),
                    RiskWindowItem.entity.set(RiskWindowItem),
                    RiskWindowItem.expires_at.set(expires_at),
                ],
                condition=room,
            )
    except UpdateError as exc:
        if not is_condition_failure(exc):
            raise


@dataclass(frozen=True)
class Person:
    rewarded: frozenset[str]
    paid: frozenset[str]


def person(tid: str, phone_hash: str) -> Person | None:
    item = get_entity(RiskPersonItem, keys.risk_person_pk(tid, phone_hash), keys.META)
    if item is None:
        return None
    return Person(frozenset(item.rewarded or ()), frozenset(item.paid or ()))


def add_person(tid: str, phone_hash: str, *, rewarded: set[str] | None = None, paid: set[str] | None = None) -> None:
    """Union campaigns rewarded and orders paid into the person's record."""
    pairs = ((RiskPersonItem.rewarded, rewarded), (RiskPersonItem.paid, paid))
    actions: list[Action] = [attr.add(values) for attr, values in pairs if values]
    if not actions:
        return
    actions.append(RiskPersonItem.entity.set(RiskPersonItem))
    ensure_bound()
    item = RiskPersonItem(PK=keys.risk_person_pk(tid, phone_hash), SK=keys.META)
    with unavailable_on_failure("record person"):
        item.update(actions=actions)
