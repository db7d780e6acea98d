"""Alipay single transfer to an Alipay account (`alipay.fund.trans.uni.transfer`, 单笔转账).

The withdrawal id is the `out_biz_no`: Alipay answers a repeated one with the first transfer's result and never
pays it twice. Answers are trusted only when their RSA2 signature verifies with the Alipay public key; the
`alipay.fund.trans.order.changed` message is verified the same way. docs/payout-providers.md describes the flow;
chalicelib/payouts/rules/alipay.py holds the wire format.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta, timezone
from typing import Any
from urllib.parse import urlencode

from chalicelib.core.config import get_settings
from chalicelib.core.observability import logger
from chalicelib.payouts.providers import transport
from chalicelib.payouts.providers.base import BadNotification, Outcome, ProviderUnreachable, Result, Transfer
from chalicelib.payouts.rules import alipay as rules
from chalicelib.payouts.rules.credentials import AlipayConfig
from chalicelib.payouts.rules.verdicts import Verdict

NAME = "alipay"
BEIJING = timezone(timedelta(hours=8))


def _result(verdict: Verdict) -> Result:
    return Result(Outcome(verdict.outcome), verdict.ref, verdict.reason)


class Alipay:
    """The `Provider` for Alipay; `clock` gives unix seconds (the request timestamp, Beijing time)."""

    name = NAME

    def __init__(
        self,
        config: AlipayConfig,
        *,
        gateway: str | None = None,
        timeout: float | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        settings = get_settings()
        self.config = config
        self.gateway = gateway or settings.alipay_gateway
        self.timeout = timeout if timeout is not None else settings.payout_timeout_seconds
        self.clock = clock

    def submit(self, transfer: Transfer) -> Result:
        try:
            biz = rules.transfer_biz(
                rules.TransferRequest(
                    out_biz_no=transfer.wid,
                    amount_fen=transfer.amount_fen,
                    identity=transfer.destination,
                    name=transfer.name,
                    title=transfer.remark,
                )
            )
        except ValueError as exc:  # nothing was sent: Alipay would refuse it the same way
            return Result(Outcome.FAILED, None, f"INVALID_PAYEE: {exc}")
        node = self._call(rules.TRANSFER, biz)
        if str(node.get("code")) == rules.SUCCESS_CODE:
            return self._status(node)
        reason = rules.reason(node)
        if rules.is_unknown(node):
            raise ProviderUnreachable(f"Alipay did not take the transfer: {reason}")
        # A business refusal (PAYEE_NOT_EXIST, PAYER_BALANCE_NOT_ENOUGH...). Final only if Alipay has no order
        # under this number: a resubmission may be refused while the first one is being paid.
        found = self.query(transfer)
        if found.outcome is Outcome.NOT_FOUND:
            logger.info("alipay refused a transfer", wid=transfer.wid, reason=reason)
            return Result(Outcome.FAILED, None, reason)
        return found

    def query(self, transfer: Transfer) -> Result:
        node = self._call(rules.QUERY, rules.query_biz(transfer.wid))
        try:
            verdict = rules.query_verdict(node)
        except ValueError as exc:
            raise ProviderUnreachable(f"Alipay's query answer is unexpected: {exc}") from None
        if verdict is None:
            raise ProviderUnreachable(f"Alipay's query failed: {rules.reason(node)}")
        return _result(verdict)

    def notification(self, headers: Mapping[str, str], body: bytes) -> tuple[str, Result]:
        try:
            params = rules.notification_params(body)
            if params.get("sign_type", "RSA2") != "RSA2":
                raise rules.SignatureInvalid("the message is not signed with RSA2")
            content = rules.sign_content(params, notification=True)
            rules.verify(self.config.alipay_key, content, params.get("sign", ""))
            wid, verdict = rules.notification_verdict(params, self.config.app_id)
        except (rules.SignatureInvalid, ValueError) as exc:
            raise BadNotification(str(exc)) from None
        return wid, _result(verdict)

    # -- the wire -----------------------------------------------------------------------------------------------

    def _status(self, node: Mapping[str, Any]) -> Result:
        try:
            return _result(rules.status_verdict(node))
        except ValueError as exc:
            raise ProviderUnreachable(f"Alipay's answer is unexpected: {exc}") from None

    def _call(self, method: str, biz: Mapping[str, Any]) -> dict[str, Any]:
        """The verified `<method>_response` object of one gateway call."""
        stamp = datetime.fromtimestamp(self.clock(), UTC).astimezone(BEIJING).strftime("%Y-%m-%d %H:%M:%S")
        params = rules.request_params(self.config.app_id, method, biz, stamp)
        params["sign"] = rules.sign(self.config.app_key, rules.sign_content(params))
        headers = {"Content-Type": "application/x-www-form-urlencoded;charset=utf-8", "Accept": "application/json"}
        answer = transport.exchange("POST", self.gateway, headers, urlencode(params).encode(), self.timeout)
        if answer.status != 200:
            raise ProviderUnreachable(f"Alipay's gateway answered HTTP {answer.status}")
        try:
            raw = answer.body.decode("utf-8")
            member, signature = rules.signed_member(raw, rules.response_key(method))
        except (UnicodeDecodeError, ValueError) as exc:
            raise ProviderUnreachable(f"Alipay's answer cannot be read: {exc}") from None
        if signature is None:
            raise ProviderUnreachable("Alipay's answer is not signed")
        try:
            rules.verify(self.config.alipay_key, member, signature)
        except rules.SignatureInvalid:
            logger.warning("alipay answer not trusted", method=method)
            raise ProviderUnreachable("Alipay's answer does not verify with the Alipay public key") from None
        node = json.loads(member)
        if not isinstance(node, dict):
            raise ProviderUnreachable("Alipay's answer is not a JSON object")
        return node
