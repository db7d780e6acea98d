"""The console's membership tiers screen in Chromium against the local stack.

The owner opens the screen (no tiers yet), builds a two-tier ladder, is stopped by the page on a bad multiplier and
by the API on thresholds that do not rise, saves, and finds the ladder again after a reload and in Chinese; the API
answers what the screen saved. Screenshots: tests/e2e/artifacts/admin-tiers*.png.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.conftest import LiveStack, NewPage
from tests.e2e.test_admin_console import sign_in

pytestmark = pytest.mark.browser

Shoot = Callable[[Page, str], Path]


def test_the_owner_builds_a_ladder_the_page_and_the_api_check_it_and_it_is_saved(
    live_stack: LiveStack, new_page: NewPage, shoot: Shoot
) -> None:
    page = new_page(allow=("status of 422",))
    sign_in(page, live_stack)
    page.get_by_role("link", name="Tiers").click()
    screen = page.locator(".screen-tiers")
    expect(screen).to_be_visible()
    expect(screen.get_by_role("heading", name="Membership tiers")).to_be_visible()
    expect(screen.get_by_role("status")).to_contain_text("Not set: no tiers yet.")
    page.get_by_label("Measure").select_option("spend_fen")
    page.get_by_label("Window (days)").fill("90")
    page.get_by_label("Grace period (days)").fill("14")
    for n, (tid, name, threshold, multiplier) in enumerate(
        (("silver", "Silver", "50000", "1"), ("gold", "Gold", "10000", "1.255")), start=1
    ):
        page.get_by_role("button", name="Add a tier").click()
        page.get_by_label(f"Id of tier {n}", exact=True).fill(tid)
        page.get_by_label(f"Name of tier {n}", exact=True).fill(name)
        page.get_by_label(f"Threshold of tier {n}", exact=True).fill(threshold)
        page.get_by_label(f"Multiplier of tier {n}", exact=True).fill(multiplier)
    save = screen.get_by_role("button", name="Save")
    alert = screen.get_by_role("alert")

    # The page refuses a multiplier with three decimals before anything is sent ...
    save.click()
    expect(alert).to_contain_text("gold: a multiplier has at most 2 decimals")
    # ... and the API thresholds that do not rise.
    page.get_by_label("Multiplier of tier 2", exact=True).fill("1.5")
    save.click()
    expect(alert).to_contain_text("VALIDATION_ERROR")
    expect(alert).to_contain_text("each threshold above")
    page.get_by_label("Threshold of tier 2", exact=True).fill("200000")
    save.click()
    expect(alert).to_contain_text("Tiers saved")
    shoot(page, "admin-tiers")

    status, body = live_stack.call("GET", "/v1/admin/loyalty/tiers", token=live_stack.owner_token)
    assert status == 200 and body["configured"], body
    assert body["rules"]["measure"] == "spend_fen" and body["rules"]["window_days"] == 90, body
    assert [(t["id"], t["threshold"], t["multiplier"]) for t in body["rules"]["tiers"]] == [
        ("silver", 50_000, 1.0),
        ("gold", 200_000, 1.5),
    ]

    page.reload()
    expect(page.get_by_label("Id of tier 2", exact=True)).to_have_value("gold")
    expect(page.get_by_label("Measure")).to_have_value("spend_fen")
    page.locator("#lang").click()
    expect(page.get_by_role("heading", name="会员等级")).to_be_visible()
    expect(page.get_by_label("第 2 级的积分倍率", exact=True)).to_have_value("1.5")
    shoot(page, "admin-tiers-zh")
