"""Tasks (游戏化任务): operators' definitions (audited), progress counted from the stream's facts, the reward on
completion credited once per period, and the participant's view (docs/retention.md).

Every fact reaches `record` (one fact) or `count` (several facts of one person): the stream's joins, counted
invites, helps, paid orders and view beacons through `on_batch`, check-ins from the check-in handler. A fact
counts once (its id goes into a set on the progress item), in the period its own time falls in (the tenant's local
day or ISO week); reaching the target credits the task's points under a source named by the task and the period,
so a redelivered batch, or a fact arriving after the target, never pays twice.
"""

from __future__ import annotations

import secrets
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time
from typing import Any
from zoneinfo import ZoneInfo

from chalicelib.accounts import audit, tenants
from chalicelib.campaigns import live
from chalicelib.core.clock import iso, parse_iso, utcnow
from chalicelib.core.codes import Code
from chalicelib.core.errors import Conflict, NotFound
from chalicelib.core.observability import logger
from chalicelib.core.rbac import Principal
from chalicelib.loyalty import catalogue, points
from chalicelib.loyalty.rules import tasks as rules
from chalicelib.loyalty.rules.points import Kind, PointsEntry, expiry_of
from chalicelib.loyalty.rules.tasks import MAX_TASKS, Fact, FactKind, Task, TaskCreate, TaskPatch
from chalicelib.loyalty.store import ledger
from chalicelib.loyalty.store import tasks as store
from chalicelib.referral import identity
from chalicelib.referral.rules.records import ParticipantRecord
from chalicelib.table.changes import Change
from chalicelib.table.images import AssistImage, BeaconImage, CheckinImage, OrderImage, ParticipantImage

# --- operators -------------------------------------------------------------------------------------------------


def _not_found(task_id: str) -> NotFound:
    return NotFound("no such task", code=Code.LOYALTY_TASK_NOT_FOUND, details={"task_id": task_id})


def listing(actor: Principal) -> dict[str, Any]:
    return {"tasks": [t.view() for t in store.tasks(actor.tid)]}


def read(actor: Principal, task_id: str) -> dict[str, Any]:
    found = store.get(actor.tid, task_id)
    if found is None:
        raise _not_found(task_id)
    return found.view()


def create(actor: Principal, body: TaskCreate, now: datetime) -> dict[str, Any]:
    if len(store.tasks(actor.tid, consistent=True)) >= MAX_TASKS:
        raise Conflict(f"at most {MAX_TASKS} tasks per tenant", code=Code.TOO_MANY_LOYALTY_TASKS)
    at = iso(now)
    rec = Task(
        tid=actor.tid, task_id="lt_" + secrets.token_hex(8), name=body.name, period=body.period, fact=body.fact,
        target=body.target, points=body.reward.points, created_at=at, updated_at=at, description=body.description,
        campaign_id=body.campaign_id, active=body.active,
    )  # fmt: skip
    store.create(rec)
    audit.record(actor.tid, actor.email, "loyalty.task.create", rec.task_id, body.model_dump(mode="json"), now)
    return rec.view()


def update(actor: Principal, task_id: str, body: TaskPatch, now: datetime) -> dict[str, Any]:
    sent = body.model_dump(mode="json", exclude_unset=True)
    changes: dict[str, object] = {}
    for name, value in sent.items():
        if name == "reward":
            if value is not None:
                changes["points"] = value["points"]
        elif value is not None or name in ("description", "campaign_id"):
            changes[name] = value  # null removes the optional fields and changes nothing of the required ones
    rec = store.update(actor.tid, task_id, changes, iso(now))
    audit.record(actor.tid, actor.email, "loyalty.task.update", task_id, sent, now)
    return rec.view()


def delete(actor: Principal, task_id: str, now: datetime) -> None:
    """The task stops counting at once; progress items of it are left to their TTL, its credited points stay."""
    store.delete(actor.tid, task_id)
    audit.record(actor.tid, actor.email, "loyalty.task.delete", task_id, {}, now)


# --- counting --------------------------------------------------------------------------------------------------


@dataclass
class _Tenant:
    """What counting needs of a tenant, read once per batch."""

    tz: str
    tasks: list[Task]
    expiry_days: int


@dataclass
class _Cache:
    tenants: dict[str, _Tenant] = field(default_factory=dict)

    def of(self, tid: str) -> _Tenant:
        if tid not in self.tenants:
            active = [t for t in store.tasks(tid, consistent=True) if t.active]
            expiry = catalogue.policy(tid).expiry_days if active else 0
            self.tenants[tid] = _Tenant(tenants.timezone(tid) if active else "UTC", active, expiry)
        return self.tenants[tid]


