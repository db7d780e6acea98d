"""The operator console (web/admin/) in Chromium against the local stack.

One test visits every screen after signing in and fails on any console error; the journey creates an
invite campaign through the wizard (anonymous identity, so the built-in landing page can join),
publishes it, joins it twice on the landing page (the second visitor through the first one's invite
link) and waits for the first visitor's progress and for the console's dashboard to count both joins.
Screenshots land in tests/e2e/artifacts/admin-*.png.
"""

from __future__ import annotations

import json
import re
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest
from playwright.sync_api import Dialog, Page, Route, expect

from tests.conftest import campaign_body
from tests.e2e.conftest import LiveStack, NewPage, code_at, sign_assertion

pytestmark = pytest.mark.browser

Shoot = Callable[[Page, str], Path]
STREAM = 20_000  # ms: the stream pump, plus the dashboard's 5-second refresh
AES_KEY = "ZGVtby13ZWNvbS1lbmNvZGluZy1hZXMta2V5LTAxMjM"  # 43 characters decoding to 32 bytes
VENDORED = Path(__file__).resolve().parents[2] / "web" / "vendor" / "echarts.esm.min.js"
SCREENS = [
    "campaigns",
    "new",
    "participants",
    "automations",
    "outbox",
    "webhooks",
    "exports",
    "reviews",
    "audit",
    "domains",
    "platforms",
    "payouts",
    "tasks",
    "tiers",
    "checkins",
    "churn",
    "growth",
    "catalogue",
]


@pytest.fixture(autouse=True)
def _echarts_vendored() -> None:
    if not VENDORED.exists():
        pytest.fail("web/vendor/echarts.esm.min.js is missing: run `make web` (scripts/build-web)", pytrace=False)


def sign_in(page: Page, live: LiveStack, lang: str = "en", operator: tuple[str, str, str] | None = None) -> None:
    """Open the console in `lang` and sign in as the stack's owner, or as `operator` (email, password, role)."""
    email, password, role = operator or (live.email, live.password, "Owner")
    # Only when unset: a language the operator switched to must survive reloads.
    key = "fission:admin:lang"
    page.add_init_script(f"localStorage.getItem('{key}') || localStorage.setItem('{key}', '{lang}')")
    page.goto(f"{live.url}/admin/")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    expect(page.locator("#who")).to_contain_text(f"{email} · {role}")
    expect(page.locator(".screen-campaigns")).to_be_visible()


def lapsed_session(page: Page, live: LiveStack) -> str:
    """The console signed in as a new owner with an authenticator, on a token whose TOTP step-up has lapsed
    (as 15 minutes after a sign-in); returns the owner's TOTP secret."""
    from chalicelib.core.config import get_settings
    from chalicelib.security import tokens

    email, password = f"owner-{uuid.uuid4().hex[:6]}@{live.tid}.example.cn", "browser-owner-pass-2"
    secret = live.enrolled_owner(email, password)
    token, expires = tokens.issue(live.tid, email, 1, datetime.now(UTC), get_settings().token_ttl_seconds)
    kept = {"token": token, "token_type": "Bearer", "expires_at": expires.isoformat(), "tenant_id": live.tid,
            "email": email, "role": "owner"}  # fmt: skip
    page.add_init_script(
        f"sessionStorage.setItem('fission:admin:session', {json.dumps(json.dumps(kept))});"
        "localStorage.getItem('fission:admin:lang') || localStorage.setItem('fission:admin:lang', 'en')"
    )
    return secret


def step_up(page: Page, code: str) -> None:
    """Answer the console's TOTP prompt."""
    dialog = page.get_by_role("dialog", name="Enter your authenticator code")
    expect(dialog).to_be_visible()
    dialog.get_by_label("Authenticator code").fill(code)
    dialog.get_by_role("button", name="Verify and continue").click()


def seed_campaign(live: LiveStack) -> str:
    status, body = live.call("POST", "/v1/admin/campaigns", campaign_body("invite"), token=live.owner_token)
    assert status == 201, body
    cid = str(body["campaign_id"])
    status, body = live.call("POST", f"/v1/admin/campaigns/{cid}/publish", token=live.owner_token)
    assert status == 200, body
    return cid


