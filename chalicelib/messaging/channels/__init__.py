"""Channel adapters: how a rendered message leaves (docs/messaging.md). One adapter per channel name."""

from __future__ import annotations

from chalicelib.messaging.channels import console, email, http, webhook, wechat, wecom
from chalicelib.messaging.channels.base import Adapter, DeliveryError, Outgoing, PlatformSend, Suppressed

ADAPTERS: dict[str, Adapter] = {
    "console": console.send,
    "email": email.send,
    "sms": http.send,
    "wecom": wecom.send,
    "wechat": wechat.send,
    "webhook": webhook.send,
}

__all__ = ["ADAPTERS", "Adapter", "DeliveryError", "Outgoing", "PlatformSend", "Suppressed"]
