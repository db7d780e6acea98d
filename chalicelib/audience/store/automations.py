"""Automation rules (per tenant) and the delayed runs waiting for their time."""

from __future__ import annotations

from dataclasses import replace

from chalicelib.audience.rules.records import AutomationJobRecord, AutomationRecord
from chalicelib.table import keys
from chalicelib.table.db import ensure_bound, get_entity, save_if, unavailable_on_failure
from chalicelib.table.models import AutomationItem, AutomationJobItem, Item

JOB_SHARDS = keys.AUTOMATION_JOB_SHARDS


def _record(item: AutomationItem) -> AutomationRecord:
    return AutomationRecord(
        tid=item.tid, aid=item.aid, name=item.name, enabled=bool(item.enabled), trigger=item.trigger,
        conditions=item.conditions, delay_minutes=int(item.delay_minutes or 0), actions=item.actions,
        version=int(item.version), created_at=item.created_at, updated_at=item.updated_at,
    )  # fmt: skip


def _item(rule: AutomationRecord) -> AutomationItem:
    item = AutomationItem(
        PK=keys.tenant_pk(rule.tid), SK=keys.automation_sk(rule.aid), tid=rule.tid, aid=rule.aid, name=rule.name,
        enabled=rule.enabled, trigger=rule.trigger, conditions=rule.conditions, delay_minutes=rule.delay_minutes,
        actions=rule.actions, version=rule.version, created_at=rule.created_at, updated_at=rule.updated_at,
    )  # fmt: skip
    # Enabled rules with a scheduled trigger are listed where the schedules look; others are not.
    if rule.scheduled:
        item.GSI2PK = keys.SCHEDULED_AUTOMATIONS_GSI2PK
        item.GSI2SK = keys.scheduled_automation_gsi2sk(rule.tid, rule.aid)
    return item


def list_rules(tid: str, *, consistent: bool = True) -> list[AutomationRecord]:
    ensure_bound()
    with unavailable_on_failure("automations"):
        found = Item.query(keys.tenant_pk(tid), Item.SK.startswith(keys.AUTOMATION_PREFIX), consistent_read=consistent)
        return [_record(i) for i in found if isinstance(i, AutomationItem)]


def get(tid: str, aid: str) -> AutomationRecord | None:
    item = get_entity(AutomationItem, keys.tenant_pk(tid), keys.automation_sk(aid), consistent=True)
    return _record(item) if item is not None else None


def put(rule: AutomationRecord, expected_version: int | None) -> bool:
    """Create (`expected_version` None) or replace the version read; False if someone got there first."""
    ensure_bound()
    condition = Item.PK.does_not_exist() if expected_version is None else AutomationItem.version == expected_version
    return save_if(_item(rule), condition, "save automation")


def delete(tid: str, aid: str) -> None:
    ensure_bound()
    with unavailable_on_failure("delete automation"):
        Item(PK=keys.tenant_pk(tid), SK=keys.automation_sk(aid)).delete()


def scheduled() -> list[AutomationRecord]:
    """Every enabled rule with a scheduled trigger, across tenants (a sparse index: a handful of items)."""
    ensure_bound()
    with unavailable_on_failure("scheduled automations"):
        found = Item.gsi2.query(keys.SCHEDULED_AUTOMATIONS_GSI2PK)
        return [_record(i) for i in found if isinstance(i, AutomationItem)]


# ---- delayed runs -------------------------------------------------------------------------


def _job_pk(run_id: str) -> str:
    """A run's shard follows from its id (hex), so the run is found again wherever it waits."""
    return keys.automation_job_pk(int(run_id[:8], 16) % JOB_SHARDS)


def _job(item: AutomationJobItem) -> AutomationJobRecord:
    due, _, _ = item.SK.rpartition("#")
    return AutomationJobRecord(
        tid=item.tid, aid=item.aid, uid=item.uid, run_id=item.run_id, occurrence=item.occurrence,
        context=item.context, attempts=int(item.attempts or 0), created_at=item.created_at, due=due,
    )  # fmt: skip


def _job_item(job: AutomationJobRecord) -> AutomationJobItem:
    return AutomationJobItem(
        PK=_job_pk(job.run_id), SK=keys.automation_job_sk(job.due, job.run_id), tid=job.tid, aid=job.aid,
        uid=job.uid, run_id=job.run_id, occurrence=job.occurrence, context=job.context, attempts=job.attempts,
        created_at=job.created_at,
    )  # fmt: skip


def _job_key(job: AutomationJobRecord) -> Item:
    return Item(PK=_job_pk(job.run_id), SK=keys.automation_job_sk(job.due, job.run_id))


def add_job(job: AutomationJobRecord) -> bool:
    """False when this run is already waiting (a redelivered batch)."""
    ensure_bound()
    return save_if(_job_item(job), Item.PK.does_not_exist(), "queue automation run")


def due_jobs(shard: int, until: str, limit: int) -> list[AutomationJobRecord]:
    ensure_bound()
    with unavailable_on_failure("due automation runs"):
        found = Item.query(keys.automation_job_pk(shard), Item.SK <= f"{until}#~", limit=limit)
        return [_job(i) for i in found if isinstance(i, AutomationJobItem)]


def finish_job(job: AutomationJobRecord) -> None:
    ensure_bound()
    with unavailable_on_failure("finish automation run"):
        _job_key(job).delete()


def retry_job(job: AutomationJobRecord, due: str) -> None:
    """Move a run that failed to a later time (its actions are idempotent, so a repeat is harmless)."""
    ensure_bound()
    moved = _job_item(replace(job, due=due, attempts=job.attempts + 1))
    with unavailable_on_failure("retry automation run"):
        moved.save()
        _job_key(job).delete()
