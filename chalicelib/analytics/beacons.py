"""Landing-page beacons: one fact written per event, counted later by the stream (never on the request)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from zoneinfo import ZoneInfo

from aws_lambda_powertools.metrics import MetricUnit

from chalicelib.analytics.rules.counting import INVALID_EVENT, BeaconRequest, local_day
from chalicelib.analytics.store import counters as store
from chalicelib.campaigns import live
from chalicelib.core.clock import iso
from chalicelib.core.errors import FissionError, InvalidJson, ValidationFailed
from chalicelib.core.observability import metrics
from chalicelib.security import participant_tokens


def record(cid: str, parse: Callable[[], BeaconRequest], authorization: str | None, now: datetime) -> None:
    """Store the beacon; an invalid one is counted (data quality) and refused, never stored."""
    rec = live.campaign(cid)
    try:
        beacon = parse()
    except (InvalidJson, ValidationFailed):
        day = local_day(iso(now), ZoneInfo(rec.spec.timezone))
        store.add_now(rec.cid, day, INVALID_EVENT)
        metrics.add_metric(name="InvalidEvents", unit=MetricUnit.Count, value=1)
        raise
    code = None
    token = participant_tokens.bearer(authorization)
    if token is not None:
        try:
            claims = participant_tokens.verify(token, now)
        except FissionError:
            claims = None  # a stale token still leaves a valid anonymous event
        code = claims.code if claims is not None and claims.cid == rec.cid else None
    store.put_beacon(rec.cid, beacon.type, beacon.channel, beacon.name, code, now)
