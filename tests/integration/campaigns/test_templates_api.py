"""The template library through the admin API: listing with filters, and campaigns created from a template."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from chalicelib.campaigns.rules import templates as lib
from tests.conftest import Api, Tenant, campaign_body

TEMPLATES = "/v1/admin/templates"
CAMPAIGNS = "/v1/admin/campaigns"
ENTRY_FIELDS = {"id", "industry", "mode", "language", "name", "summary", "duration_days", "copy", "rules"}


def listing(api: Api, tenant: Tenant, query: str = "") -> list[dict[str, Any]]:
    status, body = api.call("GET", f"{TEMPLATES}{query}", token=tenant.owner_token)
    assert status == 200, body
    return list(body["items"])


def create(api: Api, tenant: Tenant, body: dict[str, Any], headers: dict[str, str] | None = None) -> dict[str, Any]:
    status, created = api.call("POST", CAMPAIGNS, body, token=tenant.owner_token, headers=headers)
    assert status == 201, created
    return dict(created)


def parse(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def test_the_library_lists_every_template_in_chinese_by_default(api: Api, tenant: Tenant) -> None:
    items = listing(api, tenant)
    assert len(items) == len(lib.library()) >= 24
    assert all(set(item) == ENTRY_FIELDS and item["language"] == "zh" for item in items)
    trial = next(item for item in items if item["id"] == "education-trial-class-invite")
    assert trial["name"] == lib.library()["education-trial-class-invite"].name.zh
    assert trial["rules"]["milestones"][-1]["invites"] == 3


def test_the_library_speaks_english_when_asked(api: Api, tenant: Tenant) -> None:
    items = listing(api, tenant, "?lang=en&industry=restaurant&mode=assist")
    assert [item["id"] for item in items] == ["restaurant-free-meal-assist"]
    assert items[0]["language"] == "en" and items[0]["rules"]["prize"]["name"] == "Signature set meal for two"
    assert items[0]["copy"]["title"].startswith("Friends help")


def test_the_library_filters_by_industry_and_by_mode(api: Api, tenant: Tenant) -> None:
    coffee = listing(api, tenant, "?industry=coffee")
    assert coffee and {item["industry"] for item in coffee} == {"coffee"}
    posters = listing(api, tenant, "?mode=poster")
    assert posters and {item["mode"] for item in posters} == {"poster"}
    assert {item["industry"] for item in posters} >= {"retail_chain", "restaurant"}


def test_an_unknown_industry_lists_nothing(api: Api, tenant: Tenant) -> None:
    assert listing(api, tenant, "?industry=shipbuilding") == []


def test_an_unknown_mode_or_language_is_refused(api: Api, tenant: Tenant) -> None:
    for query, field in (("?mode=lottery", "mode"), ("?lang=fr", "lang")):
        status, body = api.call("GET", f"{TEMPLATES}{query}", token=tenant.owner_token)
        assert (status, body["error"]["code"]) == (422, "VALIDATION_ERROR")
        assert body["error"]["details"]["errors"][0]["field"] == field


def test_any_role_that_reads_campaigns_may_browse_the_library(api: Api, tenant: Tenant) -> None:
    status, body = api.call("GET", TEMPLATES, token=tenant.operator("viewer"))
    assert status == 200 and body["items"]
    status, body = api.call("GET", TEMPLATES)
    assert (status, body["error"]["code"]) == (401, "UNAUTHORIZED")


def test_one_call_creates_a_draft_from_a_template_with_overrides(api: Api, tenant: Tenant) -> None:
    before = datetime.now(UTC)
    created = create(
        api,
        tenant,
        {
            "template_id": "restaurant-free-meal-assist",
            "title": "Weekend free dinner",
            "rules": {"helpers_required": 3, "prize": {"stock": 40}},
        },
    )
    template = lib.library()["restaurant-free-meal-assist"]
    assert created["status"] == "draft" and created["mode"] == "assist"
    assert created["template_id"] == "restaurant-free-meal-assist"
    assert created["title"] == "Weekend free dinner"
    assert created["rule_text"] == template.texts.zh.rule_text  # the rest of the copy is the template's
    rules = created["rules"]
    assert (rules["goal"], rules["helpers_required"], rules["time_limit_hours"]) == ("unlock", 3, 48)
    assert (rules["prize"]["name"], rules["prize"]["stock"], rules["prize"]["value_fen"]) == ("双人招牌套餐", 40, 16800)
    starts, ends = parse(created["starts_at"]), parse(created["ends_at"])
    assert before - timedelta(minutes=1) < starts <= datetime.now(UTC) and starts.second == 0
    assert ends - starts == timedelta(days=template.duration_days)
    status, fetched = api.call("GET", f"{CAMPAIGNS}/{created['campaign_id']}", token=tenant.owner_token)
    assert status == 200 and fetched == created


def test_a_template_campaign_takes_the_chosen_language_and_window(api: Api, tenant: Tenant) -> None:
    created = create(
        api,
        tenant,
        {"template_id": "coffee-bogo-group-buy", "language": "en", "starts_at": "2026-12-01T00:00:00Z"},
    )
    template = lib.library()["coffee-bogo-group-buy"]
    assert created["title"] == template.texts.en.title and created["share"]["text"] == template.texts.en.share.text
    assert created["rules"]["product"]["name"] == "Two-latte voucher (buy one, get one)"
    assert created["starts_at"] == "2026-12-01T00:00:00Z"
    assert parse(created["ends_at"]) - parse(created["starts_at"]) == timedelta(days=template.duration_days)


def test_an_unknown_template_is_not_found(api: Api, tenant: Tenant) -> None:
    status, body = api.call("POST", CAMPAIGNS, {"template_id": "no-such-template"}, token=tenant.owner_token)
    assert (status, body["error"]["code"]) == (404, "TEMPLATE_NOT_FOUND")


def test_overrides_that_break_the_rules_are_refused_like_any_campaign(api: Api, tenant: Tenant) -> None:
    body = {"template_id": "education-textbook-cut-price", "rules": {"helpers_required": 2}}
    status, error = api.call("POST", CAMPAIGNS, body, token=tenant.owner_token)
    assert (status, error["error"]["code"]) == (422, "VALIDATION_ERROR")
    assert "cannot reach exactly" in error["error"]["message"]


def test_a_template_campaign_cannot_change_mode(api: Api, tenant: Tenant) -> None:
    body = {"template_id": "coffee-bogo-group-buy", "mode": "invite"}
    status, error = api.call("POST", CAMPAIGNS, body, token=tenant.owner_token)
    assert (status, error["error"]["code"]) == (422, "MODE_IMMUTABLE")


def test_language_without_a_template_is_an_unknown_field(api: Api, tenant: Tenant) -> None:
    status, error = api.call("POST", CAMPAIGNS, campaign_body("invite", language="en"), token=tenant.owner_token)
    assert (status, error["error"]["code"]) == (422, "UNKNOWN_FIELD")
    assert error["error"]["details"] == {"fields": ["invite.language"]}


def test_a_template_campaign_can_be_published_and_seen_by_participants(api: Api, tenant: Tenant) -> None:
    created = create(api, tenant, {"template_id": "retail-chain-follow-poster"})
    cid = created["campaign_id"]
    status, published = api.call("POST", f"{CAMPAIGNS}/{cid}/publish", token=tenant.owner_token)
    assert status == 200, published
    assert (published["status"], published["phase"]) == ("active", "live")
    status, public = api.call("GET", f"/v1/campaigns/{cid}/public")
    assert status == 200 and public["rules"]["qualifying_action"] == "follow"
    assert "template_id" not in public


def test_a_retried_template_create_with_the_same_key_makes_one_campaign(api: Api, tenant: Tenant) -> None:
    body = {"template_id": "saas-referral-distribution", "budget_fen": 1000000}
    headers = {"Idempotency-Key": "template-create-0001"}
    first = create(api, tenant, body, headers)
    again = create(api, tenant, body, headers)
    assert again["campaign_id"] == first["campaign_id"]
    status, error = api.call("POST", CAMPAIGNS, {**body, "language": "en"}, token=tenant.owner_token, headers=headers)
    assert (status, error["error"]["code"]) == (422, "IDEMPOTENCY_KEY_REUSED")
