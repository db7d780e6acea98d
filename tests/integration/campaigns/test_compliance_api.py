"""The compliance preview, and the compliance gate on publish with the owner's audited value-cap override."""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import MODE_RULES, Api, Tenant, campaign_body

OVER_CAP_PERK = {"type": "gift", "name": "Gift box", "value_fen": 5000, "stock": 100}


def create(api: Api, tenant: Tenant, body: dict[str, Any]) -> str:
    status, created = api.call("POST", "/v1/admin/campaigns", body, token=tenant.owner_token)
    assert status == 201, created
    return str(created["campaign_id"])


def over_cap(api: Api, tenant: Tenant) -> str:
    """A group buy whose leader perk is worth 5000 fen on a 9900-fen product: over the 30% cap."""
    body = campaign_body("group_buy")
    body["rules"] = {**MODE_RULES["group_buy"], "leader_perk": OVER_CAP_PERK}
    return create(api, tenant, body)


def status_of(api: Api, tenant: Tenant, cid: str) -> str:
    return str(api.call("GET", f"/v1/admin/campaigns/{cid}", token=tenant.owner_token)[1]["status"])


def test_preview_returns_findings_and_a_simulation(api: Api, tenant: Tenant) -> None:
    cid = over_cap(api, tenant)
    status, preview = api.call("POST", f"/v1/admin/campaigns/{cid}/preview", {}, token=tenant.owner_token)
    assert status == 200, preview
    assert preview["campaign_id"] == cid and preview["blocking"] is True
    (cap,) = [f for f in preview["findings"] if f["code"] == "REWARD_VALUE_CAP"]
    assert (cap["severity"], cap["field"]) == ("block", "rules.leader_perk")
    assert cap["details"]["cap_fen"] == 2970
    simulation = preview["simulation"]
    assert simulation["k"] == 0.5 and simulation["average_order_fen"] == 9900
    assert [s["participants"] for s in simulation["scenarios"]] == [1000, 10_000, 100_000]
    first = simulation["scenarios"][0]
    assert first["by_reward"][0]["field"] == "rules.leader_perk" and first["generations"] is None
    assert first["capped_spend_fen"] <= first["expected_spend_fen"]


def test_preview_takes_participants_and_k_and_is_open_to_readers(api: Api, tenant: Tenant) -> None:
    cid = create(api, tenant, campaign_body("invite"))
    viewer = tenant.operator("viewer")
    status, preview = api.call("POST", f"/v1/admin/campaigns/{cid}/preview", {"participants": [50], "k": 1.5}, viewer)
    assert status == 200, preview
    assert preview["blocking"] is False
    (scenario,) = preview["simulation"]["scenarios"]
    assert scenario["participants"] == 50 and scenario["generations"] == 5


@pytest.mark.parametrize(
    "body",
    [{"k": "lots"}, {"k": -1}, {"participants": []}, {"participants": [0]}, {"average_order_fen": 0}, {"K": 1}],
)
def test_a_bad_preview_body_is_422(api: Api, tenant: Tenant, body: dict[str, Any]) -> None:
    cid = create(api, tenant, campaign_body("invite"))
    status, error = api.call("POST", f"/v1/admin/campaigns/{cid}/preview", body, token=tenant.owner_token)
    assert status == 422, error
    assert error["error"]["code"] in ("VALIDATION_ERROR", "UNKNOWN_FIELD")


def test_preview_of_another_tenants_campaign_is_404(api: Api, tenant: Tenant, new_tenant: Any) -> None:
    cid = create(api, tenant, campaign_body("invite"))
    stranger = new_tenant()
    status, error = api.call("POST", f"/v1/admin/campaigns/{cid}/preview", {}, token=stranger.owner_token)
    assert (status, error["error"]["code"]) == (404, "CAMPAIGN_NOT_FOUND")


def test_publish_with_a_blocking_finding_is_409_and_stays_a_draft(api: Api, tenant: Tenant) -> None:
    body = campaign_body("invite", share={"title": "领券", "text": "分享到朋友圈即可领券"})
    cid = create(api, tenant, body)
    status, error = api.call("POST", f"/v1/admin/campaigns/{cid}/publish", token=tenant.owner_token)
    assert (status, error["error"]["code"]) == (409, "COMPLIANCE_BLOCKED")
    (finding,) = error["error"]["details"]["findings"]
    assert (finding["code"], finding["field"]) == ("FORCED_SHARING", "share.text")
    assert (finding["details"]["start"], finding["details"]["end"]) == (0, 6)
    assert status_of(api, tenant, cid) == "draft"
    # The owner's override is for the value cap only.
    status, error = api.call("POST", f"/v1/admin/campaigns/{cid}/publish?override=value_cap", token=tenant.owner_token)
    assert (status, error["error"]["code"]) == (409, "COMPLIANCE_BLOCKED")


