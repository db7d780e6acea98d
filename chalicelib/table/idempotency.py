"""Client-retried POSTs run once per Idempotency-Key (Powertools Idempotency on the single table)."""

from __future__ import annotations

import re
import warnings
from collections.abc import Callable
from functools import lru_cache
from typing import Any

from aws_lambda_powertools.utilities.idempotency import (
    DynamoDBPersistenceLayer,
    IdempotencyConfig,
    idempotent_function,
)
from aws_lambda_powertools.utilities.idempotency.exceptions import (
    IdempotencyAlreadyInProgressError,
    IdempotencyValidationError,
)

from chalicelib.core.codes import Code
from chalicelib.core.errors import BadRequest, Conflict, ValidationFailed
from chalicelib.table import keys
from chalicelib.table import spec as table_spec
from chalicelib.table.db import dynamodb_client, ensure_bound

RETENTION_SECONDS = 24 * 3600
_KEY_RE = re.compile(r"^[A-Za-z0-9_\-:.]{8,128}$")


class SingleTablePersistence(DynamoDBPersistenceLayer):
    """Records keyed by the idempotency hash itself in PK, so they spread over partitions
    (Powertools' composite-key mode would put every record under one static PK)."""

    def _get_key(self, idempotency_key: str) -> dict[str, Any]:
        return {table_spec.PK: {"S": idempotency_key}, table_spec.SK: {"S": keys.IDEMPOTENCY_SK}}


@lru_cache(maxsize=1)
def _persistence() -> SingleTablePersistence:
    settings = ensure_bound()
    return SingleTablePersistence(
        table_name=settings.table_name,
        key_attr=table_spec.PK,
        expiry_attr=table_spec.TTL_ATTRIBUTE,
        boto3_client=dynamodb_client(),
    )


_CONFIG = IdempotencyConfig(
    event_key_jmespath="key",
    payload_validation_jmespath="body",
    expires_after_seconds=RETENTION_SECONDS,
    raise_on_no_idempotency_key=True,
)


def run_once(scope: str, key: str | None, body: dict[str, Any], fn: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    """Run `fn` once for (`scope`, `key`); a retry with the same key gets the first result.

    A retry with the same key and a different body is refused, not silently answered.
    Failures are not remembered: after an error the client may retry with the same key.
    """
    if key is None:
        return fn()
    if not _KEY_RE.match(key):
        raise BadRequest(
            "Idempotency-Key must be 8-128 characters of letters, digits, '-', '_', ':' or '.'",
            code=Code.INVALID_IDEMPOTENCY_KEY,
        )

    def call(request: dict[str, Any]) -> dict[str, Any]:
        return fn()

    guarded = idempotent_function(
        data_keyword_argument="request", persistence_store=_persistence(), config=_CONFIG, key_prefix=scope
    )(call)
    try:
        with warnings.catch_warnings():
            # Outside Lambda there is no remaining-time context to register; that is fine here.
            warnings.filterwarnings("ignore", message="Couldn't determine the remaining time left")
            result: dict[str, Any] = guarded(request={"key": key, "body": body})
    except IdempotencyValidationError as exc:
        raise ValidationFailed(
            "this Idempotency-Key was used with a different request body", code=Code.IDEMPOTENCY_KEY_REUSED
        ) from exc
    except IdempotencyAlreadyInProgressError as exc:
        raise Conflict("a request with this Idempotency-Key is in progress", code=Code.REQUEST_IN_PROGRESS) from exc
    return result
