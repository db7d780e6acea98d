"""The webhook channel: a merchant system receives the message as signed JSON (like outbound webhooks)."""

from __future__ import annotations

import json
import urllib.error

from chalicelib.channels.base import MESSAGE_ID_HEADER, TIMEOUT_SECONDS, DeliveryError, Outgoing, http_failure
from chalicelib.security import egress, webhooks


def send(message: Outgoing) -> None:
    if not message.target:
        raise DeliveryError("webhook message has no url", permanent=True)
    body = json.dumps(
        {"message_id": message.mid, "channel": "webhook", "uid": message.uid, "automation_id": message.automation_id,
         "template": message.template, "subject": message.subject, "text": message.text,
         "data": message.data or {}},
        ensure_ascii=False, sort_keys=True,
    ).encode()  # fmt: skip
    try:
        webhooks.post_signed(
            message.target, body, message.secret, message.timestamp, {MESSAGE_ID_HEADER: message.mid},
            timeout=TIMEOUT_SECONDS, allow_private=message.allow_private,
        )  # fmt: skip
    except (egress.EgressRefused, urllib.error.URLError, OSError, ValueError) as exc:
        raise http_failure(exc) from exc
