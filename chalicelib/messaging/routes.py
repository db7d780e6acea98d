"""Messaging settings, the message outbox, opt-outs and unsubscribe links; outbound webhook endpoints."""

from __future__ import annotations

from typing import Any

from chalice.app import Blueprint, Response

from chalicelib.accounts import totp
from chalicelib.core.config import get_settings
from chalicelib.core.rbac import Permission
from chalicelib.http import request as http
from chalicelib.messaging import messages, webhooks
from chalicelib.messaging.rules.messages import MessagingSettings, UnsubscribeRequest
from chalicelib.messaging.rules.webhooks import WebhookCreate

bp = Blueprint(__name__)


@bp.route("/v1/admin/messaging", methods=["GET"])
@http.requires(Permission.AUDIENCE_READ)
def get_messaging() -> dict[str, Any]:
    return messages.settings_view(http.principal())


@bp.route("/v1/admin/messaging", methods=["PUT"])
@http.requires(Permission.AUDIENCE_WRITE)
def put_messaging() -> dict[str, Any]:
    request = bp.current_request
    body = http.parse(request, MessagingSettings)
    return messages.update_settings(http.principal(), body, request.headers.get(totp.HEADER), http.now())


@bp.route("/v1/admin/messages", methods=["GET"])
@http.requires(Permission.AUDIENCE_READ)
def list_messages() -> dict[str, Any]:
    request = bp.current_request
    return messages.list_messages(
        http.principal(),
        status=http.query_param(request, "status"),
        channel=http.query_param(request, "channel"),
        limit=http.query_int(request, "limit", 50),
        cursor=http.query_param(request, "cursor"),
    )


@bp.route("/v1/admin/messages/{mid}/retry", methods=["POST"])
@http.requires(Permission.AUDIENCE_WRITE)
def retry_message(mid: str) -> dict[str, Any]:
    return messages.retry(http.principal(), mid, http.now())


@bp.route("/v1/unsubscribe", methods=["POST"])
def unsubscribe() -> dict[str, Any]:
    body = http.parse(bp.current_request, UnsubscribeRequest)
    return messages.unsubscribe(body.token, http.now())


@bp.route("/v1/admin/webhooks", methods=["GET"])
@http.requires(Permission.OPERATOR_MANAGE)
def list_webhooks() -> dict[str, Any]:
    return {"items": webhooks.list_endpoints(http.principal().tid)}


@bp.route("/v1/admin/webhooks/events", methods=["GET"])
@http.requires(Permission.OPERATOR_MANAGE)
def webhook_event_types() -> dict[str, Any]:
    return {"events": webhooks.event_types()}


@bp.route("/v1/admin/webhooks", methods=["POST"])
@http.requires(Permission.OPERATOR_MANAGE)
def create_webhook() -> Response:
    request = bp.current_request
    body = http.parse(request, WebhookCreate)
    stage = get_settings().stage
    code = request.headers.get(totp.HEADER)
    return http.created(webhooks.create_endpoint(http.principal(), body.url, body.events, stage, code, http.now()))


@bp.route("/v1/admin/webhooks/{wid}", methods=["DELETE"])
@http.requires(Permission.OPERATOR_MANAGE)
def delete_webhook(wid: str) -> Response:
    actor = http.principal()
    webhooks.delete_endpoint(actor.tid, wid, actor=actor.email, now=http.now())
    return http.no_content()


@bp.route("/v1/admin/webhooks/dead", methods=["GET"])
@http.requires(Permission.OPERATOR_MANAGE)
def list_dead_deliveries() -> dict[str, Any]:
    return {"items": webhooks.dead_deliveries(http.principal().tid)}
