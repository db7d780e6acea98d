"""WeChat Pay API v3 for merchant transfers to balance (商家转账到零钱): signatures, callback decryption and the
mapping of batch and detail states to payout outcomes (docs/payout-providers.md, "WeChat Pay").

Every request is signed with the merchant's API key: `METHOD\\nURL\\ntimestamp\\nnonce\\nbody\\n`, RSA-SHA256
(PKCS#1 v1.5), sent as `Authorization: WECHATPAY2-SHA256-RSA2048 mchid=..,nonce_str=..,signature=..,timestamp=..,
serial_no=..`. Answers and callbacks are signed by WeChat Pay (`timestamp\\nnonce\\nbody\\n`) with the platform key
named by `Wechatpay-Serial`; a callback's `resource` is AES-256-GCM under the merchant's APIv3 key.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from cryptography.exceptions import InvalidSignature, InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from chalicelib.payouts.rules.verdicts import ACCEPTED, FAILED, SUCCEEDED, Verdict

SCHEMA = "WECHATPAY2-SHA256-RSA2048"
# WeChat Pay refuses requests, and we refuse answers and callbacks, signed more than five minutes away from now.
MAX_SKEW_SECONDS = 300
TRANSFER_PATH = "/v3/transfer/batches"
NOTIFY_EVENTS = frozenset({"MCHTRANSFER.BATCH.FINISHED", "MCHTRANSFER.BATCH.CLOSED"})
# Numbers are letters and digits only (at most 32): a withdrawal id `wd_<hex>` becomes `wd<hex>`.
_NUMBER = re.compile(r"[A-Za-z0-9]{1,32}")
_WID = re.compile(r"wd_([0-9a-z]{1,29})")
_AUTH_PARAM = re.compile(r'\s*([a-z_]+)="([^"]*)"\s*(?:,|$)')

# Error codes after which the batch was certainly not taken, but the same number must be sent again later
# (the documentation: "请勿更换商家转账批次单号"): the transfer stays unknown and the caller retries with it.
RETRY_SAME_NUMBER = frozenset({"SYSTEM_ERROR", "FREQUENCY_LIMITED", "NOT_ENOUGH"})
BATCH_OPEN = frozenset({"WAIT_PAY", "ACCEPTED", "PROCESSING"})
DETAIL_OPEN = frozenset({"INIT", "WAIT_PAY", "PROCESSING"})
# From 2,000 yuan on, a detail must carry the payee's name (WeChat Pay checks it against the account's real name).
NAME_REQUIRED_FROM_FEN = 200_000


class SignatureInvalid(ValueError):
    """A signature, timestamp, key id or ciphertext that does not verify."""


def out_number(wid: str) -> str:
    """The batch and detail number of a withdrawal (`wd_3fa9...` -> `wd3fa9...`)."""
    match = _WID.fullmatch(wid)
    if match is None:
        raise ValueError(f"{wid!r} is not a withdrawal id (wd_ and at most 29 letters or digits)")
    return "wd" + match.group(1)


def wid_of(number: str) -> str:
    """The withdrawal id a batch number stands for (the inverse of `out_number`)."""
    if not (_NUMBER.fullmatch(number) and number.startswith("wd") and len(number) > 2):
        raise ValueError(f"{number!r} is not one of our batch numbers")
    return "wd_" + number[2:]


def request_message(method: str, url_path: str, timestamp: str, nonce: str, body: str) -> bytes:
    """What a request signature covers; `url_path` is the path with its query string, without the host."""
    return f"{method}\n{url_path}\n{timestamp}\n{nonce}\n{body}\n".encode()


def answer_message(timestamp: str, nonce: str, body: bytes) -> bytes:
    """What an answer's or a callback's signature covers (the body exactly as received)."""
    return f"{timestamp}\n{nonce}\n".encode() + body + b"\n"


def sign(private_key: rsa.RSAPrivateKey, message: bytes) -> str:
    return base64.b64encode(private_key.sign(message, padding.PKCS1v15(), hashes.SHA256())).decode()


def verify(public_key: rsa.RSAPublicKey, message: bytes, signature: str) -> None:
    try:
        raw = base64.b64decode(signature, validate=True)
        public_key.verify(raw, message, padding.PKCS1v15(), hashes.SHA256())
    except (binascii.Error, ValueError, InvalidSignature):
        raise SignatureInvalid("the signature does not verify") from None


def authorization(mchid: str, serial_no: str, nonce: str, timestamp: str, signature: str) -> str:
    return (
        f'{SCHEMA} mchid="{mchid}",nonce_str="{nonce}",signature="{signature}",'
        f'timestamp="{timestamp}",serial_no="{serial_no}"'
    )


def parse_authorization(header: str) -> dict[str, str]:
    """The parameters of an `Authorization` header (any order); SignatureInvalid if it is not one of ours."""
    schema, _, rest = header.strip().partition(" ")
    if schema != SCHEMA:
        raise SignatureInvalid(f"the authorization schema is not {SCHEMA}")
    found: dict[str, str] = {}
    position = 0
    while position < len(rest):
        match = _AUTH_PARAM.match(rest, position)
        if match is None or match.end() == position:
            raise SignatureInvalid("the authorization header is malformed")
        found[match.group(1)] = match.group(2)
        position = match.end()
    missing = {"mchid", "nonce_str", "signature", "timestamp", "serial_no"} - found.keys()
    if missing:
        raise SignatureInvalid(f"the authorization header lacks {', '.join(sorted(missing))}")
    return found


def check_fresh(timestamp: str, now: float) -> None:
    try:
        sent = int(timestamp)
    except ValueError:
        raise SignatureInvalid("the timestamp is not a number") from None
    if abs(now - sent) > MAX_SKEW_SECONDS:
        raise SignatureInvalid("the timestamp is more than five minutes away")


def header(headers: Mapping[str, str], name: str) -> str:
    """A header by name, whatever its case (API Gateway lowercases them; the platform does not)."""
    wanted = name.lower()
    for key, value in headers.items():
        if key.lower() == wanted:
            return value
    return ""


def verify_signed(
    headers: Mapping[str, str], body: bytes, public_key: rsa.RSAPublicKey, serial: str, now: float
) -> None:
    """Check a WeChat Pay answer or callback: its key id is the configured one, it is fresh, and it verifies."""
    sent_serial = header(headers, "Wechatpay-Serial")
    if sent_serial != serial:
        raise SignatureInvalid(f"signed with {sent_serial or 'no key'}, not the configured platform key")
    timestamp = header(headers, "Wechatpay-Timestamp")
    check_fresh(timestamp, now)
    message = answer_message(timestamp, header(headers, "Wechatpay-Nonce"), body)
    verify(public_key, message, header(headers, "Wechatpay-Signature"))


def encrypt_sensitive(public_key: rsa.RSAPublicKey, text: str) -> str:
    """A sensitive field (`user_name`) as WeChat Pay wants it: RSA-OAEP (SHA-1, MGF1 SHA-1), base64."""
    oaep = padding.OAEP(mgf=padding.MGF1(hashes.SHA1()), algorithm=hashes.SHA1(), label=None)  # noqa: S303
    return base64.b64encode(public_key.encrypt(text.encode(), oaep)).decode()


def decrypt_resource(resource: Mapping[str, Any], apiv3_key: bytes) -> dict[str, Any]:
    """The JSON object inside a callback's `resource` (AEAD_AES_256_GCM, the APIv3 key, its nonce and data)."""
    if resource.get("algorithm") != "AEAD_AES_256_GCM":
        raise SignatureInvalid("the resource is not AEAD_AES_256_GCM")
    try:
        nonce = str(resource["nonce"]).encode()
        data = base64.b64decode(str(resource["ciphertext"]), validate=True)
        associated = str(resource.get("associated_data") or "").encode()
        plain = AESGCM(apiv3_key).decrypt(nonce, data, associated)
        value = json.loads(plain)
    except (KeyError, binascii.Error, ValueError, InvalidTag):
        raise SignatureInvalid("the resource does not decrypt") from None
    if not isinstance(value, dict):
        raise SignatureInvalid("the resource is not a JSON object")
    return value


