"""The check-in day item as the stream shows it to other slices: the `checkin` entity's typed image."""

from __future__ import annotations

from datetime import date

from aws_lambda_powertools.utilities.data_classes.dynamo_db_stream_event import DynamoDBRecord

from chalicelib.loyalty.rules.checkins import CheckinCoupon, CheckinDay
from chalicelib.loyalty.store.checkins import day_item
from chalicelib.table.changes import Change
from chalicelib.table.images import CheckinImage


def _inserted(item: dict[str, object]) -> Change:
    body = {"SequenceNumber": "1", "StreamViewType": "NEW_AND_OLD_IMAGES", "Keys": {}, "NewImage": item}
    return Change.from_record(DynamoDBRecord({"eventID": "1", "eventName": "INSERT", "dynamodb": body}))


def test_a_check_in_day_reads_as_a_checkin_image_with_its_reward() -> None:
    day = CheckinDay(
        date(2026, 12, 7), False, 3, 30, "2026-12-07T01:00:00Z", "c1", CheckinCoupon(name="5", value_fen=500)
    )
    got = _inserted(day_item("t1", "u_1", "code0001", day))
    assert got.entity == "checkin"
    assert got.new_as(CheckinImage) == CheckinImage(
        cid="c1", tid="t1", uid="u_1", code="code0001", date="2026-12-07", made_up=False, streak=3, points=30,
        created_at="2026-12-07T01:00:00Z", coupon_name="5", coupon_value_fen=500,
    )  # fmt: skip


def test_a_made_up_day_has_no_reward_in_its_image() -> None:
    day = CheckinDay(date(2026, 12, 5), True, 0, 0, "2026-12-07T01:00:00Z", "c1")
    image = _inserted(day_item("t1", "u_1", "code0001", day)).new_as(CheckinImage)
    assert (
        image is not None
        and image.made_up
        and (image.points, image.coupon_name, image.coupon_value_fen) == (0, None, 0)
    )
