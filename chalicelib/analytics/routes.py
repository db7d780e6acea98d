"""Analytics: landing-page beacons, campaign statistics, CSV exports and budget stop-loss lines."""

from __future__ import annotations

from typing import Any

from chalice.app import Blueprint, Response

from chalicelib.accounts import totp
from chalicelib.analytics import beacons, exports, growth, stats, stoploss
from chalicelib.analytics.rules.counting import BeaconRequest
from chalicelib.analytics.rules.growth import GrowthTarget
from chalicelib.analytics.rules.stoploss import StopLossRequest
from chalicelib.core.rbac import Permission
from chalicelib.http import request as http

bp = Blueprint(__name__)


@bp.route("/v1/campaigns/{cid}/events", methods=["POST"])
def post_event(cid: str) -> Response:
    request = bp.current_request
    beacons.record(cid, lambda: http.parse(request, BeaconRequest), request.headers.get("authorization"), http.now())
    return Response(body={"accepted": True}, status_code=202)


@bp.route("/v1/admin/campaigns/{cid}/stats", methods=["GET"])
@http.requires(Permission.STATS_READ)
def get_campaign_stats(cid: str) -> dict[str, Any]:
    request = bp.current_request
    query = {name: http.query_param(request, name) for name in ("from", "to", "granularity")}
    return stats.report(http.principal(), cid, query, http.now())


@bp.route("/v1/admin/exports", methods=["POST"])
@http.requires(Permission.EXPORT_CREATE)
def create_export() -> Response:
    request = bp.current_request
    # Exports carry PII in bulk: a fresh TOTP step-up first (X-Fission-TOTP or a recent TOTP login).
    totp.require_step_up(http.principal(), request.headers.get(totp.HEADER), http.now())
    key = request.headers.get("idempotency-key")
    job = exports.create(http.principal(), http.json_object(request), http.now(), key)
    return Response(body=job, status_code=202)


@bp.route("/v1/admin/exports/{eid}", methods=["GET"])
@http.requires(Permission.EXPORT_CREATE)
def get_export(eid: str) -> dict[str, Any]:
    return exports.get(http.principal(), eid)


@bp.route("/v1/admin/exports/{eid}/download", methods=["GET"])
@http.requires(Permission.EXPORT_CREATE)
def download_export(eid: str) -> Response:
    request = bp.current_request
    how, found = exports.download(http.principal(), eid, request.headers.get(totp.HEADER), http.now())
    if how == "redirect":
        if "application/json" in (request.headers.get("accept") or ""):
            # For a page: it cannot read a redirect's Location, and its bearer token must not follow it to S3.
            return Response(body={"url": found, "expires_in": exports.LINK_SECONDS}, status_code=200)
        return Response(body="", status_code=302, headers={"Location": str(found)})
    body = found.decode("utf-8") if isinstance(found, bytes) else found
    return Response(
        body=body,
        status_code=200,
        headers={
            "Content-Type": "text/csv; charset=utf-8",
            "Content-Disposition": f'attachment; filename="{exports.file_name(eid)}"',
        },
    )


@bp.route("/v1/admin/campaigns/{cid}/stop-loss", methods=["GET"])
@http.requires(Permission.CAMPAIGN_READ)
def get_stop_loss(cid: str) -> dict[str, Any]:
    return stoploss.view(http.principal(), cid)


@bp.route("/v1/admin/campaigns/{cid}/stop-loss", methods=["PUT"])
@http.requires(Permission.CAMPAIGN_WRITE)
def put_stop_loss(cid: str) -> dict[str, Any]:
    request = http.parse(bp.current_request, StopLossRequest)
    return stoploss.update(http.principal(), cid, request, http.now())


@bp.route("/v1/admin/campaigns/{cid}/stop-loss/channels/{channel}/release", methods=["POST"])
@http.requires(Permission.CAMPAIGN_PUBLISH)
def release_stop_loss_channel(cid: str, channel: str) -> dict[str, Any]:
    # Owners only (checked by the use case): the held channel's money flows again.
    return stoploss.release_channel(http.principal(), cid, channel, http.now())


@bp.route("/v1/admin/growth", methods=["GET"])
@http.requires(Permission.STATS_READ)
def get_growth() -> dict[str, Any]:
    request = bp.current_request
    query = {name: http.query_param(request, name) for name in ("from", "to")}
    return growth.report(http.principal(), query, http.now())


@bp.route("/v1/admin/growth/cohorts", methods=["GET"])
@http.requires(Permission.STATS_READ)
def get_growth_cohorts() -> dict[str, Any]:
    return growth.cohorts(http.principal(), http.query_param(bp.current_request, "weeks"), http.now())


@bp.route("/v1/admin/growth/targets", methods=["GET"])
@http.requires(Permission.STATS_READ)
def get_growth_targets() -> dict[str, Any]:
    return growth.targets(http.principal())


@bp.route("/v1/admin/growth/targets", methods=["PUT"])
@http.requires(Permission.GROWTH_MANAGE)
def put_growth_target() -> dict[str, Any]:
    body = http.parse(bp.current_request, GrowthTarget)
    return growth.set_target(http.principal(), body, http.now())
