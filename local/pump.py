"""The stream pump: what Lambda's event-source mapping does in the cloud, for DynamoDB Local.

It reads the table's stream through the DynamoDB Streams API, batches records per shard
(batch size and batching window), invokes the stream handler with Lambda-shaped events and
honours `ReportBatchItemFailures`: the checkpoint moves to just before the first failed record
and delivery resumes from there, so a failed record is retried and no later record is lost.
A record that still fails after `max_attempts` goes to a dead-letter folder (the cloud's
on-failure destination) rather than blocking its shard forever. Checkpoints are persisted, so
a restart neither loses records nor replays what was already processed.

Shards are read in parallel, and within a shard up to `parallelization` batches run at once,
as the mapping's ParallelizationFactor does: records are split by partition key, so the
changes of one key stay in order (a failed record holds back only the later records of its
lane), while the checkpoint only ever moves past records that are all processed.
"""

from __future__ import annotations

import json
import logging
import threading
import time
import zlib
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from botocore.exceptions import ClientError

from local.background import BackgroundLoop

log = logging.getLogger("fission.pump")

StreamHandler = Callable[[dict[str, Any], Any], Any]


class CheckpointStore:
    """Per stream and shard: the last sequence number fully processed, and whether the shard is done.

    With a `path` it is a JSON file written atomically after every batch; without, in memory.
    """

    def __init__(self, path: Path | None = None) -> None:
        self._path = path
        self._lock = threading.Lock()
        self._data: dict[str, dict[str, dict[str, Any]]] = {}
        if path is not None and path.exists():
            self._data = json.loads(path.read_text())

    def get(self, stream_arn: str, shard_id: str) -> dict[str, Any]:
        with self._lock:
            return dict(self._data.get(stream_arn, {}).get(shard_id, {}))

    def set(self, stream_arn: str, shard_id: str, **values: Any) -> None:
        with self._lock:
            self._data.setdefault(stream_arn, {}).setdefault(shard_id, {}).update(values)
            if self._path is not None:
                self._path.parent.mkdir(parents=True, exist_ok=True)
                tmp = self._path.with_suffix(".tmp")
                tmp.write_text(json.dumps(self._data, indent=1, sort_keys=True))
                tmp.replace(self._path)


class DeadLetters:
    """Records given up on, one JSON file each: the local twin of the SQS on-failure destination."""

    def __init__(self, folder: Path | None) -> None:
        self.folder = folder
        self.records: list[dict[str, Any]] = []

    def put(self, record: dict[str, Any], attempts: int, error: str) -> None:
        entry = {"record": record, "attempts": attempts, "error": error, "at": time.time()}
        self.records.append(entry)
        if self.folder is not None:
            self.folder.mkdir(parents=True, exist_ok=True)
            name = f"{record['eventSourceARN'].rsplit('/', 1)[-1]}-{record['dynamodb']['SequenceNumber']}.json"
            (self.folder / name.replace(":", "_")).write_text(json.dumps(entry, indent=1, default=str))


@dataclass
class _Shard:
    shard_id: str
    parent_id: str | None
    iterator: str | None = None
    pending: list[dict[str, Any]] = field(default_factory=list)  # fetched or redelivered, not yet done
    closed: bool = False  # the stream said there is nothing more in this shard
    done: bool = False  # closed and every record processed
    last_read: str | None = None  # sequence number of the last record fetched
    # Sequence numbers fetched and not yet behind the checkpoint, in stream order: records processed out of
    # order (another lane's) wait here until everything before them is processed too.
    window: list[str] = field(default_factory=list)
    attempts: dict[str, int] = field(default_factory=dict)  # consecutive failed deliveries, by record
    retry_at: dict[str, float] = field(default_factory=dict)  # when a failed record may be retried


def lambda_record(raw: dict[str, Any], stream_arn: str) -> dict[str, Any]:
    """A Streams API record as Lambda delivers it (epoch seconds, the source ARN)."""
    record: dict[str, Any] = json.loads(json.dumps(raw, default=_json_default))
    record["eventSourceARN"] = stream_arn
    return record


