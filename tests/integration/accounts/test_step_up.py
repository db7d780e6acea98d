"""Owner acts that need a fresh TOTP step-up: making owners, changing roles, the secrets and keys."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from tests.conftest import Api, Clock, Tenant

OPERATORS = "/v1/admin/operators"


def error(answer: tuple[int, Any]) -> tuple[int, str]:
    return answer[0], answer[1]["error"]["code"]


def password_only_owner(tenant: Tenant) -> str:
    """The owner's token from a password alone, the owner enrolled in TOTP meanwhile: what a stolen old token is."""
    token = tenant.owner_token
    tenant.enrol_totp(token, tenant.owner_email)
    return token


def new_email(tenant: Tenant, who: str) -> str:
    return f"{who}-{uuid.uuid4().hex[:6]}@{tenant.tid}.example.cn"


def actions(api: Api, tenant: Tenant) -> list[str]:
    return [e["action"] for e in api.call("GET", "/v1/admin/audit?limit=100", token=tenant.owner_token)[1]["items"]]


def test_a_password_only_owner_token_cannot_create_an_owner(api: Api, tenant: Tenant) -> None:
    token = password_only_owner(tenant)
    email = new_email(tenant, "second-owner")
    body = {"email": email, "password": "owner-pass-456", "role": "owner"}

    refused = api.call("POST", OPERATORS, body, token)
    assert error(refused) == (403, "STEP_UP_REQUIRED") and refused[1]["error"]["details"]["reason"] == "stale"
    # The refused owner does not exist: no login with the password it was to have.
    assert api.call("POST", "/v1/admin/login", {"email": email, "password": "owner-pass-456"})[0] == 401
    # An idempotency key does not stand in for the step-up either.
    keyed = api.call("POST", OPERATORS, body, token, headers={"Idempotency-Key": "owner-create-0001"})
    assert error(keyed) == (403, "STEP_UP_REQUIRED")

    status, made = api.call("POST", OPERATORS, body, token, headers={"X-Fission-TOTP": tenant.totp_code()})
    assert status == 201 and made["role"] == "owner"
    assert "operator.create" in actions(api, tenant)


def test_an_owner_without_an_authenticator_cannot_create_an_owner(api: Api, tenant: Tenant) -> None:
    body = {"email": new_email(tenant, "owner"), "password": "owner-pass-456", "role": "owner"}
    refused = api.call("POST", OPERATORS, body, tenant.owner_token)
    assert error(refused) == (403, "STEP_UP_REQUIRED") and refused[1]["error"]["details"]["reason"] == "not_enrolled"


def test_creating_an_operator_who_is_not_an_owner_needs_no_step_up(api: Api, tenant: Tenant) -> None:
    token = password_only_owner(tenant)
    for role in ("operator", "analyst", "finance", "viewer"):
        body = {"email": new_email(tenant, role), "password": "operator-pass-1", "role": role}
        assert api.call("POST", OPERATORS, body, token)[0] == 201


@pytest.mark.parametrize("to", ["owner", "analyst"])
def test_a_role_change_needs_a_fresh_step_up(api: Api, tenant: Tenant, to: str) -> None:
    token = password_only_owner(tenant)
    email = new_email(tenant, "viewer")
    assert (
        api.call("POST", OPERATORS, {"email": email, "password": "operator-pass-1", "role": "viewer"}, token)[0] == 201
    )
    path = f"{OPERATORS}/{email}"

    assert error(api.call("PATCH", path, {"role": to}, token)) == (403, "STEP_UP_REQUIRED")
    assert error(api.call("PATCH", path, {"role": to, "name": "Li Lei"}, token)) == (403, "STEP_UP_REQUIRED")
    listed = {op["email"]: op for op in api.call("GET", OPERATORS, token=token)[1]["items"]}
    assert listed[email]["role"] == "viewer" and listed[email]["name"] is None  # nothing of a refused patch stays

    # Other fields, and the role it already has, need none.
    assert api.call("PATCH", path, {"name": "Li Lei"}, token)[0] == 200
    assert api.call("PATCH", path, {"role": "viewer"}, token)[0] == 200
    status, changed = api.call("PATCH", path, {"role": to}, token, headers={"X-Fission-TOTP": tenant.totp_code()})
    assert status == 200 and changed["role"] == to