def test_every_screen_renders_without_console_errors(live_stack: LiveStack, new_page: NewPage, shoot: Shoot) -> None:
    cid = seed_campaign(live_stack)
    page = new_page()
    sign_in(page, live_stack)
    for screen in SCREENS:
        page.goto(f"{live_stack.url}/admin/#/{screen}")
        expect(page.locator(f".screen-{'wizard' if screen == 'new' else screen}")).to_be_visible()
        expect(page.locator("#view .loading")).to_have_count(0)
        expect(page.locator("nav a[aria-current=page]")).to_have_count(1)
        shoot(page, f"admin-{'wizard' if screen == 'new' else screen}")

    page.goto(f"{live_stack.url}/admin/#/campaigns/{cid}")
    expect(page.locator("[data-kpi=join] strong")).to_have_text("0")
    expect(page.locator(".chart svg")).to_have_count(2)
    shoot(page, "admin-dashboard")

    # Both languages hold every key, and the toggle is remembered.
    keys = page.evaluate("import('./i18n.js').then((m) => [m.KEYS.zh.length, m.KEYS.en.length])")
    assert keys[0] == keys[1] > 300
    page.locator("#lang").click()
    expect(page.locator("h1")).to_have_text("invite campaign")  # the campaign's own title stays as written
    expect(page.locator("[data-kpi=join] .label")).to_have_text("参与人数")
    page.reload()
    expect(page.locator("#logout")).to_have_text("退出登录")
    expect(page.locator("[data-kpi=join] .label")).to_have_text("参与人数")
    expect(page.locator(".chart svg")).to_have_count(2)
    shoot(page, "admin-dashboard-zh")

    mobile = new_page(mobile=True)
    sign_in(mobile, live_stack)
    mobile.goto(f"{live_stack.url}/admin/#/campaigns/{cid}")
    expect(mobile.locator("[data-kpi=join] strong")).to_have_text("0")
    shoot(mobile, "admin-dashboard-mobile")


def test_the_review_screen_filters_by_campaign_and_waiting_time(live_stack: LiveStack, new_page: NewPage) -> None:
    cid = seed_campaign(live_stack)
    page = new_page()
    sign_in(page, live_stack)
    page.goto(f"{live_stack.url}/admin/#/reviews")
    campaign, age = page.get_by_label("Campaign", exact=True), page.get_by_label("Waiting", exact=True)
    expect(campaign).to_have_value("")
    # Each filter asks the API for a new listing from its first page, the other filters kept.
    with page.expect_request(lambda r: "/v1/admin/reviews?" in r.url and f"campaign_id={cid}" in r.url) as asked:
        campaign.select_option(cid)
    assert "cursor=" not in asked.value.url
    with page.expect_request(lambda r: "older_than_hours=24" in r.url and f"campaign_id={cid}" in r.url):
        age.select_option("older:24")
    expect(page.locator(".screen-reviews")).to_contain_text("Nothing to review.")


def test_segment_editor_marks_the_parse_error_position(live_stack: LiveStack, new_page: NewPage) -> None:
    # The preview's 422 for the broken expression is logged by Chromium as a failed resource.
    page = new_page(allow=("status of 422",))
    sign_in(page, live_stack)
    page.goto(f"{live_stack.url}/admin/#/participants")
    page.get_by_label("Expression", exact=True).fill("tag:invited AND spend >= ")
    expect(page.locator("pre.marked mark")).to_be_visible()
    expect(page.locator("pre.marked")).to_have_text("tag:invited AND spend >=  ")
    page.get_by_label("Expression", exact=True).fill("invites >= 0")
    expect(page.locator(".segment-editor .preview")).to_contain_text("match")
    expect(page.locator("pre.marked")).to_be_hidden()


