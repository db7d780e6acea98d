"""Poster layouts as data: one validated JSON file per layout in `layouts/`, shipped with the code.

A layout is checked when it is loaded: every block must sit on the canvas, no text or avatar may cover the QR
code, the QR block must be large enough to scan from a phone screen with a proper quiet zone, and the QR colours
must contrast. A layout that would produce an unscannable or clipped poster therefore never reaches the renderer.
"""

from __future__ import annotations

import json
import re
from functools import cache
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from chalicelib.campaigns.rules.poster_layouts import KNOWN_LAYOUTS

LAYOUT_DIR = Path(__file__).resolve().parent / "layouts"
ASSET_DIR = Path(__file__).resolve().parent / "assets"
# Bumped whenever the renderer draws the same layout and fields differently, so cached posters are redrawn.
LAYOUT_VERSION = 1
# The smallest QR block (quiet zone included) on a 750 px wide canvas; scales with the canvas width.
MIN_QR_PX_AT_750 = 200
MIN_QUIET_ZONE = 4
MIN_QR_CONTRAST = 4.5

Color = Annotated[str, Field(pattern=r"^#[0-9a-fA-F]{6}([0-9a-fA-F]{2})?$", description="#rrggbb or #rrggbbaa")]
AssetName = Annotated[str, Field(pattern=r"^[a-z0-9_-]+\.(png|jpg)$")]
_HEX = re.compile(r"[0-9a-fA-F]{2}")


def rgba(color: str) -> tuple[int, int, int, int]:
    """`#rrggbb` or `#rrggbbaa` as an RGBA tuple (opaque when no alpha is given)."""
    parts = [int(pair, 16) for pair in _HEX.findall(color[1:])]
    return (parts[0], parts[1], parts[2], parts[3] if len(parts) == 4 else 255)


def rgb(color: str) -> tuple[int, int, int]:
    r, g, b, _ = rgba(color)
    return (r, g, b)


def _luminance(color: str) -> float:
    def channel(value: int) -> float:
        c = value / 255
        return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4

    r, g, b = rgb(color)
    return 0.2126 * channel(r) + 0.7152 * channel(g) + 0.0722 * channel(b)


def contrast(a: str, b: str) -> float:
    """WCAG contrast ratio of two opaque colours (1 to 21)."""
    high, low = sorted((_luminance(a), _luminance(b)), reverse=True)
    return (high + 0.05) / (low + 0.05)


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Box(Strict):
    x: int = Field(ge=0)
    y: int = Field(ge=0)
    w: int = Field(ge=1)
    h: int = Field(ge=1)

    @property
    def right(self) -> int:
        return self.x + self.w

    @property
    def bottom(self) -> int:
        return self.y + self.h

    def overlaps(self, other: Box) -> bool:
        return self.x < other.right and other.x < self.right and self.y < other.bottom and other.y < self.bottom


class Canvas(Strict):
    width: int = Field(default=750, ge=320, le=2000)
    height: int = Field(default=1334, ge=320, le=4000)


class SolidBackground(Strict):
    kind: Literal["solid"]
    color: Color


class GradientBackground(Strict):
    kind: Literal["gradient"]
    start: Color
    end: Color
    direction: Literal["vertical", "horizontal", "diagonal"] = "vertical"


class ImageBackground(Strict):
    """An image shipped in `assets/`, scaled to cover the canvas, optionally under a tint."""

    kind: Literal["image"]
    asset: AssetName
    tint: Color | None = None

    @field_validator("asset")
    @classmethod
    def _shipped(cls, value: str) -> str:
        if not (ASSET_DIR / value).is_file():
            raise ValueError(f"no asset {value!r} in {ASSET_DIR.name}/")
        return value


Background = Annotated[SolidBackground | GradientBackground | ImageBackground, Field(discriminator="kind")]


class Panel(Strict):
    """A static rounded rectangle (a card behind the QR code, a banner), drawn once per layout."""

    box: Box
    color: Color
    radius: int = Field(default=0, ge=0, le=400)


class AvatarBlock(Strict):
    x: int = Field(ge=0)
    y: int = Field(ge=0)
    size: int = Field(ge=48, le=600)
    ring_color: Color | None = None
    ring_width: int = Field(default=0, ge=0, le=20)

    @property
    def box(self) -> Box:
        return Box(x=self.x, y=self.y, w=self.size, h=self.size)


class TextBlock(Strict):
    """Text wrapped into `box`: at most `max_lines` lines, an ellipsis when it does not fit."""

    box: Box
    size: int = Field(ge=12, le=160)
    weight: Literal["regular", "bold"] = "regular"
    color: Color
    align: Literal["left", "center", "right"] = "left"
    max_lines: int = Field(default=1, ge=1, le=20)
    # At least 1.3 so the ink of accented capitals and descenders stays inside the line.
    line_height: float = Field(default=1.4, ge=1.3, le=2.5)

    @property
    def line_px(self) -> int:
        return round(self.size * self.line_height)

    @model_validator(mode="after")
    def _lines_fit(self) -> TextBlock:
        if self.max_lines * self.line_px > self.box.h:
            raise ValueError(f"{self.max_lines} line(s) of {self.line_px} px do not fit a box {self.box.h} px high")
        if self.box.w < 2 * self.size:
            raise ValueError("a text box must be at least two characters wide")
        return self


