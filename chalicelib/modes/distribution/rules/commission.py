"""Distribution commission: who earns what on an attributed order (pure, no I/O)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from chalicelib.campaigns.rules.spec import DistributionRules
from chalicelib.modes.distribution.rules.records import LedgerEntry

# Two levels is the legal ceiling; the rules model enforces it too, this guards direct callers.
MAX_LEVELS = 2


@dataclass(frozen=True)
class Share:
    """One commission: `amount_fen` to participant `code` at `level` (1 = the direct referrer)."""

    level: int
    code: str
    amount_fen: int


def attribute(buyer: str, ref_code: str | None, bound_inviter: str | None, binding: str) -> str | None:
    """The participant an order is attributed to, never the buyer.

    last_click: the order's ref code (the most recent click) wins over the binding stored at
    join; first_click: the binding stored at join wins, the ref code only fills a gap.
    """
    ref = ref_code if ref_code and ref_code != buyer else None
    bound = bound_inviter if bound_inviter and bound_inviter != buyer else None
    return (ref or bound) if binding == "last_click" else (bound or ref)


def shares(rules: DistributionRules, amount_fen: int, buyer: str, chain: list[str]) -> list[Share]:
    """Commissions of an order of `amount_fen`; `chain` is the attributed participant then its inviter.

    Rounded down to whole fen; the buyer never earns on their own purchase, and a level whose
    earner is the buyer (or repeats an earlier one) is skipped rather than shifted upwards.
    """
    out: list[Share] = []
    seen: set[str] = set()
    for level, (code, rate) in enumerate(zip(chain, rules.rates_bp, strict=False), start=1):
        if level > min(rules.levels, MAX_LEVELS):
            break
        if not code or code == buyer or code in seen:
            continue
        seen.add(code)
        amount = amount_fen * rate // 10_000
        if amount > 0:
            out.append(Share(level=level, code=code, amount_fen=amount))
    return out


def binding_active(joined_at: datetime, now: datetime, rules: DistributionRules) -> bool:
    """The inviter bound at join earns on the buyer's orders for `binding_window_days` after the join."""
    return now <= joined_at + timedelta(days=rules.binding_window_days)


def available_at(paid_at: datetime, rules: DistributionRules) -> datetime:
    """When a commission leaves its frozen period."""
    return paid_at + timedelta(days=rules.frozen_days)


CLAWBACK_SUFFIX = "#CLAWBACK"


def balance(entries: Iterable[LedgerEntry], now_iso: str) -> dict[str, int]:
    """Commission by state from a participant's ledger entries (`key`, `amount_fen`, `available_at`).

    An entry with a clawback beside it counts as clawed back whether or not it had become
    available; other entries are available once their frozen period has passed (read time, no job).
    """
    rows = list(entries)
    clawed = {r.key.removesuffix(CLAWBACK_SUFFIX) for r in rows if r.key.endswith(CLAWBACK_SUFFIX)}
    out = {"pending_fen": 0, "available_fen": 0, "clawed_back_fen": 0}
    for r in rows:
        if r.key.endswith(CLAWBACK_SUFFIX):
            continue
        amount = r.amount_fen or 0
        if r.key in clawed:
            out["clawed_back_fen"] += amount
        elif (r.available_at or "") <= now_iso:
            out["available_fen"] += amount
        else:
            out["pending_fen"] += amount
    return out
