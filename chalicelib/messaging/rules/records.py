"""Messages, webhook endpoints and outbox deliveries as the messaging store returns and takes them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass
class MessageRecord:
    """One outgoing message, rendered at enqueue. `version` is the one read: the store writes only over it."""

    tid: str
    mid: str
    uid: str
    channel: str
    status: str  # pending | deferred | sent | dead | suppressed
    text: str
    locale: str
    due_at: str  # when it was (or is) due, kept for operators while a run holds it
    created_at: str
    reason: str | None = None  # why deferred or suppressed
    subject: str | None = None
    # The same rendering with the person's values masked (nickname, unsubscribe token), for operators without
    # `pii:unmask`; None on messages queued before it was stored.
    masked_text: str | None = None
    masked_subject: str | None = None
    template: str | None = None  # a built-in template's name; custom texts are only rendered
    address_enc: str | None = None  # the channel's address, encrypted and bound to the message
    endpoint: str | None = None  # webhook messages carry their own URL
    data: dict[str, Any] | None = None  # webhook messages: the template variables
    automation_id: str | None = None
    attempts: int = 0
    sent_at: str | None = None
    last_error: str | None = None
    # A delivery run's claim: no run picks the message up before then, while `due_at` stays.
    lease_until: str | None = None
    expires_at: int | None = None  # set once final: operators keep it this long
    version: int = 1


@dataclass(frozen=True)
class WebhookEndpoint:
    """An operator-configured outbound webhook endpoint and the event types it receives."""

    tid: str
    wid: str
    url: str
    events: list[str]
    created_at: str


@dataclass(frozen=True)
class OutboxDelivery:
    """One event to deliver to one endpoint: pending until `due_at`, or dead once out of attempts."""

    tid: str
    wid: str
    url: str
    event_id: str
    event_type: str
    payload: str  # the event's data as JSON with sorted keys, exactly as queued
    created_at: str
    due_at: str | None  # when the next attempt is due; None once dead
    attempts: int = 0
    status: str = "pending"  # pending | dead
    last_error: str | None = None
