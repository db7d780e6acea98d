"""Inbound webhooks from merchant systems (signed), and the admin view of the signing secret."""

from __future__ import annotations

from typing import Any

from chalice.app import Blueprint

from chalicelib.api import http
from chalicelib.domain.hooks import FollowEvent
from chalicelib.domain.orders import OrderEvent
from chalicelib.domain.rbac import Permission
from chalicelib.services import hooks, orders

bp = Blueprint(__name__)


@bp.route("/v1/hooks/{tid}/follows", methods=["POST"])
def receive_follow(tid: str) -> dict[str, Any]:
    request = bp.current_request
    event = hooks.verified(tid, request.headers, http.raw_body(request), http.now(), FollowEvent)
    return hooks.follow(tid, event, http.now())


@bp.route("/v1/hooks/{tid}/orders", methods=["POST"])
def receive_order(tid: str) -> dict[str, Any]:
    request = bp.current_request
    event = hooks.verified(tid, request.headers, http.raw_body(request), http.now(), OrderEvent)
    return orders.receive(tid, event, http.now())


@bp.route("/v1/admin/webhook-secret", methods=["GET"])
@http.requires(Permission.OPERATOR_MANAGE)
def get_webhook_secret() -> dict[str, Any]:
    return hooks.secret_view(http.principal())


@bp.route("/v1/admin/webhook-secret/rotate", methods=["POST"])
@http.requires(Permission.OPERATOR_MANAGE)
def rotate_webhook_secret() -> dict[str, Any]:
    return hooks.rotate_secret(http.principal())