def test_a_stale_totp_login_no_longer_changes_roles(api: Api, tenant: Tenant, clock: Clock) -> None:
    stepped = tenant.totp_token()
    email = new_email(tenant, "viewer")
    assert (
        api.call("POST", OPERATORS, {"email": email, "password": "operator-pass-1", "role": "viewer"}, stepped)[0]
        == 201
    )
    clock.advance(minutes=16)
    assert error(api.call("PATCH", f"{OPERATORS}/{email}", {"role": "owner"}, stepped)) == (403, "STEP_UP_REQUIRED")


def test_the_webhook_secret_is_read_and_rotated_only_after_a_step_up_and_reads_are_audited(
    api: Api, tenant: Tenant
) -> None:
    token = password_only_owner(tenant)
    assert error(api.call("GET", "/v1/admin/webhook-secret", token=token)) == (403, "STEP_UP_REQUIRED")
    assert error(api.call("POST", "/v1/admin/webhook-secret/rotate", token=token)) == (403, "STEP_UP_REQUIRED")
    assert "webhook_secret.read" not in actions(api, tenant) and "webhook_secret.rotate" not in actions(api, tenant)

    header = {"X-Fission-TOTP": tenant.totp_code()}
    status, shown = api.call("GET", "/v1/admin/webhook-secret", token=token, headers=header)
    assert status == 200 and shown["version"] == 1 and len(shown["secret"]) == 64
    header = {"X-Fission-TOTP": tenant.totp_code(steps_ahead=1)}
    status, rotated = api.call("POST", "/v1/admin/webhook-secret/rotate", token=token, headers=header)
    assert status == 200 and rotated["version"] == 2 and rotated["secret"] != shown["secret"]

    status, trail = api.call("GET", "/v1/admin/audit?limit=100", token=token)
    read = next(e for e in trail["items"] if e["action"] == "webhook_secret.read")
    assert read["actor"] == tenant.owner_email and read["details"] == {"version": 1}
    assert shown["secret"] not in str(trail)  # the trail names the version, never the secret


def test_identity_and_api_keys_are_made_and_ended_only_after_a_step_up(api: Api, tenant: Tenant) -> None:
    token = password_only_owner(tenant)
    api_key = {"name": "shop back end", "scopes": ["orders:write"]}  # a scope that skipped the step-up before
    assert error(api.call("POST", "/v1/admin/identity-keys", token=token)) == (403, "STEP_UP_REQUIRED")
    assert error(api.call("POST", "/v1/admin/api-keys", api_key, token)) == (403, "STEP_UP_REQUIRED")
    assert api.call("GET", "/v1/admin/identity-keys", token=token)[1]["items"] == []
    assert api.call("GET", "/v1/admin/api-keys", token=token)[1]["items"] == []

    stepped = tenant.totp_token()
    status, identity = api.call("POST", "/v1/admin/identity-keys", token=stepped)
    assert status == 201 and identity["secret"]
    status, key = api.call("POST", "/v1/admin/api-keys", api_key, stepped)
    assert status == 201 and key["key"].startswith("fsk_")

    retire = f"/v1/admin/identity-keys/{identity['key_id']}/retire"
    revoke = f"/v1/admin/api-keys/{key['key_id']}/revoke"
    assert error(api.call("POST", retire, token=token)) == (403, "STEP_UP_REQUIRED")
    assert error(api.call("POST", revoke, token=token)) == (403, "STEP_UP_REQUIRED")
    header = {"X-Fission-TOTP": tenant.totp_code(steps_ahead=1)}
    assert api.call("POST", retire, token=token, headers=header)[1]["status"] == "retired"
    assert api.call("POST", revoke, token=stepped)[1]["status"] == "revoked"


