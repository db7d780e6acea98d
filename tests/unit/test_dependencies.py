"""The hashed locks agree with their inputs and with each other, and the audit passes only what it checked."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parents[2]
PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)(?:\[[^\]]*\])?==([^\s;\\]+)")


def _audit_script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("audit_locks", ROOT / "scripts" / "audit_locks.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


audit_locks = _audit_script()


def _normalise(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _pins(path: Path) -> dict[str, str]:
    pins: dict[str, str] = {}
    for line in path.read_text().splitlines():
        if match := PIN.match(line):
            pins[_normalise(match[1])] = match[2]
    return pins


def _lock_entries(path: Path) -> dict[str, list[str]]:
    """Each locked package with the lines that follow it (its hashes and the `# via` comments)."""
    entries: dict[str, list[str]] = {}
    current: list[str] = []
    for line in path.read_text().splitlines():
        if match := PIN.match(line):
            current = entries.setdefault(_normalise(match[1]), [])
        elif line.startswith(" "):
            current.append(line.strip())
    return entries


@pytest.mark.parametrize(
    ("inputs", "lock"), [("requirements.in", "requirements.txt"), ("requirements-dev.in", "requirements-dev.txt")]
)
def test_every_pinned_input_is_locked_at_its_pinned_version(inputs: str, lock: str) -> None:
    wanted = _pins(ROOT / inputs)
    locked = _pins(ROOT / lock)

    drifted = {name: (version, locked.get(name)) for name, version in wanted.items() if locked.get(name) != version}

    assert wanted
    assert not drifted, f"{lock} is stale against {inputs} (input, lock): {drifted}; run `make lock`"


def test_the_development_lock_pins_every_runtime_package_at_the_runtime_version() -> None:
    runtime = _pins(ROOT / "requirements.txt")
    development = _pins(ROOT / "requirements-dev.txt")

    assert {name: development.get(name) for name in runtime} == runtime


@pytest.mark.parametrize("lock", ["requirements.txt", "requirements-dev.txt"])
def test_every_locked_package_carries_a_sha256_hash(lock: str) -> None:
    entries = _lock_entries(ROOT / lock)

    unhashed = [name for name, lines in entries.items() if not any(x.startswith("--hash=sha256:") for x in lines)]

    assert entries
    assert not unhashed


def test_the_audit_passes_a_report_in_which_every_package_was_checked_and_clean() -> None:
    report = {"dependencies": [{"name": "pyjwt", "version": "2.15.1", "vulns": []}], "fixes": []}

    status, lines = audit_locks.verdict(report, "pypi")

    assert status == 0
    assert lines == ["pip-audit (pypi): no known vulnerabilities in 1 locked packages"]


def test_the_audit_fails_on_a_known_vulnerability_and_names_the_fixed_release() -> None:
    vuln = {"id": "PYSEC-2099-1", "fix_versions": ["2.15.2"], "aliases": []}
    report = {"dependencies": [{"name": "pyjwt", "version": "2.15.1", "vulns": [vuln]}], "fixes": []}

    status, lines = audit_locks.verdict(report, "pypi")

    assert status == 1
    assert lines == ["pyjwt 2.15.1: PYSEC-2099-1 (fixed in 2.15.2)"]


def test_the_audit_fails_when_some_package_could_not_be_checked() -> None:
    skipped = {"name": "pyjwt", "skip_reason": "Dependency not found on PyPI and could not be audited: pyjwt (2.15.1)"}
    report = {"dependencies": [{"name": "six", "version": "1.17.0", "vulns": []}, skipped], "fixes": []}

    status, lines = audit_locks.verdict(report, "pypi")

    assert status == 1
    assert lines == [f"pip-audit: not checked: {skipped['skip_reason']}"]


def test_the_audit_probe_is_one_locked_requirement_with_all_its_hashes() -> None:
    probe = audit_locks._first_requirement(ROOT / "requirements-dev.txt")
    first = next(iter(_lock_entries(ROOT / "requirements-dev.txt").items()))

    name = probe.split("==")[0]
    hashes = [line.strip().rstrip(" \\") for line in probe.splitlines()[1:]]

    assert _normalise(name) == first[0]
    assert hashes == [x.rstrip(" \\") for x in first[1] if x.startswith("--hash")]
    assert not probe.rstrip().endswith("\\")