class QRBlock(Strict):
    """The QR code, quiet zone included, drawn in a `size` px square at (x, y)."""

    x: int = Field(ge=0)
    y: int = Field(ge=0)
    size: int = Field(ge=100, le=1200)
    quiet_zone: int = Field(default=MIN_QUIET_ZONE, ge=MIN_QUIET_ZONE, le=10, description="in modules")
    dark: Color = "#000000"
    light: Color = "#ffffff"
    # A logo in the centre; the code then uses error correction level H so the covered modules are recovered.
    logo: AssetName | None = None

    @property
    def box(self) -> Box:
        return Box(x=self.x, y=self.y, w=self.size, h=self.size)

    @model_validator(mode="after")
    def _scannable(self) -> QRBlock:
        if len(self.dark) != 7 or len(self.light) != 7:
            raise ValueError("QR colours must be opaque (#rrggbb)")
        if _luminance(self.dark) >= _luminance(self.light):
            raise ValueError("QR modules must be darker than the background (inverted codes scan poorly)")
        if contrast(self.dark, self.light) < MIN_QR_CONTRAST:
            raise ValueError(f"QR colours need a contrast of at least {MIN_QR_CONTRAST}:1")
        if self.logo is not None and not (ASSET_DIR / self.logo).is_file():
            raise ValueError(f"no asset {self.logo!r} in {ASSET_DIR.name}/")
        return self


class Divider(Strict):
    x0: int = Field(ge=0)
    x1: int = Field(ge=0)
    y: int = Field(ge=0)
    width: int = Field(default=1, ge=1, le=10)
    color: Color

    @property
    def box(self) -> Box:
        return Box(x=min(self.x0, self.x1), y=self.y, w=abs(self.x1 - self.x0) + 1, h=self.width)


class Footer(Strict):
    expiry: TextBlock | None = None
    rule: TextBlock | None = None
    divider: Divider | None = None


class Layout(Strict):
    id: str = Field(pattern=r"^[a-z0-9_-]+$", max_length=40)
    name: str = Field(min_length=1, max_length=80)
    canvas: Canvas = Field(default_factory=Canvas)
    background: Background
    panels: tuple[Panel, ...] = ()
    avatar: AvatarBlock
    nickname: TextBlock
    tagline: TextBlock | None = None
    title: TextBlock
    body: TextBlock | None = None
    qr: QRBlock
    qr_caption: TextBlock | None = None
    footer: Footer = Field(default_factory=Footer)

    def text_blocks(self) -> dict[str, TextBlock]:
        """Every text block the layout shows, by the name of the field it shows."""
        blocks: dict[str, TextBlock | None] = {
            "nickname": self.nickname,
            "tagline": self.tagline,
            "title": self.title,
            "body": self.body,
            "qr_caption": self.qr_caption,
            "expiry": self.footer.expiry,
            "rule": self.footer.rule,
        }
        return {name: block for name, block in blocks.items() if block is not None}

    def canonical_json(self) -> str:
        """A stable serialisation (with the renderer version) for callers that hash a poster's inputs."""
        document = {"layout_version": LAYOUT_VERSION, "layout": self.model_dump(mode="json")}
        return json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False)

    @model_validator(mode="after")
    def _fits(self) -> Layout:
        canvas = Box(x=0, y=0, w=self.canvas.width, h=self.canvas.height)
        boxes: dict[str, Box] = {name: block.box for name, block in self.text_blocks().items()}
        boxes["avatar"] = self.avatar.box
        boxes["qr"] = self.qr.box
        boxes.update({f"panels[{i}]": panel.box for i, panel in enumerate(self.panels)})
        if self.footer.divider is not None:
            boxes["divider"] = self.footer.divider.box
        for name, box in boxes.items():
            if box.right > canvas.w or box.bottom > canvas.h:
                raise ValueError(
                    f"{name} ({box.x},{box.y} {box.w}x{box.h}) does not fit the {canvas.w}x{canvas.h} canvas"
                )
        minimum = -(-MIN_QR_PX_AT_750 * self.canvas.width // 750)
        if self.qr.size < minimum:
            raise ValueError(f"the QR block must be at least {minimum} px on a {self.canvas.width} px wide canvas")
        for name, box in boxes.items():
            if name not in ("qr", "divider") and not name.startswith("panels") and box.overlaps(self.qr.box):
                raise ValueError(f"{name} overlaps the QR code")
        return self


def _read(path: Path) -> Layout:
    layout = Layout.model_validate_json(path.read_text(encoding="utf-8"))
    if layout.id != path.stem:
        raise ValueError(f"{path.name}: the layout's id is {layout.id!r}")
    return layout


def _ids_on_disk() -> tuple[str, ...]:
    return tuple(sorted(path.stem for path in LAYOUT_DIR.glob("*.json")))


LAYOUT_IDS: tuple[str, ...] = _ids_on_disk()
if LAYOUT_IDS != tuple(sorted(KNOWN_LAYOUTS)):
    raise RuntimeError(f"catalog.KNOWN_LAYOUTS {sorted(KNOWN_LAYOUTS)} does not match the layout files {LAYOUT_IDS}")


@cache
def load(layout_id: str) -> Layout:
    """The layout `layout_id`, read and validated once per process; KeyError for an unknown id."""
    if layout_id not in LAYOUT_IDS:
        raise KeyError(f"no poster layout {layout_id!r}")
    return _read(LAYOUT_DIR / f"{layout_id}.json")
