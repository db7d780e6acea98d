"""Powertools Logger, Metrics and Tracer: created once, attached to the app as middleware."""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.metrics.functions import is_metrics_disabled
from chalice.app import Chalice, ConvertToMiddleware

SERVICE = "fission"
METRICS_NAMESPACE = "Fission"  # alarms in infra/ refer to metrics by this namespace and the service dimension

# Most requests emit no business metric; an empty flush is expected, not worth a warning each time.
warnings.filterwarnings("ignore", message="No application metrics to publish")

logger = Logger(service=SERVICE)
metrics = Metrics(namespace=METRICS_NAMESPACE, service=SERVICE)
tracer = Tracer(service=SERVICE)


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
    app.register_middleware(ConvertToMiddleware(tracer.capture_lambda_handler), "all")
    app.register_middleware(ConvertToMiddleware(metrics.log_metrics), "all")
    app.register_middleware(_forget_unflushed_metrics, "all")


def _forget_unflushed_metrics(event: Any, get_response: Callable[[Any], Any]) -> Any:
    """With metrics disabled (locally) `log_metrics` keeps what was added, and Powertools prints the set
    by itself once a metric has 100 values; drop them after each invocation instead."""
    try:
        return get_response(event)
    finally:
        if is_metrics_disabled():
            metrics.clear_metrics()
