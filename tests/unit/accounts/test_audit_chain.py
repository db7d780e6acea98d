"""The audit chain's pure rules: canonical JSON, hashes over the previous link, and where a chain breaks."""

from __future__ import annotations

import dataclasses
import hashlib
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from chalicelib.accounts.rules import audit

AT = "2026-11-24T10:00:00Z"


def chain(length: int) -> list[audit.Entry]:
    entries: list[audit.Entry] = []
    prev = audit.GENESIS
    for seq in range(1, length + 1):
        entry = audit.make_entry(seq, AT, "owner@shop.cn", "campaign.create", f"cmp_{seq}", {"n": seq}, prev)
        entries.append(entry)
        prev = entry.hash
    return entries


def test_canonical_json_has_one_spelling() -> None:
    assert audit.canonical_json({"b": 1, "a": [1, "二"]}) == '{"a":[1,"二"],"b":1}'
    assert audit.canonical_json({"a": [1, "二"], "b": 1}) == audit.canonical_json({"b": 1, "a": [1, "二"]})
    with pytest.raises(ValueError):
        audit.canonical_json({"x": float("nan")})


def test_the_hash_is_sha256_of_the_canonical_document() -> None:
    document = '{"action":"a","actor":"b","at":"t","details":{},"prev_hash":"p","seq":1,"target":"c"}'
    assert audit.entry_hash(1, "t", "b", "a", "c", {}, "p") == hashlib.sha256(document.encode()).hexdigest()


def test_every_field_is_covered() -> None:
    base: dict[str, Any] = {
        "seq": 1,
        "at": AT,
        "actor": "a",
        "action": "x",
        "target": "t",
        "details": {"k": 1},
        "prev_hash": audit.GENESIS,
    }
    changes = {"seq": 2, "at": "2026-11-24T10:00:01Z", "actor": "b", "action": "y", "target": "u",
               "details": {"k": 2}, "prev_hash": "f" * 64}  # fmt: skip
    original = audit.entry_hash(**base)
    for name, value in changes.items():
        assert audit.entry_hash(**{**base, name: value}) != original, name


def test_details_round_trip_as_storage_returns_them() -> None:
    assert audit.json_roundtrip({"fields": ("a", "b"), "n": 1}) == {"fields": ["a", "b"], "n": 1}


def test_an_intact_chain_checks_out_and_matches_its_head() -> None:
    entries = chain(5)
    assert audit.check(entries, 5, entries[-1].hash) is None
    assert audit.check([], 0, audit.GENESIS) is None


def test_a_changed_entry_breaks_at_its_sequence_number() -> None:
    entries = chain(5)
    entries[2] = dataclasses.replace(entries[2], details={"n": 99})
    assert audit.check(entries, 5, entries[-1].hash) == audit.Break(3, audit.HASH_MISMATCH)


def test_a_rehashed_entry_breaks_its_successor() -> None:
    entries = chain(5)
    forged = audit.make_entry(2, AT, "mallory", "campaign.create", "cmp_2", {"n": 2}, entries[0].hash)
    entries[1] = forged
    assert audit.check(entries, 5, entries[-1].hash) == audit.Break(3, audit.PREV_HASH_MISMATCH)


def test_a_missing_entry_is_reported_where_the_gap_starts() -> None:
    entries = chain(5)
    assert audit.check(entries[:1] + entries[2:], 5, entries[-1].hash) == audit.Break(2, audit.MISSING_SEQUENCE)
    assert audit.check(entries[1:], 5, entries[-1].hash) == audit.Break(1, audit.MISSING_SEQUENCE)
    assert audit.check(entries[:4], 5, entries[-1].hash) == audit.Break(5, audit.MISSING_SEQUENCE)


def test_a_head_that_disagrees_is_reported() -> None:
    entries = chain(3)
    assert audit.check(entries, 3, "0" * 64) == audit.Break(3, audit.HEAD_MISMATCH)
    assert audit.check(entries, 2, entries[1].hash) == audit.Break(2, audit.HEAD_MISMATCH)


