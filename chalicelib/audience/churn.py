"""Churn warning in the running app: the daily scoring run, calibration and the operators' view.

The model is `rules/churn.py`. Once per local day of each tenant, a scheduled job walks its profiles in
batches, scores each person, keeps the score beside the profile and a compact feature snapshot of the day,
and writes the level on the profile when it changes (the `churn_risk` tag follows); people who reach the
alert level fire the tenant's `churn_risk` automations. The work per invocation is bounded: a run cut off
continues from its saved position at the next tick. docs/retention.md, "Churn warning".
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from chalicelib.accounts import audit, tenants
from chalicelib.audience import automations, profiles
from chalicelib.audience.rules import churn as model
from chalicelib.audience.rules.churn import ChurnSettings, Weights
from chalicelib.audience.rules.profiles import ChurnFact, Profile
from chalicelib.audience.rules.records import ChurnRunRecord, ChurnScoreRecord
from chalicelib.audience.store import churn as store
from chalicelib.audience.store import profiles as profile_store
from chalicelib.core.clock import iso
from chalicelib.core.observability import logger
from chalicelib.core.rbac import Principal

BATCH = 100  # profiles scored, and one snapshot item written, per step
PER_TICK = 2_000  # profiles scored per invocation, across tenants: a run longer than that resumes next tick
SNAPSHOT_DAYS = 100  # snapshots older than that expire (TTL): calibration reads the last 30 + 60 days
CALIBRATION_DAYS = 60  # snapshot days (each at least 30 days old) a calibration labels at most
MAX_EXAMPLES = 5_000  # labelled snapshots a calibration fits at most (pure-Python IRLS in one request)
# Snapshot items (a batch of 100 people each) read per day: day D's first ones, and twice as many of day D + 30
# to find the same people (runs walk the profiles in the same order; people who joined meanwhile shift it).
SNAPSHOT_ITEMS_READ = MAX_EXAMPLES // BATCH + 10
TOP = 20


def local_day(tid: str, now: datetime) -> str:
    return now.astimezone(ZoneInfo(tenants.timezone(tid))).date().isoformat()


def settings_of(tid: str) -> ChurnSettings:
    stored = store.get_settings(tid)
    return ChurnSettings.model_validate(stored) if stored else ChurnSettings()


def weights_of(tid: str) -> Weights:
    stored, _ = store.get_model(tid)
    return model.weights_of(stored) if stored else model.DEFAULT_WEIGHTS


# ---- the daily run ---------------------------------------------------------------------------


def run(now: datetime, budget: int = PER_TICK) -> dict[str, int]:
    """The schedule: every listed tenant's run of its local day, until `budget` profiles are scored."""
    counts = {"tenants": 0, "scored": 0, "crossed": 0, "fired": 0, "errors": 0}
    for tid in store.tenants():
        if counts["scored"] >= budget:
            break
        try:
            done = score_tenant(tid, now, budget - counts["scored"])
        except Exception:  # one tenant's failure must not stop the others; its run resumes next tick
            logger.exception("churn run failed", tenant_id=tid)
            counts["errors"] += 1
            continue
        counts["tenants"] += 1 if done["scored"] else 0
        for key in ("scored", "crossed", "fired"):
            counts[key] += done[key]
    return counts


def score_tenant(tid: str, now: datetime, budget: int = PER_TICK) -> dict[str, int]:
    """Advance the tenant's run of today (its local day) by at most `budget` profiles, `BATCH` a step, saving
    the position after each step. A step done again after an interruption writes the same items again."""
    day = local_day(tid, now)
    current = store.get_run(tid) or ChurnRunRecord(tid=tid)
    out = {"scored": 0, "crossed": 0, "fired": 0}
    if current.day == day and current.done:
        return out
    if current.day != day:  # a new day: a run left unfinished yesterday is dropped, its figures with it
        current = replace(current, day=day, cursor=None, batch=0, counts={}, done=False, started_at=iso(now))
    weights, settings = weights_of(tid), settings_of(tid)
    chunk: list[Profile] = []
    position: str | None = current.cursor
    seen = 0
    for profile, resume in profile_store.walk(tid, current.cursor, budget, BATCH):
        chunk.append(profile)
        seen += 1
        position = profile_store.walk_cursor(resume) if resume is not None else None
        if len(chunk) == BATCH:
            moved = _step(current, chunk, position, weights, settings, now, out, finished=False)
            if moved is None:
                return out
            current, chunk = moved, []
    ended = seen < budget  # the walk stopped before its budget: no profile is left
    if chunk or ended:
        _step(current, chunk, position, weights, settings, now, out, finished=ended)
    return out


