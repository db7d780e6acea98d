"""The merchant's veto before a reward is issued: the hold, the validation callback's answer, its retries (pure).

A reward a campaign holds is written `pending_release` (its stock and budget taken: it is owed unless vetoed) and
the release schedule issues or voids it (docs/rewards-veto.md). Everything here decides; nothing here does I/O.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from chalicelib.campaigns.rules.spec import CampaignBase
from chalicelib.core.clock import iso
from chalicelib.core.reasons import ReasonCode

MAX_ATTEMPTS = 5  # callback attempts before the campaign's `validation_default` decides
BASE_DELAY_SECONDS = 60
MAX_DELAY_SECONDS = 3600
TIMEOUT_SECONDS = 5.0
# A reward held because its channel is stopped by a budget stop-loss line is looked at again this often: released
# within this long of an owner releasing the channel (docs/retention.md).
STOP_LOSS_RECHECK_SECONDS = 300
LEASE_SECONDS = 120  # one schedule run owns a due reward this long: a second run does not call the merchant too
MAX_REASON_LENGTH = 200
MAX_ANSWER_BYTES = 4096
MAX_INVITEES = 50  # listed in the callback's payload (its `invitee_count` says how many counted in all)
MAX_STORED_INVITEES = 1000  # kept on a held reward: what an existing-customer report is matched against
REQUIRED, APPROVED = "required", "approved"  # a held reward's `approval`

REFUSED_TEXT = "refused by the merchant's validation"
UNANSWERED_TEXT = "the merchant's validation did not answer"
EXISTING_CUSTOMER_TEXT = "an invitee is an existing customer"


@dataclass(frozen=True)
class Hold:
    """How a reward is held: when the schedule first looks at it, and whether an operator must approve it."""

    release_at: str
    approval: str | None


def hold_of(spec: CampaignBase, value_fen: int, now: datetime) -> Hold | None:
    """The hold a campaign puts on a reward worth `value_fen` earned at `now`; None: issue it at once (no delay, no
    callback and not above the approval limit: the behaviour of campaigns without a veto)."""
    above = spec.approval_above_fen is not None and value_fen > spec.approval_above_fen
    if spec.reward_delay_hours == 0 and spec.validation_url is None and not above:
        return None
    release = now + timedelta(hours=spec.reward_delay_hours)
    return Hold(release_at=iso(release), approval=REQUIRED if above else None)


Outcome = Literal["issue", "void", "retry"]


@dataclass(frozen=True)
class Verdict:
    """What the merchant's answer means for the reward: issue it, void it (with the reason shown to the
    participant and its code), or ask again later."""

    outcome: Outcome
    reason: str | None = None
    reason_code: ReasonCode | None = None


def _answer(body: bytes) -> dict[str, Any]:
    try:
        parsed = json.loads(body[:MAX_ANSWER_BYTES].decode("utf-8"))
    except (ValueError, UnicodeDecodeError):
        return {}
    return parsed if isinstance(parsed, dict) else {}


def verdict(status: int | None, body: bytes) -> Verdict:
    """The merchant's answer: `None` is no answer (a timeout, a refused connection).

    2xx issues, unless its JSON says `{"existing_customer": true}`; 5xx, 429 and no answer retry; any other status
    (4xx, a redirect) voids, with `{"reason": "..."}` from the body, bounded, as the reason."""
    if status is None or status >= 500 or status == 429:
        return Verdict("retry")
    answer = _answer(body)
    if answer.get("existing_customer") is True:
        return Verdict("void", EXISTING_CUSTOMER_TEXT, ReasonCode.EXISTING_CUSTOMER)
    if 200 <= status < 300:
        return Verdict("issue")
    given = answer.get("reason")
    text = " ".join(given.split())[:MAX_REASON_LENGTH] if isinstance(given, str) and given.strip() else None
    return Verdict("void", text or REFUSED_TEXT, ReasonCode.MERCHANT_REJECTED)


def backoff_seconds(attempts: int) -> int:
    """60 s after the first failed attempt, doubling, capped at an hour."""
    return int(min(BASE_DELAY_SECONDS * 2 ** max(attempts - 1, 0), MAX_DELAY_SECONDS))


def after_failure(attempts: int, default: Literal["issue", "void"]) -> Verdict:
    """`attempts` calls went unanswered: try again after the backoff, or, out of attempts, the campaign's default."""
    if attempts < MAX_ATTEMPTS:
        return Verdict("retry")
    if default == "issue":
        return Verdict("issue")
    return Verdict("void", UNANSWERED_TEXT, ReasonCode.VALIDATION_UNANSWERED)


def waiting_code(
    validation: bool, validated: bool, approval: str | None, release_at: str | None, now: str
) -> ReasonCode:
    """Why a held reward waits, as the participant's page and the console show it."""
    if release_at is not None and release_at > now:
        return ReasonCode.REWARD_DELAYED
    if validation and not validated:
        return ReasonCode.AWAITING_VALIDATION
    if approval == REQUIRED:
        return ReasonCode.REWARD_ABOVE_LIMIT
    return ReasonCode.REWARD_DELAYED


def payload(
    *,
    campaign_id: str,
    reward_id: str,
    rule: str,
    reward_type: str,
    name: str,
    value_fen: int,
    points: int,
    inviter: str,
    invitees: list[str],
    earned_at: str,
    attempt: int,
) -> dict[str, Any]:
    """The body POSTed to the merchant's validation URL. Participants are their invite codes, the ids `reward.issued`
    and the join answer carry (Fission keeps no external id in the clear)."""
    listed = sorted(invitees)[:MAX_INVITEES]
    return {
        "type": "reward.validate", "campaign_id": campaign_id, "reward_id": reward_id, "rule": rule,
        "reward": {"type": reward_type, "name": name, "value_fen": value_fen, "points": points},
        "participant": inviter, "invitees": listed, "invitee_count": len(invitees), "earned_at": earned_at,
        "attempt": attempt,
    }  # fmt: skip


MAX_EXISTING_CUSTOMERS = 100  # per request


class ExistingCustomers(BaseModel):
    """The merchant's users who were its customers before the campaign: their invites count for nobody, and their
    orders earn nobody commission (docs/rewards-veto.md)."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    external_ids: list[Annotated[str, Field(min_length=1, max_length=128)]] = Field(
        min_length=1,
        max_length=MAX_EXISTING_CUSTOMERS,
        description="The merchant's ids of its users, as it signs them.",
    )
