"""WeChat: the tenant's gateway (`provider: gateway`), or the official account's subscription messages (订阅通知).

A subscription message needs the follower's consent: each `accept` of a template in a subscription popup allows one
send (platforms/consents.py). One credit is taken, conditionally, before the call and given back when the send does
not happen; without one the message is suppressed (`no_consent`) and nothing is sent. 43101 from WeChat (the follower
refuses the template) is permanent and voids the credits counted for it.
"""

from __future__ import annotations

from chalicelib.core.errors import FissionError
from chalicelib.messaging.channels import http
from chalicelib.messaging.channels.base import DeliveryError, Outgoing, PlatformSend, Suppressed
from chalicelib.platforms import client, consents
from chalicelib.platforms.rules import messages as wire
from chalicelib.platforms.rules.tokens import CredentialsRefused, PlatformError


def send(message: Outgoing) -> None:
    if message.platform is None:
        http.send(message)
        return
    _subscription(message, message.platform)


def _subscription(message: Outgoing, platform: PlatformSend) -> None:
    openid = wire.user_of(message.address, wire.OPENID_PREFIX)
    if openid is None:
        raise DeliveryError("the person has no WeChat openid (their external id is not openid:...)", permanent=True)
    if platform.template_id is None or platform.data is None:
        raise DeliveryError(
            f"channels.wechat.templates has no template for {platform.purpose} (nor a default one)", permanent=True
        )
    template_id = platform.template_id
    if not consents.take(message.tid, openid, template_id):
        raise Suppressed("no_consent", f"the follower has no subscription to template {template_id} left")
    body = wire.bizsend_body(openid, template_id, platform.data, platform.page)
    try:
        client.call(client.App(message.tid, "wechat"), "POST", wire.BIZSEND_PATH, json=body)
    except PlatformError as exc:
        if exc.errcode == wire.REFUSED:
            consents.refused(message.tid, openid, template_id)
            raise DeliveryError(f"WeChat: the follower refuses template {template_id} (43101)", permanent=True) from exc
        consents.give_back(message.tid, openid, template_id)
        permanent = exc.errcode in wire.PERMANENT or isinstance(exc, CredentialsRefused)
        raise DeliveryError(f"WeChat answered errcode {exc.errcode}: {exc.errmsg[:120]}", permanent=permanent) from exc
    except FissionError as exc:  # the platform was disconnected meanwhile
        consents.give_back(message.tid, openid, template_id)
        raise DeliveryError(f"WeChat: {exc.message}", permanent=True) from exc
    except Exception:
        consents.give_back(message.tid, openid, template_id)
        raise
