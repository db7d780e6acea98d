"""Participants' platform codes against the local WeChat / WeCom stand-in: made on the first poster, reused after,
made once under concurrency, counted against the quota, and drawn (or encoded) in the poster's QR slot."""

from __future__ import annotations

import io
import json
import threading
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest
import zxingcpp
from PIL import Image

from local.wechat.server import WeChatStandIn
from tests.conftest import MODE_RULES, Api, Tenant, join, live_campaign

CORP_ID = "ww0123456789abcdef"
APP_ID = "wx1234567890abcdef"
MINI_ID = "wxabcdef1234567890"
SECRET = "contact-secret-0123456789abcdefghijklmnopqrstu"
APP_SECRET = "0123456789abcdef0123456789abcdef"
MINI_SECRET = "fedcba9876543210fedcba9876543210"
AES_KEY = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"
ADD_CONTACT_WAY = "/qyapi/cgi-bin/externalcontact/add_contact_way"
QRCODE_CREATE = "/api/cgi-bin/qrcode/create"
WXACODE = "/api/wxa/getwxacodeunlimit"


class StandIn:
    def __init__(self, server: WeChatStandIn) -> None:
        self.server = server

    def control(self, method: str, path: str, body: Any = None) -> Any:
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(self.server.url + path, data=data, method=method)
        with urllib.request.urlopen(request, timeout=10) as response:
            return json.loads(response.read())

    def calls(self, path: str) -> int:
        return int(self.control("GET", "/_local/calls").get(path, 0))


@pytest.fixture
def wx(monkeypatch: pytest.MonkeyPatch) -> Iterator[StandIn]:
    from chalicelib.core.config import get_settings

    server = WeChatStandIn(attempts=1, timeout=0.5)
    server.start()
    for name, value in server.environment().items():
        monkeypatch.setenv(name, value)
    get_settings.cache_clear()
    stand_in = StandIn(server)
    stand_in.control("POST", "/_local/corps", {
        "corp_id": CORP_ID, "secret": SECRET, "token": "cbToken123", "encoding_aes_key": AES_KEY,
        "staff": {"xiaomei": "店长小美", "dawei": "导购大伟"},
    })  # fmt: skip
    stand_in.control("POST", "/_local/apps", {"app_id": APP_ID, "secret": APP_SECRET, "encoding_aes_key": AES_KEY})
    stand_in.control("POST", "/_local/apps", {"app_id": MINI_ID, "secret": MINI_SECRET, "kind": "mini_program"})
    try:
        yield stand_in
    finally:
        server.stop()
        get_settings.cache_clear()


def connect(api: Api, tenant: Tenant, platform: str, **extra: Any) -> None:
    bodies: dict[str, dict[str, Any]] = {
        "wecom": {"corp_id": CORP_ID, "contact_secret": SECRET, "callback_token": "cbToken123",
                  "encoding_aes_key": AES_KEY, "staff_user_ids": ["xiaomei"]},
        "wechat": {"app_id": APP_ID, "app_secret": APP_SECRET, "callback_token": "oaToken123",
                   "encoding_aes_key": AES_KEY},
        "miniprogram": {"app_id": MINI_ID, "app_secret": MINI_SECRET},
    }  # fmt: skip
    body = bodies[platform] | extra
    status, answer = api.call("PUT", f"/v1/admin/platforms/{platform}", body, tenant.stepped_token())
    assert status == 200, answer


QR_TARGETS = ("wecom_contact", "wechat_oa", "miniprogram")


def campaign(api: Api, tenant: Tenant, target: str, **extra: Any) -> str:
    return live_campaign(api, tenant, "poster", rules=MODE_RULES["poster"], qr_target=target, **extra)


def poster(api: Api, cid: str, code: str, fmt: str = "jpg") -> Any:
    return api.client.http.get(f"/v1/posters/{cid}/{code}.{fmt}", headers={"Accept": "image/*"})


def decoded(body: bytes) -> list[str]:
    return [result.text for result in zxingcpp.read_barcodes(Image.open(io.BytesIO(body)))]


def error_code(response: Any) -> tuple[int, str]:
    return response.status_code, json.loads(response.body)["error"]["code"]


def test_the_official_account_code_is_made_on_the_first_poster_and_encoded_by_us(
    api: Api, tenant: Tenant, wx: StandIn
) -> None:
    from chalicelib.platforms import codes

    connect(api, tenant, "wechat")
    cid = campaign(api, tenant, "wechat_oa")
    code = join(api, cid, external_id="oa-1")[1]["invite_code"]

    first = poster(api, cid, code)
    assert first.status_code == 200, first.body
    made = codes.existing_official_account(code)
    assert made is not None and made.content.startswith(wx.server.phone_url + "?ticket=")
    assert decoded(first.body) == [made.content]
    # The stand-in knows the code as a permanent one naming the participant.
    stored = wx.server.world.qrcodes[made.ticket]
    assert (stored.action_name, stored.scene, stored.expires_at) == ("QR_LIMIT_STR_SCENE", f"fis_{code}", None)

    png = poster(api, cid, code, "png")
    assert png.status_code == 200 and png.headers["ETag"] != first.headers["ETag"]
    assert poster(api, cid, code).body == first.body
    assert wx.calls(QRCODE_CREATE) == 1

    status, usage = api.call("GET", "/v1/admin/platforms/usage", token=tenant.owner_token)
    assert (status, usage) == (200, {"platforms": [
        {"platform": "wecom", "used": 0, "limit": 500_000},
        {"platform": "wechat", "used": 1, "limit": 100_000},
    ]})  # fmt: skip


