"""Orders from the merchant's shop, by the signed webhook or from its server with an API key: qualification,
group payments and distribution commission."""

from __future__ import annotations

from typing import Any

from chalice.app import Blueprint

from chalicelib.accounts import webhook_secret
from chalicelib.http import request as http
from chalicelib.modes.distribution import service as orders
from chalicelib.modes.distribution.rules.orders import OrderEvent

bp = Blueprint(__name__)


@bp.route("/v1/hooks/{tid}/orders", methods=["POST"])
def receive_order(tid: str) -> dict[str, Any]:
    request = bp.current_request
    event = webhook_secret.verified(tid, request.headers, http.raw_body(request), http.now(), OrderEvent)
    return orders.receive(tid, event, http.now())


@bp.route("/v1/server/orders", methods=["POST"])
def receive_server_order() -> dict[str, Any]:
    event = http.parse(bp.current_request, OrderEvent)
    return orders.receive(http.principal().tid, event, http.now())
