"""What every payout provider receives and answers.

A provider moves one withdrawal's net amount to one destination. Every call names the withdrawal id as the
provider's idempotency number (WeChat Pay's `out_batch_no` / `out_detail_no`, Alipay's `out_biz_no`), so
submitting the same transfer twice can never pay twice; a call whose outcome is unknown (a timeout) raises
`ProviderUnreachable`, and the caller asks `query` with the same number before anything else.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol


class Outcome(StrEnum):
    ACCEPTED = "accepted"  # the provider took the transfer and will finish it (a callback or a query tells)
    SUCCEEDED = "succeeded"  # the money has arrived
    FAILED = "failed"  # the provider will not pay this transfer; the money goes back to the wallet
    NOT_FOUND = "not_found"  # (query only) the provider never received this number: submitting it is safe


@dataclass(frozen=True)
class Transfer:
    """One payout: `wid` is the withdrawal id and the provider's idempotency number."""

    tid: str
    wid: str
    amount_fen: int  # the net amount the person receives, after the fee
    destination: str  # WeChat: the openid under the paying app id; Alipay: the login id or user id
    name: str | None  # the person's real name, when the provider must check it
    remark: str  # shown to the person by the provider (at most 32 characters)


@dataclass(frozen=True)
class Result:
    outcome: Outcome
    provider_ref: str | None = None  # the provider's own id of the transfer, when it gave one
    reason: str | None = None  # the provider's code and message, for a failure


class ProviderUnreachable(Exception):
    """No answer, or an answer that cannot be trusted: the transfer's fate is unknown until a query says."""


class BadNotification(Exception):
    """A callback whose signature, certificate or ciphertext does not verify: answered 4xx, nothing changes."""


class Provider(Protocol):
    def submit(self, transfer: Transfer) -> Result: ...

    def query(self, transfer: Transfer) -> Result: ...

    def notification(self, headers: Mapping[str, str], body: bytes) -> tuple[str, Result]:
        """The withdrawal id and outcome a verified provider callback reports."""
        ...