def test_the_wecom_poster_draws_the_channel_code_image_wecom_hosts(api: Api, tenant: Tenant, wx: StandIn) -> None:
    from chalicelib.platforms import codes

    connect(api, tenant, "wecom")
    cid = campaign(api, tenant, "wecom_contact")
    code = join(api, cid, external_id="wecom-1")[1]["invite_code"]

    first = poster(api, cid, code)
    assert first.status_code == 200, first.body
    way = codes.existing_wecom_contact(code)
    assert way is not None
    # The stand-in's image encodes its phone page for this contact way.
    assert decoded(first.body) == [f"{wx.server.phone_url}?cw={way.config_id}"]
    contact = wx.server.world.contact_ways[way.config_id]
    assert (contact.state, contact.users, contact.type, contact.scene) == (f"fis_{code}", ["xiaomei"], 1, 2)

    assert poster(api, cid, code, "png").status_code == 200
    assert poster(api, cid, code).body == first.body
    assert wx.calls(ADD_CONTACT_WAY) == 1


def test_twenty_concurrent_first_requests_make_one_contact_way(api: Api, tenant: Tenant, wx: StandIn) -> None:
    from chalicelib.platforms import codes

    connect(api, tenant, "wecom", staff_user_ids=["xiaomei", "dawei"])
    cid = campaign(api, tenant, "wecom_contact")
    code = join(api, cid, external_id="wecom-race")[1]["invite_code"]
    who = codes.Participant(tenant.tid, cid, code)
    results: list[str] = []
    errors: list[BaseException] = []
    start = threading.Barrier(20)

    def first_request() -> None:
        start.wait()
        try:
            results.append(codes.wecom_contact(who).config_id)
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=first_request) for _ in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert len(results) == 20 and len(set(results)) == 1
    assert wx.calls(ADD_CONTACT_WAY) == 1
    assert list(wx.server.world.contact_ways) == results[:1]
    assert wx.server.world.contact_ways[results[0]].type == 2  # several staff: a multi-member code
    assert codes.usage(tenant.tid)["platforms"][0] == {"platform": "wecom", "used": 1, "limit": 500_000}


def test_the_quota_refuses_new_codes_and_reuses_made_ones(
    api: Api, tenant: Tenant, wx: StandIn, monkeypatch: pytest.MonkeyPatch
) -> None:
    from chalicelib.platforms.rules import codes as rules

    monkeypatch.setitem(rules.LIMITS, "wecom", 1)
    connect(api, tenant, "wecom")
    cid = campaign(api, tenant, "wecom_contact")
    first = join(api, cid, external_id="quota-1")[1]["invite_code"]
    second = join(api, cid, external_id="quota-2")[1]["invite_code"]

    assert poster(api, cid, first).status_code == 200
    refused = poster(api, cid, second)
    assert error_code(refused) == (409, "PLATFORM_CODE_QUOTA")
    assert json.loads(refused.body)["error"]["details"] == {"platform": "wecom", "used": 1, "limit": 1}
    assert poster(api, cid, first, "png").status_code == 200  # a made code is still served
    assert wx.calls(ADD_CONTACT_WAY) == 1


def test_a_platform_refusal_stores_nothing_and_counts_nothing(api: Api, tenant: Tenant, wx: StandIn) -> None:
    from chalicelib.platforms import codes

    wx.control("POST", "/_local/corps", {
        "corp_id": CORP_ID, "secret": SECRET, "token": "cbToken123", "encoding_aes_key": AES_KEY,
        "contact_way_limit": 0,
    })  # fmt: skip
    connect(api, tenant, "wecom")
    cid = campaign(api, tenant, "wecom_contact")
    code = join(api, cid, external_id="refused")[1]["invite_code"]

    assert error_code(poster(api, cid, code)) == (503, "PLATFORM_BUSY")  # WeCom's 45009
    assert codes.existing_wecom_contact(code) is None
    assert codes.usage(tenant.tid)["platforms"][0]["used"] == 0

    wx.control("POST", "/_local/corps", {
        "corp_id": CORP_ID, "secret": SECRET, "token": "cbToken123", "encoding_aes_key": AES_KEY,
    })  # fmt: skip
    assert poster(api, cid, code).status_code == 200  # nothing half-made blocks the next try
    assert codes.usage(tenant.tid)["platforms"][0]["used"] == 1


