"""The tenant's payout policy and its checks on a withdrawal request (pure, no I/O).

The owner sets the policy (`T#{tid}` / `PAYOUTS`); a tenant that never did gets the defaults below, with the
campaign's `min_withdraw_fen` as the minimum (docs/payouts.md).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Literal
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict, Field, model_validator

from chalicelib.core.codes import Code
from chalicelib.core.errors import BadRequest, Conflict, Forbidden
from chalicelib.payouts.rules.wallet import Kind, WalletEntry, ever_paid, paying_referrals, withdrawal_id

Method = Literal["wechat", "alipay", "bank"]
METHODS: tuple[Method, ...] = ("wechat", "alipay", "bank")
# One withdrawal moves at most 200,000 yuan: WeChat Pay's and Alipay's single-transfer ceilings are lower still.
MAX_WITHDRAW_FEN = 20_000_000
Fen = Annotated[int, Field(ge=0, le=MAX_WITHDRAW_FEN)]
Limit = Annotated[int, Field(ge=1, le=10**9)] | None


class PayoutSettings(BaseModel):
    """What the owner decides about money leaving the tenant's wallets. Every field has a default, so a tenant
    without settings pays out under the defaults (the minimum then comes from the campaign)."""

    model_config = ConfigDict(extra="forbid", strict=True)

    enabled: bool = Field(default=True, description="Off: no new withdrawal request is accepted.")
    min_withdraw_fen: Fen = Field(default=100, description="The smallest gross amount a request may ask for.")
    fee_bp: int = Field(default=0, ge=0, le=2000, description="Fee in basis points of the gross amount.")
    fee_fixed_fen: Fen = Field(default=0, description="A fixed fee added to every withdrawal.")
    fee_min_fen: Fen = Field(default=0, description="The fee is never less than this.")
    daily_amount_fen: Limit = Field(default=None, description="Gross amount one person may request per local day.")
    daily_count: Limit = Field(default=None, description="Requests one person may make per local day.")
    monthly_amount_fen: Limit = Field(default=None, description="Gross amount per local calendar month.")
    monthly_count: Limit = Field(default=None, description="Requests per local calendar month.")
    methods: list[Method] = Field(
        default_factory=lambda: list(METHODS), min_length=1, max_length=3, description="The enabled methods."
    )
    auto_approve_max_fen: Fen = Field(
        default=0, description="Requests up to this gross amount skip finance's approval; 0: every one waits."
    )
    min_paying_referrals: int = Field(
        default=0, ge=0, le=10_000,
        description="Paid, unrefunded orders of direct referrals a person needs before their first payout.",
    )  # fmt: skip
    refund_rate_hold_bp: int = Field(
        default=3000, ge=0, le=10_000,
        description="Above this share (basis points) of a person's commission-bearing orders refunded, their "
        "withdrawals are held: never approved automatically, not paid by the schedule; 0: never held.",
    )  # fmt: skip
    refund_rate_min_orders: int = Field(
        default=5, ge=1, le=10_000, description="The refund rate holds a wallet only from this many orders on."
    )

    @model_validator(mode="after")
    def _distinct_methods(self) -> PayoutSettings:
        if len(set(self.methods)) != len(self.methods):
            raise ValueError("each method once")
        return self


@dataclass(frozen=True)
class Quote:
    """A withdrawal's money: the gross amount leaves the wallet, the net amount reaches the person."""

    amount_fen: int
    fee_fen: int
    net_fen: int


def fee(settings: PayoutSettings, amount_fen: int) -> Quote:
    """Fee = max(fee_min, fee_fixed + amount x fee_bp / 10,000 rounded down), never above the amount."""
    charged = max(settings.fee_min_fen, settings.fee_fixed_fen + amount_fen * settings.fee_bp // 10_000)
    charged = min(charged, amount_fen)
    return Quote(amount_fen, charged, amount_fen - charged)


def _local(at: str, zone: ZoneInfo) -> datetime:
    return datetime.fromisoformat(at.replace("Z", "+00:00")).astimezone(zone)


def _used(entries: Iterable[WalletEntry], now: datetime, zone: ZoneInfo) -> tuple[int, int, int, int]:
    """(amount today, count today, amount this month, count this month) of requests not given back."""
    rows = list(entries)
    returned = {withdrawal_id(e.key) for e in rows if e.kind is Kind.RETURN}
    today = now.astimezone(zone)
    day_amount = day_count = month_amount = month_count = 0
    for e in rows:
        if e.kind is not Kind.WITHDRAWAL or withdrawal_id(e.key) in returned:
            continue
        at = _local(e.created_at, zone)
        if (at.year, at.month) == (today.year, today.month):
            month_amount, month_count = month_amount - e.amount_fen, month_count + 1
            if at.day == today.day:
                day_amount, day_count = day_amount - e.amount_fen, day_count + 1
    return day_amount, day_count, month_amount, month_count


def check_request(
    settings: PayoutSettings,
    method: Method,
    amount_fen: int,
    available_fen: int,
    entries: Iterable[WalletEntry],
    now: datetime,
    timezone: str,
) -> Quote:
    """The request's quote, or the first rule it breaks as a 4xx with a code the page can act on."""
    rows = list(entries)
    if not settings.enabled:
        raise Forbidden("withdrawals are turned off for now", code=Code.PAYOUTS_DISABLED)
    if method not in settings.methods:
        raise BadRequest(
            f"{method} is not a payout method here", code=Code.PAYOUT_METHOD_DISABLED,
            details={"methods": list(settings.methods)},
        )  # fmt: skip
    if amount_fen < settings.min_withdraw_fen:
        raise BadRequest(
            f"the smallest withdrawal is {settings.min_withdraw_fen} fen", code=Code.WITHDRAWAL_BELOW_MINIMUM,
            details={"min_withdraw_fen": settings.min_withdraw_fen},
        )  # fmt: skip
    quote = fee(settings, amount_fen)
    if quote.net_fen <= 0:
        raise BadRequest(
            "the fee would take the whole amount", code=Code.WITHDRAWAL_BELOW_MINIMUM,
            details={"fee_fen": quote.fee_fen},
        )  # fmt: skip
    if amount_fen > available_fen:
        raise Conflict(
            "the amount is more than the available balance", code=Code.INSUFFICIENT_BALANCE,
            details={"available_fen": available_fen},
        )  # fmt: skip
    if settings.min_paying_referrals and not ever_paid(rows):
        have = paying_referrals(rows)
        if have < settings.min_paying_referrals:
            raise Forbidden(
                f"a first payout needs {settings.min_paying_referrals} paying referrals",
                code=Code.NOT_ENOUGH_REFERRALS,
                details={"paying_referrals": have, "needed": settings.min_paying_referrals},
            )  # fmt: skip
    day_amount, day_count, month_amount, month_count = _used(rows, now, ZoneInfo(timezone))
    for limit, used, what in (
        (settings.daily_count, day_count + 1, "daily_count"),
        (settings.daily_amount_fen, day_amount + amount_fen, "daily_amount_fen"),
        (settings.monthly_count, month_count + 1, "monthly_count"),
        (settings.monthly_amount_fen, month_amount + amount_fen, "monthly_amount_fen"),
    ):
        if limit is not None and used > limit:
            raise Conflict(
                f"this would pass the {what} limit", code=Code.WITHDRAWAL_LIMIT,
                details={"limit": what, "value": limit},
            )  # fmt: skip
    return quote


def auto_approved(settings: PayoutSettings, amount_fen: int) -> bool:
    return 0 < amount_fen <= settings.auto_approve_max_fen