def _sequence(record: dict[str, Any]) -> str:
    return str(record["dynamodb"]["SequenceNumber"])


def lane_of(record: dict[str, Any], lanes: int) -> int:
    """The lane of a record: a stable hash of its partition key, so one key's changes share a lane."""
    if lanes == 1:
        return 0
    key = record["dynamodb"].get("Keys", {}).get("PK", {})
    return zlib.crc32(json.dumps(key, sort_keys=True).encode()) % lanes


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime):
        return int(value.timestamp())
    raise TypeError(f"cannot serialise {type(value)}")


class StreamPump:
    def __init__(
        self,
        streams_client: Any,
        stream_arn: str,
        handler: StreamHandler,
        *,
        checkpoints: CheckpointStore | None = None,
        dead_letters: DeadLetters | None = None,
        batch_size: int = 100,
        batching_window: float = 0.0,
        parallelization: int = 1,
        max_attempts: int = 10,
        backoff_base: float = 0.2,
        backoff_cap: float = 5.0,
        context_factory: Callable[[], Any] = lambda: None,
    ) -> None:
        if not 1 <= batch_size <= 1000:
            raise ValueError("batch_size must be between 1 and 1000")
        if not 1 <= parallelization <= 10:
            raise ValueError("parallelization must be between 1 and 10")
        self.client = streams_client
        self.stream_arn = stream_arn
        self.handler = handler
        self.checkpoints = checkpoints or CheckpointStore()
        self.dead_letters = dead_letters or DeadLetters(None)
        self.batch_size = batch_size
        self.batching_window = batching_window
        self.parallelization = parallelization
        self.max_attempts = max_attempts
        self.backoff_base = backoff_base
        self.backoff_cap = backoff_cap
        self.context_factory = context_factory
        self._shards: dict[str, _Shard] = {}
        self._loop: BackgroundLoop | None = None
        # Threads for shards read at once and for the batches they deliver at once; made on first need.
        self._shard_pool: ThreadPoolExecutor | None = None
        self._batch_pool: ThreadPoolExecutor | None = None
        self._count_lock = threading.Lock()
        self.delivered = 0
        self.invocations = 0

    # --- shards and iterators ------------------------------------------------------------

    def _refresh_shards(self) -> None:
        start: str | None = None
        while True:
            kwargs: dict[str, Any] = {"StreamArn": self.stream_arn}
            if start:
                kwargs["ExclusiveStartShardId"] = start
            description = self.client.describe_stream(**kwargs)["StreamDescription"]
            for shard in description["Shards"]:
                sid = shard["ShardId"]
                if sid not in self._shards:
                    saved = self.checkpoints.get(self.stream_arn, sid)
                    self._shards[sid] = _Shard(sid, shard.get("ParentShardId"), done=bool(saved.get("done")))
            start = description.get("LastEvaluatedShardId")
            if not start:
                return

    def _ready(self, shard: _Shard) -> bool:
        """Children wait for their parent, as Lambda does, so a key's changes stay in order."""
        parent = self._shards.get(shard.parent_id) if shard.parent_id else None
        return not shard.done and (parent is None or parent.done)

    def _iterator(self, shard: _Shard) -> str | None:
        if shard.iterator is None and not shard.closed:
            # Resume after the last record already read: a waiting (failed) record is never fetched twice.
            after = shard.last_read or self.checkpoints.get(self.stream_arn, shard.shard_id).get("sequence")
            kwargs: dict[str, Any] = {"StreamArn": self.stream_arn, "ShardId": shard.shard_id}
            if after:
                kwargs.update(ShardIteratorType="AFTER_SEQUENCE_NUMBER", SequenceNumber=after)
            else:
                kwargs["ShardIteratorType"] = "TRIM_HORIZON"
            try:
                shard.iterator = self.client.get_shard_iterator(**kwargs)["ShardIterator"]
            except ClientError as exc:
                if not self._recover(shard, exc):
                    raise
                kwargs = {"StreamArn": self.stream_arn, "ShardId": shard.shard_id, "ShardIteratorType": "TRIM_HORIZON"}
                shard.iterator = self.client.get_shard_iterator(**kwargs)["ShardIterator"]
        return shard.iterator

    def _fetch(self, shard: _Shard) -> None:
        """Top up `pending` to a batch per lane, waiting up to the batching window for more records."""
        deadline = time.monotonic() + self.batching_window
        wanted = self.batch_size * self.parallelization
        while len(shard.pending) < wanted and not shard.closed:
            iterator = self._iterator(shard)
            if iterator is None:
                break
            try:
                limit = min(1000, wanted - len(shard.pending))  # the Streams API's own ceiling
                response = self.client.get_records(ShardIterator=iterator, Limit=limit)
            except ClientError as exc:
                if not self._recover(shard, exc):
                    raise
                continue
            records = [lambda_record(r, self.stream_arn) for r in response.get("Records", [])]
            shard.pending += records
            shard.window += [_sequence(r) for r in records]
            if records:
                shard.last_read = _sequence(records[-1])
            shard.iterator = response.get("NextShardIterator")
            shard.closed = shard.iterator is None
            if time.monotonic() >= deadline:
                break
            if not records:
                time.sleep(0.05)

    def _recover(self, shard: _Shard, exc: ClientError) -> bool:
        """Iterators expire after 15 minutes and records after 24 hours; start again from what is left."""
        code = exc.response["Error"]["Code"]
        if code == "ExpiredIteratorException":
            shard.iterator = None  # re-created from the checkpoint
            return True
        if code == "TrimmedDataAccessException":
            log.warning("stream records past the checkpoint of %s were trimmed; resuming at the oldest", shard.shard_id)
            self.checkpoints.set(self.stream_arn, shard.shard_id, sequence=None)
            shard.iterator = shard.last_read = None
            return True
        return False

    # --- delivery ------------------------------------------------------------------------

    def _invoke(self, batch: list[dict[str, Any]]) -> tuple[set[str], str]:
        """Sequence numbers the handler reported as failed (all of them if it raised)."""
        with self._count_lock:
            self.invocations += 1
        try:
            response = self.handler({"Records": batch}, self.context_factory())
        except Exception as exc:  # the whole invocation failed, as a Lambda error would
            log.exception("stream handler raised; the batch will be retried")
            return {_sequence(r) for r in batch}, repr(exc)
        failures = (response or {}).get("batchItemFailures") or []
        identifiers = [f.get("itemIdentifier") if isinstance(f, dict) else None for f in failures]
        if any(not identifier for identifier in identifiers):
            # Lambda's rule: a failure that names no record fails the whole batch.
            return {_sequence(r) for r in batch}, "a failure without an itemIdentifier"
        return {str(i) for i in identifiers}, "reported as failed by the handler"

    def _batches(self, shard: _Shard) -> list[list[dict[str, Any]]]:
        """One batch per lane whose first record is not waiting for a retry, in stream order within it."""
        lanes: dict[int, list[dict[str, Any]]] = {}
        for record in shard.pending:
            lanes.setdefault(lane_of(record, self.parallelization), []).append(record)
        now = time.monotonic()
        return [
            records[: self.batch_size]
            for records in lanes.values()
            if shard.retry_at.get(_sequence(records[0]), 0.0) <= now
        ]

    def _deliver(self, shard: _Shard) -> int:
        batches = self._batches(shard)
        if len(batches) > 1:
            if self._batch_pool is None:
                self._batch_pool = ThreadPoolExecutor(10 * self.parallelization, thread_name_prefix="stream-batch")
            outcomes = list(self._batch_pool.map(self._invoke, batches))
        else:
            outcomes = [self._invoke(batch) for batch in batches]
        finished: set[str] = set()
        succeeded = 0
        for batch, (failed, reason) in zip(batches, outcomes, strict=True):
            sequences = [_sequence(r) for r in batch]
            first_failed = next((i for i, sequence in enumerate(sequences) if sequence in failed), None)
            done_upto = len(batch) if first_failed is None else first_failed
            finished.update(sequences[:done_upto])
            succeeded += done_upto
            for sequence in sequences[:done_upto]:
                shard.attempts.pop(sequence, None)
                shard.retry_at.pop(sequence, None)
            if first_failed is None:
                continue
            record, sequence = batch[first_failed], sequences[first_failed]
            attempts = shard.attempts[sequence] = shard.attempts.get(sequence, 0) + 1
            if attempts >= self.max_attempts:
                log.error("stream record failed %d times; sent to dead letters", attempts)
                self.dead_letters.put(record, attempts, reason)
                finished.add(sequence)
                shard.attempts.pop(sequence, None)
                shard.retry_at.pop(sequence, None)
            else:
                delay = min(self.backoff_cap, self.backoff_base * 2 ** (attempts - 1))
                shard.retry_at[sequence] = time.monotonic() + delay
        shard.pending = [r for r in shard.pending if _sequence(r) not in finished]
        self._checkpoint(shard)
        with self._count_lock:
            self.delivered += succeeded
        if shard.closed and not shard.pending:
            shard.done = True
            self.checkpoints.set(self.stream_arn, shard.shard_id, done=True)
        return succeeded

    def _checkpoint(self, shard: _Shard) -> None:
        """Move the checkpoint to the last record before the first one still pending (all processed)."""
        waiting = {_sequence(r) for r in shard.pending}
        upto = next((i for i, sequence in enumerate(shard.window) if sequence in waiting), len(shard.window))
        if upto:
            self.checkpoints.set(self.stream_arn, shard.shard_id, sequence=shard.window[upto - 1])
            shard.window = shard.window[upto:]

    def _pass(self, shard: _Shard) -> int:
        try:
            self._fetch(shard)
        except Exception:
            # DynamoDB Local restarted or the connection broke: read on from the last record with a new iterator.
            shard.iterator = None
            raise
        if shard.pending:
            return self._deliver(shard)
        if shard.closed:
            shard.done = True
            self.checkpoints.set(self.stream_arn, shard.shard_id, done=True)
        return 0

    def run_once(self) -> int:
        """One pass over every ready shard (in parallel when there are several); returns how many records
        were processed."""
        self._refresh_shards()
        ready = [shard for shard in list(self._shards.values()) if self._ready(shard)]
        if len(ready) > 1:
            if self._shard_pool is None:
                self._shard_pool = ThreadPoolExecutor(10, thread_name_prefix="stream-shard")
            return sum(self._shard_pool.map(self._pass, ready))
        return sum(self._pass(shard) for shard in ready)

    def has_pending(self) -> bool:
        return any(s.pending for s in self._shards.values())

    def drain(self, timeout: float = 10.0, quiet_passes: int = 2) -> int:
        """Process until the stream is idle (tests): nothing pending and passes that find nothing."""
        deadline = time.monotonic() + timeout
        total, quiet = 0, 0
        while time.monotonic() < deadline:
            count = self.run_once()
            total += count
            quiet = quiet + 1 if count == 0 and not self.has_pending() else 0
            if quiet >= quiet_passes:
                return total
            if count == 0:
                time.sleep(0.05)
        raise TimeoutError(f"stream not drained within {timeout}s ({total} records processed)")

    # --- background thread ---------------------------------------------------------------

    def start(self, poll_interval: float = 0.25) -> None:
        self._loop = BackgroundLoop("stream-pump", lambda: self.run_once() > 0, idle_wait=poll_interval)
        self._loop.start()

    def stop(self) -> None:
        if self._loop is not None:
            self._loop.stop()
        for pool in (self._shard_pool, self._batch_pool):
            if pool is not None:
                pool.shutdown(wait=True)
        self._shard_pool = self._batch_pool = None

    def healthy(self, max_age: float = 10.0) -> bool:
        return self._loop is not None and self._loop.healthy(max_age)
