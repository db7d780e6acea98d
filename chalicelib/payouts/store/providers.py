"""A tenant's payout provider credentials (`T#{tid}` / `PAYPROVIDER#{provider}`): one encrypted document each,
replaced whole, conditional on its version."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

from chalicelib.core.codes import Code
from chalicelib.core.errors import Conflict
from chalicelib.table import keys
from chalicelib.table.db import dynamodb_client, ensure_bound, unavailable_on_failure


@dataclass(frozen=True)
class StoredProvider:
    tid: str
    provider: str
    document_enc: str
    version: int
    updated_at: str


def _key(tid: str, provider: str) -> dict[str, Any]:
    return {"PK": {"S": keys.tenant_pk(tid)}, "SK": {"S": keys.payout_provider_sk(provider)}}


def _failed_condition(exc: ClientError) -> bool:
    return bool(exc.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException")


def get(tid: str, provider: str) -> StoredProvider | None:
    with unavailable_on_failure("payout provider credentials"):
        found = dynamodb_client().get_item(
            TableName=ensure_bound().table_name, Key=_key(tid, provider), ConsistentRead=True
        )
    item = found.get("Item")
    if not item:
        return None
    return StoredProvider(
        tid=tid, provider=provider, document_enc=item["document_enc"]["S"], version=int(item["version"]["N"]),
        updated_at=item["updated_at"]["S"],
    )  # fmt: skip


def put(tid: str, provider: str, document_enc: str, updated_at: str, expected_version: int | None) -> int:
    """Write the document over version `expected_version` (None: only if there is none); the new version. A
    concurrent change in between is a 409: the document was made from what is no longer there."""
    version = (expected_version or 0) + 1
    item = {
        **_key(tid, provider), "entity": {"S": "payout_provider"}, "tid": {"S": tid}, "provider": {"S": provider},
        "document_enc": {"S": document_enc}, "version": {"N": str(version)}, "updated_at": {"S": updated_at},
    }  # fmt: skip
    condition: dict[str, Any] = {"ConditionExpression": "attribute_not_exists(PK)"}
    if expected_version is not None:
        condition = {
            "ConditionExpression": "version = :v",
            "ExpressionAttributeValues": {":v": {"N": str(expected_version)}},
        }
    try:
        with unavailable_on_failure("payout provider credentials"):
            dynamodb_client().put_item(TableName=ensure_bound().table_name, Item=item, **condition)
    except ClientError as exc:
        if _failed_condition(exc):
            raise Conflict(
                "the provider credentials changed meanwhile; read them and retry", code=Code.CONCURRENT_UPDATE
            ) from exc
        raise
    return version


def delete(tid: str, provider: str) -> bool:
    """Remove the credentials; False when there were none."""
    try:
        with unavailable_on_failure("payout provider credentials"):
            dynamodb_client().delete_item(
                TableName=ensure_bound().table_name, Key=_key(tid, provider),
                ConditionExpression="attribute_exists(PK)",
            )  # fmt: skip
    except ClientError as exc:
        if _failed_condition(exc):
            return False
        raise
    return True
