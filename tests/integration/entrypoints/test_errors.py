"""Bad input gets a clear 4xx JSON error with an exact code, never a 500 or a stack trace."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.conftest import Api, Tenant, campaign_body


def assert_error(status: int, body: Any, expected_status: int, code: str) -> None:
    assert status == expected_status, body
    assert body["error"]["code"] == code, body
    assert isinstance(body["error"]["message"], str) and body["error"]["message"]
    assert "Traceback" not in json.dumps(body)


def test_bad_json_is_invalid_json(api: Api, tenant: Tenant) -> None:
    status, body = api.call("POST", "/v1/admin/campaigns", '{"title": "x", ', token=tenant.owner_token)
    assert_error(status, body, 400, "INVALID_JSON")


def test_login_with_bad_json_is_invalid_json(api: Api) -> None:
    status, body = api.call("POST", "/v1/admin/login", "{not json")
    assert_error(status, body, 400, "INVALID_JSON")


def test_unknown_top_level_field_is_unknown_field(api: Api, tenant: Tenant) -> None:
    status, body = api.call("POST", "/v1/admin/campaigns", campaign_body(colour="red"), token=tenant.owner_token)
    assert_error(status, body, 422, "UNKNOWN_FIELD")
    assert body["error"]["details"]["fields"] == ["invite.colour"]


def test_unknown_nested_field_is_unknown_field(api: Api, tenant: Tenant) -> None:
    body_in = campaign_body()
    body_in["rules"] = {**body_in["rules"], "bonus": 1}
    status, body = api.call("POST", "/v1/admin/campaigns", body_in, token=tenant.owner_token)
    assert_error(status, body, 422, "UNKNOWN_FIELD")
    assert body["error"]["details"]["fields"] == ["invite.rules.bonus"]


def test_unknown_field_on_login_is_unknown_field(api: Api) -> None:
    status, body = api.call("POST", "/v1/admin/login", {"email": "a@b.cn", "password": "x", "admin": True})
    assert_error(status, body, 422, "UNKNOWN_FIELD")


def test_wrong_type_is_validation_error_naming_the_field(api: Api, tenant: Tenant) -> None:
    status, body = api.call(
        "POST", "/v1/admin/campaigns", campaign_body(title=["not", "a", "string"]), token=tenant.owner_token
    )
    assert_error(status, body, 422, "VALIDATION_ERROR")
    assert [e["field"] for e in body["error"]["details"]["errors"]] == ["invite.title"]


def test_wrong_type_in_rules_is_validation_error(api: Api, tenant: Tenant) -> None:
    body_in = campaign_body("group_buy")
    body_in["rules"] = {**body_in["rules"], "deadline_hours": "soon"}
    status, body = api.call("POST", "/v1/admin/campaigns", body_in, token=tenant.owner_token)
    assert_error(status, body, 422, "VALIDATION_ERROR")
    assert body["error"]["details"]["errors"][0]["field"] == "group_buy.rules.deadline_hours"


def test_body_that_is_not_an_object_is_validation_error(api: Api, tenant: Tenant) -> None:
    status, body = api.call("POST", "/v1/admin/campaigns", "[1, 2, 3]", token=tenant.owner_token)
    assert_error(status, body, 422, "VALIDATION_ERROR")


def test_oversized_body_is_payload_too_large(api: Api, tenant: Tenant) -> None:
    huge = campaign_body(description="x" * (64 * 1024))
    status, body = api.call("POST", "/v1/admin/campaigns", huge, token=tenant.owner_token)
    assert_error(status, body, 413, "PAYLOAD_TOO_LARGE")
    assert body["error"]["details"]["limit"] == 64 * 1024


def test_oversized_body_is_refused_before_authentication(api: Api) -> None:
    status, body = api.call("POST", "/v1/admin/login", "x" * (65 * 1024))
    assert_error(status, body, 413, "PAYLOAD_TOO_LARGE")


def test_wrong_method_is_method_not_allowed(api: Api, tenant: Tenant) -> None:
    status, body = api.call("PUT", "/v1/admin/campaigns", campaign_body(), token=tenant.owner_token)
    assert_error(status, body, 405, "METHOD_NOT_ALLOWED")


def test_non_json_content_type_is_unsupported_media_type(api: Api, tenant: Tenant) -> None:
    status, body = api.call(
        "POST",
        "/v1/admin/campaigns",
        "title=x",
        token=tenant.owner_token,
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert_error(status, body, 415, "UNSUPPORTED_MEDIA_TYPE")


@pytest.mark.parametrize("query", ["limit=abc", "limit=0", "limit=101", "status=archived"])
def test_bad_list_parameters_are_validation_errors(api: Api, tenant: Tenant, query: str) -> None:
    status, body = api.call("GET", f"/v1/admin/campaigns?{query}", token=tenant.owner_token)
    assert_error(status, body, 422, "VALIDATION_ERROR")


@pytest.mark.parametrize("cursor", ["garbage!", "eyJmb28iOiAxfQ", ""])
def test_forged_cursor_is_invalid_cursor(api: Api, tenant: Tenant, cursor: str) -> None:
    status, body = api.call("GET", f"/v1/admin/campaigns?cursor={cursor or 'x'}", token=tenant.owner_token)
    assert_error(status, body, 400, "INVALID_CURSOR")


def test_cursor_of_another_tenant_is_invalid_cursor(api: Api, new_tenant: Any) -> None:
    a, b = new_tenant(), new_tenant()
    for _ in range(2):
        assert api.call("POST", "/v1/admin/campaigns", campaign_body(), token=a.owner_token)[0] == 201
    _, page = api.call("GET", "/v1/admin/campaigns?limit=1", token=a.owner_token)
    assert page["next_cursor"]
    status, body = api.call("GET", f"/v1/admin/campaigns?cursor={page['next_cursor']}", token=b.owner_token)
    assert_error(status, body, 400, "INVALID_CURSOR")


def test_unexpected_failure_is_a_json_500_without_internals(api: Api, tenant: Tenant, monkeypatch: Any) -> None:
    from chalicelib.campaigns import lifecycle

    def explode(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("secret internal detail")

    monkeypatch.setattr(lifecycle, "list_page", explode)
    status, body = api.call("GET", "/v1/admin/campaigns", token=tenant.owner_token)
    assert status == 500
    assert body["error"]["code"] == "INTERNAL_ERROR"
    assert "secret internal detail" not in json.dumps(body)
