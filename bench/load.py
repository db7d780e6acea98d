"""Load benchmark: the local stack under landing-page traffic from many concurrent clients (prints tables).

Starts the whole local stack (local/stack.py: API server, stream pump, scheduler) on free ports against an
in-memory DynamoDB Local, seeds a tenant and a signed-identity invite campaign (its identity key issued
in-process, as the local seeding does; assertions are signed before the clock starts: that is the merchant
server's cost, not ours) and a few inviters. Then, for 16, 64 and 256 concurrent clients, each client plays
phones arriving from a shared link: view beacon, the short link /v1/i/{code}, a join with `ref`, and `me`,
over one keep-alive connection per client (reopened when the server closes it).

Each phone has its own address, as a real burst from many phones would: the server trusts the loopback
peer as a proxy (FISSION_TRUSTED_PROXIES=127.0.0.1/32) and each visit sends its own X-Forwarded-For and
device id, so the per-IP and per-device rate limits and fraud velocity rules apply per phone, as deployed.

The load runs in a child process (stdlib only), so the clients do not share the server's interpreter lock.
Stream lag is the time from a join's answer until the invitee is in its inviter's counted (or held) set,
as the inviter's `me` shows it; the table is polled every 100 ms. Bounded: a fixed number of visits per
level, each level and each settle wait with a deadline; loopback only.

    .venv/bin/python bench/load.py [--visits 320] [--burst 800]
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import socket
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from multiprocessing import get_context
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.common import cpu_seconds  # noqa: E402 - after the path that makes it importable

LEVELS = (16, 64, 256)
INVITERS = 8
BURST_CLIENTS = 64
LEVEL_DEADLINE = 45.0  # seconds a level may run before its clients stop taking visits
SETTLE_DEADLINE = 60.0  # seconds to wait for the stream after a level
POLL = 0.1
RULE_TEXT = "Each person can take part once. Rewards are issued within 24 hours and expire after 30 days."
# What a connection that the server dropped or refused looks like to a client.
RESETS = (ConnectionError, http.client.RemoteDisconnected, http.client.BadStatusLine)


@dataclass(frozen=True)
class Visit:
    assertion: str
    ref: str
    address: str
    device: str
    browse: bool  # False in the join-only burst


@dataclass
class Result:
    kind: str
    status: int  # 0: no answer (reset, timeout)
    latency: float
    error: str = ""
    code: str = ""  # the joined participant's code
    answered_at: float = 0.0  # wall clock, comparable across processes


# --- the load (child process, stdlib only) --------------------------------------------------------------


class _Client:
    """One phone's browser: a keep-alive connection, reopened after the server closes or drops it."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.conn: http.client.HTTPConnection | None = None

    def call(self, kind: str, method: str, path: str, headers: dict[str, str], body: Any = None) -> tuple[Result, Any]:
        data = None if body is None else json.dumps(body).encode()
        sent = {**headers, **({"Content-Type": "application/json"} if data is not None else {})}
        started = time.monotonic()
        try:
            if self.conn is None:
                self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
            self.conn.request(method, path, body=data, headers=sent)
            response = self.conn.getresponse()
            raw = response.read()
            if response.will_close:
                self.conn.close()
                self.conn = None
        except (TimeoutError, *RESETS) as exc:
            self._drop()
            kind_of_error = "timeout" if isinstance(exc, TimeoutError) else "reset"
            return Result(kind, 0, time.monotonic() - started, kind_of_error), None
        latency = time.monotonic() - started
        try:
            answer = json.loads(raw) if raw else None
        except ValueError:
            answer = None
        return Result(kind, response.status, latency, answered_at=time.time()), answer

    def _drop(self) -> None:
        if self.conn is not None:
            self.conn.close()
        self.conn = None


def _visit(client: _Client, cid: str, visit: Visit) -> list[Result]:
    who = {"X-Forwarded-For": visit.address, "X-Device-Id": visit.device}
    results: list[Result] = []
    if visit.browse:
        beacon = {"type": "view", "channel": "wechat"}
        results.append(client.call("view", "POST", f"/v1/campaigns/{cid}/events", who, beacon)[0])
        results.append(client.call("link", "GET", f"/v1/i/{visit.ref}?ch=wechat", who)[0])
    joined, answer = client.call(
        "join", "POST", f"/v1/campaigns/{cid}/participants", who, {"assertion": visit.assertion, "ref": visit.ref}
    )
    if isinstance(answer, dict):
        joined.code = str(answer.get("invite_code") or "")
    results.append(joined)
    if visit.browse and joined.status in (200, 201) and isinstance(answer, dict):
        me = {**who, "Authorization": f"Bearer {answer['token']}"}
        results.append(client.call("me", "GET", f"/v1/campaigns/{cid}/me", me)[0])
    return results


