"""Joins, a participant's own view, invite links, leaderboards, claims and follows; rewards, reviews and the tree."""

from __future__ import annotations

from typing import Any

from chalice.app import Blueprint, Response

from chalicelib.accounts import webhook_secret
from chalicelib.core.rbac import Permission
from chalicelib.http import request as http
from chalicelib.platforms.rules.login import MiniLogin
from chalicelib.referral import (
    follows,
    identity,
    join,
    leaderboard,
    links,
    platform_login,
    releases,
    reviews,
    rewards,
    tree,
)
from chalicelib.referral.rules import reviews as review_rules
from chalicelib.referral.rules.follows import FollowEvent
from chalicelib.referral.rules.fraud import ReviewDecision
from chalicelib.referral.rules.participants import JoinRequest, ServerJoinRequest
from chalicelib.referral.rules.release import ExistingCustomers
from chalicelib.referral.rules.rewards import ClaimRequest, CodesUpload, RevokeRequest

bp = Blueprint(__name__)


@bp.route("/v1/campaigns/{cid}/participants", methods=["POST"])
def join_campaign(cid: str) -> Response:
    current = bp.current_request
    request = http.parse(current, JoinRequest)
    authorization = current.headers.get("authorization")
    view, created = join.join(cid, request, http.now(), http.client_ip(current), authorization)
    return Response(body=view, status_code=201 if created else 200)


@bp.route("/v1/server/campaigns/{cid}/participants", methods=["POST"])
def register_participant(cid: str) -> Response:
    current = bp.current_request
    request = http.parse(current, ServerJoinRequest)
    tid = http.principal().tid
    view, created = join.join_as(cid, request.external_id, request, http.now(), http.client_ip(current), tid=tid)
    return Response(body=view, status_code=201 if created else 200)


@bp.route("/v1/server/campaigns/{cid}/existing-customers", methods=["POST"])
def report_existing_customers(cid: str) -> dict[str, Any]:
    request = http.parse(bp.current_request, ExistingCustomers)
    return releases.report(http.principal(), cid, request, http.now())


@bp.route("/v1/campaigns/{cid}/me", methods=["GET"])
def get_me(cid: str) -> dict[str, Any]:
    return join.me(cid, bp.current_request.headers.get("authorization"), http.now())


@bp.route("/v1/campaigns/{cid}/me/proof", methods=["POST"])
def get_proof(cid: str) -> dict[str, Any]:
    return identity.issue_proof(cid, bp.current_request.headers.get("authorization"), http.now())


@bp.route("/v1/campaigns/{cid}/me/sign-out", methods=["POST"])
def sign_out_everywhere(cid: str) -> dict[str, Any]:
    return identity.sign_out(cid, bp.current_request.headers.get("authorization"), http.now())


@bp.route("/v1/i/{code}", methods=["GET"])
def follow_invite_link(code: str) -> Response:
    location = links.follow_link(code, http.query_param(bp.current_request, "ch"), http.now())
    return Response(body="", status_code=302, headers={"Location": location, "Cache-Control": "no-store"})


def _redirect(location: str) -> Response:
    return Response(body="", status_code=302, headers={"Location": location, "Cache-Control": "no-store"})


def _query() -> dict[str, str]:
    params = bp.current_request.query_params
    return {name: str(value) for name, value in (params or {}).items()}


@bp.route("/v1/wechat/{tid}/oauth/start", methods=["GET"])
def start_wechat_login(tid: str) -> Response:
    request = platform_login.parse_start(_query())
    return _redirect(platform_login.start(tid, request, http.now()))


@bp.route("/v1/wechat/{tid}/oauth/callback", methods=["GET"])
def finish_wechat_login(tid: str) -> Response:
    return _redirect(platform_login.finish(tid, _query(), http.now()))


@bp.route("/v1/wechat/{tid}/jssdk-config", methods=["GET"])
def get_jssdk_config(tid: str) -> dict[str, Any]:
    return platform_login.jssdk_config(tid, http.query_param(bp.current_request, "url"), http.now())


