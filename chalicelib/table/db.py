"""Connections: binds the models to the configured table and hands out boto3 clients."""

from __future__ import annotations

import base64
import binascii
import json
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from functools import lru_cache
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError
from pynamodb.exceptions import DoesNotExist, PutError, PynamoDBConnectionError, PynamoDBException

from chalicelib.core.codes import Code
from chalicelib.core.config import Settings, get_settings
from chalicelib.core.errors import BadRequest, Unavailable
from chalicelib.table import models
from chalicelib.table import spec as table_spec


@lru_cache(maxsize=1)
def ensure_bound() -> Settings:
    """Bind the PynamoDB models once per process (first data access, never at import)."""
    settings = get_settings()
    models.bind(settings.table_name, region=settings.region, endpoint=settings.dynamodb_endpoint)
    return settings


def client_kwargs(settings: Settings) -> dict[str, Any]:
    kwargs: dict[str, Any] = {
        "region_name": settings.region,
        "config": Config(retries={"max_attempts": 3, "mode": "standard"}, connect_timeout=3, read_timeout=10),
    }
    if settings.dynamodb_endpoint:
        kwargs.update(endpoint_url=settings.dynamodb_endpoint, aws_access_key_id="local", aws_secret_access_key="local")
    return kwargs


@lru_cache(maxsize=1)
def dynamodb_client() -> Any:
    return boto3.client("dynamodb", **client_kwargs(get_settings()))


@lru_cache(maxsize=1)
def streams_client() -> Any:
    """The Streams API client: only the local stream pump reads it (Lambda receives the records)."""
    settings = get_settings()
    client = boto3.client("dynamodbstreams", **client_kwargs(settings))
    if settings.dynamodb_endpoint:
        client.meta.events.register("after-call.dynamodbstreams.GetRecords", restore_empty_maps)
    return client


def _empty_maps_restored(value: dict[str, Any]) -> dict[str, Any]:
    """An attribute value with every `{}` made `{"M": {}}` again, at any depth."""
    if not value:
        return {"M": {}}
    if "M" in value:
        return {"M": {k: _empty_maps_restored(v) for k, v in value["M"].items()}}
    if "L" in value:
        return {"L": [_empty_maps_restored(v) for v in value["L"]]}
    return value


def restore_empty_maps(parsed: dict[str, Any], **_: Any) -> None:
    """DynamoDB Local 3.3.1 writes an empty map in a stream record as `{}` (no type), which no
    deserialiser reads; the service writes `{"M": {}}`, and so does GetItem locally. `{}` is never a
    valid attribute value, so restoring it is exact."""
    for record in parsed.get("Records", []):
        data = record.get("dynamodb", {})
        for image in ("Keys", "NewImage", "OldImage"):
            if image in data:
                data[image] = {name: _empty_maps_restored(v) for name, v in data[image].items()}


def reset() -> None:
    """Forget cached bindings and clients (tests that switch tables)."""
    ensure_bound.cache_clear()
    dynamodb_client.cache_clear()
    streams_client.cache_clear()


# Service answers that mean "busy or down, try again", as opposed to a request we got wrong.
_TRANSIENT = frozenset(
    {
        "ProvisionedThroughputExceededException",
        "ThrottlingException",
        "RequestLimitExceeded",
        "InternalServerError",
        "ServiceUnavailable",
    }
)


@contextmanager
def unavailable_on_failure(what: str) -> Iterator[None]:
    """Storage that cannot be reached (or is throttling) becomes a 503 domain error.

    Errors the service answered for this request (a failed condition, a validation error)
    pass through unchanged for the caller to translate.
    """
    try:
        yield
    except BotoCoreError as exc:
        raise Unavailable(f"storage is unavailable ({what}); retry shortly", code=Code.STORAGE_UNAVAILABLE) from exc
    except PynamoDBConnectionError as exc:
        code = exc.cause_response_code
        if code is None or code in _TRANSIENT:
            raise Unavailable(f"storage is unavailable ({what}); retry shortly", code=Code.STORAGE_UNAVAILABLE) from exc
        raise


def cancel_codes(exc: ClientError) -> list[str] | None:
    """The per-item reasons (`ConditionalCheckFailed`, `TransactionConflict`, `None`, ...) of a cancelled low-level
    `TransactWriteItems`, in the order of its items; None for any other error."""
    if exc.response.get("Error", {}).get("Code") != "TransactionCanceledException":
        return None
    return [str(r.get("Code") or "None") for r in exc.response.get("CancellationReasons") or []]


def query_all(what: str, **request: Any) -> list[dict[str, Any]]:
    """Every item a low-level `Query` of the table finds (`request` without `TableName`), reading page after page:
    for partitions that are small by design (a wallet, a ledger, a catalogue), which callers read whole."""
    table = ensure_bound().table_name
    found: list[dict[str, Any]] = []
    start: dict[str, Any] | None = None
    while True:
        with unavailable_on_failure(what):
            resume = {"ExclusiveStartKey": start} if start else {}
            page = dynamodb_client().query(TableName=table, **request, **resume)
        found += page.get("Items", [])
        start = page.get("LastEvaluatedKey")
        if start is None:
            return found


