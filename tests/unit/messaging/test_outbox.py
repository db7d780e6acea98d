"""Outbox rules: deterministic event ids, keys and retry backoff."""

from __future__ import annotations

import random
from datetime import UTC, datetime

from chalicelib.core.clock import iso
from chalicelib.messaging.rules import webhooks as outbox
from chalicelib.table import keys


def test_event_id_is_deterministic_and_distinct() -> None:
    a = outbox.event_id("t1", "reward.issued", "c1|CODE|r1")
    assert a == outbox.event_id("t1", "reward.issued", "c1|CODE|r1")
    assert a != outbox.event_id("t2", "reward.issued", "c1|CODE|r1")
    assert a != outbox.event_id("t1", "group.failed", "c1|CODE|r1")
    assert a.startswith("evt_")


def test_shard_is_stable_and_in_range() -> None:
    ids = [outbox.event_id("t", "reward.issued", str(i)) for i in range(200)]
    shards = {outbox.shard_of(i) for i in ids}
    assert shards <= set(range(outbox.SHARDS))
    assert len(shards) == outbox.SHARDS
    assert outbox.shard_of(ids[0]) == outbox.shard_of(ids[0])


def test_sort_key_orders_by_due_time() -> None:
    early = keys.outbox_sk(iso(datetime(2026, 1, 1, 0, 0, tzinfo=UTC)), "evt_b", "w1")
    late = keys.outbox_sk(iso(datetime(2026, 1, 1, 0, 1, tzinfo=UTC)), "evt_a", "w1")
    assert early < late
    assert early == "2026-01-01T00:00:00Z#evt_b#w1"


def test_backoff_doubles_with_bounded_jitter() -> None:
    rng = random.Random(7)
    for attempts in range(6):
        base = 30 * 2**attempts
        delay = outbox.backoff_seconds(attempts, rng)
        assert base <= delay <= base * 1.1


def test_backoff_is_capped_at_one_hour() -> None:
    rng = random.Random(1)
    assert outbox.backoff_seconds(7, rng) == 3600
    assert outbox.backoff_seconds(30, rng) == 3600


def test_dead_after_max_attempts() -> None:
    assert not outbox.is_dead(outbox.MAX_ATTEMPTS - 1)
    assert outbox.is_dead(outbox.MAX_ATTEMPTS)
