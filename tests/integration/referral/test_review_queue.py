"""The review queue filtered by campaign, status and age, paged by cursor: served by key, through HTTP."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from local.pump import StreamPump
from tests.conftest import Api, Clock, Tenant, live_campaign, window
from tests.integration.referral.test_fraud import _ring

AGES = (60, 30, 2)  # hours ago


def _held_joins(api: Api, cid: str, pump: StreamPump) -> set[str]:
    """Two joins held for review: the last two of a ring of four (docs/fraud.md)."""
    ring = _ring(api, cid, pump, size=4)
    assert [r.get("review") for r in ring] == [None, None, "pending", "pending"]
    return {f"join-{r['invite_code']}" for r in ring[2:]}


def _all_pages(api: Api, tenant: Tenant, query: str, limit: int) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    cursor = None
    for _ in range(50):
        path = f"/v1/admin/reviews?{query}&limit={limit}" + (f"&cursor={cursor}" if cursor else "")
        status, page = api.call("GET", path, token=tenant.owner_token)
        assert status == 200, page
        assert len(page["items"]) <= limit
        items += page["items"]
        cursor = page["next_cursor"]
        if cursor is None:
            return items
    raise AssertionError("paging never ended")


def test_the_queue_filters_by_campaign_status_and_age_and_pages_without_duplicates_or_gaps(
    api: Api, tenant: Tenant, pump: StreamPump, clock: Clock
) -> None:
    started = window(start_in=timedelta(hours=-100))
    campaigns = [live_campaign(api, tenant, **started) for _ in range(2)]
    held: dict[tuple[str, int], set[str]] = {}
    for age in AGES:
        clock.offset = -timedelta(hours=age)
        for cid in campaigns:
            held[(cid, age)] = _held_joins(api, cid, pump)
    clock.offset = timedelta()
    a, b = campaigns
    approved = sorted(held[(a, 60)])[0]
    status, body = api.call("POST", f"/v1/admin/reviews/{approved}/approve", {"reason": "known"},
                            token=tenant.owner_token)  # fmt: skip
    assert status == 200, body

    def pending(keep: Callable[[str, int], bool]) -> set[str]:
        return {rid for (cid, age), rids in held.items() if keep(cid, age) for rid in rids} - {approved}

    cases = {
        "status=pending": pending(lambda c, age: True),
        f"campaign_id={a}": pending(lambda c, age: c == a),
        f"campaign_id={b}&status=pending": pending(lambda c, age: c == b),
        f"campaign_id={a}&older_than_hours=24": pending(lambda c, age: c == a and age > 24),
        "newer_than_hours=24": pending(lambda c, age: age < 24),
        "older_than_hours=24&newer_than_hours=48": pending(lambda c, age: 24 < age < 48),
        f"campaign_id={b}&older_than_hours=48&newer_than_hours=72": pending(lambda c, age: c == b and age == 60),
        f"campaign_id={a}&status=approved": {approved},
        f"campaign_id={b}&status=approved": set(),
        "status=rejected": set(),
    }
    for query, expected in cases.items():
        for limit in (1, 2, 100):
            items = _all_pages(api, tenant, query, limit)
            ids = [r["id"] for r in items]
            assert len(ids) == len(set(ids)), (query, limit)  # no duplicates across pages
            assert set(ids) == expected, (query, limit)  # no gaps, nothing else
            assert [r["created_at"] for r in items] == sorted(r["created_at"] for r in items)  # oldest first
    # The campaign's reviews are in the campaign's index from the start, and move with their status.
    assert {r["campaign_id"] for r in _all_pages(api, tenant, f"campaign_id={a}", 3)} == {a}


def test_bad_filters_and_foreign_cursors_are_400_with_a_code(
    api: Api, tenant: Tenant, new_tenant: Callable[[], Tenant], pump: StreamPump
) -> None:
    cid = live_campaign(api, tenant)
    _held_joins(api, cid, pump)

    def refused(query: str) -> tuple[int, str]:
        status, body = api.call("GET", f"/v1/admin/reviews?{query}", token=tenant.owner_token)
        return status, body["error"]["code"]

    for query in ("older_than_hours=abc", "older_than_hours=-1", "newer_than_hours=1.5", "newer_than_hours=9000000",
                  "older_than_hours=48&newer_than_hours=24", "older_than_hours=5&newer_than_hours=5"):  # fmt: skip
        assert refused(query) == (400, "INVALID_AGE_FILTER"), query
    assert refused("status=held") == (400, "INVALID_STATUS")
    assert refused("limit=0") == (400, "INVALID_LIMIT")
    assert refused("cursor=not-a-cursor") == (400, "INVALID_CURSOR")
    forged = base64.urlsafe_b64encode(json.dumps({"f": {"status": ["x"]}, "k": {}}).encode()).decode()
    assert refused(f"cursor={forged}") == (400, "INVALID_CURSOR")
    # A cursor continues the listing it came from, not another one.
    status, page = api.call("GET", f"/v1/admin/reviews?campaign_id={cid}&limit=1", token=tenant.owner_token)
    assert status == 200 and page["next_cursor"], page
    assert refused(f"campaign_id={cid}&limit=1&older_than_hours=1&cursor={page['next_cursor']}") == (
        400, "INVALID_CURSOR")  # fmt: skip
    assert refused(f"limit=1&cursor={page['next_cursor']}") == (400, "INVALID_CURSOR")
    # Another tenant's campaign is as missing as a campaign that does not exist.
    other = new_tenant()
    status, body = api.call("GET", f"/v1/admin/reviews?campaign_id={cid}", token=other.owner_token)
    assert (status, body["error"]["code"]) == (404, "CAMPAIGN_NOT_FOUND")
