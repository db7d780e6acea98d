"""Avatar decoding limits: a small file claiming a huge picture is refused from its header, an accepted one is
reduced as it is decoded, an animation costs one frame, and the poster renders and scans either way."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from functools import cache
from io import BytesIO
from typing import Any

import pytest
import zxingcpp
from PIL import GifImagePlugin, Image, ImageChops, ImageFile
from PIL import _imaging as core  # Image.core: the C module whose `new` every decoder's buffer comes from

from chalicelib.posters import layouts, render
from chalicelib.posters.render import PosterFields

URL = "https://fission.example.com/i/Q7xK2mNp4R?c=01JD3F5G7H"
FIELDS = PosterFields(nickname="王小明", title="分享海报，免费领取", invite_url=URL)
FLAT = (200, 30, 30)


def encoded(image: Image.Image, fmt: str, **options: Any) -> bytes:
    out = BytesIO()
    image.save(out, fmt, **options)
    return out.getvalue()


@cache
def hostile_png() -> bytes:
    """5000 x 4999 pixels of one colour: about 80 KB on the wire, 100 MB once decoded."""
    return encoded(Image.new("RGB", (5000, 4999), FLAT), "PNG")


def over_the_cap(fmt: str) -> bytes:
    """A flat 3000 x 3000 picture: under the old 25-megapixel limit, over the avatar limit."""
    if fmt == "GIF":
        return encoded(Image.new("P", (3000, 3000), 0), "GIF")
    options: dict[str, Any] = {"WEBP": {"lossless": True}, "JPEG": {"progressive": True}}.get(fmt, {})
    return encoded(Image.new("RGB", (3000, 3000), FLAT), fmt, **options)


class Decoding:
    """Inside `with`: what Pillow allocated for pixels (a decoder fills a buffer from `core.new`) and how
    many pictures it decoded."""

    def __init__(self) -> None:
        self.allocated: list[tuple[int, int]] = []
        self.loads = 0
        self.watching = False

    def __enter__(self) -> Decoding:
        self.watching = True
        return self

    def __exit__(self, *exc: object) -> None:
        self.watching = False

    @property
    def largest(self) -> int:
        return max((w * h for w, h in self.allocated), default=0)


@pytest.fixture
def decoding(monkeypatch: pytest.MonkeyPatch) -> Iterator[Decoding]:
    seen = Decoding()
    new, fill, load = core.new, core.fill, ImageFile.ImageFile.load

    def wrap(original: Callable[..., Any]) -> Callable[..., Any]:
        def allocate(mode: str, size: tuple[int, int], *args: Any) -> Any:
            if seen.watching:
                seen.allocated.append(size)
            return original(mode, size, *args)

        return allocate

    def counted_load(self: ImageFile.ImageFile) -> Any:
        if seen.watching and self._im is None:  # the first load decodes; later ones are no-ops
            seen.loads += 1
        return load(self)

    monkeypatch.setattr(core, "new", wrap(new))
    monkeypatch.setattr(core, "fill", wrap(fill))
    monkeypatch.setattr(ImageFile.ImageFile, "load", counted_load)
    yield seen


def decode(image: Image.Image) -> list[str]:
    return [result.text for result in zxingcpp.read_barcodes(image)]


def avatar_spot(image: Image.Image) -> tuple[int, ...]:
    block = layouts.load("classic").avatar
    pixel = image.getpixel((block.x + block.size // 2, block.y + block.size // 4))
    assert isinstance(pixel, tuple)
    return pixel


def close(a: tuple[int, ...], b: tuple[int, ...]) -> bool:
    return max(abs(x - y) for x, y in zip(a, b, strict=True)) < 24


def test_the_avatar_limit_refuses_nothing_a_profile_picture_needs() -> None:
    assert 1080 * 1080 <= render.MAX_AVATAR_PIXELS <= 4_200_000


def test_a_flat_5000x4999_png_is_refused_from_its_header_and_never_decoded(decoding: Decoding) -> None:
    data = hostile_png()
    assert len(data) < 150_000
    with Image.open(BytesIO(data)) as image:
        assert image.size == (5000, 4999)  # under the 25-megapixel limit avatars had before

    with decoding:
        assert render.decode_avatar(data, 112) is None
    assert decoding.loads == 0
    assert decoding.largest == 0


def test_a_poster_with_the_hostile_png_renders_scans_and_shows_the_generated_avatar(decoding: Decoding) -> None:
    layout, data = layouts.load("classic"), hostile_png()
    render.render(layout, FIELDS, "jpeg", None)  # the layout's static layer and masks, drawn once per process
    with decoding:
        poster = render.render(layout, FIELDS, "jpeg", data)
    canvas = layout.canvas.width * layout.canvas.height
    assert decoding.loads == 0
    assert decoding.largest <= canvas  # the poster itself is the largest picture allocated
    with Image.open(BytesIO(poster)) as image:
        assert image.size == (750, 1334)
        assert decode(image) == [URL]
        generated = render.generated_avatar(FIELDS.nickname, layout.avatar.size, render.font_book())
        assert close(avatar_spot(image), generated.getpixel((layout.avatar.size // 2, layout.avatar.size // 4)))  # type: ignore[arg-type]


@pytest.mark.parametrize("fmt", ["PNG", "WEBP", "GIF", "JPEG"])
def test_every_format_over_the_pixel_limit_is_refused_before_decoding(decoding: Decoding, fmt: str) -> None:
    data = over_the_cap(fmt)
    with Image.open(BytesIO(data)) as image:
        assert image.size == (3000, 3000) and image.format == fmt
    with decoding:
        assert render.decode_avatar(data, 112) is None
    assert decoding.loads == 0 and decoding.largest == 0


def test_pillows_process_wide_limit_is_left_alone() -> None:
    before = Image.MAX_IMAGE_PIXELS
    render.decode_avatar(hostile_png(), 112)
    render.decode_avatar(over_the_cap("PNG"), 112)
    assert Image.MAX_IMAGE_PIXELS == before


def test_a_jpeg_is_decoded_at_reduced_scale(decoding: Decoding) -> None:
    data = encoded(Image.new("RGB", (2000, 2000), FLAT), "JPEG")
    with decoding:
        picture = render.decode_avatar(data, 112)
    assert picture is not None and picture.size == (112, 112)
    assert decoding.loads == 1
    assert decoding.largest == 250 * 250  # one eighth each way: libjpeg never built the 2000 px picture


def test_the_largest_accepted_png_is_decoded_once_at_its_own_size(decoding: Decoding) -> None:
    data = encoded(Image.new("P", (2048, 2048), 0), "PNG", transparency=0)
    with decoding:
        picture = render.decode_avatar(data, 112)
    assert picture is not None and picture.getpixel((56, 56)) == (255, 255, 255)  # transparent shows white
    assert decoding.loads == 1
    assert [size for size in decoding.allocated if size[0] * size[1] > 512 * 512] == [(2048, 2048)]


def test_an_animated_gif_costs_its_first_frame_only(decoding: Decoding, monkeypatch: pytest.MonkeyPatch) -> None:
    first = Image.new("P", (300, 300), 0)
    first.putpalette([*FLAT, 0, 0, 255] + [0] * 762)
    frames = []
    for i in range(300):
        frame = first.copy()
        frame.putpixel((i, i), 1)  # identical frames would be merged
        frames.append(frame)
    data = encoded(frames[0], "GIF", save_all=True, append_images=frames[1:], duration=20)
    with Image.open(BytesIO(data)) as image:
        assert getattr(image, "n_frames", 1) == 300
    seeks: list[int] = []
    seek = GifImagePlugin.GifImageFile.seek

    def recorded(self: GifImagePlugin.GifImageFile, frame: int) -> None:
        seeks.append(frame)
        seek(self, frame)

    monkeypatch.setattr(GifImagePlugin.GifImageFile, "seek", recorded)
    with decoding:
        picture = render.decode_avatar(data, 112)
    assert picture is not None and close(picture.getpixel((56, 20)), FLAT)  # type: ignore[arg-type]
    assert all(frame == 0 for frame in seeks)
    assert decoding.loads == 1


def test_an_exif_orientation_still_turns_the_avatar_upright() -> None:
    stored = Image.new("RGB", (200, 100), (0, 0, 255))
    stored.paste((255, 0, 0), (50, 0, 150, 50))  # the top half of the centre square is red
    exif = Image.Exif()
    exif[0x0112] = 6  # shown turned 90 degrees clockwise: the red half ends up on the right
    picture = render.decode_avatar(encoded(stored, "JPEG", exif=exif), 100)
    assert picture is not None
    left, right = picture.getpixel((20, 50)), picture.getpixel((80, 50))
    assert close(left, (0, 0, 255)) and close(right, (255, 0, 0)), (left, right)  # type: ignore[arg-type]


def test_a_reduced_avatar_looks_like_its_source() -> None:
    source = Image.new("RGB", (1600, 1200), (0, 0, 255))
    source.paste((255, 0, 0), (200, 0, 1400, 600))  # the centre square: red above blue
    picture = render.decode_avatar(encoded(source, "PNG"), 120)
    assert picture is not None
    expected = Image.new("RGB", (120, 120), (0, 0, 255))
    expected.paste((255, 0, 0), (0, 0, 120, 60))
    diff = ImageChops.difference(picture, expected).convert("L").point(lambda v: 255 if v > 40 else 0)
    bbox = diff.getbbox()
    assert bbox is None or (bbox[3] - bbox[1]) <= 4  # only the resampled edge row differs