@dataclass(frozen=True)
class TransferRequest:
    appid: str
    number: str
    amount_fen: int
    openid: str
    remark: str
    user_name: str | None  # already encrypted
    notify_url: str | None
    scene_id: str | None


def transfer_body(request: TransferRequest) -> dict[str, Any]:
    """The body of `POST /v3/transfer/batches`: one batch of one detail, both numbered after the withdrawal."""
    if not _NUMBER.fullmatch(request.number):
        raise ValueError("the batch number must be 1 to 32 letters or digits")
    if request.amount_fen <= 0:
        raise ValueError("the amount must be positive")
    if not request.openid or len(request.openid) > 64:
        raise ValueError("the openid must be 1 to 64 characters")
    if request.amount_fen >= NAME_REQUIRED_FROM_FEN and not request.user_name:
        raise ValueError("a transfer of 2,000 yuan or more needs the payee's real name")
    remark = request.remark[:32] or "佣金提现"
    detail: dict[str, Any] = {
        "out_detail_no": request.number,
        "transfer_amount": request.amount_fen,
        "transfer_remark": remark,
        "openid": request.openid,
    }
    if request.user_name:
        detail["user_name"] = request.user_name
    body: dict[str, Any] = {
        "appid": request.appid,
        "out_batch_no": request.number,
        "batch_name": remark,
        "batch_remark": remark,
        "total_amount": request.amount_fen,
        "total_num": 1,
        "transfer_detail_list": [detail],
    }
    if request.scene_id:
        body["transfer_scene_id"] = request.scene_id
    if request.notify_url:
        body["notify_url"] = request.notify_url
    return body


