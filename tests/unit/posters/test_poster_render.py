"""The poster renderer: every layout renders and scans, CJK draws real glyphs, hostile input stays in its box."""

from __future__ import annotations

import dataclasses
import struct
import zlib
from io import BytesIO

import pytest
import zxingcpp
from PIL import Image, ImageChops, ImageDraw, ImageFont

from chalicelib.posters import layouts, qr, render
from chalicelib.posters.layouts import Layout, TextBlock
from chalicelib.posters.render import PosterFields

URL = "https://fission.example.com/i/Q7xK2mNp4R?c=01JD3F5G7H"
FIELDS = PosterFields(
    nickname="王小明 Ming",
    tagline="邀请你一起参加",
    title="分享海报｜10位好友关注，免费做面部护理",
    body="生成专属海报邀请好友关注门店公众号：3位送护理项目50元券，10位送价值298元的面部护理一次。",
    invite_url=URL,
    qr_caption="长按识别二维码",
    expiry="活动截止 2026-12-31",
    rule="1. 好友扫描你的海报并关注门店公众号，计为1次有效邀请；\n2. 如发现作弊行为，商家有权取消奖励。",
)
HOSTILE_NICKNAMES = [
    "名" * 200,
    "W" * 200,
    "😀🎉👨‍👩‍👧‍👦🇨🇳",
    "Ali 😀 李",
    "ßtraße ﬁ",
    "مرحبا بالعالم",
    "שלום עולם",
    "\u202eevil\u202c name",
    "\x00\x01\x1b[31mred\x07\n\t",
    "\u2066isolate\u2069\u200f\u200e",
    "",
    "   \u3000 ",
    "Z\u0351\u0352\u0357\u035b\u0346\u0308\u0301a\u0300\u0301\u0302\u0303l\u0304\u0305go",
]


def png_bytes(size: tuple[int, int], colour: tuple[int, ...], mode: str = "RGB") -> bytes:
    out = BytesIO()
    Image.new(mode, size, colour).save(out, "PNG")
    return out.getvalue()


def jpeg_bytes(size: tuple[int, int], colour: tuple[int, int, int]) -> bytes:
    out = BytesIO()
    Image.new("RGB", size, colour).save(out, "JPEG")
    return out.getvalue()


