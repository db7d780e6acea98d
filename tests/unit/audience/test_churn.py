"""Churn warning: features from a profile, the score and its explanation, AUC, calibration and its refusals."""

from __future__ import annotations

import math
import random
from datetime import UTC, datetime, timedelta

import pytest

from chalicelib.audience.rules import churn
from chalicelib.audience.rules.churn import FEATURES, Features, Thresholds, Weights
from chalicelib.audience.rules.profiles import Profile

AT = datetime(2026, 12, 1, tzinfo=UTC)


def _iso(t: datetime) -> str:
    return t.isoformat().replace("+00:00", "Z")


def _features(**x: float) -> Features:
    values = {name: x.get(name, 0.0) for name in FEATURES}
    return Features(raw=dict(values), x=values)


def test_features_spread_undated_events_over_the_active_span() -> None:
    # GIVEN a person active from 100 to 20 days ago: two joins (one at each end), one paid and one refunded
    # order, a reward, two helps and a group (five undated events), three friends brought
    first, last = AT - timedelta(days=100), AT - timedelta(days=20)
    profile = Profile(
        tid="t1", uid="u_1", first_seen=_iso(first), last_seen=_iso(last),
        parts={
            "c1": {"cid": "a", "joined_at": _iso(first), "invites": 3},
            "c2": {"cid": "b", "joined_at": _iso(last), "invites": 0},
        },
        orders={"o1": 30000, "o2": 0}, rewards={"r1"}, helps={"h1", "h2"}, groups={"g1"},
    )  # fmt: skip
    # WHEN its features are taken today
    f = churn.features(profile, AT)
    # THEN the 80-day span puts 10 days in the last 30 and 70 in the last 90; the join 20 days ago counts in both
    assert f.raw == pytest.approx(
        {
            "recency": 20.0,
            "frequency_30": 1 + 5 * 10 / 80,
            "frequency_90": 1 + 5 * 70 / 80,
            "spend_90": 300 * 70 / 80,
            "invites": 3.0,
            "helps": 2.0,
            "rewards": 1.0,
        }
    )
    assert f.x["recency"] == pytest.approx(math.log(21) / math.log(181))
    assert f.x["spend_90"] == pytest.approx(math.log1p(262.5) / math.log1p(2000))


def test_every_feature_is_bounded_and_a_profile_never_seen_counts_as_long_gone() -> None:
    f = churn.features(Profile(tid="t1", uid="u_1"), AT)
    assert f.x["recency"] == 1.0
    assert all(f.x[name] == 0.0 for name in FEATURES if name != "recency")
    assert churn.bounded("invites", 10_000) == 1.0
    assert churn.bounded("invites", -3) == 0.0


def test_score_is_the_sigmoid_of_the_contributions_listed_largest_first() -> None:
    # GIVEN recency at half its scale and spend at the cap: z = -2 + 5*0.5 - 1.5*1 = -1
    s = churn.score(_features(recency=0.5, spend_90=1.0))
    # THEN risk = 1 / (1 + e)
    assert s.risk == pytest.approx(1 / (1 + math.e))
    assert s.level == "low"
    assert s.bias == -2.0
    assert [(c.feature, c.contribution) for c in s.contributions[:2]] == [("recency", 2.5), ("spend_90", -1.5)]
    assert all(c.contribution == 0 for c in s.contributions[2:])


def test_default_weights_let_recency_dominate() -> None:
    today, week, month, half_year = (
        churn.score(_features(recency=churn.bounded("recency", d))).risk for d in (0, 7, 30, 180)
    )
    assert today == pytest.approx(churn.sigmoid(-2))
    assert week == pytest.approx(0.5, abs=0.01)
    assert today < week < month < half_year
    assert half_year > 0.95 - 1e-3
    # a month away but engaged (active, spending, bringing friends) is back under "high"
    engaged = churn.score(
        _features(recency=churn.bounded("recency", 30), frequency_30=0.5, frequency_90=0.7, spend_90=0.6, invites=0.5)
    )
    assert engaged.level != "high"
    assert engaged.contributions[0].feature == "recency"
    # half a year away, the windowed measures are empty: lifetime engagement at its caps does not save them
    gone = churn.score(_features(recency=churn.bounded("recency", 180), invites=1.0, helps=1.0, rewards=1.0))
    assert gone.level == "high"