def test_exports_ask_for_the_totp_step_up(live_stack: LiveStack, new_page: NewPage) -> None:
    seed_campaign(live_stack)
    page = new_page(allow=("status of 403",))
    sign_in(page, live_stack)
    page.goto(f"{live_stack.url}/admin/#/exports")
    page.get_by_role("button", name="Start the export").click()
    expect(page.locator(".form-message")).to_contain_text("STEP_UP_REQUIRED")
    expect(page.get_by_role("button", name="Start", exact=True)).to_be_visible()


def test_totp_enrolment_shows_a_qr_code_that_scans_to_the_uri_shown_beside_it(
    live_stack: LiveStack, new_page: NewPage, shoot: Shoot
) -> None:
    import io

    import zxingcpp
    from PIL import Image

    from chalicelib.accounts.tenants import ensure_tenant

    email, password = f"enrol-{uuid.uuid4().hex[:6]}@{live_stack.tid}.example.cn", "browser-owner-pass-3"
    ensure_tenant(live_stack.tid, f"Shop {live_stack.tid}", email, password, datetime.now(UTC))  # adds the owner
    seed_campaign(live_stack)
    page = new_page(allow=("status of 403",))
    sign_in(page, live_stack, operator=(email, password, "Owner"))
    page.goto(f"{live_stack.url}/admin/#/exports")
    # An export needs a step-up; an operator without an authenticator is offered to set one up.
    page.get_by_role("button", name="Start the export").click()
    page.get_by_role("button", name="Start", exact=True).click()
    qr = page.get_by_role("img", name="QR code for your authenticator app")
    expect(qr).to_be_visible()
    uri = page.locator("code.secret").nth(1)
    expect(uri).to_contain_text("otpauth://totp/")  # still there for typing in by hand
    # Chromium draws the SVG; an independent decoder reads the screenshot.
    found = [r.text for r in zxingcpp.read_barcodes(Image.open(io.BytesIO(qr.screenshot())))]
    assert found == [uri.inner_text()]
    shoot(page, "console-totp-enrolment")


def test_journey_wizard_publish_landing_joins_and_dashboard(
    live_stack: LiveStack, new_page: NewPage, shoot: Shoot
) -> None:
    # Emptying the title on purpose: the live validation's 422 is logged by Chromium as a failed resource.
    console = new_page(allow=("status of 422",))
    sign_in(console, live_stack)

    # The wizard: industry -> template -> rules (saved and validated live) -> checks -> publish.
    console.get_by_role("link", name="New campaign").click()
    console.locator("[data-industry=coffee]").click()
    console.locator("[data-template=coffee-friends-invite]").click()
    title = console.get_by_label("Title", exact=True)
    expect(title).not_to_have_value("")
    title.fill("")
    expect(console.locator(".field-error").first).to_contain_text("at least 1 character")
    title.fill("Coffee club: bring a friend")
    expect(console.locator(".save-status")).to_have_text("Saved and valid")
    console.get_by_label("Invites").first.fill("1")
    expect(console.locator(".save-status")).to_have_text("Saved and valid")
    # New campaigns start signed (the merchant's server vouches for who joins); the built-in landing page
    # below has no merchant behind it, so this one is anonymous.
    expect(console.get_by_role("radio", name="Signed by your server (recommended)")).to_be_checked()
    console.get_by_role("radio", name="Anonymous (built-in landing pages)").check()
    expect(console.locator(".save-status")).to_have_text("Saved and valid")
    expect(console.locator("textarea[data-path=rules]")).to_have_value(re.compile(r'"invites": 1,'))
    shoot(console, "admin-wizard-rules")
    console.get_by_role("button", name="Next: compliance check").click()
    expect(console.locator(".findings, p.ok").first).to_be_visible()
    expect(console.locator("table").first).to_contain_text("¥")
    shoot(console, "admin-wizard-publish")
    console.get_by_role("button", name="Publish").click()
    expect(console.get_by_role("heading", name="The campaign is live")).to_be_visible()
    landing = console.locator("#landing-link").get_attribute("href") or ""
    match = re.search(r"/l/\?campaign=(cmp_[0-9a-z]+)$", landing)
    assert match, landing
    cid = match.group(1)
    assert live_stack.call("GET", f"/v1/campaigns/{cid}/public")[1]["identity"]["mode"] == "anonymous"

    # The landing page in a second context: join, take the invite link.
    first = new_page(mobile=True)
    first.goto(landing)
    expect(first.locator("#title")).to_have_text("Coffee club: bring a friend")
    first.locator("#nickname").fill("小明")
    first.locator("#join-submit").click()
    invite = first.locator("#invite-link")
    expect(invite).to_have_value(re.compile(r"/v1/i/[0-9a-z]{8}\?ch=link$"))
    expect(first.locator("#progress-count")).to_have_text("已成功邀请 0 人")

    # A friend opens that link in a third context and joins.
    friend = new_page(mobile=True)
    friend.goto(invite.input_value())
    assert f"campaign={cid}" in friend.url and "ref=" in friend.url
    friend.locator("#nickname").fill("小红")
    friend.locator("#join-submit").click()
    expect(friend.locator("#invite-link")).to_have_value(re.compile(r"/v1/i/"))

    expect(first.locator("#progress-count")).to_have_text("已成功邀请 1 人", timeout=STREAM)
    shoot(first, "admin-journey-landing")

    # The console's dashboard counts both joins (it refreshes every 5 s).
    console.get_by_role("link", name="Open the dashboard").click()
    expect(console.locator("[data-kpi=join] strong")).to_have_text("2", timeout=STREAM)
    expect(console.locator("[data-kpi=qualified] strong")).to_have_text("1", timeout=STREAM)
    expect(console.locator("ul.tree")).to_be_visible()
    shoot(console, "admin-journey-dashboard")
    console.get_by_role("link", name="Campaigns").first.click()
    row = console.locator("tr", has=console.get_by_role("link", name="Coffee club: bring a friend", exact=True))
    expect(row.locator("[data-stat=join]")).to_have_text("2")
    expect(row).to_contain_text("Live")


