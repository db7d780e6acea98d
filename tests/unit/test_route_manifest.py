"""The route manifest is the blueprints' truth: the app registered from it holds exactly the routes, methods and
options the slices' blueprints declare, and the committed manifest is what scripts/build_routes.py makes."""

from __future__ import annotations

import importlib.util
import inspect
from functools import cache
from pathlib import Path
from types import ModuleType
from typing import Any

from chalice.app import RouteEntry

import app
from chalicelib.entrypoints import api, events

ROOT = Path(__file__).resolve().parents[2]
GENERATOR = ROOT / "scripts" / "build_routes.py"


@cache
def generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location("build_routes", GENERATOR)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def described(entry: RouteEntry) -> dict[str, Any]:
    """All Chalice holds for a route, with the view as what the router, Swagger and the middleware read of it."""
    view = entry.view_function
    return {
        **{name: value for name, value in vars(entry).items() if name != "view_function"},
        "view": (view.__module__, view.__name__, inspect.getdoc(view)),
        "required_permission": getattr(view, "required_permission", None),
        "anonymous": getattr(view, "anonymous", False),
    }


def test_the_app_registers_exactly_the_routes_and_options_the_blueprints_declare() -> None:
    # GIVEN every slice's blueprint registered the ordinary way on a throwaway app
    eager = generator().eager_app()
    # THEN the app, registered from the manifest, has the same paths and methods in the same order
    assert [(path, list(methods)) for path, methods in app.app.routes.items()] == [
        (path, list(methods)) for path, methods in eager.routes.items()
    ]
    # AND each route the same options, view name, module, docstring and middleware markers
    for path, methods in eager.routes.items():
        for method, entry in methods.items():
            assert described(app.app.routes[path][method]) == described(entry), f"{method} {path}"
    assert (app.app.api.cors, app.app.api.binary_types) == (eager.api.cors, eager.api.binary_types)


def test_the_committed_manifest_is_what_the_generator_makes() -> None:
    manifest = ROOT / "chalicelib" / "entrypoints" / "route_manifest.py"
    assert manifest.read_text(encoding="utf-8") == generator().build(), "run `make fmt` (scripts/build_routes.py)"


def test_every_routes_module_of_chalicelib_is_a_source_of_the_manifest() -> None:
    found = sorted(
        ".".join(path.relative_to(ROOT).with_suffix("").parts) for path in (ROOT / "chalicelib").rglob("routes.py")
    )
    assert sorted(api.ROUTE_MODULES) == found


def test_the_event_functions_stay_registered_under_their_own_module() -> None:
    handlers = {f.name: f.handler_string for f in app.app.pure_lambda_functions}
    schedules = {s.name: s.handler_string for s in app.app.event_sources}
    assert handlers == {"stream_handler": "chalicelib.entrypoints.events.stream_handler"}
    assert len(schedules) == 13
    assert all(handler == f"chalicelib.entrypoints.events.{name}" for name, handler in schedules.items())
    assert all(callable(getattr(events, name)) for name in schedules)
