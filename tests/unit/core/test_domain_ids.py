"""Identifiers: prefixed, URL-safe, unique and ordered by creation time."""

from __future__ import annotations

import re
from types import SimpleNamespace

import pytest

from chalicelib.core import ids
from chalicelib.core.ids import new_id

ID_RE = re.compile(r"^cmp_[0-9abcdefghjkmnpqrstvwxyz]{19}$")


def test_id_is_the_prefix_and_nineteen_url_safe_characters() -> None:
    assert ID_RE.match(new_id("cmp"))


def test_ten_thousand_ids_are_unique() -> None:
    made = [new_id("cmp") for _ in range(10_000)]

    assert len(set(made)) == len(made)


def test_ids_made_one_after_another_sort_by_their_time_part() -> None:
    made = [new_id("cmp") for _ in range(2_000)]

    time_parts = [value[4:13] for value in made]
    assert time_parts == sorted(time_parts)


def test_an_id_from_a_later_millisecond_sorts_after_whatever_its_random_part(monkeypatch: pytest.MonkeyPatch) -> None:
    # GIVEN a clock we control
    clock = SimpleNamespace(time=lambda: 1_790_000_000.000)
    monkeypatch.setattr(ids, "time", clock)
    earlier = [new_id("cmp") for _ in range(200)]

    # WHEN the clock moves on by one millisecond
    clock.time = lambda: 1_790_000_000.001
    later = [new_id("cmp") for _ in range(200)]

    # THEN every later id sorts after every earlier one
    assert max(earlier) < min(later)