def count(tid: str, uid: str, facts: Iterable[Fact], cache: _Cache | None = None) -> list[str]:
    """Count the person's facts on every active task they match; the sources of the task rewards credited now.

    Facts are grouped by task and period, so a batch makes one write per progress item; a fact already counted
    (same id) adds nothing, and the reward of a task and period is credited once whatever arrives later."""
    tenant = (cache or _Cache()).of(tid)
    if not tenant.tasks:
        return []
    groups: dict[tuple[str, str], tuple[Task, dict[str, datetime]]] = {}
    for fact in facts:
        for task in tenant.tasks:
            if not rules.matches(task, fact):
                continue
            key = rules.period_key(task.period, fact.at, tenant.tz)
            _, found = groups.setdefault((task.task_id, key), (task, {}))
            found[fact.fact_id] = min(found.get(fact.fact_id, fact.at), fact.at)
    credited = []
    for (_, key), (task, found) in groups.items():
        # The earliest facts within the target only, in the order they happened: a set never grows past it, so
        # every id kept is one that counted.
        kept = sorted(found.items(), key=lambda item: (item[1], item[0]))[: task.target]
        counted = store.add_facts(
            tid, uid, task, key, {fact_id for fact_id, _ in kept}, iso(utcnow()),
            rules.keep_until(task.period, max(at for _, at in kept), tenant.tz),
        )  # fmt: skip
        if counted is not None and counted < task.target:
            continue
        # Dated at the fact that reached the target: the set held `counted - len(kept)` before these (exact unless
        # some were counted already, a redelivery, whose credit is then written already or dated a little later).
        last = kept[min(max(task.target - (counted or task.target) + len(kept), 1), len(kept)) - 1][1]
        # Reached now, or before (a redelivery after a failure between the two writes): the credit is once anyway.
        source = rules.reward_source(task.task_id, key)
        entry = PointsEntry(
            source=source, kind=Kind.TASK, points=task.points, created_at=iso(last),
            explanation=f"Task “{task.name}” done ({key})",
            expires_at=expiry_of(last.astimezone(UTC), tenant.expiry_days), cid=task.campaign_id,
        )  # fmt: skip
        if ledger.credit(tid, uid, entry):
            logger.info("task reward credited", tid=tid, task=task.task_id, period=key, points=task.points)
            credited.append(source)
    return credited


def record(tid: str, uid: str, kind: FactKind, at: datetime, fact_id: str, cid: str | None = None) -> list[str]:
    """One fact of one person (the ledger's owner, `points.owner_of`): the seam other handlers call, check-ins
    first. `at` is when it happened (time-zone aware); `fact_id` is unique per fact and the same when the fact is
    delivered again. Idempotent; the sources of the task rewards it credited."""
    return count(tid, uid, [Fact(kind, fact_id, at, cid)])


# --- facts from the stream -------------------------------------------------------------------------------------


def _when(change: Change) -> datetime:
    """When a fact whose item carries no date of it happened: when the change was written."""
    return datetime.fromtimestamp(change.created, tz=UTC) if change.created else utcnow()


def _noon(tid: str, day: str) -> datetime:
    """Noon of a tenant-local day, as an instant: inside that day whatever the zone's offset changes."""
    return datetime.combine(date.fromisoformat(day), time(12), tzinfo=ZoneInfo(tenants.timezone(tid))).astimezone(UTC)


def _owner(new: ParticipantImage) -> str:
    return new.person or f"c_{new.code}"


def facts_of(change: Change) -> tuple[tuple[str, str] | None, list[tuple[str, str | None, Fact]]]:
    """The change's facts: ((tenant, owner) when the image names the person, [(code to look the person up by,
    the tenant when the image names it, fact)] otherwise)."""
    if change.event == "REMOVE":
        return None, []
    new = change.new
    if isinstance(new, ParticipantImage):
        old = change.old_as(ParticipantImage)
        if new.erasing_at or new.erased_at:
            return None, []
        found: list[Fact] = []
        if old is None:
            found.append(Fact(FactKind.JOINED, f"joined:{new.cid}:{new.code}", parse_iso(new.joined_at), new.cid))
        for invitee in sorted(new.counted - (old.counted if old else frozenset())):
            found.append(Fact(FactKind.INVITED, f"invited:{new.cid}:{invitee}", _when(change), new.cid))
        return ((new.tid, _owner(new)) if found else None), [(new.code, new.tid, f) for f in found]
    if isinstance(new, OrderImage):
        old_order = change.old_as(OrderImage)
        if new.buyer and new.status == "paid" and (old_order is None or old_order.status != "paid"):
            return None, [(new.buyer, new.tid, Fact(FactKind.ORDER_PAID, f"order:{new.oid}", parse_iso(new.paid_at),
                                                    new.cid))]  # fmt: skip
        return None, []
    if isinstance(new, AssistImage):
        old_assist = change.old_as(AssistImage)
        helpers = set(new.helped) - set(old_assist.helped if old_assist else ())
        return None, [
            (h, new.tid, Fact(FactKind.HELPED, f"helped:{new.cid}:{new.owner}:{h}", _when(change), new.cid))
            for h in sorted(helpers)
        ]
    if isinstance(new, CheckinImage) and change.event == "INSERT":
        # A check-in (or a make-up) counts in the local day it covers, so a make-up counts in that day's week; it
        # belongs to the tenant, not a campaign (cid None: only tasks without a campaign count it).
        fact = Fact(FactKind.CHECKED_IN, f"checked_in:{new.date}", _noon(new.tid, new.date), None)
        return (new.tid, new.uid), [(new.code, new.tid, fact)]
    if isinstance(new, BeaconImage) and change.event == "INSERT" and new.type == "view" and new.code and new.key:
        return None, [(new.code, None, Fact(FactKind.VIEWED, f"viewed:{new.key}", parse_iso(new.at), new.cid))]
    return None, []


