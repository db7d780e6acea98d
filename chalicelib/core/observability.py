"""Powertools Logger and Metrics, created once, and the optional X-Ray Tracer: attached to the app as middleware."""

from __future__ import annotations

import os
import warnings
from collections.abc import Callable
from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.metrics.functions import is_metrics_disabled
from chalice.app import Chalice, ConvertToMiddleware

SERVICE = "fission"
METRICS_NAMESPACE = "Fission"  # alarms in infra/ refer to metrics by this namespace and the service dimension
# Powertools' own switch. Tracing through the X-Ray SDK is opt-in (docs/decisions.md, "Tracing without the
# X-Ray SDK"): Lambda's active tracing records each invocation without it.
TRACE_DISABLED_ENV = "POWERTOOLS_TRACE_DISABLED"
_TRUTHY = frozenset({"1", "true", "t", "yes", "y", "on"})

# Most requests emit no business metric; an empty flush is expected, not worth a warning each time.
warnings.filterwarnings("ignore", message="No application metrics to publish")

logger = Logger(service=SERVICE)
metrics = Metrics(namespace=METRICS_NAMESPACE, service=SERVICE)


def tracing_enabled(env: dict[str, str] | None = None) -> bool:
    """Whether Powertools would trace: not disabled by POWERTOOLS_TRACE_DISABLED, and inside Lambda rather than an
    emulator. Powertools' own rules, read here so that a disabled Tracer is never built (building one imports
    aws_xray_sdk, about a fifth of a second of CPU at cold start). Every stage disables it (.chalice/config.json)."""
    values = os.environ if env is None else env
    if values.get(TRACE_DISABLED_ENV, "false").strip().lower() in _TRUTHY:
        return False
    in_lambda = bool(values.get("LAMBDA_TASK_ROOT"))
    emulated = bool(values.get("AWS_SAM_LOCAL") or values.get("AWS_CHALICE_CLI_MODE"))
    return in_lambda and not emulated


def install(app: Chalice) -> None:
    # Correlation id: API Gateway's request id for HTTP calls.
    app.register_middleware(
        ConvertToMiddleware(
            logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST, clear_state=True)
        ),
        "http",
    )
    # Stream and scheduled invocations get their own Lambda context in the logs, not the last request's.
    for event_type in ("pure_lambda", "scheduled"):
        app.register_middleware(ConvertToMiddleware(logger.inject_lambda_context(clear_state=True)), event_type)
    if tracing_enabled():
        app.register_middleware(ConvertToMiddleware(_tracer().capture_lambda_handler), "all")
    app.register_middleware(ConvertToMiddleware(metrics.log_metrics), "all")
    app.register_middleware(_forget_unflushed_metrics, "all")


def _tracer() -> Any:
    # aws_xray_sdk: the Tracer imports it as it is built; only a stage that opts into X-Ray SDK tracing pays.
    from aws_lambda_powertools import Tracer

    return Tracer(service=SERVICE)


def _forget_unflushed_metrics(event: Any, get_response: Callable[[Any], Any]) -> Any:
    """With metrics disabled (locally) `log_metrics` keeps what was added, and Powertools prints the set
    by itself once a metric has 100 values; drop them after each invocation instead."""
    try:
        return get_response(event)
    finally:
        if is_metrics_disabled():
            metrics.clear_metrics()
