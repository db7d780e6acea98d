"""Public routes: health and what landing pages read."""

from __future__ import annotations

from typing import Any

from chalice.app import Blueprint, Response

from chalicelib.api import http
from chalicelib.domain.counting import BeaconRequest
from chalicelib.domain.participants import JoinRequest
from chalicelib.domain.rewards import ClaimRequest
from chalicelib.services import beacons, campaigns, health, leaderboard, participants, rewards

bp = Blueprint(__name__)


@bp.route("/v1/health", methods=["GET"])
def get_health() -> Response:
    ready, body = health.check()
    return Response(body=body, status_code=200 if ready else 503)


@bp.route("/v1/campaigns/{cid}/public", methods=["GET"])
def get_public_campaign(cid: str) -> dict[str, Any]:
    return campaigns.public_view(cid, http.now())


@bp.route("/v1/campaigns/{cid}/participants", methods=["POST"])
def join_campaign(cid: str) -> Response:
    request = http.parse(bp.current_request, JoinRequest)
    view, created = participants.join(cid, request, http.now(), http.client_ip(bp.current_request))
    return Response(body=view, status_code=201 if created else 200)


@bp.route("/v1/campaigns/{cid}/me", methods=["GET"])
def get_me(cid: str) -> dict[str, Any]:
    return participants.me(cid, bp.current_request.headers.get("authorization"), http.now())


@bp.route("/v1/i/{code}", methods=["GET"])
def follow_invite_link(code: str) -> Response:
    location = participants.follow_link(code, http.query_param(bp.current_request, "ch"), http.now())
    return Response(body="", status_code=302, headers={"Location": location, "Cache-Control": "no-store"})


@bp.route("/v1/campaigns/{cid}/leaderboard", methods=["GET"])
def get_leaderboard(cid: str) -> dict[str, Any]:
    return leaderboard.view(cid, http.query_int(bp.current_request, "limit", 20))


@bp.route("/v1/rewards/{rid}/claim", methods=["POST"])
def claim_reward(rid: str) -> dict[str, Any]:
    request = bp.current_request
    return rewards.claim(rid, request.headers.get("authorization"), http.parse(request, ClaimRequest), http.now())


@bp.route("/v1/campaigns/{cid}/events", methods=["POST"])
def post_event(cid: str) -> Response:
    request = bp.current_request
    beacons.record(cid, lambda: http.parse(request, BeaconRequest), request.headers.get("authorization"), http.now())
    return Response(body={"accepted": True}, status_code=202)
