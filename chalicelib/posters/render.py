"""The poster renderer: a layout and a participant's fields in, JPEG or PNG bytes out. No I/O besides the
fonts and assets shipped with the code.

Built to always render and stay cheap: untrusted text is sanitised and clipped to its box, an avatar that
cannot be decoded safely is replaced by a generated one, and everything that does not depend on the
participant (backgrounds, panels, fonts, masks) is prepared once per process and reused.
"""

from __future__ import annotations

import hashlib
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache, lru_cache
from io import BytesIO
from pathlib import Path
from typing import Literal

from PIL import Image, ImageDraw, ImageFont, ImageOps

from chalicelib.core.codes import Code
from chalicelib.core.errors import Unavailable
from chalicelib.posters import fonts, qr, text
from chalicelib.posters.layouts import (
    ASSET_DIR,
    AvatarBlock,
    GradientBackground,
    ImageBackground,
    Layout,
    SolidBackground,
    TextBlock,
    rgb,
    rgba,
)

Format = Literal["jpeg", "png"]
Weight = Literal["regular", "bold"]
JPEG_QUALITY = 85
PNG_COMPRESS_LEVEL = 1
MAX_AVATAR_BYTES = 10 * 1024 * 1024
# An avatar is drawn at most 600 px wide (130 in the shipped layouts) and profile pictures are 132-1080 px, so
# 2048 x 2048 refuses no real one. It bounds what a decoder may allocate at 16 MiB (Pillow keeps at most 4
# bytes a pixel) before a pixel is decoded: the header size is checked against it, and Pillow's own
# process-wide MAX_IMAGE_PIXELS (about 179 million) is far too lax for a small picture.
MAX_AVATAR_PIXELS = 2048 * 2048
AVATAR_FORMATS = ("JPEG", "PNG", "WEBP", "GIF")
_REDUCING_GAP = 2.0  # shrink by whole factors (a box filter) to within 2x of the target, then resample
AVATAR_COLOURS = ((231, 76, 60), (230, 126, 34), (241, 196, 15), (46, 204, 113), (26, 188, 156),
                  (52, 152, 219), (155, 89, 182), (233, 30, 99), (0, 150, 136), (121, 85, 72))  # fmt: skip
_SUPERSAMPLE = 4


@dataclass(frozen=True)
class PosterFields:
    """Everything a poster shows about one participant and campaign, as plain text (sanitised here)."""

    nickname: str
    title: str
    invite_url: str
    body: str = ""
    tagline: str = ""
    qr_caption: str = ""
    expiry: str = ""
    rule: str = ""

    def text_of(self, name: str) -> str:
        value: str = getattr(self, name)
        return value


# --- fonts ------------------------------------------------------------------------------------------


@dataclass
class FontFace:
    """One weight: the subset font first, the full fallback font for what the subset lacks (loaded lazily).

    Widths are sums of cached per-character advances: the fonts carry no legacy kerning table, so with
    Pillow's basic layout this equals `getlength` of the whole string and costs a dict lookup per character.
    """

    primary: Path
    primary_coverage: frozenset[int]
    fallback: Callable[[], tuple[Path, frozenset[int]] | None]
    _fallback: tuple[Path, frozenset[int]] | None = field(default=None, init=False)
    _fallback_loaded: bool = field(default=False, init=False)
    _advances: dict[tuple[str, int], float] = field(default_factory=dict, init=False)

    def _fallback_font(self) -> tuple[Path, frozenset[int]] | None:
        if not self._fallback_loaded:
            self._fallback = self.fallback()
            self._fallback_loaded = True
        return self._fallback

    def path_for(self, ch: str) -> Path | None:
        """The font that draws `ch`, or None when no font has it."""
        if ord(ch) in self.primary_coverage:
            return self.primary
        fallback = self._fallback_font()
        if fallback is not None and ord(ch) in fallback[1]:
            return fallback[0]
        return None

    def covers(self, ch: str) -> bool:
        return self.path_for(ch) is not None

    def runs(self, line: str) -> list[tuple[Path, str]]:
        """`line` cut into runs drawn with one font each (an uncovered character falls to the primary font)."""
        out: list[tuple[Path, str]] = []
        start = 0
        current = self.primary
        for index, ch in enumerate(line):
            path = self.primary if ord(ch) in self.primary_coverage else (self.path_for(ch) or self.primary)
            if path is not current:
                if index > start:
                    out.append((current, line[start:index]))
                start, current = index, path
        if len(line) > start:
            out.append((current, line[start:]))
        return out

    def advance(self, ch: str, size: int) -> float:
        key = (ch, size)
        width = self._advances.get(key)
        if width is None:
            width = truetype(self.path_for(ch) or self.primary, size).getlength(ch)
            self._advances[key] = width
        return width

    def measure(self, size: int) -> text.Measure:
        def width(value: str) -> float:
            return sum(self.advance(ch, size) for ch in value)

        return width


