"""Data-subject rights: a participant exports or erases their own data (participant token)."""

from __future__ import annotations

from chalice.app import Blueprint, Response

from chalicelib.http import request as http
from chalicelib.privacy import service as privacy
from chalicelib.referral import identity

bp = Blueprint(__name__)

# Personal data: no browser, proxy or CDN may keep a copy.
NO_STORE: dict[str, str | list[str]] = {"Cache-Control": "no-store"}


@bp.route("/v1/me/export", methods=["POST"])
def export_my_data() -> Response:
    request = bp.current_request
    body = privacy.export(request.headers.get("authorization"), identity.proof_from(request.headers), http.now())
    return Response(body=body, status_code=200, headers=NO_STORE)


@bp.route("/v1/me", methods=["DELETE"])
def erase_my_data() -> Response:
    request = bp.current_request
    body = privacy.erase(request.headers.get("authorization"), identity.proof_from(request.headers), http.now())
    return Response(body=body, status_code=200, headers=NO_STORE)
