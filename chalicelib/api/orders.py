"""The orders webhook from the merchant's shop (signed): qualification, group payments and distribution commission."""

from __future__ import annotations

from typing import Any

from chalice.app import Blueprint

from chalicelib.api import http
from chalicelib.domain.orders import OrderEvent
from chalicelib.services import orders, tenant_secrets

bp = Blueprint(__name__)


@bp.route("/v1/hooks/{tid}/orders", methods=["POST"])
def receive_order(tid: str) -> dict[str, Any]:
    request = bp.current_request
    event = tenant_secrets.verified(tid, request.headers, http.raw_body(request), http.now(), OrderEvent)
    return orders.receive(tid, event, http.now())
