"""Stream records become changes with typed images, each image read once when the change is built."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import pytest
from aws_lambda_powertools.utilities.data_classes.dynamo_db_stream_event import DynamoDBRecord

from chalicelib.analytics import aggregation
from chalicelib.entrypoints import stream
from chalicelib.table.changes import Change
from chalicelib.table.images import (
    AssistImage,
    CampaignImage,
    GroupImage,
    OrderImage,
    ParticipantImage,
    RewardImage,
    UnreadableImage,
)

T0 = "2026-12-01T09:00:00Z"
PARTICIPANT = {
    "PK": {"S": "P#p1"}, "SK": {"S": "META"}, "entity": {"S": "participant"}, "cid": {"S": "c"}, "tid": {"S": "t"},
    "code": {"S": "p1"}, "identity": {"S": "i"}, "joined_at": {"S": T0},
}  # fmt: skip


def record(seq: int, event: str, old: dict[str, Any] | None, new: dict[str, Any] | None) -> dict[str, Any]:
    """A stream record as Lambda delivers it (DynamoDB JSON)."""
    body: dict[str, Any] = {
        "SequenceNumber": f"{seq:021d}", "ApproximateCreationDateTime": 1764579600,
        "StreamViewType": "NEW_AND_OLD_IMAGES", "Keys": {"PK": {"S": "P#p1"}, "SK": {"S": "META"}},
    }  # fmt: skip
    if old is not None:
        body["OldImage"] = old
    if new is not None:
        body["NewImage"] = new
    return {"eventID": str(seq), "eventName": event, "eventSource": "aws:dynamodb", "dynamodb": body}


def change(event: str, old: dict[str, Any] | None, new: dict[str, Any] | None) -> Change:
    return Change.from_record(DynamoDBRecord(record(1, event, old, new)))


def test_an_insert_has_a_typed_new_image_and_no_old_one() -> None:
    item = {**PARTICIPANT, "depth": {"N": "2"}, "risk_score": {"N": "40"}, "counted": {"SS": ["a", "b"]},
            "risk_reasons": {"S": json.dumps([{"code": "IP_VELOCITY"}])}, "inviter": {"S": "x"}}  # fmt: skip

    got = change("INSERT", None, item)

    assert (got.entity, got.event, got.old, got.sequence, got.created) == (
        "participant", "INSERT", None, f"{1:021d}", 1764579600.0,
    )  # fmt: skip
    new = got.new_as(ParticipantImage)
    assert new == ParticipantImage(
        cid="c", tid="t", code="p1", joined_at=T0, inviter="x", depth=2, risk_score=40,
        counted=frozenset({"a", "b"}), risk_reasons=[{"code": "IP_VELOCITY"}], identity="i",
    )  # fmt: skip
    assert type(new.depth) is int and type(new.risk_score) is int


def test_absent_attributes_read_as_none_zero_or_empty() -> None:
    new = change("INSERT", None, PARTICIPANT).new_as(ParticipantImage)
    assert new is not None
    assert (new.qualified_at, new.depth, new.risk_reasons, new.counted, new.rewarded) == (
        None, None, None, frozenset(), frozenset(),
    )  # fmt: skip
    assist = {"entity": {"S": "assist"}, "cid": {"S": "c"}, "tid": {"S": "t"}, "owner": {"S": "p1"},
              "helpers_required": {"N": "3"}}  # fmt: skip
    image = change("INSERT", None, assist).new_as(AssistImage)
    assert image == AssistImage(cid="c", tid="t", owner="p1", helpers_required=3, slots=0, helped={})
    assert image.floor_price is None


def test_numbers_inside_maps_and_flags_are_typed() -> None:
    assist = {"entity": {"S": "assist"}, "cid": {"S": "c"}, "tid": {"S": "t"}, "owner": {"S": "p1"},
              "helpers_required": {"N": "3"}, "slots": {"N": "2"}, "floor_price": {"N": "100"},
              "helped": {"M": {"h1": {"N": "1"}, "h2": {"N": "2"}}}}  # fmt: skip
    image = change("MODIFY", assist, assist).new_as(AssistImage)
    assert image is not None and dict(image.helped) == {"h1": 1, "h2": 2} and image.floor_price == 100
    assert all(type(v) is int for v in image.helped.values())
    order = {
        "entity": {"S": "order"}, "cid": {"S": "c"}, "tid": {"S": "t"}, "oid": {"S": "o1"}, "status": {"S": "paid"},
        "paid_at": {"S": T0}, "amount": {"N": "990"}, "invited": {"BOOL": True},
    }  # fmt: skip
    paid = change("INSERT", None, order).new_as(OrderImage)
    assert paid == OrderImage(cid="c", tid="t", oid="o1", status="paid", paid_at=T0, amount=990, invited=True)
    group = {"entity": {"S": "group"}, "cid": {"S": "c"}, "tid": {"S": "t"}, "gid": {"S": "g1"},
             "size": {"N": "3"}, "members": {"N": "3"}, "status": {"S": "open"}}  # fmt: skip
    assert change("INSERT", None, group).new == GroupImage(cid="c", tid="t", gid="g1", size=3, members=3, status="open")


def test_a_remove_has_only_the_old_image_and_takes_its_entity_from_it() -> None:
    got = change("REMOVE", {**PARTICIPANT, "qualified_at": {"S": T0}}, None)
    assert (got.entity, got.new, got.new_as(ParticipantImage)) == ("participant", None, None)
    old = got.old_as(ParticipantImage)
    assert old is not None and old.qualified_at == T0


def test_a_modify_may_lack_attributes_in_its_old_image() -> None:
    got = change("MODIFY", PARTICIPANT, {**PARTICIPANT, "review": {"S": "held"}})
    old, new = got.old_as(ParticipantImage), got.new_as(ParticipantImage)
    assert old is not None and new is not None
    assert (old.review, new.review) == (None, "held")


def test_entities_no_handler_reads_have_no_images() -> None:
    counter = {"entity": {"S": "counter_day"}, "cid": {"S": "c"}, "day": {"S": "2026-12-01"}, "n|join|-|-": {"N": "4"}}
    got = change("MODIFY", counter, counter)
    assert (got.entity, got.old, got.new) == ("counter_day", None, None)
    # Their images are not even deserialised: a value the deserialiser would refuse goes unnoticed.
    odd = {**counter, "odd": {"X": "?"}}
    assert change("MODIFY", odd, odd).new is None


def test_asking_for_another_entitys_image_is_a_mistake() -> None:
    got = change("INSERT", None, PARTICIPANT)
    with pytest.raises(TypeError, match="ParticipantImage, not a RewardImage"):
        got.new_as(RewardImage)


def test_an_image_without_an_attribute_its_item_always_has_is_unreadable() -> None:
    broken = {k: v for k, v in PARTICIPANT.items() if k != "code"}
    with pytest.raises(UnreadableImage, match="code"):
        change("INSERT", None, broken)
    campaign = {"entity": {"S": "campaign"}, "cid": {"S": "c"}, "tid": {"S": "t"}, "status": {"S": "active"}}
    assert change("INSERT", None, campaign).new == CampaignImage(cid="c", tid="t", status="active")


@dataclass
class Seen:
    changes: list[Change]

    def __call__(self, change: Change) -> None:
        self.changes.append(change)


def test_an_unreadable_record_fails_alone_and_the_others_are_handled(monkeypatch: pytest.MonkeyPatch) -> None:
    seen = Seen([])
    monkeypatch.setattr(stream, "HANDLERS", {"participant": [seen]})
    monkeypatch.setattr(stream, "BATCH_HANDLERS", {})
    monkeypatch.setattr(stream, "CROSS_HANDLERS", [])
    monkeypatch.setattr(aggregation, "count", lambda batch, before: set())
    broken = {k: v for k, v in PARTICIPANT.items() if k != "joined_at"}
    records = [record(1, "INSERT", None, PARTICIPANT), record(2, "INSERT", None, broken),
               record(3, "MODIFY", PARTICIPANT, PARTICIPANT)]  # fmt: skip

    answer = stream.handle({"Records": records}, None)

    assert answer == {"batchItemFailures": [{"itemIdentifier": f"{2:021d}"}]}
    assert [c.sequence for c in seen.changes] == [f"{1:021d}", f"{3:021d}"]
