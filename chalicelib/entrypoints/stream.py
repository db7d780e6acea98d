"""DynamoDB stream records -> the services that react to them, with partial-batch failure.

Two kinds of reaction: record handlers see one change at a time; batch handlers see every
change of their entity in the batch at once, so they can coalesce many facts into one write
per key. Both must be idempotent (batches are retried and records delivered again), and both
report what failed so that only that is retried.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from aws_lambda_powertools.utilities.data_classes.dynamo_db_stream_event import DynamoDBRecord

from chalicelib.analytics import aggregation, growth
from chalicelib.audience import automations, profiles
from chalicelib.campaigns import lifecycle
from chalicelib.core.observability import logger
from chalicelib.loyalty import checkins, points, tasks, tiers
from chalicelib.modes.assist import service as assists
from chalicelib.modes.group_buy import service as groups
from chalicelib.payouts import wallets
from chalicelib.platforms import consents
from chalicelib.referral import contacts, fraud, progress, reviews, rewards
from chalicelib.table.changes import Change
from chalicelib.table.images import UnreadableImage

RecordHandler = Callable[[Change], None]
# Returns the sequence numbers of the changes it could not apply.
BatchHandler = Callable[[list[Change]], set[str]]

HANDLERS: dict[str, list[RecordHandler]] = {
    # A campaign that ends closes its groups and expires its assists (found by key under the campaign).
    "campaign": [lifecycle.on_campaign_change, groups.on_campaign_change, assists.on_campaign_change],
    "group": [groups.on_change],
    "assist": [assists.on_assist_change],
    # A verified WeCom / official account callback: joins, pending follows, welcome messages; subscription-message
    # consent and the staff member a WeCom customer belongs to.
    "platform_event": [contacts.on_platform_event, consents.on_platform_event],
    # A commission or clawback reaching its earner credits the earner's wallet (docs/payouts.md).
    "commission_mirror": [wallets.on_commission],
    # A points reward that is issued credits the person's points ledger (docs/retention.md).
    "reward": [points.on_reward],
    # Facts that lift a person's tier measure upgrade them at once; downgrades wait for the daily review.
    "points_entry": [tiers.on_points],
    "order": [tiers.on_order],
    "participant": [tiers.on_participant],
    # A check-in day whose ladder day gives a coupon issues it (docs/retention.md).
    "checkin": [checkins.on_checkin],
}
BATCH_HANDLERS: dict[str, list[BatchHandler]] = {
    "participant": [progress.count_invites, reviews.on_participants, fraud.count_attempts, fraud.record_people],
    "coupon_code": [rewards.on_codes_added],
}
# Handlers that see the whole batch (facts of several entities about one person), in this order:
# profiles first, so that automation conditions read profiles that include the batch's facts; then the
# tenant's growth counters (each person's activity counted once per day, week and month).
# Tasks count the batch's facts (joins, counted invites, helps, paid orders, views, check-ins) per person
# (docs/retention.md).
CROSS_HANDLERS: list[BatchHandler] = [profiles.on_batch, automations.on_batch, tasks.on_batch, growth.on_batch]


def register(entity: str, handler: RecordHandler) -> None:
    HANDLERS.setdefault(entity, []).append(handler)


def unregister(entity: str, handler: RecordHandler) -> None:
    HANDLERS.get(entity, []).remove(handler)


def _apply_records(batch: Iterable[Change]) -> set[str]:
    failed: set[str] = set()
    for change in batch:
        for handler in HANDLERS.get(change.entity, ()):
            try:
                handler(change)
            except Exception:
                logger.exception("stream record failed", entity=change.entity, sequence=change.sequence)
                failed.add(change.sequence)
    return failed


def _apply_batches(batch: list[Change]) -> set[str]:
    failed: set[str] = set()
    for entity, handlers in BATCH_HANDLERS.items():
        mine = [c for c in batch if c.entity == entity]
        if not mine:
            continue
        for handler in handlers:
            try:
                failed |= handler(mine)
            except Exception:
                logger.exception("stream batch handler failed", entity=entity, records=len(mine))
                failed |= {c.sequence for c in mine}
    return failed


def _apply_cross(batch: list[Change]) -> set[str]:
    failed: set[str] = set()
    for handler in CROSS_HANDLERS:
        try:
            failed |= handler(batch)
        except Exception:
            logger.exception("stream batch handler failed", handler=handler.__name__, records=len(batch))
            failed |= {c.sequence for c in batch}
    return failed


def _read(raws: list[dict[str, Any]]) -> tuple[list[Change], list[str], set[str]]:
    """The records as changes, each image read once, and every sequence number in stream order.
    A record whose image cannot be read fails alone (the sequence numbers of those are the third value)."""
    batch: list[Change] = []
    sequences: list[str] = []
    unreadable: set[str] = set()
    for raw in raws:
        record = DynamoDBRecord(raw)
        try:
            change = Change.from_record(record)
        except UnreadableImage:
            sequence = str(raw["dynamodb"]["SequenceNumber"])
            logger.exception("stream record unreadable", sequence=sequence)
            unreadable.add(sequence)
        else:
            batch.append(change)
            sequence = change.sequence
        sequences.append(sequence)
    return batch, sequences, unreadable


def handle(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Failed records are reported by sequence number; Lambda (or the local pump) retries from there."""
    batch, sequences, failed = _read(event.get("Records", []))
    failed |= _apply_records(batch) | _apply_batches(batch)
    failed |= _apply_cross(batch)
    # Analytics last: it counts only what comes before the first failure, which is all that Lambda
    # will not deliver again.
    first_failed = min(failed, key=int) if failed else None
    try:
        failed |= aggregation.count(batch, first_failed)
    except Exception:
        logger.exception("analytics aggregation failed", records=len(batch))
        failed |= {c.sequence for c in batch if first_failed is None or int(c.sequence) < int(first_failed)}
    # Report in stream order; Lambda resumes from the lowest.
    ordered = [sequence for sequence in sequences if sequence in failed]
    return {"batchItemFailures": [{"itemIdentifier": seq} for seq in ordered]}