def test_automation_form_creates_toggles_and_lists_a_rule(live_stack: LiveStack, new_page: NewPage) -> None:
    page = new_page()
    sign_in(page, live_stack)
    page.goto(f"{live_stack.url}/admin/#/automations")
    page.get_by_role("button", name="New automation").click()
    page.get_by_label("Name", exact=True).fill("Welcome on join")
    page.get_by_label("Delay (minutes)").fill("5")
    page.get_by_role("button", name="Save").click()
    row = page.locator("tr", has_text="Welcome on join")
    expect(row).to_contain_text("Joined")
    expect(row).to_contain_text("Send a message")
    switch = row.get_by_role("checkbox")
    expect(switch).to_be_checked()
    switch.uncheck()
    expect(page.locator("#announce")).to_have_text("Disabled: Welcome on join")
    status, body = live_stack.call("GET", "/v1/admin/automations", token=live_stack.owner_token)
    assert status == 200 and [a["enabled"] for a in body["items"] if a["name"] == "Welcome on join"] == [False]


def test_profile_manual_tag_and_the_kill_switch(live_stack: LiveStack, new_page: NewPage, shoot: Shoot) -> None:
    cid = seed_campaign(live_stack)
    joined = {"assertion": live_stack.assertion("u-tag"), "nickname": "Ada"}
    status, body = live_stack.call("POST", f"/v1/campaigns/{cid}/participants", joined)
    assert status in (200, 201), body
    code = str(body["invite_code"])
    status, body = live_stack.call(
        "POST", "/v1/admin/tags", {"name": "vip", "kind": "custom"}, token=live_stack.owner_token
    )
    assert status == 201, body
    # The profile is built by the stream pump, a moment after the join.
    deadline = time.monotonic() + STREAM / 1000
    while not live_stack.call("GET", f"/v1/admin/participants?code={code}", token=live_stack.owner_token)[1]["items"]:
        assert time.monotonic() < deadline, "the profile never appeared"
        time.sleep(0.2)

    page = new_page()
    sign_in(page, live_stack)
    page.goto(f"{live_stack.url}/admin/#/participants")
    page.get_by_label("Invite code").fill(code)
    page.get_by_role("button", name="Search").click()
    page.locator("table button.link").first.click()
    expect(page.locator(".detail h2")).to_contain_text("A")
    page.get_by_label("Manual tag").fill("vip")
    page.locator(".detail").get_by_role("button", name="Add tag").click()
    expect(page.locator(".detail ul .badge", has_text="vip")).to_be_visible()
    shoot(page, "admin-participant")

    page.goto(f"{live_stack.url}/admin/#/outbox")
    page.get_by_label("Pause all sending (kill switch)").check()
    page.locator("form").get_by_role("button", name="Save").click()
    expect(page.locator("form [role=status]")).to_have_text("Saved")
    status, settings = live_stack.call("GET", "/v1/admin/messaging", token=live_stack.owner_token)
    assert status == 200 and settings["paused"] is True