def test_the_owner_overrides_the_value_cap_and_the_audit_chain_records_it(api: Api, tenant: Tenant) -> None:
    cid = over_cap(api, tenant)
    status, error = api.call("POST", f"/v1/admin/campaigns/{cid}/publish", token=tenant.owner_token)
    assert (status, error["error"]["code"]) == (409, "COMPLIANCE_BLOCKED")
    status, published = api.call(
        "POST", f"/v1/admin/campaigns/{cid}/publish?override=value_cap", token=tenant.owner_token
    )
    assert status == 200, published
    assert published["status"] == "active"
    status, audit = api.call("GET", "/v1/admin/audit", token=tenant.owner_token)
    assert status == 200, audit
    (entry,) = [e for e in audit["items"] if e["action"] == "compliance.override"]
    assert (entry["actor"], entry["target"]) == (tenant.owner_email, cid)
    assert entry["details"]["rule"] == "REWARD_VALUE_CAP"
    assert [f["field"] for f in entry["details"]["findings"]] == ["rules.leader_perk"]
    assert entry["details"]["findings"][0]["details"]["overridden"] is True


def test_only_the_owner_may_override(api: Api, tenant: Tenant) -> None:
    cid = over_cap(api, tenant)
    operator = tenant.operator("operator")
    status, error = api.call("POST", f"/v1/admin/campaigns/{cid}/publish?override=value_cap", token=operator)
    assert (status, error["error"]["code"]) == (403, "OVERRIDE_NOT_ALLOWED")
    assert status_of(api, tenant, cid) == "draft"


def test_an_unknown_override_is_422(api: Api, tenant: Tenant) -> None:
    cid = create(api, tenant, campaign_body("invite"))
    status, error = api.call("POST", f"/v1/admin/campaigns/{cid}/publish?override=everything", token=tenant.owner_token)
    assert (status, error["error"]["code"]) == (422, "VALIDATION_ERROR")


def test_resuming_a_campaign_edited_into_breach_is_blocked(api: Api, tenant: Tenant) -> None:
    cid = create(api, tenant, campaign_body("invite"))
    assert api.call("POST", f"/v1/admin/campaigns/{cid}/publish", token=tenant.owner_token)[0] == 200
    assert api.call("POST", f"/v1/admin/campaigns/{cid}/pause", token=tenant.owner_token)[0] == 200
    patched = api.call("PATCH", f"/v1/admin/campaigns/{cid}", {"rule_text": ""}, token=tenant.owner_token)
    assert patched[0] == 200, patched
    status, error = api.call("POST", f"/v1/admin/campaigns/{cid}/publish", token=tenant.owner_token)
    assert (status, error["error"]["code"]) == (409, "COMPLIANCE_BLOCKED")
    assert error["error"]["details"]["findings"][0]["code"] == "RULE_TEXT_REQUIRED"
    assert status_of(api, tenant, cid) == "paused"


def test_an_assist_campaign_promoted_in_wechat_groups_is_refused_at_publish_and_fixed_by_going_one_to_one(
    api: Api, tenant: Tenant
) -> None:
    body = campaign_body("assist")
    body["landing_url"] = "https://m.shop.example.cn/cut?utm_source=wechat_group"
    body["share"] = {"title": "帮我砍一刀", "text": "发到朋友圈，好友帮你砍到底价"}
    cid = create(api, tenant, body)

    status, preview = api.call("POST", f"/v1/admin/campaigns/{cid}/preview", {}, token=tenant.owner_token)
    assert status == 200 and preview["blocking"] is True
    wechat = {(f["severity"], f["field"]) for f in preview["findings"] if f["code"] == "WECHAT_MASS_SHARING"}
    assert wechat == {("block", "landing_url"), ("warn", "share.text")}

    status, refused = api.call("POST", f"/v1/admin/campaigns/{cid}/publish", token=tenant.owner_token)
    assert (status, refused["error"]["code"]) == (409, "COMPLIANCE_BLOCKED")
    (finding,) = refused["error"]["details"]["findings"]
    assert finding["code"] == "WECHAT_MASS_SHARING" and finding["details"]["channel"] == "utm_source=wechat_group"
    assert "诱导分享" in finding["details"]["rules"] and "one-to-one" in finding["details"]["how_to_comply"]
    assert status_of(api, tenant, cid) == "draft"

    # One-to-one sharing to a friend: the channel block is gone; the copy still warns, which does not stop a publish.
    patch = {"landing_url": "https://m.shop.example.cn/cut?utm_source=wechat_friend"}
    assert api.call("PATCH", f"/v1/admin/campaigns/{cid}", patch, token=tenant.owner_token)[0] == 200
    status, published = api.call("POST", f"/v1/admin/campaigns/{cid}/publish", token=tenant.owner_token)
    assert status == 200, published
    assert status_of(api, tenant, cid) == "active"
