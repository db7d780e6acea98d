"""The campaign dashboard's numbers: the day counters of a range, the leaderboard and the stream's lag,
read with a number of requests that depends on the range, never on how many events there were."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from chalicelib.analytics.rules import stats as analytics
from chalicelib.analytics.store import counters as store
from chalicelib.campaigns import lifecycle
from chalicelib.core.rbac import Principal
from chalicelib.referral import leaderboard
from chalicelib.security.pii import mask_name

TOP_INVITERS = 10


def report(actor: Principal, cid: str, query: dict[str, str | None], now: datetime) -> dict[str, Any]:
    rec = lifecycle.owned(actor.tid, cid)
    zone = ZoneInfo(rec.spec.timezone)
    start, end, granularity = analytics.validate_range(
        query.get("from"), query.get("to"), query.get("granularity"), now.astimezone(zone).date()
    )
    wanted = [start + timedelta(days=i) for i in range((end - start).days + 1)]
    counters, reads = store.read_days(rec.cid, [d.isoformat() for d in wanted])
    entries = leaderboard.entries(rec.cid)
    top = [
        {
            "rank": i + 1,
            "code": e["code"],
            "nickname": mask_name(e.get("nickname") or "") or "*",
            "score": int(e["score"]),
        }
        for i, e in enumerate(entries[:TOP_INVITERS])
    ]
    variants = [v.id for v in rec.spec.experiment.variants] if rec.spec.experiment else []
    body = analytics.report(
        {date.fromisoformat(day): values for day, values in counters.items()},
        start=start,
        end=end,
        granularity=granularity,
        now=now.astimezone(zone),
        ends_at=rec.spec.ends_at,
        budget_fen=rec.spec.budget_fen,
        variants=variants,
        top_inviters=top,
    )
    lag = store.stream_lag()
    body["data_quality"]["stream_lag_seconds"] = lag[0] if lag else None
    body["data_quality"]["stream_lag_observed_at"] = lag[1] if lag else None
    body["campaign_id"] = rec.cid
    body["reads"] = reads + 3  # counter batches + the campaign, the leaderboard and the lag reading
    return body
