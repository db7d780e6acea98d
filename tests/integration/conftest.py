"""Fixtures shared by the integration tests: a caught-up stream pump, a fresh campaign cache, a fresh client
address."""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from chalice.local import LambdaEventConverter

from local.pump import StreamPump
from local.stack import stream_handler
from tests.conftest import StreamTail


@pytest.fixture(autouse=True)
def fresh_campaign_cache() -> Iterator[None]:
    """Tests publish, pause and end campaigns in quick succession: no 5-second cache between them."""
    from chalicelib.campaigns import live

    live.forget()
    yield
    live.forget()


@pytest.fixture
def make_pump(app: Any, tmp_path: Path, stream_tail: StreamTail) -> Callable[..., StreamPump]:
    """Stream pumps caught up with everything written before the test, so a test sees only its own records."""

    def make(**options: Any) -> StreamPump:
        from chalicelib.core.config import get_settings
        from chalicelib.table import db

        stream_pump = StreamPump(
            db.streams_client(),
            db.stream_arn(db.dynamodb_client(), get_settings().table_name),
            lambda event, context: {"batchItemFailures": []},
            # Checkpoints at the stream's end as the session's tail pump last saw it (a long session leaves
            # tens of thousands of records: read once by that pump, not again by every test's).
            checkpoints=stream_tail.checkpoints(tmp_path / "checkpoints.json"),
            **{"backoff_base": 0.0, "batch_size": 1000, **options},
        )
        # Reach the stream's end without handling what was written since, then hand this test's records to the
        # app's handler in its batch size.
        stream_pump.drain(timeout=120)
        stream_pump.handler = stream_handler(app)
        stream_pump.batch_size = int(options.get("batch_size", 100))
        return stream_pump

    return make


@pytest.fixture
def pump(make_pump: Callable[..., StreamPump]) -> StreamPump:
    return make_pump()


def deliver_every_batch_twice(pump: StreamPump) -> list[dict[str, Any]]:
    """Hand every batch to the handler twice, as a retried stream batch would be; returns the batches."""
    handler, delivered = pump.handler, []

    def twice(event: dict[str, Any], context: Any) -> Any:
        delivered.append(event)
        handler(event, context)
        return handler(event, context)

    pump.handler = twice
    return delivered


@pytest.fixture
def client_ip(monkeypatch: pytest.MonkeyPatch) -> Callable[[], str]:
    """A fresh source address for the test client, and another on each call: rate-limit and guessing counters
    persist in the session's table, so each test starts from an address nobody has used."""

    def new() -> str:
        ip = f"10.{random.randrange(256)}.{random.randrange(256)}.{random.randrange(1, 255)}"
        monkeypatch.setattr(LambdaEventConverter, "LOCAL_SOURCE_IP", ip)
        return ip

    new()
    return new
