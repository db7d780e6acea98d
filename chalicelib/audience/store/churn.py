"""Churn warning items: each tenant's daily run, people's scores, daily feature snapshots, the calibrated
model and the thresholds (docs/retention.md, "Churn warning")."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from chalicelib.audience.rules.records import ChurnRunRecord, ChurnScoreRecord
from chalicelib.table import keys
from chalicelib.table.db import ensure_bound, get_entity, save_if, unavailable_on_failure
from chalicelib.table.models import (
    ChurnModelItem,
    ChurnRunItem,
    ChurnScoreItem,
    ChurnSettingsItem,
    ChurnSnapshotItem,
    Item,
)


def register(tid: str) -> bool:
    """List the tenant for the daily job (its run item); False when it is listed already."""
    item = ChurnRunItem(
        PK=keys.tenant_pk(tid), SK=keys.CHURN_RUN_SK, tid=tid, version=0,
        GSI2PK=keys.CHURN_TENANTS_GSI2PK, GSI2SK=tid,
    )  # fmt: skip
    return save_if(item, Item.PK.does_not_exist(), "register churn tenant")


def tenants() -> Iterator[str]:
    """Every listed tenant, page by page (one item per tenant)."""
    ensure_bound()
    with unavailable_on_failure("churn tenants"):
        for item in Item.gsi2.query(keys.CHURN_TENANTS_GSI2PK):
            if isinstance(item, ChurnRunItem):
                yield item.tid


def _run(item: ChurnRunItem) -> ChurnRunRecord:
    return ChurnRunRecord(
        tid=item.tid, day=item.day, cursor=item.cursor, batch=int(item.batch or 0), counts=item.counts,
        done=bool(item.done), started_at=item.started_at, last_day=item.last_day, last_counts=item.last_counts,
        last_finished_at=item.last_finished_at, version=int(item.version or 0),
    )  # fmt: skip


def get_run(tid: str) -> ChurnRunRecord | None:
    item = get_entity(ChurnRunItem, keys.tenant_pk(tid), keys.CHURN_RUN_SK, consistent=True)
    return _run(item) if item is not None else None


def save_run(run: ChurnRunRecord) -> bool:
    """Save the run over the version read (`run.version`), as version + 1; False when another run moved it."""
    item = ChurnRunItem(
        PK=keys.tenant_pk(run.tid), SK=keys.CHURN_RUN_SK, tid=run.tid, day=run.day, cursor=run.cursor,
        batch=run.batch, counts=run.counts, done=run.done, started_at=run.started_at, last_day=run.last_day,
        last_counts=run.last_counts, last_finished_at=run.last_finished_at, version=run.version + 1,
        GSI2PK=keys.CHURN_TENANTS_GSI2PK, GSI2SK=run.tid,
    )  # fmt: skip
    condition = ChurnRunItem.version == run.version
    if run.version == 0:  # listed (version 0) or not yet
        condition = Item.PK.does_not_exist() | condition
    return save_if(item, condition, "save churn run")


def put_scores(scores: list[ChurnScoreRecord]) -> None:
    """Each person's latest score (replacing yesterday's), in batch writes."""
    ensure_bound()
    with unavailable_on_failure("save churn scores"), Item.batch_write() as batch:
        for s in scores:
            item = ChurnScoreItem(
                PK=keys.profile_pk(s.tid, s.uid), SK=keys.CHURN_SK, tid=s.tid, uid=s.uid, risk=s.risk,
                level=s.level, top=s.top, scored_on=s.scored_on, scored_at=s.scored_at,
                GSI1PK=keys.churn_risk_gsi1pk(s.tid), GSI1SK=keys.churn_risk_gsi1sk(s.risk, s.uid),
            )  # fmt: skip
            batch.save(item)


def _score(item: ChurnScoreItem) -> ChurnScoreRecord:
    return ChurnScoreRecord(
        tid=item.tid, uid=item.uid, risk=float(item.risk), level=item.level, top=list(item.top or []),
        scored_on=item.scored_on, scored_at=item.scored_at,
    )  # fmt: skip


def get_score(tid: str, uid: str) -> ChurnScoreRecord | None:
    item = get_entity(ChurnScoreItem, keys.profile_pk(tid, uid), keys.CHURN_SK, consistent=True)
    return _score(item) if item is not None else None


def delete_score(tid: str, uid: str) -> None:
    """Data-subject erasure: the person's score goes, and with it their place in the risk index (GSI1)."""
    ensure_bound()
    with unavailable_on_failure("forget churn score"):
        ChurnScoreItem(PK=keys.profile_pk(tid, uid), SK=keys.CHURN_SK).delete()


def highest(tid: str, limit: int) -> list[ChurnScoreRecord]:
    """The tenant's people with the highest latest risk, highest first."""
    ensure_bound()
    with unavailable_on_failure("churn risks"):
        found = Item.gsi1.query(keys.churn_risk_gsi1pk(tid), scan_index_forward=False, limit=limit)
        return [_score(i) for i in found if isinstance(i, ChurnScoreItem)][:limit]


def put_snapshot(tid: str, day: str, batch: int, at: str, rows: dict[str, list[Any]], expires_at: int) -> None:
    item = ChurnSnapshotItem(
        PK=keys.churn_snapshot_pk(tid, day), SK=keys.churn_snapshot_sk(batch), tid=tid, day=day, at=at, rows=rows,
        expires_at=expires_at,
    )  # fmt: skip
    save_if(item, None, "save churn snapshot")


def snapshots(tid: str, day: str, limit: int | None = None) -> list[tuple[str, dict[str, list[Any]]]]:
    """A day's snapshot batches, in run order, the first `limit` of them (all when None): (scored at, uid -> row)."""
    ensure_bound()
    with unavailable_on_failure("churn snapshots"):
        found = Item.query(keys.churn_snapshot_pk(tid, day), limit=limit)
        return [(i.at, dict(i.rows)) for i in found if isinstance(i, ChurnSnapshotItem)]


def get_model(tid: str) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
    """(calibrated weights or None, the last calibration's record or None)."""
    item = get_entity(ChurnModelItem, keys.tenant_pk(tid), keys.CHURN_MODEL_SK, consistent=True)
    return (item.weights, item.calibration) if item is not None else (None, None)


def put_model(tid: str, weights: dict[str, Any] | None, calibration: dict[str, Any], updated_at: str) -> None:
    item = ChurnModelItem(
        PK=keys.tenant_pk(tid), SK=keys.CHURN_MODEL_SK, tid=tid, weights=weights, calibration=calibration,
        updated_at=updated_at,
    )  # fmt: skip
    save_if(item, None, "save churn model")


def get_settings(tid: str) -> dict[str, Any] | None:
    item = get_entity(ChurnSettingsItem, keys.tenant_pk(tid), keys.CHURN_SETTINGS_SK, consistent=True)
    return dict(item.settings) if item is not None else None


def put_settings(tid: str, settings: dict[str, Any], updated_at: str) -> None:
    item = ChurnSettingsItem(
        PK=keys.tenant_pk(tid), SK=keys.CHURN_SETTINGS_SK, tid=tid, settings=settings, updated_at=updated_at
    )
    save_if(item, None, "save churn settings")
