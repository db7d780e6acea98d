"""Fraud signals, their score and the campaign's decision: pure rules, no I/O.

A signal is an observation with a neutral code (never an accusation); the score is the sum of
the observed signals' weights, capped at 100; the campaign's policy maps it to allow, hold or block.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from chalicelib.campaigns.rules.fraud_policy import (
    BONUS_HUNTER,
    DEFAULT_POLICY,
    DEFAULT_WEIGHTS,
    REFERRAL_CLUSTER,
    SCOPE_CODES,
    Decision,
    FraudPolicy,
)


class ReviewDecision(BaseModel):
    """Why an operator approved or rejected a held fact (kept in the audit trail)."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    reason: str = Field(min_length=1, max_length=500)


@dataclass(frozen=True)
class Signal:
    code: str
    detail: str = ""


@dataclass(frozen=True)
class Assessment:
    score: int
    reasons: list[dict[str, Any]] = field(default_factory=list)


def score(signals: Iterable[Signal], weights: Mapping[str, int] | None = None) -> Assessment:
    """Sum of the weights of the distinct codes observed, capped at 100; reasons strongest first."""
    table = {**DEFAULT_WEIGHTS, **(weights or {})}
    by_code: dict[str, Signal] = {}
    for signal in signals:
        by_code.setdefault(signal.code, signal)
    weighed = sorted(
        ((table[s.code], s) for s in by_code.values() if table[s.code] > 0), key=lambda ws: (-ws[0], ws[1].code)
    )
    reasons: list[dict[str, Any]] = [{"code": s.code, "weight": w, "detail": s.detail} for w, s in weighed]
    return Assessment(min(100, sum(w for w, _ in weighed)), reasons)


def decide(value: int, policy: FraudPolicy = DEFAULT_POLICY) -> Decision:
    if value <= 0:
        return "allow"
    if value >= policy.block_at:
        return "block"
    if value >= policy.hold_at:
        return "hold"
    return "allow"


def assess(signals: Sequence[Signal], policy: FraudPolicy) -> tuple[Assessment, Decision]:
    found = score(signals, policy.weights)
    return found, decide(found.score, policy)


# --- fingerprints and windows ------------------------------------------------------------------


def fingerprint(secret: bytes, kind: str, value: str) -> str:
    """A keyed hash of an IP address, a device id or a payment account: comparable, never reversible."""
    return hmac.new(secret, f"{kind}\x00{value}".encode(), hashlib.sha256).hexdigest()[:24]


def window_start(epoch: int, window: str) -> int:
    size = 60 if window == "minute" else 86_400
    return epoch - epoch % size


def window_ttl(start: int, window: str) -> int:
    """When a window's counter may go: a little after it closed."""
    return start + (120 if window == "minute" else 2 * 86_400)


def window_closed(start: int, window: str, now: int, grace: int = 300) -> bool:
    """Whether a window ended more than `grace` seconds ago (clocks differ a little between containers)."""
    return now > start + (60 if window == "minute" else 86_400) + grace


def velocity_signals(
    counts: Mapping[tuple[str, str], int], policy: FraudPolicy, subjects: Mapping[str, str]
) -> list[Signal]:
    """Signals for the windows already at their limit: `counts` are the earlier attempts
    (scope, window) -> n, so this attempt is n + 1."""
    found: list[Signal] = []
    for (scope, window), seen in sorted(counts.items()):
        if scope not in subjects:
            continue
        limit = policy.velocity.limit(scope, window)
        if seen + 1 > limit:
            found.append(Signal(SCOPE_CODES[scope], f"{seen + 1} per {window} (limit {limit})"))
    return found


# --- the referral chain ------------------------------------------------------------------------


@dataclass(frozen=True)
class Node:
    """What the chain check compares of one account: fingerprints of its device, address and phone."""

    code: str
    device: str | None = None
    ip: str | None = None
    phone: str | None = None

    def marks(self) -> dict[str, str]:
        return {k: v for k, v in (("d", self.device), ("i", self.ip), ("p", self.phone)) if v}


def lineage_entry(node: Node) -> dict[str, str]:
    """How a node is carried in its descendants' `lineage` (short keys: it is stored on every item)."""
    return {"c": node.code, **node.marks()}


def node_of(entry: Mapping[str, Any]) -> Node:
    return Node(str(entry["c"]), entry.get("d"), entry.get("i"), entry.get("p"))


def lineage(inviter: Node, inviter_lineage: Sequence[Mapping[str, Any]], depth: int = 5) -> list[dict[str, str]]:
    """The joiner's ancestors, nearest first, at most `depth`: its inviter, then the inviter's."""
    return [lineage_entry(inviter), *[dict(e) for e in inviter_lineage]][:depth]


def cluster_signal(joiner: Node, chain: Sequence[Node], links: int) -> Signal | None:
    """REFERRAL_CLUSTER when at least `links` accounts of the joiner and its ancestors are tied
    together by a shared device, address or phone, at least one tie being a device or a phone
    (an address alone is a household's router, not a ring)."""
    nodes = [joiner, *chain]
    parent = list(range(len(nodes)))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    strong: set[int] = set()
    first_seen: dict[tuple[str, str], int] = {}
    for i, node in enumerate(nodes):
        for kind, value in node.marks().items():
            j = first_seen.setdefault((kind, value), i)
            if j != i:
                parent[root(i)] = root(j)
                if kind in ("d", "p"):
                    strong.add(i)
    groups: dict[int, list[int]] = {}
    for i in range(len(nodes)):
        groups.setdefault(root(i), []).append(i)
    for members in groups.values():
        if len(members) >= links and 0 in members and any(root(i) == root(0) for i in strong):
            codes = ",".join(nodes[i].code for i in members if i)
            return Signal(REFERRAL_CLUSTER, f"{len(members)} linked accounts in the referral chain: {codes}")
    return None


# --- phone ranges ------------------------------------------------------------------------------

_PREFIX_FILE = Path(__file__).resolve().parent / "virtual_operator_prefixes.json"


@lru_cache(maxsize=1)
def virtual_operator_prefixes() -> tuple[str, ...]:
    data = json.loads(_PREFIX_FILE.read_text(encoding="utf-8"))
    return tuple(sorted({str(p) for p in data["prefixes"]}, key=len, reverse=True))


def virtual_operator(digits: str) -> str | None:
    """The virtual-operator prefix a mainland mobile number starts with, if any (a heuristic)."""
    if len(digits) != 11 or not digits.startswith("1"):
        return None
    return next((p for p in virtual_operator_prefixes() if digits.startswith(p)), None)


def bonus_hunter(rewarded_campaigns: int, paid_orders: int, threshold: int = 3) -> Signal | None:
    if rewarded_campaigns >= threshold and paid_orders == 0:
        return Signal(BONUS_HUNTER, f"rewards in {rewarded_campaigns} campaigns, no paid order")
    return None