@dataclass(eq=False)
class FontBook:
    regular: FontFace
    bold: FontFace

    def face(self, weight: Weight) -> FontFace:
        return self.bold if weight == "bold" else self.regular


@lru_cache(maxsize=64)
def truetype(path: Path, size: int) -> ImageFont.FreeTypeFont:
    """A loaded font per (file, size): loading parses the file, so it is done once per process."""
    return ImageFont.truetype(str(path), size, layout_engine=ImageFont.Layout.BASIC)


@cache
def font_book() -> FontBook:
    """The fonts built by `make fonts` (raises fonts.FontsMissing when they are not built)."""

    def fallback() -> tuple[Path, frozenset[int]] | None:
        try:
            path = fonts.fallback_file()
            return path, fonts.coverage(path)
        except (RuntimeError, OSError):
            return None

    shared = cache(fallback)
    faces = {
        weight: FontFace(fonts.font_file(weight), fonts.coverage(fonts.font_file(weight)), shared)
        for weight in ("regular", "bold")
    }
    return FontBook(regular=faces["regular"], bold=faces["bold"])


# --- static layers ----------------------------------------------------------------------------------


@lru_cache(maxsize=16)
def _static_layer(layout_json: str) -> Image.Image:
    """Background, panels and the avatar ring of a layout: identical on every poster, so drawn once."""
    layout = Layout.model_validate_json(layout_json)
    size = (layout.canvas.width, layout.canvas.height)
    background = layout.background
    if isinstance(background, SolidBackground):
        canvas = Image.new("RGBA", size, rgba(background.color))
    elif isinstance(background, GradientBackground):
        canvas = _gradient(size, background)
    else:
        canvas = _image_background(size, background)
    for panel in layout.panels:
        box = panel.box
        shape = Image.new("L", (box.w * _SUPERSAMPLE, box.h * _SUPERSAMPLE), 0)
        ImageDraw.Draw(shape).rounded_rectangle(
            (0, 0, shape.width - 1, shape.height - 1), radius=panel.radius * _SUPERSAMPLE, fill=255
        )
        shape = shape.resize((box.w, box.h), Image.Resampling.LANCZOS)
        r, g, b, a = rgba(panel.color)
        alpha = shape.point(lambda v, a=a: v * a // 255)
        fill = Image.new("RGBA", (box.w, box.h), (r, g, b, 255))
        fill.putalpha(alpha)
        canvas.alpha_composite(fill, (box.x, box.y))
    avatar = layout.avatar
    if avatar.ring_color is not None and avatar.ring_width > 0:
        ring_size = avatar.size + 2 * avatar.ring_width
        ring = Image.new("RGBA", (ring_size, ring_size), rgba(avatar.ring_color))
        ring.putalpha(_circle_mask(ring_size))
        x, y = avatar.x - avatar.ring_width, avatar.y - avatar.ring_width
        canvas.alpha_composite(ring, (max(0, x), max(0, y)))
    divider = layout.footer.divider
    if divider is not None:
        ImageDraw.Draw(canvas).line(
            ((divider.x0, divider.y), (divider.x1, divider.y)), fill=rgba(divider.color), width=divider.width
        )
    return canvas.convert("RGB")


def _gradient(size: tuple[int, int], background: GradientBackground) -> Image.Image:
    ramp = Image.linear_gradient("L")  # 256x256, black at the top to white at the bottom
    if background.direction == "horizontal":
        ramp = ramp.rotate(90, expand=True).transpose(Image.Transpose.FLIP_LEFT_RIGHT)
    elif background.direction == "diagonal":
        ramp = ramp.rotate(45, resample=Image.Resampling.BILINEAR, expand=True).crop((91, 91, 271, 271))
    mask = ramp.resize(size, Image.Resampling.BILINEAR)
    start = Image.new("RGBA", size, rgba(background.start))
    end = Image.new("RGBA", size, rgba(background.end))
    return Image.composite(end, start, mask)


def _image_background(size: tuple[int, int], background: ImageBackground) -> Image.Image:
    with Image.open(ASSET_DIR / background.asset) as source:
        image = ImageOps.fit(source.convert("RGB"), size, Image.Resampling.BICUBIC).convert("RGBA")
    if background.tint is not None:
        image.alpha_composite(Image.new("RGBA", size, rgba(background.tint)))
    return image


@lru_cache(maxsize=16)
def _circle_mask(size: int) -> Image.Image:
    """An anti-aliased disc: drawn four times larger and reduced."""
    big = Image.new("L", (size * _SUPERSAMPLE, size * _SUPERSAMPLE), 0)
    ImageDraw.Draw(big).ellipse((0, 0, big.width - 1, big.height - 1), fill=255)
    return big.resize((size, size), Image.Resampling.LANCZOS)


# --- avatar -----------------------------------------------------------------------------------------


def decode_avatar(data: bytes | None, size: int) -> Image.Image | None:
    """`data` as an RGB `size` px square (centre crop), or None when it is absent, too big or not an image.

    Only well-known formats are tried, and the pixel count in the header is checked before anything is
    decoded, so a small file claiming a huge picture (a decompression bomb: a flat 5000 x 5000 PNG is 80
    KB) costs a header read. Only the first frame of an animation is ever decoded.
    """
    if not data or len(data) > MAX_AVATAR_BYTES:
        return None
    try:
        with warnings.catch_warnings():
            # Pillow warns (rather than refuses) between its two limits; any such picture is far over ours.
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(BytesIO(data), formats=AVATAR_FORMATS) as image:
                width, height = image.size
                if width < 1 or height < 1 or width * height > MAX_AVATAR_PIXELS:
                    return None
                return _square(image, size)
    except Exception:  # any decoder failure (OSError, SyntaxError, bomb errors, ...) means a generated avatar
        return None


def _square(image: Image.Image, size: int) -> Image.Image:
    """The centre square of the first frame of `image`, reduced to `size` px before anything else touches it."""
    if image.format == "JPEG":
        image.draft("RGB", (size, size))  # libjpeg decodes at 1/2, 1/4 or 1/8 scale, no smaller than `size`
    image.load()
    alpha = image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info
    picture: Image.Image = image
    if picture.mode not in ("RGB", "L", "RGBA", "LA") or "transparency" in picture.info:
        picture = picture.convert("RGBA" if alpha else "RGB")  # palette images resize only as nearest neighbour
    width, height = picture.size
    side = min(width, height)
    box = ((width - side) / 2, (height - side) / 2, (width + side) / 2, (height + side) / 2)
    small = picture.resize((size, size), Image.Resampling.BICUBIC, box=box, reducing_gap=_REDUCING_GAP)
    # The centre square of a turned picture is the turned centre square, so turning the small one is the same.
    small = ImageOps.exif_transpose(small)
    if alpha:
        flat = Image.new("RGB", small.size, (255, 255, 255))
        flat.paste(small, (0, 0), small.convert("RGBA"))
        return flat
    return small.convert("RGB")


def generated_avatar(nickname: str, size: int, book: FontBook) -> Image.Image:
    """A disc of a colour derived from the nickname with its first visible character (or a silhouette)."""
    digest = hashlib.blake2b(nickname.encode("utf-8"), digest_size=2).digest()
    colour = AVATAR_COLOURS[int.from_bytes(digest) % len(AVATAR_COLOURS)]
    image = Image.new("RGB", (size, size), colour)
    draw = ImageDraw.Draw(image)
    face = book.bold
    visible = text.keep_covered(text.clean(nickname), face.covers).replace(" ", "")
    if visible:
        initial = visible[0].upper()
        if len(initial) != 1 or not face.covers(initial):  # "ß".upper() is "SS"
            initial = visible[0]
        path = face.path_for(initial) or face.primary
        draw.text((size / 2, size / 2), initial, font=truetype(path, int(size * 0.46)), fill="white", anchor="mm")
    else:
        s = size
        draw.ellipse((s * 0.35, s * 0.2, s * 0.65, s * 0.5), fill="white")
        draw.ellipse((s * 0.2, s * 0.56, s * 0.8, s * 1.1), fill="white")
    return image


def _place_avatar(canvas: Image.Image, block: AvatarBlock, avatar: bytes | None, nickname: str, book: FontBook) -> None:
    picture = decode_avatar(avatar, block.size) or generated_avatar(nickname, block.size, book)
    canvas.paste(picture, (block.x, block.y), _circle_mask(block.size))


# --- text ---------------------------------------------------------------------------------------------


def layout_text(value: str, block: TextBlock, book: FontBook, *, multiline: bool = False) -> list[str]:
    """The lines `value` occupies in `block` after sanitising, dropping undrawable characters and wrapping."""
    face = book.face(block.weight)
    cleaned = text.keep_covered(text.clean(value, multiline=multiline), face.covers)
    if not cleaned:
        return []
    return text.wrap(cleaned, face.measure(block.size), block.box.w, block.max_lines)


def draw_text(canvas: Image.Image, value: str, block: TextBlock, book: FontBook, *, multiline: bool = False) -> None:
    """Draw `value` into `block`, clipped to the box: the glyphs go on a mask the size of the box."""
    mask = _text_mask(value, block, multiline, book)
    if mask is not None:
        box = block.box
        canvas.paste(rgb(block.color), (box.x, box.y, box.right, box.bottom), mask)


@lru_cache(maxsize=128)
def _text_mask(value: str, block: TextBlock, multiline: bool, book: FontBook) -> Image.Image | None:
    """The coverage mask of `value` set in `block`. Cached: a campaign's copy is the same on every poster,
    so only the nickname is typeset per participant."""
    lines = layout_text(value, block, book, multiline=multiline)
    if not lines:
        return None
    face = book.face(block.weight)
    measure = face.measure(block.size)
    box = block.box
    mask = Image.new("L", (box.w, box.h), 0)
    line_px = block.line_px
    # Baseline so the ideographic em box (0.88 em above, 0.12 below) is centred in the line.
    baseline = (line_px - block.size) / 2 + 0.88 * block.size
    for index, line in enumerate(lines):
        width = measure(line)
        if block.align == "center":
            x = (box.w - width) / 2
        elif block.align == "right":
            x = box.w - width
        else:
            x = 0.0
        y = round(index * line_px + baseline)
        for ch in line:
            glyph = _glyph(face.path_for(ch) or face.primary, block.size, ch)
            if glyph is not None:
                image, left, top = glyph
                mask.paste(
                    255, (round(x) + left, y + top, round(x) + left + image.width, y + top + image.height), image
                )
            x += face.advance(ch, block.size)
    return mask


@lru_cache(maxsize=4096)
def _glyph(path: Path, size: int, ch: str) -> tuple[Image.Image, int, int] | None:
    """One rasterised glyph and its offset from the pen position on the baseline, or None for blank ones.

    Rasterising CJK outlines is most of the cost of setting text; a few thousand cached glyphs cover the
    copy of every live campaign, so a poster with new copy mostly pastes glyphs it has drawn before.
    """
    font = truetype(path, size)
    left, top, right, bottom = (int(v) for v in font.getbbox(ch, anchor="ls"))
    if right <= left or bottom <= top:
        return None
    image = Image.new("L", (right - left, bottom - top), 0)
    ImageDraw.Draw(image).text((-left, -top), ch, font=font, fill=255, anchor="ls")
    return image, left, top


# --- the poster ---------------------------------------------------------------------------------------


class BadCodeImage(Unavailable):
    """A platform's QR or mini-program code image that cannot be decoded safely."""

    def __init__(self) -> None:
        super().__init__("the platform's code image could not be read", code=Code.PLATFORM_ERROR)


def decode_code_image(data: bytes, size: int, light: tuple[int, int, int]) -> Image.Image:
    """A platform's code image (a WeCom channel code, a mini-program code) fitted into the `size` px QR slot on
    the slot's background colour; checked like an avatar before anything is decoded."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(BytesIO(data), formats=("PNG", "JPEG")) as image:
                width, height = image.size
                if width < 1 or height < 1 or width * height > MAX_AVATAR_PIXELS:
                    raise BadCodeImage()
                picture = image.convert("RGBA")
    except BadCodeImage:
        raise
    except Exception:  # noqa: BLE001 - any decoder failure
        raise BadCodeImage() from None
    fitted = ImageOps.contain(picture, (size, size), Image.Resampling.LANCZOS)
    block = Image.new("RGB", (size, size), light)
    block.paste(fitted, ((size - fitted.width) // 2, (size - fitted.height) // 2), fitted)
    return block


def render_image(
    layout: Layout, fields: PosterFields, avatar: bytes | None, code_image: bytes | None = None
) -> Image.Image:
    """The poster as an RGB image (what `render` encodes). `code_image`, when given, is drawn in the QR slot
    instead of a code of the invite link."""
    book = font_book()
    canvas = _static_layer(layout.model_dump_json()).copy()
    _place_avatar(canvas, layout.avatar, avatar, fields.nickname, book)
    for name, block in layout.text_blocks().items():
        draw_text(canvas, fields.text_of(name), block, book, multiline=name in ("body", "rule"))
    spec = layout.qr
    if code_image is not None:
        code = decode_code_image(code_image, spec.size, rgb(spec.light))
    else:
        code = qr.render(
            fields.invite_url,
            spec.size,
            quiet_zone=spec.quiet_zone,
            dark=rgb(spec.dark),
            light=rgb(spec.light),
            logo=ASSET_DIR / spec.logo if spec.logo else None,
        )
    canvas.paste(code, (spec.x, spec.y))
    return canvas


def encode(image: Image.Image, fmt: Format) -> bytes:
    """JPEG at quality 85 without the slow optimiser pass, or PNG at the fastest zlib level."""
    buffer = BytesIO()
    if fmt == "jpeg":
        image.save(buffer, "JPEG", quality=JPEG_QUALITY, optimize=False)
    else:
        image.save(buffer, "PNG", compress_level=PNG_COMPRESS_LEVEL)
    return buffer.getvalue()


def render(
    layout: Layout, fields: PosterFields, fmt: Format, avatar: bytes | None, code_image: bytes | None = None
) -> bytes:
    """The poster of `fields` in `layout`, encoded as `fmt`. `avatar` is fetched image bytes or None;
    `code_image` a platform's code image for the QR slot, or None for a code of the invite link."""
    return encode(render_image(layout, fields, avatar, code_image), fmt)
