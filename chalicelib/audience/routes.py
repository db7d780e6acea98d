"""The audience for operators: profiles (masked), tags, segments, automation rules, and PII behind a step-up."""

from __future__ import annotations

from typing import Any

from chalice.app import Blueprint, Response

from chalicelib.accounts import totp
from chalicelib.audience import automations, churn, profiles, unmask
from chalicelib.audience.rules.automations import AutomationCreate, AutomationUpdate
from chalicelib.audience.rules.churn import ChurnSettings
from chalicelib.audience.rules.profiles import (
    SegmentCreate,
    SegmentPreview,
    SegmentUpdate,
    TagAssign,
    TagCreate,
    TagUpdate,
)
from chalicelib.core.rbac import Permission
from chalicelib.http import request as http
from chalicelib.messaging.rules.messages import SubscriptionsUpdate

bp = Blueprint(__name__)


@bp.route("/v1/admin/participants", methods=["GET"])
@http.requires(Permission.AUDIENCE_READ)
def search_participants() -> dict[str, Any]:
    request = bp.current_request
    return profiles.search(
        http.principal(),
        code=http.query_param(request, "code"),
        tag=http.query_param(request, "tag"),
        segment=http.query_param(request, "segment"),
        limit=http.query_int(request, "limit", 20),
        cursor=http.query_param(request, "cursor"),
        now=http.now(),
    )


@bp.route("/v1/admin/participants/{uid}", methods=["GET"])
@http.requires(Permission.AUDIENCE_READ)
def get_participant(uid: str) -> dict[str, Any]:
    return profiles.detail(http.principal(), uid)


@bp.route("/v1/admin/participants/{uid}/subscriptions", methods=["PUT"])
@http.requires(Permission.AUDIENCE_WRITE)
def put_subscriptions(uid: str) -> dict[str, Any]:
    body = http.parse(bp.current_request, SubscriptionsUpdate)
    return profiles.set_subscriptions(http.principal(), uid, list(body.unsubscribed), http.now())


@bp.route("/v1/admin/tags", methods=["GET"])
@http.requires(Permission.AUDIENCE_READ)
def list_tags() -> dict[str, Any]:
    return profiles.list_tags(http.principal())


@bp.route("/v1/admin/tags", methods=["POST"])
@http.requires(Permission.AUDIENCE_WRITE)
def create_tag() -> Response:
    body = http.parse(bp.current_request, TagCreate)
    return http.created(profiles.create_tag(http.principal(), body, http.now()))


@bp.route("/v1/admin/tags/{name}", methods=["PATCH"])
@http.requires(Permission.AUDIENCE_WRITE)
def update_tag(name: str) -> dict[str, Any]:
    body = http.parse(bp.current_request, TagUpdate)
    return profiles.update_tag(http.principal(), name, body, http.now())


@bp.route("/v1/admin/tags/{name}", methods=["DELETE"])
@http.requires(Permission.AUDIENCE_WRITE)
def delete_tag(name: str) -> Response:
    profiles.delete_tag(http.principal(), name, http.now())
    return http.no_content()


@bp.route("/v1/admin/tags/{name}/assign", methods=["POST"])
@http.requires(Permission.AUDIENCE_WRITE)
def assign_tag(name: str) -> dict[str, Any]:
    body = http.parse(bp.current_request, TagAssign)
    return profiles.assign_tag(http.principal(), name, body, http.now())


@bp.route("/v1/admin/segments", methods=["GET"])
@http.requires(Permission.AUDIENCE_READ)
def list_segments() -> dict[str, Any]:
    return profiles.list_segments(http.principal())


@bp.route("/v1/admin/segments", methods=["POST"])
@http.requires(Permission.AUDIENCE_WRITE)
def create_segment() -> Response:
    body = http.parse(bp.current_request, SegmentCreate)
    return http.created(profiles.create_segment(http.principal(), body, http.now()))


@bp.route("/v1/admin/segments/preview", methods=["POST"])
@http.requires(Permission.AUDIENCE_READ)
def preview_segment() -> dict[str, Any]:
    body = http.parse(bp.current_request, SegmentPreview)
    return profiles.preview(http.principal(), body.expression, http.now())


@bp.route("/v1/admin/segments/{sid}", methods=["PATCH"])
@http.requires(Permission.AUDIENCE_WRITE)
def update_segment(sid: str) -> dict[str, Any]:
    body = http.parse(bp.current_request, SegmentUpdate)
    return profiles.update_segment(http.principal(), sid, body, http.now())


@bp.route("/v1/admin/segments/{sid}", methods=["DELETE"])
@http.requires(Permission.AUDIENCE_WRITE)
def delete_segment(sid: str) -> Response:
    profiles.delete_segment(http.principal(), sid, http.now())
    return http.no_content()


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
    request = bp.current_request
    body = http.parse(request, AutomationCreate)
    code = request.headers.get(totp.HEADER)
    return http.created(automations.create(http.principal(), body, http.now(), code))


@bp.route("/v1/admin/automations/{aid}", methods=["GET"])
@http.requires(Permission.AUDIENCE_READ)
def get_automation(aid: str) -> dict[str, Any]:
    return automations.get_rule(http.principal(), aid)


@bp.route("/v1/admin/automations/{aid}", methods=["PATCH"])
@http.requires(Permission.AUTOMATION_WRITE)
def update_automation(aid: str) -> dict[str, Any]:
    request = bp.current_request
    body = http.parse(request, AutomationUpdate)
    return automations.update(http.principal(), aid, body, http.now(), request.headers.get(totp.HEADER))


@bp.route("/v1/admin/automations/{aid}", methods=["DELETE"])
@http.requires(Permission.AUTOMATION_WRITE)
def delete_automation(aid: str) -> Response:
    automations.delete(http.principal(), aid, http.now())
    return http.no_content()


@bp.route("/v1/admin/participants/{code}/pii", methods=["GET"])
@http.requires(Permission.PII_UNMASK)
def unmask_participant_pii(code: str) -> dict[str, Any]:
    header = bp.current_request.headers.get(totp.HEADER)
    return unmask.participant_pii(http.principal(), code, header, http.now())


@bp.route("/v1/admin/churn", methods=["GET"])
@http.requires(Permission.AUDIENCE_READ)
def churn_overview() -> dict[str, Any]:
    return churn.overview(http.principal(), http.query_int(bp.current_request, "limit", churn.TOP))


@bp.route("/v1/admin/churn/settings", methods=["PUT"])
@http.requires(Permission.AUDIENCE_WRITE)
def put_churn_settings() -> dict[str, Any]:
    body = http.parse(bp.current_request, ChurnSettings)
    return churn.update_settings(http.principal(), body, http.now())


@bp.route("/v1/admin/churn/calibrate", methods=["POST"])
@http.requires(Permission.AUDIENCE_WRITE)
def calibrate_churn() -> dict[str, Any]:
    return churn.calibrate(http.principal(), http.now())
