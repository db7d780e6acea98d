"""Inbound webhook payloads from merchant systems."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class FollowEvent(BaseModel):
    """A follow (or unfollow) of the merchant's account by one of the campaign's participants."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    event_id: str = Field(min_length=1, max_length=128)
    campaign_id: str = Field(min_length=1, max_length=64)
    external_id: str = Field(min_length=1, max_length=128)
    action: Literal["follow", "unfollow"]
