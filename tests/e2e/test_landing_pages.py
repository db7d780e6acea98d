"""The participant landing pages (web/l/) in a mobile Chromium against the local stack, one flow per mode.

Each test publishes a campaign through the admin API, joins on the page, brings a second visitor in
through the first one's link and waits for the first page to show it (the stack's stream pump runs in
the background). Screenshots land in tests/e2e/artifacts/landing-{mode}.png.

The campaigns are anonymous (the page joins without a user id, docs/identity.md) unless the test needs
the merchant's user id, as the follow and order webhooks identify participants by it: those are signed,
and the visitor arrives from the merchant's site with `#assertion=` (or `?assertion=`) signed for a user id
the test picks.
"""

from __future__ import annotations

import json
import re
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from playwright.sync_api import Page, expect

from chalicelib.security.signing import sign
from tests.conftest import MODE_RULES, campaign_body
from tests.e2e.conftest import LiveStack, NewPage

pytestmark = pytest.mark.browser

Shoot = Callable[[Page, str], Path]
STREAM = 20_000  # ms: what the stream pump and the page's 3-second refresh need at most


GIFT = {"type": "gift", "name": "Tote bag", "value_fen": 3000, "stock": 100}
ADDRESS = {"收货人": "李雷", "联系电话": "13800138000", "省份": "上海", "城市": "上海", "详细地址": "南京西路 1 号"}


def publish(live: LiveStack, mode: str, identity: str = "anonymous", **overrides: Any) -> str:
    body = campaign_body(mode, identity={"mode": identity}, **overrides)
    status, body = live.call("POST", "/v1/admin/campaigns", body, token=live.owner_token)
    assert status == 201, body
    cid = str(body["campaign_id"])
    status, body = live.call("POST", f"/v1/admin/campaigns/{cid}/publish", token=live.owner_token)
    assert status == 200, body
    return cid


def join_on_page(page: Page, nickname: str) -> dict[str, Any]:
    """Fill and send the join form; returns the join answer the page kept."""
    page.locator("#nickname").fill(nickname)
    page.locator("#join-submit").click()
    expect(page.locator("#invite-link")).to_have_value(re.compile(r"/v1/i/[0-9a-z]{8}\?ch=link$"))
    cid = parse_qs(urlsplit(page.url).query)["campaign"][0]
    kept = page.evaluate(f"JSON.parse(localStorage.getItem('fission:{cid}:participant'))")
    assert kept["token"].startswith("pt1.")
    return dict(kept)


def user_id() -> str:
    """A merchant's user id, as a signed campaign's webhooks name the participant."""
    return f"member-{uuid.uuid4().hex[:8]}"


def assert_no_assertion_in_address(page: Page) -> None:
    # The page takes the assertion out of the address bar before anything loads.
    expect(page.locator("#title")).to_contain_text("campaign")
    assert "assertion" not in str(page.evaluate("location.href"))


def signed_in(page: Page, live: LiveStack, user: str) -> None:
    """The merchant's site logs the visitor in and sends them back to this page with an assertion."""
    here = str(page.evaluate("location.href"))
    page.goto(f"{here}&assertion={live.assertion(user)}")
    assert_no_assertion_in_address(page)


def claim_gift(page: Page) -> None:
    """Claim the issued gift on the page, with a delivery address."""
    page.locator("#reward-list li[data-status=issued] button.claim").click()
    for label, value in ADDRESS.items():
        page.get_by_label(label, exact=True).fill(value)
    page.get_by_role("button", name="提交并领取").click()


def signed_hook(live: LiveStack, kind: str, payload: dict[str, Any]) -> None:
    status, body = live.call("GET", "/v1/admin/webhook-secret", token=live.stepped_token())
    assert status == 200, body
    raw = json.dumps(payload).encode()
    stamp = int(time.time())
    headers = {
        "X-Fission-Timestamp": str(stamp),
        "X-Fission-Signature": sign(bytes.fromhex(body["secret"]), stamp, raw),
    }
    status, answer = live.call("POST", f"/v1/hooks/{live.tid}/{kind}", raw, headers=headers)
    assert status == 200, answer


def open_landing(new_page: NewPage, live: LiveStack, cid: str, user: str | None = None) -> Page:
    """A visitor opens the landing page; with `user`, sent by the merchant's site with their assertion."""
    page = new_page(mobile=True)
    # The fragment form a merchant's site should use (never sent to a server); `signed_in` uses the query form.
    page.goto(f"{live.url}/l/?campaign={cid}" + (f"#assertion={live.assertion(user)}" if user else ""))
    expect(page.locator("#title")).to_contain_text("campaign")
    assert_no_assertion_in_address(page)
    return page


