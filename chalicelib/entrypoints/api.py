"""The HTTP side of the app in one place: CORS, binary types, middleware, and every slice's routes, loaded lazily.

Each route is registered from the route manifest (entrypoints/route_manifest.py, generated from the slices'
blueprints by scripts/build_routes.py) with a thin view that imports the slice's routes module on the route's
first call and then calls the slice's own view. So `import app` (every cold start) loads no slice, and a
landing page's first request loads its own slice, not the operators' console. docs/decisions.md says why.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any

from chalice.app import Chalice, CORSConfig

from chalicelib.core import observability
from chalicelib.entrypoints import events, middleware, wiring
from chalicelib.entrypoints.route_manifest import ROUTES, Route

# One routes module per slice (docs/architecture.md maps each route path to its folder), in the order their
# routes are registered; each holds a blueprint `bp` that declares routes only. The stream handler and the
# schedules (entrypoints/events.py) are registered after them, as they are: their functions are separate.
ROUTE_MODULES: tuple[str, ...] = (
    "chalicelib.http.routes",
    "chalicelib.accounts.routes",
    "chalicelib.campaigns.routes",
    "chalicelib.referral.routes",
    "chalicelib.modes.group_buy.routes",
    "chalicelib.modes.assist.routes",
    "chalicelib.modes.distribution.routes",
    "chalicelib.posters.routes",
    "chalicelib.messaging.routes",
    "chalicelib.platforms.routes",
    "chalicelib.analytics.routes",
    "chalicelib.audience.routes",
    "chalicelib.payouts.routes",
    "chalicelib.loyalty.routes",
    "chalicelib.privacy.routes",
)


def configure(app: Chalice) -> None:
    """The API's CORS and binary types: set before any route is registered, as each route takes the CORS."""
    app.api.cors = CORSConfig(
        allow_origin=middleware.CORS_ORIGIN, allow_headers=middleware.CORS_HEADERS.split(","), max_age=600
    )
    # Posters are binary. API Gateway returns binary only when the request's first Accept type is a binary
    # type, and browsers ask for images starting with image/avif or image/webp.
    app.api.binary_types = [*app.api.binary_types, "image/avif", "image/webp", "image/*"]


def install(app: Chalice) -> None:
    configure(app)
    observability.install(app)
    middleware.install(app)
    for route in ROUTES:
        register(app, route)
    app.register_blueprint(events.bp)


def register(app: Chalice, route: Route) -> None:
    """One route as the slice's blueprint would register it, with a view that loads the slice when first called."""
    options: dict[str, Any] = {"methods": [route.method], "content_types": list(route.content_types)}
    if route.api_key_required is not None:
        options["api_key_required"] = route.api_key_required
    app.route(route.path, **options)(lazy_view(app, route))


def lazy_view(app: Chalice, route: Route) -> Callable[..., Any]:
    """A stand-in for the slice's view: the same name, module, docstring and middleware markers (what Chalice
    and the authorisation middleware read), and on each call the slice's view with the same arguments."""

    loaded: list[Callable[..., Any]] = []

    def view(**params: Any) -> Any:
        if not loaded:
            loaded.append(_slice_view(app, route))
        return loaded[0](**params)

    view.__name__ = view.__qualname__ = route.view
    view.__module__ = route.module
    view.__doc__ = route.doc
    if route.permission is not None:
        setattr(view, "required_permission", route.permission)  # noqa: B010 - the marker `http.requires` sets
    if route.anonymous:
        setattr(view, "anonymous", True)  # noqa: B010 - the marker `http.anonymous` sets
    return view


def _slice_view(app: Chalice, route: Route) -> Callable[..., Any]:
    wiring.wire()
    module = importlib.import_module(route.module)  # the slice's routes module, on its first route's first call
    # What `app.register_blueprint` does for a blueprint's routes besides registering them (registered here from
    # the manifest instead): bind it to the app, so that `bp.current_request` is this app's request.
    module.bp._current_app = app
    view: Callable[..., Any] = getattr(module, route.view)
    return view
