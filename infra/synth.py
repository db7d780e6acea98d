"""Offline synth and lint: each stage into infra/cdk.out/<stage>, then cfn-lint; no AWS account needed."""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
import zipfile
from pathlib import Path

INFRA_DIR = Path(__file__).resolve().parent
if str(INFRA_DIR.parent) not in sys.path:
    sys.path.insert(0, str(INFRA_DIR.parent))

from infra.cdk_app import CHALICE_OUT, build  # noqa: E402

OUT_DIR = INFRA_DIR / "cdk.out"
CDK_JSON = INFRA_DIR / "cdk.json"
MB = 1024 * 1024
# Lambda's limits for a zip uploaded directly and for the unpacked function.
ZIP_LIMIT = 50 * MB
UNZIPPED_LIMIT = 250 * MB
# cfn-lint's exit status is a bit mask; warnings (4) and informational findings (8) are
# printed but do not fail the build.
CFN_LINT_ERROR_BITS = 1 | 2
# Built by `make fonts` and git-ignored; `chalice package` takes them from disk, so a package
# made without them would render posters with no text.
PACKAGED_FONTS = tuple(
    f"chalicelib/posters/fonts/{name}"
    for name in ("NotoSansSC-Regular.ttf", "NotoSansSC-Bold.ttf", "NotoSansSC-Fallback.ttf", "OFL.txt")
)


def _context(pairs: list[str]) -> dict[str, object]:
    # The CLI reads cdk.json's context; read it here too so both synthesise the same stack.
    context: dict[str, object] = json.loads(CDK_JSON.read_text()).get("context", {})
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep:
            raise SystemExit(f"context must be key=value, not {pair!r}")
        context[key] = value
    return context


def _cfn_lint() -> list[str]:
    # The console script sits beside the interpreter in a venv; cfnlint has no __main__.
    beside = Path(sys.executable).with_name("cfn-lint")
    if beside.exists():
        return [str(beside)]
    found = shutil.which("cfn-lint")
    if found is None:
        raise SystemExit("cfn-lint is not installed (make venv installs requirements-dev.txt)")
    return [found]


def _check_package(stage: str) -> None:
    packages = list((INFRA_DIR / CHALICE_OUT).glob("*/deployment.zip"))
    if len(packages) != 1:
        raise SystemExit(f"expected one Chalice package in {INFRA_DIR / CHALICE_OUT}, found {len(packages)}")
    package = packages[0]
    zipped = package.stat().st_size
    with zipfile.ZipFile(package) as archive:
        unzipped = sum(info.file_size for info in archive.infolist())
        missing = sorted(set(PACKAGED_FONTS) - set(archive.namelist()))
    if missing:
        raise SystemExit(f"[{stage}] the Lambda package lacks {', '.join(missing)}: run make fonts")
    print(f"[{stage}] Lambda package: {zipped / MB:.1f} MB zipped, {unzipped / MB:.1f} MB unzipped")
    if zipped >= ZIP_LIMIT or unzipped >= UNZIPPED_LIMIT:
        raise SystemExit(f"[{stage}] the Lambda package is over budget (50 MB zipped, 250 MB unzipped)")


def synth_stage(stage: str, context: dict[str, object]) -> Path:
    """Synthesise one stage; return its CloudFormation template."""
    from aws_cdk import App

    outdir = OUT_DIR / stage
    shutil.rmtree(outdir, ignore_errors=True)
    started = time.monotonic()
    app = App(outdir=str(outdir), context={**context, "stage": stage})
    stack = build(app)
    assembly = app.synth()
    print(f"[{stage}] synthesised in {time.monotonic() - started:.1f} s into {outdir.relative_to(INFRA_DIR.parent)}")
    _check_package(stage)
    return Path(assembly.get_stack_artifact(stack.artifact_id).template_full_path)


def lint(templates: list[Path]) -> None:
    result = subprocess.run([*_cfn_lint(), *map(str, templates)], check=False)
    if result.returncode & CFN_LINT_ERROR_BITS:
        raise SystemExit(f"cfn-lint found errors (exit status {result.returncode})")
    print(f"cfn-lint: no errors in {len(templates)} template(s)")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--stage", action="append", choices=("dev", "prod"), help="repeatable; default both")
    parser.add_argument("-c", "--context", action="append", default=[], help="CDK context key=value")
    args = parser.parse_args(argv)
    # `chalice package` insists on a region although the template it writes uses AWS::Region.
    if not (os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION")):
        os.environ["AWS_DEFAULT_REGION"] = "us-east-1"
    context = _context(args.context)
    templates = [synth_stage(stage, context) for stage in args.stage or ["dev", "prod"]]
    lint(templates)


if __name__ == "__main__":
    main()