def follow_invite(new_page: NewPage, invite_url: str, cid: str, code: str) -> Page:
    """A second visitor opens the short link and lands on /l/ with the ref and a click token."""
    page = new_page(mobile=True)
    page.goto(invite_url)
    landed = urlsplit(page.url)
    query = parse_qs(landed.query)
    assert landed.path == "/l/" and query["campaign"] == [cid] and query["ref"] == [code] and query["ch"] == ["link"]
    assert query["click"][0].startswith("c1.")
    return page


def test_invite_page_joins_counts_a_friend_and_claims_the_reward(
    live_stack: LiveStack, new_page: NewPage, shoot: Shoot
) -> None:
    cid = publish(live_stack, "invite", rules={**MODE_RULES["invite"], "invitee_reward": GIFT})
    first = open_landing(new_page, live_stack, cid)
    expect(first.locator("#ladder li")).to_have_count(2)
    me = join_on_page(first, "小明")
    expect(first.locator("#progress-count")).to_have_text("已成功邀请 0 人")

    friend = follow_invite(new_page, first.locator("#invite-link").input_value(), cid, me["invite_code"])
    expect(friend.locator("#s-offer")).to_contain_text(f"好友 {me['invite_code']} 邀请你参加")
    friend_me = join_on_page(friend, "小红")
    assert friend_me["invited_by"] == me["invite_code"]
    # The friend's own welcome reward (invitee_reward) and the inviter's first milestone arrive from the stream.
    expect(first.locator("#progress-count")).to_have_text("已成功邀请 1 人", timeout=STREAM)
    claim = first.locator("#reward-list li[data-status=issued] button.claim")
    expect(claim).to_have_count(1, timeout=STREAM)
    claim.click()
    expect(first.locator("#reward-list li[data-status=claimed]")).to_have_count(1)
    expect(first.locator("#s-rewards .msg")).to_have_text("已领取")
    expect(first.locator("#leaderboard-list li")).to_have_count(1, timeout=STREAM)
    # The board shows the name masked and keys its rows by the opaque row id, never by the invite code.
    expect(first.locator("#leaderboard-list li")).to_contain_text("1. 小*")
    expect(first.locator("#leaderboard-list li")).to_have_attribute("data-row-id", re.compile(r"^[a-z2-7]{16}$"))
    expect(first.locator("#rank")).to_have_text("当前排名：第 1 名")
    shoot(first, "landing-invite")
    # The friend's welcome gift goes to an address: the page fetches a one-time proof for it.
    expect(friend.locator("#reward-list li[data-status=issued]")).to_have_count(1, timeout=STREAM)
    claim_gift(friend)
    expect(friend.locator("#reward-list li[data-status=claimed]")).to_have_count(1)
    expect(friend.locator("#s-rewards .msg")).to_have_text("已领取")

    first.locator("#lang").click()
    expect(first.locator("#progress-count")).to_have_text("1 friends joined through you")
    expect(first.locator("#s-offer h2")).to_have_text("Rewards")
    first.set_viewport_size({"width": 1280, "height": 900})
    shoot(first, "landing-invite-desktop")


def test_poster_page_shows_the_poster_and_counts_a_follow(
    live_stack: LiveStack, new_page: NewPage, shoot: Shoot
) -> None:
    cid = publish(live_stack, "poster", identity="signed")
    first = open_landing(new_page, live_stack, cid, user=user_id())
    me = join_on_page(first, "海报达人")
    poster = first.locator("#poster-img")
    expect(poster).to_have_attribute("src", me["poster_url"])
    first.wait_for_function("document.getElementById('poster-img').naturalWidth > 0", timeout=30_000)
    expect(first.locator("#poster-download")).to_have_attribute("href", me["poster_url"])
    shoot(first, "landing-poster")

    fan = follow_invite(new_page, first.locator("#invite-link").input_value(), cid, me["invite_code"])
    fan_id = user_id()
    signed_in(fan, live_stack, fan_id)
    join_on_page(fan, "粉丝")
    # Poster campaigns count an invitee once the merchant reports the follow, by the merchant's user id.
    event = {"event_id": uuid.uuid4().hex, "campaign_id": cid, "external_id": fan_id, "action": "follow"}
    signed_hook(live_stack, "follows", event)
    expect(first.locator("#progress-count")).to_have_text("已成功邀请 1 人", timeout=STREAM)


