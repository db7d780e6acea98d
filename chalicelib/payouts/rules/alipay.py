"""Alipay's open API for single transfers to an Alipay account (`alipay.fund.trans.uni.transfer`): the RSA2
signature, the signed answer and the `alipay.fund.trans.order.changed` message (docs/payout-providers.md, "Alipay").

A request is signed over every parameter but `sign` (sorted by name, empty values left out, `k=v` joined by `&`,
SHA256withRSA, base64). An answer is signed over the raw JSON text of its `<method>_response` member, exactly as
sent; a message (notification) over its parameters but `sign` and `sign_type`.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from chalicelib.payouts.rules.verdicts import ACCEPTED, FAILED, NOT_FOUND, SUCCEEDED, Verdict

TRANSFER = "alipay.fund.trans.uni.transfer"
QUERY = "alipay.fund.trans.common.query"
ORDER_CHANGED = "alipay.fund.trans.order.changed"
PRODUCT_CODE = "TRANS_ACCOUNT_NO_PWD"
BIZ_SCENE = "DIRECT_TRANSFER"
SUCCESS_CODE = "10000"
# Codes and sub-codes that leave the transfer's fate unknown: ask again with the same out_biz_no.
UNKNOWN_CODES = frozenset({"20000", "20001"})  # service unavailable; authorisation missing (platform side)
UNKNOWN_SUB_CODES = frozenset({"SYSTEM_ERROR", "aop.SYSTEM_ERROR", "isp.unknow-error", "isp.unknown-error"})
ORDER_NOT_EXIST = "ORDER_NOT_EXIST"
_USER_ID = re.compile(r"2088\d{12}")
_OUT_BIZ_NO = re.compile(r"[A-Za-z0-9_]{1,64}")


class SignatureInvalid(ValueError):
    """A signature that does not verify, or an answer without one."""


def sign_content(params: Mapping[str, str], *, notification: bool = False) -> str:
    """The string a signature covers: a request's parameters but `sign`; a message's but `sign` and `sign_type`."""
    left_out = {"sign", "sign_type"} if notification else {"sign"}
    return "&".join(f"{k}={v}" for k, v in sorted(params.items()) if k not in left_out and v not in ("", None))


def sign(private_key: rsa.RSAPrivateKey, content: str) -> str:
    return base64.b64encode(private_key.sign(content.encode(), padding.PKCS1v15(), hashes.SHA256())).decode()


def verify(public_key: rsa.RSAPublicKey, content: str, signature: str) -> None:
    try:
        raw = base64.b64decode(signature, validate=True)
        public_key.verify(raw, content.encode(), padding.PKCS1v15(), hashes.SHA256())
    except (binascii.Error, ValueError, InvalidSignature):
        raise SignatureInvalid("the signature does not verify") from None


def yuan(fen: int) -> str:
    """An amount in fen as Alipay writes yuan: two decimals, no float on the way (`1234` -> `"12.34"`)."""
    if fen <= 0:
        raise ValueError("the amount must be positive")
    return f"{fen // 100}.{fen % 100:02d}"


def identity_type(destination: str) -> str:
    """An Alipay user id (2088 and 12 digits) or else a login name (a phone number or an email address)."""
    return "ALIPAY_USER_ID" if _USER_ID.fullmatch(destination) else "ALIPAY_LOGON_ID"


def request_params(app_id: str, method: str, biz_content: Mapping[str, Any], timestamp: str) -> dict[str, str]:
    """The common parameters of a gateway call (unsigned); `timestamp` is Beijing time, `yyyy-MM-dd HH:mm:ss`."""
    return {
        "app_id": app_id,
        "method": method,
        "format": "JSON",
        "charset": "utf-8",
        "sign_type": "RSA2",
        "timestamp": timestamp,
        "version": "1.0",
        "biz_content": json.dumps(biz_content, ensure_ascii=False, separators=(",", ":")),
    }


@dataclass(frozen=True)
class TransferRequest:
    out_biz_no: str
    amount_fen: int
    identity: str
    name: str | None
    title: str


def transfer_biz(request: TransferRequest) -> dict[str, Any]:
    if not _OUT_BIZ_NO.fullmatch(request.out_biz_no):
        raise ValueError("out_biz_no must be 1 to 64 letters, digits or underscores")
    if not request.identity or len(request.identity) > 100:
        raise ValueError("the payee's identity must be 1 to 100 characters")
    kind = identity_type(request.identity)
    payee: dict[str, str] = {"identity": request.identity, "identity_type": kind}
    if request.name:
        payee["name"] = request.name
    elif kind == "ALIPAY_LOGON_ID":
        raise ValueError("a transfer to an Alipay login name needs the payee's real name")
    return {
        "out_biz_no": request.out_biz_no,
        "trans_amount": yuan(request.amount_fen),
        "product_code": PRODUCT_CODE,
        "biz_scene": BIZ_SCENE,
        "order_title": request.title[:32] or "佣金提现",
        "payee_info": payee,
    }


def query_biz(out_biz_no: str) -> dict[str, str]:
    return {"out_biz_no": out_biz_no, "product_code": PRODUCT_CODE, "biz_scene": BIZ_SCENE}


def response_key(method: str) -> str:
    return method.replace(".", "_") + "_response"


def signed_member(raw: str, key: str) -> tuple[str, str | None]:
    """(raw JSON text of the top-level member `key`, the top-level `sign`), read exactly as sent.

    The document is walked member by member with the JSON decoder, so braces inside strings cannot fool it.
    """
    decoder = json.JSONDecoder()
    text = raw.strip()
    if not text.startswith("{"):
        raise ValueError("the answer is not a JSON object")
    position = 1
    member: str | None = None
    signature: str | None = None
    while True:
        position = _skip(text, position)
        if text[position] == "}":
            break
        name, position = decoder.raw_decode(text, position)
        position = _skip(text, position)
        if text[position] != ":":
            raise ValueError("the answer is not a JSON object")
        start = _skip(text, position + 1)
        value, position = decoder.raw_decode(text, start)
        if name == key:
            member = text[start:position]
        elif name == "sign" and isinstance(value, str):
            signature = value
        position = _skip(text, position)
        if text[position] == ",":
            position += 1
        elif text[position] != "}":
            raise ValueError("the answer is not a JSON object")
    if member is None:
        raise ValueError(f"the answer has no {key}")
    return member, signature


def _skip(text: str, position: int) -> int:
    while position < len(text) and text[position] in " \t\r\n":
        position += 1
    if position >= len(text):
        raise ValueError("the answer ends early")
    return position


def reason(node: Mapping[str, Any]) -> str:
    code = str(node.get("sub_code") or node.get("code") or "UNKNOWN")
    message = str(node.get("sub_msg") or node.get("msg") or "").strip()
    return f"{code}: {message}" if message else code


def is_unknown(node: Mapping[str, Any]) -> bool:
    """An answer that says nothing about the transfer (a platform error): ask again with the same number."""
    return str(node.get("code")) in UNKNOWN_CODES or str(node.get("sub_code") or "") in UNKNOWN_SUB_CODES


def status_verdict(node: Mapping[str, Any]) -> Verdict:
    """The verdict of a successful transfer or query answer, by its `status`."""
    ref = str(node.get("order_id") or "") or None
    status = str(node.get("status") or "")
    if status == "SUCCESS":
        return Verdict(SUCCEEDED, ref)
    if status in ("FAIL", "REFUND", "CLOSED"):  # REFUND: paid, then returned (退票)
        failure = str(node.get("fail_reason") or node.get("error_code") or status)
        return Verdict(FAILED, ref, f"{status}: {failure}" if failure != status else status)
    if status in ("DEALING", "WAIT_PAY", "INIT", ""):
        return Verdict(ACCEPTED, ref)
    raise ValueError(f"unknown transfer status {status!r}")


def query_verdict(node: Mapping[str, Any]) -> Verdict | None:
    """A query answer's verdict; None when it says nothing (a platform error: the caller raises unreachable)."""
    if str(node.get("code")) == SUCCESS_CODE:
        return status_verdict(node)
    if str(node.get("sub_code") or "") == ORDER_NOT_EXIST:
        return Verdict(NOT_FOUND)
    return None


