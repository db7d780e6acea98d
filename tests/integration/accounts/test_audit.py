"""The audit chain: admin mutations and logins append linked, MACed entries; verification finds tampering,
including the rewrites someone with write access to the table (but not the key) can make: an edited
entry re-hashed, a deleted entry with the chain re-hashed, and a tail cut off with the head moved back."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any

import pytest

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
    tenant.enrol_totp(tenant.owner_token, tenant.owner_email)  # a role change needs a TOTP step-up
    step_up = {"X-Fission-TOTP": tenant.totp_code()}
    assert api.call("PATCH", f"/v1/admin/operators/{email}", patch, token=tenant.owner_token, headers=step_up)[0] == 200
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
        "operator.totp_enrol",
        "operator.totp_enable",
        "operator.update",
        "operator.delete",
    ]
    assert [e["seq"] for e in trail] == list(range(1, len(trail) + 1))
    assert trail[0]["prev_hash"] == "0" * 64
    assert all(later["prev_hash"] == earlier["hash"] for earlier, later in zip(trail, trail[1:], strict=False))
    assert {e["actor"] for e in trail} == {tenant.owner_email}
    assert trail[1]["target"] == cid and trail[2]["details"]["fields"] == ["title"]
    assert trail[9]["target"] == email and trail[9]["details"]["fields"] == ["password", "role"]
    # Neither the password nor the phone reach the trail.
    text = json.dumps(trail)
    assert "another-pass-2" not in text and "operator-pass-1" not in text and "13812345678" not in text
    assert all(len(e["mac"]) == 64 for e in trail)
    assert verify(api, tenant) == {
        "ok": True,
        "entries": 11,
        "head_seq": 11,
        "legacy_entries": 0,
        "mac_checks": 1,  # the newest MAC vouches for the rest through the hashes
        "anchor": None,
        "first_broken": None,
    }


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
    token = tenant.totp_token()  # a new webhook endpoint and rotating the secret need the owner's step-up
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
    assert verify(api, tenant)["first_broken"] == {"seq": 3, "check": "hash", "reason": "hash mismatch"}
    assert verify(api, tenant)["ok"] is False


def test_verification_finds_a_rehashed_entry_by_its_mac(api: Api, tenant: Tenant) -> None:
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
    # The successor's link breaks too, but the forged entry's own MAC is the earlier break.
    assert verify(api, tenant)["first_broken"] == {"seq": 2, "check": "mac", "reason": "mac mismatch"}


def test_verification_finds_deleted_entries(api: Api, tenant: Tenant) -> None:
    for title in ("one", "two", "three"):
        api.call("POST", "/v1/admin/campaigns", campaign_body(title=title), token=tenant.owner_token)
    client, name = table()
    client.delete_item(TableName=name, Key=raw_key(tenant.tid, 4))  # the last one: only the head knows
    assert verify(api, tenant)["first_broken"] == {"seq": 4, "check": "hash", "reason": "missing sequence number"}
    client.delete_item(TableName=name, Key=raw_key(tenant.tid, 2))
    result = verify(api, tenant)
    assert result["first_broken"] == {"seq": 2, "check": "hash", "reason": "missing sequence number"}
    assert result["entries"] == 2


def test_audit_listing_checks_its_parameters(api: Api, tenant: Tenant) -> None:
    token = tenant.owner_token
    assert api.call("GET", "/v1/admin/audit?limit=0", token=token)[1]["error"]["code"] == "VALIDATION_ERROR"
    assert api.call("GET", "/v1/admin/audit?cursor=abc", token=token)[1]["error"]["code"] == "INVALID_CURSOR"
    status, body = api.call("GET", "/v1/admin/audit?limit=1", token=token)
    assert status == 200 and [e["action"] for e in body["items"]] == ["login.success"] and body["next_cursor"] is None
    finance = tenant.operator("finance")  # finance holds audit:read
    assert api.call("GET", "/v1/admin/audit/verify", token=finance)[0] == 200


# --- Rewrites by someone with write access to the table but not the MAC key ---


def fill(tid: str, count: int) -> None:
    from chalicelib.accounts import audit

    now = datetime.now(UTC)
    for n in range(count):
        audit.record(tid, "system", "test.append", f"t{n}", {"n": n}, now)


def rewrite(tid: str, trail: list[dict[str, Any]]) -> None:
    """Replace the tenant's chain with `trail`, renumbered from 1, every hash recomputed and the head moved
    to its end, as anyone who can write the table can. The MACs stay as they were: making new ones takes
    the key."""
    from chalicelib.accounts.rules import audit as domain
    from chalicelib.table import keys

    client, name = table()
    for seq in range(1, len(trail) + 40):
        client.delete_item(TableName=name, Key=raw_key(tid, seq))
    prev = domain.GENESIS
    for seq, entry in enumerate(trail, start=1):
        fields = {k: entry[k] for k in ("at", "actor", "action", "target", "details")}
        digest = domain.entry_hash(seq, prev_hash=prev, **fields)
        item = {
            **raw_key(tid, seq),
            "entity": {"S": "audit"},
            "seq": {"N": str(seq)},
            **{k: {"S": fields[k]} for k in ("at", "actor", "action", "target")},
            "details": {"S": json.dumps(fields["details"])},
            "prev_hash": {"S": prev},
            "hash": {"S": digest},
        }
        if entry.get("mac"):
            item["mac"] = {"S": entry["mac"]}
        client.put_item(TableName=name, Item=item)
        prev = digest
    head = {
        "PK": {"S": keys.audit_pk(tid)},
        "SK": {"S": keys.AUDIT_HEAD_SK},
        "entity": {"S": "audit_head"},
        "seq": {"N": str(len(trail))},
        "hash": {"S": prev},
    }
    if trail and trail[-1].get("mac"):
        head["mac"] = {"S": trail[-1]["mac"]}
    client.put_item(TableName=name, Item=head)


def anchor_now(app: Any, tid: str) -> dict[str, Any]:
    """Run the scheduled anchor job as the scheduler does; returns the tenant's newest anchor."""
    from chalicelib.accounts.store.anchors import get_anchor_log
    from local.scheduler import Scheduler

    Scheduler(app).invoke("anchor_audit_chains")
    anchor = get_anchor_log().latest(tid)
    assert anchor is not None
    return {"seq": anchor.seq, "mac": anchor.mac}


