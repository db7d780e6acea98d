"""Operators register outbound webhook endpoints and see deliveries given up on."""

from __future__ import annotations

from tests.conftest import Api, Tenant


def test_owner_adds_lists_and_removes_an_endpoint(api: Api, tenant: Tenant) -> None:
    body = {"url": "https://shop.example.cn/fission-events", "events": ["reward.issued", "group.failed"]}
    status, created = api.call("POST", "/v1/admin/webhooks", body, token=tenant.totp_token())
    assert status == 201 and created["events"] == ["group.failed", "reward.issued"]
    listed = api.call("GET", "/v1/admin/webhooks", token=tenant.owner_token)[1]["items"]
    assert [e["id"] for e in listed] == [created["id"]]
    assert api.call("GET", "/v1/admin/webhooks/dead", token=tenant.owner_token) == (200, {"items": []})
    assert api.call("DELETE", f"/v1/admin/webhooks/{created['id']}", token=tenant.owner_token)[0] == 204
    assert api.call("GET", "/v1/admin/webhooks", token=tenant.owner_token)[1]["items"] == []
    status, error = api.call("DELETE", f"/v1/admin/webhooks/{created['id']}", token=tenant.owner_token)
    assert (status, error["error"]["code"]) == (404, "WEBHOOK_NOT_FOUND")


def test_the_event_types_offered_are_the_ones_accepted(api: Api, tenant: Tenant) -> None:
    status, body = api.call("GET", "/v1/admin/webhooks/events", token=tenant.owner_token)
    assert status == 200 and "commission.clawed_back" in body["events"]
    subscribed = {"url": "https://shop.example.cn/all", "events": body["events"]}
    status, created = api.call("POST", "/v1/admin/webhooks", subscribed, token=tenant.totp_token())
    assert status == 201 and created["events"] == sorted(body["events"])
    assert api.call("GET", "/v1/admin/webhooks/events", token=tenant.operator("operator"))[0] == 403


def test_endpoint_input_is_validated(api: Api, tenant: Tenant) -> None:
    owner = tenant.totp_token()
    cases = [
        ({"url": "ftp://shop.example.cn/x", "events": ["reward.issued"]}, 422, "INVALID_URL"),
        ({"url": "https://shop.example.cn/x", "events": ["reward.stolen"]}, 422, "INVALID_EVENTS"),
        ({"url": "https://shop.example.cn/x", "events": []}, 422, "VALIDATION_ERROR"),
        ({"url": "https://shop.example.cn/x", "events": ["reward.issued"], "secret": "x"}, 422, "UNKNOWN_FIELD"),
    ]
    for body, status, code in cases:
        got_status, error = api.call("POST", "/v1/admin/webhooks", body, token=owner)
        assert (got_status, error["error"]["code"]) == (status, code), body


def test_only_owners_manage_endpoints(api: Api, tenant: Tenant) -> None:
    operator = tenant.operator("operator")
    status, error = api.call("GET", "/v1/admin/webhooks", token=operator)
    assert (status, error["error"]["code"]) == (403, "FORBIDDEN")
