"""The house keeps standing: import contracts, small folders, lazy imports only where they pay, and
every route in the folder the slice map (docs/architecture.md) names for its path."""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from pathlib import Path

import app

ROOT = Path(__file__).resolve().parents[2]
CHALICELIB = ROOT / "chalicelib"
CONTRACTS = ROOT / ".importlinter"
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")
MAX_PY_FILES_PER_FOLDER = 15
# Imported inside functions on purpose: heavy, and needed by few requests (each such import carries
# a comment saying why). Anything else belongs at the top of its module.
LAZY_MODULES = ("PIL", "qrcode", "boto3", "botocore", "argon2", "jwt", "cryptography", "pyotp")
LAZY_FIRST_PARTY = ("chalicelib.posters.render", "chalicelib.posters.layouts")
# Powertools' Tracer imports the X-Ray SDK as it is built: only a stage that opts into tracing builds one.
LAZY_NAMES = ("aws_lambda_powertools.Tracer",)
# The entry points decide what a cold start loads: each handler imports the slices it calls on its first call.
LAZY_IMPORTERS = (CHALICELIB / "entrypoints",)


def _lint_imports(config: Path, *contracts: str) -> subprocess.CompletedProcess[str]:
    selected = [arg for contract in contracts for arg in ("--contract", contract)]
    command = [str(LINT_IMPORTS), "--config", str(config), "--no-cache", *selected]
    return subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=300)


def test_the_import_contracts_hold() -> None:
    result = _lint_imports(CONTRACTS)
    assert result.returncode == 0, result.stdout[-4000:]


def test_removing_an_allowed_edge_breaks_the_contracts(tmp_path: Path) -> None:
    """Referral reads live campaigns: put referral below campaigns and the slice contract fails."""
    text = CONTRACTS.read_text()
    assert "    chalicelib.referral\n    chalicelib.messaging | chalicelib.campaigns\n" in text
    swapped = text.replace(
        "    chalicelib.referral\n    chalicelib.messaging | chalicelib.campaigns\n",
        "    chalicelib.messaging | chalicelib.campaigns\n    chalicelib.referral\n",
    )
    config = tmp_path / "contracts.ini"
    config.write_text(swapped)
    result = _lint_imports(config, "slices")
    assert result.returncode != 0
    assert "chalicelib.referral" in result.stdout and "chalicelib.campaigns" in result.stdout


def test_no_folder_holds_more_than_fifteen_python_files() -> None:
    crowded = {
        str(folder.relative_to(ROOT)): count
        for folder in [CHALICELIB, *CHALICELIB.rglob("*")]
        if folder.is_dir() and (count := len(list(folder.glob("*.py")))) > MAX_PY_FILES_PER_FOLDER
    }
    assert crowded == {}


def _function_local_imports(path: Path) -> list[tuple[int, str, str]]:
    """(line, imported module, the line's comment or the comment line above) of every import in a function."""
    tree = ast.parse(path.read_text())
    lines = path.read_text().splitlines()
    found: list[tuple[int, str, str]] = []
    for function in (n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef)):
        for node in ast.walk(function):
            if isinstance(node, ast.Import | ast.ImportFrom):
                if isinstance(node, ast.ImportFrom):
                    names = [f"{node.module}.{a.name}" for a in node.names]  # a submodule, or a name in one
                else:
                    names = [a.name for a in node.names]
                line, above = lines[node.lineno - 1], node.lineno - 2
                while above > 0 and lines[above].strip().startswith(("from ", "import ")):
                    above -= 1  # one comment may stand above a block of imports
                before = lines[above].strip()
                comment = line.split("#", 1)[1] if "#" in line else (before[1:] if before.startswith("#") else "")
                found += [(node.lineno, name, comment.strip()) for name in names]
    return found


def test_function_local_imports_are_only_the_commented_heavy_ones() -> None:
    offenders = []
    for path in sorted(CHALICELIB.rglob("*.py")):
        for line, module, comment in _function_local_imports(path):
            heavy = (
                module.split(".")[0] in LAZY_MODULES
                or module.startswith(LAZY_FIRST_PARTY + LAZY_NAMES)
                or any(path.is_relative_to(folder) for folder in LAZY_IMPORTERS)
            )
            if not heavy or not comment:
                offenders.append(f"{path.relative_to(ROOT)}:{line} {module} ({comment or 'no comment'})")
    assert offenders == []


def _route_folders() -> list[tuple[str, str]]:
    """The slice map's table of route prefixes and the folders that hold them, longest prefix first."""
    text = (ROOT / "docs" / "architecture.md").read_text()
    rows = re.findall(r"^\| `(/v1/[^`]*)` \| `chalicelib/([a-z_/]+)/` \|", text, flags=re.MULTILINE)
    assert len(rows) > 20, "docs/architecture.md has lost its route table"
    return sorted(rows, key=lambda row: -len(row[0]))


def test_every_route_lives_in_the_folder_its_path_names() -> None:
    table = _route_folders()
    misplaced = []
    for path, methods in app.app.routes.items():
        for method, entry in methods.items():
            folder = next((f for prefix, f in table if path == prefix or path.startswith(prefix + "/")), None)
            module = entry.view_function.__module__
            if folder is None or not module.startswith("chalicelib." + folder.replace("/", ".") + "."):
                misplaced.append(f"{method} {path}: {module} (the map says {folder})")
    assert misplaced == []


def test_error_codes_are_members_of_the_catalogue_not_literals() -> None:
    literal = re.compile(r"""\bcode\s*[=:]\s*(?:str\s*=\s*)?["'][A-Z][A-Z0-9_]+["']""")
    offenders = [
        f"{path.relative_to(ROOT)}:{number}"
        for path in sorted(CHALICELIB.rglob("*.py"))
        for number, line in enumerate(path.read_text().splitlines(), start=1)
        if literal.search(line)
    ]
    assert offenders == []
