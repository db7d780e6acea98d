"""The webhook channel: a merchant system receives the message as signed JSON (like outbound webhooks)."""

from __future__ import annotations

from chalicelib.messaging.channels.base import DeliveryError, Outgoing, post_json


def send(message: Outgoing) -> None:
    if not message.target:
        raise DeliveryError("webhook message has no url", permanent=True)
    body = {
        "message_id": message.mid, "channel": "webhook", "uid": message.uid, "automation_id": message.automation_id,
        "template": message.template, "subject": message.subject, "text": message.text, "data": message.data or {},
    }  # fmt: skip
    post_json(message, body)