def test_group_buy_page_opens_a_group_a_friend_completes(
    live_stack: LiveStack, new_page: NewPage, shoot: Shoot
) -> None:
    cid = publish(live_stack, "group_buy")
    leader = open_landing(new_page, live_stack, cid)
    join_on_page(leader, "团长")
    leader.locator("#group-size").select_option("2")
    leader.locator("#open-group").click()
    expect(leader.locator("#group-status")).to_have_text("拼团中")
    expect(leader.locator("#group-members")).to_have_text("已有 1/2 人参团")
    countdown = leader.locator("#group-countdown")
    expect(countdown).to_contain_text("剩余 23:59:")
    before = countdown.inner_text()
    expect(countdown).not_to_have_text(before, timeout=3_000)  # it ticks every second
    group_link = leader.locator("#group-link").input_value()
    assert "group=" in group_link
    shoot(leader, "landing-group_buy")

    friend = new_page(mobile=True)
    friend.goto(group_link)
    expect(friend.locator("#join-group")).to_be_disabled()
    join_on_page(friend, "团员")
    friend.locator("#join-group").click()
    expect(friend.locator("#group-status")).to_have_text("拼团成功！")
    expect(leader.locator("#group-status")).to_have_text("拼团成功！", timeout=STREAM)
    expect(leader.locator("#group-roster li")).to_have_count(2)
    shoot(leader, "landing-group_buy-succeeded")


def test_assist_page_lets_a_friend_cut_the_price(live_stack: LiveStack, new_page: NewPage, shoot: Shoot) -> None:
    cid = publish(live_stack, "assist")
    owner = open_landing(new_page, live_stack, cid)
    me = join_on_page(owner, "砍价王")
    expect(owner.locator("#my-assist-helpers")).to_have_text("已有 0/10 位好友助力")
    expect(owner.locator("#my-assist-price")).to_contain_text("当前价格 ¥100.00")

    helper = follow_invite(new_page, owner.locator("#invite-link").input_value(), cid, me["invite_code"])
    expect(helper.locator("#friend-assist-helpers")).to_have_text("已有 0/10 位好友助力")
    expect(helper.locator("#help")).to_be_disabled()
    join_on_page(helper, "热心人")
    helper.locator("#help").click()
    expect(helper.locator("#s-friend-assist .msg")).to_contain_text("你帮好友砍掉了 ¥")
    expect(helper.locator("#friend-assist-helpers")).to_have_text("已有 1/10 位好友助力")
    expect(owner.locator("#my-assist-helpers")).to_have_text("已有 1/10 位好友助力", timeout=STREAM)
    expect(owner.locator("#my-assist-price")).not_to_contain_text("当前价格 ¥100.00")
    shoot(owner, "landing-assist")


def test_distribution_page_shows_commission_from_a_friends_order(
    live_stack: LiveStack, new_page: NewPage, shoot: Shoot
) -> None:
    cid = publish(live_stack, "distribution", identity="signed")
    seller = open_landing(new_page, live_stack, cid, user=user_id())
    expect(seller.locator("#s-offer")).to_contain_text("1 级 10%、2 级 3%")
    me = join_on_page(seller, "分销员")
    expect(seller.locator("#commission-pending")).to_have_text("¥0.00")

    buyer = follow_invite(new_page, seller.locator("#invite-link").input_value(), cid, me["invite_code"])
    buyer_id = user_id()
    signed_in(buyer, live_stack, buyer_id)
    join_on_page(buyer, "买家")
    order = {
        "event_id": uuid.uuid4().hex, "order_id": f"o-{uuid.uuid4().hex[:8]}", "campaign_id": cid,
        "external_id": buyer_id, "amount": 10_000, "status": "paid",
        "items": [{"sku": "SKU-1", "qty": 1, "price_fen": 10_000}],
    }  # fmt: skip
    signed_hook(live_stack, "orders", order)
    expect(seller.locator("#commission-pending")).to_have_text("¥10.00", timeout=STREAM)
    shoot(seller, "landing-distribution")


