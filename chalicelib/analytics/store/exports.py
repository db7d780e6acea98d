"""Export jobs (`T#{tid}` / `EXPORT#{id}`): created once, then advanced a page at a time under a version check."""

from __future__ import annotations

from pynamodb.exceptions import PutError

from chalicelib.analytics.rules.exports import PENDING, ExportRecord
from chalicelib.core.codes import Code
from chalicelib.core.errors import Conflict
from chalicelib.table import keys
from chalicelib.table.db import ensure_bound, get_entity, is_condition_failure, unavailable_on_failure
from chalicelib.table.models import ExportItem, Item

_FIELDS = (
    "tid", "eid", "cid", "kind", "status", "created_by", "created_at", "updated_at", "error", "finished_at",
)  # fmt: skip


def _record(item: ExportItem) -> ExportRecord:
    return ExportRecord(
        **{name: getattr(item, name) for name in _FIELDS},
        expires_at=int(item.expires_at or 0),
        cursor=dict(item.cursor) if item.cursor is not None else None,
        rows=int(item.rows),
        parts=int(item.parts),
        failures=int(item.failures),
        version=int(item.version),
    )


def _item(rec: ExportRecord) -> ExportItem:
    item = ExportItem(
        PK=keys.tenant_pk(rec.tid),
        SK=keys.export_sk(rec.eid),
        **{name: getattr(rec, name) for name in _FIELDS},
        expires_at=rec.expires_at,
        cursor=rec.cursor,
        rows=rec.rows,
        parts=rec.parts,
        failures=rec.failures,
        version=rec.version,
    )
    if rec.status in PENDING:
        item.GSI2PK = keys.EXPORTS_PENDING_GSI2PK
        item.GSI2SK = keys.export_pending_gsi2sk(rec.created_at, rec.eid)
    return item


def insert(rec: ExportRecord) -> None:
    ensure_bound()
    try:
        with unavailable_on_failure("create export"):
            _item(rec).save(condition=ExportItem.PK.does_not_exist())
    except PutError as exc:
        if is_condition_failure(exc):
            raise Conflict("an export with this id exists", code=Code.ALREADY_EXISTS) from exc
        raise


def get(tid: str, eid: str) -> ExportRecord | None:
    item = get_entity(ExportItem, keys.tenant_pk(tid), keys.export_sk(eid), consistent=True)
    return _record(item) if item is not None else None


def pending(limit: int) -> list[ExportRecord]:
    """Queued and running jobs, oldest first, found by key (the GSI2 bucket only they are in)."""
    ensure_bound()
    with unavailable_on_failure("pending exports"):
        result = Item.gsi2.query(keys.EXPORTS_PENDING_GSI2PK, limit=limit, page_size=limit)
        return [_record(i) for i in result if isinstance(i, ExportItem)]


def advance(rec: ExportRecord) -> bool:
    """Save `rec` over the version it was read at, bumping it; False if another run moved the job meanwhile."""
    ensure_bound()
    expected = rec.version
    rec.version = expected + 1
    try:
        with unavailable_on_failure("save export"):
            _item(rec).save(condition=ExportItem.version == expected)
    except PutError as exc:
        if is_condition_failure(exc):
            rec.version = expected
            return False
        raise
    return True
