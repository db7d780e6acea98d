"""Generate the small image assets the poster layouts ship with (no fonts, no downloads).

Run from the repository root: `.venv/bin/python scripts/gen_poster_assets.py`. The output is deterministic,
so rerunning it leaves the committed files unchanged.
"""

from __future__ import annotations

import random
from pathlib import Path

from PIL import Image, ImageDraw, ImageFilter

ASSETS = Path(__file__).resolve().parents[1] / "chalicelib" / "posters" / "assets"


def photo_background() -> Image.Image:
    """A soft, out-of-focus 'photo' of warm light blobs; stored small and scaled up (it is blurry anyway)."""
    rng = random.Random(20261124)
    width, height = 200, 356
    base = Image.new("RGB", (width, height), (38, 52, 86))
    top = Image.new("RGB", (width, height), (232, 140, 92))
    image = Image.composite(base, top, Image.linear_gradient("L").resize((width, height)))
    blobs = Image.new("RGBA", (width, height), (0, 0, 0, 0))
    draw = ImageDraw.Draw(blobs)
    palette = [(255, 214, 140), (255, 170, 120), (250, 240, 210), (140, 190, 255), (255, 120, 140)]
    for _ in range(40):
        radius = rng.randint(6, 28)
        x, y = rng.randint(-10, width + 10), rng.randint(-10, height + 10)
        r, g, b = rng.choice(palette)
        draw.ellipse((x - radius, y - radius, x + radius, y + radius), fill=(r, g, b, rng.randint(40, 120)))
    blobs = blobs.filter(ImageFilter.GaussianBlur(4))
    image = Image.alpha_composite(image.convert("RGBA"), blobs).convert("RGB")
    return image.filter(ImageFilter.GaussianBlur(1.5))


def logo() -> Image.Image:
    """A neutral brand mark (a gift box) for the QR centre, drawn at 4x and reduced for smooth edges."""
    scale, size = 4, 120
    big = size * scale
    image = Image.new("RGBA", (big, big), (0, 0, 0, 0))
    draw = ImageDraw.Draw(image)
    red, gold = (214, 40, 57, 255), (255, 196, 0, 255)
    draw.rounded_rectangle((0, 0, big - 1, big - 1), radius=26 * scale, fill=red)
    s = scale
    draw.rectangle((22 * s, 52 * s, 98 * s, 98 * s), fill=(255, 255, 255, 255))
    draw.rectangle((16 * s, 38 * s, 104 * s, 54 * s), fill=(255, 255, 255, 255))
    draw.rectangle((54 * s, 38 * s, 66 * s, 98 * s), fill=gold)
    draw.ellipse((34 * s, 20 * s, 60 * s, 42 * s), outline=gold, width=5 * s)
    draw.ellipse((60 * s, 20 * s, 86 * s, 42 * s), outline=gold, width=5 * s)
    return image.resize((size, size), Image.Resampling.LANCZOS)


def main() -> None:
    ASSETS.mkdir(parents=True, exist_ok=True)
    photo_background().save(ASSETS / "photo_bg.png", optimize=True)
    logo().save(ASSETS / "logo.png", optimize=True)
    for path in sorted(ASSETS.iterdir()):
        print(f"{path.relative_to(ASSETS.parents[2])}: {path.stat().st_size} bytes")


if __name__ == "__main__":
    main()