def test_unknown_campaign_shows_the_api_error(live_stack: LiveStack, new_page: NewPage) -> None:
    page = new_page(mobile=True, allow=("status of 404",))
    page.goto(f"{live_stack.url}/l/?campaign=cmp_nosuchcampaign&lang=en")
    expect(page.locator("#notice")).to_contain_text("CAMPAIGN_NOT_FOUND")
    page.goto(f"{live_stack.url}/l/?lang=en")
    expect(page.locator("#notice")).to_have_text("This link has no campaign id (campaign parameter).")


def test_a_refused_join_shows_the_api_message_and_keeps_the_form(live_stack: LiveStack, new_page: NewPage) -> None:
    cid = publish(live_stack, "invite")
    page = new_page(mobile=True, allow=("status of 422",))
    page.goto(f"{live_stack.url}/l/?campaign={cid}&lang=en")
    page.get_by_label("Mobile number (optional)").fill("call me")
    page.get_by_role("button", name="Join now").click()
    expect(page.locator("#s-join .msg")).to_contain_text("VALIDATION_ERROR")
    expect(page.locator("#join-submit")).to_be_enabled()
    page.locator("#phone").fill("")
    join_on_page(page, "Ming")


def test_signed_campaign_joins_only_with_the_merchants_assertion(
    live_stack: LiveStack, new_page: NewPage, shoot: Shoot
) -> None:
    cid = publish(live_stack, "invite", identity="signed", rules={**MODE_RULES["invite"], "invitee_reward": GIFT})
    # Without an assertion only the merchant's site can say who the visitor is: the page says so.
    visitor = open_landing(new_page, live_stack, cid)
    expect(visitor.locator("#join-elsewhere")).to_contain_text("请回到商家页面登录")
    expect(visitor.locator("#join-submit")).to_have_count(0)
    visitor.locator("#lang").click()
    expect(visitor.locator("#join-elsewhere")).to_contain_text("log in on the merchant's site or app")
    shoot(visitor, "landing-signed-without-assertion")

    # With one the visitor joins as the merchant's user; the assertion is gone from the address at once.
    member = user_id()
    inviter = open_landing(new_page, live_stack, cid, user=member)
    me = join_on_page(inviter, "会员")
    assert me["subject"] == member
    assert "assertion" not in inviter.locator("#invite-link").input_value()
    assert "assertion" not in str(inviter.evaluate("location.href"))

    # A friend comes through the invite link and back from the merchant's login; their welcome gift
    # arrives from the stream.
    friend = follow_invite(new_page, inviter.locator("#invite-link").input_value(), cid, me["invite_code"])
    expect(friend.locator("#join-elsewhere")).to_be_visible()
    friend_id = user_id()
    signed_in(friend, live_stack, friend_id)
    friend_me = join_on_page(friend, "好友")
    assert friend_me["invited_by"] == me["invite_code"]
    expect(friend.locator("#reward-list li[data-status=issued]")).to_have_count(1, timeout=STREAM)

    # A later page view has no assertion: progress shows, but an address needs the merchant's page.
    friend.reload()
    friend.locator("#reward-list li[data-status=issued] button.claim").click()
    expect(friend.locator("#s-rewards .msg")).to_contain_text("填写地址需要从商家页面进入")
    expect(friend.locator("#addr-name")).to_have_count(0)
    # Back through the merchant's site, the assertion goes along as the fresh proof.
    signed_in(friend, live_stack, friend_id)
    claim_gift(friend)
    expect(friend.locator("#reward-list li[data-status=claimed]")).to_have_count(1)

    # Someone else signs in at the merchant on the inviter's browser: they get their own join form.
    signed_in(inviter, live_stack, user_id())
    expect(inviter.locator("#join-submit")).to_be_enabled()
    expect(inviter.locator("#invite-link")).to_have_count(0)


def test_an_anonymous_join_from_a_second_tab_returns_the_same_participant(
    live_stack: LiveStack, new_page: NewPage
) -> None:
    cid = publish(live_stack, "invite")
    first = open_landing(new_page, live_stack, cid)
    second = first.context.new_page()
    second.goto(first.url)
    expect(second.locator("#join-submit")).to_be_enabled()
    me = join_on_page(first, "小明")
    # The second tab still shows the form; its join carries the token the first one kept.
    again = join_on_page(second, "小明")
    assert again["invite_code"] == me["invite_code"]
    # The browser keeps only a device id: an anonymous campaign's identity is minted by the API.
    assert second.evaluate("JSON.parse(localStorage.getItem('fission:identity'))").keys() == {"device_id"}
