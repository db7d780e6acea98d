"""WeChat Pay merchant transfer to balance (商家转账到零钱, API v3): one batch of one detail per withdrawal.

The batch and detail numbers are the withdrawal id (`out_number`), so a submit repeated after a timeout names the
same batch and WeChat Pay never pays it twice. Every answer and callback must carry a valid platform signature;
one that does not is treated as no answer (`ProviderUnreachable`) or refused (`BadNotification`).
docs/payout-providers.md describes the flow; chalicelib/payouts/rules/wechatpay.py holds the wire format.
"""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import urlsplit

from chalicelib.core.config import get_settings
from chalicelib.core.observability import logger
from chalicelib.payouts.providers import transport
from chalicelib.payouts.providers.base import BadNotification, Outcome, ProviderUnreachable, Result, Transfer
from chalicelib.payouts.rules import wechatpay as rules
from chalicelib.payouts.rules.credentials import WeChatPayConfig
from chalicelib.payouts.rules.verdicts import FAILED, Verdict

NAME = "wechat"
NOTIFY_PATH = "/v1/payouts/{tid}/wechatpay/notify"


def _result(verdict: Verdict) -> Result:
    return Result(Outcome(verdict.outcome), verdict.ref, verdict.reason)


def default_notify_url(tid: str) -> str | None:
    """Where WeChat Pay sends the batch's callback: our public URL, which it accepts only over https."""
    settings = get_settings()
    base = settings.public_base_url.rstrip("/")
    if base.startswith("https://") or not settings.is_cloud:
        return base + NOTIFY_PATH.format(tid=tid)
    return None


