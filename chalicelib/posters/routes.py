"""Personalised posters: images, not JSON."""

from __future__ import annotations

from chalice.app import Blueprint, Response

from chalicelib.http import request as http
from chalicelib.posters import service as posters

bp = Blueprint(__name__)


@bp.route("/v1/posters/{cid}/{filename}", methods=["GET"])
def get_poster(cid: str, filename: str) -> Response:
    sent = bp.current_request.headers
    poster = posters.serve(cid, filename, sent.get("accept"), sent.get("if-none-match"), http.now())
    headers: dict[str, str | list[str]] = {
        "Content-Type": poster.content_type,
        "ETag": poster.etag,
        "Cache-Control": posters.CACHE_CONTROL,
    }
    return Response(body=poster.body, status_code=poster.status, headers=headers)
