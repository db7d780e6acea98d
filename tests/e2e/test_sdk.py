"""The merchant SDK (web/sdk/) in Chromium against the local stack, on the demo shop (web/demo-shop/ with
its server local/demo_shop.py, seeded by local/demo.py as `make run` does).

The main flow: an inviter has joined the shop's signed campaign; a visitor opens the inviter's short link,
lands on the shop (the SDK keeps ref and click and strips them from the address), browses, is sent through
the login redirect, joins with the assertion the shop's server signed, and is credited to the inviter.
"""

from __future__ import annotations

import json
import re
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from playwright.sync_api import Page, expect

from chalicelib.security import assertions
from local import demo
from local.demo_shop import DemoShop, ShopSetup
from tests.conftest import campaign_body
from tests.e2e.conftest import LiveStack, NewPage

pytestmark = pytest.mark.browser

Shoot = Callable[[Page, str], Path]

STREAM = 45_000  # ms: the stream pump (which also drains what parallel test workers write) and the page's refresh


@pytest.fixture(scope="module")
def shop(live_stack: LiveStack) -> ShopSetup:
    """The demo shop on this stack, set up by the same seed `make run` uses (nothing kept on disk)."""
    setup = demo.seed_shop(live_stack.tid, live_stack.email, live_stack.url, datetime.now(UTC), None)
    assert setup is not None
    live_stack.stack.server.serve_demo_shop(DemoShop(setup))
    return setup


def signed_join(live: LiveStack, shop: ShopSetup, member: str) -> dict[str, Any]:
    """A member who joined through the merchant's server (an assertion signed with the shop's key)."""
    now = int(time.time())
    claims = {"iss": shop.tid, "sub": f"member-{member}", "aud": "fission", "iat": now, "exp": now + 600,
              "nickname": member}  # fmt: skip
    token = assertions.sign(claims, shop.key_id, shop.secret.encode())
    status, body = live.call("POST", f"/v1/campaigns/{shop.cid}/participants", {"assertion": token})
    assert status == 201, body
    return dict(body)


def counted_invites(live: LiveStack, cid: str, token: str, at_least: int, timeout: float = STREAM / 1000) -> int:
    """The participant's counted invites once the stream has counted `at_least` (or what it counted by then)."""
    deadline = time.monotonic() + timeout
    while True:
        status, me = live.call("GET", f"/v1/campaigns/{cid}/me", token=token)
        assert status == 200, me
        counted = int(me["progress"]["counted_invites"])
        if counted >= at_least or time.monotonic() > deadline:
            return counted
        time.sleep(0.2)


def stored(page: Page, area: str, key: str) -> Any:
    return page.evaluate(f"JSON.parse({area}.getItem({key!r}))")


def settled(page: Page) -> None:
    """Wait for the offer banner, which each page shows once its fetch answers: it pushes the page down,
    so a click aimed before it appears can land beside its target."""
    expect(page.locator("#banner")).to_contain_text("A friend invited you")


