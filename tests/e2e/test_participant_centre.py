"""The participant centre (web/l/centre.html) in a mobile Chromium against the local stack: a participant who earned
points opens it from the landing page, sees the balance and every entry, redeems an item from the rewards shop and
sees the new balance, in English and in Chinese; another checks in, makes up a missed day, and sees the streak, the
points, a task's progress and the tier they reach. The screenshots land in tests/e2e/artifacts/centre*.png."""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import expect

from tests.conftest import Clock
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
    _wait_for(live, f"/v1/campaigns/{cid}/me/points", token, lambda mine: mine["balance"] == balance)


def _wait_for(live: LiveStack, path: str, token: str, reached: Callable[[Any], bool]) -> None:
    """Until the participant's GET `path` answers what `reached` looks for (the stream pump works within seconds)."""
    deadline = time.monotonic() + STREAM / 1000
    while time.monotonic() < deadline:
        status, body = live.call("GET", path, token=token)
        if status == 200 and reached(body):
            return
        time.sleep(0.2)
    pytest.fail(f"{path} never reached what the test waits for: {body}")


CHECKINS = {
    "enabled": True,
    "cycle_days": 7,
    "ladder": [{"day": 1, "points": 10}, {"day": 2, "points": 20}, {"day": 3, "points": 30}],
    "makeup_cards_per_month": 1,
}
TASK = {"name": "Check in on 3 days", "period": "once", "fact": "checked_in", "target": 3, "reward": {"points": 5}}
TIERS = {
    "measure": "points_earned",
    "window_days": 365,
    "grace_days": 30,
    "tiers": [{"id": "silver", "name": "Silver", "threshold": 15}, {"id": "gold", "name": "Gold", "threshold": 1000}],
}


