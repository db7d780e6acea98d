"""The tenant's payout settings: one item beside the tenant, replaced whole, conditional on its version."""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from chalicelib.core.codes import Code
from chalicelib.core.errors import Conflict
from chalicelib.payouts.rules.records import StoredSettings
from chalicelib.table import keys
from chalicelib.table.db import dynamodb_client, ensure_bound, unavailable_on_failure


def _key(tid: str) -> dict[str, Any]:
    return {"PK": {"S": keys.tenant_pk(tid)}, "SK": {"S": keys.PAYOUT_SETTINGS_SK}}


def get(tid: str) -> StoredSettings | None:
    with unavailable_on_failure("payout settings"):
        found = dynamodb_client().get_item(TableName=ensure_bound().table_name, Key=_key(tid), ConsistentRead=True)
    item = found.get("Item")
    if not item:
        return None
    return StoredSettings(
        document=item["document"]["S"], version=int(item["version"]["N"]), updated_at=item["updated_at"]["S"],
        updated_by=item["updated_by"]["S"],
    )  # fmt: skip


def put(tid: str, document: str, read_version: int | None, at: str, by: str) -> int:
    """Replace the settings if they are still at `read_version` (None: none yet); the new version."""
    version = (read_version or 0) + 1
    item = {
        **_key(tid), "entity": {"S": "payout_settings"}, "tid": {"S": tid}, "document": {"S": document},
        "version": {"N": str(version)}, "updated_at": {"S": at}, "updated_by": {"S": by},
    }  # fmt: skip
    condition: dict[str, Any] = {"ConditionExpression": "attribute_not_exists(PK)"}
    if read_version is not None:
        condition = {
            "ConditionExpression": "version = :v",
            "ExpressionAttributeValues": {":v": {"N": str(read_version)}},
        }
    try:
        with unavailable_on_failure("payout settings"):
            dynamodb_client().put_item(TableName=ensure_bound().table_name, Item=item, **condition)
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
            raise Conflict(
                "the payout settings changed meanwhile; read them again", code=Code.CONCURRENT_UPDATE
            ) from exc
        raise
    return version
