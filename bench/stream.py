"""Stream handler benchmark: what one burst's stream costs per record, by consumer (prints tables).

Runs against a fresh in-memory DynamoDB Local: seeds a tenant, a signed-identity invite campaign and a few
inviters, makes a burst of invited joins through the app's request path (Chalice's test client; each phone
with its own address and device, as in bench/load.py) with the stream held back, then drains the stream
through the app's registered handler with the local pump's settings (batches of 100, 8 at once per shard).
Prints the DynamoDB calls per stream record by operation, the handler's CPU per record, DynamoDB Local's CPU
for the requests and for the stream and, with --profile, the handler's costliest functions (cProfile of
every invocation, merged).

    .venv/bin/python bench/stream.py [--joins 800] [--profile 25]
"""

from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.common import api_caller, cpu_seconds  # noqa: E402 - after the path that makes it importable

INVITERS = 8
RULE_TEXT = "Each person can take part once. Rewards are issued within 24 hours and expire after 30 days."


class HandlerOps:
    """DynamoDB operations by name, counted only on threads running the stream handler."""

    def __init__(self) -> None:
        self.ops: Counter[str] = Counter()
        self.inside = threading.local()
        self.lock = threading.Lock()

    def __call__(self, model: Any, **_: Any) -> None:
        if getattr(self.inside, "on", False):
            with self.lock:
                self.ops[model.name] += 1


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--joins", type=int, default=800, help="invited joins in the burst")
    parser.add_argument("--profile", type=int, default=0, metavar="N", help="print the handler's top N functions")
    args = parser.parse_args()
    from local.dynamo import DynamoDBLocal, free_port

    with DynamoDBLocal(free_port()) as dynamo, tempfile.TemporaryDirectory() as tmp:
        os.environ.update(
            FISSION_STAGE="test", FISSION_DYNAMODB_ENDPOINT=dynamo.endpoint, FISSION_TABLE_NAME="fission-stream",
            FISSION_SECRETS_DIR=tmp, POWERTOOLS_TRACE_DISABLED="true", POWERTOOLS_METRICS_DISABLED="true",
            POWERTOOLS_LOG_LEVEL="ERROR", AWS_DEFAULT_REGION="us-east-1", FISSION_TRUSTED_PROXIES="127.0.0.1/32",
        )  # fmt: skip
        return run(Path(tmp), args.joins, args.profile, dynamo.pid)


