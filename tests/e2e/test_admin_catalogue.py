"""The console's points shop screen (web/admin/screens/catalogue.js) in Chromium against the local stack: an operator
creates, edits, pauses and deletes a catalogue item and saves the points policy, in English and in Chinese."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from playwright.sync_api import Dialog, Locator, Page, expect

from chalicelib.loyalty.rules.catalogue import MAX_STOCK
from tests.e2e.conftest import LiveStack, NewPage
from tests.e2e.test_admin_console import sign_in

pytestmark = pytest.mark.browser


def _item(live: LiveStack, name: str) -> list[dict[str, object]]:
    status, body = live.call("GET", "/v1/admin/loyalty/catalogue", token=live.owner_token)
    assert status == 200, body
    return [i for i in body["items"] if i["name"] == name]


def _policy(live: LiveStack) -> dict[str, Any]:
    status, body = live.call("GET", "/v1/admin/loyalty/settings", token=live.owner_token)
    assert status == 200, body
    return body  # type: ignore[no-any-return]


def _error_under(page: Page, label: str) -> Locator:
    return page.locator(".field", has=page.get_by_label(label, exact=True)).locator(".field-error")


def test_an_operator_runs_the_points_shop(live_stack: LiveStack, new_page: NewPage) -> None:
    before = _policy(live_stack)
    page = new_page(allow=("status of 422",))
    sign_in(page, live_stack)
    page.get_by_role("link", name="Points shop").click()
    expect(page.get_by_role("heading", name="Points shop", exact=True)).to_be_visible()
    name = f"Tote bag {uuid.uuid4().hex[:6]}"

    # What is not a whole number is said under its field, and nothing is sent.
    page.get_by_label("Item name", exact=True).fill(name)
    page.get_by_label("Cost in points", exact=True).fill("500")
    page.get_by_role("button", name="Create the item").click()
    expect(_error_under(page, "Stock left")).to_have_text("Enter a whole number.")
    assert _item(live_stack, name) == []

    page.get_by_label("Description", exact=True).fill("Canvas, natural")
    page.get_by_label("Stock left", exact=True).fill("20")
    page.get_by_label("Per-person limit", exact=True).fill("2")
    page.get_by_role("button", name="Create the item").click()
    row = page.locator("tr", has_text=name)
    expect(row).to_contain_text("Canvas, natural")
    expect(row).to_contain_text("500")
    expect(row).to_contain_text("20")
    expect(row).to_contain_text("On sale")
    [made] = _item(live_stack, name)
    assert (made["cost_points"], made["stock"], made["per_person_limit"], made["active"]) == (500, 20, 2, True)

    # A restock beyond the API's limit: its 422 message lands under the stock field, and the item keeps its stock.
    row.get_by_role("button", name=f"Edit item {name}").click()
    expect(page.get_by_label("Stock left", exact=True)).to_have_value("20")
    page.get_by_label("Stock left", exact=True).fill(str(MAX_STOCK + 1))
    page.get_by_role("button", name="Save", exact=True).click()
    expect(_error_under(page, "Stock left")).to_contain_text(str(MAX_STOCK))
    expect(page.locator("form .error-box")).to_contain_text("VALIDATION")
    assert [i["stock"] for i in _item(live_stack, name)] == [20]
    page.get_by_label("Stock left", exact=True).fill("35")
    page.get_by_label("Per-person limit", exact=True).fill("")
    page.get_by_role("button", name="Save", exact=True).click()
    expect(row).to_contain_text("35")
    expect(row).to_contain_text("No limit")
    assert [(i["stock"], i["per_person_limit"]) for i in _item(live_stack, name)] == [(35, None)]

    row.get_by_role("button", name=f"Pause item {name}").click()
    expect(row).to_contain_text("Paused")
    assert [i["active"] for i in _item(live_stack, name)] == [False]

    # The points policy on the same screen.
    days = 400 if before["settings"]["expiry_days"] != 400 else 401
    page.get_by_label("Points expire after (days)").fill(str(days))
    page.get_by_role("button", name="Save the policy").click()
    expect(page.locator("#view .ok")).to_have_text("Points policy saved")
    assert _policy(live_stack) == {"settings": {"expiry_days": days}, "configured": True}

    # The same screen in Chinese.
    page.locator("#lang").click()
    expect(page.get_by_role("heading", name="积分商城")).to_be_visible()
    expect(page.locator("tr", has_text=name)).to_contain_text("已下架")
    expect(page.locator("tr", has_text=name)).to_contain_text("不限")
    expect(page.get_by_role("heading", name="积分规则")).to_be_visible()
    expect(page.get_by_label("积分有效期（天）")).to_have_value(str(days))
    page.locator("tr", has_text=name).get_by_role("button", name=f"上架商品 {name}").click()
    expect(page.locator("tr", has_text=name)).to_contain_text("上架中")
    page.locator("#lang").click()

    def accept(dialog: Dialog) -> None:
        dialog.accept()

    page.once("dialog", accept)
    page.locator("tr", has_text=name).get_by_role("button", name=f"Delete item {name}").click()
    expect(page.locator("tr", has_text=name)).to_have_count(0)
    assert _item(live_stack, name) == []
    # The tenant's policy as it was, for the tests that follow.
    status, body = live_stack.call(
        "PUT", "/v1/admin/loyalty/settings", before["settings"], token=live_stack.owner_token
    )
    assert status == 200, body


def test_the_points_shop_is_for_owners_and_operators(live_stack: LiveStack, new_page: NewPage) -> None:
    email, password = f"analyst-{uuid.uuid4().hex[:6]}@{live_stack.tid}.example.cn", "analyst-pass-1"
    made = {"email": email, "password": password, "role": "analyst"}
    status, body = live_stack.call("POST", "/v1/admin/operators", made, token=live_stack.owner_token)
    assert status == 201, body
    page = new_page(allow=("status of 403",))
    sign_in(page, live_stack, operator=(email, password, "Analyst"))
    expect(page.get_by_role("link", name="Points shop")).to_have_count(0)
    page.goto(f"{live_stack.url}/admin/#/catalogue")
    expect(page.locator(".screen-catalogue .error-box")).to_contain_text("FORBIDDEN")
    expect(page.get_by_role("button", name="Create the item")).to_have_count(0)
    expect(page.get_by_role("button", name="Save the policy")).to_have_count(0)
