"""Inbound callback events (`T#{tid}` / `PEVENT#{platform}#{digest}`): one conditional put each, kept 7 days."""

from __future__ import annotations

from datetime import datetime, timedelta

from chalicelib.core.clock import iso
from chalicelib.platforms.rules.events import InboundEvent
from chalicelib.table import keys
from chalicelib.table.db import save_if
from chalicelib.table.models import PlatformEventItem

# Long past any redelivery (the platforms retry within seconds); the stream has acted on it by then.
KEEP = timedelta(days=7)


def put_once(tid: str, event: InboundEvent, now: datetime) -> bool:
    """True when this event is new; a redelivery (same dedupe key) writes nothing and answers False."""
    item = PlatformEventItem(
        PK=keys.tenant_pk(tid), SK=keys.platform_event_sk(event.platform, event.digest), tid=tid,
        platform=event.platform, kind=event.kind, user=event.user, staff=event.staff, scene=event.scene,
        welcome_code=event.welcome_code, template_id=event.template_id, consent=event.consent,
        sent_at=event.sent_at, received_at=iso(now),
        expires_at=int((now + KEEP).timestamp()),
    )  # fmt: skip
    return save_if(item, PlatformEventItem.PK.does_not_exist(), "platform event")
