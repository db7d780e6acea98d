"""The audit chain's pure rules: canonical JSON, entry hashes and checking a run of entries.

Every entry's hash covers its own fields and the previous entry's hash, so changing, removing or
reordering any entry breaks the chain at that entry's sequence number.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

# The hash the first entry links to: there is nothing before it.
GENESIS = "0" * 64


@dataclass(frozen=True)
class Entry:
    seq: int
    at: str
    actor: str
    action: str
    target: str
    details: dict[str, Any]
    prev_hash: str
    hash: str


@dataclass(frozen=True)
class Break:
    """The first entry at which the chain stops adding up, and why."""

    seq: int
    reason: str


# Reasons verification reports.
HASH_MISMATCH = "hash mismatch"
PREV_HASH_MISMATCH = "prev_hash mismatch"
MISSING_SEQUENCE = "missing sequence number"
HEAD_MISMATCH = "head mismatch"


def canonical_json(value: Any) -> str:
    """One spelling per value: sorted keys, no spaces, UTF-8 kept as is, NaN refused.
    Details should hold ints, strings, bools and lists: float spellings differ between writers."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


def json_roundtrip(details: dict[str, Any]) -> dict[str, Any]:
    """Details as they will read back from storage (lists for tuples, string keys), so the hash
    computed at write time is the one recomputed at verification."""
    value = json.loads(canonical_json(details))
    if not isinstance(value, dict):
        raise TypeError("audit details must be a JSON object")
    return value


def entry_hash(seq: int, at: str, actor: str, action: str, target: str, details: dict[str, Any], prev_hash: str) -> str:
    document = {
        "seq": seq,
        "at": at,
        "actor": actor,
        "action": action,
        "target": target,
        "details": details,
        "prev_hash": prev_hash,
    }
    return hashlib.sha256(canonical_json(document).encode()).hexdigest()


def make_entry(
    seq: int, at: str, actor: str, action: str, target: str, details: dict[str, Any], prev_hash: str
) -> Entry:
    digest = entry_hash(seq, at, actor, action, target, details, prev_hash)
    return Entry(seq, at, actor, action, target, details, prev_hash, digest)


class ChainChecker:
    """Feed entries in sequence order (page by page); it remembers the first break."""

    def __init__(self) -> None:
        self.expected_seq = 1
        self.last_hash = GENESIS
        self.entries = 0
        self.first_broken: Break | None = None

    def feed(self, entries: Iterable[Entry]) -> None:
        for entry in entries:
            self.entries += 1
            if self.first_broken is not None:
                continue
            if entry.seq != self.expected_seq:
                # A gap: the entry expected here was deleted (or never written).
                self.first_broken = Break(self.expected_seq, MISSING_SEQUENCE)
                continue
            recomputed = entry_hash(
                entry.seq, entry.at, entry.actor, entry.action, entry.target, entry.details, entry.prev_hash
            )
            if recomputed != entry.hash:
                self.first_broken = Break(entry.seq, HASH_MISMATCH)
            elif entry.prev_hash != self.last_hash:
                self.first_broken = Break(entry.seq, PREV_HASH_MISMATCH)
            self.last_hash = entry.hash
            self.expected_seq = entry.seq + 1

    def finish(self, head_seq: int, head_hash: str) -> Break | None:
        """Compare the end of the chain with the head: catches entries removed from the end."""
        if self.first_broken is None:
            last_seq = self.expected_seq - 1
            if head_seq > last_seq:
                self.first_broken = Break(last_seq + 1, MISSING_SEQUENCE)
            elif head_seq != last_seq or head_hash != self.last_hash:
                self.first_broken = Break(max(head_seq, 1), HEAD_MISMATCH)
        return self.first_broken


def check(entries: Iterable[Entry], head_seq: int, head_hash: str) -> Break | None:
    checker = ChainChecker()
    checker.feed(entries)
    return checker.finish(head_seq, head_hash)
