"""The fraud policy a campaign document carries: the signal codes, their default weights, the score
thresholds and the velocity limits (pure; the scoring itself is in `fraud`)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

SHARED_DEVICE = "SHARED_DEVICE"
SHARED_IP = "SHARED_IP"
SHARED_PHONE = "SHARED_PHONE"
SHARED_PAYMENT = "SHARED_PAYMENT"
VIRTUAL_OPERATOR_PHONE = "VIRTUAL_OPERATOR_PHONE"
VELOCITY_IP = "VELOCITY_IP"
VELOCITY_DEVICE = "VELOCITY_DEVICE"
VELOCITY_INVITER = "VELOCITY_INVITER"
NEW_ACCOUNT_HELP = "NEW_ACCOUNT_HELP"
REFERRAL_CLUSTER = "REFERRAL_CLUSTER"
BONUS_HUNTER = "BONUS_HUNTER"
REFUND_AFTER_REWARD = "REFUND_AFTER_REWARD"

# Weights tuned so that one strong signal holds (>= 60) and only stacked signals block (>= 90).
# SHARED_IP alone stays low: households and offices share an address.
DEFAULT_WEIGHTS: dict[str, int] = {
    SHARED_DEVICE: 60,
    SHARED_IP: 15,
    SHARED_PHONE: 60,
    SHARED_PAYMENT: 50,
    VIRTUAL_OPERATOR_PHONE: 25,
    VELOCITY_IP: 70,
    VELOCITY_DEVICE: 70,
    VELOCITY_INVITER: 60,
    NEW_ACCOUNT_HELP: 40,
    REFERRAL_CLUSTER: 65,
    BONUS_HUNTER: 50,
    REFUND_AFTER_REWARD: 40,
}
CODES = frozenset(DEFAULT_WEIGHTS)

# A velocity window keeps at most this many distinct members (see referral/store/fraud.py): limits above it
# could never trip, so the policy refuses them.
MAX_WINDOW_MEMBERS = 1000

Decision = Literal["allow", "hold", "block"]
Scope = Literal["ip", "device", "inviter"]
Window = Literal["minute", "day"]
SCOPE_CODES: dict[str, str] = {"ip": VELOCITY_IP, "device": VELOCITY_DEVICE, "inviter": VELOCITY_INVITER}


class VelocityPolicy(BaseModel):
    """Joins (and helps) allowed per subject per fixed window before the velocity signal fires."""

    model_config = ConfigDict(extra="forbid")

    ip_per_minute: int = Field(default=10, ge=1, le=MAX_WINDOW_MEMBERS)
    ip_per_day: int = Field(default=200, ge=1, le=MAX_WINDOW_MEMBERS)
    device_per_minute: int = Field(default=5, ge=1, le=MAX_WINDOW_MEMBERS)
    device_per_day: int = Field(default=50, ge=1, le=MAX_WINDOW_MEMBERS)
    inviter_per_minute: int = Field(default=10, ge=1, le=MAX_WINDOW_MEMBERS)
    inviter_per_day: int = Field(default=300, ge=1, le=MAX_WINDOW_MEMBERS)

    def limit(self, scope: str, window: str) -> int:
        return int(getattr(self, f"{scope}_per_{window}"))


class FraudPolicy(BaseModel):
    """A campaign's fraud policy: score thresholds, velocity limits and optional weight overrides."""

    model_config = ConfigDict(extra="forbid")

    hold_at: int = Field(default=60, ge=1, le=101, description="Scores at or above this are held for review.")
    block_at: int = Field(default=90, ge=1, le=101, description="Scores at or above this are refused (101: never).")
    velocity: VelocityPolicy = Field(default_factory=VelocityPolicy)
    weights: dict[str, int] | None = Field(default=None, description="Overrides of the signals' default weights.")
    cluster_links: int = Field(default=3, ge=2, le=6, description="Linked accounts in a referral chain that hold.")
    new_account_seconds: int = Field(default=60, ge=0, le=86_400, description="A helper younger than this is new.")

    @field_validator("weights")
    @classmethod
    def _known(cls, value: dict[str, int] | None) -> dict[str, int] | None:
        if value is None:
            return None
        unknown = sorted(set(value) - CODES)
        if unknown:
            raise ValueError(f"unknown signal codes {unknown}; known: {sorted(CODES)}")
        if any(not 0 <= w <= 100 for w in value.values()):
            raise ValueError("weights are between 0 and 100")
        return value

    @model_validator(mode="after")
    def _ordered(self) -> FraudPolicy:
        if self.block_at < self.hold_at:
            raise ValueError("block_at must not be below hold_at")
        return self


DEFAULT_POLICY = FraudPolicy()
