"""Authentication, role permissions and tenant isolation on every admin route."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import boto3
import pytest

from tests.conftest import OWNER_PASSWORD, Api, Clock, Tenant, campaign_body


def admin_routes(app: Any) -> list[tuple[str, str, Any]]:
    return [
        (path, method, entry.view_function)
        for path, methods in app.routes.items()
        if path.startswith("/v1/admin/")
        for method, entry in methods.items()
    ]


def test_every_admin_route_declares_a_permission_or_is_explicitly_anonymous(app: Any) -> None:
    routes = admin_routes(app)
    assert len(routes) >= 12
    undeclared = [
        f"{method} {path}"
        for path, method, view in routes
        if getattr(view, "required_permission", None) is None and not getattr(view, "anonymous", False)
    ]
    assert undeclared == []
    anonymous = [f"{method} {path}" for path, method, view in routes if getattr(view, "anonymous", False)]
    assert anonymous == ["POST /v1/admin/login"]


def test_every_protected_admin_route_refuses_a_request_without_token(api: Api, app: Any) -> None:
    for path, method, view in admin_routes(app):
        if getattr(view, "anonymous", False):
            continue
        concrete = re.sub(r"\{[^}]+\}", "x", path)
        status, body = api.call(method, concrete, {} if method in ("POST", "PATCH") else None)
        assert (status, body["error"]["code"]) == (401, "UNAUTHORIZED"), f"{method} {path}"


def test_a_route_without_declared_permission_is_closed(api: Api, app: Any, tenant: Tenant) -> None:
    from chalicelib.entrypoints.middleware import authorisation

    view = app.routes["/v1/admin/campaigns"]["GET"].view_function
    permission = view.required_permission
    try:
        del view.required_permission
        status, body = api.call("GET", "/v1/admin/campaigns", token=tenant.owner_token)
    finally:
        view.required_permission = permission
    assert (status, body["error"]["code"]) == (403, "PERMISSION_UNDECLARED")
    assert callable(authorisation)


def test_login_returns_a_bearer_token_with_expiry(api: Api, tenant: Tenant) -> None:
    status, body = api.call("POST", "/v1/admin/login", {"email": tenant.owner_email, "password": OWNER_PASSWORD})
    assert status == 200
    assert body["token_type"] == "Bearer" and body["role"] == "owner" and body["tenant_id"] == tenant.tid
    assert body["expires_at"].endswith("Z")


def test_login_email_is_case_insensitive(api: Api, tenant: Tenant) -> None:
    status, _ = api.call("POST", "/v1/admin/login", {"email": tenant.owner_email.upper(), "password": OWNER_PASSWORD})
    assert status == 200


@pytest.mark.parametrize("email_ok", [True, False])
def test_wrong_credentials_give_the_same_answer(api: Api, tenant: Tenant, email_ok: bool) -> None:
    email = tenant.owner_email if email_ok else "nobody@nowhere.cn"
    status, body = api.call("POST", "/v1/admin/login", {"email": email, "password": "wrong-password"})
    assert (status, body["error"]["code"]) == (401, "INVALID_CREDENTIALS")


def test_garbage_token_is_invalid_token(api: Api) -> None:
    status, body = api.call("GET", "/v1/admin/campaigns", token="not.a.jwt")
    assert (status, body["error"]["code"]) == (401, "INVALID_TOKEN")


def test_token_expires(api: Api, tenant: Tenant, clock: Clock) -> None:
    clock.advance(hours=9)
    status, body = api.call("GET", "/v1/admin/campaigns", token=tenant.owner_token)
    assert (status, body["error"]["code"]) == (401, "TOKEN_EXPIRED")


def test_viewer_cannot_create_campaigns(api: Api, tenant: Tenant) -> None:
    viewer = tenant.operator("viewer")
    status, body = api.call("POST", "/v1/admin/campaigns", campaign_body(), token=viewer)
    assert (status, body["error"]["code"]) == (403, "FORBIDDEN")
    assert body["error"]["details"] == {"permission": "campaign:write", "role": "viewer"}
    status, _ = api.call("GET", "/v1/admin/campaigns", token=viewer)
    assert status == 200


def test_finance_cannot_edit_rules(api: Api, tenant: Tenant) -> None:
    _, created = api.call("POST", "/v1/admin/campaigns", campaign_body(), token=tenant.owner_token)
    finance = tenant.operator("finance")
    status, body = api.call(
        "PATCH", f"/v1/admin/campaigns/{created['campaign_id']}", {"rules": {"per_participant_cap": 5}}, token=finance
    )
    assert (status, body["error"]["code"]) == (403, "FORBIDDEN")
    status, _ = api.call("GET", f"/v1/admin/campaigns/{created['campaign_id']}", token=finance)
    assert status == 200


def test_analyst_cannot_publish_and_operator_can(api: Api, tenant: Tenant) -> None:
    _, created = api.call("POST", "/v1/admin/campaigns", campaign_body(), token=tenant.owner_token)
    path = f"/v1/admin/campaigns/{created['campaign_id']}/publish"
    assert api.call("POST", path, token=tenant.operator("analyst"))[0] == 403
    assert api.call("POST", path, token=tenant.operator("operator"))[0] == 200


def test_only_owners_manage_operators(api: Api, tenant: Tenant) -> None:
    operator = tenant.operator("operator")
    status, body = api.call(
        "POST", "/v1/admin/operators", {"email": "x@y.cn", "password": "password-1", "role": "owner"}, token=operator
    )
    assert (status, body["error"]["code"]) == (403, "FORBIDDEN")


def test_token_of_tenant_a_gets_404_for_everything_of_tenant_b(api: Api, new_tenant: Callable[[], Tenant]) -> None:
    a, b = new_tenant(), new_tenant()
    _, theirs = api.call("POST", "/v1/admin/campaigns", campaign_body(), token=b.owner_token)
    cid = theirs["campaign_id"]
    for method, path, body in [
        ("GET", f"/v1/admin/campaigns/{cid}", None),
        ("PATCH", f"/v1/admin/campaigns/{cid}", {"title": "mine now"}),
        ("POST", f"/v1/admin/campaigns/{cid}/publish", None),
        ("POST", f"/v1/admin/campaigns/{cid}/pause", None),
        ("POST", f"/v1/admin/campaigns/{cid}/end", None),
        ("DELETE", f"/v1/admin/campaigns/{cid}", None),
        ("PATCH", f"/v1/admin/operators/{b.owner_email}", {"role": "viewer"}),
        ("DELETE", f"/v1/admin/operators/{b.owner_email}", None),
    ]:
        status, error = api.call(method, path, body, token=a.owner_token)
        assert status == 404, (method, path, error)
    _, listing = api.call("GET", "/v1/admin/campaigns", token=a.owner_token)
    assert listing["items"] == []
    _, still = api.call("GET", f"/v1/admin/campaigns/{cid}", token=b.owner_token)
    assert still["title"] == "invite campaign" and still["status"] == "draft"


def test_role_change_takes_effect_at_once_and_revokes_old_tokens(api: Api, tenant: Tenant) -> None:
    email = "ops@role-change.cn"
    api.call(
        "POST",
        "/v1/admin/operators",
        {"email": email, "password": "password-1", "role": "operator"},
        token=tenant.owner_token,
    )
    token = api.login(email, "password-1")
    stepped = tenant.totp_token()  # a role change needs a TOTP step-up
    status, body = api.call("PATCH", f"/v1/admin/operators/{email}", {"role": "viewer"}, token=stepped)
    assert status == 200 and body["role"] == "viewer"
    status, body = api.call("GET", "/v1/admin/campaigns", token=token)
    assert (status, body["error"]["code"]) == (401, "TOKEN_REVOKED")
    viewer_token = api.login(email, "password-1")
    assert api.call("POST", "/v1/admin/campaigns", campaign_body(), token=viewer_token)[0] == 403


def test_removed_operator_cannot_use_their_token(api: Api, tenant: Tenant) -> None:
    email = "gone@removed.cn"
    api.call(
        "POST",
        "/v1/admin/operators",
        {"email": email, "password": "password-1", "role": "analyst"},
        token=tenant.owner_token,
    )
    token = api.login(email, "password-1")
    assert api.call("DELETE", f"/v1/admin/operators/{email}", token=tenant.owner_token)[0] == 204
    assert api.call("GET", "/v1/admin/campaigns", token=token)[0] == 401
    status, body = api.call("POST", "/v1/admin/login", {"email": email, "password": "password-1"})
    assert (status, body["error"]["code"]) == (401, "INVALID_CREDENTIALS")


def test_disabled_operator_cannot_log_in(api: Api, tenant: Tenant) -> None:
    email = "off@disabled.cn"
    api.call(
        "POST",
        "/v1/admin/operators",
        {"email": email, "password": "password-1", "role": "viewer"},
        token=tenant.owner_token,
    )
    api.call("PATCH", f"/v1/admin/operators/{email}", {"disabled": True}, token=tenant.owner_token)
    status, body = api.call("POST", "/v1/admin/login", {"email": email, "password": "password-1"})
    assert (status, body["error"]["code"]) == (401, "OPERATOR_DISABLED")


def test_owner_cannot_demote_or_remove_themselves(api: Api, tenant: Tenant) -> None:
    me = f"/v1/admin/operators/{tenant.owner_email}"
    status, body = api.call("PATCH", me, {"role": "viewer"}, token=tenant.owner_token)
    assert (status, body["error"]["code"]) == (403, "SELF_MODIFICATION")
    status, body = api.call("DELETE", me, token=tenant.owner_token)
    assert (status, body["error"]["code"]) == (403, "SELF_MODIFICATION")


def test_an_email_belongs_to_one_operator_across_tenants(api: Api, new_tenant: Callable[[], Tenant]) -> None:
    a, b = new_tenant(), new_tenant()
    status, body = api.call(
        "POST",
        "/v1/admin/operators",
        {"email": a.owner_email, "password": "password-1", "role": "viewer"},
        token=b.owner_token,
    )
    assert (status, body["error"]["code"]) == (409, "OPERATOR_EXISTS")


def test_operator_pii_is_masked_in_responses_and_encrypted_at_rest(api: Api, tenant: Tenant, table: str) -> None:
    email = "pii@masked.cn"
    status, body = api.call(
        "POST",
        "/v1/admin/operators",
        {"email": email, "password": "password-1", "role": "finance", "name": "张三丰", "phone": "+86 138-1234-5678"},
        token=tenant.owner_token,
    )
    assert status == 201
    assert body["phone"] == "138****5678" and body["name"] == "张**"
    _, listing = api.call("GET", "/v1/admin/operators", token=tenant.owner_token)
    listed = next(op for op in listing["items"] if op["email"] == email)
    assert listed["phone"] == "138****5678"

    from chalicelib.core.config import get_settings

    raw = boto3.client(
        "dynamodb",
        endpoint_url=get_settings().dynamodb_endpoint,
        region_name="us-east-1",
        aws_access_key_id="local",
        aws_secret_access_key="local",
    ).get_item(TableName=table, Key={"PK": {"S": f"T#{tenant.tid}"}, "SK": {"S": f"OP#{email}"}})["Item"]
    stored = str(raw)
    assert "13812345678" not in stored and "张三丰" not in stored
    assert raw["phone_enc"]["S"].startswith("v1.") and len(raw["phone_hash"]["S"]) == 40


def test_operator_create_with_the_same_idempotency_key_answers_the_same(api: Api, tenant: Tenant) -> None:
    body = {"email": "retry@idem.cn", "password": "password-1", "role": "analyst"}
    headers = {"Idempotency-Key": "operator-retry-0001"}
    first = api.call("POST", "/v1/admin/operators", body, token=tenant.owner_token, headers=headers)
    again = api.call("POST", "/v1/admin/operators", body, token=tenant.owner_token, headers=headers)
    assert first == again and first[0] == 201
    without_key = api.call("POST", "/v1/admin/operators", body, token=tenant.owner_token)
    assert (without_key[0], without_key[1]["error"]["code"]) == (409, "OPERATOR_EXISTS")
