"""Engine benchmark: synchronous writes per request, stream coalescing, CPU per join (prints a table).

Runs against a fresh in-memory DynamoDB Local, through the app's own request path
(Chalice's test client) and the local stream pump. Figures are counts and ratios, which
hold on any machine; absolute times are printed only to explain the ratios.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.common import api_caller  # noqa: E402 - after the path that makes it importable

WRITE_OPS = {"PutItem", "UpdateItem", "DeleteItem", "TransactWriteItems", "BatchWriteItem"}
JOINS = 200
INVITERS = 4
INVITEES = 400
GROUP_JOINS = 40
ASSISTS = 30
# Publishing checks the campaign against the compliance rules; a real rule text passes them.
RULE_TEXT = "Each person can take part once. Rewards are issued within 24 hours and expire after 30 days."


class OpCounter:
    """Counts DynamoDB operations by name on every botocore client the app uses."""

    def __init__(self) -> None:
        self.ops: Counter[str] = Counter()

    def __call__(self, model: Any, **_: Any) -> None:
        self.ops[model.name] += 1

    def writes(self) -> int:
        return sum(n for op, n in self.ops.items() if op in WRITE_OPS)

    @contextmanager
    def counting(self) -> Iterator[None]:
        self.ops.clear()
        yield


def attach(counter: OpCounter) -> None:
    from chalicelib.table import db
    from chalicelib.table.models import ALL_MODELS

    db.ensure_bound()
    # Each PynamoDB model class holds its own connection and botocore client.
    clients = {id(c): c for c in [m._get_connection().connection.client for m in ALL_MODELS] + [db.dynamodb_client()]}
    for client in clients.values():
        client.meta.events.register("before-call.dynamodb", counter)


def window() -> dict[str, str]:
    start = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=1)
    return {
        "starts_at": start.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "ends_at": (start + timedelta(days=7)).strftime("%Y-%m-%dT%H:%M:%SZ"),
    }


def main() -> int:
    from local.dynamo import DynamoDBLocal, free_port

    with DynamoDBLocal(free_port()) as dynamo, tempfile.TemporaryDirectory() as tmp:
        os.environ.update(
            FISSION_STAGE="test", FISSION_DYNAMODB_ENDPOINT=dynamo.endpoint, FISSION_TABLE_NAME="fission-bench",
            FISSION_SECRETS_DIR=tmp, POWERTOOLS_TRACE_DISABLED="true", POWERTOOLS_METRICS_DISABLED="true",
            POWERTOOLS_LOG_LEVEL="ERROR", AWS_DEFAULT_REGION="us-east-1",
        )  # fmt: skip
        return run(Path(tmp))


def run(tmp: Path) -> int:

    from chalice.local import LambdaEventConverter
    from chalice.test import Client

    from app import app
    from chalicelib.table import db
    from local.pump import CheckpointStore, StreamPump
    from local.stack import stream_handler

    db.ensure_table(db.dynamodb_client(), "fission-bench")
    counter = OpCounter()
    attach(counter)
    # The test client reports 127.0.0.1 for every request; report no address, as the test session does, or
    # the fraud velocity windows would hold most of the joins measured (all from one address).
    LambdaEventConverter.LOCAL_SOURCE_IP = ""
    client = Client(app, stage_name="local")

    call = api_caller(client)

    from chalicelib.accounts.tenants import ensure_tenant

    ensure_tenant("bench", "Bench", "owner@bench.cn", "bench-password", datetime.now(UTC))
    owner = call("POST", "/v1/admin/login", {"email": "owner@bench.cn", "password": "bench-password"})["token"]

    def campaign(mode: str, rules: dict[str, Any]) -> str:
        body = {"title": mode, "mode": mode, **window(), "rules": rules, "rule_text": RULE_TEXT}
        cid = str(call("POST", "/v1/admin/campaigns", body, owner)["campaign_id"])
        call("POST", f"/v1/admin/campaigns/{cid}/publish", token=owner)
        return cid

    coupon = {"type": "coupon", "name": "5 yuan", "value_fen": 500}
    invite = campaign("invite", {"milestones": [{"invites": 1, "reward": coupon}, {"invites": 50, "reward": coupon}]})

    # Joins prove who joins with the merchant's signed assertion (the default identity mode).
    from chalicelib.accounts import identity_keys
    from chalicelib.core.rbac import Principal, Role
    from chalicelib.security import assertions

    # Made in-process, as the local seeding does: the bench owner has no authenticator for the step-up.
    key = identity_keys.issue(Principal("bench", "owner@bench.cn", Role.OWNER), datetime.now(UTC))

    def signed(user: str) -> str:
        now = int(time.time())
        claims = {"iss": "bench", "sub": user, "aud": "fission", "iat": now, "exp": now + 600}
        return assertions.sign(claims, key["key_id"], key["secret"].encode())

    def join(cid: str, ref: str | None = None, assertion: str | None = None) -> Any:
        body = {"assertion": assertion or signed(uuid.uuid4().hex), **({"ref": ref} if ref else {})}
        return call("POST", f"/v1/campaigns/{cid}/participants", body)

    join(invite)  # warm caches (campaign document, keys) before measuring
    rows: list[tuple[str, str, str]] = []

    # 1. Synchronous writes per invite registration, and CPU per join vs a bare put_item (the merchant's
    # signing happens before the clock starts: it is the merchant server's cost, not ours).
    inviter = join(invite)["invite_code"]
    signed_users = [signed(uuid.uuid4().hex) for _ in range(JOINS)]
    with counter.counting():
        cpu = time.process_time()
        for assertion in signed_users:
            join(invite, ref=inviter, assertion=assertion)
        join_cpu = (time.process_time() - cpu) / JOINS
    rows.append(("writes per invite registration", f"{counter.writes() / JOINS:.2f}", "target exactly 1"))
    rows.append(("reads per invite registration", f"{(sum(counter.ops.values()) - counter.writes()) / JOINS:.2f}",
                 "inviter lookup; campaign from the 5 s cache"))  # fmt: skip

    raw = db.dynamodb_client()
    cpu = time.process_time()
    for i in range(JOINS):
        raw.put_item(TableName="fission-bench", Item={"PK": {"S": f"BENCH#{i}"}, "SK": {"S": "X"}})
    put_cpu = (time.process_time() - cpu) / JOINS
    # The floor under the join: its two storage calls alone (the inviter's GetItem, a PutItem), bare botocore.
    from chalicelib.table import keys

    inviter_key = {"PK": {"S": keys.participant_pk(inviter)}, "SK": {"S": keys.META}}
    cpu = time.process_time()
    for i in range(JOINS):
        raw.get_item(TableName="fission-bench", Key=inviter_key)
        raw.put_item(TableName="fission-bench", Item={"PK": {"S": f"BENCH#F{i}"}, "SK": {"S": "X"}})
    calls_cpu = (time.process_time() - cpu) / JOINS
    rows.append(("CPU per join / CPU per bare put_item", f"{join_cpu / put_cpu:.1f}x",
                 f"{join_cpu * 1000:.2f} ms vs {put_cpu * 1000:.2f} ms; the whole request: HTTP layer, middleware, "
                 "assertion check, fraud, PII, GetItem + PutItem"))  # fmt: skip
    rows.append(("  of which floor: bare get_item + put_item", f"{calls_cpu / put_cpu:.1f}x",
                 f"{calls_cpu * 1000:.2f} ms: the join's two storage calls through botocore alone"))  # fmt: skip

    # 2. Writes per group join.
    tiers = [{"size": 50, "price_fen": 4900}]
    group_cid = campaign("group_buy", {"product": {"sku": "S", "name": "Serum"}, "original_price_fen": 9900,
                                       "tiers": tiers})  # fmt: skip
    leader = join(group_cid)
    gid = call("POST", f"/v1/campaigns/{group_cid}/groups", {}, leader["token"])["group_id"]
    members = [join(group_cid)["token"] for _ in range(GROUP_JOINS)]
    with counter.counting():
        for token in members:
            call("POST", f"/v1/groups/{gid}/members", {}, token)
    rows.append(("writes per group join", f"{counter.writes() / GROUP_JOINS:.2f}",
                 "one transaction: member + count < size"))  # fmt: skip

    # 3. Writes per assist help (the first help also writes the cut plan).
    assist_cid = campaign("assist", {"goal": "cut_price", "product": {"sku": "S", "name": "Serum"},
                                     "original_price_fen": 10000, "floor_price_fen": 100, "helpers_required": 50,
                                     "min_cut_fen": 100, "max_cut_fen": 400})  # fmt: skip
    owner = join(assist_cid)["invite_code"]
    helpers = [join(assist_cid)["token"] for _ in range(ASSISTS + 1)]
    call("POST", f"/v1/campaigns/{assist_cid}/assists/{owner}", {}, helpers[0])
    with counter.counting():
        for token in helpers[1:]:
            call("POST", f"/v1/campaigns/{assist_cid}/assists/{owner}", {}, token)
    rows.append(("writes per assist help", f"{counter.writes() / ASSISTS:.2f}",
                 "helper's daily counter + one slot claim"))  # fmt: skip

    # 4. Stream coalescing: invites concentrated on a few inviters, batches of 100.
    pump = StreamPump(
        db.streams_client(), db.stream_arn(raw, "fission-bench"), stream_handler(app),
        checkpoints=CheckpointStore(tmp / "checkpoints.json"), batch_size=100,
    )  # fmt: skip
    pump.drain(timeout=120)
    inviters = [join(invite)["invite_code"] for _ in range(INVITERS)]
    pump.drain(timeout=120)
    for i in range(INVITEES):
        join(invite, ref=inviters[i % INVITERS])
    from chalicelib.referral.rules.records import ParticipantRecord
    from chalicelib.referral.store import participants as participant_store

    counted_writes: list[int] = []
    add_counted = participant_store.add_counted

    def counting_add(inviter_code: str, invitee_codes: set[str]) -> ParticipantRecord:
        counted_writes.append(len(invitee_codes))
        return add_counted(inviter_code, invitee_codes)

    from chalicelib.analytics.store import counters as analytics_store

    day_updates: list[int] = []
    apply = analytics_store.apply

    def counting_apply(*args: Any, **kwargs: Any) -> bool:
        day_updates.append(1)
        return apply(*args, **kwargs)

    from chalicelib.audience.store import profiles as audience_store

    profile_saves: list[int] = []
    profile_transactions: list[int] = []
    save_profile, save_profiles, commit = audience_store.save, audience_store.save_all, audience_store._commit

    def counting_save(*args: Any, **kwargs: Any) -> bool:
        profile_saves.append(1)
        profile_transactions.append(1)
        return save_profile(*args, **kwargs)

    def counting_save_all(writes: Any) -> Any:
        lost = save_profiles(writes)
        profile_saves.append(len(writes) - len(lost))
        return lost

    def counting_commit(group: Any) -> Any:
        profile_transactions.append(1)
        return commit(group)

    participant_store.add_counted = counting_add
    analytics_store.apply = counting_apply
    counting = {"save": counting_save, "save_all": counting_save_all, "_commit": counting_commit}
    for name, wrapper in counting.items():
        setattr(audience_store, name, wrapper)
    with counter.counting():
        records = pump.drain(timeout=120)
    participant_store.add_counted = add_counted
    analytics_store.apply = apply
    for name, original in {"save": save_profile, "save_all": save_profiles, "_commit": commit}.items():
        setattr(audience_store, name, original)
    rows.append(("stream records per counter write", f"{records / max(len(counted_writes), 1):.1f}",
                 f"{records} records, {len(counted_writes)} inviter progress writes; target >= 20"))  # fmt: skip
    transactions = counter.ops["TransactWriteItems"] - len(day_updates) - len(profile_transactions)
    rows.append(("reward transactions in that drain", str(transactions),
                 f"{INVITERS} inviters x 2 milestones (1 and 50 invites), each issued once"))  # fmt: skip
    rows.append(("analytics day-counter updates", str(len(day_updates)),
                 "one per (campaign, day) per batch, whatever the batch's facts"))  # fmt: skip
    rows.append(("profile writes in that drain", str(sum(profile_saves)),
                 f"{INVITEES + INVITERS} people; at most one write per person a batch changes"))  # fmt: skip
    rows.append(("profile transactions in that drain", str(len(profile_transactions)),
                 "several people to a transaction"))  # fmt: skip
    rows.append(("stream handler invocations", str(pump.invocations), "batch size 100"))
    rows.append(segment_evaluation())

    width = max(len(r[0]) for r in rows)
    print(f"\n{'metric'.ljust(width)}  {'value':>8}  note")
    print(f"{'-' * width}  {'-' * 8}  {'-' * 40}")
    for name, value, note in rows:
        print(f"{name.ljust(width)}  {value:>8}  {note}")
    return 0


def segment_evaluation(people: int = 20_000) -> tuple[str, str, str]:
    """How fast one segment is evaluated over profiles (the search and preview cost beside the reads)."""
    from chalicelib.audience.rules import segments

    expr = segments.parse("tag:invited AND spend >= 10000 AND NOT last_seen < 30d OR orders >= 3")
    now = datetime.now(UTC)
    views = [
        {"tags": {"invited"} if i % 2 else set(), "spend": i * 7 % 40_000, "orders": i % 5,
         "last_seen": (now - timedelta(days=i % 90)).strftime("%Y-%m-%dT%H:%M:%SZ")}
        for i in range(people)
    ]  # fmt: skip
    started = time.process_time()
    matched = sum(segments.evaluate(expr, view, now) for view in views)
    per_profile = (time.process_time() - started) / people * 1e6
    return ("segment evaluation per profile", f"{per_profile:.1f} us", f"{people} profiles, {matched} matched")


if __name__ == "__main__":
    raise SystemExit(main())
