"""CSV exports: the request, the columns of each kind, and rows shaped from stored items (pure)."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterable
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


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


HEADERS: dict[Kind, tuple[str, ...]] = {
    Kind.PARTICIPANTS: (
        "code", "nickname", "channel", "joined_at", "invited_by", "qualified_at", "counted", "variant", "depth",
    ),
    Kind.REFERRALS: ("inviter", "invitee", "joined_at", "qualified_at", "channel"),
    Kind.REWARDS: ("code", "rule", "type", "name", "value_fen", "status", "created_at", "claimed_at"),
    Kind.LEDGER: ("code", "order_id", "level", "amount_fen", "available_at"),
}  # fmt: skip

# Rewards and ledger entries live in each participant's own partition (one query per participant).
PER_PARTICIPANT_PREFIX: dict[Kind, str] = {Kind.REWARDS: "R#", Kind.LEDGER: "LEDGER#"}

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


def _text(item: dict[str, Any], name: str) -> str | None:
    value = item.get(name)
    return None if value is None else str(value)


def _int(item: dict[str, Any], name: str) -> int | None:
    value = item.get(name)
    return int(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def participant_row(item: dict[str, Any], mask: Callable[[str], str]) -> Row:
    return [
        _text(item, "code"),
        mask(str(item.get("nickname") or "")),
        _text(item, "channel"),
        _text(item, "joined_at"),
        _text(item, "inviter"),
        _text(item, "qualified_at"),
        len(item.get("counted") or ()),
        _text(item, "variant"),
        _int(item, "depth"),
    ]


def referral_row(item: dict[str, Any]) -> Row | None:
    """An invited participant as (inviter, invitee); None for a participant nobody invited."""
    if not item.get("inviter"):
        return None
    fields = ("inviter", "code", "joined_at", "qualified_at", "channel")
    return [_text(item, f) for f in fields]


def reward_row(item: dict[str, Any]) -> Row:
    return [
        _text(item, "code"),
        _text(item, "rule"),
        _text(item, "type"),
        _text(item, "name"),
        _int(item, "value_fen"),
        _text(item, "status"),
        _text(item, "created_at"),
        _text(item, "claimed_at"),
    ]


def ledger_row(code: str, item: dict[str, Any]) -> Row:
    """Sort key `LEDGER#{order id}#{level}[#CLAWBACK]`; a clawback's amount is negative."""
    sk = str(item["SK"]).removeprefix("LEDGER#").removesuffix("#CLAWBACK")
    order_id, _, level = sk.rpartition("#")
    return [code, order_id, _int(item, "level") or int(level), _int(item, "amount_fen"), _text(item, "available_at")]


def rows(kind: Kind, participant: dict[str, Any], own: list[dict[str, Any]], mask: Callable[[str], str]) -> list[Row]:
    """The rows one participant contributes; `own` holds the items of their partition the kind reads."""
    if kind is Kind.PARTICIPANTS:
        return [participant_row(participant, mask)]
    if kind is Kind.REFERRALS:
        row = referral_row(participant)
        return [row] if row is not None else []
    if kind is Kind.REWARDS:
        return [reward_row(i) for i in own if i.get("entity") == "reward"]
    code = str(participant["code"])
    return [ledger_row(code, i) for i in own if str(i.get("SK", "")).startswith("LEDGER#")]