def test_identity_keys_show_the_secret_once_and_retire(live_stack: LiveStack, new_page: NewPage, shoot: Shoot) -> None:
    status, body = live_stack.call("GET", "/v1/admin/identity-keys", token=live_stack.owner_token)
    assert status == 200, body
    before = {k["key_id"] for k in body["items"]}
    page = new_page(allow=("status of 403",))
    page.context.grant_permissions(["clipboard-read", "clipboard-write"])
    secret_totp = lapsed_session(page, live_stack)
    # The wizard's link opens the webhooks screen on its identity keys section.
    page.goto(f"{live_stack.url}/admin/#/webhooks/identity-keys")
    section = page.locator("#identity-keys")
    expect(section.get_by_role("heading", name="Identity keys")).to_be_focused()

    # A new key's secret needs a fresh step-up: the console asks for the code and sends the call again.
    section.get_by_role("button", name="New identity key").click()
    step_up(page, "000000" if code_at(secret_totp) != "000000" else "111111")
    expect(page.get_by_role("dialog")).to_contain_text("wrong or was already used")  # asked again
    step_up(page, code_at(secret_totp))
    expect(page.get_by_role("dialog")).to_have_count(0)
    shown = section.locator("#identity-key-secret")
    expect(shown).to_have_value(re.compile(r"^[A-Za-z0-9_-]{40,}$"))
    secret = shown.input_value()
    expect(section).to_contain_text("it will not be shown again")
    status, body = live_stack.call("GET", "/v1/admin/identity-keys", token=live_stack.owner_token)
    (kid,) = {k["key_id"] for k in body["items"]} - before
    row = section.locator("tr", has_text=kid)
    expect(row).to_contain_text("Active")
    assert secret not in section.locator("table").inner_text()
    section.get_by_role("button", name="Copy the secret").click()
    expect(page.locator("#announce")).to_have_text("Secret copied")
    assert page.evaluate("navigator.clipboard.readText()") == secret
    shoot(page, "admin-identity-keys")

    # The secret shown is the one that signs: a signed campaign takes an assertion made with it.
    status, body = live_stack.call("POST", "/v1/admin/campaigns", campaign_body("invite"), token=live_stack.owner_token)
    assert status == 201, body
    cid = str(body["campaign_id"])
    assert live_stack.call("POST", f"/v1/admin/campaigns/{cid}/publish", token=live_stack.owner_token)[0] == 200
    joined = {"assertion": sign_assertion(live_stack.tid, (kid, secret), "member-keys")}
    status, body = live_stack.call("POST", f"/v1/campaigns/{cid}/participants", joined)
    assert status == 201, body

    # Closed, or read again, the secret is nowhere on the page.
    section.get_by_role("button", name="I saved it, close").click()
    expect(page.locator("#identity-key-secret")).to_have_count(0)
    page.reload()
    expect(row).to_contain_text("Active")
    assert secret not in page.content()

    page.once("dialog", lambda dialog: dialog.accept())
    row.get_by_role("button", name="Retire").click()
    step_up(page, code_at(secret_totp, 1))  # a code works once: the next one
    expect(page.get_by_role("dialog")).to_have_count(0)
    expect(row).to_contain_text("Retired")
    expect(row.get_by_role("button", name="Retire")).to_have_count(0)
    expect(page.locator("#announce")).to_have_text(f"Identity key {kid} retired")


