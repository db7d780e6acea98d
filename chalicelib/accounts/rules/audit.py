"""The audit chain's pure rules: canonical JSON, entry hashes, MAC messages and checking a run of entries.

Every entry's hash covers its own fields and the previous entry's hash, so changing, removing or
reordering any entry breaks the chain at that entry's sequence number. The hash alone is no seal: whoever
can write the table can recompute it. So every entry also carries a MAC of its hash under a key the table's
writers do not hold (security/mac.py): a valid MAC on entry n vouches for entries 1..n through the hashes.
Anchors, copies of a head's (seq, MAC) kept outside the table, catch a chain cut back to an earlier head.

Entries written before the chain was keyed have no MAC: they are the legacy segment, and the first keyed
entry (`audit.keyed`, written before anything else once a legacy chain is next appended to) links to the
legacy head, so its MAC vouches for the whole segment from then on.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

# The hash the first entry links to: there is nothing before it.
GENESIS = "0" * 64
# The entry that starts the keyed chain after a legacy (unkeyed) segment.
KEYED_ACTION = "audit.keyed"
# Binds a MAC to this use, the tenant and the position: a MAC is worth nothing on another tenant's chain.
_MAC_CONTEXT = "fission/audit/v1"


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
    # Hex HMAC-SHA256 of `mac_message(...)`; None in the legacy segment.
    mac: str | None = None


@dataclass(frozen=True)
class Head:
    """The chain's tip as the table's HEAD item records it."""

    seq: int
    hash: str
    mac: str | None


EMPTY_HEAD = Head(0, GENESIS, None)


@dataclass(frozen=True)
class Anchor:
    """A head copied outside the table: the tenant, its sequence number and MAC, and when it was taken."""

    tid: str
    seq: int
    mac: str
    at: str


# Which check found a break.
CHECK_HASH = "hash"
CHECK_MAC = "mac"
CHECK_ANCHOR = "anchor"
_CHECK_ORDER = (CHECK_HASH, CHECK_MAC, CHECK_ANCHOR)


@dataclass(frozen=True)
class Break:
    """The first entry at which the chain stops adding up, why, and which check found it."""

    seq: int
    reason: str
    check: str = CHECK_HASH


# Reasons verification reports.
HASH_MISMATCH = "hash mismatch"
PREV_HASH_MISMATCH = "prev_hash mismatch"
MISSING_SEQUENCE = "missing sequence number"
HEAD_MISMATCH = "head mismatch"
MAC_MISSING = "mac missing"
MAC_MISMATCH = "mac mismatch"
ANCHOR_BEYOND_HEAD = "anchor beyond head"
ANCHOR_MISMATCH = "anchor mismatch"


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


def mac_message(tid: str, seq: int, digest: str) -> bytes:
    """What an entry's MAC covers: its hash (hence everything before it), its place and its tenant."""
    return f"{_MAC_CONTEXT}\x00{tid}\x00{seq}\x00{digest}".encode()


class ChainChecker:
    """Feed entries in sequence order (page by page); it remembers the first break of the hashes, and
    collects the keyed entries before it for the MAC check."""

    def __init__(self) -> None:
        self.expected_seq = 1
        self.last_hash = GENESIS
        self.entries = 0
        self.legacy = 0
        self.first_broken: Break | None = None
        # (seq, hash, mac) of every keyed entry before the first break, in order.
        self.keyed: list[tuple[int, str, str]] = []

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
            elif entry.mac is not None:
                self.keyed.append((entry.seq, entry.hash, entry.mac))
            elif self.keyed:
                # Once keyed, always keyed: an entry without a MAC after one with is not legacy.
                self.first_broken = Break(entry.seq, MAC_MISSING, CHECK_MAC)
            else:
                self.legacy += 1
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

    def mac_at(self, seq: int) -> str | None:
        """The MAC of keyed entry `seq`, if it was read before the first break."""
        if not self.keyed:
            return None
        index = seq - self.keyed[0][0]  # keyed entries are consecutive
        return self.keyed[index][2] if 0 <= index < len(self.keyed) else None


def first_invalid[T](items: Sequence[T], valid: Callable[[T], bool]) -> T | None:
    """The first item `valid` refuses, by bisection: a valid MAC on entry n vouches for every entry
    before it (the hashes link them), so one check clears an intact chain and about log2(n) find where a
    rewritten one starts. A MAC field damaged on an entry a later valid MAC vouches for is not reported:
    the content it covers is proven."""
    if not items or valid(items[-1]):
        return None
    good, bad = -1, len(items) - 1  # items[good] valid (or none), items[bad] refused
    while bad - good > 1:
        middle = (good + bad) // 2
        if valid(items[middle]):
            good = middle
        else:
            bad = middle
    return items[bad]


def check_anchor(anchor: Anchor, head_seq: int, mac_at_seq: str | None) -> Break | None:
    """An anchor names a head the chain once had: the chain must still reach it, with the same MAC."""
    if anchor.seq > head_seq:
        return Break(anchor.seq, ANCHOR_BEYOND_HEAD, CHECK_ANCHOR)
    if mac_at_seq is None or mac_at_seq != anchor.mac:
        return Break(anchor.seq, ANCHOR_MISMATCH, CHECK_ANCHOR)
    return None


def earliest(*breaks: Break | None) -> Break | None:
    """The break at the lowest sequence number; on a tie, the hash check's before the MAC's before the anchor's."""
    found = [b for b in breaks if b is not None]
    if not found:
        return None
    return min(found, key=lambda b: (b.seq, _CHECK_ORDER.index(b.check)))


def check(entries: Iterable[Entry], head_seq: int, head_hash: str) -> Break | None:
    checker = ChainChecker()
    checker.feed(entries)
    return checker.finish(head_seq, head_hash)
