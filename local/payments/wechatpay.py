"""WeChat Pay's merchant transfer to balance (商家转账到零钱, API v3), as a local fake.

It checks each request's merchant signature, answers signed with its own platform key (a "WeChat Pay public key"
with a PUB_KEY_ID_ serial), keeps batches by (mchid, out_batch_no) so the same number never pays twice, settles
them (SUCCESS, or FAIL for scripted openids) and sends the encrypted batch callback to the batch's notify_url.
Scripted openids: `fail_<REASON>` fails the detail (REASON, e.g. NAME_NOT_CORRECT, else ACCOUNT_FROZEN);
`notenough_...` is refused with 403 NOT_ENOUGH; `timeout_...` is taken, then answered only after `hang_seconds`.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import secrets
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from local.payments.keys import KeyRing, oaep_decrypt, private_pem, public_pem, rsa_sign, rsa_verify

SCHEMA = "WECHATPAY2-SHA256-RSA2048"
MAX_SKEW = 300
BEIJING = timezone(timedelta(hours=8))
NUMBER = re.compile(r"[A-Za-z0-9]{1,32}")
FAIL_REASONS = frozenset(
    {"ACCOUNT_FROZEN", "REAL_NAME_CHECK_FAIL", "NAME_NOT_CORRECT", "OPENID_INVALID", "TRANSFER_QUOTA_EXCEED",
     "DAY_RECEIVED_QUOTA_EXCEED", "ACCOUNT_NOT_EXIST", "TRANSFER_RISK", "OTHER_FAIL_REASON_TYPE"}
)  # fmt: skip


def rfc3339(moment: float) -> str:
    return datetime.fromtimestamp(moment, UTC).astimezone(BEIJING).isoformat(timespec="seconds")


class WeChatPayError(Exception):
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


@dataclass
class Merchant:
    mchid: str
    appid: str
    serial_no: str
    key: rsa.RSAPrivateKey  # kept only to hand the local credentials out; the fake verifies with its public half
    apiv3_key: str

    def credentials(self, platform_serial: str, platform_public: str) -> dict[str, str]:
        """The merchant's credentials as an owner would enter them (chalicelib's WeChatPayCredentials)."""
        return {
            "provider": "wechatpay",
            "mchid": self.mchid,
            "appid": self.appid,
            "merchant_serial_no": self.serial_no,
            "merchant_private_key": private_pem(self.key),
            "apiv3_key": self.apiv3_key,
            "platform_serial": platform_serial,
            "platform_public_key": platform_public,
        }


@dataclass
class Batch:
    mchid: str
    out_batch_no: str
    batch_id: str
    body: dict[str, Any]
    created: float
    settle_at: float
    fail_reason: str | None  # None: the detail succeeds
    notify_url: str | None
    user_name: str | None  # decrypted, as WeChat Pay would check it
    notified: int = 0

    @property
    def detail(self) -> dict[str, Any]:
        return dict(self.body["transfer_detail_list"][0])

    def settled(self, now: float) -> bool:
        return now >= self.settle_at

    def batch_status(self, now: float) -> str:
        return "FINISHED" if self.settled(now) else "ACCEPTED"

    def detail_status(self, now: float) -> str:
        if not self.settled(now):
            return "PROCESSING"
        return "FAIL" if self.fail_reason else "SUCCESS"

    def summary(self, now: float) -> dict[str, Any]:
        amount = int(self.body["total_amount"])
        done = self.settled(now)
        ok = done and self.fail_reason is None
        bad = done and self.fail_reason is not None
        return {
            "mchid": self.mchid,
            "out_batch_no": self.out_batch_no,
            "batch_id": self.batch_id,
            "appid": self.body["appid"],
            "batch_status": self.batch_status(now),
            "batch_type": "API",
            "batch_name": self.body["batch_name"],
            "batch_remark": self.body["batch_remark"],
            "total_amount": amount,
            "total_num": 1,
            "create_time": rfc3339(self.created),
            "update_time": rfc3339(max(self.created, min(now, self.settle_at))),
            "success_amount": amount if ok else 0,
            "success_num": 1 if ok else 0,
            "fail_amount": amount if bad else 0,
            "fail_num": 1 if bad else 0,
        }


@dataclass
class WeChatPayWorld:
    """The fake's state; `handle` answers one API request (already split into its parts)."""

    keys: KeyRing = field(default_factory=KeyRing)
    settle_seconds: float = 0.0
    hang_seconds: float = 2.0
    clock: Any = time.time

    def __post_init__(self) -> None:
        self.platform_key = self.keys.key("wechatpay-platform")
        # A WeChat Pay public key id looks like PUB_KEY_ID_ and 28 digits; this one is derived from the key.
        self.platform_serial = "PUB_KEY_ID_" + str(int.from_bytes(self._digest(), "big"))[:28]
        self.merchants: dict[str, Merchant] = {}
        self.batches: dict[tuple[str, str], Batch] = {}
        self.payments: dict[str, int] = {}  # out_batch_no -> times the money left (never more than once)
        self.pending: list[Batch] = []  # new batches whose callback is still to be sent
        self.lock = threading.Lock()
        self.default = self.add_merchant("1900000109", "wx0000000000local", name="default")

    def _digest(self) -> bytes:
        return hashlib.sha256(public_pem(self.platform_key.public_key()).encode()).digest()

    @property
    def platform_public(self) -> str:
        return public_pem(self.platform_key.public_key())

    def add_merchant(self, mchid: str, appid: str, name: str | None = None) -> Merchant:
        """A merchant with fresh keys (kept in the key ring under `name`, when given, across restarts)."""
        label = name or mchid
        key = self.keys.key(f"wechatpay-merchant-{label}")
        apiv3 = self.keys.secret(f"wechatpay-apiv3-{label}", secrets.token_hex(16))
        serial = self.keys.secret(f"wechatpay-serial-{label}", secrets.token_hex(20).upper())
        merchant = Merchant(mchid, appid, serial, key, apiv3)
        self.merchants[mchid] = merchant
        return merchant

    def credentials(self, merchant: Merchant | None = None) -> dict[str, str]:
        return (merchant or self.default).credentials(self.platform_serial, self.platform_public)

    # -- signatures -------------------------------------------------------------------------------------------

    def signed_headers(self, body: bytes) -> dict[str, str]:
        timestamp, nonce = str(int(self.clock())), secrets.token_hex(16)
        message = f"{timestamp}\n{nonce}\n".encode() + body + b"\n"
        return {
            "Wechatpay-Timestamp": timestamp,
            "Wechatpay-Nonce": nonce,
            "Wechatpay-Signature": rsa_sign(self.platform_key, message),
            "Wechatpay-Serial": self.platform_serial,
            "Wechatpay-Signature-Type": SCHEMA,
            "Request-ID": secrets.token_hex(16),
        }

    def _authenticate(self, method: str, target: str, headers: dict[str, str], body: bytes) -> Merchant:
        header = headers.get("authorization", "")
        schema, _, rest = header.partition(" ")
        params = dict(re.findall(r'([a-z_]+)="([^"]*)"', rest))
        merchant = self.merchants.get(params.get("mchid", ""))
        if schema != SCHEMA or merchant is None:
            raise WeChatPayError(401, "SIGN_ERROR", "商户号或认证类型错误")
        if params.get("serial_no", "").upper() != merchant.serial_no:
            raise WeChatPayError(401, "SIGN_ERROR", "商户证书序列号有误")
        timestamp = params.get("timestamp", "")
        if not timestamp.isdigit() or abs(self.clock() - int(timestamp)) > MAX_SKEW:
            raise WeChatPayError(401, "SIGN_ERROR", "请求时间与当前时间相差过大")
        message = f"{method}\n{target}\n{timestamp}\n{params.get('nonce_str', '')}\n".encode() + body + b"\n"
        if not rsa_verify(merchant.key.public_key(), message, params.get("signature", "")):
            raise WeChatPayError(401, "SIGN_ERROR", "签名错误")
        return merchant

    # -- the API ----------------------------------------------------------------------------------------------

    def handle(self, method: str, path: str, target: str, headers: dict[str, str], body: bytes) -> tuple[int, Any]:
        """(status, JSON answer or None) of one request; `path` is the API path (/v3/...), `target` the signed one.

        A `timeout_` transfer returns ("hang", batch): the server holds the answer back."""
        try:
            merchant = self._authenticate(method, target, headers, body)
            if method == "POST" and path == "/v3/transfer/batches":
                return self._create(merchant, headers, body)
            match = re.fullmatch(r"/v3/transfer/batches/out-batch-no/([^/]+)", path)
            if method == "GET" and match:
                return self._batch(merchant, match.group(1), target)
            match = re.fullmatch(r"/v3/transfer/batches/out-batch-no/([^/]+)/details/out-detail-no/([^/]+)", path)
            if method == "GET" and match:
                return self._detail(merchant, match.group(1), match.group(2))
            raise WeChatPayError(404, "NOT_FOUND", "接口不存在")
        except WeChatPayError as exc:
            return exc.status, {"code": exc.code, "message": exc.message}

    def _create(self, merchant: Merchant, headers: dict[str, str], body: bytes) -> tuple[int, Any]:
        try:
            request = json.loads(body)
        except ValueError:
            raise WeChatPayError(400, "PARAM_ERROR", "请求体不是JSON") from None
        self._validate(merchant, request)
        number = request["out_batch_no"]
        detail = request["transfer_detail_list"][0]
        user_name = None
        if detail.get("user_name"):
            if headers.get("wechatpay-serial") != self.platform_serial:
                raise WeChatPayError(400, "PARAM_ERROR", "Wechatpay-Serial 与加密公钥不符")
            try:
                user_name = oaep_decrypt(self.platform_key, detail["user_name"])
            except ValueError:
                raise WeChatPayError(400, "PARAM_ERROR", "user_name 解密失败") from None
        openid = str(detail["openid"])
        with self.lock:
            found = self.batches.get((merchant.mchid, number))
            if found is not None:
                same = {k: v for k, v in found.body.items() if k != "transfer_detail_list"} == {
                    k: v for k, v in request.items() if k != "transfer_detail_list"
                } and found.detail["openid"] == openid
                if not same:
                    raise WeChatPayError(400, "INVALID_REQUEST", "商家批次单号已存在，请求参数与原单不一致")
                return 200, self._accepted(found)
            if openid.startswith("notenough_"):
                raise WeChatPayError(403, "NOT_ENOUGH", "资金不足")
            reason = None
            if openid.startswith("fail_"):
                wanted = openid[len("fail_") :].upper()
                reason = wanted if wanted in FAIL_REASONS else "ACCOUNT_FROZEN"
            now = self.clock()
            batch = Batch(
                mchid=merchant.mchid,
                out_batch_no=number,
                batch_id="1030000" + secrets.token_hex(12),
                body=request,
                created=now,
                settle_at=now + self.settle_seconds,
                fail_reason=reason,
                notify_url=request.get("notify_url"),
                user_name=user_name,
            )
            self.batches[(merchant.mchid, number)] = batch
            if batch.notify_url:
                self.pending.append(batch)
            if reason is None:
                self.payments[number] = self.payments.get(number, 0) + 1
        if openid.startswith("timeout_"):
            return -1, batch
        return 200, self._accepted(batch)

    def take_pending(self) -> list[Batch]:
        with self.lock:
            taken, self.pending = self.pending, []
        return taken

    def _accepted(self, batch: Batch) -> dict[str, Any]:
        return {
            "out_batch_no": batch.out_batch_no,
            "batch_id": batch.batch_id,
            "create_time": rfc3339(batch.created),
            "batch_status": "ACCEPTED",
        }

    def _validate(self, merchant: Merchant, request: Any) -> None:
        def bad(message: str) -> WeChatPayError:
            return WeChatPayError(400, "PARAM_ERROR", message)

        if not isinstance(request, dict):
            raise bad("请求体不是对象")
        if request.get("appid") != merchant.appid:
            raise WeChatPayError(400, "INVALID_REQUEST", "appid 与商户号未绑定")
        if not NUMBER.fullmatch(str(request.get("out_batch_no", ""))):
            raise bad("out_batch_no 只能由数字、大小写字母组成，最长32位")
        for name in ("batch_name", "batch_remark"):
            if not isinstance(request.get(name), str) or not 0 < len(request[name]) <= 32:
                raise bad(f"{name} 必填，最多32个字符")
        details = request.get("transfer_detail_list")
        if not isinstance(details, list) or not 0 < len(details) <= 1000:
            raise bad("transfer_detail_list 必填，最多一千笔")
        if len(details) != 1:
            raise bad("本地模拟只支持单笔明细的批次")
        if request.get("total_num") != len(details):
            raise bad("转账总笔数与明细不一致")
        total = 0
        for detail in details:
            if not isinstance(detail, dict) or not NUMBER.fullmatch(str(detail.get("out_detail_no", ""))):
                raise bad("out_detail_no 只能由数字、大小写字母组成")
            amount = detail.get("transfer_amount")
            if not isinstance(amount, int) or isinstance(amount, bool) or amount <= 0:
                raise bad("transfer_amount 必须为正整数（分）")
            remark = detail.get("transfer_remark")
            if not isinstance(remark, str) or not 0 < len(remark) <= 32:
                raise bad("transfer_remark 必填，最多32个字符")
            if not isinstance(detail.get("openid"), str) or not detail["openid"]:
                raise bad("openid 必填")
            total += amount
        if request.get("total_amount") != total:
            raise bad("转账总金额与明细之和不一致")

    def _batch(self, merchant: Merchant, number: str, target: str) -> tuple[int, Any]:
        batch = self.batches.get((merchant.mchid, number))
        if batch is None:
            raise WeChatPayError(404, "NOT_FOUND", "记录不存在")
        now = self.clock()
        answer: dict[str, Any] = {"limit": 20, "offset": 0, "transfer_batch": batch.summary(now)}
        if "need_query_detail=true" in target:
            answer["transfer_detail_list"] = [
                {
                    "detail_id": "1040000" + batch.batch_id[7:],
                    "out_detail_no": batch.detail["out_detail_no"],
                    "detail_status": batch.detail_status(now),
                }
            ]
        return 200, answer

    def _detail(self, merchant: Merchant, number: str, detail_no: str) -> tuple[int, Any]:
        batch = self.batches.get((merchant.mchid, number))
        if batch is None or batch.detail["out_detail_no"] != detail_no:
            raise WeChatPayError(404, "NOT_FOUND", "记录不存在")
        now = self.clock()
        answer = {
            "mchid": batch.mchid,
            "out_batch_no": number,
            "batch_id": batch.batch_id,
            "appid": batch.body["appid"],
            "out_detail_no": detail_no,
            "detail_id": "1040000" + batch.batch_id[7:],
            "detail_status": batch.detail_status(now),
            "transfer_amount": batch.detail["transfer_amount"],
            "transfer_remark": batch.detail["transfer_remark"],
            "openid": batch.detail["openid"],
            "initiate_time": rfc3339(batch.created),
            "update_time": rfc3339(max(batch.created, min(now, batch.settle_at))),
        }
        if batch.settled(now) and batch.fail_reason:
            answer["fail_reason"] = batch.fail_reason
        return 200, answer

    # -- the callback -----------------------------------------------------------------------------------------

    def notification(self, mchid: str, number: str) -> tuple[dict[str, str], bytes]:
        """The signed, encrypted MCHTRANSFER.BATCH.FINISHED callback of a settled batch (headers, body)."""
        batch = self.batches[(mchid, number)]
        merchant = self.merchants[mchid]
        now = self.clock()
        plain = json.dumps(batch.summary(max(now, batch.settle_at)), ensure_ascii=False).encode()
        nonce = secrets.token_hex(6)  # 12 characters, the documented nonce length
        associated = "mch_payment"
        ciphertext = AESGCM(merchant.apiv3_key.encode()).encrypt(nonce.encode(), plain, associated.encode())
        document = {
            "id": secrets.token_hex(18),
            "create_time": rfc3339(now),
            "resource_type": "encrypt-resource",
            "event_type": "MCHTRANSFER.BATCH.FINISHED",
            "summary": "商家转账批次完成通知",
            "resource": {
                "original_type": "mch_payment",
                "algorithm": "AEAD_AES_256_GCM",
                "ciphertext": base64.b64encode(ciphertext).decode(),
                "associated_data": associated,
                "nonce": nonce,
            },
        }
        body = json.dumps(document, ensure_ascii=False).encode()
        headers = {"Content-Type": "application/json", **self.signed_headers(body)}
        return headers, body
