"""Owners manage their tenant's operators and roles."""

from __future__ import annotations

from typing import Any
from urllib.parse import unquote

from chalice.app import Blueprint, Response

from chalicelib.api import http
from chalicelib.domain.operators import OperatorCreate, OperatorPatch
from chalicelib.domain.rbac import Permission
from chalicelib.services import operators

bp = Blueprint(__name__)


@bp.route("/v1/admin/operators", methods=["GET"])
@http.requires(Permission.OPERATOR_READ)
def list_operators() -> dict[str, Any]:
    return operators.list_all(http.principal())


@bp.route("/v1/admin/operators", methods=["POST"])
@http.requires(Permission.OPERATOR_MANAGE)
def create_operator() -> Response:
    request = bp.current_request
    body = http.parse(request, OperatorCreate)
    key = request.headers.get("idempotency-key")
    return http.created(operators.create(http.principal(), body, http.now(), key))


@bp.route("/v1/admin/operators/{email}", methods=["PATCH"])
@http.requires(Permission.OPERATOR_MANAGE)
def update_operator(email: str) -> dict[str, Any]:
    patch = http.parse(bp.current_request, OperatorPatch)
    return operators.update(http.principal(), unquote(email), patch, http.now())


@bp.route("/v1/admin/operators/{email}", methods=["DELETE"])
@http.requires(Permission.OPERATOR_MANAGE)
def delete_operator(email: str) -> Response:
    operators.remove(http.principal(), unquote(email))
    return http.no_content()
