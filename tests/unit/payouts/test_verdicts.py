"""The rules' verdicts name exactly the providers' outcomes (rules cannot import them: they sit below)."""

from __future__ import annotations

from chalicelib.payouts.providers.base import Outcome
from chalicelib.payouts.rules import verdicts


def test_every_outcome_has_its_verdict_and_no_more() -> None:
    names = {verdicts.ACCEPTED, verdicts.SUCCEEDED, verdicts.FAILED, verdicts.NOT_FOUND}
    assert names == {outcome.value for outcome in Outcome}
