"""Churn warning benchmark: how well the default and the calibrated weights rank a synthetic tenant's
churners (held-out AUC), the confusion counts of the thresholds and the fit's iterations (prints tables).

No DynamoDB: profiles are built with the stream's own pure rules (`profiles.apply`) from generated facts
and scored with `audience/rules/churn.py`, as the daily job would.

The synthetic tenant (seeded; its latent model):
  * each person has an engagement propensity `e ~ Beta(2, 3)` and joined 1-180 days before the day scored;
  * while still with the brand, each day they are active with probability `0.02 + 0.35 e`; an active day
    brings an order (probability `0.25 e`, about 40-200 yuan, one in ten refunded later), a help
    (`0.3 e`), a counted invite (`0.2 e`; every third one issues a reward) and sometimes a group (`0.1 e`);
  * each day they leave for good with probability `0.002 + 0.04 (1 - e)²`, and are never active again;
  * the label: churned when they have no active day in the 30 days after the day scored.
Engagement drives activity, spend and churn together, so every feature carries some signal and the
profile's undated counts (orders, helps and rewards keep no date) blur it as they do in production.

    .venv/bin/python bench/churn.py [--people 4000] [--seed 7]
"""

from __future__ import annotations

import argparse
import json
import random
import sys
from collections import Counter
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from chalicelib.audience.rules import churn  # noqa: E402 - after the path that makes it importable
from chalicelib.audience.rules.profiles import (  # noqa: E402
    Fact,
    GroupFact,
    HelpFact,
    OrderFact,
    ParticipantFact,
    Profile,
    RewardFact,
    SeenFact,
    apply,
)

DAY = datetime(2026, 12, 1, tzinfo=UTC)  # the day scored
HISTORY_DAYS = 180


def _iso(t: datetime) -> str:
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


def person(rng: random.Random, i: int) -> tuple[Profile, bool]:
    """One person's profile as of DAY and whether they churned in the 30 days after it."""
    e = rng.betavariate(2, 3)
    start = rng.randint(1, HISTORY_DAYS)
    code, invites = f"c{i}", 0
    facts: list[Fact] = []
    churned = True
    for offset in range(-start, churn.HORIZON_DAYS):  # days before DAY, then the 30 after
        if offset > -start and rng.random() < 0.002 + 0.04 * (1 - e) ** 2:
            break  # gone for good
        if offset != -start and rng.random() >= 0.02 + 0.35 * e:
            continue
        if offset >= 0:
            churned = False  # active after the day scored: the label is all the future tells
            break
        at = _iso(DAY + timedelta(days=offset, hours=rng.randint(8, 21)))
        facts.append(SeenFact(at))
        if rng.random() < 0.25 * e:
            amount = rng.randint(4000, 20000)
            facts.append(OrderFact(f"o{i}-{offset}", 0 if rng.random() < 0.1 else amount, at))
        if rng.random() < 0.3 * e:
            facts.append(HelpFact(f"owner{rng.randint(0, 10_000)}", at))
        if rng.random() < 0.2 * e:
            invites += 1
            if invites % 3 == 0:
                facts.append(RewardFact(f"cmp|{code}|r{invites}", True, at))
        if rng.random() < 0.1 * e:
            facts.append(GroupFact(f"g{i}-{offset}", at))
    joined = _iso(DAY + timedelta(days=-start, hours=8))
    facts.append(ParticipantFact(code=code, cid="cmp", joined_at=joined, invites=invites))
    return apply(Profile(tid="bench", uid=f"u_{i}"), facts), churned


def tenant(people: int, seed: int) -> list[tuple[churn.Features, bool]]:
    rng = random.Random(seed)
    examples = []
    for i in range(people):
        profile, label = person(rng, i)
        examples.append((churn.features(profile, DAY), label))
    return examples


def table(title: str, header: Sequence[str], rows: Sequence[Sequence[object]]) -> None:
    cells = [[str(c) for c in header], *[[str(c) for c in row] for row in rows]]
    widths = [max(len(row[k]) for row in cells) for k in range(len(header))]
    print(f"\n{title}")
    for n, row in enumerate(cells):
        # names and notes read left to right, numbers line up on the right
        left = {0, len(header) - 1} if header[-1] in ("note", "reason kept defaults") else {0}
        line = "  ".join(
            c.ljust(w) if k in left else c.rjust(w) for k, (c, w) in enumerate(zip(row, widths, strict=True))
        )
        print(line.rstrip())
        if n == 0:
            print("  ".join("-" * w for w in widths))


