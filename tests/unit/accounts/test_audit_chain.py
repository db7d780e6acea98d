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
