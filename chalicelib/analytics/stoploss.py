"""Budget stop-loss: operators set lines per campaign and channel (docs/retention.md). The check every minute that
acts on a crossed line is `stoploss_check`, loaded by its schedule only."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from chalicelib.accounts import audit
from chalicelib.analytics.rules.stoploss import StopLossRecord, StopLossRequest
from chalicelib.analytics.store import stoploss as store
from chalicelib.campaigns import lifecycle
from chalicelib.campaigns.rules.records import CampaignRecord
from chalicelib.core.clock import iso
from chalicelib.core.rbac import Principal


def _view(rec: CampaignRecord, found: StopLossRecord | None) -> dict[str, Any]:
    lines = found.lines if found else []
    return {
        "campaign_id": rec.cid,
        "lines": [
            {
                **line.model_dump(mode="json"),
                "key": line.key,
                "trip": found.trips.get(line.key) if found else None,
                "last_trip": found.last_trips.get(line.key) if found else None,
            }
            for line in lines
        ],
        "stop_loss_paused_at": rec.stop_loss_paused_at,
        "held_channels": rec.held_channels,
        "version": found.version if found else 0,
        "updated_at": found.updated_at if found else None,
        "updated_by": found.updated_by if found else None,
    }


def view(actor: Principal, cid: str) -> dict[str, Any]:
    rec = lifecycle.owned(actor.tid, cid)
    return _view(rec, store.get(rec.cid))


def update(actor: Principal, cid: str, request: StopLossRequest, now: datetime) -> dict[str, Any]:
    """Replace the campaign's lines (an empty list removes them). A changed set of lines is judged afresh: its
    open trips are closed (the last ones stay to read), so a line still crossed trips again on the next check."""
    rec = lifecycle.owned(actor.tid, cid)
    found = store.get(rec.cid)
    if not request.lines:
        if found is not None:
            store.delete(rec.cid)
    else:
        saved = StopLossRecord(
            cid=rec.cid, tid=rec.tid, lines=request.lines, trips={}, last_trips=found.last_trips if found else {},
            version=(found.version if found else 0) + 1, updated_at=iso(now), updated_by=actor.email,
        )  # fmt: skip
        store.save(saved, found.version if found else None)
        found = saved
    lines = [line.model_dump(mode="json") for line in request.lines]
    audit.record(actor.tid, actor.email, "stop_loss.update", rec.cid, {"lines": lines}, now)
    return _view(rec, found if request.lines else None)


def release_channel(actor: Principal, cid: str, channel: str, now: datetime) -> dict[str, Any]:
    """An owner releases a channel a line held (idempotent); its held rewards are issued by the release schedule."""
    lifecycle.release_channel(actor, cid, channel, now)
    return view(actor, cid)
