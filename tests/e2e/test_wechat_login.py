"""The landing page inside WeChat (a MicroMessenger user agent) in Chromium against the local stack and its WeChat
stand-in: an invite link opened in WeChat goes through WeChat's web login and comes back a participant credited to
the inviter, with an openid identity; the JS-SDK is set up with the new participant's own invite link.

The real JS-SDK script (res.wx.qq.com) cannot be fetched here: the test serves a stand-in `wx` that records calls.
"""

from __future__ import annotations

import json
import re
import time
import urllib.request
from datetime import UTC, datetime
from typing import Any

import pytest
from playwright.sync_api import Browser, expect

from tests.conftest import campaign_body
from tests.e2e.conftest import LiveStack

pytestmark = pytest.mark.browser

APP = "wxe2elogin00000001"
SECRET = "0123456789abcdef0123456789abcdef"
WECHAT_UA = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Mobile/15E148 MicroMessenger/8.0.47(0x18002f2c) NetType/WIFI Language/zh_CN"
)
# A stand-in for jweixin-1.6.0.js: records what the page asks of it, and is "ready" at once.
FAKE_JSSDK = """
window.__wx = { config: null, appMessage: null, timeline: null };
window.wx = {
  config(c) { window.__wx.config = c; },
  ready(f) { f(); },
  error() {},
  updateAppMessageShareData(d) { window.__wx.appMessage = d; },
  updateTimelineShareData(d) { window.__wx.timeline = d; },
};
"""


def control(live: LiveStack, path: str, body: dict[str, Any]) -> Any:
    request = urllib.request.Request(
        live.stack.wechat.url + path, json.dumps(body).encode(), {"Content-Type": "application/json"}, method="POST"
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())


def test_an_invite_opened_in_wechat_logs_in_with_wechat_and_credits_the_inviter(
    live_stack: LiveStack, browser: Browser
) -> None:
    from chalicelib.referral.identity import mint_platform_assertion

    live = live_stack
    control(live, "/_local/apps", {"app_id": APP, "secret": SECRET, "mode": "plain", "token": "oaToken123",
                                   "oauth_domain": "localhost"})  # fmt: skip
    status, body = live.call("PUT", "/v1/admin/platforms/wechat", {
        "app_id": APP, "app_secret": SECRET, "callback_token": "oaToken123", "message_mode": "plain",
    }, token=live.stepped_token())  # fmt: skip
    assert status == 200, body
    spec = campaign_body("invite", identity={"mode": "platform", "platform": "wechat"})
    status, body = live.call("POST", "/v1/admin/campaigns", spec, token=live.owner_token)
    assert status == 201, body
    cid = str(body["campaign_id"])
    assert live.call("POST", f"/v1/admin/campaigns/{cid}/publish", token=live.owner_token)[0] == 200
    # The inviter logged in with WeChat earlier (their assertion minted as the login mints it).
    alice = mint_platform_assertion("wechat", "openid:o-alice-e2e", datetime.now(UTC))
    status, inviter = live.call("POST", f"/v1/campaigns/{cid}/participants", {"assertion": alice})
    assert status == 201, inviter

    context = browser.new_context(
        viewport={"width": 375, "height": 812}, is_mobile=True, has_touch=True, device_scale_factor=2,
        user_agent=WECHAT_UA,
    )  # fmt: skip
    context.set_default_timeout(15_000)
    context.route("https://res.wx.qq.com/**", lambda route: route.fulfill(
        status=200, content_type="application/javascript", body=FAKE_JSSDK))  # fmt: skip
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(error.message))
    visited: list[str] = []
    page.on("request", lambda request: visited.append(request.url) if request.is_navigation_request() else None)
    try:
        page.goto(inviter["invite_url"])
        # Redirected through WeChat's login (snsapi_base: no consent page) and back with an assertion.
        expect(page.locator("#join-submit")).to_be_visible()
        assert any("/open/connect/oauth2/authorize" in url for url in visited), visited
        assert "assertion" not in page.url and f"ref={inviter['invite_code']}" in page.url

        page.locator("#join-submit").click()
        expect(page.locator("#invite-link")).to_have_value(re.compile(r"/v1/i/[0-9a-z]{8}\?ch=link$"))
        kept = page.evaluate(f"JSON.parse(localStorage.getItem('fission:{cid}:participant'))")
        page.wait_for_function("window.__wx && window.__wx.appMessage !== null")
        shared = page.evaluate("window.__wx")

        assert kept["subject"].startswith("openid:o") and kept["invite_code"] != inviter["invite_code"]
        assert shared["config"]["appId"] == APP and re.fullmatch(r"[0-9a-f]{40}", shared["config"]["signature"])
        assert f"/v1/i/{kept['invite_code']}" in shared["appMessage"]["link"]
        assert shared["timeline"]["link"] == shared["appMessage"]["link"]
        deadline = time.monotonic() + 20
        counted = 0
        while time.monotonic() < deadline and counted < 1:
            me = live.call("GET", f"/v1/campaigns/{cid}/me", token=inviter["token"])[1]
            counted = int(me["progress"]["counted_invites"])
            time.sleep(0.5)
        assert counted == 1
        # Back later with a participant: no second trip through WeChat's login.
        logins = sum("/oauth2/authorize" in url for url in visited)
        page.goto(f"{live.url}/l/?campaign={cid}")
        expect(page.locator("#invite-link")).to_be_visible()
        assert sum("/oauth2/authorize" in url for url in visited) == logins
        assert errors == []
    finally:
        context.close()
