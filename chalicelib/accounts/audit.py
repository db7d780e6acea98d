"""The tenant's audit trail: append-only, hash-chained, verifiable.

Services call `record(...)` after a mutation has succeeded (never for a refused one), and for the
refusals that matter to security: failed logins and step-ups. Details carry ids, counts and reasons,
never secrets (passwords, codes) or PII in the clear.
"""

from __future__ import annotations

import random
import time
from datetime import datetime
from typing import Any

from chalicelib.accounts.rules import audit as domain
from chalicelib.accounts.store import audit as store
from chalicelib.core.clock import iso
from chalicelib.core.codes import Code
from chalicelib.core.errors import BadRequest, Unavailable, ValidationFailed

SYSTEM = "system"
MAX_ATTEMPTS = 25
MAX_PAGE = 100


def record(tid: str, actor: str, action: str, target: str, details: dict[str, Any], now: datetime) -> int:
    """Append one entry to the tenant's chain; returns its sequence number.

    Concurrent appends race on the head's seq: the loser re-reads the head and retries, so the
    chain never forks and never skips a number."""
    at = iso(now)
    # Normalised once so the stored details hash the same when read back (tuples, nested types).
    clean = domain.json_roundtrip(details)
    for attempt in range(MAX_ATTEMPTS):
        seq, prev = store.head(tid)
        entry = domain.make_entry(seq + 1, at, actor, action, target, clean, prev)
        try:
            store.append(tid, entry, seq)
        except store.HeadMoved:
            time.sleep(random.uniform(0, 0.01 * min(attempt + 1, 10)))  # noqa: S311 - jitter, not crypto
            continue
        return entry.seq
    raise Unavailable("the audit trail is busy; retry shortly", code=Code.AUDIT_BUSY)


def verify(tid: str) -> dict[str, Any]:
    """Recompute the whole chain, oldest first; report the first entry that does not add up."""
    head_seq, head_hash = store.head(tid)
    checker = domain.ChainChecker()
    checker.feed(store.entries_ascending(tid))
    broken = checker.finish(head_seq, head_hash)
    return {
        "ok": broken is None,
        "entries": checker.entries,
        "head_seq": head_seq,
        "first_broken": {"seq": broken.seq, "reason": broken.reason} if broken is not None else None,
    }


def _view(entry: domain.Entry) -> dict[str, Any]:
    return {
        "seq": entry.seq,
        "at": entry.at,
        "actor": entry.actor,
        "action": entry.action,
        "target": entry.target,
        "details": entry.details,
        "prev_hash": entry.prev_hash,
        "hash": entry.hash,
    }


def page(tid: str, limit: int, cursor: str | None) -> dict[str, Any]:
    """Newest first. The cursor is the seq the next page starts below."""
    if not 1 <= limit <= MAX_PAGE:
        raise ValidationFailed(
            f"limit must be between 1 and {MAX_PAGE}",
            details={"errors": [{"field": "limit", "type": "range", "message": f"1..{MAX_PAGE}"}]},
        )
    if cursor is None:
        before = store.head(tid)[0] + 1
    else:
        try:
            before = int(cursor)
        except ValueError:
            before = 0
        if before < 1:
            raise BadRequest("the cursor is not one this listing returned", code=Code.INVALID_CURSOR)
    entries = store.entries_before(tid, before, limit)
    more = len(entries) == limit and entries[-1].seq > 1
    return {"items": [_view(e) for e in entries], "next_cursor": str(entries[-1].seq) if more else None}