def drive(port: int, cid: str, visits: list[Visit], clients: int, deadline: float) -> tuple[list[Result], float]:
    """Run `visits` with `clients` concurrent clients; returns every request's result and the wall time."""
    queue = list(reversed(visits))
    lock = threading.Lock()
    results: list[Result] = []
    stop_at = time.monotonic() + deadline

    def client_loop() -> None:
        client = _Client(port)
        mine: list[Result] = []
        while time.monotonic() < stop_at:
            with lock:
                if not queue:
                    break
                visit = queue.pop()
            mine += _visit(client, cid, visit)
        client._drop()
        with lock:
            results.extend(mine)

    threads = [threading.Thread(target=client_loop) for _ in range(clients)]
    started = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results, time.monotonic() - started


# --- the stack and the measurement (this process) -------------------------------------------------------


@dataclass
class Watcher:
    """Polls the inviters' counted and held sets; remembers when each invitee first showed up there."""

    inviters: list[str]
    first_seen: dict[str, float] = field(default_factory=dict)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="bench-watcher", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        from chalicelib.core.config import get_settings
        from chalicelib.table import db, keys

        # One strongly consistent BatchGetItem per poll: the watcher should not be a load of its own.
        client, table = db.dynamodb_client(), get_settings().table_name
        wanted = {
            table: {
                "Keys": [{"PK": {"S": keys.participant_pk(code)}, "SK": {"S": keys.META}} for code in self.inviters],
                "ProjectionExpression": "counted, held",
                "ConsistentRead": True,
            }
        }
        while not self._stop.is_set():
            items = client.batch_get_item(RequestItems=wanted)["Responses"].get(table, [])
            seen = time.time()
            for item in items:
                for invitee in [*item.get("counted", {}).get("SS", []), *item.get("held", {}).get("SS", [])]:
                    self.first_seen.setdefault(invitee, seen)
            self._stop.wait(POLL)

    def settle(self, codes: list[str], timeout: float) -> bool:
        """Wait until every code has been seen (True) or `timeout` passes (False)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if all(code in self.first_seen for code in codes):
                return True
            time.sleep(POLL)
        return False

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


@dataclass
class Level:
    clients: int
    visits: int
    results: list[Result]
    wall: float
    lags: list[float]
    unsettled: int

    def joins(self) -> list[Result]:
        return [r for r in self.results if r.kind == "join" and r.status in (200, 201)]

    def row(self) -> list[str]:
        latencies = [r.latency * 1000 for r in self.results if r.status]
        errors = Counter(str(r.status) for r in self.results if r.status >= 400)
        expected = {"link": 302, "view": 202, "join": 201, "me": 200}
        errors += Counter(f"{r.status}" for r in self.results if 0 < r.status < 400 and r.status != expected[r.kind])
        resets = sum(1 for r in self.results if r.error == "reset")
        timeouts = sum(1 for r in self.results if r.error == "timeout")
        lag = (
            f"{percentile(self.lags, 0.5):.2f} / {percentile(self.lags, 0.95):.2f}"
            + (f" ({self.unsettled} unsettled)" if self.unsettled else "")
            if self.lags or self.unsettled
            else "-"
        )
        return [
            str(self.clients),
            str(len(self.results)),
            f"{len(self.joins()) / self.wall:.1f}",
            f"{percentile(latencies, 0.5):.0f}",
            f"{percentile(latencies, 0.95):.0f}",
            f"{percentile(latencies, 0.99):.0f}",
            ", ".join(f"{k}x{v}" for k, v in sorted(errors.items())) or "-",
            str(resets),
            str(timeouts),
            lag,
        ]


def measure(
    pool: ProcessPoolExecutor, port: int, cid: str, watcher: Watcher, visits: list[Visit], clients: int
) -> Level:
    results, wall = pool.submit(drive, port, cid, visits, clients, LEVEL_DEADLINE).result()
    joined = [r for r in results if r.kind == "join" and r.status in (200, 201) and r.code]
    settled = watcher.settle([r.code for r in joined], SETTLE_DEADLINE)
    lags = [max(0.0, watcher.first_seen[r.code] - r.answered_at) for r in joined if r.code in watcher.first_seen]
    unsettled = 0 if settled else sum(1 for r in joined if r.code not in watcher.first_seen)
    return Level(clients, len(visits), results, wall, lags, unsettled)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--visits", type=int, default=320, help="visits per concurrency level")
    parser.add_argument("--burst", type=int, default=800, help="joins in the join-only burst")
    args = parser.parse_args()
    from local.dynamo import DynamoDBLocal, free_port

    with DynamoDBLocal(free_port()) as dynamo, tempfile.TemporaryDirectory() as tmp:
        os.environ.update(
            FISSION_SECRETS_DIR=tmp,
            FISSION_AUDIT_ANCHOR_FILE=str(Path(tmp) / "audit-anchors.jsonl"),
            FISSION_POSTER_CACHE_DIR=str(Path(tmp) / "posters"),
            FISSION_TRUSTED_PROXIES="127.0.0.1/32",
            POWERTOOLS_LOG_LEVEL="ERROR",
            POWERTOOLS_TRACE_DISABLED="true",
            POWERTOOLS_METRICS_DISABLED="true",
        )
        return run(dynamo.endpoint, free_port(), args.visits, args.burst, dynamo.pid)


def run(endpoint: str, port: int, visits_per_level: int, burst: int, dynamo_pid: int | None) -> int:
    from chalice.test import Client

    from chalicelib.accounts import identity_keys
    from chalicelib.accounts.tenants import ensure_tenant
    from chalicelib.core.rbac import Principal, Role
    from chalicelib.security import assertions
    from local.stack import LocalStack, StackSettings

    stack = LocalStack(StackSettings(endpoint=endpoint, table_name="fission-load", port=port))
    now = datetime.now(UTC)
    ensure_tenant("load", "Load", "owner@load.cn", "load-password-1", now)
    client = Client(stack.app, stage_name="local")

    def call(method: str, path: str, body: Any = None, token: str | None = None) -> Any:
        headers = {"Content-Type": "application/json", **({"Authorization": f"Bearer {token}"} if token else {})}
        response = client.http.request(method, path, headers=headers, body=json.dumps(body).encode() if body else b"")
        assert response.status_code < 400, response.json_body
        return response.json_body

    owner = call("POST", "/v1/admin/login", {"email": "owner@load.cn", "password": "load-password-1"})["token"]
    start = now.replace(microsecond=0) - timedelta(hours=1)
    coupon = {"type": "coupon", "name": "5 yuan", "value_fen": 500}
    campaign = {
        "title": "load",
        "mode": "invite",
        "starts_at": start.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "ends_at": (start + timedelta(days=7)).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "rules": {"milestones": [{"invites": 1, "reward": coupon}, {"invites": 50, "reward": coupon}]},
        "rule_text": RULE_TEXT,
    }
    cid = str(call("POST", "/v1/admin/campaigns", campaign, owner)["campaign_id"])
    call("POST", f"/v1/admin/campaigns/{cid}/publish", token=owner)
    key = identity_keys.issue(Principal("load", "owner@load.cn", Role.OWNER), now)

    def signed(user: str) -> str:
        issued = int(time.time())
        claims = {"iss": "load", "sub": user, "aud": "fission", "iat": issued, "exp": issued + 900}
        return assertions.sign(claims, key["key_id"], key["secret"].encode())

    inviters = [str(call("POST", f"/v1/campaigns/{cid}/participants", {"assertion": signed(f"inviter-{i}")})
                    ["invite_code"]) for i in range(INVITERS)]  # fmt: skip
    serial = iter(range(1, 1 << 24))

    def visits(count: int, browse: bool) -> list[Visit]:
        made = []
        for _ in range(count):
            n = next(serial)
            address = f"10.{n >> 16 & 255}.{n >> 8 & 255}.{n & 255}"
            made.append(Visit(signed(uuid.uuid4().hex), inviters[n % INVITERS], address, f"dev-{n}", browse))
        return made

    stack.start()
    watcher = Watcher(inviters)
    watcher.start()
    levels: list[Level] = []
    try:
        with ProcessPoolExecutor(max_workers=1, mp_context=get_context("spawn")) as pool:
            pool.submit(time.sleep, 0).result()  # the child is up before the clock starts
            for clients in LEVELS:
                levels.append(measure(pool, port, cid, watcher, visits(visits_per_level, True), clients))
            burst_visits = visits(burst, False)
            cpu = (time.process_time(), cpu_seconds(dynamo_pid), time.monotonic())
            burst_level = measure(pool, port, cid, watcher, burst_visits, BURST_CLIENTS)
            cpu = (time.process_time() - cpu[0], cpu_seconds(dynamo_pid) - cpu[1], time.monotonic() - cpu[2])
    finally:
        watcher.stop()
        stack.stop()

    print(f"\nlanding-page visits (beacon, short link, join with ref, me), {visits_per_level} visits per level")
    head = ["clients", "requests", "joins/s", "p50 ms", "p95 ms", "p99 ms", "errors", "resets", "timeouts",
            "lag p50 / p95 s"]  # fmt: skip
    _table(head, [level.row() for level in levels])

    joins = burst_level.joins()
    last = max((r.answered_at for r in joins), default=0.0)
    seen = [watcher.first_seen[r.code] for r in joins if r.code in watcher.first_seen]
    settled = (
        f"{max(0.0, max(seen) - last):.2f} s after the last join"
        if seen and not burst_level.unsettled
        else f"not settled within {SETTLE_DEADLINE:.0f} s ({burst_level.unsettled} joins not yet counted)"
    )
    print(f"\n{burst}-join burst, {BURST_CLIENTS} clients, joins only")
    _table(head, [burst_level.row()])
    print(f"stream settled: {settled}")
    print(
        f"CPU from the burst's start until settled ({cpu[2]:.1f} s): the stack's process {cpu[0]:.1f} s,"
        f" DynamoDB Local {cpu[1]:.1f} s (one core is at most {cpu[2]:.1f} s; the clients run apart)"
    )
    return 0


def _table(head: list[str], rows: list[list[str]]) -> None:
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(head)]
    print("  ".join(h.rjust(w) for h, w in zip(head, widths, strict=True)))
    print("  ".join("-" * w for w in widths))
    for row in rows:
        print("  ".join(c.rjust(w) for c, w in zip(row, widths, strict=True)))


if __name__ == "__main__":
    socket.setdefaulttimeout(60)
    raise SystemExit(main())
