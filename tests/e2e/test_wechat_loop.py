"""The demo loop in Chromium against the local stack and its WeChat stand-in: a friend scans a participant's poster
on the stand-in's phone page and adds the merchant's staff; the inviter's follow waits out its window (visible on
`me`), the welcome message reaches the friend within WeCom's 20 s, and deleting the staff inside the window takes
the pending follow back."""

from __future__ import annotations

import io
import json
import time
import urllib.request
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import zxingcpp
from PIL import Image
from playwright.sync_api import expect

from tests.conftest import campaign_body
from tests.e2e.conftest import LiveStack, NewPage

pytestmark = pytest.mark.browser

CORP = "wwe2eloop000000001"
SECRET = "contact-secret-e2e-0123456789abcdefghijklmno"
TOKEN = "cbTokenE2E"
AES_KEY = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"
WELCOME_BUDGET = 20.0  # seconds: WeCom's WelcomeCode is valid this long after the event
RULES = {
    "qualifying_action": "follow",
    "layout_id": "classic",
    "milestones": [{"invites": 1, "reward": {"type": "points", "name": "100 points", "points": 100}}],
    "follow_retention_hours": 72,
}


def control(live: LiveStack, path: str, body: dict[str, Any]) -> Any:
    request = urllib.request.Request(
        live.stack.wechat.url + path, json.dumps(body).encode(), {"Content-Type": "application/json"}, method="POST"
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())


def inbox(live: LiveStack, visitor: str) -> list[dict[str, Any]]:
    with urllib.request.urlopen(f"{live.stack.wechat.url}/_local/inbox?visitor={visitor}", timeout=10) as response:
        return list(json.loads(response.read()))


def poll(what: Callable[[], Any], done: Callable[[Any], bool], seconds: float) -> Any:
    """`what()` until `done` says so, for at most `seconds` (then its last value, for the assertion to show)."""
    deadline = time.monotonic() + seconds
    while True:
        value = what()
        if done(value) or time.monotonic() > deadline:
            return value
        time.sleep(0.2)


def test_a_friend_who_scans_the_poster_and_adds_the_staff_waits_out_the_window_and_a_delete_takes_it_back(
    live_stack: LiveStack, new_page: NewPage
) -> None:
    live = live_stack
    control(live, "/_local/corps", {
        "corp_id": CORP, "secret": SECRET, "token": TOKEN, "encoding_aes_key": AES_KEY,
        "callback_url": f"{live.url}/v1/wecom/{live.tid}/callback",
    })  # fmt: skip
    status, body = live.call("PUT", "/v1/admin/platforms/wecom", {
        "corp_id": CORP, "contact_secret": SECRET, "callback_token": TOKEN, "encoding_aes_key": AES_KEY,
        "staff_user_ids": ["xiaomei"],
    }, token=live.stepped_token())  # fmt: skip
    assert status == 200, body
    status, body = live.call(
        "POST", "/v1/admin/campaigns", campaign_body("poster", rules=RULES, qr_target="wecom_contact"),
        token=live.owner_token,
    )  # fmt: skip
    assert status == 201, body
    cid = str(body["campaign_id"])
    assert live.call("POST", f"/v1/admin/campaigns/{cid}/publish", token=live.owner_token)[0] == 200
    status, alice = live.call("POST", f"/v1/campaigns/{cid}/participants", {"assertion": live.assertion("alice")})
    assert status == 201, alice

    def me() -> dict[str, Any]:
        status, body = live.call("GET", f"/v1/campaigns/{cid}/me", token=alice["token"])
        assert status == 200, body
        return dict(body["progress"])

    # The poster's QR code is the channel code WeCom hosts: on the stand-in, its phone page for this contact way.
    url = f"{live.url}/v1/posters/{cid}/{alice['invite_code']}.png"
    with urllib.request.urlopen(urllib.request.Request(url, headers={"Accept": "image/*"}), timeout=30) as response:
        scanned = [r.text for r in zxingcpp.read_barcodes(Image.open(io.BytesIO(response.read())))]
    assert len(scanned) == 1 and scanned[0].startswith(live.stack.wechat.phone_url + "?cw="), scanned

    page = new_page(mobile=True, allow=("favicon.ico",))  # the stand-in's phone page has no icon
    page.goto(scanned[0] + "&visitor=bob")
    added_at = time.monotonic()
    page.get_by_role("button", name="添加到通讯录").click()
    welcome = poll(lambda: inbox(live, "bob"), bool, WELCOME_BUDGET + 5)
    elapsed = time.monotonic() - added_at
    waiting = poll(me, lambda p: len(p["pending_follows"]) == 1, 20)

    assert [(m["kind"], m["sender"]) for m in welcome] == [("welcome", "xiaomei")]
    assert elapsed < WELCOME_BUDGET, f"the welcome message took {elapsed:.1f} s"
    assert waiting["counted_invites"] == 0 and len(waiting["pending_follows"]) == 1
    counts_at = datetime.fromisoformat(waiting["pending_follows"][0]["counts_at"].replace("Z", "+00:00"))
    assert timedelta(hours=71) < counts_at - datetime.now(UTC) <= timedelta(hours=72)
    expect(page.get_by_text("欢迎参加")).to_be_visible(timeout=10_000)  # the chat shows it (it refreshes every 3 s)

    page.get_by_role("button", name="删除/取消关注").click()
    after = poll(me, lambda p: p["pending_follows"] == [], 20)
    assert (after["counted_invites"], after["pending_follows"]) == (0, [])
