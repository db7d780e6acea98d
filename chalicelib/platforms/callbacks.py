"""The WeCom and official account callbacks: URL verification and inbound events, verified, parsed and kept once.

The route only checks and records (one conditional put); what an event means is decided from the table's stream,
so the platform gets its "success" at once and a redelivered callback changes nothing (docs/wechat.md)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from chalicelib.core.observability import logger
from chalicelib.platforms import credentials
from chalicelib.platforms.rules import crypto, xml
from chalicelib.platforms.rules.credentials import WechatCredentials, WecomCredentials
from chalicelib.platforms.rules.events import CONSENT_EVENTS, InboundEvent, consent_events, wechat_event, wecom_event
from chalicelib.platforms.store import events as store

# The platforms' documented acknowledgement: an empty reply or "success".
ACK = "success"


def _wecom(tid: str) -> WecomCredentials:
    # An unknown tenant or an unconnected platform is answered like a bad signature: nothing to enumerate.
    found = credentials.find_credentials(tid, "wecom")
    if not isinstance(found, WecomCredentials):
        raise crypto.SignatureMismatch()
    return found


def _wechat(tid: str) -> WechatCredentials:
    found = credentials.find_credentials(tid, "wechat")
    if not isinstance(found, WechatCredentials):
        raise crypto.SignatureMismatch()
    return found


def _arg(query: Mapping[str, str], name: str) -> str:
    value = query.get(name)
    if not value:
        raise crypto.SignatureMismatch(f"{name} is missing")
    return value


def verify_url(tid: str, platform: str, query: Mapping[str, str], now: datetime) -> str:
    """The console's URL check (GET): the echostr to answer in plain text (WeCom's decrypted)."""
    stamp, nonce, echostr = _arg(query, "timestamp"), _arg(query, "nonce"), _arg(query, "echostr")
    at = int(now.timestamp())
    if platform == "wecom":
        wecom = _wecom(tid)
        return crypto.verify_url(
            wecom.callback_token, wecom.encoding_aes_key, wecom.corp_id, _arg(query, "msg_signature"), stamp, nonce,
            echostr, at,
        )  # fmt: skip
    wechat = _wechat(tid)
    crypto.verify_plain(wechat.callback_token, _arg(query, "signature"), stamp, nonce, at)
    return echostr


def _open(token: str, aes_key: str, receive_id: str, query: Mapping[str, str], body: bytes, at: int) -> str:
    envelope = xml.parse(body)
    ciphertext = envelope.get("Encrypt")
    if not ciphertext:
        raise crypto.BadCiphertext("the body has no Encrypt element")
    return crypto.open_message(
        token, aes_key, receive_id, _arg(query, "msg_signature"), _arg(query, "timestamp"), _arg(query, "nonce"),
        ciphertext, at,
    )  # fmt: skip


def _wechat_events(inner: bytes | str) -> list[InboundEvent]:
    fields = xml.parse(inner)
    container = CONSENT_EVENTS.get(fields.get("Event", ""))
    if container is not None:
        return consent_events(fields, xml.entries(inner, container))
    event = wechat_event(fields)
    return [event] if event is not None else []


def _events(tid: str, platform: str, query: Mapping[str, str], body: bytes, at: int) -> list[InboundEvent]:
    if platform == "wecom":
        wecom = _wecom(tid)
        # The receive id is the corp id: a message for another corp does not decrypt as ours.
        event = wecom_event(
            xml.parse(_open(wecom.callback_token, wecom.encoding_aes_key, wecom.corp_id, query, body, at))
        )
        return [event] if event is not None else []
    wechat = _wechat(tid)
    if wechat.message_mode == "plain":
        crypto.verify_plain(
            wechat.callback_token, _arg(query, "signature"), _arg(query, "timestamp"), _arg(query, "nonce"), at
        )
        return _wechat_events(body)
    if query.get("encrypt_type") != "aes" or wechat.encoding_aes_key is None:
        raise crypto.SignatureMismatch("safe mode expects an encrypted message (encrypt_type=aes)")
    return _wechat_events(_open(wechat.callback_token, wechat.encoding_aes_key, wechat.app_id, query, body, at))


def receive(tid: str, platform: str, query: Mapping[str, str], body: bytes, now: datetime) -> str:
    """Verify, parse and keep its events (a conditional put each: a redelivery writes nothing); a consent popup is
    one event per template answered. Any refusal raises before anything is written."""
    for event in _events(tid, platform, query, body, int(now.timestamp())):
        created = store.put_once(tid, event, now)
        logger.info("platform event", platform=platform, kind=event.kind, new=created)
    return ACK
