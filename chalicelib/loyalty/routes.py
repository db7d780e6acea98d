"""A participant's points, redemptions, daily check-ins, tasks and tier; operators' redemption catalogue, points
policy, check-in programme, tasks and tier ladder."""

from __future__ import annotations

from typing import Any

from chalice.app import Blueprint, Response

from chalicelib.core.rbac import Permission
from chalicelib.http import request as http
from chalicelib.loyalty import catalogue, checkins, points, tasks, tiers
from chalicelib.loyalty.rules.catalogue import (
    CatalogueItemCreate,
    CatalogueItemPatch,
    LoyaltySettings,
    RedemptionCreate,
)
from chalicelib.loyalty.rules.checkins import CheckinSettings, MakeupRequest
from chalicelib.loyalty.rules.tasks import TaskCreate, TaskPatch
from chalicelib.loyalty.rules.tiers import TierRules

bp = Blueprint(__name__)

# A person's balance changes with every redemption: no browser, proxy or CDN may keep a copy.
NO_STORE: dict[str, str | list[str]] = {"Cache-Control": "no-store"}


@bp.route("/v1/campaigns/{cid}/me/points", methods=["GET"])
def get_my_points(cid: str) -> Response:
    body = points.mine(cid, bp.current_request.headers.get("authorization"), http.now())
    return Response(body=body, status_code=200, headers=NO_STORE)


@bp.route("/v1/campaigns/{cid}/me/redemptions", methods=["POST"])
def redeem_points(cid: str) -> Response:
    request = bp.current_request
    body = http.parse(request, RedemptionCreate)
    view, created = points.redeem(
        cid, request.headers.get("authorization"), body, request.headers.get("idempotency-key"), http.now()
    )
    return Response(body=view, status_code=201 if created else 200, headers=NO_STORE)


@bp.route("/v1/campaigns/{cid}/catalogue", methods=["GET"])
def get_catalogue_on_sale(cid: str) -> Response:
    # Stock moves with every redemption: the count a participant sees is read now.
    return Response(body=points.on_sale(cid), status_code=200, headers=NO_STORE)


@bp.route("/v1/admin/loyalty/catalogue", methods=["GET"])
@http.requires(Permission.LOYALTY_MANAGE)
def list_catalogue() -> dict[str, Any]:
    return catalogue.listing(http.principal())


@bp.route("/v1/admin/loyalty/catalogue", methods=["POST"])
@http.requires(Permission.LOYALTY_MANAGE)
def create_catalogue_item() -> Response:
    body = http.parse(bp.current_request, CatalogueItemCreate)
    return Response(body=catalogue.create(http.principal(), body, http.now()), status_code=201)


@bp.route("/v1/admin/loyalty/catalogue/{iid}", methods=["GET"])
@http.requires(Permission.LOYALTY_MANAGE)
def get_catalogue_item(iid: str) -> dict[str, Any]:
    return catalogue.read(http.principal(), iid)


@bp.route("/v1/admin/loyalty/catalogue/{iid}", methods=["PATCH"])
@http.requires(Permission.LOYALTY_MANAGE)
def update_catalogue_item(iid: str) -> dict[str, Any]:
    body = http.parse(bp.current_request, CatalogueItemPatch)
    return catalogue.update(http.principal(), iid, body, http.now())


@bp.route("/v1/admin/loyalty/catalogue/{iid}", methods=["DELETE"])
@http.requires(Permission.LOYALTY_MANAGE)
def delete_catalogue_item(iid: str) -> Response:
    catalogue.delete(http.principal(), iid, http.now())
    return http.no_content()


@bp.route("/v1/admin/loyalty/settings", methods=["GET"])
@http.requires(Permission.LOYALTY_MANAGE)
def get_loyalty_settings() -> dict[str, Any]:
    return catalogue.read_policy(http.principal())


@bp.route("/v1/admin/loyalty/settings", methods=["PUT"])
@http.requires(Permission.LOYALTY_MANAGE)
def put_loyalty_settings() -> dict[str, Any]:
    body = http.parse(bp.current_request, LoyaltySettings)
    return catalogue.update_policy(http.principal(), body, http.now())


