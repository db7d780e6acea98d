"""One change of one table item, as the stream delivers it: the record type every stream handler reads."""

from __future__ import annotations

from dataclasses import dataclass

from aws_lambda_powertools.utilities.data_classes.dynamo_db_stream_event import DynamoDBRecord

from chalicelib.table import images
from chalicelib.table.images import Image


@dataclass(frozen=True, slots=True)
class Change:
    """One item's change: the entity, the event name and both images as typed records (table/images.py).

    An image is None when the event has none (an INSERT has no old image, a REMOVE no new one) and
    when the entity has no record type (no handler reads it)."""

    entity: str
    event: str  # INSERT | MODIFY | REMOVE
    old: Image | None
    new: Image | None
    sequence: str
    created: float | None = None  # when the change was written (epoch seconds, approximate)

    def old_as[I: Image](self, kind: type[I]) -> I | None:
        """The old image as a `kind` (None when there is none)."""
        return _as(self.old, kind)

    def new_as[I: Image](self, kind: type[I]) -> I | None:
        """The new image as a `kind` (None when there is none, as after a REMOVE)."""
        return _as(self.new, kind)

    @classmethod
    def from_record(cls, record: DynamoDBRecord) -> Change:
        """Each image is read once, here; an image its record type refuses raises `UnreadableImage`.
        The images of an entity without a record type are not even deserialised."""
        data = record.dynamodb
        assert data is not None
        image = data.get("NewImage") or data.get("OldImage") or {}
        entity = str(image.get("entity", {}).get("S", ""))
        typed = entity in images.IMAGE_TYPES
        return cls(
            entity=entity,
            event=record.event_name.name if record.event_name else "",
            old=images.read(entity, data.old_image) if typed else None,
            new=images.read(entity, data.new_image) if typed else None,
            sequence=str(data.sequence_number),
            created=float(data.approximate_creation_date_time) if data.approximate_creation_date_time else None,
        )


def _as[I: Image](image: Image | None, kind: type[I]) -> I | None:
    if image is None or isinstance(image, kind):
        return image
    raise TypeError(f"the change's image is a {type(image).__name__}, not a {kind.__name__}")
