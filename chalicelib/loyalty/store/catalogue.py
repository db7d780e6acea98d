"""The redemption catalogue (`T#{tid}#LCAT` / `ITEM#{iid}`) and the tenant's points policy (`T#{tid}` /
`LOYALTY`). Redemptions take stock in the ledger's transaction (store/ledger.py); here only operators' changes."""

from __future__ import annotations

from typing import Any

from chalicelib.core.codes import Code
from chalicelib.core.errors import NotFound
from chalicelib.loyalty.rules.catalogue import CatalogueItem
from chalicelib.loyalty.store import documents
from chalicelib.table import keys
from chalicelib.table.db import dynamodb_client, ensure_bound, query_all, unavailable_on_failure


def _table() -> str:
    return ensure_bound().table_name


def _key(tid: str, iid: str) -> dict[str, Any]:
    return {"PK": {"S": keys.loyalty_catalogue_pk(tid)}, "SK": {"S": keys.loyalty_item_sk(iid)}}


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
            item[name] = documents.value_of(value)
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


# --- the points policy ---------------------------------------------------------------------------------------


def update(tid: str, iid: str, changes: dict[str, object], at: str) -> CatalogueItem:
    """Set `changes` (None removes a field) on an existing item; the item as it is now."""
    return _record(documents.patch(_key(tid, iid), changes, at, "catalogue item", lambda: _not_found(iid)))


def delete(tid: str, iid: str) -> None:
    documents.delete(_key(tid, iid), "catalogue item", lambda: _not_found(iid))


def settings(tid: str) -> tuple[str, int] | None:
    """The stored policy document and its version; None when the tenant never set one."""
    return documents.read(tid, keys.LOYALTY_SETTINGS_SK, "points policy")


def put_settings(tid: str, document: str, read_version: int, at: str, by: str) -> int:
    """Replace the policy if it is still at `read_version` (0: none yet); the new version."""
    return documents.put(tid, keys.LOYALTY_SETTINGS_SK, "loyalty_settings", "points policy", document, read_version,
                         at, by)  # fmt: skip