def _tenant_of(tid: str | None, fact: Fact) -> str | None:
    """The fact's tenant: from its image, else (a beacon) from its campaign's cached record."""
    if tid is not None or fact.cid is None:
        return tid
    try:
        return live.campaign(fact.cid).tid
    except NotFound:
        return None  # a campaign deleted since: nothing of it counts


def on_batch(batch: list[Change]) -> set[str]:
    """Stream handler: each person's facts of the batch counted together; what failed is retried (safely: a fact
    counts once, a reward is credited once). Facts no active task of their tenant counts are dropped before any
    person is looked up, so a tenant without tasks costs one query per batch."""
    by_person: dict[tuple[str, str], list[Fact]] = defaultdict(list)
    sequences: dict[tuple[str, str], set[str]] = defaultdict(set)
    pending: list[tuple[str, str, Fact, str]] = []
    cache = _Cache()
    failed: set[str] = set()
    for change in batch:
        try:
            person, found = facts_of(change)
            for code, image_tid, fact in found:
                tid = person[0] if person is not None else _tenant_of(image_tid, fact)
                if tid is None or not any(rules.matches(t, fact) for t in cache.of(tid).tasks):
                    continue
                if person is not None:
                    by_person[person].append(fact)
                    sequences[person].add(change.sequence)
                else:
                    pending.append((code, tid, fact, change.sequence))
        except Exception:
            logger.exception("task facts unreadable", entity=change.entity, sequence=change.sequence)
            failed.add(change.sequence)
    if pending:
        try:
            people = identity.persons({code for code, _, _, _ in pending})
        except Exception:
            logger.exception("task facts: people not found", facts=len(pending))
            return failed | {sequence for *_, sequence in pending}
        for code, tid, fact, sequence in pending:
            # A participant who joined before profiles existed has their code's ledger, as for points.
            person = people.get(code) or (tid, f"c_{code}")
            by_person[person].append(fact)
            sequences[person].add(sequence)
    for (tid, uid), facts in by_person.items():
        try:
            count(tid, uid, facts, cache)
        except Exception:
            logger.exception("task progress failed", tenant_id=tid, uid=uid, facts=len(facts))
            failed |= sequences[(tid, uid)]
    return failed


# --- the participant -------------------------------------------------------------------------------------------


def mine(cid: str, authorization: str | None, now: datetime) -> dict[str, Any]:
    """The tenant's active tasks that count in this campaign, with the person's progress in the current period."""
    rec = live.campaign(cid)
    participant = identity.authenticated(cid, authorization, now)
    uid = points.owner_of(participant)
    shown = [t for t in store.tasks(rec.tid) if t.active and t.campaign_id in (None, cid)]
    if not shown:
        return {"tasks": []}
    tz = tenants.timezone(rec.tid)
    keys = {t.task_id: rules.period_key(t.period, now, tz) for t in shown}
    counted = store.progress(rec.tid, uid, list(keys.items()))
    return {"tasks": [rules.progress_view(t, counted.get((t.task_id, keys[t.task_id]), 0), now, tz) for t in shown]}


# --- data-subject rights (docs/privacy.md) -----------------------------------------------------------------------


def subject_export(tid: str, participant: ParticipantRecord) -> list[dict[str, Any]]:
    """The person's progress on the tenant's tasks for a data-subject export: every task and period with progress,
    named as the task is now (a task deleted since keeps its id only)."""
    defined = {t.task_id: t for t in store.tasks(tid)}
    out = []
    for p in store.all_progress(tid, points.owner_of(participant)):
        task = defined.get(p.task_id)
        out.append({
            "task_id": p.task_id, "name": task.name if task else None, "period_key": p.period_key,
            "progress": min(p.counted, task.target) if task else p.counted, "target": task.target if task else None,
            "done": p.counted >= task.target if task else None, "updated_at": p.updated_at,
        })  # fmt: skip
    return out


def forget(tid: str, participant: ParticipantRecord) -> int:
    """Data-subject erasure: the progress goes (the facts it counted name days, orders and invitees); a task's points
    stay in the ledger. How many items went."""
    return store.forget(tid, points.owner_of(participant))
