"""The follows webhook: signed by the tenant's secret, fresh, and qualifying invites exactly once."""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

import pytest

from chalicelib.security.signing import sign
from local.pump import StreamPump
from tests.conftest import Api, Tenant, join, live_campaign


def secret(api: Api, tenant: Tenant) -> bytes:
    status, body = api.call("GET", "/v1/admin/webhook-secret", token=tenant.stepped_token())
    assert status == 200, body
    return bytes.fromhex(body["secret"])


def post_follow(
    api: Api, tenant: Tenant, key: bytes, payload: dict[str, Any], *, stamp: int | None = None
) -> tuple[int, Any]:
    raw = json.dumps(payload).encode()
    stamp = int(time.time()) if stamp is None else stamp
    headers = {"X-Fission-Timestamp": str(stamp), "X-Fission-Signature": sign(key, stamp, raw)}
    return api.call("POST", f"/v1/hooks/{tenant.tid}/follows", raw, headers=headers)


def follow(cid: str, external_id: str, action: str = "follow") -> dict[str, Any]:
    return {"event_id": uuid.uuid4().hex, "campaign_id": cid, "external_id": external_id, "action": action}


def counted(api: Api, cid: str, participant: dict[str, Any]) -> int:
    me = api.call("GET", f"/v1/campaigns/{cid}/me", token=participant["token"])[1]
    return int(me["progress"]["counted_invites"])


def test_a_follow_makes_the_invite_count_once(api: Api, tenant: Tenant, pump: StreamPump) -> None:
    cid = live_campaign(api, tenant, "poster")  # poster rules qualify on `follow`
    owner = join(api, cid, external_id="owner")[1]
    join(api, cid, external_id="fan", ref=owner["invite_code"])
    pump.drain()
    assert counted(api, cid, owner) == 0
    key = secret(api, tenant)
    status, body = post_follow(api, tenant, key, follow(cid, "fan"))
    assert (status, body["result"]) == (200, "qualified")
    status, body = post_follow(api, tenant, key, follow(cid, "fan"))  # a repeated delivery
    assert (status, body["result"]) == (200, "already_qualified")
    assert post_follow(api, tenant, key, follow(cid, "fan", "unfollow"))[1]["result"] == "ignored"
    pump.drain()
    assert counted(api, cid, owner) == 1


@pytest.mark.parametrize(
    ("tamper", "code"),
    [("signature", "INVALID_SIGNATURE"), ("stale", "STALE_TIMESTAMP"), ("unsigned", "SIGNATURE_REQUIRED")],
)
def test_unsigned_forged_or_stale_deliveries_are_refused(api: Api, tenant: Tenant, tamper: str, code: str) -> None:
    cid = live_campaign(api, tenant, "poster")
    join(api, cid, external_id="fan")
    key = secret(api, tenant)
    raw = json.dumps(follow(cid, "fan")).encode()
    stamp = int(time.time()) - (600 if tamper == "stale" else 0)
    headers = {"X-Fission-Timestamp": str(stamp), "X-Fission-Signature": sign(key, stamp, raw)}
    if tamper == "signature":
        headers["X-Fission-Signature"] = sign(b"not the secret", stamp, raw)
    if tamper == "unsigned":
        headers = {}
    status, body = api.call("POST", f"/v1/hooks/{tenant.tid}/follows", raw, headers=headers)
    assert (status, body["error"]["code"]) == (401, code)


def test_rotating_the_secret_retires_the_old_one(api: Api, tenant: Tenant) -> None:
    cid = live_campaign(api, tenant, "poster")
    join(api, cid, external_id="fan")
    old = secret(api, tenant)
    status, rotated = api.call("POST", "/v1/admin/webhook-secret/rotate", token=tenant.stepped_token())
    assert status == 200 and rotated["version"] == 2
    assert post_follow(api, tenant, old, follow(cid, "fan"))[1]["error"]["code"] == "INVALID_SIGNATURE"
    # The old secret's text earns no hint either: only the current secret's does.
    refused = post_follow(api, tenant, old.hex().encode(), follow(cid, "fan"))[1]["error"]
    assert refused == {**refused, "code": "INVALID_SIGNATURE", "message": "the signature does not match the body"}
    assert post_follow(api, tenant, bytes.fromhex(rotated["secret"]), follow(cid, "fan"))[0] == 200


