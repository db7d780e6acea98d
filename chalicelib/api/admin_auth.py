"""Operator login."""

from __future__ import annotations

from typing import Any

from chalice.app import Blueprint

from chalicelib.api import http
from chalicelib.domain.operators import LoginRequest
from chalicelib.services import auth

bp = Blueprint(__name__)


@bp.route("/v1/admin/login", methods=["POST"])
@http.anonymous
def login() -> dict[str, Any]:
    return auth.login(http.parse(bp.current_request, LoginRequest), http.now())