def notification_params(body: bytes) -> dict[str, str]:
    """The parameters of a message POSTed as a form (each named once)."""
    try:
        parsed = parse_qs(body.decode(), keep_blank_values=True, strict_parsing=True)
    except (UnicodeDecodeError, ValueError):
        raise SignatureInvalid("the message is not a form") from None
    if any(len(values) != 1 for values in parsed.values()):
        raise SignatureInvalid("a parameter is repeated")
    return {k: v[0] for k, v in parsed.items()}


def notification_verdict(params: Mapping[str, str], app_id: str) -> tuple[str, Verdict]:
    """(out_biz_no, verdict) of a verified `alipay.fund.trans.order.changed` message for this app."""
    if params.get("app_id") != app_id:
        raise SignatureInvalid("the message is for another app")
    if params.get("msg_method") != ORDER_CHANGED:
        raise SignatureInvalid(f"the message is not {ORDER_CHANGED}")
    try:
        content = json.loads(params.get("biz_content") or "")
    except ValueError:
        raise SignatureInvalid("the message's biz_content is not JSON") from None
    if not isinstance(content, dict) or not content.get("out_biz_no"):
        raise SignatureInvalid("the message's biz_content names no out_biz_no")
    return str(content["out_biz_no"]), status_verdict(content)
