"""WeChat's web login, the JS-SDK config and the mini program's login, against the local stand-in: a visitor who
logs in with WeChat joins as a platform participant credited to their inviter; the state, the code and the return
address cannot be bent; JS-SDK signatures match wechatpy's and are given for the tenant's own pages only."""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
from wechatpy.client.api.jsapi import WeChatJSAPI

from local.pump import StreamPump
from local.wechat.server import WeChatStandIn
from tests.conftest import Api, Tenant, live_campaign
from tests.integration.local.test_wechat_standin import open_no_redirect
from tests.integration.platforms.conftest import connect

APP = "wxlogin00000000001"
MINI = "wxmini000000000001"
SECRET = "0123456789abcdef0123456789abcdef"
SITE = "http://localhost:8000"


@dataclass
class WeChat:
    standin: WeChatStandIn

    def control(self, path: str, body: dict[str, Any]) -> Any:
        status, _, answer = open_no_redirect(self.standin.url + path, json.dumps(body).encode())
        assert status == 200, answer
        return json.loads(answer)


@pytest.fixture
def wechat(api: Api, tenant: Tenant, monkeypatch: pytest.MonkeyPatch) -> Iterator[WeChat]:
    server = WeChatStandIn(attempts=1, timeout=0.5)
    server.start()
    monkeypatch.setenv("FISSION_WECHAT_API_BASE", server.url + "/api")
    monkeypatch.setenv("FISSION_WECHAT_OPEN_BASE", server.url + "/open")
    monkeypatch.setenv("FISSION_PUBLIC_BASE_URL", SITE)
    monkeypatch.delenv("FISSION_SITE_BASE_URL", raising=False)
    from chalicelib.core.config import get_settings

    get_settings.cache_clear()
    found = WeChat(server)
    found.control("/_local/apps", {"app_id": APP, "secret": SECRET, "mode": "plain", "token": "oaToken123",
                                   "oauth_domain": "localhost"})  # fmt: skip
    found.control("/_local/apps", {"app_id": MINI, "secret": SECRET, "kind": "mini_program"})
    connect(api, tenant, "wechat", {"app_id": APP, "app_secret": SECRET, "callback_token": "oaToken123",
                                    "message_mode": "plain"})  # fmt: skip
    connect(api, tenant, "miniprogram", {"app_id": MINI, "app_secret": SECRET})
    try:
        yield found
    finally:
        server.stop()
        get_settings.cache_clear()


def wechat_campaign(api: Api, tenant: Tenant, platform: str = "wechat") -> str:
    return live_campaign(api, tenant, identity={"mode": "platform", "platform": platform})


def get(api: Api, path: str) -> tuple[int, dict[str, str], Any]:
    response = api.client.http.request("GET", path)
    return response.status_code, dict(response.headers), response.json_body if response.body else None


def start_path(tid: str, **query: str) -> str:
    return f"/v1/wechat/{tid}/oauth/start?{urlencode(query)}"


def through_wechat(wechat: WeChat, authorize: str, visitor: str) -> str:
    """The phone follows the authorize URL as `visitor` (consenting for snsapi_userinfo): our callback's path."""
    address, _, fragment = authorize.partition("#")
    assert fragment == "wechat_redirect"
    status, headers, page = open_no_redirect(f"{address}&{urlencode({'visitor': visitor})}")
    if status == 200:  # the consent page of snsapi_userinfo
        fields = {k: v[0] for k, v in parse_qs(urlsplit(address).query).items()}
        form = {"appid": fields["appid"], "redirect_uri": fields["redirect_uri"], "scope": fields["scope"],
                "state": fields["state"], "visitor": visitor, "decision": "allow"}  # fmt: skip
        status, headers, page = open_no_redirect(wechat.standin.url + "/_local/oauth/allow", urlencode(form).encode())
    assert status in (302, 303), page
    back = urlsplit(headers["Location"])
    assert back.netloc == "localhost:8000"
    return f"{back.path}?{back.query}"


def claims(assertion: str) -> dict[str, Any]:
    part = assertion.split(".")[1]
    return dict(json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))))


