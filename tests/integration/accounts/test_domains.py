"""Landing domains through HTTP: links are minted on the first healthy domain, a block moves them at once,
short links shared before the block keep redirecting, and posters follow the domain."""

from __future__ import annotations

import io
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import zxingcpp
from PIL import Image

from chalicelib.core.config import get_settings
from tests.conftest import MODE_RULES, Api, Tenant, join, live_campaign

ADMIN = "/v1/admin/domains"


def add(api: Api, tenant: Tenant, host: str, **extra: Any) -> dict[str, Any]:
    status, body = api.call("POST", ADMIN, {"host": host, **extra}, token=tenant.owner_token)
    assert status == 201, body
    return dict(body)


def followed(api: Api, code: str) -> Any:
    """Where the short link sends a visitor now."""
    response = api.client.http.get(f"/v1/i/{code}?ch=wechat_friend")
    assert response.status_code == 302
    return urlsplit(response.headers["Location"])


def block(api: Api, tenant: Tenant, did: str, **body: Any) -> tuple[int, Any]:
    return api.call("POST", f"{ADMIN}/{did}/block", body, token=tenant.owner_token)


def poster_qr(api: Api, cid: str, code: str) -> str:
    response = api.client.http.get(f"/v1/posters/{cid}/{code}.png", headers={"Accept": "image/png"})
    assert response.status_code == 200
    return str(zxingcpp.read_barcodes(Image.open(io.BytesIO(response.body)))[0].text)


def test_links_move_to_the_next_healthy_domain_at_once_and_old_short_links_keep_working(
    api: Api, tenant: Tenant
) -> None:
    a = add(api, tenant, "a.fission-landing.cn")
    b = add(api, tenant, "https://B.fission-landing.cn/")
    assert (a["status"], a["priority"], b["host"], b["priority"]) == ("healthy", 0, "b.fission-landing.cn", 1)
    cid = live_campaign(api, tenant)
    code = join(api, cid, external_id="domain-user-1")[1]["invite_code"]
    shared_before_the_block = f"/v1/i/{code}"

    target = followed(api, code)
    assert (target.scheme, target.netloc, target.path) == ("https", "a.fission-landing.cn", "/l/")
    assert parse_qs(target.query)["ref"] == [code]

    status, blocked = block(api, tenant, a["domain_id"], reason="WeChat interstitial seen at 10:02")
    assert status == 200
    assert (blocked["status"], blocked["reason"], blocked["blocked_by"]) == (
        "blocked", "WeChat interstitial seen at 10:02", tenant.owner_email,
    )  # fmt: skip
    assert blocked["blocked_at"]
    # The link shared before the block now lands on B, and so does every new one.
    response = api.client.http.get(shared_before_the_block)
    assert response.status_code == 302 and urlsplit(response.headers["Location"]).netloc == "b.fission-landing.cn"
    assert followed(api, code).netloc == "b.fission-landing.cn"
    listed = api.call("GET", ADMIN, token=tenant.owner_token)[1]
    assert listed["current_host"] == "b.fission-landing.cn"
    assert [d["status"] for d in listed["items"]] == ["blocked", "healthy"]

    # Unblocked, A is first in the order again.
    status, back = api.call("POST", f"{ADMIN}/{a['domain_id']}/unblock", token=tenant.owner_token)
    assert (status, back["status"], back["blocked_at"], back["reason"]) == (200, "healthy", None, None)
    assert followed(api, code).netloc == "a.fission-landing.cn"


def test_with_every_domain_blocked_links_fall_back_to_the_default_base(api: Api, tenant: Tenant) -> None:
    domains = [add(api, tenant, f"{name}.fallback-landing.cn") for name in ("one", "two")]
    for domain in domains:
        assert block(api, tenant, domain["domain_id"])[0] == 200
    cid = live_campaign(api, tenant)
    code = join(api, cid, external_id="fallback-user")[1]["invite_code"]
    default = urlsplit(get_settings().site_url("/l/"))
    target = followed(api, code)
    assert (target.netloc, target.path) == (default.netloc, "/l/")
    listed = api.call("GET", ADMIN, token=tenant.owner_token)[1]
    assert listed["current_host"] is None and listed["fallback_base_url"] == get_settings().site_url("")


