"""Connecting WeCom, the official account and the mini program: the owner's credential screens."""

from __future__ import annotations

from typing import Any

from chalice.app import Blueprint, Response

from chalicelib.accounts import totp
from chalicelib.core.rbac import Permission
from chalicelib.http import request as http
from chalicelib.platforms import callbacks, codes, credentials
from chalicelib.platforms.rules.credentials import UPDATES, Platform

bp = Blueprint(__name__)


def _code() -> str | None:
    """The X-Fission-TOTP code of a step-up sent with this request, if any."""
    return bp.current_request.headers.get(totp.HEADER)


def _put(platform: Platform) -> dict[str, Any]:
    body = http.parse(bp.current_request, UPDATES[platform])
    return credentials.update(http.principal(), platform, body, _code(), http.now())


def _delete(platform: Platform) -> Response:
    credentials.disconnect(http.principal(), platform, _code(), http.now())
    return http.no_content()


@bp.route("/v1/admin/platforms/usage", methods=["GET"])
@http.requires(Permission.PLATFORM_MANAGE)
def get_platform_usage() -> dict[str, Any]:
    """The participants' codes made per platform, against each platform's limit."""
    return codes.usage(http.principal().tid)


@bp.route("/v1/admin/platforms/wecom", methods=["GET"])
@http.requires(Permission.PLATFORM_MANAGE)
def get_wecom() -> dict[str, Any]:
    return credentials.read(http.principal(), "wecom")


@bp.route("/v1/admin/platforms/wecom", methods=["PUT"])
@http.requires(Permission.PLATFORM_MANAGE)
def put_wecom() -> dict[str, Any]:
    return _put("wecom")


@bp.route("/v1/admin/platforms/wecom", methods=["DELETE"])
@http.requires(Permission.PLATFORM_MANAGE)
def delete_wecom() -> Response:
    return _delete("wecom")


@bp.route("/v1/admin/platforms/wechat", methods=["GET"])
@http.requires(Permission.PLATFORM_MANAGE)
def get_wechat() -> dict[str, Any]:
    return credentials.read(http.principal(), "wechat")


@bp.route("/v1/admin/platforms/wechat", methods=["PUT"])
@http.requires(Permission.PLATFORM_MANAGE)
def put_wechat() -> dict[str, Any]:
    return _put("wechat")


@bp.route("/v1/admin/platforms/wechat", methods=["DELETE"])
@http.requires(Permission.PLATFORM_MANAGE)
def delete_wechat() -> Response:
    return _delete("wechat")


@bp.route("/v1/admin/platforms/miniprogram", methods=["GET"])
@http.requires(Permission.PLATFORM_MANAGE)
def get_miniprogram() -> dict[str, Any]:
    return credentials.read(http.principal(), "miniprogram")


@bp.route("/v1/admin/platforms/miniprogram", methods=["PUT"])
@http.requires(Permission.PLATFORM_MANAGE)
def put_miniprogram() -> dict[str, Any]:
    return _put("miniprogram")


@bp.route("/v1/admin/platforms/miniprogram", methods=["DELETE"])
@http.requires(Permission.PLATFORM_MANAGE)
def delete_miniprogram() -> Response:
    return _delete("miniprogram")


# The platforms' callbacks: public (signed by the tenant's callback token), XML in, plain text out.
XML_TYPES = ["text/xml", "application/xml", "text/plain"]


def _text(body: str) -> Response:
    return Response(body=body, status_code=200, headers={"Content-Type": "text/plain; charset=utf-8"})


def _query() -> dict[str, str]:
    return dict(bp.current_request.query_params or {})


@bp.route("/v1/wecom/{tid}/callback", methods=["GET"])
def verify_wecom_callback(tid: str) -> Response:
    """WeCom's callback URL check: the decrypted echostr."""
    return _text(callbacks.verify_url(tid, "wecom", _query(), http.now()))


@bp.route("/v1/wecom/{tid}/callback", methods=["POST"], content_types=XML_TYPES)
def wecom_callback(tid: str) -> Response:
    """WeCom's customer-contact events (encrypted)."""
    return _text(callbacks.receive(tid, "wecom", _query(), http.raw_body(bp.current_request), http.now()))


@bp.route("/v1/wechat/{tid}/callback", methods=["GET"])
def verify_wechat_callback(tid: str) -> Response:
    """The official account's server URL check: the echostr."""
    return _text(callbacks.verify_url(tid, "wechat", _query(), http.now()))


@bp.route("/v1/wechat/{tid}/callback", methods=["POST"], content_types=XML_TYPES)
def wechat_callback(tid: str) -> Response:
    """The official account's events (plain or safe mode)."""
    return _text(callbacks.receive(tid, "wechat", _query(), http.raw_body(bp.current_request), http.now()))
