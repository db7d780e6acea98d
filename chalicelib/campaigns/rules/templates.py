"""The template library: ready-made campaigns per industry, loaded from chalicelib/campaigns/library/*.json.

Each file is named after an industry and holds a JSON array of templates of that industry::

    {
      "id": "coffee-bogo-group-buy",          # unique, lower-case, <= 64 characters
      "industry": "coffee",                   # one of Industry; the same as the file name
      "mode": "group_buy",                    # one of campaigns.Mode
      "name": {"zh": "...", "en": "..."},     # what the library lists
      "summary": {"zh": "...", "en": "..."},
      "duration_days": 7,                     # ends_at = starts_at + duration_days
      "defaults": {"rules": {...}, ...},      # the campaign document without mode, window or copy
      "copy": {"zh": {"title", "description", "share": {"title", "text"}, "rule_text"}, "en": {...}}
    }

Text participants see inside `defaults` (reward and product names) is written as `{"zh": ..., "en": ...}`
and resolved to one language when a campaign is made. Every template is validated for both languages with the
campaign schema (`campaigns.parse_spec`) when the library is first loaded, so a bad file fails loudly at once.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from functools import cache
from pathlib import Path
from typing import Any, Literal, get_args

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, TypeAdapter, ValidationError, model_validator

from chalicelib.campaigns.rules.spec import MAX_CAMPAIGN_DAYS, Mode, Strict, merge_patch, parse_spec
from chalicelib.core.clock import iso
from chalicelib.core.codes import Code
from chalicelib.core.errors import NotFound, ValidationFailed

DATA_DIR = Path(__file__).resolve().parent.parent / "library"

Language = Literal["zh", "en"]
LANGUAGES: tuple[Language, ...] = get_args(Language)
DEFAULT_LANGUAGE: Language = "zh"

# Fields a template supplies itself (mode, window, copy) or a create sets (template_id): never in `defaults`.
_NOT_DEFAULTS = frozenset({"mode", "starts_at", "ends_at", "title", "description", "share", "rule_text", "template_id"})
_AWARE_TIME: TypeAdapter[datetime] = TypeAdapter(AwareDatetime)
# Checks and previews need some window; any fixed moment does, and keeps them deterministic.
_SAMPLE_NOW = datetime(2026, 1, 1, tzinfo=UTC)


class Industry(StrEnum):
    EDUCATION = "education"
    RESTAURANT = "restaurant"
    COFFEE = "coffee"
    BEAUTY = "beauty"
    ECOMMERCE = "ecommerce"
    RETAIL_CHAIN = "retail_chain"
    LOCAL_SERVICES = "local_services"
    SAAS = "saas"


class Localized(Strict):
    zh: str = Field(min_length=1)
    en: str = Field(min_length=1)


class ShareText(Strict):
    title: str = Field(min_length=1, max_length=60)
    text: str = Field(min_length=1, max_length=300)


class Copy(Strict):
    """A template's copy in one language; every field is required so no language ships half translated."""

    title: str = Field(min_length=1, max_length=80)
    description: str = Field(min_length=1, max_length=2000)
    share: ShareText
    rule_text: str = Field(min_length=1, max_length=5000)


class Copies(Strict):
    zh: Copy
    en: Copy


class Template(Strict):
    model_config = ConfigDict(frozen=True)

    id: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]{2,63}$")
    industry: Industry
    mode: Mode
    name: Localized
    summary: Localized
    duration_days: int = Field(ge=1, le=MAX_CAMPAIGN_DAYS)
    defaults: dict[str, Any]
    # `copy` would shadow BaseModel.copy, so the attribute has another name.
    texts: Copies = Field(alias="copy")

    @model_validator(mode="after")
    def _defaults_hold_no_copy_or_window(self) -> Template:
        clash = sorted(_NOT_DEFAULTS & set(self.defaults))
        if clash:
            raise ValueError(f"defaults must not set {', '.join(clash)}; the template supplies them")
        if not isinstance(self.defaults.get("rules"), dict):
            raise ValueError("defaults need the mode's rules")
        return self

    def copy_in(self, language: Language) -> Copy:
        return self.texts.zh if language == "zh" else self.texts.en


class CampaignFromTemplate(BaseModel):
    """Create a campaign from a template: every other field of the body overrides the template's document."""

    model_config = ConfigDict(extra="allow", title="CampaignFromTemplate")

    template_id: str = Field(min_length=1, max_length=64, description="A template id from GET /v1/admin/templates.")
    language: Language = Field(default=DEFAULT_LANGUAGE, description="The language of the template's copy.")


def localize(value: Any, language: Language) -> Any:
    """`value` with every `{"zh": ..., "en": ...}` object replaced by the text in `language`."""
    if isinstance(value, dict):
        if set(value) == set(LANGUAGES):
            return value[language]
        return {key: localize(item, language) for key, item in value.items()}
    if isinstance(value, list):
        return [localize(item, language) for item in value]
    return value


