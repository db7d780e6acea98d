"""Budget stop-loss, the check every minute: reads the day counters and, when a line is crossed, pauses the campaign
or holds the channel's rewards, alerts the owners and audits it, once per crossing (docs/retention.md). Loaded by
its schedule only: the owners' list and the message outbox stay out of the analytics routes' cold start."""

from __future__ import annotations

import hashlib
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from aws_lambda_powertools.metrics import MetricUnit

from chalicelib.accounts import audit, operators
from chalicelib.analytics.rules import stoploss as domain
from chalicelib.analytics.rules.stoploss import Line
from chalicelib.analytics.store import counters
from chalicelib.analytics.store import stoploss as store
from chalicelib.campaigns import lifecycle
from chalicelib.campaigns.rules.records import CampaignRecord
from chalicelib.core.clock import iso
from chalicelib.core.errors import Conflict, FissionError
from chalicelib.core.observability import logger, metrics
from chalicelib.messaging import messages
from chalicelib.messaging.rules.messages import Recipient

LIVE = frozenset({"active", "paused"})
ALERT_TEMPLATE = {
    "zh": "预算止损：活动「{campaign}」的{scope}越过止损线（{what} {value} 分 > {limit} 分），"
    "已自动{action}。需所有者恢复。",
    "en": 'Budget stop-loss: {scope} of campaign "{campaign}" crossed its line ({what} {value} fen > {limit} fen) '
    "and was {action} automatically. An owner must resume it.",
}
_WORDS = {
    "zh": {"campaign": "整个活动", "channel": "渠道 {channel}", "spend": "花费", "cac": "获客成本",
           "pause": "暂停", "hold": "暂扣该渠道奖励"},
    "en": {"campaign": "the whole campaign", "channel": "channel {channel}", "spend": "spend", "cac": "CAC",
           "pause": "paused", "hold": "held (its rewards)"},
}  # fmt: skip


def _alert_text(locale: str, line: Line, trip: dict[str, Any]) -> str:
    """The alert in one language, its numbers written in (the campaign's title stays a template variable)."""
    words = _WORDS[locale]
    scope = words["channel"].format(channel=line.channel) if line.channel else words["campaign"]
    parts = {
        "{scope}": scope, "{what}": words[str(trip["kind"])], "{action}": words["hold" if line.channel else "pause"],
        "{value}": str(trip["value_fen"]), "{limit}": str(trip["limit_fen"]),
    }  # fmt: skip
    text = ALERT_TEMPLATE[locale]
    for name, value in parts.items():
        text = text.replace(name, value)
    return text


def owner_uid(email: str) -> str:
    """The message outbox's person id for an operator: opaque (a hash of the email), as an unsubscribe link needs."""
    return "op_" + hashlib.sha256(email.encode()).hexdigest()[:24]


def _alert(rec: CampaignRecord, line: Line, trip: dict[str, Any], now: datetime) -> int:
    """Queue the alert for every active owner, in the console and, when the tenant sends email, by email. Keyed by
    the trip, so a repeated act queues nothing new."""
    queued = 0
    channels = ["console", *(["email"] if messages.settings_of(rec.tid).sender() is not None else [])]
    template = {locale: _alert_text(locale, line, trip) for locale in ("zh", "en")}
    for email in operators.owner_emails(rec.tid):
        for channel in channels:
            mid = messages.enqueue(
                rec.tid, owner_uid(email), channel, template, {"campaign": rec.spec.title},
                message_key=f"stoploss|{rec.cid}|{line.key}|{trip['at']}|{email}|{channel}", due=now,
                recipient=Recipient(uid=owner_uid(email), email=email),
            )  # fmt: skip
            queued += int(mid is not None)
    return queued


def _act(rec: CampaignRecord, line: Line, trip: dict[str, Any], now: datetime) -> None:
    """What a trip does, each step safe to repeat: pause or hold, audit, alert."""
    details = {"stop_loss": {"line": line.key, **trip}}
    if line.channel is None:
        lifecycle.stop_loss_pause(rec.cid, details, now)
    else:
        lifecycle.hold_channel(rec.cid, line.channel, details, now)
    audit.record(rec.tid, audit.SYSTEM, "stop_loss.trip", rec.cid, {"line": line.key, **trip}, now)
    _alert(rec, line, trip, now)
    metrics.add_metric(name="StopLossTripped", unit=MetricUnit.Count, value=1)
    logger.warning("stop-loss line crossed", campaign_id=rec.cid, line=line.key, kind=trip["kind"])


def check_campaign(cid: str, now: datetime) -> int:
    """Judge one campaign's lines against its counters; returns how many lines tripped now. A trip is claimed by a
    conditional write of the lines item before it acts, so two overlapping checks act once; a trip whose acts did
    not finish (`applied` false) is acted on again by the next check."""
    found = store.get(cid)
    rec = lifecycle.find(cid)
    if found is not None and rec is None:
        store.delete(cid)  # the campaign was deleted: its lines leave the check's index with it
        return 0
    if found is None or rec is None or rec.status not in LIVE:
        return 0
    zone = ZoneInfo(rec.spec.timezone)
    today = now.astimezone(zone).date()
    starts = rec.spec.starts_at.astimezone(zone).date()
    windows = {line.key: domain.window(line, today, starts) for line in found.lines}
    wanted = sorted({day for days in windows.values() for day in days})
    per_day_raw, _ = counters.read_days(cid, [d.isoformat() for d in wanted])
    per_day = {date.fromisoformat(day): values for day, values in per_day_raw.items()}
    expected, tripped, changed, fresh = found.version, [], False, 0
    for line in found.lines:
        open_trip = found.trips.get(line.key)
        reading = domain.read(line, *domain.sums(line, per_day, windows[line.key]))
        move = domain.step(open_trip is not None, reading)
        if move == "trip":
            trip = {**domain.trip_of(line, reading, iso(now)), "applied": False}
            found.trips[line.key] = found.last_trips[line.key] = trip
            tripped.append(line)
            changed, fresh = True, fresh + 1
        elif move == "rearm":
            found.trips[line.key] = None
            changed = True
        elif open_trip is not None and not open_trip.get("applied"):
            tripped.append(line)  # claimed before, its acts unfinished
    if changed:
        found.version += 1
        try:
            store.save(found, expected)
        except Conflict:
            return 0  # edited or judged meanwhile: the next check sees the fresh lines
    for line in tripped:
        opened = found.trips[line.key]
        assert opened is not None
        _act(rec, line, opened, now)
        opened["applied"] = True
    if tripped:
        expected = found.version
        found.version += 1
        try:
            store.save(found, expected)
        except Conflict:
            logger.warning("stop-loss lines changed while acting; acts are repeated safely", campaign_id=cid)
    return fresh


def check(now: datetime) -> dict[str, int]:
    """The schedule: every campaign with lines, found by key; one failing campaign never holds back the others."""
    counts = {"campaigns": 0, "tripped": 0, "errors": 0}
    for shard in range(store.SHARDS):
        for cid in store.campaigns(shard):
            counts["campaigns"] += 1
            try:
                counts["tripped"] += check_campaign(cid, now)
            except FissionError:
                logger.exception("stop-loss check failed", campaign_id=cid)
                counts["errors"] += 1
    return counts