def _step(
    run_: ChurnRunRecord, people: list[Profile], position: str | None, weights: Weights, settings: ChurnSettings,
    now: datetime, out: dict[str, int], *, finished: bool,
) -> ChurnRunRecord | None:  # fmt: skip
    """Score one batch, write what it yields, then save the run's new position (None: another run moved it)."""
    tid, day, at = run_.tid, str(run_.day), iso(now)
    # A person with no campaign left (erased everywhere in the tenant) is not profiled any more (docs/privacy.md).
    people = [p for p in people if p.parts]
    scores: list[ChurnScoreRecord] = []
    rows: dict[str, list[Any]] = {}
    verdicts: dict[str, ChurnFact] = {}
    crossed: list[tuple[Profile, dict[str, Any]]] = []
    counts = dict(run_.counts or {})
    for profile in people:
        feats = model.features(profile, now)
        result = model.score(feats, weights, settings.thresholds)
        top = model.explanation(result)
        scores.append(ChurnScoreRecord(tid, profile.uid, round(result.risk, 6), result.level, top, day, at))
        rows[profile.uid] = model.snapshot_row(feats, profile.last_seen)
        counts[result.level] = counts.get(result.level, 0) + 1
        alert = model.alerting(result.level, settings.alert_level)
        if (profile.churn_level, profile.churn_alert) != (result.level, alert):
            verdicts[profile.uid] = ChurnFact(result.level, alert)
        if alert and not profile.churn_alert:
            # The rules' conditions see the new verdict (`churn_level = high` holds at the crossing).
            now_seen = replace(profile, churn_level=result.level, churn_alert=True)
            crossed.append((now_seen, {"level": result.level, "risk": f"{result.risk:.2f}"}))
    if people:
        store.put_scores(scores)
        expires = int((now + timedelta(days=SNAPSHOT_DAYS)).timestamp())
        store.put_snapshot(tid, day, run_.batch, at, rows, expires)
        # Fired before the profile is written: a step done again finds the same crossing and the run key
        # makes the second firing act on nothing.
        out["fired"] += automations.on_churn_risk(tid, crossed, now) if crossed else 0
        failed = profiles.set_churn(tid, verdicts, now) if verdicts else set()
        if failed:
            logger.warning("churn verdicts not written", tenant_id=tid, people=len(failed))
    out["scored"] += len(people)
    out["crossed"] += len(crossed)
    nxt = replace(run_, cursor=position, batch=run_.batch + (1 if people else 0), counts=counts)
    if finished:
        nxt = replace(nxt, cursor=None, done=True, last_day=day, last_counts=counts, last_finished_at=at)
    if not store.save_run(nxt):
        logger.warning("churn run moved by another invocation", tenant_id=tid)
        return None
    return replace(nxt, version=nxt.version + 1)


# ---- calibration -----------------------------------------------------------------------------


def examples(tid: str, today: str) -> tuple[list[tuple[model.Features, bool]], int]:
    """Labelled snapshots, newest day first: a person's features on day D (at least `HORIZON_DAYS` ago) and
    whether they were active after it, judged from their snapshot of day D + 30. (examples, days used)."""
    out: list[tuple[model.Features, bool]] = []
    days = 0
    last = date.fromisoformat(today) - timedelta(days=model.HORIZON_DAYS)
    for back in range(CALIBRATION_DAYS):
        scored = last - timedelta(days=back)
        early = store.snapshots(tid, scored.isoformat(), SNAPSHOT_ITEMS_READ)
        if not early:
            continue
        later = {
            uid: model.row_last_seen(row)
            for _, rows in store.snapshots(
                tid, (scored + timedelta(days=model.HORIZON_DAYS)).isoformat(), 2 * SNAPSHOT_ITEMS_READ
            )
            for uid, row in rows.items()
        }
        used = False
        for at, rows in early:
            for uid, row in rows.items():
                if uid in later:  # a person absent from day D + 30's run (erased, the run missed) has no label
                    out.append((model.row_features(row), not model.came_back(at, later[uid])))
                    used = True
        days += used
        if len(out) >= MAX_EXAMPLES:
            break
    return out[:MAX_EXAMPLES], days


def calibrate(actor: Principal, now: datetime) -> dict[str, Any]:
    """Fit the tenant's own weights from its labelled snapshots; keep them only when the model accepts them
    (docs/retention.md). The record (AUCs, sizes, the reason when refused) is stored either way."""
    tid = actor.tid
    pairs, days = examples(tid, local_day(tid, now))
    result = model.calibrate(pairs)
    record = {
        "calibrated_at": iso(now), "calibrated": result.calibrated, "reason": result.reason,
        "examples": len(pairs), "churned": sum(1 for _, y in pairs if y), "days": days,
        "n_train": result.n_train, "n_holdout": result.n_holdout,
        "auc_default": _rounded(result.auc_default), "auc_calibrated": _rounded(result.auc_fitted),
        "iterations": result.iterations,
    }  # fmt: skip
    stored, _ = store.get_model(tid)
    weights = model.weights_document(result.weights) if result.calibrated else stored
    store.put_model(tid, weights, record, iso(now))
    audit.record(tid, actor.email, "churn.calibrate", tid, {k: record[k] for k in ("calibrated", "reason",
                 "examples", "auc_default", "auc_calibrated")}, now)  # fmt: skip
    return {"calibration": record, "weights": _weights_view(weights)}


