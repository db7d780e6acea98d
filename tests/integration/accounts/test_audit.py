"""The audit chain: admin mutations and logins append linked entries; verification finds tampering."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any

from tests.conftest import OWNER_PASSWORD, Api, Tenant, campaign_body


def entries(api: Api, tenant: Tenant, limit: int = 100) -> list[dict[str, Any]]:
    """The whole trail, oldest first."""
    found: list[dict[str, Any]] = []
    cursor: str | None = None
    while True:
        path = f"/v1/admin/audit?limit={limit}" + (f"&cursor={cursor}" if cursor else "")
        status, body = api.call("GET", path, token=tenant.owner_token)
        assert status == 200, body
        found.extend(body["items"])
        cursor = body["next_cursor"]
        if cursor is None:
            return list(reversed(found))


def verify(api: Api, tenant: Tenant) -> dict[str, Any]:
    status, body = api.call("GET", "/v1/admin/audit/verify", token=tenant.owner_token)
    assert status == 200, body
    return dict(body)


def raw_key(tid: str, seq: int) -> dict[str, Any]:
    from chalicelib.table import keys

    return {"PK": {"S": keys.audit_pk(tid)}, "SK": {"S": keys.audit_entry_sk(seq)}}


def table() -> tuple[Any, str]:
    from chalicelib.core.config import get_settings
    from chalicelib.table import db

    return db.dynamodb_client(), get_settings().table_name


def test_mutations_append_linked_entries_in_order(api: Api, tenant: Tenant) -> None:
    status, created = api.call("POST", "/v1/admin/campaigns", campaign_body(), token=tenant.owner_token)
    assert status == 201, created
    cid = created["campaign_id"]
    assert api.call("PATCH", f"/v1/admin/campaigns/{cid}", {"title": "Renamed"}, token=tenant.owner_token)[0] == 200
    assert api.call("POST", f"/v1/admin/campaigns/{cid}/publish", token=tenant.owner_token)[0] == 200
    assert api.call("POST", f"/v1/admin/campaigns/{cid}/pause", token=tenant.owner_token)[0] == 200
    assert api.call("POST", f"/v1/admin/campaigns/{cid}/end", token=tenant.owner_token)[0] == 200
    email = f"ops@{tenant.tid}.example.cn"
    body = {"email": email, "password": "operator-pass-1", "role": "operator", "phone": "13812345678"}
    assert api.call("POST", "/v1/admin/operators", body, token=tenant.owner_token)[0] == 201
    patch = {"role": "viewer", "password": "another-pass-2"}
    assert api.call("PATCH", f"/v1/admin/operators/{email}", patch, token=tenant.owner_token)[0] == 200
    assert api.call("DELETE", f"/v1/admin/operators/{email}", token=tenant.owner_token)[0] == 204

    trail = entries(api, tenant, limit=3)  # small pages: the cursor is followed
    actions = [e["action"] for e in trail]
    assert actions == [
        "login.success",  # the fixture's owner login
        "campaign.create",
        "campaign.update",
        "campaign.publish",
        "campaign.pause",
        "campaign.end",
        "operator.create",
        "operator.update",
        "operator.delete",
    ]
    assert [e["seq"] for e in trail] == list(range(1, len(trail) + 1))
    assert trail[0]["prev_hash"] == "0" * 64
    assert all(later["prev_hash"] == earlier["hash"] for earlier, later in zip(trail, trail[1:], strict=False))
    assert {e["actor"] for e in trail} == {tenant.owner_email}
    assert trail[1]["target"] == cid and trail[2]["details"]["fields"] == ["title"]
    assert trail[7]["target"] == email and trail[7]["details"]["fields"] == ["password", "role"]
    # Neither the password nor the phone reach the trail.
    text = json.dumps(trail)
    assert "another-pass-2" not in text and "operator-pass-1" not in text and "13812345678" not in text
    assert verify(api, tenant) == {"ok": True, "entries": 9, "head_seq": 9, "first_broken": None}


def test_refused_mutations_write_nothing(api: Api, tenant: Tenant) -> None:
    before = verify(api, tenant)["entries"]
    assert api.call("POST", "/v1/admin/campaigns", {"title": "no mode"}, token=tenant.owner_token)[0] == 422
    assert api.call("POST", "/v1/admin/campaigns/cmp_missing/publish", token=tenant.owner_token)[0] == 404
    assert api.call("DELETE", "/v1/admin/operators/nobody@x.example.cn", token=tenant.owner_token)[0] == 404
    viewer = tenant.operator("viewer")  # operator.create and the viewer's login: two entries
    assert api.call("POST", "/v1/admin/campaigns", campaign_body(), token=viewer)[0] == 403
    assert api.call("GET", "/v1/admin/audit", token=viewer)[1]["error"]["code"] == "FORBIDDEN"
    assert api.call("GET", "/v1/admin/audit/verify", token=viewer)[0] == 403
    after = verify(api, tenant)
    assert after["entries"] == before + 2 and after["ok"]
    assert [e["action"] for e in entries(api, tenant)][-2:] == ["operator.create", "login.success"]


def test_logins_are_recorded_without_the_password(api: Api, tenant: Tenant) -> None:
    status, _ = api.call("POST", "/v1/admin/login", {"email": tenant.owner_email, "password": "wrong-password-9"})
    assert status == 401
    api.login(tenant.owner_email, OWNER_PASSWORD)
    trail = entries(api, tenant)
    failure, success = trail[-2], trail[-1]
    assert failure["action"] == "login.failure" and failure["details"] == {"reason": "INVALID_CREDENTIALS"}
    assert failure["actor"] == failure["target"] == tenant.owner_email
    assert success["action"] == "login.success" and success["details"] == {"totp": False}
    assert "wrong-password-9" not in json.dumps(trail)


def test_webhooks_coupons_and_secret_rotation_are_audited(api: Api, tenant: Tenant) -> None:
    token = tenant.totp_token()  # a new webhook endpoint needs the owner's step-up (docs/messaging.md)
    status, hook = api.call(
        "POST",
        "/v1/admin/webhooks",
        {"url": "https://hooks.example.com/in?key=s3cr3t", "events": ["reward.issued"]},
        token,
    )
    assert status == 201, hook
    assert api.call("DELETE", f"/v1/admin/webhooks/{hook['id']}", token=token)[0] == 204
    assert api.call("POST", "/v1/admin/webhook-secret/rotate", token=token)[0] == 200
    trail = entries(api, tenant)[-3:]
    assert [e["action"] for e in trail] == ["webhook.create", "webhook.delete", "webhook_secret.rotate"]
    # The whole destination, with the query's values as keyed fingerprints: a token there never reaches the trail.
    shown = trail[0]["details"].pop("url")
    assert shown.startswith("https://hooks.example.com/in?key=<secret:") and shown.endswith(">")
    assert trail[0]["details"] == {"host": "hooks.example.com", "events": ["reward.issued"]}
    assert "s3cr3t" not in json.dumps(trail)
    assert trail[2]["details"] == {"version": 2}


def test_concurrent_appends_make_one_gap_free_chain(api: Api, tenant: Tenant) -> None:
    from chalicelib.accounts import audit

    now = datetime.now(UTC)

    def append(i: int) -> list[int]:
        return [audit.record(tenant.tid, "system", "test.append", f"worker-{i}", {"n": n}, now) for n in range(5)]

    with ThreadPoolExecutor(max_workers=8) as pool:
        seqs = [s for batch in pool.map(append, range(8)) for s in batch]
    assert len(seqs) == len(set(seqs)) == 40
    result = verify(api, tenant)
    assert result["ok"] and result["entries"] == result["head_seq"] == 41  # and the owner's login
    assert sorted(seqs) == list(range(2, 42))


def test_verification_finds_a_tampered_entry(api: Api, tenant: Tenant) -> None:
    for title in ("one", "two", "three"):
        api.call("POST", "/v1/admin/campaigns", campaign_body(title=title), token=tenant.owner_token)
    assert verify(api, tenant)["ok"]
    client, name = table()
    # Someone with table access rewrites what entry 3 says happened.
    client.update_item(
        TableName=name,
        Key=raw_key(tenant.tid, 3),
        UpdateExpression="SET details = :d",
        ExpressionAttributeValues={":d": {"S": json.dumps({"mode": "assist", "template_id": None})}},
    )
    assert verify(api, tenant)["first_broken"] == {"seq": 3, "reason": "hash mismatch"}
    assert verify(api, tenant)["ok"] is False


def test_verification_finds_a_rehashed_entry_by_its_successor(api: Api, tenant: Tenant) -> None:
    from chalicelib.accounts.rules import audit as domain

    for title in ("one", "two", "three"):
        api.call("POST", "/v1/admin/campaigns", campaign_body(title=title), token=tenant.owner_token)
    trail = entries(api, tenant)
    forged = {**trail[1], "actor": "someone-else@example.cn"}
    digest = domain.entry_hash(
        **{k: forged[k] for k in ("seq", "at", "actor", "action", "target", "details", "prev_hash")}
    )
    client, name = table()
    client.update_item(
        TableName=name,
        Key=raw_key(tenant.tid, 2),
        UpdateExpression="SET actor = :a, #h = :h",
        ExpressionAttributeNames={"#h": "hash"},
        ExpressionAttributeValues={":a": {"S": forged["actor"]}, ":h": {"S": digest}},
    )
    assert verify(api, tenant)["first_broken"] == {"seq": 3, "reason": "prev_hash mismatch"}


def test_verification_finds_deleted_entries(api: Api, tenant: Tenant) -> None:
    for title in ("one", "two", "three"):
        api.call("POST", "/v1/admin/campaigns", campaign_body(title=title), token=tenant.owner_token)
    client, name = table()
    client.delete_item(TableName=name, Key=raw_key(tenant.tid, 4))  # the last one: only the head knows
    assert verify(api, tenant)["first_broken"] == {"seq": 4, "reason": "missing sequence number"}
    client.delete_item(TableName=name, Key=raw_key(tenant.tid, 2))
    result = verify(api, tenant)
    assert result["first_broken"] == {"seq": 2, "reason": "missing sequence number"} and result["entries"] == 2


def test_audit_listing_checks_its_parameters(api: Api, tenant: Tenant) -> None:
    token = tenant.owner_token
    assert api.call("GET", "/v1/admin/audit?limit=0", token=token)[1]["error"]["code"] == "VALIDATION_ERROR"
    assert api.call("GET", "/v1/admin/audit?cursor=abc", token=token)[1]["error"]["code"] == "INVALID_CURSOR"
    status, body = api.call("GET", "/v1/admin/audit?limit=1", token=token)
    assert status == 200 and [e["action"] for e in body["items"]] == ["login.success"] and body["next_cursor"] is None
    finance = tenant.operator("finance")  # finance holds audit:read
    assert api.call("GET", "/v1/admin/audit/verify", token=finance)[0] == 200