def test_api_keys_show_the_key_once_open_their_scope_and_revoke(
    live_stack: LiveStack, new_page: NewPage, shoot: Shoot
) -> None:
    cid = seed_campaign(live_stack)  # signed by the merchant's server: what a key's server join registers into
    page = new_page(allow=("status of 403",))
    page.context.grant_permissions(["clipboard-read", "clipboard-write"])
    secret_totp = lapsed_session(page, live_stack)
    page.goto(f"{live_stack.url}/admin/#/webhooks/api-keys")
    section = page.locator("#api-keys")
    expect(section.get_by_role("heading", name="API keys", exact=True)).to_be_focused()

    section.get_by_label("Name", exact=True).fill("shop back end (e2e)")
    participants = section.get_by_role("checkbox", name="participants:write")
    expect(participants).to_have_accessible_description(re.compile(r"POST /v1/server/campaigns/\{cid\}/participants"))
    participants.check()
    # Making a key needs a fresh step-up: the console asks for the code and sends the call again.
    section.get_by_role("button", name="Create the API key").click()
    step_up(page, code_at(secret_totp))
    expect(page.get_by_role("dialog")).to_have_count(0)
    shown = section.locator("#api-key-secret")
    expect(shown).to_have_value(re.compile(r"^fsk_ak_[0-9a-z]{19}_[0-9a-f]{64}$"))
    expect(shown).to_be_focused()
    key = shown.input_value()
    kid = key.split("_", 1)[1].rsplit("_", 1)[0]
    expect(section).to_contain_text("This key is shown only this once")
    expect(page.locator("#announce")).to_have_text(f"API key {kid} created")
    row = section.locator("tr", has_text=kid)
    expect(row).to_contain_text("shop back end (e2e)")
    expect(row).to_contain_text("participants:write")
    expect(row).to_contain_text("Active")
    expect(row).to_contain_text("Never")
    assert key not in section.locator("table").inner_text()
    section.get_by_role("button", name="Copy the key").click()
    expect(page.locator("#announce")).to_have_text("Key copied")
    assert page.evaluate("navigator.clipboard.readText()") == key
    shoot(page, "admin-api-keys")

    # The key shown is the one that works: the server join takes it for the scope it was granted, and no other.
    path = f"/v1/server/campaigns/{cid}/participants"
    status, body = live_stack.call("POST", path, {"external_id": "member-api-key"}, token=key)
    assert status == 201, body
    status, body = live_stack.call("GET", f"/v1/admin/campaigns/{cid}/stats", token=key)
    assert (status, body["error"]["code"]) == (403, "SCOPE_REQUIRED"), body

    # Closed, or read again, the key is nowhere on the page; the list shows it was used.
    section.get_by_role("button", name="I saved it, close").click()
    expect(page.locator("#api-key-secret")).to_have_count(0)
    page.reload()
    expect(row).to_contain_text("Active")
    expect(row).not_to_contain_text("Never")
    assert key not in page.content()

    asked: list[str] = []

    def confirm(dialog: Dialog) -> None:
        asked.append(dialog.message)
        dialog.accept()

    page.once("dialog", confirm)
    row.get_by_role("button", name="Revoke the API key “shop back end (e2e)”").click()
    step_up(page, code_at(secret_totp, 1))  # a code works once: the next one
    expect(row).to_contain_text("Revoked")
    expect(row.get_by_role("button", name=re.compile("Revoke"))).to_have_count(0)
    expect(page.locator("#announce")).to_have_text(f"API key {kid} revoked")
    assert asked and kid in asked[0] and "shop back end (e2e)" in asked[0]
    status, body = live_stack.call("POST", path, {"external_id": "member-api-key-2"}, token=key)
    assert (status, body["error"]["code"]) == (401, "API_KEY_REVOKED"), body


