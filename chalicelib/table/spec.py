"""The single table's shape: one description used by infra/ (CDK), the local bootstrap and tests."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

PK = "PK"
SK = "SK"
TTL_ATTRIBUTE = "expires_at"
STREAM_VIEW_TYPE = "NEW_AND_OLD_IMAGES"


@dataclass(frozen=True)
class Index:
    """A global secondary index with string keys and all attributes projected."""

    name: str
    partition_key: str
    sort_key: str


GSIS: tuple[Index, ...] = (
    # Tenant-scoped listings: the campaigns of a tenant by creation time.
    Index("GSI1", "GSI1PK", "GSI1SK"),
    # Due work found by key (scan-free schedules): campaign ends bucketed by day.
    Index("GSI2", "GSI2PK", "GSI2SK"),
)


def key_attributes() -> list[str]:
    """Every attribute that is a key of the table or of an index (all strings)."""
    names = [PK, SK]
    for gsi in GSIS:
        names += [gsi.partition_key, gsi.sort_key]
    return names


def create_table_request(table_name: str) -> dict[str, Any]:
    """The boto3 `CreateTable` arguments for the table (local bootstrap and tests)."""
    return {
        "TableName": table_name,
        "AttributeDefinitions": [{"AttributeName": n, "AttributeType": "S"} for n in key_attributes()],
        "KeySchema": [{"AttributeName": PK, "KeyType": "HASH"}, {"AttributeName": SK, "KeyType": "RANGE"}],
        "GlobalSecondaryIndexes": [
            {
                "IndexName": gsi.name,
                "KeySchema": [
                    {"AttributeName": gsi.partition_key, "KeyType": "HASH"},
                    {"AttributeName": gsi.sort_key, "KeyType": "RANGE"},
                ],
                "Projection": {"ProjectionType": "ALL"},
            }
            for gsi in GSIS
        ],
        "BillingMode": "PAY_PER_REQUEST",
        "StreamSpecification": {"StreamEnabled": True, "StreamViewType": STREAM_VIEW_TYPE},
    }
