"""The HTTP side of the app in one place: CORS, binary types, middleware and every slice's blueprint."""

from __future__ import annotations

from chalice.app import Blueprint, Chalice, CORSConfig

from chalicelib import observability
from chalicelib.api import (
    accounts,
    analytics,
    assists,
    audience,
    campaigns,
    groups,
    health,
    messaging,
    middleware,
    orders,
    posters,
    privacy,
    referral,
)
from chalicelib.events import handlers, wiring

# One blueprint per slice (docs/architecture.md maps each route path to its folder), then the
# stream handler and the schedules.
BLUEPRINTS: tuple[Blueprint, ...] = (
    health.bp,
    accounts.bp,
    campaigns.bp,
    referral.bp,
    groups.bp,
    assists.bp,
    orders.bp,
    posters.bp,
    messaging.bp,
    analytics.bp,
    audience.bp,
    privacy.bp,
    handlers.bp,
)


def install(app: Chalice) -> None:
    wiring.wire()
    app.api.cors = CORSConfig(
        allow_origin=middleware.CORS_ORIGIN, allow_headers=middleware.CORS_HEADERS.split(","), max_age=600
    )
    # Posters are binary. API Gateway returns binary only when the request's first Accept type is a binary
    # type, and browsers ask for images starting with image/avif or image/webp.
    app.api.binary_types = [*app.api.binary_types, "image/avif", "image/webp", "image/*"]
    observability.install(app)
    middleware.install(app)
    for blueprint in BLUEPRINTS:
        app.register_blueprint(blueprint)
