"""The redemption catalogue (`T#{tid}#LCAT` / `ITEM#{iid}`) and the tenant's points policy (`T#{tid}` /
`LOYALTY`). Redemptions take stock in the ledger's transaction (store/ledger.py); here only operators' changes."""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from chalicelib.core.codes import Code
from chalicelib.core.errors import Conflict, NotFound
from chalicelib.loyalty.rules.catalogue import CatalogueItem
from chalicelib.table import keys
from chalicelib.table.db import dynamodb_client, ensure_bound, query_all, unavailable_on_failure


def _table() -> str:
    return ensure_bound().table_name


def _key(tid: str, iid: str) -> dict[str, Any]:
    return {"PK": {"S": keys.loyalty_catalogue_pk(tid)}, "SK": {"S": keys.loyalty_item_sk(iid)}}


def _value(value: object) -> dict[str, Any]:
    if isinstance(value, bool):
        return {"BOOL": value}
    if isinstance(value, int):
        return {"N": str(value)}
    return {"S": str(value)}


def _record(item: dict[str, Any]) -> CatalogueItem:
    text = {name: value["S"] for name, value in item.items() if "S" in value}
    return CatalogueItem(
        tid=text["tid"], item_id=text["item_id"], name=text["name"], cost_points=int(item["cost_points"]["N"]),
        stock=int(item["stock"]["N"]), created_at=text["created_at"], updated_at=text["updated_at"],
        description=text.get("description"),
        per_person_limit=int(item["per_person_limit"]["N"]) if "per_person_limit" in item else None,
        active=bool(item.get("active", {}).get("BOOL", True)),
    )  # fmt: skip


def _not_found(iid: str) -> NotFound:
    return NotFound("no such catalogue item", code=Code.LOYALTY_ITEM_NOT_FOUND, details={"item_id": iid})


def create(rec: CatalogueItem) -> None:
    item = {**_key(rec.tid, rec.item_id), "entity": {"S": "loyalty_item"}}
    for name, value in rec.view().items():
        if value is not None:
            item[name] = _value(value)
    item["tid"] = {"S": rec.tid}
    with unavailable_on_failure("catalogue item"):
        dynamodb_client().put_item(TableName=_table(), Item=item, ConditionExpression="attribute_not_exists(PK)")


def get(tid: str, iid: str) -> CatalogueItem | None:
    with unavailable_on_failure("catalogue item"):
        found = dynamodb_client().get_item(TableName=_table(), Key=_key(tid, iid), ConsistentRead=True)
    item = found.get("Item")
    return _record(item) if item else None


def items(tid: str) -> list[CatalogueItem]:
    """The whole catalogue (at most `MAX_ITEMS`, so every page is read), in id order."""
    found = query_all(
        "catalogue", KeyConditionExpression="PK = :pk AND begins_with(SK, :p)",
        ExpressionAttributeValues={":pk": {"S": keys.loyalty_catalogue_pk(tid)}, ":p": {"S": keys.LOYALTY_ITEM_PREFIX}},
    )  # fmt: skip
    return [_record(i) for i in found]


def update(tid: str, iid: str, changes: dict[str, object], at: str) -> CatalogueItem:
    """Set `changes` (None removes a field) on an existing item; the item as it is now."""
    names: dict[str, str] = {}
    values: dict[str, Any] = {":at": {"S": at}}
    sets, removes = ["updated_at = :at"], []
    for i, (name, value) in enumerate(changes.items()):
        names[f"#f{i}"] = name
        if value is None:
            removes.append(f"#f{i}")
        else:
            values[f":f{i}"] = _value(value)
            sets.append(f"#f{i} = :f{i}")
    expression = "SET " + ", ".join(sets) + (" REMOVE " + ", ".join(removes) if removes else "")
    try:
        with unavailable_on_failure("catalogue item"):
            done = dynamodb_client().update_item(
                TableName=_table(), Key=_key(tid, iid), UpdateExpression=expression,
                ConditionExpression="attribute_exists(PK)", ExpressionAttributeValues=values,
                ReturnValues="ALL_NEW", **({"ExpressionAttributeNames": names} if names else {}),
            )  # fmt: skip
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
            raise _not_found(iid) from exc
        raise
    return _record(done["Attributes"])


def delete(tid: str, iid: str) -> None:
    try:
        with unavailable_on_failure("catalogue item"):
            dynamodb_client().delete_item(
                TableName=_table(), Key=_key(tid, iid), ConditionExpression="attribute_exists(PK)"
            )
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
            raise _not_found(iid) from exc
        raise


# --- the points policy ---------------------------------------------------------------------------------------


def _settings_key(tid: str) -> dict[str, Any]:
    return {"PK": {"S": keys.tenant_pk(tid)}, "SK": {"S": keys.LOYALTY_SETTINGS_SK}}


def settings(tid: str) -> tuple[str, int] | None:
    """The stored policy document and its version; None when the tenant never set one."""
    with unavailable_on_failure("points policy"):
        found = dynamodb_client().get_item(TableName=_table(), Key=_settings_key(tid), ConsistentRead=True)
    item = found.get("Item")
    return (item["document"]["S"], int(item["version"]["N"])) if item else None


def put_settings(tid: str, document: str, read_version: int, at: str, by: str) -> int:
    """Replace the policy if it is still at `read_version` (0: none yet); the new version."""
    item = {
        **_settings_key(tid), "entity": {"S": "loyalty_settings"}, "tid": {"S": tid}, "document": {"S": document},
        "version": {"N": str(read_version + 1)}, "updated_at": {"S": at}, "updated_by": {"S": by},
    }  # fmt: skip
    condition: dict[str, Any] = {"ConditionExpression": "attribute_not_exists(PK)"}
    if read_version:
        values = {":v": {"N": str(read_version)}}
        condition = {"ConditionExpression": "version = :v", "ExpressionAttributeValues": values}
    try:
        with unavailable_on_failure("points policy"):
            dynamodb_client().put_item(TableName=_table(), Item=item, **condition)
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
            raise Conflict("the points policy changed meanwhile; read it again", code=Code.CONCURRENT_UPDATE) from exc
        raise
    return read_version + 1
