"""The participant centre (web/l/centre.html) in a mobile Chromium against the local stack: a participant who earned
points opens it from the landing page, sees the balance and every entry, redeems an item from the rewards shop and
sees the new balance, in English and in Chinese. The screenshot lands in tests/e2e/artifacts/centre.png."""

from __future__ import annotations

import re
import time

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import LiveStack, NewPage
from tests.e2e.test_landing_pages import STREAM, Shoot, join_on_page, publish

pytestmark = pytest.mark.browser

POINTS_RULES = {
    "qualifying_action": "join",
    "milestones": [{"invites": 1, "reward": {"type": "points", "name": "100 points", "points": 100}}],
}


def test_a_participant_with_points_sees_them_and_redeems_an_item_in_the_centre(
    live_stack: LiveStack, new_page: NewPage, shoot: Shoot
) -> None:
    cid = publish(live_stack, "invite", rules=POINTS_RULES)
    status, item = live_stack.call("POST", "/v1/admin/loyalty/catalogue", {"name": "Thermos", "cost_points": 30,
                                   "stock": 5, "description": "500 ml"}, token=live_stack.owner_token)  # fmt: skip
    assert status == 201, item
    page = new_page(mobile=True)
    page.goto(f"{live_stack.url}/l/?campaign={cid}&lang=en")
    me = join_on_page(page, "Ming")
    # A friend joins through the participant's link: the stream issues the points reward and credits it.
    status, friend = live_stack.call("POST", f"/v1/campaigns/{cid}/participants", {"ref": me["invite_code"]})
    assert status == 201, friend
    _wait_for_points(live_stack, cid, me["token"], 100)

    page.locator("#centre-link").click()
    expect(page).to_have_url(re.compile(rf"/l/centre\.html\?campaign={cid}$"))
    expect(page.locator("#c-points h2")).to_have_text("My points")
    expect(page.locator("#points-balance")).to_have_text("100")
    reward = page.locator("#points-entries li[data-kind=reward]")
    expect(reward).to_contain_text("Campaign reward")
    expect(reward).to_contain_text("+100")
    expect(reward).to_contain_text("100 points")  # the entry's own explanation names the reward
    expect(reward).to_contain_text("Valid until")

    row = page.locator(f"#catalogue-items li[data-item={item['item_id']}]")
    expect(row).to_contain_text("Thermos")
    expect(row).to_contain_text("30 points")
    expect(row).to_contain_text("5 left")
    row.locator("button.redeem").click()
    expect(page.locator("#c-catalogue .msg")).to_have_text("Redeemed Thermos for 30 points. 70 points left.")
    expect(page.locator("#points-balance")).to_have_text("70")
    expect(page.locator("#points-spent")).to_have_text("30")
    expect(page.locator("#points-entries li[data-kind=redemption]")).to_contain_text("-30")
    expect(row).to_contain_text("4 left")
    shoot(page, "centre")

    page.locator("#lang").click()
    expect(page.locator("#c-points h2")).to_have_text("我的积分")
    expect(page.locator("#c-catalogue h2")).to_have_text("积分商城")
    expect(page.locator("#points-entries li[data-kind=redemption]")).to_contain_text("积分兑换")
    expect(row).to_contain_text("剩余 4 件")
    expect(row.locator("button.redeem")).to_have_text("兑换")
    expect(page.locator("#back")).to_have_text("← 返回活动页")

    status, stocked = live_stack.call("GET", f"/v1/admin/loyalty/catalogue/{item['item_id']}",
                                      token=live_stack.owner_token)  # fmt: skip
    assert status == 200 and stocked["stock"] == 4


def _wait_for_points(live: LiveStack, cid: str, token: str, balance: int) -> None:
    """Until the stack's stream pump has credited the reward (within seconds)."""
    deadline = time.monotonic() + STREAM / 1000
    while time.monotonic() < deadline:
        status, mine = live.call("GET", f"/v1/campaigns/{cid}/me/points", token=token)
        if status == 200 and mine["balance"] == balance:
            return
        time.sleep(0.2)
    pytest.fail(f"the points never reached {balance}")
