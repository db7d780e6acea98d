"""CDK entry point: `cdk synth|deploy -c stage=dev|prod` from infra/ (see docs/deploy.md)."""

from __future__ import annotations

import contextlib
import shutil
import sys
from pathlib import Path

INFRA_DIR = Path(__file__).resolve().parent
ROOT = INFRA_DIR.parent
# The stack imports the table's shape from chalicelib; the CLI runs this file from infra/.
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from aws_cdk import App  # noqa: E402

from infra import edge, nag  # noqa: E402
from infra.fission_stack import FissionStack  # noqa: E402

CHALICE_OUT = "chalice.out"


def _int_context(app: App, name: str) -> int | None:
    value = app.node.try_get_context(name)
    # `-c name=value` arrives as a string, cdk.json values keep their JSON type.
    return int(value) if value not in (None, "") else None


def build(app: App, work_dir: Path = INFRA_DIR) -> FissionStack:
    """Add the stack for the context's `stage` (default dev) to `app`, checked by cdk-nag on synthesis.

    `chalice package` writes its package under `work_dir/chalice.out`; earlier packages there
    are removed first since the synthesised assembly keeps its own copy.
    """
    stage = app.node.try_get_context("stage") or "dev"
    edge_limits = {key: value for key in edge.CONTEXT_KEYS if (value := _int_context(app, key)) is not None}
    # cdk-nag: synthesis fails on any finding not acknowledged with a reason (infra/nag.py). The packs
    # must be registered before the stack is added, or they are not run.
    nag.add_checks(app)
    # Server access logs are delivered under a bucket policy, not the legacy LogDeliveryWrite ACL
    # (the log bucket keeps ACLs only for CloudFront's standard logging).
    app.node.set_context("@aws-cdk/aws-s3:serverAccessLogsUseBucketPolicy", True)
    shutil.rmtree(work_dir / CHALICE_OUT, ignore_errors=True)
    work_dir.mkdir(parents=True, exist_ok=True)
    with contextlib.chdir(work_dir):
        stack = FissionStack(
            app,
            stage,
            source_dir=ROOT,
            public_base_url=app.node.try_get_context("public_base_url"),
            warm_reads_per_second=_int_context(app, "warm_reads_per_second"),
            warm_writes_per_second=_int_context(app, "warm_writes_per_second"),
            api_provisioned_concurrency=_int_context(app, "api_provisioned_concurrency") or 0,
            edge_limits=edge_limits,
        )
    nag.acknowledge_findings(stack)
    return stack


def main() -> None:
    app = App()
    build(app)
    app.synth()


if __name__ == "__main__":
    main()
