"""The review queue's filters: status, campaign and age, turned into a key range (pure)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from chalicelib.core.clock import iso
from chalicelib.core.codes import Code
from chalicelib.core.errors import BadRequest

PENDING, APPROVED, REJECTED = "pending", "approved", "rejected"
STATUSES = (PENDING, APPROVED, REJECTED)
MAX_PAGE = 100
FILTERS = ("status", "campaign_id", "older_than_hours", "newer_than_hours")  # the query parameters, in `parse`'s order
MAX_AGE_HOURS = 24 * 366  # reviews are an operator's work queue, not an archive


@dataclass(frozen=True)
class ReviewFilter:
    """Which reviews: `created_from <= created_at < created_before` (either bound may be open)."""

    status: str
    campaign_id: str | None = None
    older_than_hours: int | None = None
    newer_than_hours: int | None = None
    created_from: str | None = None
    created_before: str | None = None

    def matches(self, other: ReviewFilter) -> bool:
        """A cursor continues the listing it came from: the same filters asked (its resolved window is kept)."""
        asked = ("status", "campaign_id", "older_than_hours", "newer_than_hours")
        return all(getattr(self, name) == getattr(other, name) for name in asked)

    def well_formed(self) -> bool:
        """What a decoded cursor must be before its window reaches a query."""
        texts = (self.status, self.campaign_id, self.created_from, self.created_before)
        hours = (self.older_than_hours, self.newer_than_hours)
        return all(t is None or isinstance(t, str) for t in texts) and all(h is None or type(h) is int for h in hours)


def _hours(name: str, value: str | None) -> int | None:
    if value is None:
        return None
    if not value.isdigit() or not 0 <= int(value) <= MAX_AGE_HOURS:
        raise BadRequest(f"{name} must be a whole number of hours from 0 to {MAX_AGE_HOURS}",
                         code=Code.INVALID_AGE_FILTER, details={"field": name})  # fmt: skip
    return int(value)


def parse(
    status: str | None,
    campaign_id: str | None,
    older_than_hours: str | None,
    newer_than_hours: str | None,
    limit: int,
    now: datetime,
) -> ReviewFilter:
    """The filter of one listing; the ages are resolved against `now` once, so paging on keeps the same window."""
    status = status or PENDING
    if status not in STATUSES:
        raise BadRequest(f"status must be one of {', '.join(STATUSES)}", code=Code.INVALID_STATUS)
    if not 1 <= limit <= MAX_PAGE:
        raise BadRequest(f"limit must be between 1 and {MAX_PAGE}", code=Code.INVALID_LIMIT)
    older, newer = _hours("older_than_hours", older_than_hours), _hours("newer_than_hours", newer_than_hours)
    if older is not None and newer is not None and older >= newer:
        raise BadRequest("older_than_hours must be less than newer_than_hours: the window would be empty",
                         code=Code.INVALID_AGE_FILTER, details={"field": "older_than_hours"})  # fmt: skip
    return ReviewFilter(
        status=status,
        campaign_id=campaign_id,
        older_than_hours=older,
        newer_than_hours=newer,
        created_from=iso(now - timedelta(hours=newer)) if newer is not None else None,
        created_before=iso(now - timedelta(hours=older)) if older is not None else None,
    )