def test_a_field_the_operator_is_in_keeps_focus_when_the_keys_arrive(live_stack: LiveStack, new_page: NewPage) -> None:
    # The keys screen moves focus to its section's heading once its reads are in; someone who started typing
    # before that keeps their field.
    page = new_page()
    sign_in(page, live_stack)
    held: list[Route] = []

    def hold(route: Route) -> None:
        held.append(route)  # the keys' read waits until released below

    page.route("**/v1/admin/api-keys", hold)
    page.goto(f"{live_stack.url}/admin/#/webhooks/api-keys")
    name = page.locator("#api-keys").get_by_label("Name", exact=True)
    name.fill("typed before the keys arrived")
    expect(name).to_be_focused()
    while not held:
        page.wait_for_timeout(20)
    held[0].continue_()
    # Every read of the screen is in (its last step, placing focus, runs as the last one answers).
    expect(page.locator("#view")).not_to_contain_text("Loading")
    expect(name).to_be_focused()
    expect(name).to_have_value("typed before the keys arrived")


def test_api_keys_need_an_authenticator_and_say_where_to_enrol(live_stack: LiveStack, new_page: NewPage) -> None:
    # The stack's owner has no authenticator, so the API refuses to make a key (403, which Chromium logs).
    page = new_page(allow=("status of 403",))
    sign_in(page, live_stack)
    page.goto(f"{live_stack.url}/admin/#/webhooks/api-keys")
    section = page.locator("#api-keys")
    create = section.get_by_role("button", name="Create the API key")
    # Nothing chosen: the form says what is missing and sends nothing.
    create.click()
    expect(section.get_by_label("Name", exact=True)).to_be_focused()
    expect(section.locator(".field-error").first).to_have_text("Give the key a name.")
    section.get_by_label("Name", exact=True).fill("BI exports (e2e)")
    create.click()
    expect(section.locator("#api-key-scopes-error")).to_have_text("Choose at least one scope.")

    exports = section.get_by_role("checkbox", name="exports:create")
    expect(exports).to_have_accessible_description(re.compile("each one is audited"))
    exports.check()
    create.click()
    # No code could help, so none is asked for: the refusal says where to set up an authenticator.
    expect(section.locator("form .form-message")).to_contain_text("STEP_UP_REQUIRED")
    expect(section.get_by_role("link", name="set one up on the Exports screen")).to_have_attribute("href", "#/exports")
    expect(page.get_by_role("dialog")).to_have_count(0)
    expect(section.locator("#api-key-secret")).to_have_count(0)
    status, body = live_stack.call("GET", "/v1/admin/api-keys", token=live_stack.owner_token)
    assert status == 200 and "BI exports (e2e)" not in {k["name"] for k in body["items"]}


def test_identity_and_api_keys_are_for_owners_only(live_stack: LiveStack, new_page: NewPage) -> None:
    email, password = f"operator-{uuid.uuid4().hex[:6]}@{live_stack.tid}.example.cn", "operator-pass-1"
    made = {"email": email, "password": password, "role": "operator"}
    status, body = live_stack.call("POST", "/v1/admin/operators", made, token=live_stack.owner_token)
    assert status == 201, body
    page = new_page(allow=("status of 403",))
    sign_in(page, live_stack, operator=(email, password, "Operator"))
    page.goto(f"{live_stack.url}/admin/#/webhooks/identity-keys")
    expect(page.locator("#identity-keys .error-box")).to_contain_text("FORBIDDEN")
    expect(page.get_by_role("button", name="New identity key")).to_have_count(0)
    page.goto(f"{live_stack.url}/admin/#/webhooks/api-keys")
    expect(page.locator("#api-keys .error-box")).to_contain_text("FORBIDDEN")
    expect(page.get_by_role("button", name="Create the API key")).to_have_count(0)


