"""The merchant SDK's script-tag build (scripts/build_sdk.py) is current and carries the module's API."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parents[3]


def _build_script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("build_sdk", ROOT / "scripts" / "build_sdk.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


build_sdk = _build_script()


def test_the_committed_script_build_is_what_the_module_makes() -> None:
    module = (ROOT / "web" / "sdk" / "fission.js").read_text(encoding="utf-8")
    committed = (ROOT / "web" / "sdk" / "fission.global.js").read_text(encoding="utf-8")

    assert committed == build_sdk.build(module), "run `make web` to regenerate web/sdk/fission.global.js"
    assert build_sdk.main(["--check"]) == 0


def test_the_script_build_exposes_exactly_the_module_exports_and_nothing_else() -> None:
    module = (ROOT / "web" / "sdk" / "fission.js").read_text(encoding="utf-8")
    committed = (ROOT / "web" / "sdk" / "fission.global.js").read_text(encoding="utf-8")
    names = build_sdk.exported_names(module)

    exposed = re.search(r"window\.Fission = Object\.freeze\(\{ (.*) \}\);", committed)
    assert exposed is not None
    assert exposed.group(1).split(", ") == names
    assert {"init", "join", "view", "share", "render", "capture", "attribution"} <= set(names)
    # Wrapped in one function: no export, no import, and window.Fission is the only global it assigns.
    assert not re.search(r"^\s*(export|import)\b", committed, re.M)
    assert re.findall(r"\bwindow\.(\w+)\s*=[^=]", committed) == ["Fission"]
    assert committed.startswith("// GENERATED") and "\n(() => {\n" in committed and committed.endswith("})();\n")


@pytest.mark.parametrize(
    "source",
    [
        'import { x } from "./x.js";\nexport function a() {}\n',
        "function a() {}\nexport { a };\n",
        "export default function a() {}\n",
        "export function a() {}\nexport const a = 1;\n",
    ],
)
def test_forms_the_build_cannot_carry_over_are_refused(source: str) -> None:
    with pytest.raises(ValueError):
        build_sdk.exported_names(source)


def test_the_build_drops_export_keywords_and_freezes_the_names() -> None:
    built = build_sdk.build("export const V = 1;\nexport async function go() {}\nexport class E extends Error {}\n")

    assert "const V = 1;" in built and "async function go() {}" in built and "class E extends Error {}" in built
    assert "window.Fission = Object.freeze({ V, go, E });" in built
    assert built.startswith("// GENERATED") and built.rstrip().endswith("})();")
