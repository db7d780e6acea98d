"""The scheduler invokes the app's scheduled functions; the campaign closer ends campaigns by key."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from local.scheduler import Scheduler
from tests.conftest import Api, Tenant, campaign_body, window


def test_scheduler_finds_every_scheduled_function_of_the_app(app: Any) -> None:
    scheduler = Scheduler(app)
    assert set(scheduler.jobs) == {
        "close_ended_campaigns",
        "fail_expired_groups",
        "deliver_webhooks",
        "deliver_messages",
        "run_exports",
        "run_automations",
        "anchor_audit_chains",
        "settle_follows",
        "pay_withdrawals",
        "release_rewards",
        "review_tiers",
        "score_churn",
        "check_stop_loss",
    }


def test_scheduler_invokes_the_campaign_closer_which_ends_campaigns_past_their_end(
    app: Any, api: Api, tenant: Tenant, monkeypatch: pytest.MonkeyPatch
) -> None:
    from chalicelib.entrypoints import events as handlers

    ending = api.call(
        "POST", "/v1/admin/campaigns", campaign_body(**window(length=timedelta(hours=2))), token=tenant.owner_token
    )[1]["campaign_id"]
    lasting = api.call("POST", "/v1/admin/campaigns", campaign_body(), token=tenant.owner_token)[1]["campaign_id"]
    draft = api.call(
        "POST", "/v1/admin/campaigns", campaign_body(**window(length=timedelta(hours=2))), token=tenant.owner_token
    )[1]["campaign_id"]
    for cid in (ending, lasting):
        assert api.call("POST", f"/v1/admin/campaigns/{cid}/publish", token=tenant.owner_token)[0] == 200

    later = datetime.now(UTC) + timedelta(hours=3)
    monkeypatch.setattr(handlers, "utcnow", lambda: later)
    scheduler = Scheduler(app, clock=lambda: later)
    assert "close_ended_campaigns" in scheduler.tick()
    assert scheduler.jobs["close_ended_campaigns"].runs == 1

    def status(cid: str) -> str:
        return str(api.call("GET", f"/v1/admin/campaigns/{cid}", token=tenant.owner_token)[1]["status"])

    assert (status(ending), status(lasting), status(draft)) == ("ended", "active", "draft")
    # Idempotent: running again changes nothing and finds nothing to close.
    assert scheduler.invoke("close_ended_campaigns")["closed"] == []


def test_a_paused_campaign_past_its_end_is_ended_too(
    app: Any, api: Api, tenant: Tenant, monkeypatch: pytest.MonkeyPatch
) -> None:
    from chalicelib.entrypoints import events as handlers

    cid = api.call(
        "POST", "/v1/admin/campaigns", campaign_body(**window(length=timedelta(hours=2))), token=tenant.owner_token
    )[1]["campaign_id"]
    api.call("POST", f"/v1/admin/campaigns/{cid}/publish", token=tenant.owner_token)
    api.call("POST", f"/v1/admin/campaigns/{cid}/pause", token=tenant.owner_token)
    later = datetime.now(UTC) + timedelta(days=2)
    monkeypatch.setattr(handlers, "utcnow", lambda: later)
    result = Scheduler(app, clock=lambda: later).invoke("close_ended_campaigns")
    assert cid in result["closed"]
