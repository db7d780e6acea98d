"""Readiness, for load balancers and the local stack: the table answers and the event runtime is up."""

from __future__ import annotations

from chalice.app import Blueprint, Response

from chalicelib.http import health

bp = Blueprint(__name__)


@bp.route("/v1/health", methods=["GET"])
def get_health() -> Response:
    ready, body = health.check()
    return Response(body=body, status_code=200 if ready else 503)
