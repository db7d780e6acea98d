"""Churn warning: a person's risk of going quiet in the next 30 days, from their profile (no I/O).

`features(profile, at)` turns a profile into bounded numbers, `score` weighs them with a logistic
model and explains the result, `calibrate` fits a tenant's own weights by L2-regularised logistic
regression (IRLS, plain Python: the runtime ships no numpy) and reports their held-out AUC.
docs/retention.md explains the features, the default weights and how to read the explanation.
"""

from __future__ import annotations

import math
import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from chalicelib.audience.rules.profiles import Profile

HORIZON_DAYS = 30  # churned: no activity at all in the 30 days after the day scored

# Each feature is log1p(min(raw, cap)) / log1p(cap): 0 for nothing, 1 at the cap and beyond. The log
# makes the first few events count most (1 order against none matters more than 11 against 10).
FEATURES: tuple[str, ...] = ("recency", "frequency_30", "frequency_90", "spend_90", "invites", "helps", "rewards")
CAPS: Mapping[str, float] = {
    "recency": 180.0,  # days since last activity
    "frequency_30": 30.0,  # events in the last 30 days
    "frequency_90": 90.0,  # events in the last 90 days
    "spend_90": 2000.0,  # yuan spent in the last 90 days
    "invites": 20.0,  # counted friends brought, lifetime
    "helps": 20.0,  # friends helped, lifetime
    "rewards": 10.0,  # rewards issued or claimed, lifetime
}


@dataclass(frozen=True)
class Weights:
    """`risk = sigmoid(bias + sum(coef[f] * x[f]))`; a positive coefficient raises the risk."""

    bias: float
    coef: Mapping[str, float]

    def vector(self) -> list[float]:
        return [self.bias, *(self.coef[name] for name in FEATURES)]

    @classmethod
    def from_vector(cls, values: Sequence[float]) -> Weights:
        return cls(bias=values[0], coef=dict(zip(FEATURES, values[1:], strict=True)))


# Weights for a tenant without history (docs/retention.md, "Score and default weights"). Recency dominates: someone
# seen today scores sigmoid(-2) = 0.12 with nothing else, a week away 0.50, a month 0.79, half a year or
# more 0.95. Recent activity, spend and engagement (people they brought, helped, rewards they hold) each
# protect; together they can pull a month-away person out of `high`, but half a year of silence (30- and
# 90-day measures empty by then) stays `high` whatever the lifetime engagement.
DEFAULT_WEIGHTS = Weights(
    bias=-2.0,
    coef={
        "recency": 5.0,
        "frequency_30": -1.0,
        "frequency_90": -1.0,
        "spend_90": -1.5,
        "invites": -1.0,
        "helps": -0.5,
        "rewards": -0.5,
    },
)


@dataclass(frozen=True)
class Features:
    """The raw measures (days, events, yuan, counts) and their bounded values in [0, 1], by feature name."""

    raw: Mapping[str, float]
    x: Mapping[str, float]

    def vector(self) -> list[float]:
        return [self.x[name] for name in FEATURES]


def bounded(name: str, raw: float) -> float:
    """A raw measure on its feature's [0, 1] scale: log1p(min(raw, cap)) / log1p(cap)."""
    cap = CAPS[name]
    return math.log1p(min(max(raw, 0.0), cap)) / math.log1p(cap)


def _time(value: str) -> datetime:
    return datetime.fromisoformat(value)


def _window_share(first: datetime, last: datetime, start: datetime, end: datetime) -> float:
    """The share of [first, last] that falls in [start, end]: undated events are spread evenly over it."""
    if last <= first:
        return 1.0 if start <= last <= end else 0.0
    overlap = (min(last, end) - max(first, start)).total_seconds()
    return max(overlap, 0.0) / (last - first).total_seconds()


def features(profile: Profile, at: datetime) -> Features:
    """The profile's features on `at` (an aware datetime).

    The profile keeps dates for joins and for first and last activity, not for each order, reward or
    help. Events in a window are therefore the joins dated in it plus the undated events spread evenly
    over the person's active span [first_seen, last_seen]; spend in 90 days is spread the same way.
    """
    last = _time(profile.last_seen) if profile.last_seen else None
    first = _time(profile.first_seen) if profile.first_seen else last
    recency = max((at - last).total_seconds() / 86400, 0.0) if last else CAPS["recency"]
    joins = [_time(str(p["joined_at"])) for p in profile.parts.values() if p.get("joined_at")]
    undated = profile.paid_orders + len(profile.rewards) + len(profile.helps) + len(profile.groups)

    def share(days: int) -> float:
        return _window_share(first, last, at - timedelta(days=days), at) if first and last else 0.0

    def events(days: int) -> float:
        dated = sum(1 for j in joins if at - timedelta(days=days) < j <= at)
        return dated + undated * share(days)

    raw = {
        "recency": recency,
        "frequency_30": events(30),
        "frequency_90": events(90),
        "spend_90": profile.spend_fen / 100 * share(90),
        "invites": float(sum(int(p.get("invites", 0)) for p in profile.parts.values())),
        "helps": float(len(profile.helps)),
        "rewards": float(len(profile.rewards)),
    }
    return Features(raw=raw, x={name: bounded(name, raw[name]) for name in FEATURES})


