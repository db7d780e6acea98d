"""One change of one table item, as the stream delivers it: the record type every stream handler reads."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from aws_lambda_powertools.utilities.data_classes.dynamo_db_stream_event import DynamoDBRecord


@dataclass(frozen=True)
class Change:
    """One item's change: the entity, the event name and both images as plain Python values."""

    entity: str
    event: str  # INSERT | MODIFY | REMOVE
    old: dict[str, Any]
    new: dict[str, Any]
    sequence: str
    created: float | None = None  # when the change was written (epoch seconds, approximate)

    @classmethod
    def from_record(cls, record: DynamoDBRecord) -> Change:
        data = record.dynamodb
        assert data is not None
        old = dict(data.old_image or {})
        new = dict(data.new_image or {})
        entity = str((new or old).get("entity", ""))
        return cls(
            entity=entity,
            event=record.event_name.name if record.event_name else "",
            old=old,
            new=new,
            sequence=str(data.sequence_number),
            created=float(data.approximate_creation_date_time) if data.approximate_creation_date_time else None,
        )
