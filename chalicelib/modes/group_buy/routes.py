"""Group buying routes: open a group, join one, see one."""

from __future__ import annotations

from typing import Any

from chalice.app import Blueprint, Response

from chalicelib.http import request as http
from chalicelib.modes.group_buy import service as groups
from chalicelib.modes.group_buy.rules import OpenGroupRequest

bp = Blueprint(__name__)


@bp.route("/v1/campaigns/{cid}/groups", methods=["POST"])
def open_group(cid: str) -> Response:
    request = bp.current_request
    body = http.parse(request, OpenGroupRequest)
    view = groups.open_group(cid, request.headers.get("authorization"), body.size, http.now())
    return http.created(view)


@bp.route("/v1/groups/{gid}/members", methods=["POST"])
def join_group(gid: str) -> dict[str, Any]:
    return groups.join_group(gid, bp.current_request.headers.get("authorization"), http.now())


@bp.route("/v1/groups/{gid}", methods=["GET"])
def get_group(gid: str) -> dict[str, Any]:
    return groups.get_group(gid, http.now())
