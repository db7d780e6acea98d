"""WeCom: the tenant's gateway (`provider: gateway`), or WeCom customer messages (`add_msg_template`, one customer).

The message is sent as the staff member who added the customer (seen in the add callback), else as the channel's
`sender`; WeCom asks that member to confirm it in their app and then delivers it in the one-to-one chat. A customer
in `fail_list` (not that member's contact, or over WeCom's monthly limit) is a permanent failure.
"""

from __future__ import annotations

from chalicelib.core.errors import FissionError
from chalicelib.messaging.channels import http
from chalicelib.messaging.channels.base import DeliveryError, Outgoing, PlatformSend
from chalicelib.platforms import client, consents
from chalicelib.platforms.rules import messages as wire
from chalicelib.platforms.rules.tokens import CredentialsRefused, PlatformError


def send(message: Outgoing) -> None:
    if message.platform is None:
        http.send(message)
        return
    _customer_message(message, message.platform)


def _customer_message(message: Outgoing, platform: PlatformSend) -> None:
    customer = wire.user_of(message.address, wire.WECOM_PREFIX)
    if customer is None:
        raise DeliveryError(
            "the person has no WeCom external_userid (their external id is not wecom:...)", permanent=True
        )
    sender = consents.sender_of(message.tid, customer) or platform.sender
    if sender is None:
        raise DeliveryError(
            "no WeCom staff member to send as: the customer's add was not seen; set channels.wecom.sender",
            permanent=True,
        )
    body = wire.customer_message_body(customer, sender, message.text)
    try:
        answer = client.call(client.App(message.tid, "wecom"), "POST", wire.ADD_MSG_TEMPLATE_PATH, json=body)
    except PlatformError as exc:
        permanent = exc.errcode in wire.PERMANENT or isinstance(exc, CredentialsRefused)
        raise DeliveryError(f"WeCom answered errcode {exc.errcode}: {exc.errmsg[:120]}", permanent=permanent) from exc
    except FissionError as exc:
        raise DeliveryError(f"WeCom: {exc.message}", permanent=True) from exc
    if customer in wire.failed_customers(answer):
        raise DeliveryError(
            f"WeCom could not send to the customer as {sender} (not their contact, or over the monthly limit)",
            permanent=True,
        )
