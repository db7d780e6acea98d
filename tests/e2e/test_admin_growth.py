"""The console's growth screen in Chromium against the local stack: KPI tiles, the cohort heat map with its
numbers in the cells, and the quarterly targets form with its progress, in English and Chinese.
Screenshots: tests/e2e/artifacts/admin-growth*.png."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import Page, expect

from tests.conftest import campaign_body
from tests.e2e.conftest import LiveStack, NewPage
from tests.e2e.test_admin_console import sign_in
from tests.e2e.test_admin_payouts import joined

pytestmark = pytest.mark.browser

Shoot = Callable[[Page, str], Path]
STREAM = 30.0  # s: the stack's stream pump counts the joins


def _three_joined(live: LiveStack) -> None:
    """Three new people today, one of them invited by another (which activates the inviter)."""
    body = campaign_body("invite", identity={"mode": "signed"})
    status, made = live.call("POST", "/v1/admin/campaigns", body, token=live.owner_token)
    assert status == 201, made
    cid = str(made["campaign_id"])
    assert live.call("POST", f"/v1/admin/campaigns/{cid}/publish", token=live.owner_token)[0] == 200
    first = joined(live, cid, f"member-{uuid.uuid4().hex[:8]}")
    joined(live, cid, f"member-{uuid.uuid4().hex[:8]}", ref=first["invite_code"])
    joined(live, cid, f"member-{uuid.uuid4().hex[:8]}")
    deadline = time.monotonic() + STREAM
    while True:
        status, growth = live.call("GET", "/v1/admin/growth", token=live.owner_token)
        assert status == 200, growth
        if growth["totals"]["new"] == 3 and growth["totals"]["activated"] == 1:
            return
        assert time.monotonic() < deadline, f"the joins were never counted: {growth['totals']}"
        time.sleep(0.2)


def test_the_growth_screen_shows_kpis_the_cohort_heat_map_and_target_progress(
    live_stack: LiveStack, new_page: NewPage, shoot: Shoot
) -> None:
    _three_joined(live_stack)
    today = datetime.now(ZoneInfo("Asia/Shanghai")).date()
    quarter = f"{today.year}Q{(today.month - 1) // 3 + 1}"
    page = new_page(allow=("status of 422",))
    sign_in(page, live_stack)
    page.get_by_role("link", name="Growth").click()
    expect(page.locator(".screen-growth h1")).to_have_text("Growth")
    tiles = page.locator(".kpi", has=page.get_by_text("Activation", exact=True))
    expect(tiles).to_contain_text("33%")
    expect(tiles).to_contain_text("1 / 3")

    heat = page.get_by_role("table", name="Weekly cohort retention")
    week0 = heat.locator("tbody tr").first.locator("td.heat").first
    expect(week0).to_contain_text("100%")
    expect(week0).to_contain_text("3")
    colour = week0.evaluate("(el) => getComputedStyle(el).backgroundColor")
    assert colour not in ("rgba(0, 0, 0, 0)", "transparent"), colour
    expect(heat.locator("tbody tr").first.locator("td.empty")).to_have_count(12)  # weeks 1..12 not begun

    targets = page.locator("section", has=page.get_by_role("heading", name="Quarterly targets"))
    expect(targets.get_by_label("Quarter")).to_have_value(quarter)
    targets.get_by_label("Quarter").fill("2027Q5")
    targets.get_by_label("New users").fill("6")
    targets.get_by_role("button", name="Save").click()
    expect(targets.get_by_role("alert")).to_contain_text("VALIDATION_ERROR")
    targets.get_by_label("Quarter").fill(quarter)
    targets.get_by_role("button", name="Save").click()
    progress = page.locator("[data-target=new_users]")
    expect(progress).to_contain_text("Target 6 · 50% reached")
    expect(progress.locator("progress")).to_have_attribute("value", "50")
    shoot(page, "admin-growth")

    page.locator("#lang").click()
    expect(page.locator(".screen-growth h1")).to_have_text("增长看板")
    expect(page.get_by_role("table", name="周留存（同期群）")).to_be_visible()
    expect(page.locator("[data-target=new_users]")).to_contain_text("目标 6 · 完成 50%")
    shoot(page, "admin-growth-zh")
