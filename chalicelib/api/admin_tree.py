"""The referral tree of a campaign, for operators."""

from __future__ import annotations

from typing import Any

from chalice.app import Blueprint

from chalicelib.api import http
from chalicelib.domain.rbac import Permission
from chalicelib.services import tree

bp = Blueprint(__name__)


@bp.route("/v1/admin/campaigns/{cid}/tree", methods=["GET"])
@http.requires(Permission.STATS_READ)
def get_referral_tree(cid: str) -> dict[str, Any]:
    request = bp.current_request
    return tree.tree(
        http.principal(),
        cid,
        root=http.query_param(request, "root"),
        depth=http.query_int(request, "depth", tree.DEFAULT_DEPTH),
        limit=http.query_int(request, "limit", tree.DEFAULT_LIMIT),
        cursor=http.query_param(request, "cursor"),
    )
