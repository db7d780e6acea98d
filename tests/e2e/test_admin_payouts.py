"""The console's payouts screen in Chromium against the local stack.

A distribution campaign (no frozen period) earns a participant commission through the orders webhook and the
stream; the participant asks for a bank withdrawal through the API; a finance operator signs in to the console,
approves it and marks it paid with the bank's reference, each act behind the TOTP step-up prompt. The owner's
payout policy form shows the API's refusal next to its field; roles without payouts see no menu entry.
Screenshots: tests/e2e/artifacts/admin-payouts*.png.
"""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from tests.conftest import campaign_body
from tests.e2e.conftest import LiveStack, NewPage, code_at
from tests.e2e.test_admin_console import sign_in, step_up
from tests.e2e.test_landing_pages import signed_hook

pytestmark = pytest.mark.browser

Shoot = Callable[[Page, str], Path]
STREAM = 30.0  # s: the stream pump delivers the commission to the wallet
RULES = {"levels": 1, "rates_bp": [1000], "binding": "first_click", "frozen_days": 0}


def joined(live: LiveStack, cid: str, user: str, **fields: Any) -> dict[str, Any]:
    """The merchant's user `user` joins the signed campaign (as its page would, with a fresh assertion)."""
    body = {"external_id": user, "assertion": live.assertion(user), **fields}
    status, answer = live.call("POST", f"/v1/campaigns/{cid}/participants", body)
    assert status in (200, 201), answer
    return dict(answer)


def earned(live: LiveStack) -> tuple[str, str, str]:
    """A distribution campaign in which a seller's friend paid 1,000 yuan: (campaign, seller's user id, seller's
    token), once the seller's 100 yuan of commission is available in the wallet."""
    body = campaign_body("distribution", identity={"mode": "signed"}, rules=RULES)
    status, made = live.call("POST", "/v1/admin/campaigns", body, token=live.owner_token)
    assert status == 201, made
    cid = str(made["campaign_id"])
    status, answer = live.call("POST", f"/v1/admin/campaigns/{cid}/publish", token=live.owner_token)
    assert status == 200, answer
    seller_id, buyer_id = f"member-{uuid.uuid4().hex[:8]}", f"member-{uuid.uuid4().hex[:8]}"
    seller = joined(live, cid, seller_id)
    joined(live, cid, buyer_id, ref=seller["invite_code"])
    order = {
        "event_id": uuid.uuid4().hex, "order_id": f"o-{uuid.uuid4().hex[:8]}", "campaign_id": cid,
        "external_id": buyer_id, "amount": 100_000, "status": "paid",
        "items": [{"sku": "SKU-1", "qty": 1, "price_fen": 100_000}],
    }  # fmt: skip
    signed_hook(live, "orders", order)
    token = str(seller["token"])
    deadline = time.monotonic() + STREAM
    while True:
        status, wallet = live.call("GET", f"/v1/campaigns/{cid}/me/wallet", token=token)
        assert status == 200, wallet
        if wallet["balances"]["available_fen"] == 10_000:
            return cid, seller_id, token
        assert time.monotonic() < deadline, f"the commission never reached the wallet: {wallet}"
        time.sleep(0.2)


def operator(live: LiveStack, role: str) -> tuple[str, str]:
    """A new operator of the tenant with `role`, made by the owner: (email, password)."""
    email, password = f"{role}-{uuid.uuid4().hex[:6]}@{live.tid}.example.cn", "browser-operator-pass-1"
    body = {"email": email, "password": password, "role": role}
    status, answer = live.call("POST", "/v1/admin/operators", body, token=live.owner_token)
    assert status == 201, answer
    return email, password


def enrol_authenticator(live: LiveStack, page: Page) -> str:
    """The signed-in operator sets up an authenticator with the console's own token; returns its secret. The
    previous step's code confirms it, so the current and next ones stay free for two step-ups."""
    from datetime import UTC, datetime, timedelta

    from chalicelib.security import totp

    token = str(page.evaluate("JSON.parse(sessionStorage.getItem('fission:admin:session')).token"))
    status, body = live.call("POST", "/v1/admin/operators/me/totp", token=token)
    assert status == 201, body
    secret = str(body["secret"])
    code = totp.code_at(secret, datetime.now(UTC) - timedelta(seconds=totp.STEP_SECONDS))
    status, body = live.call("POST", "/v1/admin/operators/me/totp/confirm", {"code": code}, token=token)
    assert status == 200, body
    return secret


