"""Operators' automation rules: `trigger -> conditions -> actions`."""

from __future__ import annotations

from typing import Any

from chalice.app import Blueprint, Response

from chalicelib.api import http
from chalicelib.domain.automations import AutomationCreate, AutomationUpdate
from chalicelib.domain.rbac import Permission
from chalicelib.services import automations

bp = Blueprint(__name__)


@bp.route("/v1/admin/automations", methods=["GET"])
@http.requires(Permission.AUDIENCE_READ)
def list_automations() -> dict[str, Any]:
    return automations.list_rules(http.principal())


@bp.route("/v1/admin/automations/catalog", methods=["GET"])
@http.requires(Permission.AUDIENCE_READ)
def automation_catalog() -> dict[str, Any]:
    return automations.catalog()


@bp.route("/v1/admin/automations", methods=["POST"])
@http.requires(Permission.AUTOMATION_WRITE)
def create_automation() -> Response:
    body = http.parse(bp.current_request, AutomationCreate)
    return http.created(automations.create(http.principal(), body, http.now()))


@bp.route("/v1/admin/automations/{aid}", methods=["GET"])
@http.requires(Permission.AUDIENCE_READ)
def get_automation(aid: str) -> dict[str, Any]:
    return automations.get_rule(http.principal(), aid)


@bp.route("/v1/admin/automations/{aid}", methods=["PATCH"])
@http.requires(Permission.AUTOMATION_WRITE)
def update_automation(aid: str) -> dict[str, Any]:
    body = http.parse(bp.current_request, AutomationUpdate)
    return automations.update(http.principal(), aid, body, http.now())


@bp.route("/v1/admin/automations/{aid}", methods=["DELETE"])
@http.requires(Permission.AUTOMATION_WRITE)
def delete_automation(aid: str) -> Response:
    automations.delete(http.principal(), aid, http.now())
    return http.no_content()
