"""Assist routes: a friend helps a participant's assist; anyone reads its progress."""

from __future__ import annotations

from typing import Any

from chalice.app import Blueprint

from chalicelib.http import request as http
from chalicelib.modes.assist import service as assists

bp = Blueprint(__name__)


@bp.route("/v1/campaigns/{cid}/assists/{owner_code}", methods=["POST"])
def help_assist(cid: str, owner_code: str) -> dict[str, Any]:
    authorization = bp.current_request.headers.get("authorization")
    return assists.help_friend(cid, owner_code, authorization, http.now(), http.client_ip(bp.current_request))


@bp.route("/v1/campaigns/{cid}/assists/{owner_code}", methods=["GET"])
def get_assist(cid: str, owner_code: str) -> dict[str, Any]:
    return assists.progress(cid, owner_code, http.now())
