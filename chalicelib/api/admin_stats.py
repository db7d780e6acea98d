"""Campaign statistics for operators."""

from __future__ import annotations

from typing import Any

from chalice.app import Blueprint

from chalicelib.api import http
from chalicelib.domain.rbac import Permission
from chalicelib.services import stats

bp = Blueprint(__name__)


@bp.route("/v1/admin/campaigns/{cid}/stats", methods=["GET"])
@http.requires(Permission.STATS_READ)
def get_campaign_stats(cid: str) -> dict[str, Any]:
    request = bp.current_request
    query = {name: http.query_param(request, name) for name in ("from", "to", "granularity")}
    return stats.report(http.principal(), cid, query, http.now())