class WeChatPay:
    """The `Provider` for WeChat Pay; `clock` gives unix seconds (signatures older than five minutes are refused)."""

    name = NAME

    def __init__(
        self,
        config: WeChatPayConfig,
        *,
        base_url: str | None = None,
        timeout: float | None = None,
        notify_url: Callable[[str], str | None] = default_notify_url,
        clock: Callable[[], float] = time.time,
    ) -> None:
        settings = get_settings()
        self.config = config
        self.base_url = (base_url or settings.wechatpay_api_base).rstrip("/")
        self.timeout = timeout if timeout is not None else settings.payout_timeout_seconds
        self.notify_url = notify_url
        self.clock = clock

    # -- the three calls ----------------------------------------------------------------------------------------

    def submit(self, transfer: Transfer) -> Result:
        number = rules.out_number(transfer.wid)
        name = rules.encrypt_sensitive(self.config.platform_key, transfer.name) if transfer.name else None
        try:
            body = rules.transfer_body(
                rules.TransferRequest(
                    appid=self.config.appid,
                    number=number,
                    amount_fen=transfer.amount_fen,
                    openid=transfer.destination,
                    remark=transfer.remark,
                    user_name=name,
                    notify_url=self.notify_url(transfer.tid),
                    scene_id=self.config.transfer_scene_id,
                )
            )
        except ValueError as exc:  # nothing was sent: WeChat Pay would refuse it the same way
            return Result(Outcome.FAILED, None, f"INVALID_TRANSFER: {exc}")
        status, answer = self._call("POST", rules.TRANSFER_PATH, body)
        if status == 200:
            if answer.get("batch_status") == "CLOSED":
                return self.query(transfer)
            return Result(Outcome.ACCEPTED, str(answer.get("batch_id") or "") or None)
        reason = rules.error_reason(answer, status)
        if status >= 500 or answer.get("code") in rules.RETRY_SAME_NUMBER:
            raise ProviderUnreachable(f"WeChat Pay did not take the batch: {reason}")
        # A refusal (PARAM_ERROR, INVALID_REQUEST, NO_AUTH...). It is final only if the number is unknown to
        # WeChat Pay: a resubmission after a timeout may be refused while the first one is being paid.
        found = self.query(transfer)
        if found.outcome is Outcome.NOT_FOUND:
            logger.info("wechat pay refused a transfer", wid=transfer.wid, reason=reason)
            return Result(Outcome.FAILED, None, reason)
        return found

    def query(self, transfer: Transfer) -> Result:
        number = rules.out_number(transfer.wid)
        status, answer = self._call("GET", rules.batch_path(number), None)
        if status == 404 and answer.get("code") == "NOT_FOUND":
            return Result(Outcome.NOT_FOUND)
        if status != 200:
            raise ProviderUnreachable(f"WeChat Pay's batch query failed: {rules.error_reason(answer, status)}")
        try:
            verdict, needs_reason = rules.batch_outcome(answer, number)
        except ValueError as exc:
            raise ProviderUnreachable(f"WeChat Pay's batch query answer is unexpected: {exc}") from None
        if needs_reason:
            verdict = self._detail(number, verdict)
        return _result(verdict)

    def notification(self, headers: Mapping[str, str], body: bytes) -> tuple[str, Result]:
        try:
            rules.verify_signed(headers, body, self.config.platform_key, self.config.platform_serial, self.clock())
            document = json.loads(body)
            if not isinstance(document, dict):
                raise rules.SignatureInvalid("the callback is not a JSON object")
            if document.get("event_type") not in rules.NOTIFY_EVENTS:
                raise rules.SignatureInvalid(f"unexpected event {document.get('event_type')!r}")
            if document.get("resource_type") != "encrypt-resource" or not isinstance(document.get("resource"), dict):
                raise rules.SignatureInvalid("the callback carries no encrypted resource")
            resource = rules.decrypt_resource(document["resource"], self.config.apiv3_key)
            number, verdict = rules.notification_outcome(resource, self.config.mchid)
            wid = rules.wid_of(number)
        except (rules.SignatureInvalid, ValueError) as exc:
            raise BadNotification(str(exc)) from None
        if verdict.outcome == FAILED and verdict.reason == "FAIL":  # the batch callback carries counts only
            try:
                verdict = self._detail(number, verdict)
            except ProviderUnreachable:
                pass  # the reason stays generic; the outcome is already certain
        return wid, _result(verdict)

    # -- the wire -----------------------------------------------------------------------------------------------

    def _detail(self, number: str, verdict: Verdict) -> Verdict:
        """A failed detail's reason, from the detail query."""
        status, answer = self._call("GET", rules.detail_path(number), None)
        if status != 200:
            return verdict
        try:
            found = rules.detail_outcome(answer, verdict.ref)
        except ValueError:
            return verdict
        return found if found.outcome == FAILED else verdict

    def _call(self, method: str, path: str, body: Mapping[str, Any] | None) -> tuple[int, dict[str, Any]]:
        """(HTTP status, JSON object) of a signed call whose answer's signature verified."""
        url = self.base_url + path
        parts = urlsplit(url)
        signed_path = parts.path + (f"?{parts.query}" if parts.query else "")  # the URL without its host
        text = json.dumps(body, ensure_ascii=False, separators=(",", ":")) if body is not None else ""
        timestamp, nonce = str(int(self.clock())), secrets.token_hex(16).upper()
        signature = rules.sign(
            self.config.merchant_key, rules.request_message(method, signed_path, timestamp, nonce, text)
        )
        headers = {
            "Authorization": rules.authorization(
                self.config.mchid, self.config.merchant_serial_no, nonce, timestamp, signature
            ),
            "Accept": "application/json",
            "Wechatpay-Serial": self.config.platform_serial,
        }
        if body is not None:
            headers["Content-Type"] = "application/json"
        answer = transport.exchange(method, url, headers, text.encode() if body is not None else None, self.timeout)
        if answer.status >= 500:
            return answer.status, _json(answer.body)
        try:
            rules.verify_signed(
                answer.headers, answer.body, self.config.platform_key, self.config.platform_serial, self.clock()
            )
        except rules.SignatureInvalid as exc:
            logger.warning("wechat pay answer not trusted", path=parts.path, status=answer.status)
            raise ProviderUnreachable(f"WeChat Pay's answer is not signed by the platform key: {exc}") from None
        return answer.status, _json(answer.body)


def _json(raw: bytes) -> dict[str, Any]:
    if not raw.strip():
        return {}
    try:
        value = json.loads(raw)
    except ValueError:
        raise ProviderUnreachable("WeChat Pay's answer is not JSON") from None
    if not isinstance(value, dict):
        raise ProviderUnreachable("WeChat Pay's answer is not a JSON object")
    return value