# ---- the score and its explanation ---------------------------------------------------------


def sigmoid(z: float) -> float:
    if z >= 0:
        return 1.0 / (1.0 + math.exp(-z))
    e = math.exp(z)  # never overflows for z < 0
    return e / (1.0 + e)


@dataclass(frozen=True)
class Contribution:
    """One feature's part in the score: `weight * value` on the log-odds scale (positive: riskier)."""

    feature: str
    raw: float
    value: float
    weight: float
    contribution: float


@dataclass(frozen=True)
class Thresholds:
    """`low` below `medium`, `high` from `high` up."""

    medium: float = 0.4
    high: float = 0.7

    def __post_init__(self) -> None:
        if not 0.0 < self.medium < self.high < 1.0:
            raise ValueError("thresholds need 0 < medium < high < 1")


DEFAULT_THRESHOLDS = Thresholds()


def level(risk: float, thresholds: Thresholds = DEFAULT_THRESHOLDS) -> str:
    """`low`, `medium` or `high`."""
    if risk >= thresholds.high:
        return "high"
    return "medium" if risk >= thresholds.medium else "low"


@dataclass(frozen=True)
class Score:
    """The risk in [0, 1], its level, the bias and the contributions, largest (by size) first."""

    risk: float
    level: str
    bias: float
    contributions: tuple[Contribution, ...]


def log_odds(x: Sequence[float], weights: Weights) -> float:
    w = weights.vector()
    return w[0] + sum(wi * xi for wi, xi in zip(w[1:], x, strict=True))


def score(feats: Features, weights: Weights = DEFAULT_WEIGHTS, thresholds: Thresholds = DEFAULT_THRESHOLDS) -> Score:
    """`sigmoid(bias + w·x)` with each feature's contribution: the console's "why"."""
    parts = [
        Contribution(name, feats.raw[name], feats.x[name], weights.coef[name], weights.coef[name] * feats.x[name])
        for name in FEATURES
    ]
    parts.sort(key=lambda c: (-abs(c.contribution), c.feature))
    risk = sigmoid(weights.bias + sum(c.contribution for c in parts))
    return Score(risk=risk, level=level(risk, thresholds), bias=weights.bias, contributions=tuple(parts))


def churned(last_seen: str | None, day: datetime, now: datetime) -> bool | None:
    """The label of a person scored on `day`: no activity after it within the horizon; None until the
    horizon has passed (not yet known). `last_seen` is the profile's as read at `now`."""
    if now < day + timedelta(days=HORIZON_DAYS):
        return None
    return last_seen is None or not day < _time(last_seen) <= day + timedelta(days=HORIZON_DAYS)


# ---- AUC -------------------------------------------------------------------------------------


def auc(scores: Sequence[float], labels: Sequence[bool]) -> float:
    """Area under the ROC curve, exact with ties: the Mann-Whitney U over the positives' average ranks,
    i.e. the chance that a random positive scores above a random negative (ties count half)."""
    if len(scores) != len(labels):
        raise ValueError("scores and labels differ in length")
    positives = sum(1 for y in labels if y)
    negatives = len(labels) - positives
    if not positives or not negatives:
        raise ValueError("AUC needs both classes")
    order = sorted(range(len(scores)), key=lambda i: scores[i])
    rank_sum = 0.0
    i = 0
    while i < len(order):
        j = i
        while j + 1 < len(order) and scores[order[j + 1]] == scores[order[i]]:
            j += 1
        average_rank = (i + j) / 2 + 1  # ranks i+1 .. j+1 share their mean
        rank_sum += average_rank * sum(1 for k in order[i : j + 1] if labels[k])
        i = j + 1
    return (rank_sum - positives * (positives + 1) / 2) / (positives * negatives)


# ---- calibration -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Fit:
    weights: Weights
    iterations: int
    converged: bool


def _solve(a: list[list[float]], b: list[float]) -> list[float]:
    """a·x = b by Gaussian elimination with partial pivoting (a is small: one row per feature)."""
    n = len(b)
    m = [[*row, rhs] for row, rhs in zip(a, b, strict=True)]
    for col in range(n):
        pivot = max(range(col, n), key=lambda r: abs(m[r][col]))
        if abs(m[pivot][col]) < 1e-12:
            raise ValueError("singular system")
        m[col], m[pivot] = m[pivot], m[col]
        for r in range(col + 1, n):
            f = m[r][col] / m[col][col]
            for c in range(col, n + 1):
                m[r][c] -= f * m[col][c]
    x = [0.0] * n
    for r in range(n - 1, -1, -1):
        x[r] = (m[r][n] - sum(m[r][c] * x[c] for c in range(r + 1, n))) / m[r][r]
    return x


