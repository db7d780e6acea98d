"""Audience records as the store returns them: profile tags, walk positions, segments, automation rules and runs."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from chalicelib.audience.rules.automations import SCHEDULED_TRIGGERS
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


@dataclass(frozen=True)
class AutomationRecord:
    """A rule `trigger -> conditions -> actions`; `version` guards every replacement."""

    tid: str
    aid: str
    name: str
    enabled: bool
    trigger: dict[str, Any]
    conditions: str | None
    delay_minutes: int
    actions: list[dict[str, Any]]
    version: int
    created_at: str
    updated_at: str

    @property
    def scheduled(self) -> bool:
        """Enabled with a scheduled trigger: listed where the schedules look."""
        return self.enabled and self.trigger.get("type") in SCHEDULED_TRIGGERS


@dataclass(frozen=True)
class AutomationJobRecord:
    """A fired rule whose actions wait until `due`."""

    tid: str
    aid: str
    uid: str
    run_id: str
    occurrence: str
    context: dict[str, Any]
    attempts: int
    created_at: str
    due: str


@dataclass
class ProfileWrite:
    """A profile to save over the version read (`expected_version`, 0: none yet), with its tag changes
    (`added`: tag -> (source, added at)) and the birthday it had when read."""

    profile: Profile
    expected_version: int
    added: dict[str, tuple[str, str]]
    removed: set[str]
    old_birthday: str | None


@dataclass(frozen=True)
class ChurnRunRecord:
    """A tenant's daily churn run: the local `day` it scores, where its walk resumes (`cursor`, None at the
    start), the next snapshot batch, the levels counted so far, and the last finished run's levels."""

    tid: str
    day: str | None = None
    cursor: str | None = None
    batch: int = 0
    counts: dict[str, int] | None = None
    done: bool = False
    started_at: str | None = None
    last_day: str | None = None
    last_counts: dict[str, int] | None = None
    last_finished_at: str | None = None
    version: int = 0


@dataclass(frozen=True)
class ChurnScoreRecord:
    """A person's latest churn score and its largest contributions."""

    tid: str
    uid: str
    risk: float
    level: str
    top: list[dict[str, Any]]
    scored_on: str
    scored_at: str
