"""Per-thread request state, so the local server's worker threads can run the one app object in parallel.

In Lambda one container runs one invocation at a time, so Chalice keeps `app.current_request` and
`app.lambda_context` as plain attributes (blueprints read them through the app), and Powertools keeps the
Logger's keys (correlation id, Lambda context, `api_key`) and the Metrics sets on shared objects. Threads in
parallel would read each other's. The local runtime makes exactly those attributes thread-local on the
objects themselves, by swapping in a subclass with a property per attribute (the way `chalice local` makes
`current_request` thread-local); the Lambda path never calls this and keeps the plain attributes.

Threads rather than worker processes: the stack's tests and tools use the app, its caches and its clock
in-process, and one process keeps one rate limiter view and one live-campaign cache, as one warm container
would. The request-scoped principal is a ContextVar already (chalicelib/http/request.py), which each
thread holds on its own.
"""

from __future__ import annotations

import copy
import threading
from collections.abc import Iterable
from typing import Any

_MARK = "_per_thread_attributes"


def _per_thread_property(state: threading.local, name: str, default: Any) -> property:
    def get(_: Any) -> Any:
        try:
            return getattr(state, name)
        except AttributeError:  # a thread's first read: its own copy of the value at installation
            value = copy.deepcopy(default)
            setattr(state, name, value)
            return value

    def put(_: Any, value: Any) -> None:
        setattr(state, name, value)

    return property(get, put)


def per_thread(obj: Any, names: Iterable[str]) -> None:
    """Make the instance attributes `names` of `obj` thread-local; each thread starts from a copy of
    their current values. Idempotent: an object already made per-thread is left as it is."""
    cls = type(obj)
    if getattr(cls, _MARK, None) is not None:
        return
    state = threading.local()
    namespace: dict[str, Any] = {_MARK: tuple(names)}
    for name in names:
        default = obj.__dict__.pop(name, None)
        namespace[name] = _per_thread_property(state, name, default)
    obj.__class__ = type(f"PerThread{cls.__name__}", (cls,), namespace)


def isolate_requests(app: Any) -> None:
    """Chalice's and Powertools' per-invocation state of `app`, one copy per thread."""
    from chalicelib.core.observability import logger, metrics

    per_thread(app, ("current_request", "lambda_context"))
    per_thread(logger.registered_formatter, ("log_format",))
    per_thread(metrics.provider, ("metric_set", "dimension_set", "dimension_sets", "metadata_set"))
