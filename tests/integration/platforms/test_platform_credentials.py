"""Connecting WeCom, the official account and the mini program: owner only, fresh step-up, never shown in clear."""

from __future__ import annotations

import json
from typing import Any

import pytest

from chalicelib.table import keys
from chalicelib.table.models import PlatformCredentialsItem
from tests.conftest import Api, Tenant
from tests.integration.platforms.conftest import AES_KEY, APP_ID, CORP_ID, SECRET, WECHAT, WECOM, connect

PATH = "/v1/admin/platforms"


def _audit(api: Api, tenant: Tenant) -> list[dict[str, Any]]:
    return list(api.call("GET", "/v1/admin/audit?limit=100", token=tenant.owner_token)[1]["items"])


def test_an_owner_connects_wecom_and_sees_no_secret_back(api: Api, tenant: Tenant) -> None:
    view = connect(api, tenant, "wecom", WECOM)
    status, read = api.call("GET", f"{PATH}/wecom", token=tenant.owner_token)
    assert status == 200 and read == view
    assert view["connected"] is True and view["corp_id"] == CORP_ID and view["agent_id"] is None
    assert view["callback_url"] == f"http://localhost:8000/v1/wecom/{tenant.tid}/callback"
    assert view["secrets"]["contact_secret"]["last4"] == SECRET[-4:]
    assert view["secrets"]["encoding_aes_key"]["set"] is True
    text = json.dumps(view) + json.dumps(_audit(api, tenant))
    for secret in (SECRET, AES_KEY, WECOM["callback_token"]):
        assert secret not in text
    # At rest the document is ciphertext.
    item = PlatformCredentialsItem.get(keys.tenant_pk(tenant.tid), keys.platform_credentials_sk("wecom"))
    assert SECRET not in item.document_enc and CORP_ID not in item.document_enc
    entry = next(e for e in _audit(api, tenant) if e["action"] == "platform.connect")
    assert entry["details"]["values"]["corp_id"] == CORP_ID
    assert entry["details"]["values"]["contact_secret"] == view["secrets"]["contact_secret"]["fingerprint"]


def test_a_partial_update_keeps_the_secrets_it_does_not_name(api: Api, tenant: Tenant) -> None:
    first = connect(api, tenant, "wechat", WECHAT)
    second = connect(api, tenant, "wechat", {"callback_token": "newToken42"})
    assert second["app_id"] == APP_ID and second["message_mode"] == "safe"
    assert second["secrets"]["app_secret"] == first["secrets"]["app_secret"]
    assert second["secrets"]["callback_token"] != first["secrets"]["callback_token"]
    entry = next(e for e in _audit(api, tenant) if e["action"] == "platform.update")
    assert entry["details"]["changed"] == ["callback_token"]


@pytest.mark.parametrize(
    ("platform", "body", "field"),
    [
        ("wecom", {**WECOM, "encoding_aes_key": AES_KEY[:-1]}, "encoding_aes_key"),
        ("wecom", {k: v for k, v in WECOM.items() if k != "contact_secret"}, "contact_secret"),
        ("wechat", {**WECHAT, "app_id": "not-an-app-id"}, "app_id"),
        ("wechat", {k: v for k, v in WECHAT.items() if k != "encoding_aes_key"}, ""),  # safe mode needs it
        ("miniprogram", {"app_id": APP_ID}, "app_secret"),
    ],
)
def test_malformed_or_incomplete_credentials_are_refused(
    api: Api, tenant: Tenant, platform: str, body: dict[str, Any], field: str
) -> None:
    status, answer = api.call("PUT", f"{PATH}/{platform}", body, tenant.stepped_token())
    assert status == 422, answer
    assert field in [e["field"] for e in answer["error"]["details"]["errors"]]
    assert api.call("GET", f"{PATH}/{platform}", token=tenant.owner_token)[1]["connected"] is False


def test_unknown_fields_are_refused(api: Api, tenant: Tenant) -> None:
    status, answer = api.call("PUT", f"{PATH}/miniprogram", {"app_id": APP_ID, "extra": 1}, tenant.stepped_token())
    assert (status, answer["error"]["code"]) == (422, "UNKNOWN_FIELD")


def test_plain_mode_needs_no_aes_key(api: Api, tenant: Tenant) -> None:
    body = {k: v for k, v in WECHAT.items() if k != "encoding_aes_key"} | {"message_mode": "plain"}
    view = connect(api, tenant, "wechat", body)
    assert view["secrets"]["encoding_aes_key"]["set"] is False


def test_setting_credentials_needs_a_fresh_step_up(api: Api, tenant: Tenant) -> None:
    token = tenant.owner_token
    tenant.enrol_totp(token, tenant.owner_email)
    status, answer = api.call("PUT", f"{PATH}/wecom", WECOM, token)
    assert (status, answer["error"]["code"]) == (403, "STEP_UP_REQUIRED")
    status, _ = api.call("PUT", f"{PATH}/wecom", WECOM, token, headers={"X-Fission-TOTP": tenant.totp_code()})
    assert status == 200


@pytest.mark.parametrize("role", ["operator", "analyst", "finance", "viewer"])
def test_only_owners_see_or_set_platform_credentials(api: Api, tenant: Tenant, role: str) -> None:
    token = tenant.operator(role)
    assert api.call("GET", f"{PATH}/wecom", token=token)[0] == 403
    assert api.call("PUT", f"{PATH}/wecom", WECOM, token)[0] == 403


def test_disconnecting_forgets_the_credentials(api: Api, tenant: Tenant) -> None:
    connect(api, tenant, "miniprogram", {"app_id": APP_ID, "app_secret": WECHAT["app_secret"]})
    assert api.call("DELETE", f"{PATH}/miniprogram", token=tenant.stepped_token())[0] == 204
    view = api.call("GET", f"{PATH}/miniprogram", token=tenant.owner_token)[1]
    assert view["connected"] is False and view["app_id"] is None and view["callback_url"] is None
    assert "platform.disconnect" in [e["action"] for e in _audit(api, tenant)]


def test_the_local_demo_seed_connects_without_a_step_up_once_audited_as_the_system(api: Api, tenant: Tenant) -> None:
    from chalicelib.core.clock import utcnow
    from local.demo import seed_platforms
    from local.wechat.demo import DEMO_CORP

    # GIVEN a tenant with no platform connected; WHEN `make run` seeds it twice
    first = seed_platforms(tenant.tid, utcnow())
    second = seed_platforms(tenant.tid, utcnow())

    # THEN the three platforms are connected the first time only, as the system, and read like an owner's
    assert first == ["wecom", "wechat", "miniprogram"] and second == []
    status, view = api.call("GET", f"{PATH}/wecom", token=tenant.owner_token)
    assert status == 200 and view["connected"] and view["corp_id"] == DEMO_CORP["corp_id"]
    connects = [e for e in _audit(api, tenant) if e["action"] == "platform.connect"]
    assert len(connects) == 3 and {e["actor"] for e in connects} == {"system"}
