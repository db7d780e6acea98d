"""Fission's Chalice app: creates the app and registers blueprints and middleware; no logic here."""

from chalice.app import Chalice, CORSConfig

from chalicelib import observability
from chalicelib.api import (
    admin_audience,
    admin_audit,
    admin_auth,
    admin_automations,
    admin_campaigns,
    admin_compliance,
    admin_exports,
    admin_messaging,
    admin_operators,
    admin_reviews,
    admin_rewards,
    admin_stats,
    admin_templates,
    admin_totp,
    admin_tree,
    admin_webhooks,
    assists,
    groups,
    hooks,
    middleware,
    posters,
    privacy,
    public,
)
from chalicelib.events import handlers

app = Chalice(app_name="fission")
app.api.cors = CORSConfig(
    allow_origin=middleware.CORS_ORIGIN, allow_headers=middleware.CORS_HEADERS.split(","), max_age=600
)

# Posters are binary. API Gateway returns binary only when the request's first Accept type is a binary
# type, and browsers ask for images starting with image/avif or image/webp.
app.api.binary_types = [*app.api.binary_types, "image/avif", "image/webp", "image/*"]

observability.install(app)
middleware.install(app)

app.register_blueprint(public.bp)
app.register_blueprint(admin_auth.bp)
app.register_blueprint(admin_operators.bp)
app.register_blueprint(admin_campaigns.bp)
app.register_blueprint(admin_compliance.bp)
app.register_blueprint(admin_templates.bp)
app.register_blueprint(admin_rewards.bp)
app.register_blueprint(admin_reviews.bp)
app.register_blueprint(admin_webhooks.bp)
app.register_blueprint(admin_stats.bp)
app.register_blueprint(admin_tree.bp)
app.register_blueprint(admin_exports.bp)
app.register_blueprint(admin_audit.bp)
app.register_blueprint(admin_totp.bp)
app.register_blueprint(admin_audience.bp)
app.register_blueprint(admin_automations.bp)
app.register_blueprint(admin_messaging.bp)
app.register_blueprint(groups.bp)
app.register_blueprint(assists.bp)
app.register_blueprint(hooks.bp)
app.register_blueprint(posters.bp)
app.register_blueprint(privacy.bp)
app.register_blueprint(handlers.bp)
