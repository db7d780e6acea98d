"""An operator's own TOTP enrolment, and the PII reads that need a TOTP step-up."""

from __future__ import annotations

from typing import Any

from chalice.app import Blueprint, Response

from chalicelib.api import http
from chalicelib.domain.operators import TotpConfirm
from chalicelib.domain.rbac import Permission
from chalicelib.services import totp, unmask

bp = Blueprint(__name__)


@bp.route("/v1/admin/operators/me/totp", methods=["POST"])
@http.requires(Permission.ACCOUNT_SELF)
def start_totp_enrolment() -> Response:
    return http.created(totp.enrol(http.principal(), http.now()))


@bp.route("/v1/admin/operators/me/totp/confirm", methods=["POST"])
@http.requires(Permission.ACCOUNT_SELF)
def confirm_totp_enrolment() -> dict[str, Any]:
    body = http.parse(bp.current_request, TotpConfirm)
    return totp.confirm(http.principal(), body.code, http.now())


@bp.route("/v1/admin/participants/{code}/pii", methods=["GET"])
@http.requires(Permission.PII_UNMASK)
def unmask_participant_pii(code: str) -> dict[str, Any]:
    header = bp.current_request.headers.get(totp.HEADER)
    return unmask.participant_pii(http.principal(), code, header, http.now())