def test_a_visitor_invited_to_the_shop_logs_in_joins_and_is_credited_to_the_inviter(
    live_stack: LiveStack, shop: ShopSetup, new_page: NewPage, shoot: Shoot
) -> None:
    inviter = signed_join(live_stack, shop, "inviter")
    code = inviter["invite_code"]
    page = new_page(mobile=True)

    # The short link redirects to the shop with campaign, ref, ch and click; the SDK keeps and strips them.
    page.goto(f"{inviter['invite_url']}?ch=wechat_friend")
    expect(page.locator("#products .product")).to_have_count(3)
    landed = urlsplit(page.url)
    assert landed.path == "/demo-shop/"
    assert parse_qs(landed.query) == {"campaign": [shop.cid]}
    kept = stored(page, "localStorage", f"fission:sdk:{shop.cid}:attribution")
    assert kept["ref"] == code and kept["channel"] == "wechat_friend"
    assert len(kept["clicks"]) == 1 and kept["clicks"][0].startswith(f"c1.{code}.")
    assert stored(page, "sessionStorage", f"fission:sdk:{shop.cid}:attribution") == kept
    expect(page.locator("#banner")).to_contain_text("A friend invited you")
    shoot(page, "sdk-shop-home")

    # Browse two pages; the attribution stays put.
    page.get_by_role("link", name="Stoneware mug").click()
    expect(page.locator("#name")).to_have_text("Stoneware mug")
    settled(page)
    page.locator("#add").click()
    expect(page.locator("#msg")).to_contain_text("in your cart")
    page.get_by_role("link", name="Products").click()
    settled(page)
    page.get_by_role("link", name="Jasmine green tea, 100 g").click()
    expect(page.locator("#name")).to_have_text("Jasmine green tea, 100 g")
    settled(page)
    assert stored(page, "localStorage", f"fission:sdk:{shop.cid}:attribution") == kept

    # Joining needs a shop login: a redirect to the login page (the SDK's script build) and back.
    page.get_by_role("link", name="Join and invite friends").click()
    expect(page).to_have_url(re.compile(r"/demo-shop/login\.html\?next=account\.html$"))
    expect(page.get_by_role("button", name="Log in")).to_be_visible()
    assert page.evaluate("typeof window.Fission.join") == "function"  # the page loaded the script build
    settled(page)
    page.locator("#name").fill("visitor")
    page.get_by_role("button", name="Log in").click()
    expect(page).to_have_url(re.compile(r"/demo-shop/account\.html$"))
    expect(page.locator("#hello")).to_have_text("Hello, visitor")
    expect(page.locator("#msg")).to_have_text("You are a member: your friend's invite counted.")

    joined = stored(page, "localStorage", f"fission:sdk:{shop.cid}:participant")
    assert joined["invited_by"] == code
    assert joined["token"].startswith("pt1.")
    # The attribution did its job once and is gone.
    assert stored(page, "localStorage", f"fission:sdk:{shop.cid}:attribution") is None
    assert stored(page, "sessionStorage", f"fission:sdk:{shop.cid}:attribution") is None

    # The rendered panel: the visitor's own link and progress; the welcome reward once the stream issued it.
    expect(page.locator(".fission-invite-link")).to_have_text(re.compile(rf"/v1/i/{joined['invite_code']}\?ch=link$"))
    expect(page.locator(".fission-progress .fission-count")).to_have_text("0 friends counted")
    expect(page.locator(".fission-rewards")).to_contain_text("100 welcome points", timeout=STREAM)
    shoot(page, "sdk-shop-account")

    # The inviter's own view counts the invite once the stream has run.
    assert counted_invites(live_stack, shop.cid, inviter["token"], at_least=1) == 1


def test_the_module_and_the_script_build_expose_the_same_api(live_stack: LiveStack, new_page: NewPage) -> None:
    page = new_page()
    page.goto(f"{live_stack.url}/")
    before = set(page.evaluate("Object.keys(window)"))
    page.add_script_tag(url="/sdk/fission.global.js")

    assert set(page.evaluate("Object.keys(window)")) - before == {"Fission"}
    script = page.evaluate("Object.fromEntries(Object.entries(window.Fission).map(([k, v]) => [k, typeof v]))")
    module = page.evaluate(
        "async () => Object.fromEntries(Object.entries(await import('/sdk/fission.js')).map(([k, v]) => [k, typeof v]))"
    )
    assert script == module
    assert {"init", "join", "view", "share", "render", "capture", "attribution", "participant", "me"} <= set(module)
    assert page.evaluate("Object.isFrozen(window.Fission)")


def test_click_tokens_are_kept_in_order_at_most_ten_of_at_most_64_characters(
    live_stack: LiveStack, new_page: NewPage
) -> None:
    page = new_page()
    page.goto(f"{live_stack.url}/")
    clicks = [f"c1.k{n:02d}" for n in range(12)]
    too_long = "c" * 65
    query = "&".join(["ref=abc123", "ch=sms", f"click={too_long}", *(f"click={c}" for c in [clicks[0], *clicks])])
    page.evaluate(f"history.replaceState(null, '', '/?keep=1&{query}#top')")

    kept = page.evaluate("""async () => {
        const Fission = await import('/sdk/fission.js');
        Fission.init({ campaign: 'cmp_any', view: false });
        return Fission.attribution();
    }""")

    assert kept == {"ref": "abc123", "clicks": clicks[:10], "channel": "sms"}
    assert page.url == f"{live_stack.url}/?keep=1#top"
    # A second visit with more clicks adds to them, still at most 10 and in the order received.
    page.evaluate("history.replaceState(null, '', '/?ref=zzz999&click=c1.later')")
    again = page.evaluate("""async () => {
        const Fission = await import('/sdk/fission.js');
        Fission.init({ campaign: 'cmp_any', view: false });
        return Fission.attribution();
    }""")
    assert again == {"ref": "zzz999", "clicks": clicks[:10], "channel": "sms"}


