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


@bp.route("/v1/admin/webhooks", methods=["POST"])
@http.requires(Permission.OPERATOR_MANAGE)
def create_webhook() -> Response:
    body = http.parse(bp.current_request, WebhookCreate)
    endpoint = outbox.add_endpoint(http.principal().tid, body.url, body.events, get_settings().stage, http.now())
    return http.created(endpoint)


@bp.route("/v1/admin/webhooks/{wid}", methods=["DELETE"])
@http.requires(Permission.OPERATOR_MANAGE)
def delete_webhook(wid: str) -> Response:
    outbox.delete_endpoint(http.principal().tid, wid)
    return http.no_content()


@bp.route("/v1/admin/webhooks/dead", methods=["GET"])
@http.requires(Permission.OPERATOR_MANAGE)
def list_dead_deliveries() -> dict[str, Any]:
    return {"items": outbox.dead_deliveries(http.principal().tid)}