def test_levels_follow_the_thresholds() -> None:
    assert [churn.level(r) for r in (0.0, 0.39, 0.4, 0.69, 0.7, 1.0)] == [
        "low",
        "low",
        "medium",
        "medium",
        "high",
        "high",
    ]
    assert churn.level(0.5, Thresholds(medium=0.2, high=0.5)) == "high"
    with pytest.raises(ValueError):
        Thresholds(medium=0.7, high=0.4)


def test_auc_of_a_known_example_with_and_without_ties() -> None:
    assert churn.auc([0.1, 0.4, 0.35, 0.8], [False, False, True, True]) == 0.75
    # positives {0.5, 0.9} against negatives {0.5, 0.2}: a tie counts half, so 3.5 of 4 pairs
    assert churn.auc([0.5, 0.5, 0.2, 0.9], [True, False, False, True]) == 0.875
    assert churn.auc([1, 1, 1], [True, False, True]) == 0.5


def test_auc_agrees_with_a_pairwise_count_on_tied_random_scores() -> None:
    # scikit-learn is not in the environment: the independent check is the definition itself
    rng = random.Random(3)
    scores = [rng.randint(0, 9) / 10 for _ in range(300)]
    labels = [rng.random() < 0.3 for _ in range(300)]
    pos = [s for s, y in zip(scores, labels, strict=True) if y]
    neg = [s for s, y in zip(scores, labels, strict=True) if not y]
    pairs = sum(1.0 if p > n else 0.5 if p == n else 0.0 for p in pos for n in neg)
    assert churn.auc(scores, labels) == pytest.approx(pairs / (len(pos) * len(neg)), abs=1e-12)


def test_auc_refuses_one_class() -> None:
    with pytest.raises(ValueError):
        churn.auc([0.1, 0.2], [True, True])


TRUE = Weights(
    bias=-0.5,
    coef={
        "recency": 3.0,
        "frequency_30": -1.0,
        "frequency_90": -0.5,
        "spend_90": -2.0,
        "invites": -1.5,
        "helps": 0.5,
        "rewards": -1.0,
    },
)


def _synthetic(n: int, seed: int) -> list[tuple[Features, bool]]:
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        f = _features(**{name: rng.random() for name in FEATURES})
        out.append((f, rng.random() < churn.sigmoid(churn.log_odds(f.vector(), TRUE))))
    return out


def test_calibration_recovers_the_weights_that_generated_the_labels() -> None:
    # GIVEN 6,000 people whose churn was drawn from known weights
    examples = _synthetic(6000, seed=11)
    # WHEN the tenant calibrates
    cal = churn.calibrate(examples, seed=1)
    # THEN the fit converges on those weights (within ~3 standard errors) and ranks the held-out quarter better
    assert cal.calibrated and cal.reason is None
    assert (cal.n_train, cal.n_holdout) == (4500, 1500)
    assert cal.weights.bias == pytest.approx(TRUE.bias, abs=0.4)
    for name in FEATURES:
        assert cal.weights.coef[name] == pytest.approx(TRUE.coef[name], abs=0.4), name
    assert cal.auc_fitted is not None and cal.auc_default is not None
    assert cal.auc_fitted > cal.auc_default
    assert 1 < cal.iterations < 20


def test_calibration_with_few_examples_keeps_the_defaults_with_the_reason() -> None:
    cal = churn.calibrate(_synthetic(150, seed=2))
    assert not cal.calibrated and cal.weights == churn.DEFAULT_WEIGHTS
    assert cal.reason == "150 examples, at least 200 needed"


def test_calibration_with_one_class_keeps_the_defaults() -> None:
    examples = [(f, False) for f, _ in _synthetic(500, seed=4)]
    cal = churn.calibrate(examples)
    assert not cal.calibrated and cal.weights == churn.DEFAULT_WEIGHTS
    assert cal.reason == "0 churned and 500 stayed, at least 20 of each needed"


def test_calibration_that_ranks_no_better_than_the_defaults_keeps_them() -> None:
    # labels that ignore the features: this fit is noise and ranks held-out people worse than the defaults
    rng = random.Random(5)
    examples = [(f, rng.random() < 0.3) for f, _ in _synthetic(400, seed=6)]
    cal = churn.calibrate(examples, seed=0)
    assert not cal.calibrated and cal.weights == churn.DEFAULT_WEIGHTS
    assert cal.reason == "fitted weights rank held-out people no better (AUC 0.483 against 0.533)"


