"""The email channel: Amazon SES `SendEmail` from the tenant's verified sender, in the deployment's region."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from chalicelib.messaging.channels.base import DeliveryError, Outgoing

# SES errors that a retry cannot fix: the sender or recipient is refused, or the request is malformed.
_PERMANENT = frozenset(
    {"MessageRejected", "MailFromDomainNotVerifiedException", "InvalidParameterValue", "AccountSendingPausedException"}
)


@lru_cache(maxsize=4)
def _client(region: str) -> Any:
    """One client per region and container: creating one costs more than a send."""
    import boto3  # first use only: most invocations never send email

    return boto3.client("ses", region_name=region)


def send(message: Outgoing) -> None:
    from botocore.exceptions import BotoCoreError, ClientError  # with boto3, on the first email only

    if not message.target:
        raise DeliveryError("email channel has no sender configured", permanent=True)
    if not message.address:
        raise DeliveryError("the person has no email address", permanent=True)
    subject = message.subject or message.text.splitlines()[0][:80]
    try:
        _client(message.region).send_email(
            Source=message.target,
            Destination={"ToAddresses": [message.address]},
            Message={
                "Subject": {"Data": subject, "Charset": "UTF-8"},
                "Body": {"Text": {"Data": message.text, "Charset": "UTF-8"}},
            },
        )
    except ClientError as exc:
        code = str(exc.response.get("Error", {}).get("Code", ""))
        raise DeliveryError(f"SES {code}: {exc}", permanent=code in _PERMANENT) from exc
    except BotoCoreError as exc:
        raise DeliveryError(f"SES unreachable: {exc}") from exc
