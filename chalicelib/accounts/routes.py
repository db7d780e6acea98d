"""Operator accounts: login, operators and roles, TOTP enrolment, the audit trail, the webhook secret,
identity keys, API keys and landing domains."""

from __future__ import annotations

from typing import Any
from urllib.parse import unquote

from chalice.app import Blueprint, Response

from chalicelib.accounts import api_keys, audit, auth, domains, identity_keys, operators, totp, webhook_secret
from chalicelib.accounts.rules.api_keys import ApiKeyCreate, UsageQuery
from chalicelib.accounts.rules.domains import DomainBlock, DomainCreate
from chalicelib.accounts.rules.operators import LoginRequest, OperatorCreate, OperatorPatch, TotpConfirm
from chalicelib.core.rbac import Permission
from chalicelib.http import request as http

bp = Blueprint(__name__)


def _code() -> str | None:
    """The X-Fission-TOTP code of a step-up sent with this request, if any."""
    return bp.current_request.headers.get(totp.HEADER)


@bp.route("/v1/admin/login", methods=["POST"])
@http.anonymous
def login() -> dict[str, Any]:
    request = bp.current_request
    return auth.login(http.parse(request, LoginRequest), http.now(), http.client_ip(request))


@bp.route("/v1/admin/operators", methods=["GET"])
@http.requires(Permission.OPERATOR_READ)
def list_operators() -> dict[str, Any]:
    return operators.list_all(http.principal())


@bp.route("/v1/admin/operators", methods=["POST"])
@http.requires(Permission.OPERATOR_MANAGE)
def create_operator() -> Response:
    request = bp.current_request
    body = http.parse(request, OperatorCreate)
    key = request.headers.get("idempotency-key")
    return http.created(operators.create(http.principal(), body, http.now(), key, _code()))


@bp.route("/v1/admin/operators/{email}", methods=["PATCH"])
@http.requires(Permission.OPERATOR_MANAGE)
def update_operator(email: str) -> dict[str, Any]:
    patch = http.parse(bp.current_request, OperatorPatch)
    return operators.update(http.principal(), unquote(email), patch, http.now(), _code())


@bp.route("/v1/admin/operators/{email}", methods=["DELETE"])
@http.requires(Permission.OPERATOR_MANAGE)
def delete_operator(email: str) -> Response:
    operators.remove(http.principal(), unquote(email), http.now(), _code())
    return http.no_content()


@bp.route("/v1/admin/operators/me/totp", methods=["POST"])
@http.requires(Permission.ACCOUNT_SELF)
def start_totp_enrolment() -> Response:
    return http.created(totp.enrol(http.principal(), http.now()))


@bp.route("/v1/admin/operators/me/totp/confirm", methods=["POST"])
@http.requires(Permission.ACCOUNT_SELF)
def confirm_totp_enrolment() -> dict[str, Any]:
    body = http.parse(bp.current_request, TotpConfirm)
    return totp.confirm(http.principal(), body.code, http.now())


@bp.route("/v1/admin/audit", methods=["GET"])
@http.requires(Permission.AUDIT_READ)
def list_audit() -> dict[str, Any]:
    request = bp.current_request
    limit = http.query_int(request, "limit", 50)
    return audit.page(http.principal().tid, limit, http.query_param(request, "cursor"))


@bp.route("/v1/admin/audit/verify", methods=["GET"])
@http.requires(Permission.AUDIT_READ)
def verify_audit() -> dict[str, Any]:
    return audit.verify(http.principal().tid)


@bp.route("/v1/admin/webhook-secret", methods=["GET"])
@http.requires(Permission.OPERATOR_MANAGE)
def get_webhook_secret() -> dict[str, Any]:
    return webhook_secret.read(http.principal(), _code(), http.now())


@bp.route("/v1/admin/webhook-secret/rotate", methods=["POST"])
@http.requires(Permission.OPERATOR_MANAGE)
def rotate_webhook_secret() -> dict[str, Any]:
    return webhook_secret.rotate(http.principal(), _code(), http.now())


@bp.route("/v1/admin/identity-keys", methods=["GET"])
@http.requires(Permission.OPERATOR_MANAGE)
def list_identity_keys() -> dict[str, Any]:
    return identity_keys.list_keys(http.principal())


@bp.route("/v1/admin/identity-keys", methods=["POST"])
@http.requires(Permission.OPERATOR_MANAGE)
def create_identity_key() -> Response:
    return http.created(identity_keys.create(http.principal(), _code(), http.now()))


@bp.route("/v1/admin/identity-keys/{kid}/retire", methods=["POST"])
@http.requires(Permission.OPERATOR_MANAGE)
def retire_identity_key(kid: str) -> dict[str, Any]:
    return identity_keys.retire(http.principal(), kid, _code(), http.now())


@bp.route("/v1/admin/api-keys", methods=["GET"])
@http.requires(Permission.OPERATOR_MANAGE)
def list_api_keys() -> dict[str, Any]:
    return api_keys.list_keys(http.principal())


@bp.route("/v1/admin/api-keys", methods=["POST"])
@http.requires(Permission.OPERATOR_MANAGE)
def create_api_key() -> Response:
    body = http.parse(bp.current_request, ApiKeyCreate)
    return http.created(api_keys.create(http.principal(), body, _code(), http.now()))


@bp.route("/v1/admin/api-keys/{kid}/revoke", methods=["POST"])
@http.requires(Permission.OPERATOR_MANAGE)
def revoke_api_key(kid: str) -> dict[str, Any]:
    return api_keys.revoke(http.principal(), kid, _code(), http.now())


@bp.route("/v1/admin/api-keys/{kid}/usage", methods=["GET"])
@http.requires(Permission.OPERATOR_MANAGE)
def api_key_usage(kid: str) -> dict[str, Any]:
    query = http.parse_query(bp.current_request, UsageQuery)
    return api_keys.usage(http.principal(), kid, query, http.now())


@bp.route("/v1/admin/domains", methods=["GET"])
@http.requires(Permission.DOMAIN_MANAGE)
def list_domains() -> dict[str, Any]:
    return domains.list_domains(http.principal())


@bp.route("/v1/admin/domains", methods=["POST"])
@http.requires(Permission.DOMAIN_MANAGE)
def create_domain() -> Response:
    return http.created(domains.create(http.principal(), http.parse(bp.current_request, DomainCreate), http.now()))


@bp.route("/v1/admin/domains/{did}/block", methods=["POST"])
@http.requires(Permission.DOMAIN_MANAGE)
def block_domain(did: str) -> dict[str, Any]:
    return domains.block(http.principal(), did, http.parse(bp.current_request, DomainBlock), http.now())


@bp.route("/v1/admin/domains/{did}/unblock", methods=["POST"])
@http.requires(Permission.DOMAIN_MANAGE)
def unblock_domain(did: str) -> dict[str, Any]:
    return domains.unblock(http.principal(), did, http.now())


@bp.route("/v1/admin/domains/{did}", methods=["DELETE"])
@http.requires(Permission.DOMAIN_MANAGE)
def delete_domain(did: str) -> Response:
    domains.delete(http.principal(), did, http.now())
    return http.no_content()
