"""Cold-start benchmark: the CPU of `import app` and of each landing-page route's first request, in fresh
processes, against `import boto3` (prints tables).

A Lambda container pays for the handler module's imports before its first request, and for whatever that
request imports next; on a 512 MB function (about a third of a core) every 100 ms of CPU here is about 300 ms
of cold start. Each figure is the median of `--runs` fresh interpreters (CPU time, user + system, of the child
itself), so it holds on a shared machine where wall-clock times do not.

1. `import app` against `import boto3`.
2. Each public route's first request: a fresh interpreter imports `app` and calls it once with an API Gateway
   proxy event, as Lambda does, against a DynamoDB Local seeded with a tenant and one campaign per mode (rate
   limits on, as deployed). The ratio is the whole (import and first request) against `import boto3`.
3. `python -X importtime`: the modules whose own import time is largest, from one more fresh process.

    .venv/bin/python bench/coldstart.py [--runs 7] [--top 15] [--no-routes]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent

# The child measures its own CPU once the import is done: the interpreter's start-up is in both sides.
PROBE = """
import os, resource, sys
sys.path.insert(0, {root!r})
{statement}
usage = resource.getrusage(resource.RUSAGE_SELF)
print(usage.ru_utime + usage.ru_stime)
"""
CASES = {
    "python (nothing imported)": "pass",
    "import boto3": "import boto3",
    "import app": "import app",
}
BASELINE = "import boto3"

# One request in a fresh process, the way Lambda makes it: `app.app(event, context)` with a proxy event.
FIRST_REQUEST = """
import json, os, resource, sys
sys.path.insert(0, {root!r})


def cpu():
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


import app

imported = cpu()
spec = json.loads(os.environ["COLDSTART_REQUEST"])


class Context:
    function_name = "fission-api"
    function_version = "$LATEST"
    memory_limit_in_mb = 512
    invoked_function_arn = "arn:aws:lambda:us-east-1:000000000000:function:fission-api"
    aws_request_id = "cold-start"


event = {{
    "resource": spec["resource"],
    "path": spec["path"],
    "httpMethod": spec["method"],
    "headers": spec["headers"],
    "multiValueHeaders": {{k: [v] for k, v in spec["headers"].items()}},
    "queryStringParameters": None,
    "multiValueQueryStringParameters": None,
    "pathParameters": spec["params"],
    "stageVariables": None,
    "requestContext": {{
        "resourcePath": spec["resource"],
        "httpMethod": spec["method"],
        "path": spec["path"],
        "requestId": "cold-start",
        "stage": "bench",
        "identity": {{"sourceIp": spec["ip"]}},
    }},
    "body": spec["body"],
    "isBase64Encoded": False,
}}
response = app.app(event, Context())
print(json.dumps({{"imported": imported, "total": cpu(), "status": response["statusCode"]}}))
"""


@dataclass
class Route:
    """A landing page's request: the resource path (as routed), its parameters, and what each run sends."""

    label: str
    method: str
    resource: str
    params: dict[str, str]
    token: str | None = None
    body: Callable[[int], Any] | None = None  # the run's body (runs that write send fresh values)
    auth: Callable[[int], str] | None = None  # the run's bearer token, when each run needs its own
    statuses: set[int] = field(default_factory=lambda: {200})

    def request(self, run: int) -> dict[str, Any]:
        path = self.resource
        for name, value in self.params.items():
            path = path.replace("{" + name + "}", value)
        headers = {"content-type": "application/json", "accept": "application/json", "user-agent": "coldstart"}
        token = self.auth(run) if self.auth else self.token
        if token:
            headers["authorization"] = f"Bearer {token}"
        body = self.body(run) if self.body else None
        return {
            "method": self.method,
            "resource": self.resource,
            "path": path,
            "params": self.params,
            "headers": headers,
            "body": None if body is None else json.dumps(body),
            "ip": f"203.0.113.{run % 250 + 1}",  # every run is another visitor: no limit or velocity rule trips
        }


def _environment() -> dict[str, str]:
    """What the function's environment would hold locally: the app reads settings lazily, so none are needed
    to import it; bytecode is written once and then reused, as in a deployed package."""
    env = dict(os.environ)
    env.setdefault("FISSION_STAGE", "local")
    env.setdefault("POWERTOOLS_TRACE_DISABLED", "true")  # as .chalice/config.json sets for every stage
    return env


def cpu_seconds(statement: str) -> float:
    code = PROBE.format(root=str(ROOT), statement=statement)
    out = subprocess.run(
        [sys.executable, "-c", code], check=True, capture_output=True, text=True, cwd=ROOT, env=_environment()
    )
    return float(out.stdout.strip().splitlines()[-1])


