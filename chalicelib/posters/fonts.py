"""The poster fonts built by `make fonts` (scripts/build_fonts.py): where they are and what they cover.

Noto Sans SC in two subset weights for poster copy (GB2312 level 1, ASCII, Latin-1, punctuation,
fullwidth forms and every template string) and a full-coverage Regular fallback for characters
outside the subset (rare names, GB2312 level 2, traditional characters). Coverage is read from the
`<name>.cmap.txt` sidecars written beside each font, so the runtime needs neither fontTools nor PIL.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal, get_args

FONT_DIR = Path(__file__).resolve().parent / "fonts"
FAMILY = "NotoSansSC"

Weight = Literal["regular", "bold"]
WEIGHTS: tuple[Weight, ...] = get_args(Weight)


class FontsMissing(RuntimeError):
    """A font or its coverage sidecar is absent: the fonts are built, never committed."""

    def __init__(self, path: Path) -> None:
        super().__init__(f"poster font {path} is missing; run make fonts")
        self.path = path


def _existing(path: Path) -> Path:
    if not path.is_file():
        raise FontsMissing(path)
    return path


def font_file(weight: Weight) -> Path:
    """The subset font for `weight`: enough for poster copy; check `coverage` before relying on it."""
    if weight not in WEIGHTS:
        raise ValueError(f"weight must be one of {', '.join(WEIGHTS)}, not {weight!r}")
    # FONT_DIR is read at call time so tests can point it elsewhere.
    return _existing(FONT_DIR / f"{FAMILY}-{weight.title()}.ttf")


def fallback_file() -> Path:
    """The Regular weight with every character of the package, for text the subset lacks."""
    return _existing(FONT_DIR / f"{FAMILY}-Fallback.ttf")


def _sidecar(path: Path) -> Path:
    return path.with_suffix(".cmap.txt")


@lru_cache(maxsize=8)
def coverage(path: Path) -> frozenset[int]:
    """Code points the font at `path` maps, from its sidecar of inclusive hex ranges (`4e00-9fff`)."""
    points: set[int] = set()
    for line in _existing(_sidecar(path)).read_text(encoding="ascii").splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        start, _, end = line.partition("-")
        points.update(range(int(start, 16), int(end or start, 16) + 1))
    return frozenset(points)
