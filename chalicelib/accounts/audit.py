"""The tenant's audit trail: append-only, hash-chained, MACed with a key outside the table, anchored
outside the table, verifiable.

Services call `record(...)` after a mutation has succeeded (never for a refused one), and for the
refusals that matter to security: failed logins and step-ups. Details carry ids, counts and reasons,
never secrets (passwords, codes) or PII in the clear.
"""

from __future__ import annotations

import dataclasses
import hmac
import random
import time
from datetime import datetime
from typing import Any

from chalicelib.accounts.rules import audit as domain
from chalicelib.accounts.store import anchors
from chalicelib.accounts.store import audit as store
from chalicelib.core.clock import iso
from chalicelib.core.codes import Code
from chalicelib.core.errors import BadRequest, Unavailable, ValidationFailed
from chalicelib.core.observability import logger
from chalicelib.security.mac import get_mac

SYSTEM = "system"
MAX_ATTEMPTS = 25
MAX_PAGE = 100


def _keyed(tid: str, entry: domain.Entry) -> domain.Entry:
    mac = get_mac().mac(domain.mac_message(tid, entry.seq, entry.hash))
    return dataclasses.replace(entry, mac=mac.hex())


def _mac_valid(tid: str, seq: int, digest: str, mac: str) -> bool:
    try:
        raw = bytes.fromhex(mac)
    except ValueError:
        return False
    return get_mac().verify(domain.mac_message(tid, seq, digest), raw)


def record(tid: str, actor: str, action: str, target: str, details: dict[str, Any], now: datetime) -> int:
    """Append one entry to the tenant's chain; returns its sequence number.

    Concurrent appends race on the head's seq: the loser re-reads the head and retries, so the
    chain never forks and never skips a number."""
    at = iso(now)
    # Normalised once so the stored details hash the same when read back (tuples, nested types).
    clean = domain.json_roundtrip(details)
    for attempt in range(MAX_ATTEMPTS):
        head = store.head(tid)
        if head.seq > 0 and head.mac is None:
            # A legacy (unkeyed) chain: the keyed chain starts with an entry whose MAC covers its head;
            # then round again for the entry itself.
            if _append(tid, _seal_entry(head, at)):
                continue
        else:
            entry = domain.make_entry(head.seq + 1, at, actor, action, target, clean, head.hash)
            if _append(tid, entry):
                return entry.seq
        time.sleep(random.uniform(0, 0.01 * min(attempt + 1, 10)))  # noqa: S311 - jitter, not crypto
    raise Unavailable("the audit trail is busy; retry shortly", code=Code.AUDIT_BUSY)


def _seal_entry(head: domain.Head, at: str) -> domain.Entry:
    return domain.make_entry(
        head.seq + 1, at, SYSTEM, domain.KEYED_ACTION, "audit", {"legacy_entries": head.seq}, head.hash
    )


def _append(tid: str, entry: domain.Entry) -> bool:
    """MAC the entry and append it after its predecessor; False when another writer moved the head first."""
    try:
        store.append(tid, _keyed(tid, entry), entry.seq - 1)
    except store.HeadMoved:
        return False
    return True


def seal(tid: str, now: datetime) -> bool:
    """Start the keyed chain of a legacy one now rather than at its next entry; False if there is nothing
    to seal (empty, already keyed, or someone else sealed it first)."""
    head = store.head(tid)
    if head.seq == 0 or head.mac is not None:
        return False
    return _append(tid, _seal_entry(head, iso(now)))


