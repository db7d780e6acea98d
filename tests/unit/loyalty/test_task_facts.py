"""Which stream changes are task facts, with which ids and times: a redelivered change yields the same facts."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from chalicelib.loyalty.rules.tasks import FactKind
from chalicelib.loyalty.tasks import facts_of
from chalicelib.table.changes import Change
from chalicelib.table.images import AssistImage, BeaconImage, Image, OrderImage, ParticipantImage

pytestmark = pytest.mark.unit

T0 = "2026-12-07T17:30:00Z"
WRITTEN = datetime(2026, 12, 7, 18, tzinfo=UTC)


def change(event: str, old: Image | None, new: Image | None) -> Change:
    entity = (new or old).entity  # type: ignore[union-attr]
    return Change(entity, event, old, new, "1", WRITTEN.timestamp())


def participant(**fields: object) -> ParticipantImage:
    base: dict[str, object] = {"cid": "c1", "tid": "t1", "code": "p1", "joined_at": T0, "person": "u_1"}
    return ParticipantImage(**{**base, **fields})  # type: ignore[arg-type]


def test_a_new_participant_is_a_join_of_their_person_at_the_join_time() -> None:
    person, found = facts_of(change("INSERT", None, participant()))
    assert person == ("t1", "u_1")
    [(_, _, fact)] = found
    assert (fact.kind, fact.fact_id, fact.at, fact.cid) == (
        FactKind.JOINED, "joined:c1:p1", datetime(2026, 12, 7, 17, 30, tzinfo=UTC), "c1"
    )  # fmt: skip


def test_a_participant_without_a_person_has_their_codes_ledger() -> None:
    person, _ = facts_of(change("INSERT", None, participant(person=None)))
    assert person == ("t1", "c_p1")


def test_each_newly_counted_friend_is_an_invite_dated_when_the_count_went_up() -> None:
    before, after = participant(counted=frozenset({"f1"})), participant(counted=frozenset({"f1", "f2", "f3"}))
    person, found = facts_of(change("MODIFY", before, after))
    assert person == ("t1", "u_1")
    assert [(f.kind, f.fact_id, f.at) for _, _, f in found] == [
        (FactKind.INVITED, "invited:c1:f2", WRITTEN), (FactKind.INVITED, "invited:c1:f3", WRITTEN)
    ]  # fmt: skip
    assert facts_of(change("MODIFY", after, after)) == (None, [])  # nothing new: no fact


def test_an_erased_participant_counts_nothing() -> None:
    assert facts_of(change("INSERT", None, participant(erased_at=T0))) == (None, [])


def test_an_order_counts_once_when_it_becomes_paid_and_not_when_refunded() -> None:
    paid = OrderImage(cid="c1", tid="t1", oid="o1", status="paid", amount=100, paid_at=T0, buyer="p1")
    person, [(code, tid, fact)] = facts_of(change("INSERT", None, paid))
    assert (person, code, tid, fact.kind, fact.fact_id) == (None, "p1", "t1", FactKind.ORDER_PAID, "order:o1")
    refunded = OrderImage(cid="c1", tid="t1", oid="o1", status="refunded", amount=100, paid_at=T0, buyer="p1")
    assert facts_of(change("MODIFY", paid, refunded)) == (None, [])
    assert facts_of(change("MODIFY", paid, paid)) == (None, [])


def test_each_new_helper_of_an_assist_has_helped() -> None:
    old = AssistImage(cid="c1", tid="t1", owner="o", helpers_required=3, helped={"h1": 0})
    new = AssistImage(cid="c1", tid="t1", owner="o", helpers_required=3, helped={"h1": 0, "h2": 1})
    _, [(code, tid, fact)] = facts_of(change("MODIFY", old, new))
    assert (code, tid, fact.kind, fact.fact_id) == ("h2", "t1", FactKind.HELPED, "helped:c1:o:h2")


def test_a_view_beacon_with_a_token_is_a_view_named_by_its_own_key() -> None:
    view = BeaconImage(cid="c1", type="view", at=T0, code="p1", key="EV#ev_1")
    _, [(code, tid, fact)] = facts_of(change("INSERT", None, view))
    assert (code, tid, fact.kind, fact.fact_id) == ("p1", None, FactKind.VIEWED, "viewed:EV#ev_1")
    assert facts_of(change("INSERT", None, BeaconImage(cid="c1", type="view", at=T0, key="EV#ev_2"))) == (None, [])
    assert facts_of(change("INSERT", None, BeaconImage(cid="c1", type="share", at=T0, code="p1", key="EV#3")))[1] == []
