"""Task definitions (`T#{tid}#LTASK` / `TASK#{task_id}`) and people's progress on them (`T#{tid}#TASKS#{uid}` /
`P#{task_id}#{period_key}`), with the low-level client.

A progress item keeps the ids of the facts it counted in a string set (`facts`): adding one is a set union, so a
fact delivered twice counts once; the union is conditional on the set being below the task's target, so the item
stays small however many facts come after the task is done.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

from chalicelib.core.codes import Code
from chalicelib.core.errors import NotFound
from chalicelib.loyalty.rules.tasks import FactKind, Period, Task
from chalicelib.loyalty.store import documents
from chalicelib.table import keys
from chalicelib.table.db import delete_partition, dynamodb_client, ensure_bound, query_all, unavailable_on_failure

# BatchGetItem reads at most this many keys per call.
_BATCH = 100


def _table() -> str:
    return ensure_bound().table_name


def _s(value: str) -> dict[str, str]:
    return {"S": value}


def _key(tid: str, task_id: str) -> dict[str, Any]:
    return {"PK": _s(keys.loyalty_tasks_pk(tid)), "SK": _s(keys.loyalty_task_sk(task_id))}


def _record(item: dict[str, Any]) -> Task:
    text = {name: value["S"] for name, value in item.items() if "S" in value}
    return Task(
        tid=text["tid"], task_id=text["task_id"], name=text["name"], period=Period(text["period"]),
        fact=FactKind(text["fact"]), target=int(item["target"]["N"]), points=int(item["points"]["N"]),
        created_at=text["created_at"], updated_at=text["updated_at"], description=text.get("description"),
        campaign_id=text.get("campaign_id"), active=bool(item.get("active", {}).get("BOOL", True)),
    )  # fmt: skip


def _fields(rec: Task) -> dict[str, object]:
    return {
        "tid": rec.tid, "task_id": rec.task_id, "name": rec.name, "period": rec.period.value, "fact": rec.fact.value,
        "target": rec.target, "points": rec.points, "created_at": rec.created_at, "updated_at": rec.updated_at,
        "description": rec.description, "campaign_id": rec.campaign_id, "active": rec.active,
    }  # fmt: skip


def _not_found(task_id: str) -> NotFound:
    return NotFound("no such task", code=Code.LOYALTY_TASK_NOT_FOUND, details={"task_id": task_id})


def create(rec: Task) -> None:
    item = {**_key(rec.tid, rec.task_id), "entity": _s("loyalty_task")}
    item.update({name: documents.value_of(value) for name, value in _fields(rec).items() if value is not None})
    with unavailable_on_failure("task"):
        dynamodb_client().put_item(TableName=_table(), Item=item, ConditionExpression="attribute_not_exists(PK)")


def get(tid: str, task_id: str) -> Task | None:
    with unavailable_on_failure("task"):
        found = dynamodb_client().get_item(TableName=_table(), Key=_key(tid, task_id), ConsistentRead=True)
    item = found.get("Item")
    return _record(item) if item else None


def tasks(tid: str, *, consistent: bool = False) -> list[Task]:
    """Every task of the tenant (at most `MAX_TASKS`), in id order."""
    found = query_all(
        "tasks", ConsistentRead=consistent, KeyConditionExpression="PK = :pk AND begins_with(SK, :p)",
        ExpressionAttributeValues={":pk": _s(keys.loyalty_tasks_pk(tid)), ":p": _s(keys.LOYALTY_TASK_PREFIX)},
    )  # fmt: skip
    return [_record(i) for i in found]


def update(tid: str, task_id: str, changes: dict[str, object], at: str) -> Task:
    """Set `changes` (None removes a field) on an existing task; the task as it is now."""
    return _record(documents.patch(_key(tid, task_id), changes, at, "task", lambda: _not_found(task_id)))


def delete(tid: str, task_id: str) -> None:
    documents.delete(_key(tid, task_id), "task", lambda: _not_found(task_id))


# --- progress --------------------------------------------------------------------------------------------------


def add_facts(
    tid: str, uid: str, task: Task, key: str, fact_ids: set[str], at: str, keep_until: int | None
) -> int | None:
    """Add the facts to the person's progress on `task` in period `key` (a set union: ids counted before add
    nothing); the number of facts counted now, or None when the progress had already reached the target."""
    values: dict[str, Any] = {
        ":ids": {"SS": sorted(fact_ids)}, ":target": {"N": str(task.target)}, ":e": _s("task_progress"),
        ":tid": _s(tid), ":uid": _s(uid), ":task": _s(task.task_id), ":period": _s(key), ":at": _s(at),
    }  # fmt: skip
    sets = "entity = :e, tid = :tid, uid = :uid, task_id = :task, period_key = :period, updated_at = :at"
    if keep_until is not None:
        sets += ", expires_at = :ttl"
        values[":ttl"] = {"N": str(keep_until)}
    try:
        with unavailable_on_failure("task progress"):
            done = dynamodb_client().update_item(
                TableName=_table(),
                Key={"PK": _s(keys.task_progress_pk(tid, uid)), "SK": _s(keys.task_progress_sk(task.task_id, key))},
                UpdateExpression=f"ADD facts :ids SET {sets}",
                ConditionExpression="attribute_not_exists(facts) OR size(facts) < :target",
                ExpressionAttributeValues=values, ReturnValues="ALL_NEW",
            )  # fmt: skip
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
            return None
        raise
    return len(done["Attributes"]["facts"]["SS"])


def progress(tid: str, uid: str, periods: list[tuple[str, str]]) -> dict[tuple[str, str], int]:
    """(task id, period key) -> how many facts the person's progress counted, for the pairs that have progress."""
    wanted = [{"PK": _s(keys.task_progress_pk(tid, uid)), "SK": _s(keys.task_progress_sk(t, k))} for t, k in periods]
    out: dict[tuple[str, str], int] = {}
    table = _table()
    for start in range(0, len(wanted), _BATCH):
        request: dict[str, Any] = {table: {"Keys": wanted[start : start + _BATCH], "ConsistentRead": True}}
        while request:
            with unavailable_on_failure("task progress"):
                found = dynamodb_client().batch_get_item(RequestItems=request)
            for item in found.get("Responses", {}).get(table, []):
                out[(item["task_id"]["S"], item["period_key"]["S"])] = len(item.get("facts", {}).get("SS", []))
            request = found.get("UnprocessedKeys") or {}
    return out


@dataclass(frozen=True)
class Progress:
    """One item of a person's progress: a task in one period, how many facts it counted and when it last moved."""

    task_id: str
    period_key: str
    counted: int
    updated_at: str | None


def all_progress(tid: str, uid: str) -> list[Progress]:
    """Every progress item of the person (a data-subject export), in key order: task, then period."""
    found = query_all(
        "task progress", ConsistentRead=True, KeyConditionExpression="PK = :pk",
        ExpressionAttributeValues={":pk": _s(keys.task_progress_pk(tid, uid))},
    )  # fmt: skip
    return [
        Progress(
            task_id=i["task_id"]["S"],
            period_key=i["period_key"]["S"],
            counted=len(i.get("facts", {}).get("SS", [])),
            updated_at=i.get("updated_at", {}).get("S"),
        )
        for i in found
        if "task_id" in i and "period_key" in i
    ]


def forget(tid: str, uid: str) -> int:
    """Data-subject erasure: every progress item of the person goes (the facts it counted name their days,
    orders and invitees); how many there were."""
    return delete_partition("forget task progress", keys.task_progress_pk(tid, uid))
