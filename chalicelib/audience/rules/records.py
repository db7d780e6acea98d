"""Audience records as the store returns them: profile tags, walk positions and saved segments."""

from __future__ import annotations

from dataclasses import dataclass

from chalicelib.audience.rules.profiles import Profile


@dataclass(frozen=True)
class ProfileTagRecord:
    """A tag on a profile: who set it (`auto` or `manual`) and when."""

    tid: str
    uid: str
    tag: str
    source: str
    added_at: str


@dataclass(frozen=True)
class ProfilePosition:
    """Where a walk over a tenant's profiles resumes: right after `after` in `shard`, or at the
    start of `shard` when `after` is None."""

    shard: int
    after: Profile | None = None


@dataclass(frozen=True)
class SegmentRecord:
    tid: str
    sid: str
    name: str
    expression: str
    created_at: str
    updated_at: str