def _rounded(value: float | None) -> float | None:
    return round(value, 4) if value is not None else None


def _weights_view(stored: dict[str, Any] | None) -> dict[str, Any]:
    weights = model.weights_of(stored) if stored else model.DEFAULT_WEIGHTS
    return {"source": "calibrated" if stored else "default", **model.weights_document(weights)}


# ---- operators ---------------------------------------------------------------------------------


def overview(actor: Principal, limit: int = TOP) -> dict[str, Any]:
    """Weights in use, the last calibration, thresholds, the level distribution and the highest risks (masked)."""
    tid = actor.tid
    stored, calibration = store.get_model(tid)
    current = store.get_run(tid)
    if current is None:
        store.register(tid)  # a tenant looking at its churn view is scored from the next tick on
    settings = store.get_settings(tid)
    return {
        "weights": _weights_view(stored),
        "calibration": calibration,
        "settings": (ChurnSettings.model_validate(settings) if settings else ChurnSettings()).model_dump(),
        "configured": settings is not None,
        "distribution": _distribution(current),
        "top": _top(tid, max(1, min(limit, 100))),
    }


def _distribution(current: ChurnRunRecord | None) -> dict[str, Any]:
    """The last finished run's levels; while none has finished, today's so far (`complete` false)."""
    if current is not None and current.last_day:
        counts, day, complete = current.last_counts or {}, current.last_day, True
    elif current is not None and current.day:
        counts, day, complete = current.counts or {}, current.day, False
    else:
        counts, day, complete = {}, None, False
    running = current is not None and current.day is not None and not current.done
    levels = {lvl: int(counts.get(lvl, 0)) for lvl in model.LEVELS}
    return {"day": day, "complete": complete, "running": running, **levels, "total": sum(levels.values())}


def _top(tid: str, limit: int) -> list[dict[str, Any]]:
    scores = store.highest(tid, limit)
    found = {p.uid: p for p in profile_store.get_many(tid, [s.uid for s in scores])}
    out = []
    for s in scores:
        profile = found.get(s.uid)
        if profile is None or not profile.parts:  # gone, or erased from every campaign (its score is being dropped)
            continue
        shown = profiles.view(profile)  # masked as every profile listing is
        out.append({
            "uid": s.uid, "nickname": shown["nickname"], "phone": shown["phone"], "last_seen": profile.last_seen,
            "risk": s.risk, "level": s.level, "explanation": s.top, "scored_on": s.scored_on,
        })  # fmt: skip
    return out


def update_settings(actor: Principal, settings: ChurnSettings, now: datetime) -> dict[str, Any]:
    """Thresholds and alert level, from the next daily run on."""
    document = settings.model_dump()
    store.put_settings(actor.tid, document, iso(now))
    audit.record(actor.tid, actor.email, "churn.settings", actor.tid, document, now)
    return {"settings": document, "configured": True}


# ---- data-subject rights (docs/privacy.md) -----------------------------------------------------

LOGIC = (
    "Once a day a logistic model scores the chance that you stop taking part, from measures of your own activity "
    "in this merchant's programme: days since you were last active, how often you were active in the last 30 and "
    "90 days, what you spent in the last 90 days, and the friends you invited, the friends you helped and the "
    "rewards you received. The explanation lists the measures that weighed most, each with its raw "
    "value and its contribution (log-odds). The merchant sees the level and may send you offers when it is high; "
    "no decision with legal or similarly significant effect is taken on it."
)


def subject_export(tid: str, uid: str) -> dict[str, Any] | None:
    """The person's latest churn score with its explanation, the level and alert on their profile, and how the score
    is made (GDPR art. 15(1)(h), PIPL art. 24); None when they were never scored."""
    score = store.get_score(tid, uid)
    profile = profile_store.get(tid, uid)
    if score is None and (profile is None or profile.churn_level is None):
        return None
    stored, _ = store.get_model(tid)
    found: dict[str, Any] = {"risk": None, "level": None, "scored_on": None, "scored_at": None, "explanation": []}
    if score is not None:
        found = {
            "risk": score.risk, "level": score.level, "scored_on": score.scored_on, "scored_at": score.scored_at,
            "explanation": score.top,
        }  # fmt: skip
    return {
        **found, "profile_level": profile.churn_level if profile else None,
        "alert": bool(profile and profile.churn_alert), "model": "calibrated" if stored else "default", "logic": LOGIC,
    }  # fmt: skip


def forget(tid: str, uid: str, now: datetime) -> None:
    """Data-subject erasure of a person with no campaign left: the score goes (and with it their place in the top-risk
    list), the profile's level and alert are cleared (the `churn_risk` tag follows); the daily run skips them from
    now on. The day snapshots keep their row until they expire (docs/privacy.md says why)."""
    store.delete_score(tid, uid)
    profiles.forget_profiling(tid, uid, now)