def test_attack_an_entry_edited_and_the_rest_rehashed_is_found_by_its_mac(api: Api, tenant: Tenant) -> None:
    fill(tenant.tid, 6)
    trail = entries(api, tenant)
    trail[3] = {**trail[3], "actor": "someone-else@example.cn", "details": {"n": 99}}

    rewrite(tenant.tid, trail)

    result = verify(api, tenant)
    assert result["ok"] is False
    assert result["first_broken"] == {"seq": 4, "check": "mac", "reason": "mac mismatch"}
    assert result["mac_checks"] <= 4  # bisection over 7 entries, not one KMS call each


def test_attack_a_deleted_entry_with_the_chain_rehashed_is_found_where_it_was(api: Api, tenant: Tenant) -> None:
    fill(tenant.tid, 9)
    trail = entries(api, tenant)
    assert verify(api, tenant)["ok"]

    rewrite(tenant.tid, trail[:4] + trail[5:])  # entry 5 gone, 6..10 renumbered 5..9, all links good

    result = verify(api, tenant)
    assert result["head_seq"] == result["entries"] == 9
    assert result["first_broken"] == {"seq": 5, "check": "mac", "reason": "mac mismatch"}


def test_attack_a_tail_cut_off_with_the_head_moved_back_is_found_by_the_anchor(
    app: Any, api: Api, tenant: Tenant
) -> None:
    fill(tenant.tid, 29)
    anchored = anchor_now(app, tenant.tid)
    assert anchored["seq"] == 30
    trail = entries(api, tenant)
    assert verify(api, tenant)["anchor"]["seq"] == 30 and verify(api, tenant)["ok"]

    rewrite(tenant.tid, trail[:-20])  # the last 20 gone, the head at entry 10 with its own valid MAC

    result = verify(api, tenant)
    assert result["head_seq"] == 10
    assert result["first_broken"] == {"seq": 30, "check": "anchor", "reason": "anchor beyond head"}

    # New entries written after the cut reach past the anchor's seq again, but not with its MAC; and the
    # anchor job will not anchor the new head over the cut.
    fill(tenant.tid, 25)
    assert anchor_now(app, tenant.tid)["seq"] == 30
    result = verify(api, tenant)
    assert result["head_seq"] == 35
    assert result["first_broken"] == {"seq": 30, "check": "anchor", "reason": "anchor mismatch"}


