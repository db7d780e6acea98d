"""Callbacks as WeCom and the official account send them: the event XML, its encryption and signatures, the
POST with the platforms' retries, the URL check a console runs on saving a callback URL, and the official
account's passive reply read back from the answer.

Retries (接收消息与事件): "服务器在五秒内收不到响应会断掉连接，并且重新发起请求，总共重试三次". The stand-in
makes at most three attempts of the same bytes, each given `timeout` seconds (5 by default); an attempt fails
when no answer arrives in time, the connection fails or the status is not 200.
"""

from __future__ import annotations

import http.client
import secrets
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from typing import Any, Literal
from urllib.parse import urlencode, urlsplit

from defusedxml import ElementTree

from local.wechat.crypto import CryptoError, MsgCrypt, signature
from local.wechat.world import App, Corp

ATTEMPTS = 3
TIMEOUT = 5.0
MAX_ANSWER_BYTES = 64 * 1024


def _cdata(value: str) -> str:
    return "<![CDATA[" + value.replace("]]>", "]]]]><![CDATA[>") + "]]>"


def event_xml(fields: list[tuple[str, str | int]]) -> str:
    """The platforms' flat XML: text in CDATA, numbers bare (CreateTime), in the documented order."""
    inner = "".join(
        f"<{name}>{value}</{name}>" if isinstance(value, int) else f"<{name}>{_cdata(value)}</{name}>"
        for name, value in fields
    )
    return f"<xml>{inner}</xml>"


def parse_xml(text: str | bytes) -> dict[str, str]:
    """A flat XML message as a dict of its top-level elements' text (defusedxml: no entities, no DTDs)."""
    root = ElementTree.fromstring(text)
    return {child.tag: (child.text or "") for child in root}


@dataclass
class Attempt:
    status: int | None
    answer: str
    error: str = ""
    seconds: float = 0.0


@dataclass
class Delivery:
    """One event sent to a callback URL, with every attempt; `redeliver` sends the same bytes again."""

    id: int
    platform: Literal["wecom", "official_account"]
    owner: str  # corp_id or app_id
    visitor: str
    event: dict[str, str]  # the inner message's fields, as sent
    url: str
    body: bytes
    attempts: list[Attempt] = field(default_factory=list)
    reply: dict[str, Any] | None = None  # the official account's passive reply, when it sent one
    reply_error: str = ""

    @property
    def delivered(self) -> bool:
        return bool(self.attempts) and self.attempts[-1].status == 200

    def summary(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "platform": self.platform,
            "owner": self.owner,
            "visitor": self.visitor,
            "event": self.event,
            "url": self.url,
            "delivered": self.delivered,
            "attempts": [vars(a) for a in self.attempts],
            "reply": self.reply,
            "reply_error": self.reply_error,
        }


def _timestamp_nonce() -> tuple[str, str]:
    return str(int(time.time())), str(secrets.randbelow(10**10))


def wecom_request(corp: Corp, inner: str) -> tuple[str, bytes]:
    """The URL (with msg_signature, timestamp, nonce) and the encrypted envelope WeCom POSTs."""
    crypt = MsgCrypt(corp.token, corp.encoding_aes_key, corp.corp_id)
    encrypt = crypt.encrypt(inner)
    timestamp, nonce = _timestamp_nonce()
    query = {"msg_signature": crypt.sign(timestamp, nonce, encrypt), "timestamp": timestamp, "nonce": nonce}
    body = event_xml([("ToUserName", corp.corp_id), ("Encrypt", encrypt), ("AgentID", corp.agent_id)])
    return _with_query(corp.callback_url, query), body.encode()


def official_account_request(app: App, inner: str, to_openid: str) -> tuple[str, bytes]:
    """The URL and body the official account POSTs: encrypted in safe mode, the message itself in plain mode."""
    timestamp, nonce = _timestamp_nonce()
    query = {"signature": signature(app.token, timestamp, nonce), "timestamp": timestamp, "nonce": nonce}
    query["openid"] = to_openid
    if app.mode == "plain":
        return _with_query(app.callback_url, query), inner.encode()
    crypt = MsgCrypt(app.token, app.encoding_aes_key, app.app_id)
    encrypt = crypt.encrypt(inner)
    query |= {"encrypt_type": "aes", "msg_signature": crypt.sign(timestamp, nonce, encrypt)}
    body = event_xml([("ToUserName", app.original_id), ("Encrypt", encrypt)])
    return _with_query(app.callback_url, query), body.encode()


