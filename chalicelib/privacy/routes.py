"""Data-subject rights: a participant exports or erases their own data (participant token)."""

from __future__ import annotations

from chalice.app import Blueprint, Response

from chalicelib.http import request as http
from chalicelib.privacy import service as privacy

bp = Blueprint(__name__)

# Personal data: no browser, proxy or CDN may keep a copy.
NO_STORE: dict[str, str | list[str]] = {"Cache-Control": "no-store"}


@bp.route("/v1/me/export", methods=["POST"])
def export_my_data() -> Response:
    body = privacy.export(bp.current_request.headers.get("authorization"), http.now())
    return Response(body=body, status_code=200, headers=NO_STORE)


@bp.route("/v1/me", methods=["DELETE"])
def erase_my_data() -> Response:
    body = privacy.erase(bp.current_request.headers.get("authorization"), http.now())
    return Response(body=body, status_code=200, headers=NO_STORE)