def delete_partition(what: str, pk: str, sk_prefixes: tuple[str, ...] = ()) -> int:
    """Delete every item of one partition (small by design: a person's check-ins, tier, task progress), or only those
    whose sort key starts with one of `sk_prefixes`, 25 keys a `BatchWriteItem`, retrying what DynamoDB leaves
    unprocessed; how many items went. Safe to repeat: a deleted item is not found again."""
    table = ensure_bound().table_name
    found = query_all(
        what, ConsistentRead=True, KeyConditionExpression="PK = :pk", ProjectionExpression="PK, SK",
        ExpressionAttributeValues={":pk": {"S": pk}},
    )  # fmt: skip
    if sk_prefixes:
        found = [i for i in found if i["SK"]["S"].startswith(sk_prefixes)]
    for start in range(0, len(found), 25):
        request: dict[str, Any] = {
            table: [{"DeleteRequest": {"Key": {"PK": i["PK"], "SK": i["SK"]}}} for i in found[start : start + 25]]
        }
        for attempt in range(8):
            with unavailable_on_failure(what):
                request = dynamodb_client().batch_write_item(RequestItems=request).get("UnprocessedItems") or {}
            if not request:
                break
            time.sleep(0.05 * 2**attempt)  # throttled: back off, then retry what is left
        if request:
            raise Unavailable(f"storage is unavailable ({what}); retry shortly", code=Code.STORAGE_UNAVAILABLE)
    return len(found)


def ensure_table(client: Any, table_name: str, *, wait_seconds: float = 30.0) -> bool:
    """Create the table from the spec if it is absent; returns True if it was created."""
    created = False
    try:
        client.describe_table(TableName=table_name)
    except ClientError as exc:
        if exc.response["Error"]["Code"] != "ResourceNotFoundException":
            raise
        try:
            client.create_table(**table_spec.create_table_request(table_name))
            created = True
        except ClientError as create_exc:
            if create_exc.response["Error"]["Code"] != "ResourceInUseException":
                raise
    _wait_active(client, table_name, wait_seconds)
    if created:
        client.update_time_to_live(
            TableName=table_name,
            TimeToLiveSpecification={"Enabled": True, "AttributeName": table_spec.TTL_ATTRIBUTE},
        )
    return created


def _wait_active(client: Any, table_name: str, wait_seconds: float) -> None:
    deadline = time.monotonic() + wait_seconds
    while True:
        status = client.describe_table(TableName=table_name)["Table"]["TableStatus"]
        if status == "ACTIVE":
            return
        if time.monotonic() > deadline:
            raise TimeoutError(f"table {table_name} is still {status}")
        time.sleep(0.2)


def stream_arn(client: Any, table_name: str) -> str:
    return str(client.describe_table(TableName=table_name)["Table"]["LatestStreamArn"])


def is_condition_failure(exc: PynamoDBException) -> bool:
    cause = getattr(exc, "cause_response_code", None)
    return cause in ("ConditionalCheckFailedException", "TransactionCanceledException")


def save_if(item: models.Item, condition: Any, what: str) -> bool:
    """Put `item` if `condition` holds (None: always); False when it did not, so the caller decides
    what a refused write means (a duplicate, a lost race)."""
    ensure_bound()
    try:
        with unavailable_on_failure(what):
            item.save(condition=condition)
    except PutError as exc:
        if is_condition_failure(exc):
            return False
        raise
    return True


def encode_cursor(value: dict[str, Any]) -> str:
    """An opaque page cursor: base64url JSON without padding."""
    return base64.urlsafe_b64encode(json.dumps(value, separators=(",", ":")).encode()).decode().rstrip("=")


def decode_cursor(cursor: str, expected_gsi1pk: str | None = None) -> dict[str, Any]:
    """The cursor's value; 400 `INVALID_CURSOR` unless it is one `encode_cursor` made (and, when
    `expected_gsi1pk` is given, a resume key into that listing's partition, not another tenant's)."""
    try:
        value = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        valid = isinstance(value, dict)
        if valid and expected_gsi1pk is not None:
            valid = value.get("GSI1PK") == {"S": expected_gsi1pk}
    except (binascii.Error, ValueError, UnicodeDecodeError):
        valid = False
    if not valid:
        raise BadRequest("the cursor is not one this listing returned", code=Code.INVALID_CURSOR)
    return value  # type: ignore[no-any-return]


def table_ready() -> None:
    """One cheap read on the table; raises Unavailable if it cannot be reached."""
    settings = ensure_bound()
    with unavailable_on_failure("health"):
        try:
            dynamodb_client().get_item(
                TableName=settings.table_name, Key={table_spec.PK: {"S": "HEALTH"}, table_spec.SK: {"S": "HEALTH"}}
            )
        except ClientError as exc:
            raise Unavailable(f"table {settings.table_name} is not ready", code=Code.STORAGE_UNAVAILABLE) from exc


def get_entity[T: models.Item](
    kind: type[T], pk: str, sk: str, *, consistent: bool = False, attributes: Sequence[str] | None = None
) -> T | None:
    """The item under (pk, sk) if it is a `kind`; None if absent (or another entity). With `attributes`,
    only those are read (the keys and the entity discriminator always are)."""
    ensure_bound()
    projection = [table_spec.PK, table_spec.SK, "entity", *attributes] if attributes is not None else None
    with unavailable_on_failure(f"get {kind.__name__}"):
        try:
            item = models.Item.get(pk, sk, consistent_read=consistent, attributes_to_get=projection)
        except DoesNotExist:
            return None
    return item if isinstance(item, kind) else None