def test_finance_approves_a_bank_withdrawal_and_marks_it_paid_with_step_ups(
    live_stack: LiveStack, new_page: NewPage, shoot: Shoot
) -> None:
    cid, seller_id, token = earned(live_stack)
    request = {"amount_fen": 5_000, "method": "bank", "destination": "6222020200112233445", "name": "王小明"}
    headers = {"X-Fission-Assertion": live_stack.assertion(seller_id), "Idempotency-Key": uuid.uuid4().hex}
    status, asked = live_stack.call("POST", f"/v1/campaigns/{cid}/me/withdrawals", request, token=token,
                                    headers=headers)  # fmt: skip
    assert status == 201 and asked["status"] == "requested", asked
    wid = str(asked["withdrawal_id"])

    # Finance signs in with a password (no step-up in that session), then sets up an authenticator.
    email, password = operator(live_stack, "finance")
    page = new_page(allow=("status of 403",))  # each act's first try is refused until the code is given
    sign_in(page, live_stack, operator=(email, password, "Finance"))
    secret = enrol_authenticator(live_stack, page)
    page.get_by_role("link", name="Payouts").click()
    expect(page.locator(".screen-payouts h1")).to_have_text("Payouts")
    pick = page.get_by_role("checkbox", name=re.compile(wid))
    row = page.locator("tr", has=pick)
    for shown in ("****3445", "王*", "Bank", "¥50.00", "¥0.00", "Requested", "min ago"):
        expect(row).to_contain_text(shown)
    expect(page.locator("#payouts-status")).to_have_value("requested")
    expect(page.get_by_role("heading", name="Payout policy")).to_have_count(0)  # the owner's form only
    shoot(page, "admin-payouts")

    pick.check()
    page.get_by_role("button", name="Approve selected").click()
    step_up(page, code_at(secret))
    expect(page.locator("#view").get_by_text("Approved 1.")).to_be_visible()
    expect(page.get_by_text("No withdrawal is waiting for a decision.")).to_be_visible()

    page.locator("#payouts-status").select_option("approved")
    reference = page.get_by_label(f"Payment reference for {wid}")
    expect(page.locator("tr", has=reference)).to_contain_text(f"By {email}")
    expect(page.get_by_role("button", name="Download the bank transfers (CSV)")).to_be_visible()
    reference.fill("CMB-20261207-0001")
    page.get_by_role("button", name="Mark paid").click()
    step_up(page, code_at(secret, 1))
    expect(page.locator("#view").get_by_text(f"{wid} marked paid")).to_be_visible()
    expect(page.get_by_text("No approved withdrawal is waiting to be paid.")).to_be_visible()

    page.locator("#payouts-status").select_option("paid")
    expect(page.locator("tbody tr")).to_have_count(1)
    expect(page.locator("tbody tr")).to_contain_text("Reference CMB-20261207-0001")
    expect(page.locator("tbody tr .badge")).to_have_text("Paid")
    shoot(page, "admin-payouts-paid")
    status, mine = live_stack.call("GET", f"/v1/campaigns/{cid}/me/withdrawals", token=token)
    assert status == 200 and [(w["withdrawal_id"], w["status"]) for w in mine["items"]] == [(wid, "paid")], mine


def test_the_owner_sees_the_policy_form_and_other_roles_no_payouts_entry(
    live_stack: LiveStack, new_page: NewPage, shoot: Shoot
) -> None:
    page = new_page(allow=("status of 422",))
    sign_in(page, live_stack)
    page.get_by_role("link", name="Payouts").click()
    form = page.locator("section", has=page.get_by_role("heading", name="Payout policy"))
    expect(form).to_contain_text("Not set: the defaults apply")
    expect(form.get_by_label("Smallest withdrawal (yuan)")).to_have_value("1.00")
    expect(form.get_by_label("Accept new withdrawal requests")).to_be_checked()
    expect(form.get_by_label("Bank")).to_be_checked()
    rate = form.get_by_label("Fee rate (basis points, 100 = 1%)")
    expect(rate).to_have_value("0")

    # Checked by the page before anything is sent, then by the API (its message next to the field).
    form.get_by_label("Smallest withdrawal (yuan)").fill("1.234")
    form.get_by_role("button", name="Save").click()
    expect(form.get_by_text("An amount in yuan, e.g. 10 or 10.50")).to_be_visible()
    form.get_by_label("Smallest withdrawal (yuan)").fill("2")
    rate.fill("5000")
    form.get_by_role("button", name="Save").click()
    expect(rate).to_have_attribute("aria-invalid", "")
    expect(form.locator(".field-error").filter(has_text="2000")).to_have_count(1)
    expect(form.get_by_role("alert")).to_contain_text("VALIDATION_ERROR")
    shoot(page, "admin-payouts-settings")

    for role, shown in (("operator", "Operator"), ("analyst", "Analyst")):
        email, password = operator(live_stack, role)
        other = new_page()
        sign_in(other, live_stack, operator=(email, password, shown))
        expect(other.get_by_role("link", name="Campaigns")).to_be_visible()
        expect(other.get_by_role("link", name="Payouts")).to_have_count(0)
