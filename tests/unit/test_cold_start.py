"""What a cold start loads: `import app` (every function's first act) imports the wiring and nothing of a slice,
no AWS SDK, no pydantic and no X-Ray SDK; the X-Ray SDK's Tracer is built only where a stage enables tracing."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from chalicelib.core.observability import tracing_enabled

ROOT = Path(__file__).resolve().parents[2]

# The only first-party modules `import app` may load: the entry points' wiring and the light kernel they use.
ALLOWED_AT_IMPORT = {
    "chalicelib",
    "chalicelib.core",
    "chalicelib.core.clock",
    "chalicelib.core.codes",
    "chalicelib.core.errors",
    "chalicelib.core.observability",
    "chalicelib.core.rbac",
    "chalicelib.entrypoints",
    "chalicelib.entrypoints.api",
    "chalicelib.entrypoints.events",
    "chalicelib.entrypoints.middleware",
    "chalicelib.entrypoints.route_manifest",
    "chalicelib.entrypoints.wiring",
    "chalicelib.http",
    "chalicelib.http.inputs",
    "chalicelib.http.rules",
}
# Third-party packages a request or an event loads when it needs them, never `import app`.
NOT_AT_IMPORT = (
    "aws_xray_sdk",
    "boto3",
    "botocore.session",
    "botocore.client",
    "pynamodb",
    "pydantic",
    "pydantic_settings",
    "jwt",
    "argon2",
    "cryptography",
    "pyotp",
    "PIL",
    "qrcode",
)
LAMBDA = {"LAMBDA_TASK_ROOT": "/var/task", "AWS_LAMBDA_FUNCTION_NAME": "fission-api"}


def imported_by_app(**env: str) -> tuple[set[str], list[str]]:
    """The modules `import app` leaves loaded in a fresh interpreter, and the app's middleware, under `env`."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("FISSION_", "AWS_", "POWERTOOLS_", "LAMBDA_"))}
    probe = (
        "import json, sys, app\n"
        "print(json.dumps({'modules': sorted(sys.modules), "
        "'middleware': [getattr(f, '__qualname__', type(f).__name__) for f, _ in app.app.middleware_handlers]}))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], cwd=ROOT, env={**clean, **env}, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    loaded = json.loads(result.stdout.strip().splitlines()[-1])
    return set(loaded["modules"]), list(loaded["middleware"])


def test_import_app_loads_only_the_wiring_of_chalicelib_and_no_heavy_package() -> None:
    # GIVEN a deployed function's environment with tracing disabled, as every stage sets it
    # WHEN app is imported in a fresh interpreter
    modules, _ = imported_by_app(**LAMBDA, POWERTOOLS_TRACE_DISABLED="true")
    # THEN only the allowed first-party modules are loaded: no slice, no slice's routes module
    assert {m for m in modules if m.startswith("chalicelib")} <= ALLOWED_AT_IMPORT
    assert not [m for m in modules if m.endswith(".routes")]
    # AND none of the heavy packages (nor any of their submodules)
    assert sorted(m for m in modules if m.startswith(NOT_AT_IMPORT) and m.split(".")[0] != "chalicelib") == []


def test_a_stage_that_enables_tracing_builds_the_tracer_and_only_then_loads_the_xray_sdk() -> None:
    off_modules, off_middleware = imported_by_app(**LAMBDA, POWERTOOLS_TRACE_DISABLED="true")
    on_modules, on_middleware = imported_by_app(**LAMBDA, POWERTOOLS_TRACE_DISABLED="false", AWS_REGION="us-east-1")
    assert "aws_xray_sdk" not in off_modules
    assert "aws_xray_sdk" in on_modules
    # One more middleware, where the tracer always sat: after the logger's, before the metrics'.
    assert len(on_middleware) == len(off_middleware) + 1
    assert on_middleware[:3] == off_middleware[:3] and on_middleware[4:] == off_middleware[3:]


@pytest.mark.parametrize(
    ("env", "enabled"),
    [
        ({}, False),  # outside Lambda, as Powertools decides
        ({**LAMBDA}, True),  # Powertools' default inside Lambda
        ({**LAMBDA, "POWERTOOLS_TRACE_DISABLED": "true"}, False),
        ({**LAMBDA, "POWERTOOLS_TRACE_DISABLED": "1"}, False),
        ({**LAMBDA, "POWERTOOLS_TRACE_DISABLED": "false"}, True),
        ({**LAMBDA, "AWS_SAM_LOCAL": "true"}, False),
        ({**LAMBDA, "AWS_CHALICE_CLI_MODE": "true"}, False),
    ],
)
def test_tracing_is_enabled_by_the_rules_powertools_applies(env: dict[str, str], enabled: bool) -> None:
    assert tracing_enabled(env) is enabled


def test_each_event_function_has_the_observability_middleware_without_importing_app() -> None:
    # GIVEN a deployed event function, whose handler lives in chalicelib.entrypoints.events (infra/ wires
    # it by that name), so `app` is never imported there
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("FISSION_", "AWS_", "POWERTOOLS_", "LAMBDA_"))}
    probe = (
        "import json, sys\n"
        "from chalice.app import EventSourceHandler\n"
        "from chalicelib.entrypoints import events\n"
        "def chains():\n"
        "    return {name: [getattr(f, '__qualname__', type(f).__name__) for f in h.middleware_handlers]\n"
        "            for name, h in vars(events).items() if isinstance(h, EventSourceHandler)}\n"
        "alone = chains(); app_loaded = 'app' in sys.modules\n"
        "import app\n"
        "print(json.dumps({'alone': alone, 'app_loaded': app_loaded, 'with_app': chains()}))\n"
    )
    env = {**clean, **LAMBDA, "POWERTOOLS_TRACE_DISABLED": "true"}
    result = subprocess.run(
        [sys.executable, "-c", probe], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    seen = json.loads(result.stdout.strip().splitlines()[-1])
    # THEN every handler already carries the logger's Lambda context and the metrics flush
    assert seen["app_loaded"] is False
    assert set(seen["alone"]) >= {"stream_handler", "close_ended_campaigns", "anchor_audit_chains"}
    for name, chain in seen["alone"].items():
        assert len(chain) == 3, (name, chain)
        assert chain[-1] == "_forget_unflushed_metrics", name
    # AND registering on the app (as `make run` and the API function do) gives each the same chain
    assert {name: len(chain) for name, chain in seen["with_app"].items()} == {
        name: len(chain) for name, chain in seen["alone"].items()
    }
