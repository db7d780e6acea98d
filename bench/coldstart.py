"""Cold-start benchmark: the CPU of `import app` in fresh processes against `import boto3` (prints tables).

A Lambda container pays for the handler module's imports before its first request; on a 512 MB function
(about a third of a core) every 100 ms of CPU here is about 300 ms of cold start. Each figure is the median
of `--runs` fresh interpreters (CPU time, user + system, of the child itself), so it holds on a shared
machine where wall-clock times do not. The second table is `python -X importtime`: the modules whose own
import time is largest, from one more fresh process.

    .venv/bin/python bench/coldstart.py [--runs 7] [--top 15]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# The child measures its own CPU once the import is done: the interpreter's start-up is in both sides.
PROBE = """
import os, resource, sys
sys.path.insert(0, {root!r})
{statement}
usage = resource.getrusage(resource.RUSAGE_SELF)
print(usage.ru_utime + usage.ru_stime)
"""
CASES = {
    "python (nothing imported)": "pass",
    "import boto3": "import boto3",
    "import app": "import app",
}
BASELINE = "import boto3"


def _environment() -> dict[str, str]:
    """What the function's environment would hold locally: the app reads settings lazily, so none are needed
    to import it; bytecode is written once and then reused, as in a deployed package."""
    env = dict(os.environ)
    env.setdefault("FISSION_STAGE", "local")
    return env


def cpu_seconds(statement: str) -> float:
    code = PROBE.format(root=str(ROOT), statement=statement)
    out = subprocess.run(
        [sys.executable, "-c", code], check=True, capture_output=True, text=True, cwd=ROOT, env=_environment()
    )
    return float(out.stdout.strip().splitlines()[-1])


def import_times(statement: str) -> list[tuple[int, int, str]]:
    """(self µs, cumulative µs, module) per module from `-X importtime`, largest own time first."""
    code = f"import sys; sys.path.insert(0, {str(ROOT)!r}); {statement}"
    out = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", code],
        check=True,
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=_environment(),
    )
    rows: list[tuple[int, int, str]] = []
    for line in out.stderr.splitlines():
        if not line.startswith("import time:") or "self [us]" in line:
            continue
        own, cumulative, name = (part.strip() for part in line.removeprefix("import time:").split("|", 2))
        rows.append((int(own), int(cumulative), name.strip()))
    return sorted(rows, reverse=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7, help="fresh processes per case (the median is printed)")
    parser.add_argument("--top", type=int, default=15, help="modules to list by their own import time")
    args = parser.parse_args()

    cpu_seconds("import app")  # the first run compiles the bytecode; a deployed package ships it compiled
    medians = {label: statistics.median(cpu_seconds(stmt) for _ in range(args.runs)) for label, stmt in CASES.items()}
    base = medians[BASELINE]
    print(f"\n{'case':<28}  {'CPU ms':>8}  {'vs boto3':>8}  note")
    print(f"{'-' * 28}  {'-' * 8}  {'-' * 8}  {'-' * 40}")
    for label, seconds in medians.items():
        print(f"{label:<28}  {seconds * 1000:>8.0f}  {seconds / base:>7.2f}x  median of {args.runs} fresh processes")

    rows = import_times("import app")
    total = sum(own for own, _, _ in rows)
    print(f"\n{'module (own import time)':<52}  {'own ms':>7}  {'with children ms':>16}")
    print(f"{'-' * 52}  {'-' * 7}  {'-' * 16}")
    for own, cumulative, name in rows[: args.top]:
        print(f"{name[:52]:<52}  {own / 1000:>7.1f}  {cumulative / 1000:>16.1f}")
    print(f"{'all modules':<52}  {total / 1000:>7.1f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