def verify(tid: str) -> dict[str, Any]:
    """Three checks, reported by the earliest sequence number that fails one of them:

    - hash: recompute every entry's hash, oldest first, and its link to the one before (an edited entry);
    - mac: the keyed entries' MACs, by bisection from the newest (a chain re-hashed without the key);
    - anchor: the newest anchor kept outside the table must still be in the chain with its MAC (a cut tail).
    """
    head = store.head(tid)
    checker = domain.ChainChecker()
    checker.feed(store.entries_ascending(tid))
    hash_break = checker.finish(head.seq, head.hash)
    mac_checks = 0

    def valid(keyed: tuple[int, str, str]) -> bool:
        nonlocal mac_checks
        mac_checks += 1
        return _mac_valid(tid, *keyed)

    bad_mac = domain.first_invalid(checker.keyed, valid)
    mac_break = domain.Break(bad_mac[0], domain.MAC_MISMATCH, domain.CHECK_MAC) if bad_mac is not None else None
    anchor = anchors.get_anchor_log().latest(tid)
    anchor_break = domain.check_anchor(anchor, head.seq, checker.mac_at(anchor.seq)) if anchor is not None else None
    broken = domain.earliest(hash_break, mac_break, anchor_break)
    return {
        "ok": broken is None,
        "entries": checker.entries,
        "head_seq": head.seq,
        "legacy_entries": checker.legacy,
        "mac_checks": mac_checks,
        "anchor": {"seq": anchor.seq, "at": anchor.at} if anchor is not None else None,
        "first_broken": (
            {"seq": broken.seq, "check": broken.check, "reason": broken.reason} if broken is not None else None
        ),
    }


def anchor_heads(now: datetime) -> dict[str, int]:
    """Copy every head appended to since its last anchor out of the table (the scheduled job).

    A head is anchored only if it extends the chain its newest anchor names (the entry at the anchor's
    seq still has the anchor's MAC) and its own MAC verifies. Otherwise it is logged as an error and stays
    on the list, reported every run until someone looks (docs/operations.md): a new anchor over a cut or
    rewritten chain would hide the cut from verification."""
    counts = {"anchored": 0, "unchanged": 0, "refused": 0, "failed": 0}
    log = anchors.get_anchor_log()
    for tid in store.unanchored():
        try:
            outcome = _anchor_one(log, tid, now)
        except Unavailable:
            # KMS, S3 or the table did not answer for this tenant: it stays listed for the next run.
            logger.exception("audit head not anchored: a dependency is unavailable", tid=tid)
            outcome = "failed"
        counts[outcome] += 1
    return counts


def _anchor_one(log: anchors.AnchorLog, tid: str, now: datetime) -> str:
    head = store.head(tid)
    latest = log.latest(tid)
    reason = _refusal(tid, head, latest)
    if reason is not None:
        logger.error(
            "audit head not anchored",
            tid=tid,
            reason=reason,
            seq=head.seq,
            anchor_seq=latest.seq if latest is not None else None,
        )
        return "refused"
    outcome = "unchanged"
    if latest is None or latest.seq != head.seq:
        log.put(domain.Anchor(tid, head.seq, str(head.mac), iso(now)))
        outcome = "anchored"
    store.mark_anchored(tid, head.seq)
    return outcome


def _refusal(tid: str, head: domain.Head, latest: domain.Anchor | None) -> str | None:
    """Why `head` may not be anchored, or None."""
    if head.mac is None:
        return "legacy head"
    if latest is not None:
        if latest.seq > head.seq:
            return domain.ANCHOR_BEYOND_HEAD
        if latest.seq == head.seq:
            return None if hmac.compare_digest(latest.mac, head.mac) else domain.ANCHOR_MISMATCH
        anchored = store.entry(tid, latest.seq)
        if anchored is None or anchored.mac is None or not hmac.compare_digest(anchored.mac, latest.mac):
            return domain.ANCHOR_MISMATCH
    if not _mac_valid(tid, head.seq, head.hash, head.mac):
        return domain.MAC_MISMATCH
    return None


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
        "mac": entry.mac,
    }


def page(tid: str, limit: int, cursor: str | None) -> dict[str, Any]:
    """Newest first. The cursor is the seq the next page starts below."""
    if not 1 <= limit <= MAX_PAGE:
        raise ValidationFailed(
            f"limit must be between 1 and {MAX_PAGE}",
            details={"errors": [{"field": "limit", "type": "range", "message": f"1..{MAX_PAGE}"}]},
        )
    if cursor is None:
        before = store.head(tid).seq + 1
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
