"""What a provider's answer says about one transfer, before the provider turns it into a `providers.base.Result`."""

from __future__ import annotations

from dataclasses import dataclass

# The values of `providers.base.Outcome` (rules sit below the providers and do not import them).
ACCEPTED = "accepted"
SUCCEEDED = "succeeded"
FAILED = "failed"
NOT_FOUND = "not_found"


@dataclass(frozen=True)
class Verdict:
    outcome: str
    ref: str | None = None  # the provider's own id of the transfer
    reason: str | None = None  # the provider's code (and message) for a failure
