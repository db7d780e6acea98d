"""Powertools Logger and Metrics, created once, and the optional X-Ray Tracer: attached to the app as middleware."""

from __future__ import annotations

import os
import warnings
from collections.abc import Callable
from functools import cache
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


# The invocations besides HTTP that the app's functions serve: the stream handler and the schedules.
EVENT_TYPES = ("pure_lambda", "scheduled")


def install(app: Chalice) -> None:
    app.register_middleware(_lambda_context("http"), "http")
    # Stream and scheduled invocations get their own Lambda context in the logs, not the last request's.
    for event_type in EVENT_TYPES:
        app.register_middleware(_lambda_context(event_type), event_type)
    for handler in _every_invocation():
        app.register_middleware(handler, "all")


def chain(event_type: str) -> list[Callable[..., Any]]:
    """The middleware `install` gives an invocation of `event_type`, in order, for a handler that runs
    without the app: each deployed event function imports its own module, never `app`."""
    return [_lambda_context(event_type), *_every_invocation()]


def _lambda_context(event_type: str) -> Callable[..., Any]:
    # Correlation id: API Gateway's request id for HTTP calls.
    path = correlation_paths.API_GATEWAY_REST if event_type == "http" else None
    return ConvertToMiddleware(logger.inject_lambda_context(correlation_id_path=path, clear_state=True))


def _every_invocation() -> list[Callable[..., Any]]:
    tracing = [ConvertToMiddleware(_tracer().capture_lambda_handler)] if tracing_enabled() else []
    return [*tracing, ConvertToMiddleware(metrics.log_metrics), _forget_unflushed_metrics]


@cache
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
