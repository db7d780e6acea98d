"""The whole local stack in one object: table, stream pump, scheduler, API server, the WeChat/WeCom stand-in and
the payment fakes (WeChat Pay, Alipay).

`make run` uses it against a persistent DynamoDB Local; tests use it against an in-memory one.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from local.isolation import isolate_requests
from local.payments.server import PaymentsStandIn
from local.pump import CheckpointStore, DeadLetters, StreamPump
from local.scheduler import Scheduler
from local.server import WORKERS, LocalServer
from local.wechat.server import WeChatStandIn

ROOT = Path(__file__).resolve().parent.parent


@dataclass
class StackSettings:
    endpoint: str
    table_name: str = "fission"
    host: str = "127.0.0.1"
    port: int = 8000
    data_dir: Path | None = None  # checkpoints, dead letters and secrets persist here when set
    batch_size: int = 100
    batching_window: float = 0.5
    # Concurrent batches per shard. The cloud runs 2 per shard over many shards; DynamoDB Local's table has
    # one shard, so locally that one shard gets the concurrency the cloud spreads over several.
    parallelization: int = 8
    workers: int = WORKERS  # API server threads


def configure_environment(
    settings: StackSettings, wechat: WeChatStandIn | None = None, payments: PaymentsStandIn | None = None
) -> None:
    """Point the app at the local table (and the WeChat/WeCom stand-in and payment fakes) before anything reads
    its settings."""
    os.environ["FISSION_STAGE"] = os.environ.get("FISSION_STAGE", "local")
    os.environ["FISSION_DYNAMODB_ENDPOINT"] = settings.endpoint
    os.environ["FISSION_TABLE_NAME"] = settings.table_name
    os.environ["FISSION_PUBLIC_BASE_URL"] = f"http://localhost:{settings.port}"
    if settings.data_dir is not None:
        os.environ.setdefault("FISSION_SECRETS_DIR", str(settings.data_dir / "secrets"))
        os.environ.setdefault("FISSION_AUDIT_ANCHOR_FILE", str(settings.data_dir / "audit-anchors.jsonl"))
        os.environ.setdefault("FISSION_POSTER_CACHE_DIR", str(settings.data_dir / "posters"))
    if wechat is not None:  # each stack its own stand-in: assigned, not defaulted, so tests' stacks don't share
        os.environ.update(wechat.environment())
    if payments is not None:
        os.environ.update(payments.environment())
    os.environ.setdefault("POWERTOOLS_TRACE_DISABLED", "true")
    os.environ.setdefault("POWERTOOLS_METRICS_DISABLED", "true")
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")


def stream_handler(app: Any) -> Any:
    """The app's registered stream handler (a Chalice pure Lambda function) by its name."""
    from chalicelib.entrypoints.events import STREAM_HANDLER

    for function in app.pure_lambda_functions:
        if function.name == STREAM_HANDLER:
            return function
    raise LookupError(f"the app registers no lambda function named {STREAM_HANDLER}")


class LocalStack:
    def __init__(self, settings: StackSettings) -> None:
        self.settings = settings
        # Bound now (a free port) so its URLs are in the environment before the app reads its settings.
        self.wechat = WeChatStandIn(settings.host)
        # The fakes' keys persist beside the data (git ignores .data/), so credentials a tenant saved keep working.
        keys = settings.data_dir / "secrets" / "payment-fakes.json" if settings.data_dir else None
        self.payments = PaymentsStandIn(settings.host, keys_file=keys, settle_seconds=2.0 if keys else 0.0)
        # What the environment held before: a stack started inside a test run gives it back when it stops, so the
        # tests after it do not reach for its (stopped) ports.
        self._saved_environment = dict(os.environ)
        configure_environment(settings, self.wechat, self.payments)
        from chalice.local import LambdaContext

        from app import app
        from chalicelib.core.config import get_settings
        from chalicelib.entrypoints.wiring import wire
        from chalicelib.http import health
        from chalicelib.table import db

        wire()  # the demo seeding calls services directly, before any request or event has wired the ports
        get_settings.cache_clear()
        db.reset()
        # The server's workers, the pump's batches and the scheduler run the app in parallel threads.
        isolate_requests(app)
        self.app = app
        db.ensure_table(db.dynamodb_client(), settings.table_name)
        data = settings.data_dir
        self.pump = StreamPump(
            db.streams_client(),
            db.stream_arn(db.dynamodb_client(), settings.table_name),
            stream_handler(app),
            checkpoints=CheckpointStore(data / "stream-checkpoints.json" if data else None),
            dead_letters=DeadLetters(data / "stream-dead-letters" if data else None),
            batch_size=settings.batch_size,
            batching_window=settings.batching_window,
            parallelization=settings.parallelization,
            context_factory=lambda: LambdaContext("stream_handler", 1024),
        )
        self.scheduler = Scheduler(app)
        self.server = LocalServer(app, settings.host, settings.port, ROOT / "web", workers=settings.workers)
        health.register_probe("stream_pump", self.pump.healthy)
        health.register_probe("scheduler", self.scheduler.healthy)

    @property
    def url(self) -> str:
        return f"http://localhost:{self.server.port}"

    def start(self) -> None:
        self.wechat.start()
        self.payments.start()
        self.pump.start()
        self.scheduler.start()
        self.server.start()

    def stop(self) -> None:
        from chalicelib.http import health

        self.server.stop()
        self.scheduler.stop()
        self.pump.stop()
        self.wechat.stop()
        self.payments.stop()
        health.clear_probes()
        self._restore_environment()

    def _restore_environment(self) -> None:
        from chalicelib.core.config import get_settings

        for name in set(os.environ) - set(self._saved_environment):
            del os.environ[name]
        os.environ.update(self._saved_environment)
        get_settings.cache_clear()
