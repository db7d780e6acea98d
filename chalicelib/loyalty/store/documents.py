"""What the loyalty stores share: a tenant's versioned settings documents (the points policy, the check-in
programme, the tier ladder: JSON beside the tenant, replaced whole at the version read) and the patching and
deleting of an operator-defined item (a catalogue item, a task)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from botocore.exceptions import ClientError

from chalicelib.core.codes import Code
from chalicelib.core.errors import Conflict, NotFound
from chalicelib.table import keys
from chalicelib.table.db import dynamodb_client, ensure_bound, unavailable_on_failure


def _table() -> str:
    return ensure_bound().table_name


def _failed_condition(exc: ClientError) -> bool:
    return bool(exc.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException")


def _key(tid: str, sk: str) -> dict[str, Any]:
    return {"PK": {"S": keys.tenant_pk(tid)}, "SK": {"S": sk}}


def read(tid: str, sk: str, what: str) -> tuple[str, int] | None:
    """The stored document and its version; None when the tenant never set one."""
    with unavailable_on_failure(what):
        found = dynamodb_client().get_item(TableName=_table(), Key=_key(tid, sk), ConsistentRead=True)
    item = found.get("Item")
    return (item["document"]["S"], int(item["version"]["N"])) if item else None


def put(tid: str, sk: str, entity: str, what: str, document: str, read_version: int, at: str, by: str) -> int:
    """Replace the document if it is still at `read_version` (0: none yet); the new version. Another change written
    meanwhile is a 409 `CONCURRENT_UPDATE`: the caller reads again."""
    item = {
        **_key(tid, sk), "entity": {"S": entity}, "tid": {"S": tid}, "document": {"S": document},
        "version": {"N": str(read_version + 1)}, "updated_at": {"S": at}, "updated_by": {"S": by},
    }  # fmt: skip
    condition: dict[str, Any] = {"ConditionExpression": "attribute_not_exists(PK)"}
    if read_version:
        values = {":v": {"N": str(read_version)}}
        condition = {"ConditionExpression": "version = :v", "ExpressionAttributeValues": values}
    try:
        with unavailable_on_failure(what):
            dynamodb_client().put_item(TableName=_table(), Item=item, **condition)
    except ClientError as exc:
        if _failed_condition(exc):
            raise Conflict(
                f"the {what} changed meanwhile; read again, then retry", code=Code.CONCURRENT_UPDATE
            ) from exc
        raise
    return read_version + 1


def value_of(value: object) -> dict[str, Any]:
    """A field of an operator-defined item as DynamoDB takes it."""
    if isinstance(value, bool):
        return {"BOOL": value}
    if isinstance(value, int):
        return {"N": str(value)}
    return {"S": str(value)}


def patch(
    key: dict[str, Any], changes: dict[str, object], at: str, what: str, not_found: Callable[[], NotFound]
) -> dict[str, Any]:
    """Set `changes` (None removes a field) and `updated_at` on an existing item; the item as it is now."""
    names: dict[str, str] = {}
    values: dict[str, Any] = {":at": {"S": at}}
    sets, removes = ["updated_at = :at"], []
    for i, (name, value) in enumerate(changes.items()):
        names[f"#f{i}"] = name
        if value is None:
            removes.append(f"#f{i}")
        else:
            values[f":f{i}"] = value_of(value)
            sets.append(f"#f{i} = :f{i}")
    expression = "SET " + ", ".join(sets) + (" REMOVE " + ", ".join(removes) if removes else "")
    try:
        with unavailable_on_failure(what):
            done = dynamodb_client().update_item(
                TableName=_table(), Key=key, UpdateExpression=expression,
                ConditionExpression="attribute_exists(PK)", ExpressionAttributeValues=values,
                ReturnValues="ALL_NEW", **({"ExpressionAttributeNames": names} if names else {}),
            )  # fmt: skip
    except ClientError as exc:
        if _failed_condition(exc):
            raise not_found() from exc
        raise
    return dict(done["Attributes"])


def delete(key: dict[str, Any], what: str, not_found: Callable[[], NotFound]) -> None:
    """Delete an existing item; a missing one is `not_found()`."""
    try:
        with unavailable_on_failure(what):
            dynamodb_client().delete_item(TableName=_table(), Key=key, ConditionExpression="attribute_exists(PK)")
    except ClientError as exc:
        if _failed_condition(exc):
            raise not_found() from exc
        raise
