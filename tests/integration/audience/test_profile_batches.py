"""The profile stream consumer in bulk: one BatchGetItem per 100 people, several people to a transaction,
nothing written when nothing changed, and no concurrent write lost."""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest

from chalicelib.audience import profiles
from chalicelib.audience.rules.profiles import Profile
from chalicelib.audience.rules.records import ProfileWrite
from chalicelib.audience.store import profiles as store
from chalicelib.core.clock import utcnow
from chalicelib.table.changes import Change
from chalicelib.table.images import ParticipantImage

T0 = "2026-12-01T09:00:00Z"


@pytest.fixture
def calls(app: Any) -> Iterator[Counter[str]]:
    """DynamoDB operations by name, on every client the models use, while the test runs."""
    from chalicelib.table import db
    from chalicelib.table.models import ALL_MODELS

    db.ensure_bound()
    counted: Counter[str] = Counter()

    def count(model: Any, **_: Any) -> None:
        counted[model.name] += 1

    clients = {id(c): c for c in [m._get_connection().connection.client for m in ALL_MODELS] + [db.dynamodb_client()]}
    for client in clients.values():
        client.meta.events.register("before-call.dynamodb", count)
    yield counted
    for client in clients.values():
        client.meta.events.unregister("before-call.dynamodb", count)


def _joined(tid: str, uid: str, seq: int, *, invites: int = 0, inviter: str | None = None) -> Change:
    """A participant change of person `uid` (one join of theirs), as the stream hands it over."""
    new = ParticipantImage(
        cid="c_batch", tid=tid, code=f"p{uid}", joined_at=T0, person=uid, inviter=inviter,
        counted=frozenset(f"i{n}" for n in range(invites)),
    )  # fmt: skip
    return Change("participant", "INSERT", None, new, f"{seq:021d}")


def _tenant() -> str:
    return f"t_{uuid.uuid4().hex[:10]}"


def test_a_batch_of_150_people_is_read_with_two_batch_gets_and_written_in_few_transactions(
    calls: Counter[str],
) -> None:
    tid = _tenant()
    batch = [_joined(tid, f"u_{n:04d}", n, inviter="someone" if n % 2 else None) for n in range(150)]

    failed = profiles.on_batch(batch)

    assert failed == set()
    assert calls["BatchGetItem"] <= 2
    assert calls["GetItem"] == 0
    # 225 actions (150 profiles, 75 tag items) in transactions of up to 10 (DynamoDB Local's ceiling): never
    # one transaction per person.
    assert calls["TransactWriteItems"] <= 25
    saved = store.get_batch([(tid, f"u_{n:04d}") for n in range(150)])
    assert len(saved) == 150
    assert {uid for (_, uid), p in saved.items() if "invited" in p.tags} == {f"u_{n:04d}" for n in range(1, 150, 2)}
    assert {t.tag for t in store.profile_tags(tid, "u_0001")} == {"invited"}


def test_a_redelivered_batch_writes_nothing(calls: Counter[str]) -> None:
    tid = _tenant()
    batch = [_joined(tid, f"u_{n}", n) for n in range(5)]
    profiles.on_batch(batch)
    versions = {uid: p.version for (_, uid), p in store.get_batch([(tid, f"u_{n}") for n in range(5)]).items()}
    calls.clear()

    assert profiles.on_batch(batch) == set()

    assert calls["TransactWriteItems"] == 0 and calls["PutItem"] == 0
    again = store.get_batch([(tid, f"u_{n}") for n in range(5)])
    assert {uid: p.version for (_, uid), p in again.items()} == versions


def test_a_concurrent_write_between_read_and_write_is_not_lost(monkeypatch: pytest.MonkeyPatch) -> None:
    """Someone saves one person's profile after the batch read it: the batch's write of that person is
    refused, re-read and retried, and both changes are in the profile; the others are written as read."""
    tid = _tenant()
    profiles.on_batch([_joined(tid, "u_a", 1), _joined(tid, "u_b", 2)])
    read = store.get_batch

    def read_then_someone_writes(wanted: Any) -> dict[tuple[str, str], Profile]:
        found = read(wanted)
        profiles.set_manual_tag(tid, "u_a", "vip", True, utcnow())
        return found

    monkeypatch.setattr(store, "get_batch", read_then_someone_writes)

    failed = profiles.on_batch([_joined(tid, "u_a", 3, invites=2), _joined(tid, "u_b", 4, invites=1)])

    assert failed == set()
    a, b = store.get(tid, "u_a"), store.get(tid, "u_b")
    assert a is not None and b is not None
    assert "vip" in a.manual_tags  # the concurrent write survived
    assert a.parts["pu_a"]["invites"] == 2 and "brought_friends" in a.auto_tags  # and so did the batch's
    assert a.version == 3
    assert b.parts["pu_b"]["invites"] == 1 and b.version == 2


def test_save_all_refuses_a_stale_write_and_names_it() -> None:
    tid = _tenant()
    profiles.on_batch([_joined(tid, "u_x", 1), _joined(tid, "u_y", 2)])
    x, y = store.get(tid, "u_x"), store.get(tid, "u_y")
    assert x is not None and y is not None
    stale = ProfileWrite(Profile(tid=tid, uid="u_x", nickname="stale"), 0, {}, set(), None)  # as if never read
    fresh = ProfileWrite(Profile(tid=tid, uid="u_y", nickname="new", parts=y.parts), y.version, {}, set(), None)

    lost = store.save_all([stale, fresh])

    assert lost == [stale]
    after_x, after_y = store.get(tid, "u_x"), store.get(tid, "u_y")
    assert after_x is not None and after_x.nickname is None and after_x.version == x.version
    assert after_y is not None and after_y.nickname == "new" and after_y.version == y.version + 1


def test_a_failed_person_fails_only_their_records(monkeypatch: pytest.MonkeyPatch) -> None:
    tid = _tenant()
    real = store.save_all

    def every_write_loses(writes: list[ProfileWrite]) -> list[ProfileWrite]:
        return list(writes)

    monkeypatch.setattr(store, "save_all", every_write_loses)
    save = store.save

    def refuse_b(profile: Profile, *args: Any) -> bool:
        if profile.uid == "u_b":
            raise RuntimeError("storage hiccup")
        return save(profile, *args)

    monkeypatch.setattr(store, "save", refuse_b)

    failed = profiles.on_batch([_joined(tid, "u_a", 1), _joined(tid, "u_b", 2), _joined(tid, "u_b", 3, invites=1)])

    assert failed == {f"{2:021d}", f"{3:021d}"}
    assert store.get(tid, "u_a") is not None and store.get(tid, "u_b") is None
    monkeypatch.setattr(store, "save_all", real)
