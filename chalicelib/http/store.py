"""Rate-limit counters: one item per (scope, subject, window), added to with a single UpdateItem.

The raw low-level client, not PynamoDB: the limiter's write must be one cheap `ADD` that answers
with the new global total, and nothing else. Counters expire by TTL after their window.
"""

from __future__ import annotations

from chalicelib.table import keys
from chalicelib.table import spec as table_spec
from chalicelib.table.db import dynamodb_client, ensure_bound

ENTITY = "rate_counter"  # no stream handler reads it; named so a scan of the table can tell it apart


class TableCounterStore:
    def add(self, scope: str, subject_hash: str, window_seconds: int, start: int, n: int, expires_at: int) -> int:
        """Add `n` to the window's counter and return the global total after the add.

        Errors are the caller's: the limiter fails open on any of them.
        """
        settings = ensure_bound()
        answer = dynamodb_client().update_item(
            TableName=settings.table_name,
            Key={
                table_spec.PK: {"S": keys.rate_counter_pk(scope, subject_hash)},
                table_spec.SK: {"S": keys.rate_window_sk(window_seconds, start)},
            },
            UpdateExpression="ADD #n :n SET #ttl = if_not_exists(#ttl, :ttl), #entity = if_not_exists(#entity, :e)",
            ExpressionAttributeNames={"#n": "n", "#ttl": table_spec.TTL_ATTRIBUTE, "#entity": "entity"},
            ExpressionAttributeValues={":n": {"N": str(n)}, ":ttl": {"N": str(expires_at)}, ":e": {"S": ENTITY}},
            ReturnValues="UPDATED_NEW",
        )
        return int(answer["Attributes"]["n"]["N"])