def batch_path(number: str) -> str:
    return f"{TRANSFER_PATH}/out-batch-no/{number}?need_query_detail=true&detail_status=ALL"


def detail_path(number: str) -> str:
    return f"{TRANSFER_PATH}/out-batch-no/{number}/details/out-detail-no/{number}"


def error_reason(answer: Mapping[str, Any], status: int) -> str:
    code = str(answer.get("code") or f"HTTP_{status}")
    message = str(answer.get("message") or "").strip()
    return f"{code}: {message}" if message else code


def batch_outcome(answer: Mapping[str, Any], number: str) -> tuple[Verdict, bool]:
    """What a batch query says about our one detail: (result, whether its failure reason needs the detail query)."""
    batch = answer.get("transfer_batch")
    if not isinstance(batch, dict):
        raise ValueError("the answer has no transfer_batch")
    ref = str(batch.get("batch_id") or "") or None
    status = str(batch.get("batch_status") or "")
    if status == "CLOSED":
        reason = str(batch.get("close_reason") or "CLOSED")
        return Verdict(FAILED, ref, f"CLOSED: {reason}"), False
    for detail in answer.get("transfer_detail_list") or []:
        if isinstance(detail, dict) and detail.get("out_detail_no") == number:
            found = detail_outcome(detail, ref)
            return found, found.outcome == FAILED
    return Verdict(ACCEPTED, ref), False  # a batch still being checked has no detail yet


def detail_outcome(detail: Mapping[str, Any], batch_ref: str | None = None) -> Verdict:
    ref = batch_ref or str(detail.get("batch_id") or "") or None  # the batch id: one per withdrawal
    status = str(detail.get("detail_status") or "")
    if status == "SUCCESS":
        return Verdict(SUCCEEDED, ref)
    if status in ("FAIL", "REFUND"):  # REFUND: paid, then returned by the bank or the account (退票)
        return Verdict(FAILED, ref, str(detail.get("fail_reason") or status))
    if status in DETAIL_OPEN or not status:
        return Verdict(ACCEPTED, ref)
    raise ValueError(f"unknown detail status {status!r}")


def notification_outcome(resource: Mapping[str, Any], mchid: str) -> tuple[str, Verdict]:
    """(batch number, outcome) of a decrypted batch callback, checked to be for this merchant."""
    if str(resource.get("mchid") or "") != mchid:
        raise SignatureInvalid("the callback is for another merchant")
    number = str(resource.get("out_batch_no") or "")
    ref = str(resource.get("batch_id") or "") or None
    status = str(resource.get("batch_status") or "")
    if status == "CLOSED":
        return number, Verdict(FAILED, ref, f"CLOSED: {resource.get('close_reason') or 'CLOSED'}")
    if status != "FINISHED":
        return number, Verdict(ACCEPTED, ref)
    if int(resource.get("success_num") or 0) >= 1:
        return number, Verdict(SUCCEEDED, ref)
    if int(resource.get("fail_num") or 0) >= 1:
        return number, Verdict(FAILED, ref, "FAIL")
    return number, Verdict(ACCEPTED, ref)
