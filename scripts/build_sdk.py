"""The SDK's script-tag build: web/sdk/fission.global.js from the ES module web/sdk/fission.js.

The module's body is wrapped in a function so nothing leaks into the page, each `export` keyword is
dropped, and the exported names become `window.Fission` (frozen), the only global the build defines.
The module may only use `export const|let|function|async function|class NAME` and no `import`, so
the two expose the same API by construction; `--check` (run by `make lint`) fails when the committed
build is not what this script makes from the module.

    python scripts/build_sdk.py           # write web/sdk/fission.global.js
    python scripts/build_sdk.py --check   # exit 1 if it is out of date
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MODULE = ROOT / "web" / "sdk" / "fission.js"
GLOBAL = ROOT / "web" / "sdk" / "fission.global.js"

EXPORT = re.compile(r"^export (?P<kind>const|let|function|async function|class) (?P<name>[A-Za-z_$][\w$]*)", re.M)
ANY_EXPORT_OR_IMPORT = re.compile(r"^\s*(export|import)\b", re.M)


def exported_names(source: str) -> list[str]:
    """The module's exported names, in order; raises ValueError for a form the build cannot carry over."""
    names = [m.group("name") for m in EXPORT.finditer(source)]
    if len(ANY_EXPORT_OR_IMPORT.findall(source)) != len(names):
        raise ValueError(
            "web/sdk/fission.js may only use `export const|let|function|async function|class NAME` and no import"
        )
    if len(set(names)) != len(names):
        raise ValueError("an exported name appears twice")
    return names


def build(source: str) -> str:
    names = exported_names(source)
    body = EXPORT.sub(lambda m: f"{m.group('kind')} {m.group('name')}", source).rstrip("\n")
    api = ", ".join(names)
    return (
        "// GENERATED from fission.js by scripts/build_sdk.py (`make web`): do not edit; edit fission.js.\n"
        '// The script-tag build of the Fission SDK: <script src=".../sdk/fission.global.js"></script>\n'
        "// defines window.Fission and nothing else (docs/sdk.md).\n"
        "(() => {\n"
        f"{body}\n"
        "\n"
        f"  window.Fission = Object.freeze({{ {api} }});\n"
        "})();\n"
    )


def main(argv: list[str]) -> int:
    built = build(MODULE.read_text(encoding="utf-8"))
    if "--check" in argv:
        current = GLOBAL.read_text(encoding="utf-8") if GLOBAL.exists() else ""
        if current != built:
            print(f"{GLOBAL.relative_to(ROOT)} is out of date: run `make web` (scripts/build_sdk.py)", file=sys.stderr)
            return 1
        return 0
    if not GLOBAL.exists() or GLOBAL.read_text(encoding="utf-8") != built:
        GLOBAL.write_text(built, encoding="utf-8")
        print(f"build_sdk: {GLOBAL.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