def login(api: Api, wechat: WeChat, tid: str, cid: str, visitor: str, **query: str) -> tuple[str, str]:
    """(the landing address without its fragment, the assertion) after a whole web login."""
    page = f"{SITE}/l/?campaign={cid}"
    status, headers, body = get(api, start_path(tid, campaign=cid, **{"return": page}, **query))
    assert status == 302, body
    callback = through_wechat(wechat, headers["Location"], visitor)
    status, headers, body = get(api, callback)
    assert status == 302, body
    landing, _, fragment = headers["Location"].partition("#")
    return landing, parse_qs(fragment)["assertion"][0]


def test_a_visitor_invited_in_wechat_logs_in_joins_and_is_credited_to_the_inviter(
    api: Api, tenant: Tenant, wechat: WeChat, pump: StreamPump
) -> None:
    cid = wechat_campaign(api, tenant)
    _, alice_assertion = login(api, wechat, tenant.tid, cid, "alice")
    inviter = api.call("POST", f"/v1/campaigns/{cid}/participants", {"assertion": alice_assertion})[1]

    landing, assertion = login(api, wechat, tenant.tid, cid, "bob", ref=inviter["invite_code"], click="clk-1")
    query = {k: v[0] for k, v in parse_qs(urlsplit(landing).query).items()}
    status, joined = api.call(
        "POST", f"/v1/campaigns/{cid}/participants", {"assertion": assertion, "ref": query["ref"]}
    )
    pump.drain()
    me = api.call("GET", f"/v1/campaigns/{cid}/me", token=inviter["token"])[1]

    assert landing.startswith(f"{SITE}/l/?") and query == {"campaign": cid, "ref": inviter["invite_code"],
                                                          "click": "clk-1"}  # fmt: skip
    assert claims(assertion)["iss"] == "platform:wechat" and claims(assertion)["sub"].startswith("openid:o")
    assert status == 201 and joined["invite_code"] != inviter["invite_code"]
    assert me["progress"]["counted_invites"] == 1, me


def test_a_userinfo_login_vouches_for_the_unionid_and_the_nickname(api: Api, tenant: Tenant, wechat: WeChat) -> None:
    cid = wechat_campaign(api, tenant)
    _, assertion = login(api, wechat, tenant.tid, cid, "小明", scope="snsapi_userinfo")

    found = claims(assertion)
    joined = api.call("POST", f"/v1/campaigns/{cid}/participants", {"assertion": assertion})

    assert found["nickname"] == "小明" and not found["sub"].startswith("openid:")
    assert joined[0] == 201


def test_a_tampered_or_foreign_state_is_refused(api: Api, tenant: Tenant, wechat: WeChat) -> None:
    cid = wechat_campaign(api, tenant)
    status, headers, _ = get(api, start_path(tenant.tid, campaign=cid, **{"return": f"{SITE}/l/?campaign={cid}"}))
    callback = through_wechat(wechat, headers["Location"], "mallory")
    path, _, query = callback.partition("?")
    fields = {k: v[0] for k, v in parse_qs(query).items()}

    elsewhere = get(api, f"{path}?{urlencode(fields | {'to': 'https://evil.example/l/'})}")
    forged = get(api, f"{path}?{urlencode(fields | {'state': fields['state'][:-2] + 'AA'})}")
    other_tenant = get(api, f"/v1/wechat/t_other/oauth/callback?{query}")
    no_state = get(api, f"{path}?{urlencode({k: v for k, v in fields.items() if k != 'state'})}")

    for answer in (elsewhere, forged, other_tenant, no_state):
        assert (answer[0], answer[2]["error"]["code"]) == (400, "LOGIN_STATE_INVALID"), answer
    assert get(api, callback)[0] == 302  # the untouched callback still works: its code was never spent


def test_an_expired_state_is_refused(api: Api, tenant: Tenant, wechat: WeChat, monkeypatch: pytest.MonkeyPatch) -> None:
    from chalicelib.http import request as http

    cid = wechat_campaign(api, tenant)
    _, headers, _ = get(api, start_path(tenant.tid, campaign=cid, **{"return": f"{SITE}/l/?campaign={cid}"}))
    callback = through_wechat(wechat, headers["Location"], "slow")
    later = http.now().timestamp() + 601
    monkeypatch.setattr(http, "now", lambda: datetime.fromtimestamp(later, tz=UTC))

    status, _, body = get(api, callback)

    assert (status, body["error"]["code"]) == (400, "LOGIN_STATE_EXPIRED")