def run(tmp: Path, joins: int, top: int, dynamo_pid: int | None) -> int:
    from chalice.local import LambdaEventConverter
    from chalice.test import Client

    from app import app
    from chalicelib.accounts import identity_keys
    from chalicelib.accounts.tenants import ensure_tenant
    from chalicelib.core.rbac import Principal, Role
    from chalicelib.security import assertions
    from chalicelib.table import db
    from chalicelib.table.models import ALL_MODELS
    from local.pump import CheckpointStore, StreamPump
    from local.stack import StackSettings, stream_handler

    raw = db.dynamodb_client()
    db.ensure_table(raw, "fission-stream")
    # The client is a trusted proxy; each phone sends its own address and device (see join below).
    LambdaEventConverter.LOCAL_SOURCE_IP = "127.0.0.1"
    client = Client(app, stage_name="local")

    call = api_caller(client)

    now = datetime.now(UTC)
    ensure_tenant("bench", "Bench", "owner@bench.cn", "bench-password", now)
    owner = call("POST", "/v1/admin/login", {"email": "owner@bench.cn", "password": "bench-password"})["token"]
    start = now.replace(microsecond=0) - timedelta(hours=1)
    coupon = {"type": "coupon", "name": "5 yuan", "value_fen": 500}
    body = {
        "title": "stream", "mode": "invite", "starts_at": start.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "ends_at": (start + timedelta(days=7)).strftime("%Y-%m-%dT%H:%M:%SZ"), "rule_text": RULE_TEXT,
        "rules": {"milestones": [{"invites": 1, "reward": coupon}, {"invites": 50, "reward": coupon}]},
    }  # fmt: skip
    cid = str(call("POST", "/v1/admin/campaigns", body, owner)["campaign_id"])
    call("POST", f"/v1/admin/campaigns/{cid}/publish", token=owner)
    key = identity_keys.issue(Principal("bench", "owner@bench.cn", Role.OWNER), now)

    phones = iter(range(1, 1 << 24))

    def join(ref: str | None = None) -> str:
        n = next(phones)
        who = {"X-Forwarded-For": f"10.{n >> 16 & 255}.{n >> 8 & 255}.{n & 255}", "X-Device-Id": f"dev-{n}"}
        issued = int(time.time())
        claims = {"iss": "bench", "sub": uuid.uuid4().hex, "aud": "fission", "iat": issued, "exp": issued + 900}
        assertion = assertions.sign(claims, key["key_id"], key["secret"].encode())
        body = {"assertion": assertion, **({"ref": ref} if ref else {})}
        return str(call("POST", f"/v1/campaigns/{cid}/participants", body, **who)["invite_code"])

    settings = StackSettings(endpoint="", table_name="fission-stream")
    handler = stream_handler(app)
    ops = HandlerOps()
    db.ensure_bound()
    clients = {id(c): c for c in [m._get_connection().connection.client for m in ALL_MODELS] + [raw]}
    for botocore_client in clients.values():
        botocore_client.meta.events.register("before-call.dynamodb", ops)
    profiles: list[cProfile.Profile] = []
    cpu_lock = threading.Lock()
    # Python allows one profiler at a time: profiled invocations take turns (the CPU per record is the same).
    one_at_a_time = threading.Lock()
    handler_cpu = [0.0]

    def measured(event: dict[str, Any], context: Any) -> Any:
        profile = cProfile.Profile() if top else None
        ops.inside.on = True
        started = time.thread_time()
        try:
            if profile is None:
                return handler(event, context)
            with one_at_a_time:
                return profile.runcall(handler, event, context)
        finally:
            ops.inside.on = False
            with cpu_lock:
                handler_cpu[0] += time.thread_time() - started
                if profile is not None:
                    profiles.append(profile)

    pump = StreamPump(
        db.streams_client(), db.stream_arn(raw, "fission-stream"), measured,
        checkpoints=CheckpointStore(tmp / "checkpoints.json"), batch_size=settings.batch_size,
        parallelization=settings.parallelization,
    )  # fmt: skip
    inviters = [join() for _ in range(INVITERS)]
    pump.drain(timeout=120)
    ops.ops.clear()
    handler_cpu[0] = 0.0
    profiles.clear()
    pump.invocations = 0
    join_cpu = cpu_seconds(dynamo_pid)
    for i in range(joins):
        join(inviters[i % INVITERS])
    join_cpu = cpu_seconds(dynamo_pid) - join_cpu

    dynamo_cpu = cpu_seconds(dynamo_pid)
    wall = time.monotonic()
    records = pump.drain(timeout=600)
    wall = time.monotonic() - wall
    dynamo_cpu = cpu_seconds(dynamo_pid) - dynamo_cpu

    total = sum(ops.ops.values())
    print(f"\n{joins} invited joins to {INVITERS} inviters: {records} stream records, {pump.invocations} invocations")
    rows = [(op, str(n), f"{n / records:.2f}") for op, n in ops.ops.most_common()]
    rows.append(("all", str(total), f"{total / records:.2f}"))
    _table(["DynamoDB operation", "calls", "per record"], rows)
    print(
        f"drain {wall:.1f} s; handler CPU {handler_cpu[0]:.1f} s ({handler_cpu[0] / records * 1000:.2f} ms a record);"
        f" DynamoDB Local CPU {dynamo_cpu:.1f} s for the drain, {join_cpu:.1f} s for the joins' requests"
    )
    if profiles:
        stats = pstats.Stats(profiles[0])
        for profile in profiles[1:]:
            stats.add(profile)
        print("\nhandler profile (every invocation, cumulative time, wall clock of each thread):")
        stats.sort_stats("cumulative").print_stats(top)
    return 0


def _table(head: list[str], rows: Sequence[tuple[str, ...]]) -> None:
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(head)]
    print("  ".join(h.ljust(w) if i == 0 else h.rjust(w) for i, (h, w) in enumerate(zip(head, widths, strict=True))))
    print("  ".join("-" * w for w in widths))
    for row in rows:
        print("  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(row, widths, strict=True))))


if __name__ == "__main__":
    raise SystemExit(main())
