"""The console's budget stop-loss screen in Chromium against the local stack: an operator opens it from the campaign
page, adds a campaign line and a channel line in yuan, saves them (the API holds them in fen), sees the API's
refusal of a bad line, and reads the screen in Chinese. Screenshots: tests/e2e/artifacts/admin-stoploss*.png."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.conftest import LiveStack, NewPage
from tests.e2e.test_admin_console import seed_campaign, sign_in

pytestmark = pytest.mark.browser

Shoot = Callable[[Page, str], Path]


def test_stop_loss_lines_are_set_in_yuan_refused_clearly_and_shown_in_both_languages(
    live_stack: LiveStack, new_page: NewPage, shoot: Shoot
) -> None:
    cid = seed_campaign(live_stack)
    page = new_page(allow=("status of 422",))  # the refused line below
    sign_in(page, live_stack)
    page.goto(f"{live_stack.url}/admin/#/campaigns/{cid}")
    page.get_by_role("link", name="Budget stop-loss").click()
    expect(page.locator(".screen-stoploss h1")).to_have_text("Budget stop-loss")
    expect(page.get_by_text("Nothing is stopped by a stop-loss line.")).to_be_visible()

    page.get_by_role("button", name="Add a line").click()
    page.get_by_label("Spend line (yuan)").last.fill("500.00")
    page.get_by_role("button", name="Add a line").click()
    page.get_by_label("Channel").last.fill("douyin")
    page.get_by_label("CAC ceiling (yuan)").last.fill("8.5")
    page.get_by_label("Window (days)").last.fill("7")
    page.get_by_role("button", name="Save").click()
    expect(page.locator(".form-message")).to_have_text("Stop-loss lines saved")
    status, body = live_stack.call("GET", f"/v1/admin/campaigns/{cid}/stop-loss", token=live_stack.owner_token)
    assert status == 200, body
    assert [(line["key"], line["spend_fen"], line["cac_fen"], line["window_days"]) for line in body["lines"]] == [
        ("*", 50_000, None, None),
        ("douyin", None, 850, 7),
    ]
    shoot(page, "admin-stoploss")

    page.get_by_role("button", name="Add a line").click()  # a second whole-campaign line: refused by the API
    page.get_by_label("Spend line (yuan)").last.fill("1")
    page.get_by_role("button", name="Save").click()
    expect(page.locator(".form-message")).to_contain_text("VALIDATION_ERROR")
    page.get_by_label("Window (days)").last.fill("seven")
    page.get_by_role("button", name="Save").click()
    expect(page.locator(".form-message")).to_contain_text("is not a valid number")

    page.locator("#lang").click()
    expect(page.locator(".screen-stoploss h1")).to_have_text("预算止损线")
    expect(page.get_by_label("花费上限（元）").first).to_have_value("500.00")
    shoot(page, "admin-stoploss-zh")
