"""The template library for operators."""

from __future__ import annotations

from typing import Any

from chalice.app import Blueprint

from chalicelib.api import http
from chalicelib.domain.rbac import Permission
from chalicelib.services import templates

bp = Blueprint(__name__)


@bp.route("/v1/admin/templates", methods=["GET"])
@http.requires(Permission.CAMPAIGN_READ)
def list_templates() -> dict[str, Any]:
    request = bp.current_request
    return templates.catalogue(
        industry=http.query_param(request, "industry"),
        mode=http.query_param(request, "mode"),
        language=http.query_param(request, "lang"),
    )