def first_request(route: Route, run: int) -> dict[str, Any]:
    """One fresh process: `import app`, then the route's request; its CPU after each, and the status."""
    env = {**_environment(), "COLDSTART_REQUEST": json.dumps(route.request(run))}
    out = subprocess.run(
        [sys.executable, "-c", FIRST_REQUEST.format(root=str(ROOT))],
        check=False,
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=env,
    )
    if out.returncode != 0:
        raise RuntimeError(f"{route.label}: the child failed\n{out.stderr[-3000:]}")
    result: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    if result["status"] not in route.statuses:
        raise RuntimeError(f"{route.label}: answered {result['status']}, expected {sorted(route.statuses)}")
    return result


def import_times(statement: str) -> list[tuple[int, int, str]]:
    """(self µs, cumulative µs, module) per module from `-X importtime`, largest own time first."""
    code = f"import sys; sys.path.insert(0, {str(ROOT)!r}); {statement}"
    out = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", code],
        check=True,
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=_environment(),
    )
    rows: list[tuple[int, int, str]] = []
    for line in out.stderr.splitlines():
        if not line.startswith("import time:") or "self [us]" in line:
            continue
        own, cumulative, name = (part.strip() for part in line.removeprefix("import time:").split("|", 2))
        rows.append((int(own), int(cumulative), name.strip()))
    return sorted(rows, reverse=True)


# Publishing checks the campaign against the compliance rules; a real rule text passes them.
RULE_TEXT = "Each person can take part once. Rewards are issued within 24 hours and expire after 30 days."
PRODUCT = {"sku": "S", "name": "Serum"}
COUPON = {"type": "coupon", "name": "5 yuan", "value_fen": 500}


def seed(runs: int) -> list[Route]:
    """A tenant, one live campaign per mode and the participants the routes act as, made in this process
    through the app's own routes (Chalice's test client) and the local stream pump."""
    from chalice.local import LambdaEventConverter
    from chalice.test import Client

    from app import app
    from bench.common import api_caller
    from chalicelib.accounts import identity_keys
    from chalicelib.accounts.tenants import ensure_tenant
    from chalicelib.core.rbac import Principal, Role
    from chalicelib.security import assertions
    from chalicelib.table import db
    from local.pump import StreamPump
    from local.stack import stream_handler

    table = os.environ["FISSION_TABLE_NAME"]
    db.ensure_table(db.dynamodb_client(), table)
    LambdaEventConverter.LOCAL_SOURCE_IP = ""  # the seeding's joins come from no address, as in the tests
    client = Client(app, stage_name="local")
    pump = StreamPump(db.streams_client(), db.stream_arn(db.dynamodb_client(), table), stream_handler(app))
    pump.drain(timeout=60)
    call = api_caller(client)

    now = datetime.now(UTC)
    ensure_tenant("bench", "Bench", "owner@bench.cn", "bench-password", now)
    owner = call("POST", "/v1/admin/login", {"email": "owner@bench.cn", "password": "bench-password"})["token"]
    start = now.replace(microsecond=0) - timedelta(hours=1)
    window = {
        "starts_at": start.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "ends_at": (start + timedelta(days=7)).strftime("%Y-%m-%dT%H:%M:%SZ"),
    }

    def campaign(mode: str, rules: dict[str, Any]) -> str:
        body = {"title": mode, "mode": mode, **window, "rules": rules, "rule_text": RULE_TEXT}
        cid = str(call("POST", "/v1/admin/campaigns", body, owner)["campaign_id"])
        call("POST", f"/v1/admin/campaigns/{cid}/publish", token=owner)
        return cid

    key = identity_keys.issue(Principal("bench", "owner@bench.cn", Role.OWNER), now)

    def signed() -> str:
        moment = int(time.time())
        claims = {"iss": "bench", "sub": uuid.uuid4().hex, "aud": "fission", "iat": moment, "exp": moment + 600}
        return assertions.sign(claims, key["key_id"], key["secret"].encode())

    def join(cid: str, ref: str | None = None) -> dict[str, Any]:
        return dict(
            call("POST", f"/v1/campaigns/{cid}/participants", {"assertion": signed(), **({"ref": ref} if ref else {})})
        )

    invite = campaign("invite", {"milestones": [{"invites": 1, "reward": COUPON}]})
    inviter = join(invite)
    join(invite, ref=inviter["invite_code"])
    pump.drain(timeout=60)  # the stream handler counts the invite and issues the inviter's reward
    reward = call("GET", f"/v1/campaigns/{invite}/me", token=inviter["token"])["rewards"][0]["id"]
    tiers = [{"size": 50, "price_fen": 4900}]
    group_cid = campaign("group_buy", {"product": PRODUCT, "original_price_fen": 9900, "tiers": tiers})
    leader = join(group_cid)
    gid = call("POST", f"/v1/campaigns/{group_cid}/groups", {}, leader["token"])["group_id"]
    assist = campaign("assist", {"goal": "cut_price", "product": PRODUCT, "original_price_fen": 10000,
                                 "floor_price_fen": 100, "helpers_required": 50, "min_cut_fen": 100,
                                 "max_cut_fen": 400})  # fmt: skip
    assist_owner = join(assist)["invite_code"]
    helpers = [join(assist)["token"] for _ in range(runs + 1)]  # each helps once
    assertions_for_runs = [signed() for _ in range(runs + 1)]  # each run joins as someone new
    pump.drain(timeout=60)

    return [
        Route("campaign public view", "GET", "/v1/campaigns/{cid}/public", {"cid": invite}),
        Route("join (invite)", "POST", "/v1/campaigns/{cid}/participants", {"cid": invite},
              body=lambda run: {"assertion": assertions_for_runs[run], "ref": inviter["invite_code"]},
              statuses={201}),
        Route("me", "GET", "/v1/campaigns/{cid}/me", {"cid": invite}, token=inviter["token"]),
        Route("invite link /v1/i/{code}", "GET", "/v1/i/{code}", {"code": inviter["invite_code"]}, statuses={302}),
        Route("view beacon", "POST", "/v1/campaigns/{cid}/events", {"cid": invite}, body=lambda run: {"type": "view"},
              statuses={202}),
        Route("group view", "GET", "/v1/groups/{gid}", {"gid": gid}),
        Route("assist help", "POST", "/v1/campaigns/{cid}/assists/{owner_code}",
              {"cid": assist, "owner_code": assist_owner}, body=lambda run: {}, auth=lambda run: helpers[run]),
        Route("reward claim", "POST", "/v1/rewards/{rid}/claim", {"rid": reward}, token=inviter["token"],
              body=lambda run: {}),
    ]  # fmt: skip


