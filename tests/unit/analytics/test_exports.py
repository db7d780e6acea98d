"""CSV rows of exports: columns per kind, masking, escaping and the formula guard."""

from __future__ import annotations

import csv
import io

import pytest
from pydantic import ValidationError

from chalicelib.analytics.rules.exports import HEADERS, ExportRequest, Kind, guard, header, render, rows
from chalicelib.modes.distribution.rules.records import LedgerEntry
from chalicelib.referral.rules.records import RewardRecord, TreeNode
from chalicelib.security.pii import mask_name
from chalicelib.table import keys

pytestmark = pytest.mark.unit


@pytest.mark.parametrize("text", ["=1+1", "+SUM(A1)", "-2", "@cmd", "\tx", "\rx"])
def test_text_a_spreadsheet_would_run_gets_a_leading_quote(text: str) -> None:
    assert guard(text) == "'" + text


def test_plain_text_numbers_and_missing_values_pass_as_they_are() -> None:
    assert (guard("Alice"), guard("a=b"), guard(-300), guard(0), guard(None), guard("")) == (
        "Alice", "a=b", "-300", "0", "", "",
    )  # fmt: skip


def test_rendered_rows_parse_back_with_commas_quotes_and_newlines_intact() -> None:
    tricky: list[str | int | None] = ["a,b", 'say "hi"', "two\nlines", '=HYPERLINK("x")', 5]
    text = render([tricky])
    assert text.endswith("\r\n")
    (parsed,) = list(csv.reader(io.StringIO(text, newline="")))
    assert parsed == ["a,b", 'say "hi"', "two\nlines", '\'=HYPERLINK("x")', "5"]


def test_participant_rows_mask_the_nickname_and_count_qualified_invitees() -> None:
    item = TreeNode(
        code="ABC123", nickname="张三丰", channel="wechat", joined_at="2026-11-01T00:00:00Z", inviter="XYZ",
        qualified_at=None, counted=frozenset({"q1", "q2"}), variant="b", depth=2,
    )  # fmt: skip
    (row,) = rows(Kind.PARTICIPANTS, item, [], mask_name)
    assert row == ["ABC123", "张**", "wechat", "2026-11-01T00:00:00Z", "XYZ", None, 2, "b", 2]
    assert len(row) == len(HEADERS[Kind.PARTICIPANTS])
    assert "v1.secret" not in render([row])


def test_referral_rows_only_for_invited_participants() -> None:
    invited = TreeNode(code="B", inviter="A", joined_at="t", qualified_at="q", channel=None)
    assert rows(Kind.REFERRALS, invited, [], mask_name) == [["A", "B", "t", "q", None]]
    assert rows(Kind.REFERRALS, TreeNode(code="A"), [], mask_name) == []


def test_reward_and_ledger_rows_come_from_the_participants_own_items() -> None:
    reward = RewardRecord(
        cid="c1", tid="t1", code="A", rule="m1", type="coupon", name="=5 off", value_fen=500, points=0,
        status="claimed", created_at="c", claimed_at="d",
    )  # fmt: skip
    assert rows(Kind.REWARDS, TreeNode(code="A"), [reward], mask_name) == [
        ["A", "m1", "coupon", "=5 off", 500, "claimed", "c", "d"]
    ]
    earned = LedgerEntry(key="LEDGER#ord#7#1", level=1, amount_fen=990, available_at="t")
    clawed = LedgerEntry(key="LEDGER#ord#7#1#CLAWBACK", level=1, amount_fen=-990, available_at="t")
    assert rows(Kind.LEDGER, TreeNode(code="A"), [earned, clawed], mask_name) == [
        ["A", "ord#7", 1, 990, "t"],
        ["A", "ord#7", 1, -990, "t"],
    ]
    assert "'-990" not in render(rows(Kind.LEDGER, TreeNode(code="A"), [clawed], mask_name))


def test_every_kind_has_a_header_and_the_request_names_one() -> None:
    assert header(Kind.LEDGER) == "code,order_id,level,amount_fen,available_at\r\n"
    assert ExportRequest.model_validate({"campaign_id": "cmp_1", "kind": "rewards"}).kind is Kind.REWARDS
    for bad in (
        {"campaign_id": "cmp_1", "kind": "all"},
        {"kind": "ledger"},
        {"campaign_id": "c", "kind": "ledger", "x": 1},
    ):
        with pytest.raises(ValidationError):
            ExportRequest.model_validate(bad)


def test_participants_spread_over_sixteen_shards_and_only_the_invited_are_children() -> None:
    shards = {keys.participant_shard(f"code{i}") for i in range(400)}
    assert shards == set(range(keys.PARTICIPANT_SHARDS))
    assert keys.participant_index_keys("c1", "AB", "2026-11-01T00:00:00Z", None) == (
        f"C#c1#P#{keys.participant_shard('AB')}", "2026-11-01T00:00:00Z#AB", None, None,
    )  # fmt: skip
    assert keys.participant_index_keys("c1", "AB", "t", "XY")[2:] == ("CH#XY", "t#AB")