def confusion(
    examples: Sequence[tuple[churn.Features, bool]], held: Sequence[int], weights: churn.Weights
) -> Counter[tuple[str, bool]]:
    counts: Counter[tuple[str, bool]] = Counter()
    for i in held:
        feats, label = examples[i]
        counts[(churn.score(feats, weights).level, label)] += 1
    return counts


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--people", type=int, default=4000, help="people in the synthetic tenant")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()

    examples = tenant(args.people, args.seed)
    churners = sum(1 for _, y in examples if y)
    cal = churn.calibrate(examples, seed=args.seed)
    assert cal.auc_default is not None and cal.auc_fitted is not None, cal.reason
    # the long-silent are easy to call: the ranking that matters is among people still around lately
    active = [i for i in cal.holdout if examples[i][0].raw["recency"] <= 30]

    def recent(weights: churn.Weights) -> float:
        return churn.auc(
            [churn.log_odds(examples[i][0].vector(), weights) for i in active], [examples[i][1] for i in active]
        )

    # The daily job keeps each person's raw measures rounded in a compact row; calibration reads them back.
    stored = [churn.snapshot_row(examples[i][0], None) for i in cal.holdout]
    from_rows = churn.auc(
        [churn.log_odds(churn.row_features(row).vector(), cal.weights) for row in stored],
        [examples[i][1] for i in cal.holdout],
    )
    size = sum(len(json.dumps(row)) for row in stored) / max(len(stored), 1)
    rows_note = f"rounded rows lose nothing; {size:.0f} bytes of measures a person"
    recent_note = f"{len(active)} held-out people, {sum(examples[i][1] for i in active)} of them churned"
    table(
        f"churn warning on a synthetic tenant of {args.people} people ({churners} churned in 30 days, "
        f"{churners / len(examples):.0%})",
        ("metric", "value", "note"),
        [
            ("held-out AUC, default weights", f"{cal.auc_default:.3f}", f"{cal.n_holdout} people held out of the fit"),
            ("held-out AUC, calibrated weights", f"{cal.auc_fitted:.3f}", f"fitted on {cal.n_train} people"),
            ("held-out AUC, default, active in 30 days", f"{recent(churn.DEFAULT_WEIGHTS):.3f}", recent_note),
            (
                "held-out AUC, calibrated, active in 30 days",
                f"{recent(cal.weights):.3f}",
                "the people a warning can still keep",
            ),
            ("calibration used", "yes" if cal.calibrated else "no", cal.reason or "beats the defaults held out"),
            ("IRLS iterations", cal.iterations, "Newton steps to a change under 1e-8"),
            ("held-out AUC, calibrated, from snapshot rows", f"{from_rows:.3f}", rows_note),
        ],
    )
    fitted = cal.weights if cal.calibrated else None
    table(
        "weights (positive raises the risk)",
        ("feature", "default", "calibrated"),
        [("bias", churn.DEFAULT_WEIGHTS.bias, f"{fitted.bias:.2f}" if fitted else "-")]
        + [(n, churn.DEFAULT_WEIGHTS.coef[n], f"{fitted.coef[n]:.2f}" if fitted else "-") for n in churn.FEATURES],
    )
    held = cal.holdout
    for name, weights in (("default", churn.DEFAULT_WEIGHTS), ("calibrated", cal.weights)):
        counts = confusion(examples, held, weights)
        rows: list[tuple[str, object, object, str]] = []
        for lvl in ("low", "medium", "high"):
            c, s = counts[(lvl, True)], counts[(lvl, False)]
            rows.append((lvl, c, s, f"{c / (c + s):.0%}" if c + s else "-"))
        high_c, all_c = counts[("high", True)], sum(v for (_, y), v in counts.items() if y)
        rows.append(("high: recall of churners", "", "", f"{high_c / max(all_c, 1):.0%}"))
        table(
            f"held-out people by level, {name} weights (thresholds 0.4 / 0.7)",
            ("level", "churned", "stayed", "churn rate"),
            rows,
        )

    sizes = []
    for people in (150, 400, 1000, 2000):
        small = churn.calibrate(tenant(people, args.seed + people), seed=args.seed)
        sizes.append((
            people, "yes" if small.calibrated else "no",
            f"{small.auc_default:.3f}" if small.auc_default is not None else "-",
            f"{small.auc_fitted:.3f}" if small.auc_fitted is not None else "-",
            small.reason or "",
        ))  # fmt: skip
    table(
        "calibration by tenant size (other seeds)",
        ("people", "calibrated", "AUC default", "AUC fitted", "reason kept defaults"),
        sizes,
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
