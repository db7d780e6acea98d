"""The HTTP side of the app in one place: CORS, binary types, middleware and every slice's blueprint."""

from __future__ import annotations

from chalice.app import Blueprint, Chalice, CORSConfig

from chalicelib.accounts import routes as accounts
from chalicelib.analytics import routes as analytics
from chalicelib.audience import routes as audience
from chalicelib.campaigns import routes as campaigns
from chalicelib.core import observability
from chalicelib.entrypoints import events as handlers
from chalicelib.entrypoints import middleware
from chalicelib.http import routes as health
from chalicelib.messaging import routes as messaging
from chalicelib.modes.assist import routes as assists
from chalicelib.modes.distribution import routes as orders
from chalicelib.modes.group_buy import routes as groups
from chalicelib.posters import routes as posters
from chalicelib.privacy import routes as privacy
from chalicelib.referral import routes as referral

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