def _with_query(url: str, query: dict[str, str]) -> str:
    return url + ("&" if urlsplit(url).query else "?") + urlencode(query)


def _request(method: str, url: str, body: bytes | None, timeout: float) -> Attempt:
    started = time.monotonic()
    headers = {"Content-Type": "text/xml", "User-Agent": "Mozilla/4.0"} if body is not None else {}
    request = urllib.request.Request(url, data=body, method=method, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310 - a configured URL
            answer = response.read(MAX_ANSWER_BYTES).decode(errors="replace")
            return Attempt(response.status, answer, seconds=time.monotonic() - started)
    except urllib.error.HTTPError as exc:
        answer = exc.read(MAX_ANSWER_BYTES).decode(errors="replace")
        return Attempt(exc.code, answer, f"HTTP {exc.code}", time.monotonic() - started)
    except (OSError, http.client.HTTPException) as exc:  # refused, reset, timed out
        return Attempt(None, "", f"{type(exc).__name__}: {exc}", time.monotonic() - started)


def send(delivery: Delivery, attempts: int = ATTEMPTS, timeout: float = TIMEOUT) -> Delivery:
    """POST the delivery until an attempt gets a 200, at most `attempts` times."""
    if not delivery.url:
        delivery.attempts.append(Attempt(None, "", "no callback URL is registered"))
        return delivery
    for _ in range(attempts):
        attempt = _request("POST", delivery.url, delivery.body, timeout)
        delivery.attempts.append(attempt)
        if attempt.status == 200:
            break
    return delivery


def read_reply(app: App, answer: str, visitor_openid: str) -> dict[str, Any] | None:
    """The official account's passive reply in an answer ("" or "success": none), decrypted in safe mode.

    Raises ValueError with what is wrong when the answer is neither nothing nor a valid reply; the
    platform then shows the visitor "该公众号暂时无法提供服务".
    """
    text = answer.strip()
    if text in ("", "success"):
        return None
    try:
        fields = parse_xml(text)
    except ElementTree.ParseError as exc:
        raise ValueError(f"the answer is not XML: {exc}") from exc
    if app.mode == "safe":
        crypt = MsgCrypt(app.token, app.encoding_aes_key, app.app_id)
        encrypt = fields.get("Encrypt", "")
        if not crypt.verify(
            fields.get("MsgSignature", ""), fields.get("TimeStamp", ""), fields.get("Nonce", ""), encrypt
        ):
            raise ValueError("the reply's MsgSignature does not match")
        try:
            fields = parse_xml(crypt.decrypt(encrypt))
        except CryptoError as exc:
            raise ValueError(f"the reply does not decrypt: {exc}") from exc
    if fields.get("ToUserName") != visitor_openid or fields.get("FromUserName") != app.original_id:
        raise ValueError("the reply's ToUserName / FromUserName do not answer the event")
    if not fields.get("MsgType"):
        raise ValueError("the reply has no MsgType")
    return {k: v for k, v in fields.items() if k not in ("ToUserName", "FromUserName", "CreateTime")}


def verify_url(
    platform: Literal["wecom", "official_account"], owner: Corp | App, timeout: float = TIMEOUT
) -> dict[str, Any]:
    """The GET a console sends when the callback URL is saved; the product must echo the (decrypted) echostr."""
    timestamp, nonce = _timestamp_nonce()
    plain = str(secrets.randbelow(10**18))
    if isinstance(owner, Corp):
        crypt = MsgCrypt(owner.token, owner.encoding_aes_key, owner.corp_id)
        echostr = crypt.encrypt(plain)
        query = {"msg_signature": crypt.sign(timestamp, nonce, echostr), "timestamp": timestamp, "nonce": nonce}
        query["echostr"] = echostr
    else:
        query = {"signature": signature(owner.token, timestamp, nonce), "timestamp": timestamp, "nonce": nonce}
        query["echostr"] = plain
    if not owner.callback_url:
        return {"ok": False, "status": None, "answer": "", "expected": plain, "error": "no callback URL is registered"}
    attempt = _request("GET", _with_query(owner.callback_url, query), None, timeout)
    ok = attempt.status == 200 and attempt.answer == plain
    return {"ok": ok, "status": attempt.status, "answer": attempt.answer, "expected": plain, "error": attempt.error}
