"""Readiness: the table answers and the event runtime (stream pump, scheduler) is up."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from chalicelib.core.errors import FissionError
from chalicelib.table import db

# Extra readiness probes registered by the hosting runtime. In the cloud the event runtime
# is Lambda's own and none are registered; locally the pump and scheduler register theirs.
_PROBES: dict[str, Callable[[], bool]] = {}


def register_probe(name: str, probe: Callable[[], bool]) -> None:
    _PROBES[name] = probe


def clear_probes() -> None:
    _PROBES.clear()


def check() -> tuple[bool, dict[str, Any]]:
    checks: dict[str, str] = {}
    try:
        db.table_ready()
        checks["table"] = "ok"
    except FissionError:
        checks["table"] = "unavailable"
    for name, probe in sorted(_PROBES.items()):
        checks[name] = "ok" if probe() else "starting"
    ready = all(v == "ok" for v in checks.values())
    return ready, {"status": "ok" if ready else "starting", "checks": checks}
