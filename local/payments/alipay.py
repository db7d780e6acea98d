"""Alipay's open API gateway for single transfers (`alipay.fund.trans.uni.transfer`, `alipay.fund.trans.common
.query`), as a local fake: it verifies each request's RSA2 signature with the app's public key, answers signed with
its own Alipay key, keeps orders by (app_id, out_biz_no) so the same number never pays twice, and builds the
signed `alipay.fund.trans.order.changed` message.

Scripted payee identities: `fail_...` is refused with PAYEE_NOT_EXIST, `poor_...` with PAYER_BALANCE_NOT_ENOUGH
(no order is made); `dealing_...` stays DEALING until `settle_seconds` have passed; `timeout_...` is paid, then
answered only after `hang_seconds`.
"""

from __future__ import annotations

import json
import re
import secrets
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from typing import Any
from urllib.parse import urlencode

from cryptography.hazmat.primitives.asymmetric import rsa

from local.payments.keys import KeyRing, private_pem, public_pem, rsa_sign, rsa_verify

BEIJING = timezone(timedelta(hours=8))
AMOUNT = re.compile(r"(0|[1-9]\d{0,9})\.\d{2}")
OUT_BIZ_NO = re.compile(r"[A-Za-z0-9_]{1,64}")
IDENTITY_TYPES = frozenset({"ALIPAY_USER_ID", "ALIPAY_LOGON_ID"})


def beijing(moment: float) -> str:
    return datetime.fromtimestamp(moment, UTC).astimezone(BEIJING).strftime("%Y-%m-%d %H:%M:%S")


class AlipayError(Exception):
    def __init__(self, code: str, msg: str, sub_code: str, sub_msg: str) -> None:
        super().__init__(sub_msg)
        self.node = {"code": code, "msg": msg, "sub_code": sub_code, "sub_msg": sub_msg}


def business(sub_code: str, sub_msg: str) -> AlipayError:
    return AlipayError("40004", "Business Failed", sub_code, sub_msg)


def invalid(sub_code: str, sub_msg: str) -> AlipayError:
    return AlipayError("40002", "Invalid Arguments", sub_code, sub_msg)


@dataclass
class App:
    app_id: str
    key: rsa.RSAPrivateKey  # kept only to hand the local credentials out; the fake verifies with its public half

    def credentials(self, alipay_public: str) -> dict[str, str]:
        """The app's credentials as an owner would enter them (chalicelib's AlipayCredentials)."""
        return {
            "provider": "alipay",
            "app_id": self.app_id,
            "app_private_key": private_pem(self.key),
            "alipay_public_key": alipay_public,
        }


@dataclass
class Order:
    app_id: str
    out_biz_no: str
    order_id: str
    biz: dict[str, Any]
    created: float
    settle_at: float

    def status(self, now: float) -> str:
        return "SUCCESS" if now >= self.settle_at else "DEALING"