def png_header(width: int, height: int) -> bytes:
    """A PNG that claims `width` x `height` pixels in its header and holds almost nothing."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\x00" * 16)) + chunk(b"IEND", b"")
    )


AVATAR = jpeg_bytes((640, 480), (40, 120, 200))
LAYOUTS = [layouts.load(layout_id) for layout_id in layouts.LAYOUT_IDS]


def with_logo(layout: Layout, logo: str | None) -> Layout:
    return layout.model_copy(update={"qr": layout.qr.model_copy(update={"logo": logo})})


def decode(image: Image.Image) -> list[str]:
    return [result.text for result in zxingcpp.read_barcodes(image)]


@pytest.mark.parametrize("fmt", ["jpeg", "png"])
@pytest.mark.parametrize("layout", LAYOUTS, ids=lambda layout: layout.id)
def test_every_layout_renders_both_formats_at_canvas_size(layout: Layout, fmt: render.Format) -> None:
    data = render.render(layout, FIELDS, fmt, AVATAR)
    with Image.open(BytesIO(data)) as image:
        assert image.format == fmt.upper()
        assert image.size == (layout.canvas.width, layout.canvas.height)
        assert image.mode == "RGB"
        if fmt == "jpeg":
            assert decode(image) == [URL]


@pytest.mark.parametrize("logo", [None, "logo.png"])
@pytest.mark.parametrize("layout", LAYOUTS, ids=lambda layout: layout.id)
def test_the_qr_code_decodes_to_exactly_the_invite_url(layout: Layout, logo: str | None) -> None:
    variant = with_logo(layout, logo)
    url = URL + "&utm_source=poster&utm_medium=wechat"
    fields = PosterFields(nickname=FIELDS.nickname, title=FIELDS.title, invite_url=url)
    with Image.open(BytesIO(render.render(variant, fields, "jpeg", None))) as image:
        assert decode(image) == [url]


def test_a_logo_raises_error_correction_and_sits_small_in_the_centre() -> None:
    assert len(qr.matrix(URL, high=True)) > len(qr.matrix(URL, high=False))
    image = qr.render(URL, 300, logo=layouts.ASSET_DIR / "logo.png")
    red = image.convert("RGB").split()
    mask = ImageChops.subtract(red[0], red[1]).point(lambda v: 255 if v > 100 else 0)  # the logo's red
    bbox = mask.getbbox()
    assert bbox is not None
    left, top, right, bottom = bbox
    modules = len(qr.matrix(URL, high=True))
    code_px = modules * (300 // (modules + 8))
    assert right - left <= qr.LOGO_FRACTION * code_px and bottom - top <= qr.LOGO_FRACTION * code_px
    assert abs((left + right) / 2 - 150) <= 3 and abs((top + bottom) / 2 - 150) <= 3


def test_the_qr_code_is_crisp_with_a_four_module_quiet_zone() -> None:
    image = qr.render(URL, 300)
    colours = image.getcolors()
    assert colours is not None and {colour for _, colour in colours} == {(0, 0, 0), (255, 255, 255)}
    modules = len(qr.matrix(URL, high=False))
    scale = 300 // (modules + 8)
    assert scale >= 4
    bbox = ImageChops.invert(image.convert("L")).getbbox()
    assert bbox is not None
    assert bbox[0] >= 4 * scale and bbox[1] >= 4 * scale
    assert 300 - bbox[2] >= 4 * scale and 300 - bbox[3] >= 4 * scale
    assert bbox[2] - bbox[0] == modules * scale


def glyph(font: ImageFont.FreeTypeFont, ch: str) -> bytes:
    """The pixels of `ch` drawn alone on a blank square."""
    side = int(font.size * 2)
    image = Image.new("L", (side, side), 0)
    ImageDraw.Draw(image).text((side // 4, side // 4), ch, font=font, fill=255)
    return image.tobytes()


def _missing_code_point(face: render.FontFace) -> str:
    for candidate in ("\u0e01", "\u10d0", "\u1200", "\ua000"):
        if not face.covers(candidate):
            return candidate
    raise AssertionError("no test character is missing from the fonts")


@pytest.mark.parametrize("name", ["nickname", "title", "body"])
def test_cjk_text_draws_real_glyphs_not_the_missing_glyph_box(name: str) -> None:
    book = render.font_book()
    block = layouts.load("classic").text_blocks()[name].model_copy(update={"color": "#000000"})
    face = book.face(block.weight)
    font = render.truetype(face.primary, block.size)
    notdef = glyph(font, _missing_code_point(face))
    sample = "王小明领取新客体验装"
    for ch in sample:
        assert glyph(font, ch) != notdef, ch
    assert len({glyph(font, ch) for ch in sample}) == len(set(sample))
    # Drawn through the renderer, the block differs from the same number of missing-glyph boxes.
    drawn = Image.new("RGB", (750, 1334), "white")
    render.draw_text(drawn, sample, block, book)
    tofu = Image.new("L", (750, 1334), 0)
    line = _missing_code_point(face) * len(sample)
    ImageDraw.Draw(tofu).text((block.box.x, block.box.y), line, font=font, fill=255)
    ink = ImageChops.invert(drawn.convert("L"))
    assert ink.getbbox() is not None
    assert ImageChops.difference(
        ink.point(lambda v: 255 if v > 128 else 0), tofu.point(lambda v: 255 if v > 128 else 0)
    ).getbbox()


def test_a_rare_character_outside_the_subset_comes_from_the_fallback_font() -> None:
    book = render.font_book()
    face = book.regular
    rare = next((ch for ch in "堃昇赟犇淼喆" if ord(ch) not in face.primary_coverage and face.covers(ch)), None)
    if rare is None:
        pytest.skip("every rare test character is in the subset")
    path = face.path_for(rare)
    assert path is not None and path != face.primary
    block = layouts.load("classic").body
    assert block is not None
    assert rare in "".join(render.layout_text(f"张{rare}", block, book))
    fallback = render.truetype(path, 40)
    assert glyph(fallback, rare) != glyph(fallback, _missing_code_point(face))


def _ink_bbox(layout: Layout, fields: PosterFields, baseline: PosterFields) -> tuple[int, int, int, int] | None:
    a = render.render_image(layout, fields, AVATAR)
    b = render.render_image(layout, baseline, AVATAR)
    return ImageChops.difference(a, b).getbbox()


def _inside(bbox: tuple[int, int, int, int] | None, block: TextBlock) -> bool:
    if bbox is None:
        return True
    box = block.box
    return box.x <= bbox[0] and box.y <= bbox[1] and bbox[2] <= box.right and bbox[3] <= box.bottom


@pytest.mark.parametrize("nickname", HOSTILE_NICKNAMES, ids=range(len(HOSTILE_NICKNAMES)))
@pytest.mark.parametrize("layout", [LAYOUTS[0], LAYOUTS[-1]], ids=lambda layout: layout.id)
def test_hostile_nicknames_render_and_stay_inside_their_box(layout: Layout, nickname: str) -> None:
    fields = PosterFields(nickname=nickname, title=FIELDS.title, invite_url=URL)
    baseline = PosterFields(nickname="", title=FIELDS.title, invite_url=URL)
    assert _inside(_ink_bbox(layout, fields, baseline), layout.nickname)
    lines = render.layout_text(nickname, layout.nickname, render.font_book())
    assert len(lines) <= layout.nickname.max_lines
    data = render.render(layout, fields, "jpeg", None)  # and with a generated avatar from that nickname
    with Image.open(BytesIO(data)) as image:
        assert decode(image) == [URL]


def test_a_long_nickname_is_cut_with_an_ellipsis() -> None:
    layout = layouts.load("classic")
    lines = render.layout_text("名" * 200, layout.nickname, render.font_book())
    assert len(lines) == 1 and lines[0].endswith("…")


@pytest.mark.parametrize("name", ["title", "body", "rule"])
def test_overlong_copy_stays_inside_its_box(name: str) -> None:
    layout = layouts.load("classic")
    long_copy = ("超长的活动文案 with Latin words and 数字123，" * 40).strip()
    baseline = PosterFields(nickname="", title="", invite_url=URL)
    fields = dataclasses.replace(baseline, **{name: long_copy})
    assert _inside(_ink_bbox(layout, fields, baseline), layout.text_blocks()[name])


BAD_AVATARS = {
    "none": None,
    "empty": b"",
    "garbage": b"not an image at all" * 10,
    "truncated jpeg": AVATAR[: len(AVATAR) // 3],
    "decompression bomb": png_header(100_000, 100_000),
    "too many pixels": png_header(6_000, 6_000),
    "camera-size jpeg": jpeg_bytes((4000, 3000), (40, 120, 200)),
    "svg": b'<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"/>',
}


@pytest.mark.parametrize("avatar", list(BAD_AVATARS.values()), ids=list(BAD_AVATARS))
def test_a_missing_or_hostile_avatar_yields_a_generated_one(avatar: bytes | None) -> None:
    if avatar is not None and avatar.startswith(b"\x89PNG"):
        assert render.decode_avatar(avatar, 112) is None
    layout = layouts.load("classic")
    data = render.render(layout, FIELDS, "jpeg", avatar)
    with Image.open(BytesIO(data)) as image:
        assert image.size == (750, 1334)
        block = layout.avatar
        centre = image.getpixel((block.x + block.size // 2, block.y + block.size // 4))
        generated = render.generated_avatar(FIELDS.nickname, block.size, render.font_book())
        expected = generated.getpixel((block.size // 2, block.size // 4))
        assert isinstance(centre, tuple) and isinstance(expected, tuple)
        assert max(abs(a - b) for a, b in zip(centre, expected, strict=True)) < 24


@pytest.mark.parametrize(
    "avatar",
    [
        jpeg_bytes((2000, 1500), (200, 30, 30)),
        png_bytes((90, 300), (200, 30, 30, 255), "RGBA"),
        png_bytes((64, 64), (200, 30, 30)),
    ],
    ids=["big jpeg", "tall transparent png", "small png"],
)
def test_a_valid_avatar_is_cropped_into_the_circle(avatar: bytes) -> None:
    picture = render.decode_avatar(avatar, 112)
    assert picture is not None and picture.size == (112, 112) and picture.mode == "RGB"
    layout = layouts.load("classic")
    image = render.render_image(layout, FIELDS, avatar)
    block = layout.avatar
    r, g, b = image.getpixel((block.x + block.size // 2, block.y + block.size // 2))  # type: ignore[misc]
    assert r > 150 and g < 80 and b < 80


def test_the_generated_avatar_depends_on_the_nickname_and_shows_its_first_character() -> None:
    book = render.font_book()
    a = render.generated_avatar("王小明", 120, book)
    assert render.generated_avatar("王小明", 120, book).tobytes() == a.tobytes()
    colours = {
        render.generated_avatar(name, 120, book).getpixel((5, 60)) for name in ("王小明", "Alice", "Bob", "李雷")
    }
    assert len(colours) > 1
    background = Image.new("RGB", (120, 120), a.getpixel((5, 60)))
    assert ImageChops.difference(a, background).getbbox() is not None  # the initial is drawn
    silhouette = render.generated_avatar("😀", 120, book)
    assert ImageChops.difference(silhouette, Image.new("RGB", (120, 120), silhouette.getpixel((5, 5)))).getbbox()


def test_png_uses_fast_compression_and_jpeg_quality_85() -> None:
    assert render.PNG_COMPRESS_LEVEL == 1 and render.JPEG_QUALITY == 85
    layout = layouts.load("minimal")
    jpeg = render.render(layout, FIELDS, "jpeg", AVATAR)
    assert len(jpeg) < 400_000
