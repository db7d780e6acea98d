"""CSV exports: the request, the job, the columns of each kind, and rows shaped from participant records (pure)."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from chalicelib.modes.distribution.rules.records import LedgerEntry
from chalicelib.referral.rules.records import RewardRecord, TreeNode


class Kind(StrEnum):
    PARTICIPANTS = "participants"
    REFERRALS = "referrals"
    REWARDS = "rewards"
    LEDGER = "ledger"


class Status(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"


PENDING = frozenset({Status.QUEUED, Status.RUNNING})


class ExportRequest(BaseModel):
    """What to export: one campaign's participants, referrals, rewards or commission ledger."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    campaign_id: str = Field(min_length=1, max_length=64)
    kind: Kind


@dataclass
class ExportRecord:
    """An export job: what it exports, how far it got (`cursor`, opaque) and what it wrote."""

    tid: str
    eid: str
    cid: str
    kind: str
    status: str
    created_by: str
    created_at: str
    updated_at: str
    expires_at: int
    cursor: dict[str, Any] | None = None
    rows: int = 0
    parts: int = 0
    failures: int = 0
    version: int = 1
    error: str | None = None
    finished_at: str | None = None


HEADERS: dict[Kind, tuple[str, ...]] = {
    Kind.PARTICIPANTS: (
        "code", "nickname", "channel", "joined_at", "invited_by", "qualified_at", "counted", "variant", "depth",
    ),
    Kind.REFERRALS: ("inviter", "invitee", "joined_at", "qualified_at", "channel"),
    Kind.REWARDS: ("code", "rule", "type", "name", "value_fen", "status", "created_at", "claimed_at"),
    Kind.LEDGER: ("code", "order_id", "level", "amount_fen", "available_at"),
}  # fmt: skip

# Rewards and ledger entries are read participant by participant (one query each).
PER_PARTICIPANT = frozenset({Kind.REWARDS, Kind.LEDGER})

Cell = str | int | None
Row = list[Cell]

# A spreadsheet runs a cell that starts with one of these as a formula.
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def guard(value: Cell) -> str:
    """A cell as text; text that a spreadsheet would run as a formula gets a leading quote.

    Numbers are written as they are, so a negative amount stays a number."""
    if value is None:
        return ""
    if isinstance(value, int):
        return str(value)
    return "'" + value if value.startswith(_FORMULA_STARTS) else value


def render(rows: Iterable[Row]) -> str:
    """RFC 4180 text (CRLF line ends, quoting where needed), every cell guarded."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerows([guard(cell) for cell in row] for row in rows)
    return out.getvalue()


def header(kind: Kind) -> str:
    return render([list(HEADERS[kind])])


def participant_row(p: TreeNode, mask: Callable[[str], str]) -> Row:
    return [
        p.code,
        mask(p.nickname or ""),
        p.channel,
        p.joined_at,
        p.inviter,
        p.qualified_at,
        len(p.counted),
        p.variant,
        p.depth,
    ]


def referral_row(p: TreeNode) -> Row | None:
    """An invited participant as (inviter, invitee); None for a participant nobody invited."""
    if not p.inviter:
        return None
    return [p.inviter, p.code, p.joined_at, p.qualified_at, p.channel]


def reward_row(r: RewardRecord) -> Row:
    return [r.code, r.rule, r.type, r.name, r.value_fen, r.status, r.created_at, r.claimed_at]


def ledger_row(code: str, entry: LedgerEntry) -> Row:
    """Sort key `LEDGER#{order id}#{level}[#CLAWBACK]`; a clawback's amount is negative."""
    sk = entry.key.removeprefix("LEDGER#").removesuffix("#CLAWBACK")
    order_id, _, level = sk.rpartition("#")
    return [code, order_id, entry.level or int(level), entry.amount_fen, entry.available_at]


def rows(
    kind: Kind, participant: TreeNode, own: Sequence[RewardRecord | LedgerEntry], mask: Callable[[str], str]
) -> list[Row]:
    """The rows one participant contributes; `own` holds the rewards or ledger entries the kind reads."""
    if kind is Kind.PARTICIPANTS:
        return [participant_row(participant, mask)]
    if kind is Kind.REFERRALS:
        row = referral_row(participant)
        return [row] if row is not None else []
    if kind is Kind.REWARDS:
        return [reward_row(i) for i in own if isinstance(i, RewardRecord)]
    return [ledger_row(participant.code, i) for i in own if isinstance(i, LedgerEntry)]