@dataclass
class AlipayWorld:
    keys: KeyRing = field(default_factory=KeyRing)
    settle_seconds: float = 0.0
    hang_seconds: float = 2.0
    clock: Any = time.time

    def __post_init__(self) -> None:
        self.alipay_key = self.keys.key("alipay-platform")
        self.apps: dict[str, App] = {}
        self.orders: dict[tuple[str, str], Order] = {}
        self.payments: dict[str, int] = {}  # out_biz_no -> times the money left (never more than once)
        self.lock = threading.Lock()
        self.default = self.add_app("2021000000000001", name="default")

    @property
    def alipay_public(self) -> str:
        return public_pem(self.alipay_key.public_key())

    def add_app(self, app_id: str, name: str | None = None) -> App:
        app = App(app_id, self.keys.key(f"alipay-app-{name or app_id}"))
        self.apps[app_id] = app
        return app

    def credentials(self, app: App | None = None) -> dict[str, str]:
        return (app or self.default).credentials(self.alipay_public)

    # -- the gateway ------------------------------------------------------------------------------------------

    def handle(self, params: dict[str, str]) -> tuple[str, Any]:
        """("ok" | "hang", the signed JSON text to answer) of one gateway call."""
        method = params.get("method", "")
        key = method.replace(".", "_") + "_response" if method else "error_response"
        hang = False
        try:
            app = self._authenticate(params)
            biz = self._biz(params)
            if method == "alipay.fund.trans.uni.transfer":
                node, hang = self._transfer(app, biz)
            elif method == "alipay.fund.trans.common.query":
                node = self._query(app, biz)
            else:
                raise invalid("isv.invalid-method", "不存在的方法名")
        except AlipayError as exc:
            node = exc.node
        return ("hang" if hang else "ok"), self.signed(key, node)

    def signed(self, key: str, node: dict[str, Any]) -> str:
        """The answer as Alipay writes it: the member's JSON text, and a signature over exactly that text."""
        text = json.dumps(node, ensure_ascii=False, separators=(",", ":"))
        return f'{{"{key}":{text},"sign":"{rsa_sign(self.alipay_key, text.encode())}"}}'

    def _authenticate(self, params: dict[str, str]) -> App:
        app = self.apps.get(params.get("app_id", ""))
        if app is None:
            raise invalid("isv.invalid-app-id", "无效的AppID参数")
        if params.get("sign_type") != "RSA2":
            raise invalid("isv.invalid-signature-type", "无效的签名类型")
        if params.get("charset", "utf-8").lower() != "utf-8" or params.get("version") != "1.0":
            raise invalid("isv.invalid-parameter", "charset 或 version 无效")
        content = "&".join(f"{k}={v}" for k, v in sorted(params.items()) if k != "sign" and v != "")
        if not rsa_verify(app.key.public_key(), content.encode(), params.get("sign", "")):
            raise invalid("isv.invalid-signature", "验签出错")
        return app

    def _biz(self, params: dict[str, str]) -> dict[str, Any]:
        try:
            biz = json.loads(params.get("biz_content", ""))
        except ValueError:
            raise invalid("isv.invalid-parameter", "biz_content 不是JSON") from None
        if not isinstance(biz, dict):
            raise invalid("isv.invalid-parameter", "biz_content 不是对象")
        if biz.get("product_code") != "TRANS_ACCOUNT_NO_PWD" or biz.get("biz_scene") != "DIRECT_TRANSFER":
            raise invalid("isv.invalid-parameter", "product_code 或 biz_scene 无效")
        if not OUT_BIZ_NO.fullmatch(str(biz.get("out_biz_no", ""))):
            raise invalid("isv.missing-parameter", "out_biz_no 无效")
        return biz

    def _transfer(self, app: App, biz: dict[str, Any]) -> tuple[dict[str, Any], bool]:
        amount = str(biz.get("trans_amount", ""))
        if not AMOUNT.fullmatch(amount) or amount == "0.00":
            raise invalid("isv.invalid-parameter", "trans_amount 无效")
        if not isinstance(biz.get("order_title"), str) or not biz["order_title"]:
            raise invalid("isv.missing-parameter", "order_title 必填")
        payee = biz.get("payee_info")
        if not isinstance(payee, dict) or payee.get("identity_type") not in IDENTITY_TYPES or not payee.get("identity"):
            raise invalid("isv.invalid-parameter", "payee_info 无效")
        if payee["identity_type"] == "ALIPAY_LOGON_ID" and not payee.get("name"):
            raise business("PAYEE_USER_INFO_ERROR", "支付宝账号和姓名不匹配，请确认姓名是否正确")
        identity = str(payee["identity"])
        number = str(biz["out_biz_no"])
        with self.lock:
            found = self.orders.get((app.app_id, number))
            if found is not None:
                if found.biz != biz:
                    raise business("REQUEST_PARAM_ILLEGAL", "同一 out_biz_no 的参数与原单不一致")
                return self._answer(found), False
            if identity.startswith("fail_"):
                raise business("PAYEE_NOT_EXIST", "收款账号不存在")
            if identity.startswith("poor_"):
                raise business("PAYER_BALANCE_NOT_ENOUGH", "付款方余额不足")
            now = self.clock()
            order = Order(
                app_id=app.app_id,
                out_biz_no=number,
                order_id="20" + time.strftime("%Y%m%d", time.gmtime(now)) + secrets.token_hex(8),
                biz=biz,
                created=now,
                settle_at=now + (self.settle_seconds if identity.startswith("dealing_") else 0.0),
            )
            self.orders[(app.app_id, number)] = order
            self.payments[number] = self.payments.get(number, 0) + 1
        return self._answer(order), identity.startswith("timeout_")

    def _answer(self, order: Order) -> dict[str, Any]:
        now = self.clock()
        return {
            "code": "10000",
            "msg": "Success",
            "out_biz_no": order.out_biz_no,
            "order_id": order.order_id,
            "pay_fund_order_id": order.order_id + "01",
            "status": order.status(now),
            "trans_date": beijing(order.created),
        }

    def _query(self, app: App, biz: dict[str, Any]) -> dict[str, Any]:
        order = self.orders.get((app.app_id, str(biz["out_biz_no"])))
        if order is None:
            raise business("ORDER_NOT_EXIST", "转账订单不存在")
        now = self.clock()
        node = self._answer(order)
        node.pop("trans_date")
        node.update({"trans_amount": order.biz["trans_amount"], "order_fee": "0.00"})
        if order.status(now) == "SUCCESS":
            node["pay_date"] = beijing(order.settle_at)
        return node

    # -- the message ------------------------------------------------------------------------------------------

    def notification(self, app_id: str, out_biz_no: str) -> tuple[dict[str, str], bytes]:
        """The signed `alipay.fund.trans.order.changed` message of an order (headers, form body)."""
        order = self.orders[(app_id, out_biz_no)]
        now = self.clock()
        content = {
            "out_biz_no": order.out_biz_no,
            "order_id": order.order_id,
            "pay_fund_order_id": order.order_id + "01",
            "product_code": "TRANS_ACCOUNT_NO_PWD",
            "biz_scene": "DIRECT_TRANSFER",
            "origin_interface": "alipay.fund.trans.uni.transfer",
            "status": order.status(now),
            "action_type": "FINISH",
            "trans_amount": order.biz["trans_amount"],
            "pay_date": beijing(max(now, order.settle_at)),
        }
        params = {
            "notify_id": secrets.token_hex(16),
            "utc_timestamp": str(int(now * 1000)),
            "msg_method": "alipay.fund.trans.order.changed",
            "app_id": app_id,
            "version": "1.1",
            "charset": "utf-8",
            "biz_content": json.dumps(content, ensure_ascii=False, separators=(",", ":")),
        }
        signed = "&".join(f"{k}={v}" for k, v in sorted(params.items()))
        params.update({"sign_type": "RSA2", "sign": rsa_sign(self.alipay_key, signed.encode())})
        return {"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"}, urlencode(params).encode()
