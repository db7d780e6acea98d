"""Analytics from the stream: each batch's facts summed into one counter update per (campaign, day)."""

from __future__ import annotations

import hashlib
from collections import defaultdict
from datetime import datetime
from zoneinfo import ZoneInfo

from aws_lambda_powertools.metrics import MetricUnit

from chalicelib.analytics.rules import counting
from chalicelib.analytics.store import counters as store
from chalicelib.campaigns import lifecycle
from chalicelib.core.clock import iso, utcnow
from chalicelib.core.errors import FissionError
from chalicelib.core.observability import logger, metrics
from chalicelib.table.changes import Change

LAG_EVERY_SECONDS = 60.0
_last_lag_write = 0.0


def _fingerprint(cid: str, day: str, shard: int, sequences: list[str]) -> str:
    text = "|".join([cid, day, str(shard), *sorted(sequences, key=int)])
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def count(batch: list[Change], before: str | None) -> set[str]:
    """Count the facts of `batch` recorded before sequence `before` (the first record another handler
    failed: Lambda redelivers from there, so later records are counted on redelivery, once).
    Returns the sequence numbers whose counts could not be written."""
    now = utcnow()
    shard = int(batch[0].sequence) % store.SHARDS if batch else 0
    # (campaign, day) -> counter -> amount, and the records that contributed.
    deltas: dict[tuple[str, str], dict[str, int]] = defaultdict(lambda: defaultdict(int))
    sources: dict[tuple[str, str], list[str]] = defaultdict(list)
    zones: dict[str, ZoneInfo | None] = {}
    dropped: dict[str, int] = defaultdict(int)
    facts = 0
    for change in batch:
        if before is not None and int(change.sequence) >= int(before):
            continue
        image = change.new or change.old
        cid = image.cid if image is not None else None
        found = counting.contributions(change.entity, change.event, change.old, change.new, iso(now)) if cid else []
        if not found:
            continue
        facts += 1
        if cid not in zones:
            rec = lifecycle.find(str(cid))
            zones[str(cid)] = ZoneInfo(rec.spec.timezone) if rec is not None else None
        zone = zones[str(cid)]
        if zone is None:  # a fact of a deleted campaign: nothing to add it to
            dropped[iso(now)[:10]] += 1
            continue
        for contribution in found:
            key = (str(cid), counting.local_day(contribution.at, zone))
            deltas[key][contribution.attribute()] += contribution.amount
            if change.sequence not in sources[key]:
                sources[key].append(change.sequence)
    failed: set[str] = set()
    writes = 0
    for (cid, day), counters in deltas.items():
        changed = {name: amount for name, amount in counters.items() if amount}
        names = sorted(changed)
        for part in range(0, len(names), store.MAX_COUNTERS_PER_UPDATE):
            chunk = {name: changed[name] for name in names[part : part + store.MAX_COUNTERS_PER_UPDATE]}
            fingerprint = _fingerprint(cid, day, shard, [*sources[(cid, day)], f"{part}"])
            try:
                writes += int(store.apply(cid, day, shard, chunk, fingerprint, now))
            except FissionError:
                logger.exception("could not add to the analytics counters", campaign_id=cid, day=day)
                failed |= set(sources[(cid, day)])
    if dropped:
        metrics.add_metric(name="AnalyticsDroppedFacts", unit=MetricUnit.Count, value=sum(dropped.values()))
    if writes:
        metrics.add_metric(name="AnalyticsCounterWrites", unit=MetricUnit.Count, value=writes)
    if facts:
        _record_lag(batch, now)
    return failed


def _record_lag(batch: list[Change], now: datetime) -> None:
    """Age of the oldest record of the batch, as a metric every batch and in the table once a minute
    (only after batches with facts, so this write's own stream record never keeps the loop going)."""
    global _last_lag_write
    created = [c.created for c in batch if c.created is not None]
    if not created:
        return
    lag = max(now.timestamp() - min(created), 0.0)
    metrics.add_metric(name="StreamLagSeconds", unit=MetricUnit.Seconds, value=lag)
    if now.timestamp() - _last_lag_write >= LAG_EVERY_SECONDS:
        try:
            store.record_stream_lag(lag, now)
            _last_lag_write = now.timestamp()
        except FissionError:
            logger.warning("could not record the stream lag")


def reset_lag_throttle() -> None:
    global _last_lag_write
    _last_lag_write = 0.0
