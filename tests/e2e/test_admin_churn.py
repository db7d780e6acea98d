"""The churn warning screen (web/admin/screens/churn.js) in Chromium against the local stack: the level
distribution, the highest risks with their reasons (masked), and the calibration button with its result, in
English and Chinese. Screenshots land in tests/e2e/artifacts/admin-churn*.png."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.conftest import LiveStack, NewPage
from tests.e2e.test_admin_console import STREAM, seed_campaign, sign_in

pytestmark = pytest.mark.browser

Shoot = Callable[[Page, str], Path]


def test_the_churn_screen_shows_the_risks_and_the_calibration_result(
    live_stack: LiveStack, new_page: NewPage, shoot: Shoot
) -> None:
    from chalicelib.audience import churn

    cid = seed_campaign(live_stack)
    joined = {"assertion": live_stack.assertion("u-churn"), "nickname": "Grace"}
    status, body = live_stack.call("POST", f"/v1/campaigns/{cid}/participants", joined)
    assert status in (200, 201), body
    code = str(body["invite_code"])
    deadline = time.monotonic() + STREAM / 1000
    while not live_stack.call("GET", f"/v1/admin/participants?code={code}", token=live_stack.owner_token)[1]["items"]:
        assert time.monotonic() < deadline, "the profile never appeared"
        time.sleep(0.2)
    # The daily run, two months on: everyone of the tenant is away that long.
    churn.score_tenant(live_stack.tid, datetime.now(UTC) + timedelta(days=60), budget=10_000)

    page = new_page()
    sign_in(page, live_stack)
    page.goto(f"{live_stack.url}/admin/#/churn")
    expect(page.locator(".screen-churn h1")).to_have_text("Churn warning")
    expect(page.locator("[data-level=high] strong")).not_to_have_text("0")
    row = page.locator("tr", has_text="G****")
    expect(row).to_contain_text("High")
    expect(row).to_contain_text("away 60 days")
    expect(page.locator(".screen-churn")).not_to_contain_text("Grace")
    expect(page.locator("[data-weights]")).to_have_text("Default weights (not calibrated)")

    page.get_by_role("button", name="Calibrate from history").click()
    expect(page.locator("[data-churn-result]")).to_contain_text("Not used, the current weights stay")
    expect(page.locator("[data-churn-result]")).to_contain_text("examples, at least 200 needed")
    expect(page.locator(".screen-churn")).to_contain_text("Last calibration")
    shoot(page, "admin-churn")

    page.locator("#lang").click()
    expect(page.locator(".screen-churn h1")).to_have_text("流失预警")
    expect(page.locator("tr", has_text="G****")).to_contain_text("未活跃 60 天")
    shoot(page, "admin-churn-zh")