def test_the_anchor_job_anchors_changed_heads_once_and_refuses_a_head_behind_its_anchor(
    app: Any, api: Api, tenant: Tenant
) -> None:
    from chalicelib.accounts import audit
    from chalicelib.accounts.store import audit as audit_store
    from chalicelib.core.config import get_settings

    fill(tenant.tid, 2)
    first = anchor_now(app, tenant.tid)
    lines = [json.loads(line) for line in get_settings().audit_anchor_file.read_text().splitlines()]
    mine = [line for line in lines if line["tid"] == tenant.tid]
    assert [(a["seq"], a["mac"]) for a in mine] == [(3, first["mac"])]
    assert set(mine[0]) == {"tid", "seq", "mac", "at"}

    audit.anchor_heads(datetime.now(UTC))  # nothing new: no second anchor
    fill(tenant.tid, 1)
    assert anchor_now(app, tenant.tid)["seq"] == 4
    text = get_settings().audit_anchor_file.read_text()
    assert [json.loads(line)["seq"] for line in text.splitlines() if tenant.tid in line] == [3, 4]

    trail = entries(api, tenant)
    rewrite(tenant.tid, trail[:2])  # moved back
    fill(tenant.tid, 1)  # a later append files the head for anchoring again
    counts = audit.anchor_heads(datetime.now(UTC))
    assert counts["refused"] >= 1
    assert tenant.tid in audit_store.unanchored()  # stays on the list, reported every run
    text = get_settings().audit_anchor_file.read_text()
    assert [json.loads(line)["seq"] for line in text.splitlines() if tenant.tid in line] == [3, 4]


def legacy_chain(length: int) -> tuple[str, str]:
    """A fresh tenant's chain written as before the chain was keyed: no MAC anywhere. (tid, head hash)"""
    import uuid

    from chalicelib.accounts.rules import audit as domain
    from chalicelib.accounts.store import audit as audit_store

    tid = f"legacy-{uuid.uuid4().hex[:8]}"
    prev = domain.GENESIS
    for seq in range(1, length + 1):
        entry = domain.make_entry(seq, "2026-01-01T00:00:00Z", "o@x.cn", "campaign.create", f"c{seq}", {}, prev)
        audit_store.append(tid, entry, seq - 1)
        prev = entry.hash
    return tid, prev


def test_a_quiet_legacy_chain_is_sealed_by_the_manage_command(api: Api, capsys: pytest.CaptureFixture[str]) -> None:
    from chalicelib.accounts import audit
    from local import manage

    tid, _ = legacy_chain(2)
    assert manage.main(["seal-audit", "--id", tid]) == 0
    assert "sealed" in capsys.readouterr().out
    assert manage.main(["seal-audit", "--id", tid]) == 0
    assert "nothing to seal" in capsys.readouterr().out
    result = audit.verify(tid)
    assert result["ok"] and result["legacy_entries"] == 2 and result["head_seq"] == 3


def test_a_legacy_chain_is_verified_as_a_segment_and_sealed_by_the_first_keyed_entry(api: Api) -> None:
    from chalicelib.accounts import audit
    from chalicelib.accounts.store import audit as audit_store

    tid, prev = legacy_chain(3)
    before = audit.verify(tid)
    assert before["ok"] and before["legacy_entries"] == 3 and before["mac_checks"] == 0

    seq = audit.record(tid, "o@x.cn", "campaign.update", "c1", {}, datetime.now(UTC))

    assert seq == 5
    genesis = audit_store.entries_before(tid, 5, 1)[0]
    assert (genesis.seq, genesis.action, genesis.actor) == (4, "audit.keyed", "system")
    assert genesis.prev_hash == prev and genesis.details == {"legacy_entries": 3} and genesis.mac
    after = audit.verify(tid)
    assert after["ok"] and after["legacy_entries"] == 3 and after["entries"] == 5
    assert audit.seal(tid, datetime.now(UTC)) is False  # already keyed

    # Rewriting the legacy segment now breaks the keyed entry that vouches for it.
    legacy = list(audit_store.entries_ascending(tid))
    trail = [
        {"at": e.at, "actor": e.actor, "action": e.action, "target": e.target, "details": e.details, "mac": e.mac}
        for e in legacy
    ]
    trail[1] = {**trail[1], "target": "c-other"}
    rewrite(tid, trail)
    assert audit.verify(tid)["first_broken"] == {"seq": 4, "check": "mac", "reason": "mac mismatch"}


def test_an_anchor_store_that_does_not_answer_leaves_the_head_listed_for_the_next_run(
    api: Api, tenant: Tenant, monkeypatch: pytest.MonkeyPatch
) -> None:
    from chalicelib.accounts import audit
    from chalicelib.accounts.store import anchors
    from chalicelib.accounts.store import audit as audit_store
    from chalicelib.core.errors import Unavailable

    def unavailable(self: Any, anchor: Any) -> None:
        raise Unavailable("the audit anchor cannot be written; retry shortly")

    monkeypatch.setattr(anchors.FileAnchorLog, "put", unavailable)
    counts = audit.anchor_heads(datetime.now(UTC))
    assert counts["failed"] >= 1
    assert tenant.tid in audit_store.unanchored()
    monkeypatch.undo()
    audit.anchor_heads(datetime.now(UTC))
    assert tenant.tid not in audit_store.unanchored()
    assert anchors.get_anchor_log().latest(tenant.tid) is not None
