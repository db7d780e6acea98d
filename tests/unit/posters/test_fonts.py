"""The poster fonts built by `make fonts`: the subsets cover poster copy, the fallback covers more."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from chalicelib.posters import fonts

TEMPLATE_DIR = Path(fonts.__file__).resolve().parents[1] / "campaigns" / "library"


def _gb2312_level1() -> set[int]:
    # Rows 16-55 of GB2312, as EUC-CN byte pairs; five cells at the end of row 55 are unassigned.
    points = set()
    for row in range(16, 56):
        for cell in range(1, 95):
            try:
                points.add(ord(bytes([0xA0 + row, 0xA0 + cell]).decode("gb2312")))
            except UnicodeDecodeError:
                continue
    return points


def _strings(value: object) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield key
            yield from _strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)


def _template_chars() -> set[int]:
    return {
        ord(char)
        for path in TEMPLATE_DIR.glob("*.json")
        for text in _strings(json.loads(path.read_text(encoding="utf-8")))
        for char in text
        if char.isprintable()
    }


@pytest.fixture(params=fonts.WEIGHTS)
def subset(request: pytest.FixtureRequest) -> frozenset[int]:
    return fonts.coverage(fonts.font_file(request.param))


def test_gb2312_level1_is_3755_hanzi() -> None:
    assert len(_gb2312_level1()) == 3755


def test_subset_covers_gb2312_level1_ascii_and_chinese_punctuation(subset: frozenset[int]) -> None:
    assert _gb2312_level1() <= subset
    assert set(range(0x20, 0x7F)) <= subset
    assert {ord(char) for char in "，。、；：？！（）《》【】「」—…“”‘’·•¥￥×÷°　"} <= subset


def test_subset_covers_every_template_character(subset: frozenset[int]) -> None:
    chars = _template_chars()
    assert len(chars) > 100, "the templates should hold Chinese copy"
    assert not {chr(point) for point in chars - subset}


def test_fallback_covers_the_subset_and_rare_and_traditional_characters() -> None:
    regular = fonts.coverage(fonts.font_file("regular"))
    fallback = fonts.coverage(fonts.fallback_file())
    assert regular < fallback
    # 亍 is GB2312 level 2, 龍 and 體 traditional, 㐀 CJK extension A.
    for char in "亍龍體㐀":
        assert ord(char) not in regular
        assert ord(char) in fallback
    assert len(fallback) > 20_000


def test_fonts_are_truetype_files_beside_their_licence() -> None:
    for path in (fonts.font_file("regular"), fonts.font_file("bold"), fonts.fallback_file()):
        assert path.read_bytes()[:4] == b"\x00\x01\x00\x00"
    assert "SIL Open Font License" in (fonts.FONT_DIR / "OFL.txt").read_text()


def test_missing_fonts_name_the_fix(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(fonts, "FONT_DIR", tmp_path)
    with pytest.raises(fonts.FontsMissing, match="run make fonts"):
        fonts.font_file("bold")
    with pytest.raises(fonts.FontsMissing, match="run make fonts"):
        fonts.fallback_file()
    with pytest.raises(fonts.FontsMissing, match="run make fonts"):
        fonts.coverage(tmp_path / "NotoSansSC-Regular.ttf")
    assert issubclass(fonts.FontsMissing, RuntimeError)


def test_unknown_weight_is_refused() -> None:
    with pytest.raises(ValueError, match="weight must be one of"):
        fonts.font_file("light")  # type: ignore[arg-type]


def test_coverage_reads_single_points_and_ranges_and_skips_comments(tmp_path: Path) -> None:
    (tmp_path / "X.cmap.txt").write_text("# comment\n0041-0043\n4e00\n\n")
    assert fonts.coverage(tmp_path / "X.ttf") == frozenset({0x41, 0x42, 0x43, 0x4E00})
