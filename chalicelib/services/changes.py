"""Reactions to changes in the table, fed by the stream handler."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.data_classes.dynamo_db_stream_event import DynamoDBRecord

from chalicelib.observability import logger, metrics


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


def on_campaign_change(change: Change) -> None:
    """Lifecycle transitions become metrics and structured logs (dashboards and alarms)."""
    before, after = change.old.get("status"), change.new.get("status")
    if before == after:
        return
    cid = change.new.get("cid") or change.old.get("cid")
    tid = change.new.get("tid") or change.old.get("tid")
    logger.info("campaign status changed", campaign_id=cid, tenant_id=tid, before=before, after=after)
    if after:
        metrics.add_metric(name=f"Campaign{str(after).capitalize()}", unit=MetricUnit.Count, value=1)
