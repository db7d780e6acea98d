"""The stream pump delivers the table's changes to the app's stream handler, Lambda-style."""

from __future__ import annotations

import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, Self

import pytest

from chalicelib.entrypoints import stream
from chalicelib.table import images
from chalicelib.table.changes import Change
from chalicelib.table.images import CampaignImage, Image
from local.pump import CheckpointStore, DeadLetters, StreamPump
from local.stack import stream_handler
from tests.conftest import StreamTail


@dataclass(frozen=True, slots=True, kw_only=True)
class ProbeImage(Image):
    """A probe item's image: its name (probe items belong to no campaign)."""

    entity: ClassVar[str] = "probe"
    name: str

    @classmethod
    def parse(cls, raw: Mapping[str, Any]) -> Self:
        return cls(cid="", name=str(raw["name"]))


class Probe:
    """A stream reaction that records what it sees and fails chosen items a number of times."""

    def __init__(self, failures: dict[str, int] | None = None) -> None:
        self.seen: list[str] = []
        self.failures = dict(failures or {})

    def __call__(self, change: Change) -> None:
        image = change.new_as(ProbeImage) or change.old_as(ProbeImage)
        name = str(image.name if image else None)
        self.seen.append(name)
        if self.failures.get(name, 0) > 0:
            self.failures[name] -= 1
            raise RuntimeError(f"probe failure for {name}")


@pytest.fixture
def probe_entity(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[str, Probe]]:
    entity = f"probe-{uuid.uuid4().hex[:6]}"
    probe = Probe()
    monkeypatch.setitem(images.IMAGE_TYPES, entity, ProbeImage)
    stream.register(entity, probe)
    yield entity, probe
    stream.unregister(entity, probe)


def put(entity: str, name: str) -> None:
    from chalicelib.core.config import get_settings
    from chalicelib.table import db

    db.dynamodb_client().put_item(
        TableName=get_settings().table_name,
        Item={"PK": {"S": f"PROBE#{entity}"}, "SK": {"S": name}, "entity": {"S": entity}, "name": {"S": name}},
    )


def make_pump(app: Any, checkpoints: CheckpointStore, **options: Any) -> StreamPump:
    from chalicelib.core.config import get_settings
    from chalicelib.table import db

    return StreamPump(
        db.streams_client(),
        db.stream_arn(db.dynamodb_client(), get_settings().table_name),
        stream_handler(app),
        checkpoints=checkpoints,
        backoff_base=0.0,
        **options,
    )


@pytest.fixture
def caught_up(app: Any, tmp_path: Path, stream_tail: StreamTail) -> CheckpointStore:
    """Checkpoints at the stream's current end, so a test sees only the records it writes."""
    checkpoints: CheckpointStore = stream_tail.checkpoints(tmp_path / "checkpoints.json")
    return checkpoints


def test_written_items_reach_the_stream_handler_as_lambda_events(
    app: Any, caught_up: CheckpointStore, probe_entity: tuple[str, Probe]
) -> None:
    entity, probe = probe_entity
    for i in range(5):
        put(entity, f"item-{i}")
    pump = make_pump(app, caught_up, batch_size=2)
    pump.drain()
    assert probe.seen == [f"item-{i}" for i in range(5)]
    assert pump.invocations >= 3  # batch size 2 -> at least 3 batches for 5 records


def test_a_failed_record_is_delivered_again_and_none_after_it_is_lost(
    app: Any, caught_up: CheckpointStore, probe_entity: tuple[str, Probe]
) -> None:
    entity, probe = probe_entity
    probe.failures = {"item-2": 1}
    names = [f"item-{i}" for i in range(5)]
    for name in names:
        put(entity, name)
    pump = make_pump(app, caught_up, batch_size=10)
    pump.drain()
    assert probe.seen.count("item-2") == 2
    assert probe.seen.count("item-0") == probe.seen.count("item-1") == 1  # before the failure: not replayed
    assert set(probe.seen) == set(names)  # after it: redelivered, not lost
    assert pump.dead_letters.records == []


def test_a_record_that_keeps_failing_goes_to_dead_letters_and_the_shard_moves_on(
    app: Any, caught_up: CheckpointStore, probe_entity: tuple[str, Probe], tmp_path: Path
) -> None:
    entity, probe = probe_entity
    probe.failures = {"poison": 100}
    for name in ("ok-1", "poison", "ok-2"):
        put(entity, name)
    pump = make_pump(app, caught_up, max_attempts=3, dead_letters=DeadLetters(tmp_path / "dead"))
    pump.drain()
    assert probe.seen.count("poison") == 3
    assert "ok-2" in probe.seen
    assert [d["record"]["dynamodb"]["NewImage"]["name"]["S"] for d in pump.dead_letters.records] == ["poison"]
    assert len(list((tmp_path / "dead").iterdir())) == 1


def test_persisted_checkpoints_neither_replay_nor_lose_records_across_a_restart(
    app: Any, caught_up: CheckpointStore, probe_entity: tuple[str, Probe], tmp_path: Path
) -> None:
    entity, probe = probe_entity
    put(entity, "before-restart")
    make_pump(app, caught_up).drain()
    assert probe.seen == ["before-restart"]

    put(entity, "while-down")
    restarted = make_pump(app, CheckpointStore(tmp_path / "checkpoints.json"))
    restarted.drain()
    assert probe.seen == ["before-restart", "while-down"]


def test_campaign_changes_flow_through_the_registered_handler(
    app: Any, caught_up: CheckpointStore, api: Any, tenant: Any
) -> None:
    from tests.conftest import campaign_body

    seen: list[tuple[str, str]] = []

    def spy(change: Change) -> None:
        new = change.new_as(CampaignImage)
        seen.append((change.event, str(new.status if new else None)))

    stream.register("campaign", spy)
    try:
        _, created = api.call("POST", "/v1/admin/campaigns", campaign_body(), token=tenant.owner_token)
        api.call("POST", f"/v1/admin/campaigns/{created['campaign_id']}/publish", token=tenant.owner_token)
        make_pump(app, caught_up).drain()
    finally:
        stream.unregister("campaign", spy)
    assert seen == [("INSERT", "draft"), ("MODIFY", "active")]
