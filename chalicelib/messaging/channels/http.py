"""SMS, WeCom and WeChat through the tenant's provider gateway: a signed JSON POST per message.

Body `{message_id, channel, to: {phone} | {external_id}, text, template?}`, signed per Standard Webhooks with the
tenant's webhook secret (`webhook-id` = the message id, on which the gateway dedupes: delivery is at least once),
plus the deprecated `X-Fission-*` headers (docs/webhooks.md).
"""

from __future__ import annotations

from typing import Any

from chalicelib.messaging.channels.base import DeliveryError, Outgoing, post_json


def payload(message: Outgoing) -> dict[str, Any]:
    to = {"phone": message.address} if message.channel == "sms" else {"external_id": message.address}
    body: dict[str, Any] = {"message_id": message.mid, "channel": message.channel, "to": to, "text": message.text}
    if message.template:
        body["template"] = message.template
    return body


def send(message: Outgoing) -> None:
    if not message.target:
        raise DeliveryError(f"{message.channel} channel has no endpoint configured", permanent=True)
    if not message.address:
        raise DeliveryError(f"the person has no address for {message.channel}", permanent=True)
    post_json(message, payload(message))
