"""Automation rules (per tenant) and the delayed runs waiting for their time."""

from __future__ import annotations

from chalicelib.table import keys
from chalicelib.table.db import ensure_bound, get_entity, save_if, unavailable_on_failure
from chalicelib.table.models import AutomationItem, AutomationJobItem, Item


def list_rules(tid: str, *, consistent: bool = True) -> list[AutomationItem]:
    ensure_bound()
    with unavailable_on_failure("automations"):
        found = Item.query(keys.tenant_pk(tid), Item.SK.startswith(keys.AUTOMATION_PREFIX), consistent_read=consistent)
        return [i for i in found if isinstance(i, AutomationItem)]


def get(tid: str, aid: str) -> AutomationItem | None:
    return get_entity(AutomationItem, keys.tenant_pk(tid), keys.automation_sk(aid), consistent=True)


def put(item: AutomationItem, expected_version: int | None) -> bool:
    """Create (`expected_version` None) or replace the version read; False if someone got there first."""
    ensure_bound()
    condition = Item.PK.does_not_exist() if expected_version is None else AutomationItem.version == expected_version
    return save_if(item, condition, "save automation")


def delete(tid: str, aid: str) -> None:
    ensure_bound()
    with unavailable_on_failure("delete automation"):
        Item(PK=keys.tenant_pk(tid), SK=keys.automation_sk(aid)).delete()


def scheduled() -> list[AutomationItem]:
    """Every enabled rule with a scheduled trigger, across tenants (a sparse index: a handful of items)."""
    ensure_bound()
    with unavailable_on_failure("scheduled automations"):
        found = Item.gsi2.query(keys.SCHEDULED_AUTOMATIONS_GSI2PK)
        return [i for i in found if isinstance(i, AutomationItem)]


def add_job(item: AutomationJobItem) -> bool:
    """False when this run is already waiting (a redelivered batch)."""
    ensure_bound()
    return save_if(item, Item.PK.does_not_exist(), "queue automation run")


def due_jobs(shard: int, until: str, limit: int) -> list[AutomationJobItem]:
    ensure_bound()
    with unavailable_on_failure("due automation runs"):
        found = Item.query(keys.automation_job_pk(shard), Item.SK <= f"{until}#~", limit=limit)
        return [i for i in found if isinstance(i, AutomationJobItem)]


def finish_job(job: AutomationJobItem) -> None:
    ensure_bound()
    with unavailable_on_failure("finish automation run"):
        Item(PK=job.PK, SK=job.SK).delete()


def retry_job(job: AutomationJobItem, due: str) -> None:
    """Move a run that failed to a later time (its actions are idempotent, so a repeat is harmless)."""
    ensure_bound()
    moved = AutomationJobItem(
        PK=job.PK, SK=keys.automation_job_sk(due, job.run_id), tid=job.tid, aid=job.aid, uid=job.uid,
        run_id=job.run_id, occurrence=job.occurrence, context=job.context, attempts=int(job.attempts or 0) + 1,
        created_at=job.created_at,
    )  # fmt: skip
    with unavailable_on_failure("retry automation run"):
        moved.save()
        Item(PK=job.PK, SK=job.SK).delete()