def _loss(
    w: Sequence[float], centre: Sequence[float], rows: Sequence[Sequence[float]], ys: Sequence[bool], l2: float
) -> float:
    """The penalised negative log-likelihood, computed without overflow."""
    total = l2 / 2 * sum((w[j] - centre[j]) ** 2 for j in range(1, len(w)))
    for row, y in zip(rows, ys, strict=True):
        z = sum(wj * xj for wj, xj in zip(w, row, strict=True))
        total += math.log1p(math.exp(-abs(z))) + max(z, 0.0) - (z if y else 0.0)
    return total


def fit(
    xs: Sequence[Sequence[float]],
    ys: Sequence[bool],
    *,
    l2: float = 1.0,
    prior: Weights = DEFAULT_WEIGHTS,
    max_iterations: int = 50,
    tolerance: float = 1e-8,
) -> Fit:
    """Logistic regression by Newton's method (IRLS) with an L2 penalty `l2/2 * |w - prior|²` on the
    coefficients (not the bias): with little data the fit stays near the prior, with much the data wins.

    Each Newton step is halved until the penalised loss goes down: a full step from a start far from the
    optimum (the prior, when the tenant's people behave otherwise) can overshoot and diverge."""
    w = prior.vector()
    centre = list(w)
    k = len(w)
    rows = [[1.0, *x] for x in xs]
    loss = _loss(w, centre, rows, ys, l2)
    for iteration in range(1, max_iterations + 1):
        grad = [l2 * (w[j] - centre[j]) if j else 0.0 for j in range(k)]
        hess = [[(l2 if i == j and i else 0.0) for j in range(k)] for i in range(k)]
        for row, y in zip(rows, ys, strict=True):
            p = sigmoid(sum(wj * xj for wj, xj in zip(w, row, strict=True)))
            r = p - (1.0 if y else 0.0)
            s = max(p * (1 - p), 1e-10)
            for i in range(k):
                grad[i] += r * row[i]
                si = s * row[i]
                for j in range(i, k):
                    hess[i][j] += si * row[j]
        for i in range(k):
            for j in range(i):
                hess[i][j] = hess[j][i]
        step = _solve(hess, grad)
        for _ in range(30):
            candidate = [wj - sj for wj, sj in zip(w, step, strict=True)]
            candidate_loss = _loss(candidate, centre, rows, ys, l2)
            if candidate_loss <= loss:
                break
            step = [sj / 2 for sj in step]
        else:
            return Fit(Weights.from_vector(w), iteration, True)  # no step lowers the loss: at the optimum
        w, loss = candidate, candidate_loss
        if max(abs(s) for s in step) < tolerance:
            return Fit(Weights.from_vector(w), iteration, True)
    return Fit(Weights.from_vector(w), max_iterations, False)


MIN_EXAMPLES = 200
MIN_PER_CLASS = 20
MIN_AUC = 0.6  # held-out ranking barely better than chance is noise, not a tenant's own pattern


@dataclass(frozen=True)
class Calibration:
    """A tenant's weights: fitted (`calibrated`) or the defaults with the `reason` why not.

    The AUCs are on the held-out share, for the defaults and for the fitted weights (None when
    nothing was fitted); `iterations` is the fit's Newton steps."""

    weights: Weights
    calibrated: bool
    reason: str | None
    n_train: int
    n_holdout: int
    auc_default: float | None = None
    auc_fitted: float | None = None
    iterations: int = 0
    holdout: tuple[int, ...] = field(default=(), repr=False)  # indices of the held-out examples


def split(labels: Sequence[bool], share: float, seed: int) -> tuple[list[int], list[int]]:
    """(train, holdout) indices, stratified: each class gives `share` of itself to the holdout."""
    rng = random.Random(seed)
    train: list[int] = []
    holdout: list[int] = []
    for cls in (True, False):
        idx = [i for i, y in enumerate(labels) if y is cls]
        rng.shuffle(idx)
        cut = round(len(idx) * share)
        holdout += idx[:cut]
        train += idx[cut:]
    return sorted(train), sorted(holdout)


