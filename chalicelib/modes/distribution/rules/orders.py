"""The orders webhook payload: a paid or refunded order from the merchant's shop."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class OrderItem(BaseModel):
    """One line of an order; kept for the record, commission is on the order amount."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    sku: str = Field(min_length=1, max_length=128)
    qty: int = Field(ge=1, le=100_000)
    price_fen: int = Field(ge=0)


class OrderEvent(BaseModel):
    """A paid or refunded order of a campaign's participant; `amount` is integer fen."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    event_id: str = Field(min_length=1, max_length=128)
    order_id: str = Field(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9_\-.:]+$")
    campaign_id: str = Field(min_length=1, max_length=64)
    external_id: str = Field(min_length=1, max_length=128)
    amount: int = Field(gt=0)
    status: Literal["paid", "refunded"]
    ref_code: str | None = Field(default=None, min_length=1, max_length=64)
    group_id: str | None = Field(default=None, min_length=1, max_length=64)
    items: list[OrderItem] = Field(default_factory=list, max_length=200)
    payment_hash: str | None = Field(
        default=None,
        min_length=8,
        max_length=128,
        description="The merchant's own hash of the paying account (never the account): compared with the "
        "inviter's for the SHARED_PAYMENT fraud signal.",
    )
