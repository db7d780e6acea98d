"""The console's daily check-in screen in Chromium against the local stack: an owner sets a reward ladder with a
coupon day, the programme survives a reload and reaches the API, an impossible ladder shows the API's refusal, and
the screen speaks Chinese. Screenshot: tests/e2e/artifacts/admin-checkins.png.
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


def test_an_owner_sets_the_check_in_ladder_and_sees_a_refusal_beside_the_form(
    live_stack: LiveStack, new_page: NewPage, shoot: Shoot
) -> None:
    page = new_page(allow=("422 (Unprocessable Entity)",))  # the refusal the test provokes
    sign_in(page, live_stack)
    page.get_by_role("link", name="Check-ins").click()
    expect(page.get_by_role("heading", name="Daily check-ins")).to_be_visible()
    page.get_by_label("Open daily check-ins").check()
    page.get_by_label("Reward cycle (days)").fill("7")
    page.get_by_label("Make-up cards per month").fill("2")
    page.get_by_role("button", name="Add a day").click()
    page.get_by_role("button", name="Add a day").click()
    rows = page.locator("[data-ladder-row]")
    expect(rows).to_have_count(2)
    second = rows.nth(1)
    second.get_by_label("Day").fill("7")
    second.get_by_label("Points").fill("100")
    second.get_by_label("Coupon name").fill("5 yuan coupon")
    second.get_by_label("Coupon value (yuan)").fill("5")
    page.get_by_role("button", name="Save").click()
    expect(page.locator(".form-message .ok")).to_have_text("Check-in programme saved")
    shoot(page, "admin-checkins")

    status, saved = live_stack.call("GET", "/v1/admin/loyalty/checkins", token=live_stack.owner_token)
    assert status == 200 and saved["configured"], saved
    assert saved["settings"]["enabled"] and saved["settings"]["makeup_cards_per_month"] == 2
    assert saved["settings"]["ladder"] == [
        {"day": 1, "points": 10, "coupon": None},
        {"day": 7, "points": 100, "coupon": {"name": "5 yuan coupon", "value_fen": 500}},
    ]

    page.reload()
    expect(page.locator("[data-ladder-row]")).to_have_count(2)
    expect(page.get_by_label("Open daily check-ins")).to_be_checked()
    page.get_by_label("Reward cycle (days)").fill("3")  # day 7 now lies beyond the cycle
    page.get_by_role("button", name="Save").click()
    expect(page.locator(".form-message .error-box")).to_contain_text("VALIDATION_ERROR")
    expect(page.locator(".form-message li")).to_contain_text("beyond the cycle of 3 days")

    page.locator("#lang").click()
    expect(page.get_by_role("heading", name="每日签到")).to_be_visible()
    expect(page.get_by_label("开启每日签到")).to_be_checked()