def calibrate(
    examples: Sequence[tuple[Features, bool]],
    *,
    holdout_share: float = 0.25,
    seed: int = 0,
    l2: float = 1.0,
    min_examples: int = MIN_EXAMPLES,
    min_per_class: int = MIN_PER_CLASS,
    min_auc: float = MIN_AUC,
) -> Calibration:
    """The tenant's weights from (features on day D, churned by D+30) pairs.

    Refuses (keeps the defaults, with the reason) with fewer than `min_examples` pairs, fewer than
    `min_per_class` of either class, a fit that does not converge, or fitted weights that rank the
    held-out people no better than the defaults or with an AUC under `min_auc`."""
    labels = [bool(y) for _, y in examples]
    churners = sum(labels)
    n = len(labels)
    if n < min_examples:
        return Calibration(DEFAULT_WEIGHTS, False, f"{n} examples, at least {min_examples} needed", n, 0)
    if min(churners, n - churners) < min_per_class:
        classes = f"{churners} churned and {n - churners} stayed, at least {min_per_class} of each needed"
        return Calibration(DEFAULT_WEIGHTS, False, classes, n, 0)
    train, held = split(labels, holdout_share, seed)
    xs = [examples[i][0].vector() for i in range(n)]
    fitted = fit([xs[i] for i in train], [labels[i] for i in train], l2=l2)
    held_labels = [labels[i] for i in held]
    auc_default = auc([log_odds(xs[i], DEFAULT_WEIGHTS) for i in held], held_labels)
    auc_fitted = auc([log_odds(xs[i], fitted.weights) for i in held], held_labels)
    reason: str | None = None
    if not fitted.converged:
        reason = f"the fit did not converge in {fitted.iterations} iterations"
    elif auc_fitted <= auc_default:
        reason = f"fitted weights rank held-out people no better (AUC {auc_fitted:.3f} against {auc_default:.3f})"
    elif auc_fitted < min_auc:
        reason = f"fitted weights rank held-out people little better than chance (AUC {auc_fitted:.3f})"
    return Calibration(
        weights=DEFAULT_WEIGHTS if reason else fitted.weights, calibrated=reason is None, reason=reason,
        n_train=len(train), n_holdout=len(held), auc_default=auc_default, auc_fitted=auc_fitted,
        iterations=fitted.iterations, holdout=tuple(held),
    )  # fmt: skip


# ---- what the daily job keeps ----------------------------------------------------------------

LEVELS = ("low", "medium", "high")


def alerting(lvl: str, alert_level: str) -> bool:
    """Whether a level reaches the tenant's alert level (`medium` or `high`): the tag and the trigger."""
    return LEVELS.index(lvl) >= LEVELS.index(alert_level)


def explanation(result: Score, top: int = 3) -> list[dict[str, Any]]:
    """The largest contributions, as stored and shown: feature, raw measure, contribution (log-odds)."""
    return [
        {"feature": c.feature, "raw": round(c.raw, 2), "contribution": round(c.contribution, 3)}
        for c in result.contributions[:top]
    ]


def snapshot_row(feats: Features, last_seen: str | None) -> list[Any]:
    """One person's compact daily snapshot: the raw measures in `FEATURES` order, then `last_seen` ("" for none).
    Raw measures, not bounded values: a later change of caps re-reads them."""
    return [round(feats.raw[name], 3) for name in FEATURES] + [last_seen or ""]


def row_features(row: Sequence[Any]) -> Features:
    """The features a snapshot row was scored with."""
    raw = {name: float(row[i]) for i, name in enumerate(FEATURES)}
    return Features(raw=raw, x={name: bounded(name, raw[name]) for name in FEATURES})


def row_last_seen(row: Sequence[Any]) -> str | None:
    value = row[len(FEATURES)] if len(row) > len(FEATURES) else ""
    return str(value) or None


def came_back(scored_at: str, later_last_seen: str | None) -> bool:
    """Whether a person scored at `scored_at` was active after it, judged from their snapshot `HORIZON_DAYS`
    later (its `last_seen`): the label is `not came_back`. ISO UTC strings compare as times."""
    return later_last_seen is not None and later_last_seen > scored_at


def weights_document(weights: Weights) -> dict[str, Any]:
    return {"bias": weights.bias, "coef": {name: weights.coef[name] for name in FEATURES}}


def weights_of(document: Mapping[str, Any]) -> Weights:
    coef = document["coef"]
    return Weights(bias=float(document["bias"]), coef={name: float(coef[name]) for name in FEATURES})


class ChurnSettings(BaseModel):
    """A tenant's thresholds (levels) and the level from which the `churn_risk` tag and trigger apply."""

    model_config = ConfigDict(extra="forbid")

    medium: float = Field(default=DEFAULT_THRESHOLDS.medium, gt=0, lt=1)
    high: float = Field(default=DEFAULT_THRESHOLDS.high, gt=0, lt=1)
    alert_level: Literal["medium", "high"] = "high"

    @model_validator(mode="after")
    def _ordered(self) -> ChurnSettings:
        if not self.medium < self.high:
            raise ValueError("`medium` must be below `high`")
        return self

    @property
    def thresholds(self) -> Thresholds:
        return Thresholds(self.medium, self.high)