def test_the_mini_program_poster_draws_the_code_image(api: Api, tenant: Tenant, wx: StandIn) -> None:
    connect(api, tenant, "miniprogram")
    cid = campaign(api, tenant, "miniprogram", qr_page="pages/invite/index")
    code = join(api, cid, external_id="mini-1")[1]["invite_code"]

    first = poster(api, cid, code)
    assert first.status_code == 200, first.body
    [entry] = wx.server.world.wxacodes.values()
    assert (entry["scene"], entry["page"]) == (f"fis_{code}", "pages/invite/index")
    assert decoded(first.body) == [entry["url"]]
    assert poster(api, cid, code, "png").status_code == 200
    assert wx.calls(WXACODE) == 1  # the image is kept with the posters


def test_an_errcode_instead_of_an_image_is_an_error(api: Api, tenant: Tenant, wx: StandIn) -> None:
    connect(api, tenant, "miniprogram")
    cid = campaign(api, tenant, "miniprogram")
    code = join(api, cid, external_id="mini-2")[1]["invite_code"]
    wx.control("POST", "/_local/limits", {"path": WXACODE, "calls": 0})
    assert error_code(poster(api, cid, code)) == (503, "PLATFORM_BUSY")


def draft(api: Api, tenant: Tenant, **overrides: Any) -> str:
    from tests.conftest import campaign_body

    status, body = api.call(
        "POST", "/v1/admin/campaigns", campaign_body("poster", **overrides), token=tenant.owner_token
    )
    assert status == 201, body
    return str(body["campaign_id"])


def publish(api: Api, tenant: Tenant, cid: str) -> tuple[int, list[tuple[str, str, str]]]:
    """The publish's status and its blocking findings as (code, field, platform)."""
    status, body = api.call("POST", f"/v1/admin/campaigns/{cid}/publish", token=tenant.owner_token)
    found = body["error"]["details"]["findings"] if status == 409 else []
    return status, [(f["code"], f["field"], f["details"]["platform"]) for f in found]


def test_publishing_needs_the_platforms_the_posters_use_and_a_later_disconnect_is_a_clear_409(
    api: Api, tenant: Tenant, wx: StandIn
) -> None:
    cids = {t: draft(api, tenant, rules=MODE_RULES["poster"], qr_target=t) for t in QR_TARGETS}
    refused = {t: publish(api, tenant, cid) for t, cid in cids.items()}
    connect(api, tenant, "wecom", staff_user_ids=[])
    no_staff = publish(api, tenant, cids["wecom_contact"])
    connect(api, tenant, "wechat")
    published = publish(api, tenant, cids["wechat_oa"])
    code = join(api, cids["wechat_oa"], external_id="oa-gone")[1]["invite_code"]
    assert api.call("DELETE", "/v1/admin/platforms/wechat", token=tenant.stepped_token())[0] == 204

    assert refused == {
        "wecom_contact": (409, [("PLATFORM_NOT_CONFIGURED", "qr_target", "wecom")]),
        "wechat_oa": (409, [("PLATFORM_NOT_CONFIGURED", "qr_target", "wechat")]),
        "miniprogram": (409, [("PLATFORM_NOT_CONFIGURED", "qr_target", "miniprogram")]),
    }
    assert no_staff == (409, [("WECOM_STAFF_MISSING", "qr_target", "wecom")])
    assert published == (200, [])
    assert error_code(poster(api, cids["wechat_oa"], code)) == (409, "PLATFORM_NOT_CONFIGURED")
    assert wx.calls(ADD_CONTACT_WAY) == 0
    assert api.call("GET", "/v1/admin/platforms/usage", token=tenant.owner_token)[1]["platforms"][0]["used"] == 0


def test_a_wechat_login_needs_the_official_account_and_a_follow_campaign_without_a_platform_warns(
    api: Api, tenant: Tenant, wx: StandIn
) -> None:
    login = draft(api, tenant, rules=MODE_RULES["poster"], identity={"mode": "platform", "platform": "wechat"})
    follow = draft(api, tenant, rules=MODE_RULES["poster"] | {"qualifying_action": "follow"})

    def warnings(cid: str) -> list[str]:
        status, body = api.call("POST", f"/v1/admin/campaigns/{cid}/preview", {}, token=tenant.owner_token)
        assert status == 200, body
        return [f["code"] for f in body["findings"] if f["severity"] == "warn"]

    before = warnings(follow)
    assert publish(api, tenant, login) == (409, [("PLATFORM_NOT_CONFIGURED", "identity.platform", "wechat")])
    connect(api, tenant, "wechat")

    assert "FOLLOW_WITHOUT_PLATFORM" in before and "FOLLOW_WITHOUT_PLATFORM" not in warnings(follow)
    assert publish(api, tenant, follow) == (200, [])  # a warning does not block: the follows webhook may feed it
    assert publish(api, tenant, login) == (200, [])


def test_qr_page_belongs_to_the_mini_program_target(api: Api, tenant: Tenant) -> None:
    from tests.conftest import campaign_body

    body = campaign_body("poster", qr_target="wechat_oa", qr_page="pages/index")
    status, answer = api.call("POST", "/v1/admin/campaigns", body, token=tenant.owner_token)
    assert status == 422, answer