def test_a_login_code_works_once(api: Api, tenant: Tenant, wechat: WeChat) -> None:
    cid = wechat_campaign(api, tenant)
    _, headers, _ = get(api, start_path(tenant.tid, campaign=cid, **{"return": f"{SITE}/l/?campaign={cid}"}))
    callback = through_wechat(wechat, headers["Location"], "carol")
    path, _, query = callback.partition("?")

    first = get(api, callback)
    again = get(api, callback)
    unknown = get(api, f"{path}?{urlencode({k: v[0] for k, v in parse_qs(query).items()} | {'code': 'nope'})}")
    denied = get(api, f"{path}?{urlencode({k: v[0] for k, v in parse_qs(query).items() if k != 'code'})}")

    assert first[0] == 302
    assert (again[0], again[2]["error"]["code"], again[2]["error"]["details"]["errcode"]) == (
        400, "LOGIN_CODE_USED", 40163)  # fmt: skip
    assert (unknown[0], unknown[2]["error"]["code"], unknown[2]["error"]["details"]["errcode"]) == (
        400, "LOGIN_CODE_INVALID", 40029)  # fmt: skip
    assert (denied[0], denied[2]["error"]["code"]) == (400, "LOGIN_DENIED")


@pytest.mark.parametrize(
    "target",
    [
        "https://evil.example/l/",
        "//evil.example/l/",
        "/l/?campaign=x",
        "javascript:alert(1)",
        "http://localhost:8000@evil.example/l/",
        "http://localhost:8001/l/",
        "https://localhost:8000/l/",
        "http://localhost.evil.example:8000/l/",
    ],
)
def test_a_login_never_returns_to_a_foreign_address(api: Api, tenant: Tenant, wechat: WeChat, target: str) -> None:
    cid = wechat_campaign(api, tenant)

    status, _, body = get(api, start_path(tenant.tid, campaign=cid, **{"return": target}))

    assert (status, body["error"]["code"]) == (422, "RETURN_URL_NOT_ALLOWED")


def test_a_login_may_return_to_the_tenants_landing_domain(api: Api, tenant: Tenant, wechat: WeChat) -> None:
    cid = wechat_campaign(api, tenant)
    status, body = api.call("POST", "/v1/admin/domains", {"host": "go.shop-example.cn"}, token=tenant.stepped_token())
    assert status == 201, body

    status, headers, _ = get(
        api, start_path(tenant.tid, campaign=cid, **{"return": f"https://go.shop-example.cn/l/?campaign={cid}"})
    )

    assert status == 302 and headers["Location"].startswith(wechat.standin.url + "/open/connect/oauth2/authorize?")


def test_the_login_is_only_for_campaigns_of_the_tenant_that_use_it(
    api: Api, tenant: Tenant, wechat: WeChat, new_tenant: Any
) -> None:
    signed = live_campaign(api, tenant)
    mine = wechat_campaign(api, tenant)
    back = {"return": f"{SITE}/l/"}

    not_wechat = get(api, start_path(tenant.tid, campaign=signed, **back))
    someone_elses = get(api, start_path(new_tenant().tid, campaign=mine, **back))

    assert (not_wechat[0], not_wechat[2]["error"]["code"]) == (409, "PLATFORM_LOGIN_NOT_USED")
    assert (someone_elses[0], someone_elses[2]["error"]["code"]) == (404, "CAMPAIGN_NOT_FOUND")


def test_the_state_fits_wechats_limit(api: Api, tenant: Tenant, wechat: WeChat) -> None:
    cid = wechat_campaign(api, tenant)
    page = f"{SITE}/l/?campaign={cid}&lang=en&" + "x" * 600

    _, headers, _ = get(api, start_path(tenant.tid, campaign=cid, ref="abcdefgh", click="c" * 64, **{"return": page}))
    fields = {k: v[0] for k, v in parse_qs(urlsplit(headers["Location"].partition("#")[0]).query).items()}

    assert len(fields["state"].encode()) <= 128 and fields["scope"] == "snsapi_base"
    assert fields["appid"] == APP and fields["response_type"] == "code"


# ---- JS-SDK -----------------------------------------------------------------------------------------------------