def test_an_anonymous_campaign_returns_the_participant_by_token_and_renders_text_only(
    live_stack: LiveStack, new_page: NewPage
) -> None:
    markup = "<img src=x onerror=window.hacked=1>"
    rules = {"milestones": [{"invites": 1, "reward": {"type": "coupon", "name": markup, "value_fen": 100}}]}
    body = campaign_body("invite", identity={"mode": "anonymous"}, rules=rules)
    status, created = live_stack.call("POST", "/v1/admin/campaigns", body, token=live_stack.owner_token)
    assert status == 201, created
    cid = created["campaign_id"]
    status, published = live_stack.call("POST", f"/v1/admin/campaigns/{cid}/publish", token=live_stack.owner_token)
    assert status == 200, published
    page = new_page(allow=("status of 401",))  # the revoked token's join, provoked below
    page.goto(f"{live_stack.url}/")
    page.set_content('<div id="panel"></div>')

    ids = page.evaluate(f"""async () => {{
        const Fission = await import('{live_stack.url}/sdk/fission.js');
        Fission.init({{ api: '{live_stack.url}', campaign: '{cid}', lang: 'en', view: false }});
        const first = await Fission.join({{ nickname: 'Ann' }});
        const again = await Fission.join({{}});
        await Fission.render(document.getElementById('panel'), {{ leaderboard: false }});
        return [first.participant_id, again.participant_id];
    }}""")

    assert ids[0] == ids[1]
    expect(page.locator(".fission-next")).to_have_text(f"1 more for: {markup}")
    assert page.locator("#panel img").count() == 0
    assert page.evaluate("window.hacked === undefined")

    # Signed out everywhere: the kept token is refused, forgotten, and the next join is a new participant.
    token = page.evaluate(f"JSON.parse(localStorage.getItem('fission:sdk:{cid}:participant')).token")
    assert live_stack.call("POST", f"/v1/campaigns/{cid}/me/sign-out", token=token)[0] == 200
    after = page.evaluate(f"""async () => {{
        const Fission = await import('{live_stack.url}/sdk/fission.js');
        const refused = await Fission.join({{}}).catch((error) => [error.name, error.status, error.code]);
        const forgotten = Fission.participant() === null;
        const fresh = await Fission.join({{}});
        return [refused, forgotten, fresh.participant_id];
    }}""")
    assert after[0] == ["FissionError", 401, "PARTICIPANT_TOKEN_REVOKED"]
    assert after[1] is True
    assert after[2] != ids[0]


def test_the_shop_seed_reuses_its_key_and_campaign_and_follows_the_port(live_stack: LiveStack, tmp_path: Path) -> None:
    from chalicelib.accounts import identity_keys, totp
    from chalicelib.accounts.tenants import ensure_tenant
    from chalicelib.campaigns import lifecycle
    from chalicelib.core.rbac import Principal, Role
    from chalicelib.security import totp as authenticator

    tid = f"t-{uuid.uuid4().hex[:10]}"
    email, now = f"owner@{tid}.example.cn", datetime.now(UTC)
    ensure_tenant(tid, "Seed shop", email, "seed-owner-pass-1", now)
    actor = Principal(tid=tid, email=email, role=Role.OWNER)
    state = tmp_path / "demo-shop.json"

    first = demo.seed_shop(tid, email, "http://localhost:8300", now, state)
    assert first is not None
    assert state.stat().st_mode & 0o777 == 0o600
    kept = {"tenant": tid, "campaign_id": first.cid, "key_id": first.key_id, "secret": first.secret}
    assert json.loads(state.read_text()) == kept
    campaign = lifecycle.get(actor, first.cid, now)
    assert (campaign["status"], campaign["mode"], campaign["identity"]["mode"]) == ("active", "invite", "signed")
    assert campaign["landing_url"] == "http://localhost:8300/demo-shop/"

    # The next start reuses both; on another port the live campaign's landing page follows.
    assert demo.seed_shop(tid, email, "http://localhost:8300", now, state) == first
    assert demo.seed_shop(tid, email, "http://localhost:8400/", now, state) == first
    campaign = lifecycle.get(actor, first.cid, now)
    assert (campaign["status"], campaign["landing_url"]) == ("active", "http://localhost:8400/demo-shop/")

    # A retired key is replaced; the campaign stays. Retiring needs the owner's TOTP step-up.
    later = datetime.now(UTC)
    secret = totp.enrol(actor, later)["secret"]
    totp.confirm(actor, authenticator.code_at(secret, later - timedelta(seconds=authenticator.STEP_SECONDS)), later)
    identity_keys.retire(actor, first.key_id, authenticator.code_at(secret, later), later)
    renewed = demo.seed_shop(tid, email, "http://localhost:8400", now, state)
    assert renewed is not None and renewed.cid == first.cid and renewed.key_id != first.key_id
    assert json.loads(state.read_text())["key_id"] == renewed.key_id
