"""The template library: every template is a valid campaign in both languages, and instantiation fills it in."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from pydantic import ValidationError

from chalicelib.campaigns.rules import spec as campaigns
from chalicelib.campaigns.rules import templates as lib
from chalicelib.core.errors import NotFound, ValidationFailed

NOW = datetime(2026, 11, 3, 9, 41, 27, 512000, tzinfo=UTC)
TEMPLATE_IDS = list(lib.library())
COPY_FIELDS = ("title", "description", "rule_text")


def template(template_id: str) -> lib.Template:
    return lib.library()[template_id]


def test_the_library_has_24_or_more_templates_over_6_or_more_industries_and_every_mode() -> None:
    found = lib.library().values()
    assert len(found) >= 24
    assert len({t.industry for t in found}) >= 6
    assert {t.mode for t in found} == set(campaigns.Mode)


def test_the_data_files_live_inside_chalicelib_so_they_ship_in_the_lambda_package() -> None:
    package = lib.DATA_DIR.parent
    assert "chalicelib" in package.parts and (package / "__init__.py").is_file()
    industries = {t.industry.value for t in lib.library().values()}
    assert sorted(p.stem for p in lib.DATA_DIR.glob("*.json")) == sorted(industries)


@pytest.mark.parametrize("language", lib.LANGUAGES)
@pytest.mark.parametrize("template_id", TEMPLATE_IDS)
def test_every_template_makes_a_valid_campaign_in_each_language(template_id: str, language: lib.Language) -> None:
    spec = campaigns.parse_spec(lib.instantiate(template(template_id), {}, NOW, language))
    assert spec.mode == template(template_id).mode.value
    assert spec.template_id == template_id


@pytest.mark.parametrize("template_id", TEMPLATE_IDS)
def test_every_template_has_all_its_copy_in_both_languages(template_id: str) -> None:
    found = template(template_id)
    for language in lib.LANGUAGES:
        text = found.copy_in(language)
        assert all(getattr(text, field).strip() for field in COPY_FIELDS)
        assert text.share.title.strip() and text.share.text.strip()
        assert getattr(found.name, language).strip() and getattr(found.summary, language).strip()
    assert found.texts.zh.title != found.texts.en.title
    assert found.texts.zh.rule_text != found.texts.en.rule_text


@pytest.mark.parametrize("template_id", TEMPLATE_IDS)
def test_names_participants_see_in_the_rules_are_given_in_both_languages(template_id: str) -> None:
    found = template(template_id)
    zh = lib.localize(found.defaults, "zh")
    en = lib.localize(found.defaults, "en")
    # Rules that name a reward or product differ by language; distribution rules name none.
    if found.mode is not campaigns.Mode.DISTRIBUTION:
        assert zh != en
    assert "{'zh'" not in repr(zh) and "{'zh'" not in repr(en)


def test_the_examples_the_library_promises_are_there() -> None:
    trial = template("education-trial-class-invite")
    assert trial.mode is campaigns.Mode.INVITE
    assert [m["invites"] for m in trial.defaults["rules"]["milestones"]][-1] == 3

    meal = campaigns.parse_spec(lib.instantiate(template("restaurant-free-meal-assist"), {}, NOW, "en"))
    assert isinstance(meal.rules, campaigns.AssistRules)
    assert meal.rules.goal == "unlock" and meal.rules.helpers_required == 5 and meal.rules.prize is not None

    coffee = campaigns.parse_spec(lib.instantiate(template("coffee-bogo-group-buy"), {}, NOW, "zh"))
    assert isinstance(coffee.rules, campaigns.GroupBuyRules)
    assert [(t.size, t.price_fen * 2) for t in coffee.rules.tiers] == [(3, coffee.rules.original_price_fen)]

    samples = campaigns.parse_spec(lib.instantiate(template("beauty-sample-ladder-invite"), {}, NOW, "zh"))
    assert isinstance(samples.rules, campaigns.InviteRules) and samples.rules.invitee_reward is not None
    assert len(samples.rules.milestones) >= 3

    saas = campaigns.parse_spec(lib.instantiate(template("saas-referral-distribution"), {}, NOW, "zh"))
    assert isinstance(saas.rules, campaigns.DistributionRules) and saas.rules.levels == 1

    poster = campaigns.parse_spec(lib.instantiate(template("retail-chain-follow-poster"), {}, NOW, "zh"))
    assert isinstance(poster.rules, campaigns.PosterRules) and poster.rules.qualifying_action == "follow"


def test_instantiate_starts_at_the_current_minute_and_runs_the_templates_duration() -> None:
    found = template("coffee-bogo-group-buy")
    document = lib.instantiate(found, {}, NOW, "zh")
    assert document["starts_at"] == "2026-11-03T09:41:00Z"
    expected_end = datetime(2026, 11, 3, 9, 41, tzinfo=UTC) + timedelta(days=found.duration_days)
    assert document["ends_at"] == expected_end.strftime("%Y-%m-%dT%H:%M:%SZ")


def test_an_overridden_start_moves_the_end_with_it() -> None:
    found = template("education-trial-class-invite")
    document = lib.instantiate(found, {"starts_at": "2026-12-01T08:00:00+08:00"}, NOW, "zh")
    spec = campaigns.parse_spec(document)
    assert spec.starts_at == datetime(2026, 12, 1, tzinfo=UTC)
    assert spec.ends_at - spec.starts_at == timedelta(days=found.duration_days)


def test_an_overridden_end_is_kept() -> None:
    document = lib.instantiate(template("saas-webinar-poster"), {"ends_at": "2026-11-20T00:00:00Z"}, NOW, "zh")
    assert (document["starts_at"], document["ends_at"]) == ("2026-11-03T09:41:00Z", "2026-11-20T00:00:00Z")


def test_a_malformed_start_is_left_for_the_campaign_schema_to_report() -> None:
    document = lib.instantiate(template("saas-webinar-poster"), {"starts_at": "next monday"}, NOW, "zh")
    with pytest.raises(ValidationError) as caught:
        campaigns.parse_spec(document)
    assert [e["loc"][-1] for e in caught.value.errors()] == ["starts_at"]


def test_the_copy_comes_in_the_chosen_language() -> None:
    found = template("restaurant-free-meal-assist")
    zh = lib.instantiate(found, {}, NOW, "zh")
    en = lib.instantiate(found, {}, NOW, "en")
    assert (zh["title"], zh["share"]["title"], zh["rule_text"]) == (
        found.texts.zh.title,
        found.texts.zh.share.title,
        found.texts.zh.rule_text,
    )
    assert (en["title"], en["description"]) == (found.texts.en.title, found.texts.en.description)
    assert en["rules"]["prize"]["name"] == "Signature set meal for two"
    assert zh["rules"]["prize"]["name"] == "双人招牌套餐"


def test_overrides_are_merged_into_the_template_document() -> None:
    overrides: dict[str, Any] = {
        "title": "Friday night free dinner",
        "share": {"image_url": "https://cdn.example.cn/share.jpg"},
        "rules": {"helpers_required": 3, "prize": {"stock": 50}},
        "budget_fen": 500000,
    }
    spec = campaigns.parse_spec(lib.instantiate(template("restaurant-free-meal-assist"), overrides, NOW, "en"))
    assert isinstance(spec.rules, campaigns.AssistRules) and spec.rules.prize is not None
    assert spec.title == "Friday night free dinner" and spec.budget_fen == 500000
    assert spec.share.title == "Help me win a free meal" and str(spec.share.image_url).endswith("/share.jpg")
    assert spec.rules.helpers_required == 3 and spec.rules.time_limit_hours == 48
    assert (spec.rules.prize.stock, spec.rules.prize.value_fen) == (50, 16800)


def test_a_null_override_removes_an_optional_rule() -> None:
    document = lib.instantiate(template("coffee-bogo-group-buy"), {"rules": {"leader_perk": None}}, NOW, "zh")
    assert "leader_perk" not in document["rules"]
    campaigns.parse_spec(document)


def test_an_override_cannot_change_the_templates_mode() -> None:
    with pytest.raises(ValidationFailed) as caught:
        lib.instantiate(template("coffee-bogo-group-buy"), {"mode": "invite"}, NOW, "zh")
    assert caught.value.code == "MODE_IMMUTABLE"
    lib.instantiate(template("coffee-bogo-group-buy"), {"mode": "group_buy"}, NOW, "zh")  # the same mode is fine


def test_a_body_without_a_template_is_the_document_itself() -> None:
    body = {"title": "x", "mode": "invite"}
    assert lib.document_for(body, NOW) is body
    assert lib.document_for({**body, "template_id": None}, NOW) == {**body, "template_id": None}


def test_a_body_naming_a_template_is_expanded_with_the_rest_as_overrides() -> None:
    body = {"template_id": "coffee-friends-invite", "language": "en", "title": "Bring a friend for coffee"}
    spec = campaigns.parse_spec(lib.document_for(body, NOW))
    assert spec.template_id == "coffee-friends-invite" and spec.title == "Bring a friend for coffee"
    assert spec.description == template("coffee-friends-invite").texts.en.description


def test_chinese_is_the_default_language() -> None:
    document = lib.document_for({"template_id": "coffee-friends-invite"}, NOW)
    assert document["title"] == template("coffee-friends-invite").texts.zh.title


def test_an_unknown_template_is_not_found() -> None:
    with pytest.raises(NotFound) as caught:
        lib.document_for({"template_id": "no-such-template"}, NOW)
    assert (caught.value.status, caught.value.code) == (404, "TEMPLATE_NOT_FOUND")


@pytest.mark.parametrize(
    ("body", "field"),
    [({"template_id": "coffee-friends-invite", "language": "fr"}, "language"), ({"template_id": 7}, "template_id")],
)
def test_a_malformed_template_request_is_a_validation_error(body: dict[str, Any], field: str) -> None:
    with pytest.raises(ValidationError) as caught:
        lib.document_for(body, NOW)
    assert [e["loc"] for e in caught.value.errors()] == [(field,)]


def test_select_filters_by_industry_and_mode() -> None:
    coffee = lib.select("coffee")
    assert coffee and {t.industry for t in coffee} == {lib.Industry.COFFEE}
    assists = lib.select(mode=campaigns.Mode.ASSIST)
    assert assists and {t.mode for t in assists} == {campaigns.Mode.ASSIST}
    both = lib.select("restaurant", campaigns.Mode.ASSIST)
    assert [t.id for t in both] == ["restaurant-free-meal-assist"]
    assert lib.select("shipbuilding") == []


def test_describe_lists_the_rules_with_defaults_filled_in_the_chosen_language() -> None:
    entry = lib.describe(template("beauty-sample-ladder-invite"), "en")
    assert entry["name"] == template("beauty-sample-ladder-invite").name.en
    assert entry["rules"]["attribution_window_hours"] == 168  # a schema default the data file leaves out
    assert entry["rules"]["milestones"][0]["reward"]["name"] == "Serum sample (7 ml)"
    assert entry["copy"]["share"]["title"] == template("beauty-sample-ladder-invite").texts.en.share.title


def _raw(**changes: Any) -> dict[str, Any]:
    raw = template("coffee-americano-assist").model_dump(mode="json", by_alias=True)
    return {**raw, **changes}


def test_a_template_that_puts_copy_or_a_window_in_its_defaults_is_refused() -> None:
    with pytest.raises(ValidationError, match="defaults must not set starts_at, title"):
        lib.Template.model_validate(_raw(defaults={"title": "x", "starts_at": "2026-01-01T00:00:00Z", "rules": {}}))


def test_a_template_missing_a_language_is_refused() -> None:
    raw = _raw()
    del raw["copy"]["en"]
    with pytest.raises(ValidationError):
        lib.Template.model_validate(raw)
