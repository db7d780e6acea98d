"""The template library: listing it, and turning a create body that names a template into a campaign document."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import TypeAdapter, ValidationError

from chalicelib.campaigns.rules import templates as domain
from chalicelib.campaigns.rules.spec import Mode
from chalicelib.core.errors import ValidationFailed
from chalicelib.core.validation import validation_error

_LANGUAGE: TypeAdapter[domain.Language] = TypeAdapter(domain.Language)


def _invalid(field: str, allowed: list[str]) -> ValidationFailed:
    return ValidationFailed(
        f"{field} must be one of {', '.join(allowed)}",
        details={"errors": [{"field": field, "type": "enum", "message": "|".join(allowed)}]},
    )


def catalogue(*, industry: str | None, mode: str | None, language: str | None) -> dict[str, Any]:
    """Templates matching the filters, described in `language` (Chinese unless asked otherwise)."""
    if mode is not None and mode not in {m.value for m in Mode}:
        raise _invalid("mode", [m.value for m in Mode])
    try:
        chosen = _LANGUAGE.validate_python(language or domain.DEFAULT_LANGUAGE)
    except ValidationError:
        raise _invalid("lang", list(domain.LANGUAGES)) from None
    found = domain.select(industry, Mode(mode) if mode is not None else None)
    return {"items": [domain.describe(template, chosen) for template in found]}


def expand(body: dict[str, Any], now: datetime) -> dict[str, Any]:
    """The campaign document a create body describes (the body itself unless it names a `template_id`)."""
    try:
        return domain.document_for(body, now)
    except ValidationError as exc:
        raise validation_error(exc) from exc