def test_the_jssdk_signature_matches_wechatpy(api: Api, tenant: Tenant, wechat: WeChat) -> None:
    page = f"{SITE}/l/?campaign=c1&ref=abcdefgh#share"

    status, config = api.call("GET", f"/v1/wechat/{tenant.tid}/jssdk-config?{urlencode({'url': page})}")
    ticket = wechat.standin.world.jsapi_tickets[APP]

    expected = WeChatJSAPI(None).get_jsapi_signature(
        config["nonceStr"], ticket, config["timestamp"], page.split("#")[0]
    )
    assert status == 200 and config["appId"] == APP and config["signature"] == expected
    assert abs(config["timestamp"] - time.time()) < 60


@pytest.mark.parametrize("page", ["https://evil.example/l/", "http://localhost:8000@evil.example/", ""])
def test_no_jssdk_signature_for_a_foreign_page(api: Api, tenant: Tenant, wechat: WeChat, page: str) -> None:
    status, body = api.call("GET", f"/v1/wechat/{tenant.tid}/jssdk-config?{urlencode({'url': page})}")

    assert (status, body["error"]["code"]) == (422, "RETURN_URL_NOT_ALLOWED")
    assert APP not in wechat.standin.world.jsapi_tickets  # not even a ticket was fetched


# ---- mini program -----------------------------------------------------------------------------------------------


def test_a_mini_program_user_logs_in_and_joins_from_a_participants_code(
    api: Api, tenant: Tenant, wechat: WeChat, pump: StreamPump
) -> None:
    cid = wechat_campaign(api, tenant, "miniprogram")

    def mini_login(visitor: str, **extra: str) -> tuple[int, Any]:
        code = wechat.control("/_local/mini/login", {"app_id": MINI, "visitor": visitor})["code"]
        return api.call("POST", f"/v1/miniprogram/{tenant.tid}/login", {"code": code, "campaign_id": cid, **extra})

    status, first = mini_login("dave")
    inviter = api.call("POST", f"/v1/campaigns/{cid}/participants", {"assertion": first["assertion"]})[1]
    status2, second = mini_login("erin", scene=f"fis_{inviter['invite_code']}")
    joined = api.call(
        "POST", f"/v1/campaigns/{cid}/participants",
        {"assertion": second["assertion"], "scene": f"fis_{inviter['invite_code']}"},
    )  # fmt: skip
    pump.drain()
    me = api.call("GET", f"/v1/campaigns/{cid}/me", token=inviter["token"])[1]

    assert status == status2 == 200 and set(first) == {"assertion", "expires_in", "ref"}
    assert claims(first["assertion"])["iss"] == "platform:miniprogram" and "session_key" not in json.dumps(first)
    assert second["ref"] == inviter["invite_code"] and joined[0] == 201
    assert me["progress"]["counted_invites"] == 1


def test_a_mini_program_code_works_once_and_a_bad_scene_is_refused(api: Api, tenant: Tenant, wechat: WeChat) -> None:
    cid = wechat_campaign(api, tenant, "miniprogram")
    code = wechat.control("/_local/mini/login", {"app_id": MINI, "visitor": "frank"})["code"]
    body = {"code": code, "campaign_id": cid}

    first = api.call("POST", f"/v1/miniprogram/{tenant.tid}/login", body)
    again = api.call("POST", f"/v1/miniprogram/{tenant.tid}/login", body)
    bad_scene = api.call("POST", f"/v1/campaigns/{cid}/participants",
                         {"assertion": first[1]["assertion"], "scene": "qr_something"})  # fmt: skip

    assert first[0] == 200
    assert (again[0], again[1]["error"]["code"]) == (400, "LOGIN_CODE_USED")
    assert bad_scene[0] == 422


def test_the_public_view_names_the_login_of_wechat_login_campaigns_only(api: Api, tenant: Tenant) -> None:
    # Publishing a WeChat-login campaign needs the official account connected (docs/compliance.md).
    connect(api, tenant, "wechat", {"app_id": APP, "app_secret": SECRET, "callback_token": "oaToken123",
                                    "message_mode": "plain"})  # fmt: skip
    wechat_login = wechat_campaign(api, tenant)
    signed = live_campaign(api, tenant)

    identity = api.call("GET", f"/v1/campaigns/{wechat_login}/public")[1]["identity"]
    other = api.call("GET", f"/v1/campaigns/{signed}/public")[1]["identity"]

    assert identity["login_path"] == f"/v1/wechat/{tenant.tid}/oauth/start?campaign={wechat_login}"
    assert identity["jssdk_config_path"] == f"/v1/wechat/{tenant.tid}/jssdk-config"
    assert other == {"mode": "signed", "platform": None}
