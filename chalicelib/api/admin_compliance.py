"""The compliance preview: findings and a cost simulation for a campaign, before anyone publishes it."""

from __future__ import annotations

from typing import Any

from chalice.app import Blueprint

from chalicelib.api import http
from chalicelib.domain.compliance import PreviewRequest
from chalicelib.domain.rbac import Permission
from chalicelib.services import compliance

bp = Blueprint(__name__)


# Read permission: the preview changes nothing, and analysts and viewers review campaigns too.
@bp.route("/v1/admin/campaigns/{cid}/preview", methods=["POST"])
@http.requires(Permission.CAMPAIGN_READ)
def preview_campaign(cid: str) -> dict[str, Any]:
    request = http.parse(bp.current_request, PreviewRequest)
    return compliance.preview(http.principal(), cid, request)
