"""The campaign document attribute: a native map whose numbers come back as exact ints, and JSON text read too."""

from __future__ import annotations

import json
from typing import Any

import pytest

from chalicelib.table.models import DocumentAttribute

DOCUMENT: dict[str, Any] = {
    "title": "拼团",
    "description": "",
    "budget_fen": 10_000_000_000,
    "huge": 10**37 + 1,  # beyond a float's 53 bits, within DynamoDB's 38 digits
    "negative": -7,
    "enabled": True,
    "off": False,
    "nothing": None,
    "share": {"text": "", "tags": ["", "a"], "empty": {}, "none": []},
}


def _stored(document: dict[str, Any]) -> dict[str, Any]:
    """What DynamoDB holds for the attribute: the serialised value under its type."""
    attribute = DocumentAttribute()
    return {attribute.attr_type: attribute.serialize(document)}


def _read(stored: dict[str, Any]) -> dict[str, Any]:
    attribute = DocumentAttribute()
    return attribute.deserialize(attribute.get_value(stored))


def _types(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _types(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_types(v) for v in value]
    return type(value)


def test_a_document_round_trips_through_a_map_with_ints_bools_nulls_and_empty_strings() -> None:
    stored = _stored(DOCUMENT)

    assert set(stored) == {"M"}
    assert stored["M"]["budget_fen"] == {"N": "10000000000"} and stored["M"]["enabled"] == {"BOOL": True}
    assert stored["M"]["share"]["M"]["tags"] == {"L": [{"S": ""}, {"S": "a"}]}
    back = _read(stored)
    assert back == DOCUMENT and _types(back) == _types(DOCUMENT)


def test_numbers_as_dynamodb_returns_them_read_as_exact_ints() -> None:
    stored = {"M": {"a": {"N": "12345678901234567890123456789012345678"}, "b": {"N": "5.000"}, "c": {"N": "-0"}}}

    back = _read(stored)

    assert back == {"a": 12345678901234567890123456789012345678, "b": 5, "c": 0}
    assert {type(v) for v in back.values()} == {int}


def test_a_document_stored_as_json_text_reads_the_same() -> None:
    assert _read({"S": json.dumps(DOCUMENT)}) == DOCUMENT


@pytest.mark.parametrize("value", [0.5, 1.0, {1, 2}, b"x"])
def test_values_that_are_not_json_with_whole_numbers_are_refused_on_write(value: Any) -> None:
    with pytest.raises(TypeError):
        _stored({"x": value})


@pytest.mark.parametrize(
    "stored",
    [{"M": {"x": {"N": "1.5"}}}, {"S": "[1, 2]"}, {"M": {"x": {"SS": ["a"]}}}, {"N": "1"}],
)
def test_what_is_not_a_document_of_whole_numbers_is_refused_on_read(stored: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        _read(stored)
