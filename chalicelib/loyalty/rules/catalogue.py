"""What operators send about the redemption catalogue and the points policy, what participants send to redeem, and
the catalogue's records (pure)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from chalicelib.loyalty.rules.points import DEFAULT_EXPIRY_DAYS, MAX_EXPIRY_DAYS

MAX_COST_POINTS = 100_000_000
MAX_STOCK = 10_000_000
MAX_ITEMS = 200  # per tenant: the catalogue is listed whole

ItemId = Annotated[str, Field(pattern=r"^li_[0-9a-f]{16}$")]
_Name = Annotated[str, Field(min_length=1, max_length=64)]


class CatalogueItemCreate(BaseModel):
    """A thing points buy: its name, its price in points, how many there are and, optionally, how many one person
    may redeem."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    name: _Name
    description: str | None = Field(default=None, max_length=500)
    cost_points: int = Field(ge=1, le=MAX_COST_POINTS)
    stock: int = Field(ge=0, le=MAX_STOCK, description="How many are left to redeem.")
    per_person_limit: int | None = Field(default=None, ge=1, le=1000)
    active: bool = True


class CatalogueItemPatch(BaseModel):
    """Any of an item's fields; `stock` sets what is left (a restock), `per_person_limit: null` lifts the limit."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    name: _Name | None = None
    description: str | None = Field(default=None, max_length=500)
    cost_points: int | None = Field(default=None, ge=1, le=MAX_COST_POINTS)
    stock: int | None = Field(default=None, ge=0, le=MAX_STOCK)
    per_person_limit: int | None = Field(default=None, ge=1, le=1000)
    active: bool | None = None


class RedemptionCreate(BaseModel):
    """A participant spends points on one catalogue item."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    item_id: ItemId


class LoyaltySettings(BaseModel):
    """The tenant's points policy."""

    model_config = ConfigDict(extra="forbid")

    expiry_days: int = Field(
        default=DEFAULT_EXPIRY_DAYS, ge=1, le=MAX_EXPIRY_DAYS,
        description="Points expire this many days after they were earned (set when they are credited).",
    )  # fmt: skip


@dataclass(frozen=True)
class CatalogueItem:
    tid: str
    item_id: str
    name: str
    cost_points: int
    stock: int
    created_at: str
    updated_at: str
    description: str | None = None
    per_person_limit: int | None = None
    active: bool = True

    def view(self) -> dict[str, object]:
        return {
            "item_id": self.item_id, "name": self.name, "description": self.description,
            "cost_points": self.cost_points, "stock": self.stock, "per_person_limit": self.per_person_limit,
            "active": self.active, "created_at": self.created_at, "updated_at": self.updated_at,
        }  # fmt: skip

    def public_view(self) -> dict[str, object]:
        """What a participant sees: no dates, no switch."""
        return {
            "item_id": self.item_id, "name": self.name, "description": self.description,
            "cost_points": self.cost_points, "stock": self.stock, "per_person_limit": self.per_person_limit,
        }  # fmt: skip
