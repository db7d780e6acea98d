"""Reading a stored campaign document into the typed spec: shown parts equal the stored ones, older documents load."""

from __future__ import annotations

import copy
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest

from chalicelib.campaigns.rules import templates
from chalicelib.campaigns.rules.fraud_policy import DEFAULT_POLICY
from chalicelib.campaigns.rules.spec import InviteCampaign, parse_spec, policy_of, shown, spec_to_document
from chalicelib.core.clock import iso
from tests.conftest import MODE_RULES, campaign_body

NOW = datetime(2026, 12, 1, tzinfo=UTC)


def _stored(body: dict[str, Any]) -> dict[str, Any]:
    """The document a create stores for `body`."""
    return spec_to_document(parse_spec(body))


def _documents() -> list[dict[str, Any]]:
    found = [_stored(campaign_body(mode)) for mode in sorted(MODE_RULES)]
    for template in templates.library().values():
        for language in templates.LANGUAGES:
            found.append(_stored(templates.instantiate(template, {}, NOW, language)))
    return found


@pytest.mark.parametrize("document", _documents(), ids=lambda d: f"{d['mode']}:{d['title']}")
def test_a_stored_document_is_shown_as_stored(document: dict[str, Any]) -> None:
    spec = parse_spec(copy.deepcopy(document))
    assert shown(spec) == document
    assert shown(spec.rules) == document["rules"] and shown(spec.share) == document["share"]
    assert (iso(spec.starts_at), iso(spec.ends_at)) == (document["starts_at"], document["ends_at"])


def test_an_older_document_loads_with_defaults_and_shows_only_what_it_carries() -> None:
    document = _stored(campaign_body("invite"))
    for milestone in document["rules"]["milestones"]:
        del milestone["reward"]["code_pool"]
    spec = parse_spec(copy.deepcopy(document))
    assert isinstance(spec, InviteCampaign)
    assert spec.fraud is None and policy_of(spec) == DEFAULT_POLICY and spec.experiment is None
    assert [m.reward.code_pool for m in spec.rules.milestones] == [False, False]
    assert shown(spec) == document
    assert shown(spec.rules.milestones[0].reward) == document["rules"]["milestones"][0]["reward"]


def test_whole_numbers_given_as_decimal_read_as_the_ints_they_are() -> None:
    document = _stored(campaign_body("invite", budget_fen=50_000))

    def decimals(value: Any) -> Any:
        if isinstance(value, dict):
            return {k: decimals(v) for k, v in value.items()}
        if isinstance(value, list):
            return [decimals(v) for v in value]
        return Decimal(value) if isinstance(value, int) and not isinstance(value, bool) else value

    spec = parse_spec(decimals(document))
    assert isinstance(spec, InviteCampaign)
    assert type(spec.budget_fen) is int and spec.budget_fen == 50_000
    assert [type(m.invites) for m in spec.rules.milestones] == [int, int]
    assert shown(spec) == document
