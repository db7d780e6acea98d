"""Operators manage their outbound webhook endpoints and see deliveries given up on."""

from __future__ import annotations

from typing import Any

from chalice.app import Blueprint, Response

from chalicelib.api import http
from chalicelib.config import get_settings
from chalicelib.domain.outbox import WebhookCreate
from chalicelib.domain.rbac import Permission
from chalicelib.services import outbox

bp = Blueprint(__name__)


@bp.route("/v1/admin/webhooks", methods=["GET"])
@http.requires(Permission.OPERATOR_MANAGE)
def list_webhooks() -> dict[str, Any]:
    return {"items": outbox.list_endpoints(http.principal().tid)}


@bp.route("/v1/admin/webhooks/events", methods=["GET"])
@http.requires(Permission.OPERATOR_MANAGE)
def webhook_event_types() -> dict[str, Any]:
    return {"events": outbox.event_types()}


@bp.route("/v1/admin/webhooks", methods=["POST"])
@http.requires(Permission.OPERATOR_MANAGE)
def create_webhook() -> Response:
    body = http.parse(bp.current_request, WebhookCreate)
    actor = http.principal()
    stage = get_settings().stage
    endpoint = outbox.add_endpoint(actor.tid, body.url, body.events, stage, http.now(), actor=actor.email)
    return http.created(endpoint)


@bp.route("/v1/admin/webhooks/{wid}", methods=["DELETE"])
@http.requires(Permission.OPERATOR_MANAGE)
def delete_webhook(wid: str) -> Response:
    actor = http.principal()
    outbox.delete_endpoint(actor.tid, wid, actor=actor.email, now=http.now())
    return http.no_content()


@bp.route("/v1/admin/webhooks/dead", methods=["GET"])
@http.requires(Permission.OPERATOR_MANAGE)
def list_dead_deliveries() -> dict[str, Any]:
    return {"items": outbox.dead_deliveries(http.principal().tid)}