def route_table(runs: int, base: float) -> None:
    from local.dynamo import DynamoDBLocal, free_port

    with DynamoDBLocal(free_port()) as dynamo, tempfile.TemporaryDirectory() as tmp:
        os.environ.update(
            FISSION_STAGE="test", FISSION_DYNAMODB_ENDPOINT=dynamo.endpoint, FISSION_TABLE_NAME="fission-coldstart",
            FISSION_SECRETS_DIR=tmp, FISSION_POSTER_CACHE_DIR=str(Path(tmp) / "posters"),
            FISSION_AUDIT_ANCHOR_FILE=str(Path(tmp) / "anchors.jsonl"), POWERTOOLS_METRICS_DISABLED="true",
            POWERTOOLS_LOG_LEVEL="ERROR", AWS_DEFAULT_REGION="us-east-1",
        )  # fmt: skip
        routes = seed(runs)
        os.environ["FISSION_RATE_LIMITS"] = "on"  # the children: as deployed, every public request is counted
        print(f"\n{'first request (fresh process)':<28}  {'status':>6}  {'import ms':>9}  {'request ms':>10}  "
              f"{'total ms':>8}  {'vs boto3':>8}")  # fmt: skip
        print(f"{'-' * 28}  {'-' * 6}  {'-' * 9}  {'-' * 10}  {'-' * 8}  {'-' * 8}")
        for route in routes:
            first_request(route, runs)  # the first run writes the bytecode of what the route imports
            results = [first_request(route, run) for run in range(runs)]
            imported = statistics.median(r["imported"] for r in results)
            total = statistics.median(r["total"] for r in results)
            request = statistics.median(r["total"] - r["imported"] for r in results)
            print(f"{route.label:<28}  {results[0]['status']:>6}  {imported * 1000:>9.0f}  {request * 1000:>10.0f}  "
                  f"{total * 1000:>8.0f}  {total / base:>7.2f}x")  # fmt: skip
        print(f"medians of {runs} fresh processes each; vs boto3 = (import + first request) / import boto3")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7, help="fresh processes per case (the median is printed)")
    parser.add_argument("--top", type=int, default=15, help="modules to list by their own import time")
    parser.add_argument("--no-routes", action="store_true", help="skip the first requests (no DynamoDB Local)")
    args = parser.parse_args()

    cpu_seconds("import app")  # the first run compiles the bytecode; a deployed package ships it compiled
    medians = {label: statistics.median(cpu_seconds(stmt) for _ in range(args.runs)) for label, stmt in CASES.items()}
    base = medians[BASELINE]
    print(f"\n{'case':<28}  {'CPU ms':>8}  {'vs boto3':>8}  note")
    print(f"{'-' * 28}  {'-' * 8}  {'-' * 8}  {'-' * 40}")
    for label, seconds in medians.items():
        print(f"{label:<28}  {seconds * 1000:>8.0f}  {seconds / base:>7.2f}x  median of {args.runs} fresh processes")

    if not args.no_routes:
        route_table(args.runs, base)

    rows = import_times("import app")
    total = sum(own for own, _, _ in rows)
    print(f"\n{'module (own import time)':<52}  {'own ms':>7}  {'with children ms':>16}")
    print(f"{'-' * 52}  {'-' * 7}  {'-' * 16}")
    for own, cumulative, name in rows[: args.top]:
        print(f"{name[:52]:<52}  {own / 1000:>7.1f}  {cumulative / 1000:>16.1f}")
    print(f"{'all modules':<52}  {total / 1000:>7.1f}")
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    raise SystemExit(main())