def test_the_checker_counts_every_entry_after_a_break() -> None:
    entries = chain(4)
    checker = audit.ChainChecker()
    checker.feed([dataclasses.replace(entries[0], actor="x")])
    checker.feed(entries[1:])
    assert checker.entries == 4 and checker.finish(4, entries[-1].hash) == audit.Break(1, audit.HASH_MISMATCH)


@given(st.integers(min_value=1, max_value=12), st.data())
def test_any_single_change_is_caught(length: int, data: st.DataObject) -> None:
    entries = chain(length)
    index = data.draw(st.integers(min_value=0, max_value=length - 1))
    field = data.draw(st.sampled_from(["at", "actor", "action", "target"]))
    entries[index] = dataclasses.replace(entries[index], **{field: getattr(entries[index], field) + "!"})
    assert audit.check(entries, length, entries[-1].hash) == audit.Break(index + 1, audit.HASH_MISMATCH)


def keyed_chain(length: int, legacy: int = 0) -> list[audit.Entry]:
    """`legacy` unkeyed entries, then keyed ones (the MAC here a stand-in: the rules only carry it)."""
    return [e if e.seq <= legacy else dataclasses.replace(e, mac=f"mac-{e.seq}") for e in chain(length)]


def test_the_mac_message_binds_the_tenant_the_position_and_the_hash() -> None:
    message = audit.mac_message("shop", 7, "ab" * 32)
    assert message == b"fission/audit/v1\x00shop\x007\x00" + b"ab" * 32
    assert len({message, audit.mac_message("shop2", 7, "ab" * 32), audit.mac_message("shop", 8, "ab" * 32)}) == 3


def test_the_checker_counts_the_legacy_segment_and_collects_the_keyed_entries() -> None:
    entries = keyed_chain(6, legacy=2)
    checker = audit.ChainChecker()
    checker.feed(entries)

    assert checker.finish(6, entries[-1].hash) is None
    assert checker.legacy == 2
    assert [seq for seq, _, _ in checker.keyed] == [3, 4, 5, 6]
    assert checker.mac_at(4) == "mac-4" and checker.mac_at(2) is None and checker.mac_at(7) is None


def test_an_entry_without_a_mac_after_a_keyed_one_is_a_break() -> None:
    entries = keyed_chain(5)
    entries[3] = dataclasses.replace(entries[3], mac=None)

    assert audit.check(entries, 5, entries[-1].hash) == audit.Break(4, audit.MAC_MISSING, audit.CHECK_MAC)


@pytest.mark.parametrize("bad_from", [None, 0, 1, 17, 63])
def test_bisection_finds_the_first_refused_item_in_about_log2_checks(bad_from: int | None) -> None:
    items = list(range(64))
    calls: list[int] = []

    def valid(i: int) -> bool:
        calls.append(i)
        return bad_from is None or i < bad_from

    assert audit.first_invalid(items, valid) == bad_from
    assert len(calls) == (1 if bad_from is None else 7)


def test_an_anchor_beyond_the_head_or_with_another_mac_is_a_break() -> None:
    anchor = audit.Anchor("shop", 30, "mac-30", "t")

    assert audit.check_anchor(anchor, 30, "mac-30") is None
    assert audit.check_anchor(anchor, 10, None) == audit.Break(30, audit.ANCHOR_BEYOND_HEAD, audit.CHECK_ANCHOR)
    assert audit.check_anchor(anchor, 40, "mac-other") == audit.Break(30, audit.ANCHOR_MISMATCH, audit.CHECK_ANCHOR)
    assert audit.check_anchor(anchor, 40, None) == audit.Break(30, audit.ANCHOR_MISMATCH, audit.CHECK_ANCHOR)


def test_the_earliest_break_is_reported_and_on_a_tie_the_hash_check_first() -> None:
    hash_break = audit.Break(9, audit.HASH_MISMATCH)
    mac_break = audit.Break(4, audit.MAC_MISMATCH, audit.CHECK_MAC)
    anchor_break = audit.Break(9, audit.ANCHOR_MISMATCH, audit.CHECK_ANCHOR)

    assert audit.earliest(hash_break, mac_break, anchor_break) == mac_break
    assert audit.earliest(hash_break, None, anchor_break) == hash_break
    assert audit.earliest(None, None, None) is None
