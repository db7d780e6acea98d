"""Campaign lifecycle through the admin API, and the public view landing pages read."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from tests.conftest import MODE_RULES, OWNER_PASSWORD, Api, Clock, Tenant, campaign_body, window


def create(api: Api, tenant: Tenant, mode: str = "invite", **overrides: Any) -> dict[str, Any]:
    status, body = api.call("POST", "/v1/admin/campaigns", campaign_body(mode, **overrides), token=tenant.owner_token)
    assert status == 201, body
    return dict(body)


def act(api: Api, tenant: Tenant, cid: str, action: str) -> tuple[int, Any]:
    return api.call("POST", f"/v1/admin/campaigns/{cid}/{action}", token=tenant.owner_token)


@pytest.mark.parametrize("mode", sorted(MODE_RULES))
def test_every_mode_creates_a_draft_that_reads_back_the_same(api: Api, tenant: Tenant, mode: str) -> None:
    created = create(api, tenant, mode)
    assert created["status"] == "draft" and created["phase"] == "draft" and created["mode"] == mode
    assert created["version"] == 1 and created["created_by"] == tenant.owner_email
    status, fetched = api.call("GET", f"/v1/admin/campaigns/{created['campaign_id']}", token=tenant.owner_token)
    assert status == 200 and fetched == created


def test_times_are_stored_in_utc(api: Api, tenant: Tenant) -> None:
    created = create(api, tenant, starts_at="2026-12-01T08:00:00+08:00", ends_at="2026-12-15T08:00:00.750+08:00")
    assert (created["starts_at"], created["ends_at"]) == ("2026-12-01T00:00:00Z", "2026-12-15T00:00:00Z")


def test_empty_strings_round_trip(api: Api, tenant: Tenant) -> None:
    created = create(api, tenant, description="", rule_text="")
    assert created["description"] == "" and created["rule_text"] == ""


def test_invalid_assist_bounds_are_refused_with_the_reason(api: Api, tenant: Tenant) -> None:
    body = campaign_body("assist")
    body["rules"] = {**body["rules"], "helpers_required": 3, "min_cut_fen": 10, "max_cut_fen": 20}
    status, error = api.call("POST", "/v1/admin/campaigns", body, token=tenant.owner_token)
    assert (status, error["error"]["code"]) == (422, "VALIDATION_ERROR")
    assert "cannot reach exactly" in error["error"]["message"]


def test_distribution_deeper_than_two_levels_is_refused(api: Api, tenant: Tenant) -> None:
    body = campaign_body("distribution")
    body["rules"] = {"levels": 3, "rates_bp": [1000, 500, 200]}
    status, error = api.call("POST", "/v1/admin/campaigns", body, token=tenant.owner_token)
    assert (status, error["error"]["code"]) == (422, "VALIDATION_ERROR")
    assert error["error"]["details"]["errors"][0]["field"] == "distribution.rules.levels"


def test_listing_pages_newest_first_without_gaps_or_repeats(api: Api, tenant: Tenant) -> None:
    made = [create(api, tenant, title=f"c{i}")["campaign_id"] for i in range(5)]
    seen: list[str] = []
    cursor = None
    for _ in range(5):
        query = "limit=2" + (f"&cursor={cursor}" if cursor else "")
        status, page = api.call("GET", f"/v1/admin/campaigns?{query}", token=tenant.owner_token)
        assert status == 200 and len(page["items"]) <= 2
        seen += [c["campaign_id"] for c in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert sorted(seen) == sorted(made) and len(seen) == 5
    assert seen == sorted(seen, reverse=True)  # ids are time-ordered: newest first


def test_listing_filters_by_status(api: Api, tenant: Tenant) -> None:
    live = create(api, tenant)["campaign_id"]
    create(api, tenant)
    act(api, tenant, live, "publish")
    _, page = api.call("GET", "/v1/admin/campaigns?status=active", token=tenant.owner_token)
    assert [c["campaign_id"] for c in page["items"]] == [live]


def test_patch_merges_into_a_draft_and_bumps_the_version(api: Api, tenant: Tenant) -> None:
    created = create(api, tenant)
    cid = created["campaign_id"]
    status, patched = api.call(
        "PATCH",
        f"/v1/admin/campaigns/{cid}",
        {"title": "New title", "rules": {"per_participant_cap": 20}, "share": {"text": None}},
        token=tenant.owner_token,
    )
    assert status == 200, patched
    assert patched["title"] == "New title" and patched["version"] == 2
    assert patched["rules"]["per_participant_cap"] == 20
    assert patched["rules"]["milestones"] == created["rules"]["milestones"]  # untouched parts stay
    assert patched["share"]["text"] == ""  # null removed it; the default came back


def test_patch_that_breaks_the_rules_changes_nothing(api: Api, tenant: Tenant) -> None:
    created = create(api, tenant)
    cid = created["campaign_id"]
    status, error = api.call(
        "PATCH", f"/v1/admin/campaigns/{cid}", {"ends_at": "2020-01-01T00:00:00Z"}, token=tenant.owner_token
    )
    assert (status, error["error"]["code"]) == (422, "VALIDATION_ERROR")
    assert api.call("GET", f"/v1/admin/campaigns/{cid}", token=tenant.owner_token)[1] == created


def test_mode_cannot_change(api: Api, tenant: Tenant) -> None:
    cid = create(api, tenant)["campaign_id"]
    status, error = api.call("PATCH", f"/v1/admin/campaigns/{cid}", {"mode": "poster"}, token=tenant.owner_token)
    assert (status, error["error"]["code"]) == (422, "MODE_IMMUTABLE")


def test_active_campaign_is_not_editable_until_paused(api: Api, tenant: Tenant) -> None:
    cid = create(api, tenant)["campaign_id"]
    act(api, tenant, cid, "publish")
    status, error = api.call("PATCH", f"/v1/admin/campaigns/{cid}", {"title": "x"}, token=tenant.owner_token)
    assert (status, error["error"]["code"]) == (409, "CAMPAIGN_NOT_EDITABLE")
    assert act(api, tenant, cid, "pause")[0] == 200
    status, body = api.call("PATCH", f"/v1/admin/campaigns/{cid}", {"title": "x"}, token=tenant.owner_token)
    assert status == 200 and body["title"] == "x" and body["status"] == "paused"


def test_lifecycle_walks_the_state_machine(api: Api, tenant: Tenant) -> None:
    cid = create(api, tenant)["campaign_id"]
    steps = [
        ("pause", 409, "draft"),
        ("end", 409, "draft"),
        ("publish", 200, "active"),
        ("publish", 409, "active"),
        ("pause", 200, "paused"),
        ("pause", 409, "paused"),
        ("publish", 200, "active"),
        ("end", 200, "ended"),
        ("publish", 409, "ended"),
        ("pause", 409, "ended"),
        ("end", 409, "ended"),
    ]
    for action, expected, status_after in steps:
        status, body = act(api, tenant, cid, action)
        assert status == expected, (action, body)
        if status == 409:
            assert body["error"]["code"] == "ILLEGAL_TRANSITION"
        _, current = api.call("GET", f"/v1/admin/campaigns/{cid}", token=tenant.owner_token)
        assert current["status"] == status_after, action
    assert current["published_at"] and current["ended_at"]


def test_only_drafts_can_be_deleted(api: Api, tenant: Tenant) -> None:
    draft = create(api, tenant)["campaign_id"]
    live = create(api, tenant)["campaign_id"]
    act(api, tenant, live, "publish")
    status, error = api.call("DELETE", f"/v1/admin/campaigns/{live}", token=tenant.owner_token)
    assert (status, error["error"]["code"]) == (409, "CAMPAIGN_NOT_DELETABLE")
    assert api.call("DELETE", f"/v1/admin/campaigns/{draft}", token=tenant.owner_token)[0] == 204
    status, error = api.call("GET", f"/v1/admin/campaigns/{draft}", token=tenant.owner_token)
    assert (status, error["error"]["code"]) == (404, "CAMPAIGN_NOT_FOUND")


def test_publishing_after_the_end_time_is_refused(api: Api, tenant: Tenant, clock: Clock) -> None:
    cid = create(api, tenant)["campaign_id"]
    clock.advance(days=15)
    tenant.owner_token = api.login(tenant.owner_email, OWNER_PASSWORD)
    status, error = act(api, tenant, cid, "publish")
    assert (status, error["error"]["code"]) == (409, "CAMPAIGN_WINDOW_PASSED")


def test_public_view_hides_drafts_and_shows_the_phase(api: Api, tenant: Tenant, clock: Clock) -> None:
    cid = create(api, tenant, **window(start_in=timedelta(days=1), length=timedelta(days=2)))["campaign_id"]
    status, error = api.call("GET", f"/v1/campaigns/{cid}/public")
    assert (status, error["error"]["code"]) == (404, "CAMPAIGN_NOT_FOUND")
    act(api, tenant, cid, "publish")
    status, view = api.call("GET", f"/v1/campaigns/{cid}/public")
    assert status == 200 and view["phase"] == "upcoming" and view["mode"] == "invite"
    assert "tenant_id" not in view and "created_by" not in view and "version" not in view
    assert view["rules"]["milestones"][0]["invites"] == 1
    clock.advance(days=1, minutes=1)
    tenant.owner_token = api.login(tenant.owner_email, OWNER_PASSWORD)
    assert api.call("GET", f"/v1/campaigns/{cid}/public")[1]["phase"] == "live"
    act(api, tenant, cid, "pause")
    assert api.call("GET", f"/v1/campaigns/{cid}/public")[1]["phase"] == "paused"
    act(api, tenant, cid, "publish")
    clock.advance(days=2)
    assert api.call("GET", f"/v1/campaigns/{cid}/public")[1]["phase"] == "ended"


def test_group_buy_public_view_discloses_auto_fill(api: Api, tenant: Tenant) -> None:
    # Auto-fill must also be disclosed in the rule text, or the compliance checker refuses the publish.
    body = campaign_body("group_buy", rule_text="未成团的由系统补位自动成团。每位用户限参团一次。")
    body["rules"] = {**body["rules"], "auto_fill": True}
    _, created = api.call("POST", "/v1/admin/campaigns", body, token=tenant.owner_token)
    act(api, tenant, created["campaign_id"], "publish")
    view = api.call("GET", f"/v1/campaigns/{created['campaign_id']}/public")[1]
    assert view["auto_fill_disclosure"] == (
        "Unfilled groups with at least 2 real members are completed with system members at the deadline or when the "
        "campaign ends."
    )


def test_same_idempotency_key_creates_one_campaign(api: Api, tenant: Tenant) -> None:
    headers = {"Idempotency-Key": "create-summer-sale-001"}
    body = campaign_body()  # once: a retry repeats the same bytes, even when a second passes in between
    first = api.call("POST", "/v1/admin/campaigns", body, token=tenant.owner_token, headers=headers)
    again = api.call("POST", "/v1/admin/campaigns", body, token=tenant.owner_token, headers=headers)
    assert first[0] == again[0] == 201
    assert first[1]["campaign_id"] == again[1]["campaign_id"]
    _, listing = api.call("GET", "/v1/admin/campaigns", token=tenant.owner_token)
    assert len(listing["items"]) == 1


def test_idempotency_key_reused_with_another_body_is_refused(api: Api, tenant: Tenant) -> None:
    headers = {"Idempotency-Key": "create-summer-sale-002"}
    api.call("POST", "/v1/admin/campaigns", campaign_body(), token=tenant.owner_token, headers=headers)
    status, error = api.call(
        "POST", "/v1/admin/campaigns", campaign_body(title="other"), token=tenant.owner_token, headers=headers
    )
    assert (status, error["error"]["code"]) == (422, "IDEMPOTENCY_KEY_REUSED")


def test_idempotency_keys_are_scoped_per_tenant(api: Api, new_tenant: Any) -> None:
    a, b = new_tenant(), new_tenant()
    headers = {"Idempotency-Key": "shared-key-0001"}
    first = api.call("POST", "/v1/admin/campaigns", campaign_body(), token=a.owner_token, headers=headers)[1]
    second = api.call("POST", "/v1/admin/campaigns", campaign_body(), token=b.owner_token, headers=headers)[1]
    assert first["campaign_id"] != second["campaign_id"] and second["tenant_id"] == b.tid


def test_failed_create_does_not_burn_the_idempotency_key(api: Api, tenant: Tenant) -> None:
    headers = {"Idempotency-Key": "create-after-fix-01"}
    bad = campaign_body(title="")
    assert api.call("POST", "/v1/admin/campaigns", bad, token=tenant.owner_token, headers=headers)[0] == 422
    good = campaign_body()
    assert api.call("POST", "/v1/admin/campaigns", good, token=tenant.owner_token, headers=headers)[0] == 201


def test_concurrent_edits_do_not_overwrite_each_other(tenant: Tenant, api: Api) -> None:
    from chalicelib.campaigns import store
    from chalicelib.core.errors import Conflict

    cid = create(api, tenant)["campaign_id"]
    first, second = store.get(cid), store.get(cid)
    assert first is not None and second is not None
    first.version += 1
    store.replace(first, expected_version=1)
    second.version += 1
    with pytest.raises(Conflict) as caught:
        store.replace(second, expected_version=1)
    assert caught.value.code == "CONCURRENT_UPDATE"