def test_priority_orders_the_domains_and_a_campaign_landing_url_on_a_registered_domain_moves(
    api: Api, tenant: Tenant
) -> None:
    add(api, tenant, "late.order-landing.cn", priority=50)
    first = add(api, tenant, "early.order-landing.cn", priority=5)
    listed = api.call("GET", ADMIN, token=tenant.owner_token)[1]
    assert [d["host"] for d in listed["items"]] == ["early.order-landing.cn", "late.order-landing.cn"]
    on_domain = live_campaign(api, tenant, landing_url="https://late.order-landing.cn/promo/?lang=zh")
    elsewhere = live_campaign(api, tenant, landing_url="https://shop.merchant.cn/fission")
    moved = followed(api, join(api, on_domain, external_id="order-1")[1]["invite_code"])
    assert (moved.netloc, moved.path, parse_qs(moved.query)["lang"]) == ("early.order-landing.cn", "/promo/", ["zh"])
    kept = followed(api, join(api, elsewhere, external_id="order-2")[1]["invite_code"])
    assert (kept.netloc, kept.path) == ("shop.merchant.cn", "/fission")
    block(api, tenant, first["domain_id"])
    assert followed(api, join(api, on_domain, external_id="order-3")[1]["invite_code"]).netloc == (
        "late.order-landing.cn"
    )


def test_group_share_links_are_minted_on_the_healthy_domain(api: Api, tenant: Tenant) -> None:
    a = add(api, tenant, "a.group-landing.cn")
    add(api, tenant, "b.group-landing.cn")
    cid = live_campaign(api, tenant, "group_buy")
    token = join(api, cid, external_id="leader-1")[1]["token"]
    status, group = api.call("POST", f"/v1/campaigns/{cid}/groups", {}, token=token)
    assert status == 201, group
    assert urlsplit(group["share_url"]).netloc == "a.group-landing.cn"
    block(api, tenant, a["domain_id"])
    status, seen = api.call("GET", f"/v1/groups/{group['group_id']}")
    assert (status, urlsplit(seen["share_url"]).netloc) == (200, "b.group-landing.cn")


def test_a_poster_made_before_a_block_is_not_served_from_the_cache_after_it(api: Api, tenant: Tenant) -> None:
    cid = live_campaign(api, tenant, "poster", rules=MODE_RULES["poster"])
    code = join(api, cid, external_id="poster-domain-1", nickname="小红")[1]["invite_code"]
    assert poster_qr(api, cid, code).endswith(f"/v1/i/{code}")  # no domains: the short link, as before
    a = add(api, tenant, "a.poster-landing.cn")
    add(api, tenant, "b.poster-landing.cn")
    on_a = urlsplit(poster_qr(api, cid, code))
    assert (on_a.netloc, parse_qs(on_a.query)["ref"], parse_qs(on_a.query)["ch"]) == (
        "a.poster-landing.cn", [code], ["poster"],
    )  # fmt: skip
    block(api, tenant, a["domain_id"])
    assert urlsplit(poster_qr(api, cid, code)).netloc == "b.poster-landing.cn"


def test_blocking_twice_answers_the_same_and_audits_once(api: Api, tenant: Tenant) -> None:
    a = add(api, tenant, "twice.idem-landing.cn")
    first = block(api, tenant, a["domain_id"], reason="interstitial")
    again = block(api, tenant, a["domain_id"], reason="seen again")
    assert first == again
    status, unblocked = api.call("POST", f"{ADMIN}/{a['domain_id']}/unblock", token=tenant.owner_token)
    assert status == 200 and api.call("POST", f"{ADMIN}/{a['domain_id']}/unblock", token=tenant.owner_token)[1] == (
        unblocked
    )
    entries = api.call("GET", "/v1/admin/audit?limit=50", token=tenant.owner_token)[1]["items"]
    actions = [e["action"] for e in entries if e["target"] == a["domain_id"]]
    assert sorted(actions) == ["domain.block", "domain.create", "domain.unblock"]


