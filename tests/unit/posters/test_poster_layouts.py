"""Poster layouts: the data files validate, the validation catches unusable layouts, templates point at real ones."""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

import pytest
from pydantic import ValidationError

from chalicelib.campaigns.rules import poster_layouts as catalog
from chalicelib.campaigns.rules import spec as campaigns
from chalicelib.campaigns.rules import templates as lib
from chalicelib.posters import layouts

ROOT = layouts.LAYOUT_DIR.parents[2]
NOW = lib._SAMPLE_NOW


def document(layout_id: str = "classic") -> dict[str, Any]:
    raw: dict[str, Any] = json.loads((layouts.LAYOUT_DIR / f"{layout_id}.json").read_text(encoding="utf-8"))
    return raw


def test_there_are_six_or_more_layouts_and_the_catalog_matches_the_files() -> None:
    assert len(layouts.LAYOUT_IDS) >= 6
    assert layouts.LAYOUT_IDS == tuple(sorted(catalog.KNOWN_LAYOUTS))
    assert catalog.DEFAULT_LAYOUT in layouts.LAYOUT_IDS


@pytest.mark.parametrize("layout_id", layouts.LAYOUT_IDS)
def test_every_layout_loads_and_has_a_stable_canonical_form(layout_id: str) -> None:
    layout = layouts.load(layout_id)
    assert layout.id == layout_id and layouts.load(layout_id) is layout
    canonical = json.loads(layout.canonical_json())
    assert canonical["layout_version"] == layouts.LAYOUT_VERSION
    assert layouts.Layout.model_validate(canonical["layout"]) == layout
    assert layout.canonical_json() == layouts.Layout.model_validate(document(layout_id)).canonical_json()


def test_the_layouts_are_distinct() -> None:
    designs = {
        json.dumps({k: v for k, v in document(i).items() if k not in ("id", "name")}) for i in layouts.LAYOUT_IDS
    }
    assert len(designs) == len(layouts.LAYOUT_IDS)
    kinds = {layouts.load(i).background.kind for i in layouts.LAYOUT_IDS}
    assert kinds == {"solid", "gradient", "image"}
    assert any(layouts.load(i).qr.logo for i in layouts.LAYOUT_IDS)


def test_an_unknown_layout_is_a_key_error() -> None:
    with pytest.raises(KeyError):
        layouts.load("nope")


def _invalid(doc: dict[str, Any], match: str) -> None:
    with pytest.raises(ValidationError, match=match):
        layouts.Layout.model_validate(doc)


def test_a_box_off_the_canvas_is_rejected() -> None:
    doc = document()
    doc["body"]["box"]["x"] = 700
    _invalid(doc, "does not fit the 750x1334 canvas")


def test_a_qr_block_too_small_to_scan_is_rejected() -> None:
    doc = document()
    doc["qr"]["size"] = 180
    _invalid(doc, "at least 200 px")


@pytest.mark.parametrize(
    ("dark", "light", "match"),
    [("#777777", "#888888", "contrast"), ("#ffffff", "#000000", "darker"), ("#00000080", "#ffffff", "opaque")],
)
def test_qr_colours_must_scan(dark: str, light: str, match: str) -> None:
    doc = document()
    doc["qr"].update(dark=dark, light=light)
    _invalid(doc, match)


def test_a_quiet_zone_under_four_modules_is_rejected() -> None:
    doc = document()
    doc["qr"]["quiet_zone"] = 2
    _invalid(doc, "quiet_zone")


def test_text_over_the_qr_code_is_rejected() -> None:
    doc = document()
    doc["qr_caption"]["box"]["y"] = doc["qr"]["y"] + 10
    _invalid(doc, "qr_caption overlaps the QR code")


def test_a_box_too_short_for_its_lines_is_rejected() -> None:
    doc = document()
    doc["body"]["max_lines"] = 8
    _invalid(doc, "do not fit a box")


@pytest.mark.parametrize("colour", ["red", "#fff", "#12345g", "#1234567"])
def test_bad_colours_are_rejected(colour: str) -> None:
    doc = document()
    doc["title"]["color"] = colour
    _invalid(doc, "color")


def test_unknown_fields_and_missing_assets_are_rejected() -> None:
    doc = document()
    doc["title"]["shadow"] = True
    _invalid(doc, "shadow")
    doc = document()
    doc["qr"]["logo"] = "missing.png"
    _invalid(doc, "no asset")
    doc = document()
    doc["background"] = {"kind": "image", "asset": "missing.png"}
    _invalid(doc, "no asset")


def test_rgba_parses_both_forms_and_contrast_is_wcag() -> None:
    assert layouts.rgba("#ff8000") == (255, 128, 0, 255)
    assert layouts.rgba("#FF800080") == (255, 128, 0, 128)
    assert layouts.contrast("#000000", "#ffffff") == pytest.approx(21)


POSTER_TEMPLATES = [t.id for t in lib.library().values() if t.mode is campaigns.Mode.POSTER]


def test_there_are_poster_templates() -> None:
    assert POSTER_TEMPLATES


@pytest.mark.parametrize("language", lib.LANGUAGES)
@pytest.mark.parametrize("template_id", POSTER_TEMPLATES)
def test_every_poster_template_points_at_a_layout(template_id: str, language: lib.Language) -> None:
    template = lib.library()[template_id]
    assert "layout_id" in template.defaults["rules"], "name the layout explicitly"
    spec = campaigns.parse_spec(lib.instantiate(template, {}, NOW, language))
    assert isinstance(spec, campaigns.PosterCampaign)
    assert spec.rules.layout_id in layouts.LAYOUT_IDS
    layouts.load(spec.rules.layout_id)


def test_poster_templates_use_more_than_one_layout() -> None:
    used = {lib.library()[t].defaults["rules"]["layout_id"] for t in POSTER_TEMPLATES}
    assert len(used) >= min(3, len(POSTER_TEMPLATES))


def test_a_campaign_with_an_unknown_layout_is_rejected() -> None:
    template = lib.library()[POSTER_TEMPLATES[0]]
    good = lib.instantiate(template, {}, NOW)
    bad = lib.instantiate(template, {"rules": {"layout_id": "no-such-layout"}}, NOW)
    campaigns.parse_spec(good)
    with pytest.raises(ValidationError, match="unknown poster layout"):
        campaigns.parse_spec(bad)


def test_importing_the_app_and_campaign_rules_loads_no_imaging_library() -> None:
    code = (
        "import sys, app, chalicelib.campaigns.rules.spec, chalicelib.campaigns.rules.poster_layouts; "
        "assert 'PIL' not in sys.modules and 'qrcode' not in sys.modules, sorted(sys.modules)"
    )
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr[-2000:]
