"""Audit the hashed lock for known vulnerabilities with pip-audit, and say so when it could not check."""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
# The development lock holds every runtime pin too (it is compiled under the runtime lock).
LOCK = ROOT / "requirements-dev.txt"
# Vulnerabilities checked and accepted, by id, each with the reason (docs/operations.md, "Dependencies").
IGNORED: dict[str, str] = {}
# Exit status when the vulnerability service could not be reached: nothing was checked.
NOT_CHECKED = 2


def _pip_audit() -> str:
    # The console script sits beside the interpreter in a venv.
    beside = Path(sys.executable).with_name("pip-audit")
    found = str(beside) if beside.exists() else shutil.which("pip-audit")
    if found is None:
        raise SystemExit("pip-audit is not installed (make venv installs it from requirements-dev.txt)")
    return found


def _audit(requirements: Path, service: str, timeout: int) -> dict[str, Any]:
    command = [_pip_audit(), "-r", str(requirements), "--require-hashes", "--disable-pip"]
    command += ["--vulnerability-service", service, "--timeout", str(timeout)]
    command += ["--format", "json", "--progress-spinner", "off"]
    for vuln_id in IGNORED:
        command += ["--ignore-vuln", vuln_id]
    # Exit status 1 means "vulnerabilities found"; the JSON report says which, and anything else is an error.
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    try:
        report: dict[str, Any] = json.loads(result.stdout)
    except json.JSONDecodeError:
        last = (result.stderr.strip().splitlines() or ["no output"])[-1]
        # pip-audit ends in a requests traceback when the service's host cannot be reached at all.
        key = "unreachable" if last.startswith("requests.exceptions.") else "error"
        return {key: last}
    return report


def _first_requirement(lock: Path) -> str:
    # One locked package with its hashes: a requirement line and its continuation lines.
    lines: list[str] = []
    for line in lock.read_text().splitlines():
        if line and not line.startswith((" ", "#")):
            if lines:
                break
            lines.append(line)
        elif lines and line.lstrip().startswith("--hash"):
            lines.append(line)
    return "\n".join(lines).rstrip(" \\") + "\n"


def _unreachable(service: str, timeout: int) -> str | None:
    """Why the service cannot be used from here, or None.

    PyPI's per-version JSON (what the `pypi` service reads) answers 404 through some mirrors, and
    pip-audit then reports every package as skipped yet exits 0; one package is enough to tell.
    """
    with tempfile.TemporaryDirectory() as tmp:
        probe = Path(tmp) / "probe.txt"
        probe.write_text(_first_requirement(LOCK))
        report = _audit(probe, service, timeout)
    if "error" in report:
        raise SystemExit(f"pip-audit failed: {report['error']}")
    if "unreachable" in report:
        return str(report["unreachable"])
    skipped = [dep for dep in _dependencies(report) if dep.get("skip_reason")]
    return str(skipped[0]["skip_reason"]) if skipped else None


def _dependencies(report: dict[str, Any]) -> list[dict[str, Any]]:
    dependencies: list[dict[str, Any]] = report.get("dependencies", [])
    return dependencies


def verdict(report: dict[str, Any], service: str) -> tuple[int, list[str]]:
    """The exit status and the lines to print for a pip-audit JSON report: 0 only if every package was checked."""
    if "error" in report or "unreachable" in report:
        return 1, [f"pip-audit failed: {report.get('error') or report['unreachable']}"]
    dependencies = _dependencies(report)
    lines = [f"pip-audit: not checked: {dep['skip_reason']}" for dep in dependencies if dep.get("skip_reason")]
    for dep in dependencies:
        for vuln in dep.get("vulns", []):
            fixes = ", ".join(vuln.get("fix_versions", [])) or "no fixed release yet"
            lines.append(f"{dep['name']} {dep['version']}: {vuln['id']} (fixed in {fixes})")
    if lines:
        return 1, lines
    return 0, [f"pip-audit ({service}): no known vulnerabilities in {len(dependencies)} locked packages"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--service", choices=("pypi", "osv"), default="pypi", help="pip-audit's vulnerability source")
    parser.add_argument("--timeout", type=int, default=10, help="seconds per request to the service")
    parser.add_argument(
        "--if-reachable",
        action="store_true",
        help="when the service cannot be reached, print that nothing was checked and exit 0 (make lint)",
    )
    args = parser.parse_args(argv)
    reason = _unreachable(args.service, args.timeout)
    if reason is not None:
        print(f"pip-audit: NOT CHECKED: the {args.service} vulnerability service is out of reach", file=sys.stderr)
        print(f"  ({reason})", file=sys.stderr)
        print("  Run `make audit` (or `make audit AUDIT_SERVICE=osv`) where it can be reached.", file=sys.stderr)
        return 0 if args.if_reachable else NOT_CHECKED
    status, lines = verdict(_audit(LOCK, args.service, args.timeout), args.service)
    print("\n".join(lines), file=sys.stdout if status == 0 else sys.stderr)
    return status


if __name__ == "__main__":
    sys.exit(main())