@bp.route("/v1/campaigns/{cid}/me/tasks", methods=["GET"])
def get_my_tasks(cid: str) -> Response:
    body = tasks.mine(cid, bp.current_request.headers.get("authorization"), http.now())
    return Response(body=body, status_code=200, headers=NO_STORE)


@bp.route("/v1/admin/loyalty/tasks", methods=["GET"])
@http.requires(Permission.LOYALTY_MANAGE)
def list_tasks() -> dict[str, Any]:
    return tasks.listing(http.principal())


@bp.route("/v1/admin/loyalty/tasks", methods=["POST"])
@http.requires(Permission.LOYALTY_MANAGE)
def create_task() -> Response:
    body = http.parse(bp.current_request, TaskCreate)
    return Response(body=tasks.create(http.principal(), body, http.now()), status_code=201)


@bp.route("/v1/admin/loyalty/tasks/{task_id}", methods=["GET"])
@http.requires(Permission.LOYALTY_MANAGE)
def get_task(task_id: str) -> dict[str, Any]:
    return tasks.read(http.principal(), task_id)


@bp.route("/v1/admin/loyalty/tasks/{task_id}", methods=["PATCH"])
@http.requires(Permission.LOYALTY_MANAGE)
def update_task(task_id: str) -> dict[str, Any]:
    body = http.parse(bp.current_request, TaskPatch)
    return tasks.update(http.principal(), task_id, body, http.now())


@bp.route("/v1/admin/loyalty/tasks/{task_id}", methods=["DELETE"])
@http.requires(Permission.LOYALTY_MANAGE)
def delete_task(task_id: str) -> Response:
    tasks.delete(http.principal(), task_id, http.now())
    return http.no_content()


@bp.route("/v1/admin/loyalty/tiers", methods=["GET"])
@http.requires(Permission.LOYALTY_MANAGE)
def get_tier_rules() -> dict[str, Any]:
    return tiers.read_rules(http.principal())


@bp.route("/v1/admin/loyalty/tiers", methods=["PUT"])
@http.requires(Permission.LOYALTY_MANAGE)
def put_tier_rules() -> dict[str, Any]:
    body = http.parse(bp.current_request, TierRules)
    return tiers.update_rules(http.principal(), body, http.now())


@bp.route("/v1/campaigns/{cid}/me/tier", methods=["GET"])
def get_my_tier(cid: str) -> Response:
    body = tiers.mine(cid, bp.current_request.headers.get("authorization"), http.now())
    return Response(body=body, status_code=200, headers=NO_STORE)


@bp.route("/v1/admin/loyalty/checkins", methods=["GET"])
@http.requires(Permission.LOYALTY_MANAGE)
def get_checkin_settings() -> dict[str, Any]:
    return checkins.read_settings(http.principal())


@bp.route("/v1/admin/loyalty/checkins", methods=["PUT"])
@http.requires(Permission.LOYALTY_MANAGE)
def put_checkin_settings() -> dict[str, Any]:
    body = http.parse(bp.current_request, CheckinSettings)
    return checkins.update_settings(http.principal(), body, http.now())


@bp.route("/v1/campaigns/{cid}/me/checkins", methods=["POST"])
def check_in(cid: str) -> Response:
    view, created = checkins.check_in(cid, bp.current_request.headers.get("authorization"), http.now())
    return Response(body=view, status_code=201 if created else 200, headers=NO_STORE)


@bp.route("/v1/campaigns/{cid}/me/checkins/makeup", methods=["POST"])
def make_up_checkin(cid: str) -> Response:
    request = bp.current_request
    body = http.parse(request, MakeupRequest)
    view, created = checkins.make_up(cid, request.headers.get("authorization"), body, http.now())
    return Response(body=view, status_code=201 if created else 200, headers=NO_STORE)


@bp.route("/v1/campaigns/{cid}/me/checkins", methods=["GET"])
def get_my_checkins(cid: str) -> Response:
    request = bp.current_request
    body = checkins.calendar(cid, request.headers.get("authorization"), http.query_param(request, "month"), http.now())
    return Response(body=body, status_code=200, headers=NO_STORE)
