"""Public routes: health and what landing pages read."""

from __future__ import annotations

from typing import Any

from chalice.app import Blueprint, Response

from chalicelib.api import http
from chalicelib.services import campaigns, health

bp = Blueprint(__name__)


@bp.route("/v1/health", methods=["GET"])
def get_health() -> Response:
    ready, body = health.check()
    return Response(body=body, status_code=200 if ready else 503)


@bp.route("/v1/campaigns/{cid}/public", methods=["GET"])
def get_public_campaign(cid: str) -> dict[str, Any]:
    return campaigns.public_view(cid, http.now())
