"""Turns pydantic validation errors into the API's error codes."""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError

from chalicelib.core.codes import Code
from chalicelib.core.errors import ValidationFailed


def _loc(parts: tuple[int | str, ...]) -> str:
    return ".".join(str(p) for p in parts)


def validation_error(exc: ValidationError) -> ValidationFailed:
    """`UNKNOWN_FIELD` when the only problem is fields we do not know, else `VALIDATION_ERROR`."""
    errors: list[dict[str, Any]] = [
        {"field": _loc(e["loc"]), "type": e["type"], "message": e["msg"]} for e in exc.errors(include_url=False)
    ]
    unknown = [e["field"] for e in errors if e["type"] == "extra_forbidden"]
    if unknown and len(unknown) == len(errors):
        return ValidationFailed(
            f"unknown field(s): {', '.join(unknown)}", code=Code.UNKNOWN_FIELD, details={"fields": unknown}
        )
    first = errors[0]
    return ValidationFailed(
        f"{first['field'] or 'body'}: {first['message']}", code=Code.VALIDATION_ERROR, details={"errors": errors}
    )
