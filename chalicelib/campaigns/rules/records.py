"""The campaign as the store returns it: a typed record every slice may read."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass
class CampaignRecord:
    cid: str
    tid: str
    mode: str
    status: str
    spec: dict[str, Any]
    # The same document as stored: written back verbatim and shown to operators as it is.
    document: dict[str, Any]
    version: int
    created_at: str
    updated_at: str
    created_by: str
    published_at: str | None = None
    ended_at: str | None = None