def _window(template: Template, overrides: dict[str, Any], now: datetime) -> dict[str, str]:
    # Rounded down, not to the nearest minute, so a campaign made from a template is live as soon as it is published.
    starts = now.astimezone(UTC).replace(second=0, microsecond=0)
    given = overrides.get("starts_at")
    if given is not None:
        try:
            starts = _AWARE_TIME.validate_python(given)
        except ValidationError:
            pass  # the campaign schema reports the bad starts_at; the end stays relative to now
    return {"starts_at": iso(starts), "ends_at": iso(starts + timedelta(days=template.duration_days))}


def instantiate(
    template: Template, overrides: dict[str, Any], now: datetime, language: Language = DEFAULT_LANGUAGE
) -> dict[str, Any]:
    """The campaign document `template` describes in `language`, with `overrides` merged in (RFC 7386).

    The window starts now (to the minute) and lasts the template's `duration_days`; an overridden `starts_at`
    moves the end with it unless `ends_at` is overridden too. The result is not validated yet.
    """
    if "mode" in overrides and overrides["mode"] != template.mode.value:
        raise ValidationFailed(
            f"template {template.id} makes a {template.mode.value} campaign; its mode cannot change",
            code=Code.MODE_IMMUTABLE,
            details={"template_id": template.id, "mode": template.mode.value},
        )
    document: dict[str, Any] = {
        "mode": template.mode.value,
        **_window(template, overrides, now),
        **template.copy_in(language).model_dump(),
        **localize(template.defaults, language),
    }
    merged = merge_patch(document, overrides)
    merged["template_id"] = template.id
    return merged


def _read(path: Path) -> list[Template]:
    raw = json.loads(path.read_text(encoding="utf-8"))
    if not isinstance(raw, list):
        raise ValueError(f"{path.name}: expected a JSON array of templates")
    found = [Template.model_validate(item) for item in raw]
    for template in found:
        if template.industry.value != path.stem:
            raise ValueError(f"{path.name}: template {template.id} is of industry {template.industry.value}")
    return found


def _check(template: Template) -> None:
    """Every template must make a valid campaign in every language, with nothing overridden."""
    for language in LANGUAGES:
        try:
            parse_spec(instantiate(template, {}, _SAMPLE_NOW, language))
        except ValidationError as exc:
            raise ValueError(f"template {template.id} ({language}) is not a valid campaign:\n{exc}") from exc


@cache
def library() -> dict[str, Template]:
    """Every template by id, in a stable order (industry, then id); read and validated once per process."""
    templates: dict[str, Template] = {}
    for path in sorted(DATA_DIR.glob("*.json")):
        for template in _read(path):
            if template.id in templates:
                raise ValueError(f"{path.name}: template id {template.id} is used twice")
            _check(template)
            templates[template.id] = template
    return dict(sorted(templates.items(), key=lambda item: (item[1].industry.value, item[0])))


def find(template_id: str) -> Template:
    template = library().get(template_id)
    if template is None:
        raise NotFound(
            f"no template {template_id!r}", code=Code.TEMPLATE_NOT_FOUND, details={"template_id": template_id}
        )
    return template


def select(industry: str | None = None, mode: Mode | None = None) -> list[Template]:
    """Templates of `industry` and `mode` (either may be None for all); an unknown industry matches none."""
    return [
        t
        for t in library().values()
        if (industry is None or t.industry.value == industry) and (mode is None or t.mode is mode)
    ]


def describe(template: Template, language: Language) -> dict[str, Any]:
    """A library entry: what the template is and the rules a campaign made from it starts with (defaults filled)."""
    preview = parse_spec(instantiate(template, {}, _SAMPLE_NOW, language))
    return {
        "id": template.id,
        "industry": template.industry.value,
        "mode": template.mode.value,
        "language": language,
        "name": getattr(template.name, language),
        "summary": getattr(template.summary, language),
        "duration_days": template.duration_days,
        "copy": template.copy_in(language).model_dump(),
        "rules": preview.rules.model_dump(mode="json", exclude_none=True),
    }


def document_for(body: dict[str, Any], now: datetime) -> dict[str, Any]:
    """The campaign document a create body describes: the body itself, or the template's with the rest as overrides.

    Raises pydantic.ValidationError for a malformed `template_id` or `language`, NotFound for an unknown template.
    """
    if body.get("template_id") is None:
        return body
    request = CampaignFromTemplate.model_validate(
        {key: body[key] for key in ("template_id", "language") if key in body}
    )
    overrides = {key: value for key, value in body.items() if key not in ("template_id", "language")}
    return instantiate(find(request.template_id), overrides, now, request.language)
