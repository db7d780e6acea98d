"""The payouts store: a request is written once and only at the version its balance was read at; a status
moves only from where it was, with the money entry in the same write."""

from __future__ import annotations

import uuid
from typing import Any

from chalicelib.payouts.rules.records import WithdrawalRecord
from chalicelib.payouts.rules.wallet import balances
from chalicelib.payouts.store import ledger
from chalicelib.payouts.store.ledger import Requested

AT = "2026-12-01T00:00:00Z"


def withdrawal(tid: str, uid: str, amount: int = 300, **kw: Any) -> WithdrawalRecord:
    return WithdrawalRecord(
        tid=tid, wid=f"wd_{uuid.uuid4().hex[:24]}", uid=uid, cid="c-1", amount_fen=amount, fee_fen=0,
        net_fen=amount, method="bank", destination_enc="sealed", destination_hint="1234", status="requested",
        created_at=AT, updated_at=AT, **kw,
    )  # fmt: skip


def test_request_needs_the_version_it_read_and_a_new_id(table: str) -> None:
    tid, uid = f"t-{uuid.uuid4().hex[:8]}", "u_1"
    assert ledger.credit(tid, uid, oid="o-1", level=1, clawback=False, amount_fen=1000, available_at=AT,
                         cid="c-1", code="abc", at=AT)  # fmt: skip
    assert not ledger.credit(tid, uid, oid="o-1", level=1, clawback=False, amount_fen=1000, available_at=AT,
                             cid="c-1", code="abc", at=AT)  # fmt: skip
    first = withdrawal(tid, uid)
    assert ledger.request(first, 0) is Requested.CREATED
    assert ledger.request(first, 1) is Requested.EXISTS
    assert ledger.request(withdrawal(tid, uid), 0) is Requested.STALE
    read = ledger.wallet(tid, uid)
    assert read.version == 1
    assert balances(read.entries, AT).available_fen == 700


def test_status_moves_from_its_sources_only_with_the_money_entry(table: str) -> None:
    tid, uid = f"t-{uuid.uuid4().hex[:8]}", "u_1"
    w = withdrawal(tid, uid)
    assert ledger.request(w, 0) is Requested.CREATED
    assert not ledger.move(w, {"approved"}, "paid", AT, money="paid")
    assert ledger.move(w, {"requested"}, "rejected", AT, money="return", fields={"reason": "duplicate account"})
    assert not ledger.move(w, {"requested"}, "rejected", AT, money="return")
    got = ledger.get(tid, w.wid)
    assert got is not None and got.status == "rejected" and got.reason == "duplicate account"
    assert balances(ledger.wallet(tid, uid).entries, AT).requested_fen == 0
    assert [r.wid for r in ledger.by_status(tid, "rejected", 10)[0]] == [w.wid]
    assert ledger.by_status(tid, "requested", 10)[0] == []
