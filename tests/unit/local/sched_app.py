"""Scheduled functions for the local scheduler's tests (resolved by module path, as in Lambda)."""

from __future__ import annotations

from typing import Any

from chalice.app import Blueprint, CloudWatchEvent, Cron, Rate

# Each call appends (function name, the Lambda event it received).
CALLS: list[tuple[str, dict[str, Any]]] = []

every_minute_bp = Blueprint(__name__)
pair_bp = Blueprint(__name__)
cron_bp = Blueprint(__name__)


@every_minute_bp.schedule(Rate(1, unit=Rate.MINUTES))
def every_minute(event: CloudWatchEvent) -> str:
    CALLS.append(("every_minute", event.to_dict()))
    return "done"


@pair_bp.schedule(Rate(5, unit=Rate.MINUTES))
def always_fails(event: CloudWatchEvent) -> None:
    CALLS.append(("always_fails", event.to_dict()))
    raise RuntimeError("scheduled job failed")


@pair_bp.schedule(Rate(5, unit=Rate.MINUTES))
def still_runs(event: CloudWatchEvent) -> None:
    CALLS.append(("still_runs", event.to_dict()))


@cron_bp.schedule(Cron(0, 3, "*", "*", "?", "*"))
def nightly(event: CloudWatchEvent) -> None:
    CALLS.append(("nightly", event.to_dict()))
