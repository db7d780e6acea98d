"""Campaigns: the lifecycle for operators, the compliance preview, templates, and the public campaign view."""

from __future__ import annotations

from typing import Any

from chalice.app import Blueprint, Response

from chalicelib.accounts import totp
from chalicelib.campaigns import compliance, lifecycle, templates
from chalicelib.campaigns.rules.compliance import PreviewRequest
from chalicelib.campaigns.rules.spec import Action
from chalicelib.core.errors import ValidationFailed
from chalicelib.core.rbac import Permission
from chalicelib.http import request as http

bp = Blueprint(__name__)

DEFAULT_PAGE = 20


@bp.route("/v1/admin/campaigns", methods=["POST"])
@http.requires(Permission.CAMPAIGN_WRITE)
def create_campaign() -> Response:
    request = bp.current_request
    key = request.headers.get("idempotency-key")
    code = request.headers.get(totp.HEADER)
    return http.created(lifecycle.create(http.principal(), http.json_object(request), http.now(), key, code))


@bp.route("/v1/admin/campaigns", methods=["GET"])
@http.requires(Permission.CAMPAIGN_READ)
def list_campaigns() -> dict[str, Any]:
    request = bp.current_request
    return lifecycle.list_page(
        http.principal(),
        http.now(),
        limit=http.query_int(request, "limit", DEFAULT_PAGE),
        cursor=http.query_param(request, "cursor"),
        status=http.query_param(request, "status"),
    )


@bp.route("/v1/admin/campaigns/{cid}", methods=["GET"])
@http.requires(Permission.CAMPAIGN_READ)
def get_campaign(cid: str) -> dict[str, Any]:
    return lifecycle.get(http.principal(), cid, http.now())


@bp.route("/v1/admin/campaigns/{cid}", methods=["PATCH"])
@http.requires(Permission.CAMPAIGN_WRITE)
def patch_campaign(cid: str) -> dict[str, Any]:
    request = bp.current_request
    return lifecycle.patch(
        http.principal(), cid, http.json_object(request), http.now(), request.headers.get(totp.HEADER)
    )


@bp.route("/v1/admin/campaigns/{cid}", methods=["DELETE"])
@http.requires(Permission.CAMPAIGN_WRITE)
def delete_campaign(cid: str) -> Response:
    lifecycle.delete(http.principal(), cid)
    return http.no_content()


@bp.route("/v1/admin/campaigns/{cid}/publish", methods=["POST"])
@http.requires(Permission.CAMPAIGN_PUBLISH)
def publish_campaign(cid: str) -> dict[str, Any]:
    # `?override=value_cap`: the owner publishes over the reward value cap (recorded in the audit chain).
    override = http.query_param(bp.current_request, "override")
    if override not in (None, "value_cap"):
        raise ValidationFailed(
            "override must be value_cap; no other compliance rule can be overridden",
            details={"errors": [{"field": "override", "type": "enum", "message": "value_cap"}]},
        )
    return lifecycle.transition(
        http.principal(), cid, Action.PUBLISH, http.now(), override_value_cap=override == "value_cap"
    )


@bp.route("/v1/admin/campaigns/{cid}/pause", methods=["POST"])
@http.requires(Permission.CAMPAIGN_PUBLISH)
def pause_campaign(cid: str) -> dict[str, Any]:
    return lifecycle.transition(http.principal(), cid, Action.PAUSE, http.now())


@bp.route("/v1/admin/campaigns/{cid}/end", methods=["POST"])
@http.requires(Permission.CAMPAIGN_PUBLISH)
def end_campaign(cid: str) -> dict[str, Any]:
    return lifecycle.transition(http.principal(), cid, Action.END, http.now())


@bp.route("/v1/admin/campaigns/{cid}/preview", methods=["POST"])
@http.requires(Permission.CAMPAIGN_READ)
def preview_campaign(cid: str) -> dict[str, Any]:
    request = http.parse(bp.current_request, PreviewRequest)
    return compliance.preview(http.principal(), cid, request)


@bp.route("/v1/admin/templates", methods=["GET"])
@http.requires(Permission.CAMPAIGN_READ)
def list_templates() -> dict[str, Any]:
    request = bp.current_request
    return templates.catalogue(
        industry=http.query_param(request, "industry"),
        mode=http.query_param(request, "mode"),
        language=http.query_param(request, "lang"),
    )


@bp.route("/v1/campaigns/{cid}/public", methods=["GET"])
def get_public_campaign(cid: str) -> dict[str, Any]:
    return lifecycle.public_view(cid, http.now())
