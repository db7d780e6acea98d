"""Outbound webhook rules: event types, deterministic event ids, outbox keys and retry backoff."""

from __future__ import annotations

import hashlib
import random
from datetime import datetime, timedelta
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from chalicelib.messaging.rules.payloads import PAYLOADS, Envelope

EVENT_TYPES: tuple[str, ...] = tuple(PAYLOADS)  # each with its `data` model (rules/payloads.py)
SHARDS = 8
MAX_ATTEMPTS = 8
MAX_ENDPOINTS = 10
BASE_DELAY_SECONDS = 30
MAX_DELAY_SECONDS = 3600
TIMEOUT_SECONDS = 3.0
LOCAL_HOSTS = frozenset({"localhost", "127.0.0.1"})


def event_id(tid: str, event_type: str, event_key: str) -> str:
    """Derived from what happened, not when: a replayed stream batch yields the same id, so the
    conditional put refuses the duplicate."""
    digest = hashlib.sha256(f"{tid}|{event_type}|{event_key}".encode()).hexdigest()
    return f"evt_{digest[:32]}"


def shard_of(eid: str) -> int:
    return int(hashlib.sha256(eid.encode()).hexdigest(), 16) % SHARDS


def backoff_seconds(attempts: int, rng: random.Random | None = None) -> float:
    """30 s * 2^attempts capped at 1 h, with up to 10 % jitter so failed batches do not retry in lockstep."""
    base = min(BASE_DELAY_SECONDS * (2 ** max(attempts, 0)), MAX_DELAY_SECONDS)
    jitter = (rng or random).uniform(0, base * 0.1)
    return float(min(base + jitter, MAX_DELAY_SECONDS))


def next_due(now: datetime, attempts: int, rng: random.Random | None = None) -> datetime:
    return now + timedelta(seconds=backoff_seconds(attempts, rng))


def is_dead(attempts: int) -> bool:
    return attempts >= MAX_ATTEMPTS


def envelope(eid: str, event_type: str, created_at: str, data: dict[str, Any]) -> dict[str, Any]:
    return Envelope(id=eid, type=event_type, created_at=created_at, data=data).model_dump(mode="json")


class WebhookCreate(BaseModel):
    """An operator's outbound endpoint: where to POST, and which events."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    url: str = Field(min_length=8, max_length=2048)
    events: list[str] = Field(min_length=1, max_length=len(EVENT_TYPES))