def test_only_owners_see_the_secret(api: Api, tenant: Tenant) -> None:
    status, body = api.call("GET", "/v1/admin/webhook-secret", token=tenant.operator("operator"))
    assert (status, body["error"]["code"]) == (403, "FORBIDDEN")


def test_follow_bad_inputs(api: Api, new_tenant: Any) -> None:
    tenant, other = new_tenant(), new_tenant()
    cid = live_campaign(api, tenant, "poster")
    key = secret(api, tenant)
    status, body = post_follow(api, tenant, key, follow(cid, "never-joined"))
    assert (status, body["error"]["code"]) == (404, "PARTICIPANT_NOT_FOUND")
    status, body = post_follow(api, tenant, key, {"campaign_id": cid})
    assert (status, body["error"]["code"]) == (422, "VALIDATION_ERROR")
    # Another tenant's campaign is not found through this tenant's hook.
    other_cid = live_campaign(api, other, "poster")
    status, body = post_follow(api, tenant, key, follow(other_cid, "fan"))
    assert (status, body["error"]["code"]) == (404, "CAMPAIGN_NOT_FOUND")
    # An unknown tenant looks like a bad signature.
    raw = json.dumps(follow(cid, "fan")).encode()
    stamp = int(time.time())
    headers = {"X-Fission-Timestamp": str(stamp), "X-Fission-Signature": sign(key, stamp, raw)}
    status, body = api.call("POST", "/v1/hooks/no-such-tenant/follows", raw, headers=headers)
    assert (status, body["error"]["code"]) == (401, "INVALID_SIGNATURE")


@pytest.mark.parametrize("hook", ["follows", "orders"])
def test_a_signature_keyed_with_the_secrets_hex_text_is_refused_with_a_hint(
    api: Api, tenant: Tenant, pump: StreamPump, hook: str
) -> None:
    cid = live_campaign(api, tenant, "poster")
    owner = join(api, cid, external_id="owner")[1]
    join(api, cid, external_id="fan", ref=owner["invite_code"])
    key = secret(api, tenant)
    raw = json.dumps(follow(cid, "fan")).encode()
    stamp = int(time.time())
    text_keyed = {"X-Fission-Timestamp": str(stamp), "X-Fission-Signature": sign(key.hex().encode(), stamp, raw)}
    status, body = api.call("POST", f"/v1/hooks/{tenant.tid}/{hook}", raw, headers=text_keyed)
    assert (status, body["error"]["code"]) == (401, "INVALID_SIGNATURE")
    assert "keyed with the secret's text" in body["error"]["message"]
    assert "key the HMAC with the bytes the hex secret decodes to" in body["error"]["message"]
    assert key.hex() not in json.dumps(body)

    # Stale, or keyed with some other text: the plain answers, no hint.
    stale = {"X-Fission-Timestamp": str(stamp - 600), "X-Fission-Signature": sign(key.hex().encode(), stamp - 600, raw)}
    status, body = api.call("POST", f"/v1/hooks/{tenant.tid}/{hook}", raw, headers=stale)
    assert (status, body["error"]["code"]) == (401, "STALE_TIMESTAMP")
    other = {"X-Fission-Timestamp": str(stamp), "X-Fission-Signature": sign(b"f" * 64, stamp, raw)}
    status, body = api.call("POST", f"/v1/hooks/{tenant.tid}/{hook}", raw, headers=other)
    assert (status, body["error"]["code"]) == (401, "INVALID_SIGNATURE")
    assert body["error"]["message"] == "the signature does not match the body"

    # Nothing happened: the invite is not counted.
    pump.drain()
    assert counted(api, cid, owner) == 0
