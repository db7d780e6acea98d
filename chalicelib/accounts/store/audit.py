"""The audit chain in the table: entries under `T#{tid}#AUDIT`, appended behind a conditional HEAD.

A head appended to is filed under GSI2 `AUDIT#UNANCHORED` until the anchor job has copied it out."""

from __future__ import annotations

from collections.abc import Iterator

from pynamodb.connection import Connection
from pynamodb.exceptions import TransactWriteError, UpdateError
from pynamodb.transactions import TransactWrite

from chalicelib.accounts.rules.audit import EMPTY_HEAD, Entry, Head
from chalicelib.table import keys
from chalicelib.table.db import ensure_bound, get_entity, is_condition_failure, unavailable_on_failure
from chalicelib.table.models import AuditEntryItem, AuditHeadItem, Item


class HeadMoved(Exception):
    """Another writer appended first: re-read the head and try again."""


def _connection() -> Connection:
    return Item._get_connection().connection


def head(tid: str) -> Head:
    """The chain's last entry as the head records it; EMPTY_HEAD for an empty chain. Read consistently:
    an append builds on it."""
    item = get_entity(AuditHeadItem, keys.audit_pk(tid), keys.AUDIT_HEAD_SK, consistent=True)
    return Head(int(item.seq), str(item.hash), item.mac) if item is not None else EMPTY_HEAD


def _entry(item: AuditEntryItem) -> Entry:
    details = item.details if isinstance(item.details, dict) else {"_not_an_object": item.details}
    return Entry(
        seq=int(item.seq),
        at=item.at,
        actor=item.actor,
        action=item.action,
        target=item.target,
        details=details,
        prev_hash=item.prev_hash,
        hash=item.hash,
        mac=item.mac,
    )


def append(tid: str, entry: Entry, expected_seq: int) -> None:
    """Entry and head in one transaction, conditional on the head still being at `expected_seq`."""
    ensure_bound()
    pk = keys.audit_pk(tid)
    item = AuditEntryItem(
        PK=pk,
        SK=keys.audit_entry_sk(entry.seq),
        seq=entry.seq,
        at=entry.at,
        actor=entry.actor,
        action=entry.action,
        target=entry.target,
        details=entry.details,
        prev_hash=entry.prev_hash,
        hash=entry.hash,
        mac=entry.mac,
    )
    new_head = AuditHeadItem(
        PK=pk,
        SK=keys.AUDIT_HEAD_SK,
        seq=entry.seq,
        hash=entry.hash,
        mac=entry.mac,
        GSI2PK=keys.AUDIT_UNANCHORED_GSI2PK,
        GSI2SK=tid,
    )
    head_condition = AuditHeadItem.PK.does_not_exist() if expected_seq == 0 else AuditHeadItem.seq == expected_seq
    try:
        with unavailable_on_failure("audit append"), TransactWrite(connection=_connection()) as tx:
            tx.save(new_head, condition=head_condition)
            tx.save(item, condition=AuditEntryItem.PK.does_not_exist())
    except TransactWriteError as exc:
        if is_condition_failure(exc) or getattr(exc, "cause_response_code", None) == "TransactionConflict":
            raise HeadMoved from exc
        raise


def entries_ascending(tid: str, page_size: int = 500) -> Iterator[Entry]:
    """Every entry, oldest first, read a page at a time (strongly consistent)."""
    ensure_bound()
    with unavailable_on_failure("audit read"):
        results = Item.query(
            keys.audit_pk(tid),
            Item.SK.between(keys.audit_entry_sk(1), keys.audit_entry_sk(keys.AUDIT_LAST_SEQ)),
            consistent_read=True,
            page_size=page_size,
        )
        for item in results:
            if isinstance(item, AuditEntryItem):
                yield _entry(item)


def entries_before(tid: str, before_seq: int, limit: int) -> list[Entry]:
    """Up to `limit` entries with seq < before_seq, newest first."""
    if before_seq <= 1:
        return []
    ensure_bound()
    with unavailable_on_failure("audit read"):
        results = Item.query(
            keys.audit_pk(tid),
            Item.SK.between(keys.audit_entry_sk(1), keys.audit_entry_sk(before_seq - 1)),
            scan_index_forward=False,
            limit=limit,
            page_size=limit,
        )
        return [_entry(i) for i in results if isinstance(i, AuditEntryItem)]


def unanchored() -> list[str]:
    """Tenants whose head moved since it was last anchored (found by key): the tenants audited since the
    last run, plus any whose head the anchor job refused."""
    ensure_bound()
    with unavailable_on_failure("unanchored audit heads"):
        found = Item.gsi2.query(keys.AUDIT_UNANCHORED_GSI2PK, page_size=500)
        return [str(i.GSI2SK) for i in found if isinstance(i, AuditHeadItem)]


def entry(tid: str, seq: int) -> Entry | None:
    item = get_entity(AuditEntryItem, keys.audit_pk(tid), keys.audit_entry_sk(seq), consistent=True)
    return _entry(item) if item is not None else None


def mark_anchored(tid: str, seq: int) -> bool:
    """Take the head off the unanchored list, unless it moved on meanwhile (then it stays for the next run)."""
    ensure_bound()
    item = AuditHeadItem(PK=keys.audit_pk(tid), SK=keys.AUDIT_HEAD_SK)
    try:
        with unavailable_on_failure("audit head anchored"):
            item.update(
                actions=[AuditHeadItem.GSI2PK.remove(), AuditHeadItem.GSI2SK.remove()],
                condition=AuditHeadItem.seq == seq,
            )
    except UpdateError as exc:
        if is_condition_failure(exc):
            return False
        raise
    return True
