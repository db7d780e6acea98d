"""The live campaign behind a public request: read through a short per-container cache.

Campaign documents change rarely and every join reads one: a cache of a few seconds takes that
read off the hot path without serving a stale status for long. Drafts are never public.
"""

from __future__ import annotations

import time
from datetime import datetime

from chalicelib.campaigns import store as campaign_store
from chalicelib.campaigns.rules import spec as campaign_rules
from chalicelib.campaigns.rules.records import CampaignRecord
from chalicelib.core.codes import Code
from chalicelib.core.errors import NotFound

CAMPAIGN_CACHE_SECONDS = 5.0

_campaigns: dict[str, tuple[float, CampaignRecord]] = {}


def campaign(cid: str) -> CampaignRecord:
    cached = _campaigns.get(cid)
    if cached is not None and time.monotonic() - cached[0] < CAMPAIGN_CACHE_SECONDS:
        return cached[1]
    rec = campaign_store.get(cid)
    if rec is None or rec.status == campaign_rules.Status.DRAFT.value:
        raise NotFound("no such campaign", code=Code.CAMPAIGN_NOT_FOUND)
    _campaigns[cid] = (time.monotonic(), rec)
    return rec


def open_campaign(cid: str, now: datetime) -> CampaignRecord:
    rec = campaign(cid)
    campaign_rules.ensure_open(campaign_rules.Status(rec.status), rec.spec.starts_at, rec.spec.ends_at, now)
    return rec


def forget() -> None:
    """Drop every cached campaign (tests that change a campaign and read it back at once)."""
    _campaigns.clear()
