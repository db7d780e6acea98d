"""The campaign as the store returns it: a typed record every slice may read."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from chalicelib.campaigns.rules.spec import CampaignSpec
from chalicelib.core.clock import parse_iso


@dataclass
class CampaignRecord:
    cid: str
    tid: str
    mode: str
    status: str
    # The campaign document, validated once when the record is read: what every service reads
    # (`rec.spec.ends_at`, `rec.spec.rules`, narrowed by mode with isinstance).
    spec: CampaignSpec
    # The same document as stored: written back verbatim and shown to operators as it is. Parts of it
    # shown elsewhere come from the typed spec (`spec.shown`).
    document: dict[str, Any]
    version: int
    created_at: str
    updated_at: str
    created_by: str
    published_at: str | None = None
    ended_at: str | None = None
    # Budget stop-loss (docs/retention.md): when a line paused the campaign (only an owner resumes it then), and
    # the acquisition channels whose rewards a line holds until an owner releases them.
    stop_loss_paused_at: str | None = None
    held_channels: list[str] = field(default_factory=list)

    @property
    def closes_at(self) -> datetime:
        """When the campaign stops: its end time, or the moment an operator ended it if that came first."""
        if self.status == "ended" and self.ended_at is not None:
            return min(self.spec.ends_at, parse_iso(self.ended_at))
        return self.spec.ends_at
