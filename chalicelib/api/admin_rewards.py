"""Rewards for operators: coupon code pools and revoking a reward."""

from __future__ import annotations

from typing import Any

from chalice.app import Blueprint

from chalicelib.api import http
from chalicelib.domain.rbac import Permission
from chalicelib.domain.rewards import CodesUpload, RevokeRequest
from chalicelib.services import rewards

bp = Blueprint(__name__)


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