def test_calibration_barely_better_than_chance_keeps_the_defaults() -> None:
    # noise again, where the fit happens to beat the (here even worse) defaults but not chance by much
    rng = random.Random(2)
    examples = [(f, rng.random() < 0.3) for f, _ in _synthetic(400, seed=6)]
    cal = churn.calibrate(examples, seed=0)
    assert cal.auc_fitted is not None and cal.auc_default is not None and cal.auc_fitted > cal.auc_default
    assert (
        not cal.calibrated and cal.reason == "fitted weights rank held-out people little better than chance (AUC 0.427)"
    )


def test_strong_penalty_keeps_a_fit_at_the_prior() -> None:
    examples = _synthetic(400, seed=8)
    fitted = churn.fit([f.vector() for f, _ in examples], [y for _, y in examples], l2=1e6)
    for name in FEATURES:
        assert fitted.weights.coef[name] == pytest.approx(churn.DEFAULT_WEIGHTS.coef[name], abs=0.01)


def test_split_is_stratified_and_seeded() -> None:
    labels = [i % 4 == 0 for i in range(400)]
    train, held = churn.split(labels, 0.25, seed=9)
    assert sorted(train + held) == list(range(400))
    assert sum(labels[i] for i in held) == 25 and len(held) == 100
    assert churn.split(labels, 0.25, seed=9) == (train, held)


def test_churn_label_is_unknown_until_the_horizon_passes() -> None:
    day = AT - timedelta(days=40)
    assert churn.churned(_iso(day + timedelta(days=3)), day, AT) is False
    assert churn.churned(_iso(day), day, AT) is True  # nothing after the day scored
    assert churn.churned(None, day, AT) is True
    assert churn.churned(_iso(AT), day, AT) is True  # seen again only after the horizon
    assert churn.churned(_iso(day), AT - timedelta(days=10), AT) is None


# ---- what the daily job keeps --------------------------------------------------------------------


def test_a_snapshot_row_gives_back_the_features_it_was_scored_with() -> None:
    first, last = _iso(AT - timedelta(days=50)), _iso(AT - timedelta(days=9))
    profile = Profile(tid="t", uid="u", first_seen=first, last_seen=last, orders={"o1": 12_000}, helps={"a", "b"})
    feats = churn.features(profile, AT)
    row = churn.snapshot_row(feats, profile.last_seen)
    again = churn.row_features(row)
    assert churn.row_last_seen(row) == profile.last_seen
    assert churn.score(again).risk == pytest.approx(churn.score(feats).risk, abs=1e-3)
    assert churn.row_last_seen(churn.snapshot_row(feats, None)) is None


def test_the_label_is_activity_after_the_scoring_time() -> None:
    assert churn.came_back("2026-11-01T04:00:00Z", "2026-11-20T10:00:00Z")
    assert not churn.came_back("2026-11-01T04:00:00Z", "2026-10-30T10:00:00Z")
    assert not churn.came_back("2026-11-01T04:00:00Z", None)


def test_the_alert_level_and_the_settings() -> None:
    assert churn.alerting("high", "high") and not churn.alerting("medium", "high")
    assert churn.alerting("medium", "medium") and churn.alerting("high", "medium")
    assert not churn.alerting("low", "medium")
    assert churn.ChurnSettings().thresholds == churn.DEFAULT_THRESHOLDS
    with pytest.raises(ValueError, match="below"):
        churn.ChurnSettings(medium=0.8, high=0.5)


def test_the_explanation_keeps_the_largest_contributions() -> None:
    result = churn.score(_features(recency=1.0, spend_90=0.5))
    top = churn.explanation(result, 2)
    assert [t["feature"] for t in top] == ["recency", "spend_90"]
    assert top[0]["contribution"] == pytest.approx(5.0) and top[1]["contribution"] == pytest.approx(-0.75)


def test_stored_weights_read_back() -> None:
    weights = Weights(bias=-1.0, coef={name: float(i) for i, name in enumerate(FEATURES)})
    assert churn.weights_of(churn.weights_document(weights)) == weights
