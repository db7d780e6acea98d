"""The QR code of an invite link, drawn crisp: whole-pixel modules, nearest-neighbour scaling, a real quiet zone.

Error correction is M for a plain code (smaller, so bigger modules) and H when a logo covers the centre (up to
30% of the codewords can be recovered; the logo pad takes about 4% of the area). The mask pattern is fixed: every
mask is valid for decoders, and skipping the library's eight-way mask search makes the code about six times
cheaper, which matters when a flash sale renders thousands of posters.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import qrcode
from PIL import Image, ImageDraw, ImageOps
from qrcode.constants import ERROR_CORRECT_H, ERROR_CORRECT_M

MASK_PATTERN = 2
LOGO_FRACTION = 0.2  # of the code's width (quiet zone excluded)


def matrix(data: str, *, high: bool) -> list[list[bool]]:
    """The module matrix of `data` without a border (True is a dark module)."""
    code = qrcode.QRCode(
        error_correction=ERROR_CORRECT_H if high else ERROR_CORRECT_M,
        box_size=1,
        border=0,
        mask_pattern=MASK_PATTERN,
    )
    code.add_data(data)
    code.make(fit=True)
    modules: list[list[bool]] = code.get_matrix()
    return modules


@lru_cache(maxsize=8)
def _logo(path: Path, px: int) -> Image.Image:
    """The logo scaled into a `px` square on a white rounded pad, as RGBA (cached per size)."""
    with Image.open(path) as source:
        logo = source.convert("RGBA")
    pad = max(2, px // 12)
    logo = ImageOps.contain(logo, (px - 2 * pad, px - 2 * pad), Image.Resampling.LANCZOS)
    tile = Image.new("RGBA", (px, px), (0, 0, 0, 0))
    ImageDraw.Draw(tile).rounded_rectangle((0, 0, px - 1, px - 1), radius=px // 6, fill=(255, 255, 255, 255))
    tile.alpha_composite(logo, ((px - logo.width) // 2, (px - logo.height) // 2))
    return tile


def render(
    data: str,
    size: int,
    *,
    quiet_zone: int = 4,
    dark: tuple[int, int, int] = (0, 0, 0),
    light: tuple[int, int, int] = (255, 255, 255),
    logo: Path | None = None,
) -> Image.Image:
    """An RGB `size` px square holding the code of `data`, centred, with at least `quiet_zone` modules around it.

    The module size is the largest whole number of pixels that fits; the rest of the square is quiet zone.
    """
    modules = matrix(data, high=logo is not None)
    count = len(modules)
    scale = max(1, size // (count + 2 * quiet_zone))
    raw = bytes(0 if cell else 255 for row in modules for cell in row)
    code = Image.frombytes("L", (count, count), raw).resize((count * scale, count * scale), Image.Resampling.NEAREST)
    if code.width > size:  # an absurdly long link: still draw something rather than fail the poster
        code = code.resize((size, size), Image.Resampling.NEAREST)
    block = Image.new("L", (size, size), 255)
    offset = (size - code.width) // 2
    block.paste(code, (offset, offset))
    plain = (dark, light) == ((0, 0, 0), (255, 255, 255))
    out = block.convert("RGB") if plain else ImageOps.colorize(block, dark, light)
    if logo is not None:
        px = int(code.width * LOGO_FRACTION)
        if px >= 16:
            tile = _logo(logo, px)
            at = (size - px) // 2
            out.paste(tile, (at, at), tile)
    return out


def svg(data: str, *, quiet_zone: int = 4, module_px: int = 6) -> str:
    """The code of `data` as a standalone SVG: one path of dark runs on a white square, one unit per module.

    Vector, so it stays crisp at any zoom (an authenticator app's camera reads it off a screen). Only our
    own numbers go into the markup: `data` is encoded in the modules, never written as text.
    """
    modules = matrix(data, high=False)
    side = len(modules) + 2 * quiet_zone
    runs = []
    for y, row in enumerate(modules):
        x = 0
        while x < len(row):
            if not row[x]:
                x += 1
                continue
            start = x
            while x < len(row) and row[x]:
                x += 1
            runs.append(f"M{start + quiet_zone} {y + quiet_zone}h{x - start}v1h-{x - start}z")
    px = side * module_px
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {side} {side}" width="{px}" height="{px}" '
        f'shape-rendering="crispEdges"><rect width="{side}" height="{side}" fill="#fff"/>'
        f'<path fill="#000" d="{"".join(runs)}"/></svg>'
    )
