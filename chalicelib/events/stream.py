"""DynamoDB stream records -> the services that react to them, with partial-batch failure."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.dynamo_db_stream_event import DynamoDBRecord

from chalicelib.observability import logger
from chalicelib.services import changes

RecordHandler = Callable[[changes.Change], None]

# entity discriminator -> handlers. Each handler is idempotent: records can arrive twice.
HANDLERS: dict[str, list[RecordHandler]] = {
    "campaign": [changes.on_campaign_change],
}


def register(entity: str, handler: RecordHandler) -> None:
    HANDLERS.setdefault(entity, []).append(handler)


def unregister(entity: str, handler: RecordHandler) -> None:
    HANDLERS.get(entity, []).remove(handler)


def _handle_record(record: DynamoDBRecord) -> None:
    change = changes.Change.from_record(record)
    for handler in HANDLERS.get(change.entity, ()):
        try:
            handler(change)
        except Exception:
            # Powertools reports the failure for retry but logs it only at debug level.
            logger.exception("stream record failed", entity=change.entity, sequence=change.sequence)
            raise


def handle(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Failed records are reported by sequence number; Lambda (or the local pump) retries from there."""
    processor = BatchProcessor(event_type=EventType.DynamoDBStreams)
    return dict(
        process_partial_response(event=event, record_handler=_handle_record, processor=processor, context=context)
    )