def test_landing_domains_add_block_and_unblock_move_the_links(live_stack: LiveStack, new_page: NewPage) -> None:
    page = new_page(allow=("status of 409",))  # the duplicate below, refused on purpose
    sign_in(page, live_stack)
    page.goto(f"{live_stack.url}/admin/#/domains")
    now = page.locator("#domains-now")
    expect(now).to_contain_text("With no healthy domain, links fall back to:")  # the read is in

    def add(host: str) -> None:
        page.get_by_label("Host", exact=True).fill(host)
        page.get_by_role("button", name="Add the domain").click()
        stored = host.removeprefix("https://")  # the API keeps the bare host
        expect(page.locator("tr", has_text=stored)).to_contain_text("Healthy")

    add(f"a.{live_stack.tid}.example.cn")
    add(f"https://b.{live_stack.tid}.example.cn")
    first, second = (page.locator("tr", has_text=f"{x}.{live_stack.tid}.example.cn") for x in "ab")
    expect(now).to_contain_text(f"New links use: https://a.{live_stack.tid}.example.cn")
    expect(first).to_contain_text("In use")

    # The API's machine code comes back in the operator's words.
    page.get_by_label("Host", exact=True).fill(f"a.{live_stack.tid}.example.cn")
    page.get_by_role("button", name="Add the domain").click()
    expect(page.get_by_role("alert")).to_contain_text("This host is already registered. (DOMAIN_EXISTS)")

    # Blocked with what was seen: new links move to the next healthy domain at once.
    page.once("dialog", lambda dialog: dialog.accept("interstitial in WeChat"))
    first.get_by_role("button", name=f"Mark a.{live_stack.tid}.example.cn blocked").click()
    expect(first).to_contain_text("Blocked")
    expect(first).to_contain_text("interstitial in WeChat")
    expect(now).to_contain_text(f"New links use: https://b.{live_stack.tid}.example.cn")
    expect(second).to_contain_text("In use")

    first.get_by_role("button", name=f"Unblock a.{live_stack.tid}.example.cn").click()
    expect(first).to_contain_text("In use")
    expect(now).to_contain_text(f"New links use: https://a.{live_stack.tid}.example.cn")


def test_connecting_wecom_asks_for_the_step_up_and_never_shows_the_secret(
    live_stack: LiveStack, new_page: NewPage, shoot: Shoot
) -> None:
    page = new_page(allow=("status of 403",))
    page.context.grant_permissions(["clipboard-read", "clipboard-write"])
    secret_totp = lapsed_session(page, live_stack)
    page.goto(f"{live_stack.url}/admin/#/platforms")
    card = page.locator("#platform-wecom")
    expect(card.locator("#wecom-status")).to_contain_text("Not connected")  # the read is in

    secret = "e2e-contact-secret-" + uuid.uuid4().hex
    card.get_by_label("Corp ID").fill("ww0123456789abcdef")
    card.get_by_label("Customer contact secret").fill(secret)
    card.get_by_label("Callback token").fill("e2etoken")
    card.get_by_label("EncodingAESKey").fill(AES_KEY)
    card.get_by_role("button", name="Save").click()
    step_up(page, code_at(secret_totp))

    status = card.locator("#wecom-status")
    expect(status).to_contain_text("Connected")
    expect(status).to_contain_text(f"ends in {secret[-4:]}")
    expect(card.get_by_label("Customer contact secret")).to_have_value("")
    callback = card.get_by_label("Callback URL")
    expect(callback).to_have_value(re.compile(rf"^http://.+/v1/wecom/{live_stack.tid}/callback$"))
    card.get_by_role("button", name="Copy the callback URL").click()
    expect(page.locator("#announce")).to_have_text("Callback URL copied")
    assert page.evaluate("navigator.clipboard.readText()") == callback.input_value()
    shoot(page, "admin-platforms")

    # An empty secret field keeps the stored secret: only the agent id changes.
    card.get_by_label("Agent ID (optional)").fill("1000002")
    card.get_by_role("button", name="Save").click()
    step_up(page, code_at(secret_totp, 1))  # a code works once: the next one
    expect(page.locator("#announce")).to_have_text("WeCom saved")
    expect(status).to_contain_text(f"ends in {secret[-4:]}")
    page.reload()
    expect(card.get_by_label("Agent ID (optional)")).to_have_value("1000002")
    assert secret not in page.content()
    status_code, body = live_stack.call("GET", "/v1/admin/platforms/wecom", token=live_stack.owner_token)
    assert status_code == 200 and body["agent_id"] == 1000002 and body["secrets"]["contact_secret"]["set"], body
