"""The stream pump: Lambda-shaped records, checkpoints, dead letters and partial-batch redelivery."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from local.pump import CheckpointStore, DeadLetters, StreamPump, lambda_record, lane_of

ARN = "arn:aws:dynamodb:ddblocal:000000000000:table/fission/stream/2026-12-01T00:00:00.000"
CREATED = datetime(2026, 12, 1, 8, 0, 30, tzinfo=UTC)


def seq(n: int) -> str:
    return f"{n:021d}"


def raw_record(n: int) -> dict[str, Any]:
    """A record as the DynamoDB Streams API (boto3) returns it."""
    return {
        "eventID": f"event-{n}",
        "eventName": "INSERT",
        "eventVersion": "1.1",
        "eventSource": "aws:dynamodb",
        "awsRegion": "ddblocal",
        "dynamodb": {
            "ApproximateCreationDateTime": CREATED,
            "Keys": {"PK": {"S": f"K#{n}"}, "SK": {"S": "META"}},
            "SequenceNumber": seq(n),
            "SizeBytes": 42,
            "StreamViewType": "NEW_AND_OLD_IMAGES",
        },
    }


# --- pure helpers ---------------------------------------------------------------------------


def test_lambda_record_has_epoch_seconds_and_the_source_arn() -> None:
    raw = raw_record(1)

    record = lambda_record(raw, ARN)

    assert record["dynamodb"]["ApproximateCreationDateTime"] == int(CREATED.timestamp())
    assert record["eventSourceARN"] == ARN
    assert record["dynamodb"]["Keys"] == {"PK": {"S": "K#1"}, "SK": {"S": "META"}}
    assert json.loads(json.dumps(record)) == record
    # The Streams API response is left as it was.
    assert raw["dynamodb"]["ApproximateCreationDateTime"] == CREATED
    assert "eventSourceARN" not in raw


def test_in_memory_checkpoints_hand_out_copies() -> None:
    store = CheckpointStore()
    store.set(ARN, "shard-1", sequence=seq(1))

    store.get(ARN, "shard-1")["sequence"] = "tampered"

    assert store.get(ARN, "shard-1") == {"sequence": seq(1)}
    assert store.get(ARN, "unknown-shard") == {}


def test_checkpoints_with_a_path_persist_across_instances(tmp_path: Path) -> None:
    path = tmp_path / "state" / "checkpoints.json"
    first = CheckpointStore(path)
    first.set(ARN, "shard-1", sequence=seq(7))
    first.set(ARN, "shard-1", done=True)
    first.set(ARN, "shard-2", sequence=seq(9))

    again = CheckpointStore(path)

    assert again.get(ARN, "shard-1") == {"sequence": seq(7), "done": True}
    assert again.get(ARN, "shard-2") == {"sequence": seq(9)}


def test_checkpoints_are_written_atomically_leaving_no_temporary_file(tmp_path: Path) -> None:
    path = tmp_path / "checkpoints.json"
    store = CheckpointStore(path)

    for n in range(5):
        store.set(ARN, "shard-1", sequence=seq(n))
        assert json.loads(path.read_text())[ARN]["shard-1"] == {"sequence": seq(n)}

    assert [p.name for p in tmp_path.iterdir()] == ["checkpoints.json"]


def test_dead_letters_write_one_file_per_record(tmp_path: Path) -> None:
    folder = tmp_path / "dead-letters"
    letters = DeadLetters(folder)

    letters.put(lambda_record(raw_record(1), ARN), 3, "reported as failed by the handler")
    letters.put(lambda_record(raw_record(2), ARN), 10, "RuntimeError('boom')")

    files = sorted(folder.iterdir())
    assert [p.name for p in files] == [f"2026-12-01T00_00_00.000-{seq(n)}.json" for n in (1, 2)]
    entry = json.loads(files[1].read_text())
    assert entry["record"]["dynamodb"]["SequenceNumber"] == seq(2)
    assert (entry["attempts"], entry["error"]) == (10, "RuntimeError('boom')")
    assert len(letters.records) == 2


def test_dead_letters_without_a_folder_are_kept_in_memory() -> None:
    letters = DeadLetters(None)

    letters.put(lambda_record(raw_record(1), ARN), 1, "boom")

    assert [e["record"]["dynamodb"]["SequenceNumber"] for e in letters.records] == [seq(1)]


# --- a fake DynamoDB Streams API ------------------------------------------------------------


@dataclass
class FakeShard:
    shard_id: str
    records: list[dict[str, Any]]
    parent_id: str | None = None
    closed: bool = False  # no more records will ever be added
    trimmed: int = 0  # records before this index are past the stream's retention


@dataclass
class FakeStreams:
    """describe_stream (paged), get_shard_iterator and get_records (with Limit) over in-memory shards."""

    shards: list[FakeShard]
    page_size: int = 100
    iterator_requests: list[dict[str, Any]] = field(default_factory=list)
    limits: list[int] = field(default_factory=list)
    _iterators: dict[str, tuple[str, int]] = field(default_factory=dict)
    _expired: set[str] = field(default_factory=set)

    def expire_iterators(self) -> None:
        """Every iterator handed out so far expires (as they do after 15 minutes)."""
        self._expired |= set(self._iterators)

    def _shard(self, shard_id: str) -> FakeShard:
        return next(s for s in self.shards if s.shard_id == shard_id)

    def _iterator(self, shard_id: str, position: int) -> str:
        token = f"iterator-{len(self._iterators)}"
        self._iterators[token] = (shard_id, position)
        return token

    def describe_stream(self, *, StreamArn: str, ExclusiveStartShardId: str | None = None) -> dict[str, Any]:  # noqa: N803
        assert StreamArn == ARN
        ids = [s.shard_id for s in self.shards]
        start = ids.index(ExclusiveStartShardId) + 1 if ExclusiveStartShardId else 0
        page = self.shards[start : start + self.page_size]
        description: dict[str, Any] = {
            "StreamArn": ARN,
            "Shards": [
                {"ShardId": s.shard_id, **({"ParentShardId": s.parent_id} if s.parent_id else {})} for s in page
            ],
        }
        if start + self.page_size < len(self.shards):
            description["LastEvaluatedShardId"] = page[-1].shard_id
        return {"StreamDescription": description}

    def get_shard_iterator(
        self,
        *,
        StreamArn: str,  # noqa: N803
        ShardId: str,  # noqa: N803
        ShardIteratorType: str,  # noqa: N803
        SequenceNumber: str | None = None,  # noqa: N803
    ) -> dict[str, Any]:
        self.iterator_requests.append({"ShardId": ShardId, "Type": ShardIteratorType, "SequenceNumber": SequenceNumber})
        shard = self._shard(ShardId)
        if ShardIteratorType == "TRIM_HORIZON":
            position = shard.trimmed
        else:
            assert ShardIteratorType == "AFTER_SEQUENCE_NUMBER"
            sequences = [r["dynamodb"]["SequenceNumber"] for r in shard.records]
            if sequences.index(SequenceNumber) < shard.trimmed:
                raise _client_error("TrimmedDataAccessException", "GetShardIterator")
            position = sequences.index(SequenceNumber) + 1
        return {"ShardIterator": self._iterator(ShardId, position)}

    def get_records(self, *, ShardIterator: str, Limit: int) -> dict[str, Any]:  # noqa: N803
        self.limits.append(Limit)
        if ShardIterator in self._expired:
            raise _client_error("ExpiredIteratorException", "GetRecords")
        shard_id, position = self._iterators[ShardIterator]
        shard = self._shard(shard_id)
        if position < shard.trimmed:
            raise _client_error("TrimmedDataAccessException", "GetRecords")
        records = shard.records[position : position + Limit]
        end = position + len(records)
        response: dict[str, Any] = {"Records": records}
        if not (shard.closed and end >= len(shard.records)):
            response["NextShardIterator"] = self._iterator(shard_id, end)
        return response


def _client_error(code: str, operation: str) -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": code}}, operation)


Failures = Callable[[int, list[str]], list[str]]


@dataclass
class Handler:
    """A stream handler that records each invocation and reports the failures `fail` picks.

    `fail(invocation, sequences)` returns the sequence numbers to report as failed.
    """

    fail: Failures = lambda invocation, sequences: []
    raise_on: set[int] = field(default_factory=set)
    batches: list[list[str]] = field(default_factory=list)

    def __call__(self, event: dict[str, Any], context: Any) -> dict[str, Any]:
        sequences = [r["dynamodb"]["SequenceNumber"] for r in event["Records"]]
        assert all(r["eventSourceARN"] == ARN for r in event["Records"])
        self.batches.append(sequences)
        invocation = len(self.batches)
        if invocation in self.raise_on:
            raise RuntimeError(f"invocation {invocation} crashed")
        return {"batchItemFailures": [{"itemIdentifier": s} for s in self.fail(invocation, sequences)]}

    def deliveries(self) -> Counter[str]:
        return Counter(s for batch in self.batches for s in batch)


def pump(client: FakeStreams, handler: Handler, **options: Any) -> StreamPump:
    return StreamPump(client, ARN, handler, backoff_base=0, **options)


def run(stream_pump: StreamPump, passes: int) -> int:
    return sum(stream_pump.run_once() for _ in range(passes))


def open_shard(*numbers: int, shard_id: str = "shard-1") -> FakeShard:
    return FakeShard(shard_id, [raw_record(n) for n in numbers])


# --- delivery -------------------------------------------------------------------------------


def test_all_records_of_a_healthy_stream_are_delivered_once_in_order() -> None:
    handler = Handler()
    stream_pump = pump(FakeStreams([open_shard(1, 2, 3, 4, 5)]), handler)

    processed = run(stream_pump, 3)

    assert processed == 5
    assert handler.batches == [[seq(n) for n in range(1, 6)]]
    assert stream_pump.checkpoints.get(ARN, "shard-1") == {"sequence": seq(5)}


def test_a_reported_failure_is_redelivered_and_earlier_records_are_not() -> None:
    # GIVEN a handler that reports record 3 as failed the first time it sees it
    def fail_three_once(invocation: int, sequences: list[str]) -> list[str]:
        return [seq(3)] if invocation == 1 else []

    handler = Handler(fail_three_once)
    stream_pump = pump(FakeStreams([open_shard(1, 2, 3, 4, 5)]), handler)

    # WHEN the pump runs until the stream is quiet
    run(stream_pump, 4)

    # THEN record 3 came twice, 1-2 once, 4-5 at least once, and the checkpoint is at record 5
    delivered = handler.deliveries()
    assert delivered[seq(3)] == 2
    assert (delivered[seq(1)], delivered[seq(2)]) == (1, 1)
    assert delivered[seq(4)] >= 1 and delivered[seq(5)] >= 1
    assert handler.batches[1][0] == seq(3)
    assert stream_pump.checkpoints.get(ARN, "shard-1")["sequence"] == seq(5)


def test_the_earliest_of_several_reported_failures_is_where_redelivery_starts() -> None:
    handler = Handler(lambda invocation, sequences: [seq(4), seq(2)] if invocation == 1 else [])
    stream_pump = pump(FakeStreams([open_shard(1, 2, 3, 4, 5)]), handler)

    run(stream_pump, 3)

    assert handler.batches[1] == [seq(n) for n in (2, 3, 4, 5)]


def test_a_record_that_always_fails_goes_to_dead_letters_and_the_rest_are_processed(tmp_path: Path) -> None:
    # GIVEN a handler that always fails record 2, and at most 3 attempts per record
    handler = Handler(lambda invocation, sequences: [seq(2)] if seq(2) in sequences else [])
    letters = DeadLetters(tmp_path / "dead")
    stream_pump = pump(FakeStreams([open_shard(1, 2, 3, 4, 5)]), handler, max_attempts=3, dead_letters=letters)

    # WHEN the pump runs
    run(stream_pump, 6)

    # THEN record 2 was tried 3 times, then given up on, and 3-5 were processed after it
    delivered = handler.deliveries()
    assert delivered[seq(2)] == 3
    assert [(e["record"]["dynamodb"]["SequenceNumber"], e["attempts"]) for e in letters.records] == [(seq(2), 3)]
    assert len(list((tmp_path / "dead").iterdir())) == 1
    assert handler.batches[-1] == [seq(3), seq(4), seq(5)]
    assert stream_pump.checkpoints.get(ARN, "shard-1")["sequence"] == seq(5)


def test_a_handler_that_raises_gets_the_whole_batch_again() -> None:
    handler = Handler(raise_on={1})
    stream_pump = pump(FakeStreams([open_shard(1, 2, 3)]), handler)

    run(stream_pump, 3)

    assert handler.batches == [[seq(1), seq(2), seq(3)], [seq(1), seq(2), seq(3)]]
    assert stream_pump.checkpoints.get(ARN, "shard-1")["sequence"] == seq(3)


def test_a_handler_that_keeps_raising_dead_letters_one_record_at_a_time() -> None:
    handler = Handler(raise_on={1, 2})
    stream_pump = pump(FakeStreams([open_shard(1, 2)]), handler, max_attempts=2)

    run(stream_pump, 3)

    assert [e["record"]["dynamodb"]["SequenceNumber"] for e in stream_pump.dead_letters.records] == [seq(1)]
    assert "invocation 2 crashed" in stream_pump.dead_letters.records[0]["error"]
    assert handler.batches[-1] == [seq(2)]


@pytest.mark.parametrize("identifier", ["", None], ids=["empty", "null"])
def test_an_empty_or_null_item_identifier_fails_the_whole_batch(identifier: str | None) -> None:
    # GIVEN a handler whose first response names no usable record
    batches: list[list[str]] = []

    def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
        batches.append([r["dynamodb"]["SequenceNumber"] for r in event["Records"]])
        return {"batchItemFailures": [{"itemIdentifier": identifier}]} if len(batches) == 1 else {}

    stream_pump = StreamPump(FakeStreams([open_shard(1, 2)]), ARN, handler, backoff_base=0)

    # WHEN the pump runs THEN, as in Lambda, the whole batch is delivered again
    run(stream_pump, 3)
    assert batches == [[seq(1), seq(2)], [seq(1), seq(2)]]


def test_batches_are_no_bigger_than_the_batch_size() -> None:
    client = FakeStreams([open_shard(1, 2, 3, 4, 5)])
    handler = Handler()
    stream_pump = pump(client, handler, batch_size=2)

    run(stream_pump, 4)

    assert handler.batches == [[seq(1), seq(2)], [seq(3), seq(4)], [seq(5)]]
    assert max(client.limits) == 2


@pytest.mark.parametrize("size", [0, 1001])
def test_batch_size_outside_lambdas_limits_is_refused(size: int) -> None:
    with pytest.raises(ValueError, match="batch_size"):
        pump(FakeStreams([]), Handler(), batch_size=size)


def test_records_added_later_are_picked_up_by_a_later_pass() -> None:
    shard = open_shard(1, 2)
    handler = Handler()
    stream_pump = pump(FakeStreams([shard]), handler)
    run(stream_pump, 1)

    shard.records.append(raw_record(3))
    run(stream_pump, 1)

    assert handler.batches == [[seq(1), seq(2)], [seq(3)]]


def test_a_child_shard_is_not_read_before_its_parent_is_done() -> None:
    # GIVEN a closed parent shard and its child (listed first), and a handler that fails the parent once
    parent = FakeShard("shard-parent", [raw_record(1), raw_record(2)], closed=True)
    child = FakeShard("shard-child", [raw_record(3), raw_record(4)], parent_id="shard-parent")
    client = FakeStreams([child, parent], page_size=1)
    handler = Handler(lambda invocation, sequences: [seq(1)] if invocation == 1 else [])
    stream_pump = pump(client, handler)

    # WHEN the first pass fails the parent's first record
    run(stream_pump, 1)

    # THEN the child has not even been opened
    assert [r["ShardId"] for r in client.iterator_requests] == ["shard-parent"]

    # AND once the parent is done, the child's records follow the parent's
    run(stream_pump, 3)
    assert handler.batches == [[seq(1), seq(2)], [seq(1), seq(2)], [seq(3), seq(4)]]
    assert stream_pump.checkpoints.get(ARN, "shard-parent") == {"sequence": seq(2), "done": True}


def test_a_closed_shard_with_nothing_left_is_marked_done() -> None:
    stream_pump = pump(FakeStreams([FakeShard("shard-1", [], closed=True)]), Handler())

    run(stream_pump, 1)

    assert stream_pump.checkpoints.get(ARN, "shard-1") == {"done": True}


def test_a_restarted_pump_resumes_after_its_checkpoint(tmp_path: Path) -> None:
    # GIVEN a pump that processed three records and stopped
    path = tmp_path / "checkpoints.json"
    shard = open_shard(1, 2, 3)
    first = Handler()
    run(pump(FakeStreams([shard]), first, checkpoints=CheckpointStore(path)), 2)

    # WHEN two more records arrive and a new pump starts from the saved checkpoints
    shard.records += [raw_record(4), raw_record(5)]
    client = FakeStreams([shard])
    second = Handler()
    run(pump(client, second, checkpoints=CheckpointStore(path)), 2)

    # THEN it delivers only the new records, reading after the checkpoint
    assert first.batches == [[seq(1), seq(2), seq(3)]]
    assert second.batches == [[seq(4), seq(5)]]
    assert client.iterator_requests[0] == {
        "ShardId": "shard-1",
        "Type": "AFTER_SEQUENCE_NUMBER",
        "SequenceNumber": seq(3),
    }


def test_a_shard_done_before_a_restart_is_not_read_again(tmp_path: Path) -> None:
    path = tmp_path / "checkpoints.json"
    shard = FakeShard("shard-1", [raw_record(1)], closed=True)
    run(pump(FakeStreams([shard]), Handler(), checkpoints=CheckpointStore(path)), 2)

    client = FakeStreams([shard])
    again = Handler()
    run(pump(client, again, checkpoints=CheckpointStore(path)), 2)

    assert again.batches == []
    assert client.iterator_requests == []


def test_pump_counts_invocations_and_delivered_records() -> None:
    handler = Handler(lambda invocation, sequences: [seq(2)] if invocation == 1 else [])
    stream_pump = pump(FakeStreams([open_shard(1, 2, 3)]), handler)

    run(stream_pump, 3)

    assert stream_pump.invocations == 2
    assert stream_pump.delivered == 3
    assert not stream_pump.has_pending()
    assert not stream_pump.healthy()  # never started: nothing keeps the stream moving


# --- expired iterators and trimmed records --------------------------------------------------


def test_an_expired_iterator_is_recreated_from_the_checkpoint_and_nothing_is_lost() -> None:
    # GIVEN a pump that has processed the stream so far
    shard = open_shard(1, 2)
    client = FakeStreams([shard])
    handler = Handler()
    stream_pump = pump(client, handler)
    run(stream_pump, 1)

    # WHEN its iterator expires and a record arrives
    client.expire_iterators()
    shard.records.append(raw_record(3))
    run(stream_pump, 1)

    # THEN it reads on from its checkpoint
    assert handler.batches == [[seq(1), seq(2)], [seq(3)]]
    assert client.iterator_requests[-1]["SequenceNumber"] == seq(2)


def test_records_trimmed_past_the_checkpoint_resume_at_the_oldest_remaining() -> None:
    # GIVEN a pump at record 2, then records 3-6 of which 1-4 are trimmed before it reads again
    shard = open_shard(1, 2)
    handler = Handler()
    stream_pump = pump(FakeStreams([shard]), handler)
    run(stream_pump, 1)
    shard.records += [raw_record(n) for n in (3, 4, 5, 6)]
    shard.trimmed = 4

    # WHEN it reads again
    run(stream_pump, 1)

    # THEN it carries on with what is left
    assert handler.batches[-1] == [seq(5), seq(6)]
    assert stream_pump.checkpoints.get(ARN, "shard-1")["sequence"] == seq(6)


def test_an_iterator_expiring_while_a_failed_record_waits_does_not_duplicate_records() -> None:
    # GIVEN record 2 failed and waits, with 3 behind it, when the iterator expires
    client = FakeStreams([open_shard(1, 2, 3)])
    handler = Handler(lambda invocation, sequences: [seq(2)] if invocation == 1 else [])
    stream_pump = pump(client, handler)
    run(stream_pump, 1)
    client.expire_iterators()

    # WHEN the pump redelivers
    run(stream_pump, 1)

    # THEN the batch holds each waiting record once
    assert handler.batches[1] == [seq(2), seq(3)]


def test_a_restart_after_the_checkpoint_was_trimmed_resumes_at_the_oldest_remaining(tmp_path: Path) -> None:
    # GIVEN checkpoints saved at record 2, and a stream that has since trimmed records 1-4
    path = tmp_path / "checkpoints.json"
    shard = open_shard(1, 2)
    run(pump(FakeStreams([shard]), Handler(), checkpoints=CheckpointStore(path)), 1)
    shard.records += [raw_record(n) for n in (3, 4, 5, 6)]
    shard.trimmed = 4

    # WHEN a new pump starts from those checkpoints
    handler = Handler()
    run(pump(FakeStreams([shard]), handler, checkpoints=CheckpointStore(path)), 1)

    # THEN it resumes at the oldest record left instead of failing every pass
    assert handler.batches == [[seq(5), seq(6)]]


# --- parallel batches within a shard ----------------------------------------------------------


def keyed_record(n: int, key: str) -> dict[str, Any]:
    record = raw_record(n)
    record["dynamodb"]["Keys"] = {"PK": {"S": key}, "SK": {"S": f"S#{n}"}}
    return record


def two_keys_in_two_lanes() -> tuple[str, str]:
    """Two partition keys that land in different lanes when there are two."""
    lanes: dict[int, str] = {}
    for n in range(100):
        key = f"K#{n}"
        lanes.setdefault(lane_of({"dynamodb": {"Keys": {"PK": {"S": key}}}}, 2), key)
        if len(lanes) == 2:
            return lanes[0], lanes[1]
    raise AssertionError("no two keys in two lanes")


def test_parallel_batches_keep_each_keys_order_and_a_failure_holds_back_only_its_own_key() -> None:
    # GIVEN records alternating between two keys in two lanes, and a handler that fails record 4 (key b) once
    a, b = two_keys_in_two_lanes()
    shard = FakeShard("shard-1", [keyed_record(n, a if n % 2 else b) for n in range(1, 7)])
    handler = Handler(lambda invocation, sequences: [seq(4)] if seq(4) in sequences and invocation <= 2 else [])
    stream_pump = pump(FakeStreams([shard]), handler, parallelization=2)

    # WHEN one pass delivers both lanes at once
    run(stream_pump, 1)

    # THEN key a's records are done, key b's from the failure on wait, and the checkpoint stops before record 4
    assert sorted(handler.batches) == [[seq(1), seq(3), seq(5)], [seq(2), seq(4), seq(6)]]
    assert stream_pump.checkpoints.get(ARN, "shard-1") == {"sequence": seq(3)}

    # AND the next pass redelivers key b from record 4, in order, and the checkpoint reaches the end
    run(stream_pump, 2)
    assert handler.batches[2:] == [[seq(4), seq(6)]]
    assert stream_pump.checkpoints.get(ARN, "shard-1") == {"sequence": seq(6)}
    assert handler.deliveries() == Counter({seq(4): 2, seq(6): 2, **{seq(n): 1 for n in (1, 2, 3, 5)}})


def test_parallel_batches_each_hold_at_most_the_batch_size() -> None:
    a, b = two_keys_in_two_lanes()
    shard = FakeShard("shard-1", [keyed_record(n, a if n % 2 else b) for n in range(1, 13)])
    handler = Handler()
    stream_pump = pump(FakeStreams([shard]), handler, parallelization=2, batch_size=3)

    run(stream_pump, 4)

    assert all(len(batch) <= 3 for batch in handler.batches)
    assert sum(handler.deliveries().values()) == 12
    assert stream_pump.checkpoints.get(ARN, "shard-1") == {"sequence": seq(12)}


@pytest.mark.parametrize("factor", [0, 11])
def test_a_parallelization_outside_lambdas_limits_is_refused(factor: int) -> None:
    with pytest.raises(ValueError):
        pump(FakeStreams([]), Handler(), parallelization=factor)
