"""The fraud review queue for operators: held joins (and flagged helps and orders) to approve or reject."""

from __future__ import annotations

from typing import Any

from chalice.app import Blueprint

from chalicelib.api import http
from chalicelib.domain.fraud import ReviewDecision
from chalicelib.domain.rbac import Permission
from chalicelib.services import reviews

bp = Blueprint(__name__)


@bp.route("/v1/admin/reviews", methods=["GET"])
@http.requires(Permission.REVIEW_READ)
def list_reviews() -> dict[str, Any]:
    request = bp.current_request
    status = http.query_param(request, "status") or reviews.STATUSES[0]
    limit = http.query_int(request, "limit", 50)
    return reviews.page(http.principal(), status, limit, http.query_param(request, "cursor"))


@bp.route("/v1/admin/reviews/{rid}/approve", methods=["POST"])
@http.requires(Permission.CAMPAIGN_PUBLISH)
def approve_review(rid: str) -> dict[str, Any]:
    decision = http.parse(bp.current_request, ReviewDecision)
    return reviews.decide(http.principal(), rid, "approved", decision, http.now())


@bp.route("/v1/admin/reviews/{rid}/reject", methods=["POST"])
@http.requires(Permission.CAMPAIGN_PUBLISH)
def reject_review(rid: str) -> dict[str, Any]:
    decision = http.parse(bp.current_request, ReviewDecision)
    return reviews.decide(http.principal(), rid, "rejected", decision, http.now())
