"""The tenant's audit trail: list it (newest first) and verify its hash chain."""

from __future__ import annotations

from typing import Any

from chalice.app import Blueprint

from chalicelib.api import http
from chalicelib.domain.rbac import Permission
from chalicelib.services import audit

bp = Blueprint(__name__)


@bp.route("/v1/admin/audit", methods=["GET"])
@http.requires(Permission.AUDIT_READ)
def list_audit() -> dict[str, Any]:
    request = bp.current_request
    limit = http.query_int(request, "limit", 50)
    return audit.page(http.principal().tid, limit, http.query_param(request, "cursor"))


@bp.route("/v1/admin/audit/verify", methods=["GET"])
@http.requires(Permission.AUDIT_READ)
def verify_audit() -> dict[str, Any]:
    return audit.verify(http.principal().tid)
