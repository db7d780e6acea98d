"""Why a reward, a review or a message is in its state: a closed set of machine codes (pure).

The table of codes and their meanings is in docs/architecture.md, "Reason codes".

The free text that responses have always carried stays beside the code as `reason`; the code is what a
client branches on. Rows stored before the codes existed carry the text alone: `*_reason_code` maps it
back, and what it cannot place is `OTHER`.
"""

from __future__ import annotations

from enum import StrEnum


class ReasonCode(StrEnum):
    # rewards
    STOCK_EXHAUSTED = "STOCK_EXHAUSTED"  # unavailable: the reward's stock ran out before it was issued
    BUDGET_EXHAUSTED = "BUDGET_EXHAUSTED"  # unavailable: the campaign's reward budget was spent
    WAITING_FOR_CODES = "WAITING_FOR_CODES"  # pending: the coupon code pool is empty until codes are uploaded
    OPERATOR_REVOKED = "OPERATOR_REVOKED"  # revoked by an operator (their note is the `reason`)
    # rewards held for the merchant's veto (docs/rewards-veto.md)
    REWARD_DELAYED = "REWARD_DELAYED"  # pending_release: the campaign's reward delay has not passed (`release_at`)
    AWAITING_VALIDATION = "AWAITING_VALIDATION"  # pending_release: the merchant's validation callback has not said
    REWARD_ABOVE_LIMIT = "REWARD_ABOVE_LIMIT"  # pending_release / review: above the approval limit, for an operator
    MERCHANT_REJECTED = "MERCHANT_REJECTED"  # voided: the validation callback refused it (its reason is `reason`)
    VALIDATION_UNANSWERED = "VALIDATION_UNANSWERED"  # voided: the callback never answered; the campaign says void
    EXISTING_CUSTOMER = "EXISTING_CUSTOMER"  # voided: an invitee it rests on is an existing customer of the merchant
    # reviews and held facts
    RISK_HOLD = "RISK_HOLD"  # held: the fraud score reached the campaign's hold threshold
    OPERATOR_APPROVED = "OPERATOR_APPROVED"  # an operator approved the held fact (their note is the `reason`)
    OPERATOR_REJECTED = "OPERATOR_REJECTED"  # an operator rejected it (their note is the `reason`)
    # withdrawals flagged on the money side (docs/payouts.md)
    REFUND_RATE_HOLD = "REFUND_RATE_HOLD"  # held: the share of the earner's orders refunded is above the policy's
    SHARED_DESTINATION = "SHARED_DESTINATION"  # flagged: another wallet of the tenant withdrew to the same destination
    # messages: why deferred or suppressed
    KILL_SWITCH = "KILL_SWITCH"  # suppressed: the tenant paused all sending (the kill switch)
    UNSUBSCRIBED = "UNSUBSCRIBED"  # suppressed: the recipient unsubscribed from the channel
    NO_ADDRESS = "NO_ADDRESS"  # suppressed: the recipient has no address on the channel
    CHANNEL_OFF = "CHANNEL_OFF"  # suppressed: the tenant set the channel's daily cap to zero
    ADDRESS_CAP = "ADDRESS_CAP"  # suppressed: the address had its share of messages for the day
    NO_CONSENT = "NO_CONSENT"  # suppressed: the WeChat follower has no subscription to the message's template left
    QUIET_HOURS = "QUIET_HOURS"  # deferred: inside the quiet hours, sent when they end
    DAILY_CAP = "DAILY_CAP"  # deferred: the recipient's daily cap is reached, sent the next day
    # the fallback: a reason stored as text that no code matches
    OTHER = "OTHER"
    # pending_release: the participant's acquisition channel is held by a budget stop-loss line (docs/retention.md)
    STOP_LOSS_HELD = "STOP_LOSS_HELD"


# The text stored (and shown) with a reward for each reason the engine itself writes.
REWARD_TEXT: dict[ReasonCode, str] = {
    ReasonCode.STOCK_EXHAUSTED: "this reward has run out",
    ReasonCode.BUDGET_EXHAUSTED: "the campaign's reward budget is spent",
    ReasonCode.WAITING_FOR_CODES: "waiting for coupon codes",
}
_REWARD_CODES = {text: code for code, text in REWARD_TEXT.items()}

# A message's stored reason is already a token; the code is its upper-case form.
_MESSAGE_CODES = {code.value.lower(): code for code in (
    ReasonCode.KILL_SWITCH, ReasonCode.UNSUBSCRIBED, ReasonCode.NO_ADDRESS, ReasonCode.CHANNEL_OFF,
    ReasonCode.ADDRESS_CAP, ReasonCode.QUIET_HOURS, ReasonCode.DAILY_CAP, ReasonCode.NO_CONSENT,
)}  # fmt: skip


def reward_reason_code(status: str, reason: str | None, stored: str | None = None) -> ReasonCode | None:
    """The code of a reward's reason: the one stored with it when the engine wrote one (a held or voided reward's),
    else derived: None when it has none; a revoked reward's reason is the operator's note."""
    if stored:
        return ReasonCode(stored)
    if reason is None:
        return None
    if status == "revoked":
        return ReasonCode.OPERATOR_REVOKED
    return _REWARD_CODES.get(reason.strip().lower(), ReasonCode.OTHER)


def review_reason_code(status: str, kind: str = "join") -> ReasonCode:
    """A review is held on its score (a reward: on its value) until an operator decides it (`reason` is then their
    note)."""
    decided = {"approved": ReasonCode.OPERATOR_APPROVED, "rejected": ReasonCode.OPERATOR_REJECTED}
    return decided.get(status, ReasonCode.REWARD_ABOVE_LIMIT if kind == "reward" else ReasonCode.RISK_HOLD)


def message_reason_code(reason: str | None) -> ReasonCode | None:
    if reason is None:
        return None
    return _MESSAGE_CODES.get(reason.strip().lower(), ReasonCode.OTHER)
