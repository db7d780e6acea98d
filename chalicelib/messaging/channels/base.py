"""What every channel adapter receives, and the one error it raises."""

from __future__ import annotations

import json
import urllib.error
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from chalicelib.security import egress, signing

TIMEOUT_SECONDS = 3.0
MESSAGE_ID_HEADER = "X-Fission-Message-Id"


class DeliveryError(Exception):
    """A send that did not happen. `permanent` means retrying cannot help (the message goes dead at once)."""

    def __init__(self, message: str, *, permanent: bool = False) -> None:
        super().__init__(message)
        self.permanent = permanent


class Suppressed(DeliveryError):
    """The message must not be sent at all (the person gave no consent for it): it is `suppressed` with `reason`."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message, permanent=True)
        self.reason = reason


@dataclass(frozen=True)
class PlatformSend:
    """How a wecom or wechat message leaves through the tenant's connected platform (`provider: platform`)."""

    template_id: str | None = None  # wechat: the subscription template of the message's purpose
    data: dict[str, str] | None = None  # wechat: each keyword's text, variables filled in
    page: str | None = None  # wechat: the page the card opens (the person's invite page)
    sender: str | None = None  # wecom: the staff member to send as when the customer's own is not known
    purpose: str = "default"


@dataclass(frozen=True)
class Outgoing:
    """A message ready to leave: rendered text, the decrypted address and where the tenant's channel points."""

    mid: str
    tid: str
    uid: str
    channel: str
    text: str
    subject: str | None
    template: str | None
    automation_id: str | None
    address: str  # phone, email or external id; "" for console and webhook
    target: str | None  # the HTTP endpoint (sms, wecom, wechat, webhook) or the email sender
    keys: signing.SigningKeys | None  # the tenant's webhook signing keys (HTTP and webhook channels)
    timestamp: int  # unix seconds, for the signature
    allow_private: bool  # local and test stages may reach servers on this machine
    region: str = "us-east-1"
    data: dict[str, str] | None = None  # webhook messages: the template variables
    platform: PlatformSend | None = None  # wecom and wechat through the connected platform; None: the gateway


Adapter = Callable[[Outgoing], None]


def http_failure(exc: Exception) -> DeliveryError:
    """Translate what `security.signing.post_signed` raises; a 4xx other than 408/429 will not get better."""
    if isinstance(exc, urllib.error.HTTPError):
        permanent = 400 <= exc.code < 500 and exc.code not in (408, 429)
        return DeliveryError(f"HTTP {exc.code} from the endpoint", permanent=permanent)
    if isinstance(exc, egress.EgressRefused):
        return DeliveryError(f"refused: {exc}")
    return DeliveryError(f"no answer: {exc!r}")


def post_json(message: Outgoing, body: dict[str, Any]) -> None:
    """POST `body` to the message's target, signed with the tenant's keys; the message id is the `webhook-id` (and
    the deprecated `X-Fission-Message-Id`), which receivers dedupe on."""
    raw = json.dumps(body, ensure_ascii=False, sort_keys=True).encode()
    if message.keys is None:
        raise DeliveryError(f"the {message.channel} channel has no signing keys", permanent=True)
    try:
        signing.post_signed(
            str(message.target), raw, message.keys, message.timestamp, message.mid, {MESSAGE_ID_HEADER: message.mid},
            timeout=TIMEOUT_SECONDS, allow_private=message.allow_private,
        )  # fmt: skip
    except (egress.EgressRefused, urllib.error.URLError, OSError, ValueError) as exc:
        raise http_failure(exc) from exc
