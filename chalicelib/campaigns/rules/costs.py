"""Cost simulation for the campaign preview: the expected reward spend for N seed participants and a viral
coefficient K. Pure arithmetic on the campaign document; the model and its assumptions are in docs/compliance.md.

Growth: each participant brings in on average K qualifying invitees, so generation g has N * K^g people.
K < 1 sums the whole geometric series (N / (1 - K)); K >= 1 never converges, so the sum stops after
MAX_GENERATIONS generations of invitees and says so (`generations`). How many invitees one inviter brings is
Poisson(K), which gives the share of inviters reaching a ladder milestone, filling a group or an assist.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from chalicelib.campaigns.rules.spec import AUTO_FILL_MIN_MEMBERS

MAX_GENERATIONS = 5
DEFAULT_PARTICIPANTS = (1000, 10_000, 100_000)
DEFAULT_K = 0.5


def poisson_tail(mean: float, at_least: int) -> float:
    """P(X >= at_least) for X ~ Poisson(mean), exact to float precision even far in the tail."""
    if at_least <= 0:
        return 1.0
    if mean <= 0:
        return 0.0

    def term(j: int) -> float:
        return math.exp(j * math.log(mean) - mean - math.lgamma(j + 1))

    if at_least > mean:
        # The terms from `at_least` on shrink (ratio mean / (j + 1) < 1): sum them instead of 1 - CDF,
        # which would lose everything to cancellation once the tail is tiny.
        total, j, current = 0.0, at_least, term(at_least)
        while current > 0 and current > total * 1e-17:
            total += current
            j += 1
            current *= mean / j
        return min(total, 1.0)
    cdf = sum(term(j) for j in range(at_least))
    return max(0.0, 1.0 - cdf)


@dataclass(frozen=True)
class Spread:
    """How N seeds spread with coefficient K: everyone, the invitees, whose invitees are counted, and grandchildren."""

    total: float
    invitees: float
    inviters: float
    second_level: float  # participants with an inviter's inviter above them (level-2 commission)
    generations: int | None  # None: the full geometric series (K < 1)


def spread(seeds: int, k: float) -> Spread:
    if k < 1:
        total = seeds / (1 - k)
        return Spread(total, total - seeds, total, seeds * k * k / (1 - k), None)
    sizes = [seeds * k**g for g in range(MAX_GENERATIONS + 1)]
    total = sum(sizes)
    # The last generation's own invitees fall outside the horizon, so it invites nobody here.
    return Spread(total, total - seeds, total - sizes[-1], sum(sizes[2:]), MAX_GENERATIONS)


def _obj(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def default_order_value(document: dict[str, Any]) -> int | None:
    """The order value commission is simulated on when the caller gives none: the declared product value."""
    given = _int(_obj(document.get("compliance")).get("product_value_fen"))
    return given or _int(_obj(document.get("rules")).get("original_price_fen")) or None


@dataclass(frozen=True)
class _Line:
    field: str
    name: str
    type: str
    count: float
    unit_value_fen: int
    points: int
    stock: int | None


def _reward_line(path: str, reward: dict[str, Any], count: float) -> _Line:
    return _Line(
        field=path,
        name=str(reward.get("name", "")),
        type=str(reward.get("type", "")),
        count=count,
        unit_value_fen=_int(reward.get("value_fen")) or 0,
        points=_int(reward.get("points")) or 0,
        stock=_int(reward.get("stock")),
    )


def _lines(document: dict[str, Any], grown: Spread, k: float, order_fen: int | None) -> list[_Line]:
    mode, rules = document.get("mode"), _obj(document.get("rules"))
    lines: list[_Line] = []
    if mode in ("invite", "poster"):
        cap = _int(rules.get("per_participant_cap"))
        for i, milestone in enumerate(rules.get("milestones") or []):
            invites = _int(_obj(milestone).get("invites")) or 1
            share = 0.0 if cap is not None and invites > cap else poisson_tail(k, invites)
            reward = _obj(_obj(milestone).get("reward"))
            lines.append(_reward_line(f"rules.milestones[{i}].reward", reward, grown.inviters * share))
        if rules.get("invitee_reward"):
            lines.append(_reward_line("rules.invitee_reward", _obj(rules["invitee_reward"]), grown.invitees))
    elif mode == "group_buy" and rules.get("leader_perk"):
        sizes = [_int(_obj(t).get("size")) or 2 for t in rules.get("tiers") or []] or [2]
        # A group forms when its leader brings in size - 1 members (every leader is assumed to open the
        # smallest tier); with auto-fill, once it has auto_fill_min_members real members, leader included.
        needed = min(sizes)
        if rules.get("auto_fill") is True:
            needed = min(needed, _int(rules.get("auto_fill_min_members")) or AUTO_FILL_MIN_MEMBERS)
        share = poisson_tail(k, needed - 1)
        lines.append(_reward_line("rules.leader_perk", _obj(rules["leader_perk"]), grown.inviters * share))
    elif mode == "assist":
        share = poisson_tail(k, _int(rules.get("helpers_required")) or 1)
        if rules.get("goal") == "unlock" and rules.get("prize"):
            lines.append(_reward_line("rules.prize", _obj(rules["prize"]), grown.inviters * share))
        elif rules.get("goal") == "cut_price":
            cut = (_int(rules.get("original_price_fen")) or 0) - (_int(rules.get("floor_price_fen")) or 0)
            lines.append(_Line("rules.original_price_fen", "price cut to the floor", "price_cut",
                               grown.inviters * share, max(cut, 0), 0, None))  # fmt: skip
    elif mode == "distribution":
        rates = [_int(r) or 0 for r in rules.get("rates_bp") or []]
        orders = [grown.invitees, grown.second_level]
        for level, rate in enumerate(rates[:2]):
            unit = round((order_fen or 0) * rate / 10_000)
            lines.append(_Line(f"rules.rates_bp[{level}]", f"level {level + 1} commission ({rate / 100:g}%)",
                               "commission", orders[level], unit, 0, None))  # fmt: skip
    return lines


def _scenario(document: dict[str, Any], seeds: int, k: float, order_fen: int | None) -> dict[str, Any]:
    grown = spread(seeds, k)
    by_reward: list[dict[str, Any]] = []
    uncapped = stock_capped = 0.0
    for line in _lines(document, grown, k, order_fen):
        capped_count = line.count if line.stock is None else min(line.count, float(line.stock))
        spend, capped_spend = line.count * line.unit_value_fen, capped_count * line.unit_value_fen
        uncapped += spend
        stock_capped += capped_spend
        by_reward.append({
            "field": line.field, "name": line.name, "type": line.type, "stock": line.stock,
            "unit_value_fen": line.unit_value_fen, "expected_count": round(line.count, 2),
            "expected_spend_fen": round(spend), "capped_count": round(capped_count, 2),
            "capped_spend_fen": round(capped_spend), "expected_points": round(line.count * line.points),
        })  # fmt: skip
    budget = _int(document.get("budget_fen"))
    capped = stock_capped if budget is None else min(stock_capped, float(budget))
    return {
        "participants": seeds,
        "total_participants": round(grown.total, 2),
        "invitees": round(grown.invitees, 2),
        "inviters": round(grown.inviters, 2),
        "generations": grown.generations,
        "expected_spend_fen": round(uncapped),
        "capped_spend_fen": round(capped),
        "budget_fen": budget,
        "budget_exhausted": budget is not None and stock_capped > budget,
        "by_reward": by_reward,
    }


def simulate(
    document: dict[str, Any], participants: list[int], k: float, *, average_order_fen: int | None = None
) -> list[dict[str, Any]]:
    """One scenario per seed count: expected spend uncapped, and capped by each reward's stock then the budget.

    `average_order_fen` (distribution commission) defaults to the product value; without either the
    commission lines carry a unit value of 0.
    """
    order_fen = average_order_fen or default_order_value(document)
    return [_scenario(document, seeds, k, order_fen) for seeds in participants]
