"""CSV exports: a request only queues a job; the scheduled `run_exports` writes it a page at a time.

No request waits for an export, however large the campaign. Each run gives every pending job a
bounded time. A page of participants (one query page of one GSI1 shard) becomes one numbered
part, written before the job's cursor moves past it: a run that dies between the two writes the
same part again, never a second copy of its rows.

A file leaves only through the download route: a fresh TOTP step-up and an audit entry each time. The
job's view names that route, never a storage URL; the presigned URL (cloud) is issued by the download
itself and lives a minute.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from pydantic import ValidationError

from chalicelib.accounts import audit, totp
from chalicelib.analytics.rules import exports as domain
from chalicelib.analytics.rules.exports import ExportRecord
from chalicelib.analytics.store import exports as store
from chalicelib.analytics.store import files as export_files
from chalicelib.campaigns import lifecycle
from chalicelib.core.clock import iso
from chalicelib.core.codes import Code
from chalicelib.core.config import get_settings
from chalicelib.core.errors import Conflict, NotFound
from chalicelib.core.ids import new_id
from chalicelib.core.observability import logger
from chalicelib.core.rbac import Principal
from chalicelib.core.validation import validation_error
from chalicelib.modes.distribution import service as distribution
from chalicelib.modes.distribution.rules.records import LedgerEntry
from chalicelib.referral import tree
from chalicelib.referral.rules.records import RewardRecord, TreeNode
from chalicelib.security.pii import mask_name
from chalicelib.table.idempotency import run_once

RETENTION = timedelta(days=7)
# Participants per page: a page is one query and one part. Rewards and ledger read each
# participant's partition too, so their pages are smaller.
PAGE_SIZE = 500
PARTITION_PAGE_SIZE = 100
TIME_PER_JOB = 20.0  # seconds a run spends on one job before moving on
TIME_PER_RUN = 40.0  # the scheduled function's timeout is 60 s
MAX_JOBS_PER_RUN = 25
MAX_FAILURES = 5
BOM = "\ufeff"  # spreadsheets read the file as UTF-8 only with it
LINK_SECONDS = export_files.DOWNLOAD_URL_SECONDS  # how long a download's presigned URL works


def view(rec: ExportRecord, *, download_url: str | None = None) -> dict[str, Any]:
    answer: dict[str, Any] = {
        "id": rec.eid,
        "campaign_id": rec.cid,
        "kind": rec.kind,
        "status": rec.status,
        "rows": rec.rows,
        "parts": rec.parts,
        "created_at": rec.created_at,
        "updated_at": rec.updated_at,
        "finished_at": rec.finished_at,
        "expires_at": iso(datetime.fromtimestamp(rec.expires_at, UTC)),
    }
    if rec.status == domain.Status.DONE:
        answer["download_url"] = download_url
    if rec.status == domain.Status.FAILED:
        answer["error"] = rec.error
    return answer


def create(actor: Principal, body: dict[str, Any], now: datetime, idempotency_key: str | None = None) -> dict[str, Any]:
    """Queue a job; a repeat with the same Idempotency-Key returns the same job."""
    try:
        request = domain.ExportRequest.model_validate(body)
    except ValidationError as exc:
        raise validation_error(exc) from exc
    lifecycle.owned(actor.tid, request.campaign_id)

    def make() -> dict[str, Any]:
        stamp = iso(now)
        rec = ExportRecord(
            tid=actor.tid,
            eid=new_id("exp"),
            cid=request.campaign_id,
            kind=request.kind.value,
            status=domain.Status.QUEUED.value,
            created_by=actor.email,
            created_at=stamp,
            updated_at=stamp,
            expires_at=int((now + RETENTION).timestamp()),
        )
        store.insert(rec)
        details = {"campaign_id": rec.cid, "kind": rec.kind}
        audit.record(actor.tid, actor.email, "export.create", rec.eid, details, now)
        return view(rec)

    return run_once(f"export.create:{actor.tid}", idempotency_key, body, make)


def _owned(actor: Principal, eid: str) -> ExportRecord:
    rec = store.get(actor.tid, eid)
    if rec is None:
        raise NotFound("no such export", code=Code.EXPORT_NOT_FOUND)
    return rec


def _download_url(eid: str) -> str:
    # The API's route even where S3 serves the file: a presigned URL here would skip the step-up and the audit.
    return f"{get_settings().public_base_url.rstrip('/')}/v1/admin/exports/{eid}/download"


def get(actor: Principal, eid: str) -> dict[str, Any]:
    rec = _owned(actor, eid)
    return view(rec, download_url=_download_url(eid) if rec.status == domain.Status.DONE else None)


def download(actor: Principal, eid: str, totp_code: str | None, now: datetime) -> tuple[str, bytes | str]:
    """("file", its bytes) served through the API, or ("redirect", a presigned URL) when S3 serves it.

    Needs a fresh TOTP step-up, as making the export did (the file is the same personal data, and whoever
    downloads may not be who made it); each download is audited once the file or its URL is in hand."""
    rec = _owned(actor, eid)
    if rec.status != domain.Status.DONE:  # said before the step-up, as the job's view says it: no code spent
        raise Conflict(f"the export is {rec.status}, not done", code=Code.EXPORT_NOT_READY)
    totp.require_step_up(actor, totp_code, now)
    files = export_files.get_files()
    found: tuple[str, bytes | str]
    direct = files.download_url(eid)
    if direct is not None:
        found = ("redirect", direct)
    else:
        body = files.read(eid)
        if body is None:
            raise NotFound("the export's file is gone", code=Code.EXPORT_NOT_FOUND)
        found = ("file", body)
    details = {"campaign_id": rec.cid, "kind": rec.kind, "rows": rec.rows}
    audit.record(actor.tid, actor.email, "export.download", rec.eid, details, now)
    return found


def file_name(eid: str) -> str:
    return export_files.file_name(eid)


# --- the scheduled side -------------------------------------------------------------------------


def run(now: datetime, *, seconds: float = TIME_PER_RUN, clock: Callable[[], float] = time.monotonic) -> dict[str, int]:
    """Advance every pending job for a bounded time each; what is left waits for the next run."""
    run_ends = clock() + seconds
    counts = {"jobs": 0, "pages": 0, "done": 0, "failed": 0}
    for job in store.pending(MAX_JOBS_PER_RUN):
        if clock() >= run_ends:
            break
        counts["jobs"] += 1
        try:
            pages, status = _work(job.tid, job.eid, now, min(run_ends, clock() + TIME_PER_JOB), clock)
        except Exception:
            logger.exception("export run failed; it resumes from its last saved page", export_id=job.eid)
            status = _count_failure(job.tid, job.eid, now)
            pages = 0
        counts["pages"] += pages
        if status in (domain.Status.DONE, domain.Status.FAILED):
            counts[status.value] += 1
    return counts


def _work(tid: str, eid: str, now: datetime, ends: float, clock: Callable[[], float]) -> tuple[int, domain.Status]:
    """Pages of one job (at least one) until it finishes or its time is up; returns pages and the status."""
    rec = store.get(tid, eid)  # consistent: the index may lag the job
    pages = 0
    while rec is not None and rec.status in domain.PENDING:
        if not _step(rec, now):
            return pages, domain.Status(rec.status)  # another run moved the job meanwhile: leave it
        pages += 1
        if clock() >= ends:
            break
    return pages, domain.Status(rec.status) if rec is not None else domain.Status.FAILED


def _step(rec: ExportRecord, now: datetime) -> bool:
    """One page (or, past the last shard, the final file), then the job saved; False if another run won."""
    kind = domain.Kind(rec.kind)
    size = PARTITION_PAGE_SIZE if kind in domain.PER_PARTICIPANT else PAGE_SIZE
    rec.status = domain.Status.RUNNING.value
    rec.updated_at = iso(now)
    page = tree.campaign_participants(rec.cid, rec.cursor, size)
    if page is None:
        export_files.get_files().assemble(rec.eid, (BOM + domain.header(kind)).encode(), rec.parts)
        rec.status = domain.Status.DONE.value
        rec.finished_at = iso(now)
        return store.advance(rec)
    rows = _rows(kind, page.participants)
    if rows:
        # The part first, under a name fixed by its number: if saving the job fails, the retry replaces it.
        _write_part(rec.eid, rec.parts + 1, domain.render(rows).encode())
        rec.parts += 1
        rec.rows += len(rows)
    rec.cursor = page.following
    return store.advance(rec)


def _write_part(eid: str, number: int, body: bytes) -> None:
    export_files.get_files().put_part(eid, number, body)


def _own(kind: domain.Kind, code: str) -> Sequence[RewardRecord | LedgerEntry]:
    """What of one participant's own a kind lists: their rewards, or their ledger entries."""
    if kind is domain.Kind.REWARDS:
        return tree.participant_rewards(code)
    if kind is domain.Kind.LEDGER:
        return distribution.ledger(code, consistent=False)
    return []


def _rows(kind: domain.Kind, participants: list[TreeNode]) -> list[domain.Row]:
    found: list[domain.Row] = []
    for participant in participants:
        found += domain.rows(kind, participant, _own(kind, participant.code), mask_name)
    return found


def _count_failure(tid: str, eid: str, now: datetime) -> domain.Status:
    """One more failure on the job; after `MAX_FAILURES` it stops being retried."""
    rec = store.get(tid, eid)
    if rec is None or rec.status not in domain.PENDING:
        return domain.Status.FAILED
    rec.failures += 1
    rec.updated_at = iso(now)
    if rec.failures >= MAX_FAILURES:
        rec.status = domain.Status.FAILED.value
        rec.error = "the export failed repeatedly; create a new one"
        rec.finished_at = iso(now)
    store.advance(rec)
    return domain.Status(rec.status)