def test_a_participant_checks_in_makes_up_a_missed_day_and_sees_points_task_and_tier(
    live_stack: LiveStack, new_page: NewPage, shoot: Shoot, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    from chalicelib.accounts import tenants
    from chalicelib.loyalty import tiers

    # Tier upgrades from the stream read the time too: the same test clock as the routes.
    monkeypatch.setattr(tiers, "utcnow", clock)
    owner = live_stack.owner_token
    programme = (
        ("PUT", "/v1/admin/loyalty/checkins", CHECKINS),
        ("POST", "/v1/admin/loyalty/tasks", TASK),
        ("PUT", "/v1/admin/loyalty/tiers", TIERS),
    )
    for method, path, body in programme:
        status, answer = live_stack.call(method, path, body, token=owner)
        assert status in (200, 201), answer
    cid = publish(live_stack, "invite")
    page = new_page(mobile=True, allow=("status of 409",))  # the make-up refused on purpose
    page.goto(f"{live_stack.url}/l/?campaign={cid}&lang=en")
    me = join_on_page(page, "Lan")
    token = me["token"]

    # A check-in three local days before "today", in the same month; the two days between are missed. Early in a
    # month "today" is moved three days on instead, so every day involved is of one month.
    real = datetime.now(UTC)
    local = real.astimezone(ZoneInfo(tenants.timezone(live_stack.tid))).date()
    first_at, today_offset = (real - timedelta(days=3), timedelta()) if local.day >= 4 else (real, timedelta(days=3))
    clock.offset = first_at - real
    status, first = live_stack.call("POST", f"/v1/campaigns/{cid}/me/checkins", token=token)
    assert status == 201 and first["points"] == 10, first
    clock.offset = today_offset
    today = date.fromisoformat(first["date"]) + timedelta(days=3)
    missed = [(today - timedelta(days=n)).isoformat() for n in (2, 1)]
    _wait_for(live_stack, f"/v1/campaigns/{cid}/me/tasks", token, lambda mine: mine["tasks"][0]["progress"] == 1)

    page.locator("#centre-link").click()
    expect(page.locator("#c-checkins h2")).to_have_text("Daily check-in")
    calendar = page.locator("#checkin-calendar")
    expect(calendar.locator(f"li[data-date='{first['date']}']")).to_have_attribute("data-state", "checked")
    expect(calendar.locator(f"li[data-date='{missed[0]}'] button")).to_have_count(1)
    expect(calendar.locator(f"li[data-date='{today.isoformat()}']")).to_have_attribute("data-state", "today")
    expect(page.locator("#checkin-streak")).to_have_text("0")
    expect(page.locator("#checkin-next")).to_have_text("Today's check-in is day 1 of your streak: 10 points")
    expect(page.locator("#checkin-ladder li")).to_have_count(3)
    expect(page.locator("#points-balance")).to_have_text("10")
    task = page.locator("#task-list li")
    expect(task).to_contain_text("Check in on 3 days")
    expect(task.locator(".task-progress")).to_have_text("1/3")
    expect(task.locator("progress")).to_have_attribute("value", "1")
    expect(task).to_contain_text("One-off")
    expect(page.locator("#tier-name")).to_have_text("No tier yet")
    expect(page.locator("#tier-next")).to_have_text("5 points more to reach Silver")

    page.locator("#checkin-button").click()
    expect(page.locator("#c-checkins .msg")).to_have_text("Checked in: day 1 of your streak, 10 points.")
    expect(calendar.locator(f"li[data-date='{today.isoformat()}']")).to_have_attribute("data-state", "checked")
    expect(page.locator("#checkin-streak")).to_have_text("1")
    expect(page.locator("#checkin-button")).to_be_disabled()
    expect(page.locator("#checkin-button")).to_have_text("Checked in today")
    expect(page.locator("#points-balance")).to_have_text("20")  # the points section read again

    calendar.locator(f"li[data-date='{missed[1]}'] button").click()
    expect(page.locator("#c-checkins .msg")).to_have_text(f"Made up {missed[1]}. 0 make-up cards left this month.")
    expect(calendar.locator(f"li[data-date='{missed[1]}']")).to_have_attribute("data-state", "made-up")
    expect(page.locator("#checkin-streak")).to_have_text("2")
    expect(page.locator("#checkin-cards")).to_have_text("0/1")
    calendar.locator(f"li[data-date='{missed[0]}'] button").click()
    expect(page.locator("#c-checkins .msg")).to_have_text("No make-up cards left this month (1 a month).")
    expect(calendar.locator(f"li[data-date='{missed[0]}']")).to_have_attribute("data-state", "missed")

    # The check-in and the make-up count for the task from the stream; its reward and the check-in reach Silver.
    _wait_for(
        live_stack, f"/v1/campaigns/{cid}/me/tier", token, lambda mine: (mine["tier"] or {}).get("id") == "silver"
    )
    _wait_for(live_stack, f"/v1/campaigns/{cid}/me/points", token, lambda mine: mine["balance"] == 25)
    page.reload()
    expect(task.locator(".task-progress")).to_have_text("3/3")
    expect(task).to_have_attribute("data-done", "true")
    expect(task).to_contain_text("Done")
    expect(page.locator("#points-balance")).to_have_text("25")
    expect(page.locator("#tier-name")).to_have_text("Silver")
    expect(page.locator("#tier-value")).to_have_text("25 points earned in the last 365 days")
    expect(page.locator("#tier-next")).to_have_text("975 points more to reach Gold")
    shoot(page, "centre-checkins")

    this_month = page.locator("#checkin-month").inner_text()
    page.locator("#checkin-prev").click()
    expect(page.locator("#checkin-month")).not_to_have_text(this_month)
    expect(calendar.locator("li[data-state=checked]")).to_have_count(0)
    expect(calendar.locator("button.day")).to_have_count(0)  # only this month's days can be made up
    page.locator("#checkin-next-month").click()
    expect(calendar.locator("li[data-state=checked]")).to_have_count(2)
    expect(page.locator("#checkin-next-month")).to_be_disabled()

    page.locator("#lang").click()
    expect(page.locator("#c-checkins h2")).to_have_text("每日签到")
    expect(page.locator("#checkin-button")).to_have_text("今日已签到")
    expect(page.locator("#checkin-streak")).to_have_text("2")
    expect(page.locator("#c-tasks h2")).to_have_text("任务")
    expect(task).to_contain_text("已完成")
    expect(page.locator("#c-tier h2")).to_have_text("会员等级")
    expect(page.locator("#tier-next")).to_have_text("再得 975 积分 升级为 Gold")
