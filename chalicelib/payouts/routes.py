"""A participant's wallet and withdrawals; finance's withdrawal queue, decisions and payments; the payout policy,
the payout providers' credentials and their callbacks."""

from __future__ import annotations

from typing import Any

from chalice.app import Blueprint, Response

from chalicelib.accounts import totp
from chalicelib.core.errors import FissionError
from chalicelib.core.rbac import Permission
from chalicelib.http import request as http
from chalicelib.payouts import connections, settings, wallets, withdrawals
from chalicelib.payouts.rules.credentials import INPUTS, METHODS
from chalicelib.payouts.rules.policy import PayoutSettings
from chalicelib.payouts.rules.requests import MarkPaid, WithdrawalBatch, WithdrawalCreate
from chalicelib.referral import identity

bp = Blueprint(__name__)

# Money and account numbers: no browser, proxy or CDN may keep a copy.
NO_STORE: dict[str, str | list[str]] = {"Cache-Control": "no-store"}


def _code() -> str | None:
    """The X-Fission-TOTP code of a step-up sent with this request, if any."""
    return bp.current_request.headers.get(totp.HEADER)


@bp.route("/v1/campaigns/{cid}/me/wallet", methods=["GET"])
def get_my_wallet(cid: str) -> Response:
    body = withdrawals.wallet(cid, bp.current_request.headers.get("authorization"), http.now())
    return Response(body=body, status_code=200, headers=NO_STORE)


@bp.route("/v1/campaigns/{cid}/me/withdrawals", methods=["POST"])
def request_withdrawal(cid: str) -> Response:
    request = bp.current_request
    body = http.parse(request, WithdrawalCreate)
    view, created = withdrawals.request(
        cid, request.headers.get("authorization"), identity.proof_from(request.headers), body,
        request.headers.get("idempotency-key"), http.now(),
    )  # fmt: skip
    return Response(body=view, status_code=201 if created else 200, headers=NO_STORE)


@bp.route("/v1/campaigns/{cid}/me/withdrawals", methods=["GET"])
def list_my_withdrawals(cid: str) -> Response:
    body = withdrawals.mine(cid, bp.current_request.headers.get("authorization"), http.now())
    return Response(body=body, status_code=200, headers=NO_STORE)


@bp.route("/v1/admin/payouts/withdrawals", methods=["GET"])
@http.requires(Permission.FINANCE_READ)
def list_withdrawals() -> dict[str, Any]:
    request = bp.current_request
    status = http.query_param(request, "status") or "requested"
    limit = http.query_int(request, "limit", 50)
    return withdrawals.queue(http.principal(), status, limit, http.query_param(request, "cursor"))


@bp.route("/v1/admin/payouts/withdrawals/approve", methods=["POST"])
@http.requires(Permission.PAYOUTS_APPROVE)
def approve_withdrawals() -> dict[str, Any]:
    batch = http.parse(bp.current_request, WithdrawalBatch)
    return withdrawals.decide(http.principal(), "approve", batch, _code(), http.now())


@bp.route("/v1/admin/payouts/withdrawals/reject", methods=["POST"])
@http.requires(Permission.PAYOUTS_APPROVE)
def reject_withdrawals() -> dict[str, Any]:
    batch = http.parse(bp.current_request, WithdrawalBatch)
    return withdrawals.decide(http.principal(), "reject", batch, _code(), http.now())


@bp.route("/v1/admin/payouts/withdrawals/{wid}/paid", methods=["POST"])
@http.requires(Permission.PAYOUTS_APPROVE)
def mark_withdrawal_paid(wid: str) -> dict[str, Any]:
    body = http.parse(bp.current_request, MarkPaid)
    return withdrawals.mark_paid(http.principal(), wid, body, _code(), http.now())


@bp.route("/v1/admin/payouts/bank-transfers", methods=["GET"])
@http.requires(Permission.PAYOUTS_APPROVE)
def download_bank_transfers() -> Response:
    text = withdrawals.bank_transfers(http.principal(), _code(), http.now())
    return Response(
        body=text,
        status_code=200,
        headers={
            "Content-Type": "text/csv; charset=utf-8",
            "Content-Disposition": 'attachment; filename="bank-transfers.csv"',
            **NO_STORE,
        },
    )


@bp.route("/v1/admin/payouts/wallets/{uid}", methods=["GET"])
@http.requires(Permission.FINANCE_READ)
def get_wallet(uid: str) -> dict[str, Any]:
    return wallets.console_view(http.principal(), uid, http.now())


@bp.route("/v1/admin/payouts/settings", methods=["GET"])
@http.requires(Permission.FINANCE_READ)
def get_payout_settings() -> dict[str, Any]:
    return settings.read(http.principal())


@bp.route("/v1/admin/payouts/settings", methods=["PUT"])
@http.requires(Permission.PAYOUTS_CONFIGURE)
def put_payout_settings() -> dict[str, Any]:
    body = http.parse(bp.current_request, PayoutSettings)
    return settings.update(http.principal(), body, _code(), http.now())


@bp.route("/v1/admin/payouts/providers/{provider}", methods=["GET"])
@http.requires(Permission.PAYOUTS_CONFIGURE)
def get_payout_provider(provider: str) -> Response:
    body = connections.read(http.principal(), provider)
    return Response(body=body, status_code=200, headers=NO_STORE)


@bp.route("/v1/admin/payouts/providers/{provider}", methods=["PUT"])
@http.requires(Permission.PAYOUTS_CONFIGURE)
def put_payout_provider(provider: str) -> Response:
    body = http.parse(bp.current_request, INPUTS[connections.known(provider)])
    view = connections.update(http.principal(), provider, body, _code(), http.now())
    return Response(body=view, status_code=200, headers=NO_STORE)


@bp.route("/v1/admin/payouts/providers/{provider}", methods=["DELETE"])
@http.requires(Permission.PAYOUTS_CONFIGURE)
def delete_payout_provider(provider: str) -> Response:
    connections.disconnect(http.principal(), provider, _code(), http.now())
    return http.no_content()


# The providers' callbacks: anonymous (no operator token), each verified by the provider's signature with the
# tenant's credentials, and answered as each provider expects.


def _notified(tid: str, provider: str) -> None:
    request = bp.current_request
    headers = {name.lower(): value for name, value in request.headers.items()}
    withdrawals.notified(tid, METHODS[provider], headers, http.raw_body(request), http.now())


@bp.route("/v1/payouts/{tid}/wechatpay/notify", methods=["POST"])
def wechatpay_notify(tid: str) -> Response:
    """WeChat Pay: 204 with no body when handled, else its own failure shape (it retries)."""
    try:
        _notified(tid, "wechatpay")
    except FissionError as exc:
        return Response(body={"code": "FAIL", "message": exc.message}, status_code=exc.status)
    return http.no_content()


@bp.route("/v1/payouts/{tid}/alipay/notify", methods=["POST"], content_types=["application/x-www-form-urlencoded"])
def alipay_notify(tid: str) -> Response:
    """Alipay: the text `success` when handled; anything else, and it sends the message again later."""
    try:
        _notified(tid, "alipay")
    except FissionError as exc:
        return Response(body="fail", status_code=exc.status, headers={"Content-Type": "text/plain; charset=utf-8"})
    return Response(body="success", status_code=200, headers={"Content-Type": "text/plain; charset=utf-8"})