@bp.route("/v1/miniprogram/{tid}/login", methods=["POST"])
def mini_program_login(tid: str) -> dict[str, Any]:
    request = http.parse(bp.current_request, MiniLogin)
    return platform_login.mini_login(tid, request, http.now())


@bp.route("/v1/campaigns/{cid}/leaderboard", methods=["GET"])
def get_leaderboard(cid: str) -> dict[str, Any]:
    return leaderboard.view(cid, http.query_int(bp.current_request, "limit", 20))


@bp.route("/v1/rewards/{rid}/claim", methods=["POST"])
def claim_reward(rid: str) -> dict[str, Any]:
    request = bp.current_request
    body = http.parse(request, ClaimRequest)
    return rewards.claim(
        rid, request.headers.get("authorization"), body, identity.proof_from(request.headers), http.now()
    )


@bp.route("/v1/hooks/{tid}/follows", methods=["POST"])
def receive_follow(tid: str) -> dict[str, Any]:
    request = bp.current_request
    event = webhook_secret.verified(tid, request.headers, http.raw_body(request), http.now(), FollowEvent)
    return follows.follow(tid, event, http.now())


@bp.route("/v1/admin/campaigns/{cid}/coupon-pools", methods=["GET"])
@http.requires(Permission.CAMPAIGN_READ)
def list_coupon_pools(cid: str) -> dict[str, Any]:
    return rewards.pools(http.principal(), cid)


@bp.route("/v1/admin/campaigns/{cid}/coupon-pools/{rule}/codes", methods=["POST"])
@http.requires(Permission.CAMPAIGN_WRITE)
def upload_coupon_codes(cid: str, rule: str) -> dict[str, Any]:
    upload = http.parse(bp.current_request, CodesUpload)
    return rewards.upload_codes(http.principal(), cid, rule, upload, http.now())


@bp.route("/v1/admin/campaigns/{cid}/rewards/{rid}/revoke", methods=["POST"])
@http.requires(Permission.CAMPAIGN_PUBLISH)
def revoke_reward(cid: str, rid: str) -> dict[str, Any]:
    request = http.parse(bp.current_request, RevokeRequest)
    return rewards.revoke(http.principal(), cid, rid, request, http.now())


@bp.route("/v1/admin/reviews", methods=["GET"])
@http.requires(Permission.REVIEW_READ)
def list_reviews() -> dict[str, Any]:
    request = bp.current_request
    limit = http.query_int(request, "limit", 50)
    status, cid, older, newer = (http.query_param(request, name) for name in review_rules.FILTERS)
    which = review_rules.parse(status, cid, older, newer, limit, http.now())
    return reviews.page(http.principal(), which, limit, http.query_param(request, "cursor"))


@bp.route("/v1/admin/reviews/{rid}/approve", methods=["POST"])
@http.requires(Permission.CAMPAIGN_PUBLISH)
def approve_review(rid: str) -> dict[str, Any]:
    decision = http.parse(bp.current_request, ReviewDecision)
    return releases.decide(http.principal(), rid, "approved", decision, http.now())


@bp.route("/v1/admin/reviews/{rid}/reject", methods=["POST"])
@http.requires(Permission.CAMPAIGN_PUBLISH)
def reject_review(rid: str) -> dict[str, Any]:
    decision = http.parse(bp.current_request, ReviewDecision)
    return releases.decide(http.principal(), rid, "rejected", decision, http.now())


@bp.route("/v1/admin/campaigns/{cid}/tree", methods=["GET"])
@http.requires(Permission.STATS_READ)
def get_referral_tree(cid: str) -> dict[str, Any]:
    request = bp.current_request
    return tree.tree(
        http.principal(),
        cid,
        root=http.query_param(request, "root"),
        depth=http.query_int(request, "depth", tree.DEFAULT_DEPTH),
        limit=http.query_int(request, "limit", tree.DEFAULT_LIMIT),
        cursor=http.query_param(request, "cursor"),
    )