@pytest.mark.parametrize(
    ("host", "reason"),
    [
        ("http://plain.example.cn", "scheme"),
        ("1.2.3.4", "ip_address"),
        ("m.example.cn:8443", "port"),
        ("[::1]", "port"),
        ("m.example.cn/l/", "not_a_host"),
        ("localhost", "not_a_host"),
        ("bad_label.example.cn", "not_a_host"),
        ("-dash.example.cn", "not_a_host"),
        ("https://", "empty"),
    ],
)
def test_a_host_that_cannot_be_a_landing_domain_is_a_422(api: Api, tenant: Tenant, host: str, reason: str) -> None:
    status, body = api.call("POST", ADMIN, {"host": host}, token=tenant.owner_token)
    assert (status, body["error"]["code"], body["error"]["details"]["reason"]) == (422, "DOMAIN_INVALID", reason)


def test_the_api_host_an_unknown_field_and_a_duplicate_are_refused(api: Api, tenant: Tenant) -> None:
    api_host = urlsplit(get_settings().public_base_url).hostname
    status, body = api.call("POST", ADMIN, {"host": f"{api_host}.example.cn"}, token=tenant.owner_token)
    assert status == 201  # a longer name that merely starts like the API host is another host
    if api_host and "." in api_host:
        status, body = api.call("POST", ADMIN, {"host": api_host}, token=tenant.owner_token)
        assert (status, body["error"]["details"]["reason"]) == (422, "reserved")
    add(api, tenant, "dup.example.cn")
    status, body = api.call("POST", ADMIN, {"host": "DUP.example.cn"}, token=tenant.owner_token)
    assert (status, body["error"]["code"]) == (409, "DOMAIN_EXISTS")
    status, body = api.call("POST", ADMIN, {"host": "x.example.cn", "status": "blocked"}, token=tenant.owner_token)
    assert status == 422 and body["error"]["code"] in ("UNKNOWN_FIELD", "VALIDATION_ERROR")
    status, body = api.call("POST", ADMIN, {"host": "例子.测试.中国"}, token=tenant.owner_token)
    assert (status, body["host"]) == (201, "xn--fsqu00a.xn--0zwm56d.xn--fiqs8s")


def test_domains_are_the_owners_and_each_tenants_own(api: Api, tenant: Tenant, new_tenant: Any) -> None:
    a = add(api, tenant, "mine.isolated-landing.cn")
    other = new_tenant()
    assert api.call("GET", ADMIN, token=other.owner_token)[1]["items"] == []
    for path in (f"{ADMIN}/{a['domain_id']}/block", f"{ADMIN}/{a['domain_id']}/unblock"):
        status, body = api.call("POST", path, token=other.owner_token)
        assert (status, body["error"]["code"]) == (404, "DOMAIN_NOT_FOUND")
    status, body = api.call("DELETE", f"{ADMIN}/{a['domain_id']}", token=other.owner_token)
    assert (status, body["error"]["code"]) == (404, "DOMAIN_NOT_FOUND")
    # Another tenant's links never use this tenant's domains.
    cid = live_campaign(api, other)
    assert followed(api, join(api, cid, external_id="iso-1")[1]["invite_code"]).netloc != "mine.isolated-landing.cn"
    operator = tenant.operator("operator")
    status, body = api.call("POST", f"{ADMIN}/{a['domain_id']}/block", token=operator)
    assert status == 403
    assert api.call("DELETE", f"{ADMIN}/{a['domain_id']}", token=tenant.owner_token)[0] == 204
    assert api.call("GET", ADMIN, token=tenant.owner_token)[1]["items"] == []
