"""Pydantic validation errors become the API's UNKNOWN_FIELD or VALIDATION_ERROR, naming each field."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from chalicelib.core.errors import ValidationFailed
from chalicelib.core.validation import validation_error


class Inner(BaseModel):
    model_config = ConfigDict(extra="forbid")

    size: int = Field(ge=2)


class Outer(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1)
    inner: Inner
    items: list[Inner] = []


def failure(data: dict[str, Any]) -> ValidationFailed:
    with pytest.raises(ValidationError) as caught:
        Outer.model_validate(data)
    return validation_error(caught.value)


def test_only_unknown_fields_is_unknown_field_listing_their_paths() -> None:
    # GIVEN a body that is valid except for two fields we do not know
    error = failure({"name": "a", "inner": {"size": 2, "colour": "red"}, "extra": 1})

    # THEN the error is UNKNOWN_FIELD and names both, with dotted paths
    assert isinstance(error, ValidationFailed)
    assert error.code == "UNKNOWN_FIELD"
    assert error.status == 422
    assert sorted(error.details["fields"]) == ["extra", "inner.colour"]
    assert set(error.details) == {"fields"}
    assert "inner.colour" in error.message


def test_unknown_field_mixed_with_an_invalid_value_is_validation_error() -> None:
    error = failure({"name": "a", "inner": {"size": 1}, "extra": 1})

    assert error.code == "VALIDATION_ERROR"
    assert sorted(e["type"] for e in error.details["errors"]) == ["extra_forbidden", "greater_than_equal"]


def test_validation_error_details_name_field_type_and_message() -> None:
    error = failure({"name": "", "inner": {"size": 2}, "items": [{"size": 2}, {"size": 0}]})

    assert error.code == "VALIDATION_ERROR"
    assert error.status == 422
    assert set(error.details) == {"errors"}
    errors = error.details["errors"]
    assert [(e["field"], e["type"]) for e in errors] == [
        ("name", "string_too_short"),
        ("items.1.size", "greater_than_equal"),
    ]
    assert all(set(e) == {"field", "type", "message"} for e in errors)
    assert all(isinstance(e["message"], str) and e["message"] for e in errors)


def test_validation_error_message_starts_with_the_first_field() -> None:
    error = failure({"name": "a", "inner": {"size": "big"}})

    assert error.message.startswith("inner.size: ")


def test_a_missing_required_field_is_validation_error() -> None:
    error = failure({"name": "a"})

    assert error.details["errors"] == [{"field": "inner", "type": "missing", "message": "Field required"}]


def test_a_whole_body_error_is_reported_against_the_body() -> None:
    with pytest.raises(ValidationError) as caught:
        Outer.model_validate("not an object")

    error = validation_error(caught.value)

    assert error.code == "VALIDATION_ERROR"
    assert error.details["errors"][0]["field"] == ""
    assert error.message.startswith("body: ")


def test_error_body_carries_code_message_and_details() -> None:
    error = failure({"name": "a", "inner": {"size": 2}, "extra": 1})

    assert error.to_body() == {
        "error": {"code": "UNKNOWN_FIELD", "message": "unknown field(s): extra", "details": {"fields": ["extra"]}}
    }