def test_removing_an_enrolled_operator_or_an_owner_needs_a_fresh_step_up(api: Api, tenant: Tenant) -> None:
    """Removing and re-making an operator resets their authenticator: without a step-up a password-only owner
    token would take over an enrolled finance login (or drop the other owners)."""
    token = password_only_owner(tenant)
    finance = new_email(tenant, "finance")
    made = {"email": finance, "password": "operator-pass-1", "role": "finance"}
    assert api.call("POST", OPERATORS, made, token)[0] == 201
    tenant.enrol_totp(api.login(finance, "operator-pass-1"), finance)
    stepped = tenant.stepped_token()  # the owner's TOTP login: it spends the current code
    owner = new_email(tenant, "owner")
    assert api.call("POST", OPERATORS, {**made, "email": owner, "role": "owner"}, stepped)[0] == 201

    for email in (finance, owner):
        refused = api.call("DELETE", f"{OPERATORS}/{email}", token=token)
        assert error(refused) == (403, "STEP_UP_REQUIRED") and refused[1]["error"]["details"]["reason"] == "stale"
    listed = {op["email"] for op in api.call("GET", OPERATORS, token=token)[1]["items"]}
    assert {finance, owner} <= listed and "operator.delete" not in actions(api, tenant)

    # An operator without an authenticator has nothing to reset: removing them needs none.
    viewer = new_email(tenant, "viewer")
    assert api.call("POST", OPERATORS, {**made, "email": viewer, "role": "viewer"}, token)[0] == 201
    assert api.call("DELETE", f"{OPERATORS}/{viewer}", token=token)[0] == 204
    header = {"X-Fission-TOTP": tenant.totp_code(steps_ahead=1)}
    assert api.call("DELETE", f"{OPERATORS}/{finance}", token=token, headers=header)[0] == 204
    assert api.call("DELETE", f"{OPERATORS}/{owner}", token=stepped)[0] == 204


def test_disabling_another_owner_needs_a_fresh_step_up(api: Api, tenant: Tenant) -> None:
    """A disabled owner cannot log in: without a step-up a password-only owner token would lock the other owners
    out, as removing them would."""
    token = password_only_owner(tenant)
    stepped = tenant.stepped_token()
    owner = new_email(tenant, "owner")
    made = {"email": owner, "password": "owner-pass-456", "role": "owner"}
    assert api.call("POST", OPERATORS, made, stepped)[0] == 201
    operator = new_email(tenant, "operator")
    assert api.call("POST", OPERATORS, {**made, "email": operator, "role": "operator"}, token)[0] == 201

    refused = api.call("PATCH", f"{OPERATORS}/{owner}", {"disabled": True}, token)
    assert error(refused) == (403, "STEP_UP_REQUIRED") and refused[1]["error"]["details"]["reason"] == "stale"
    assert api.call("POST", "/v1/admin/login", {"email": owner, "password": "owner-pass-456"})[0] == 200
    assert "operator.update" not in actions(api, tenant)

    # Disabling an operator who is not an owner, and re-enabling anyone, needs none.
    assert api.call("PATCH", f"{OPERATORS}/{operator}", {"disabled": True}, token)[0] == 200
    header = {"X-Fission-TOTP": tenant.totp_code(steps_ahead=1)}
    status, body = api.call("PATCH", f"{OPERATORS}/{owner}", {"disabled": True}, token, headers=header)
    assert status == 200 and body["disabled"] is True
    assert api.call("PATCH", f"{OPERATORS}/{owner}", {"disabled": False}, token)[0] == 200


def test_setting_another_owners_password_needs_a_fresh_step_up(api: Api, tenant: Tenant) -> None:
    """A new password for another owner is their account: without a step-up a password-only owner token would
    take it over."""
    token = password_only_owner(tenant)
    owner = new_email(tenant, "owner")
    made = {"email": owner, "password": "owner-pass-456", "role": "owner"}
    assert api.call("POST", OPERATORS, made, tenant.stepped_token())[0] == 201
    refused = api.call("PATCH", f"{OPERATORS}/{owner}", {"password": "taken-over-789"}, token)
    assert error(refused) == (403, "STEP_UP_REQUIRED")
    assert api.call("POST", "/v1/admin/login", {"email": owner, "password": "owner-pass-456"})[0] == 200
    header = {"X-Fission-TOTP": tenant.totp_code(steps_ahead=1)}
    assert api.call("PATCH", f"{OPERATORS}/{owner}", {"password": "changed-pass-789"}, token, headers=header)[0] == 200
    assert api.call("POST", "/v1/admin/login", {"email": owner, "password": "changed-pass-789"})[0] == 200
