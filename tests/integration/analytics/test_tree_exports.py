"""The referral tree (roots by sharded index, subtrees by the children index) and CSV exports run by schedule."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import boto3
import pytest
from moto import mock_aws

from local.pump import StreamPump
from local.scheduler import Scheduler
from tests.conftest import Api, Clock, Tenant, join, live_campaign

# --- helpers ---------------------------------------------------------------------------------------


def tree(api: Api, token: str, cid: str, **params: Any) -> tuple[int, Any]:
    query = "&".join(f"{k}={v}" for k, v in params.items())
    return api.call("GET", f"/v1/admin/campaigns/{cid}/tree" + (f"?{query}" if query else ""), token=token)


def member(api: Api, cid: str, name: str, ref: str | None = None, nickname: str | None = None) -> str:
    fields: dict[str, Any] = {"external_id": name, "nickname": nickname or name}
    if ref is not None:
        fields["ref"] = ref
    status, body = join(api, cid, **fields)
    assert status == 201, body
    return str(body["invite_code"])


def codes(nodes: list[dict[str, Any]]) -> set[str]:
    return {n["code"] for n in nodes}


DRAIN_SECONDS = 120.0  # hundreds of joins, each with its rewards and counters


@pytest.fixture
def family(api: Api, tenant: Tenant, pump: StreamPump) -> dict[str, Any]:
    """Three roots; the first has three children, and its first child two grandchildren."""
    cid = live_campaign(api, tenant)
    roots = [member(api, cid, "root-0", nickname="张三丰"), member(api, cid, "root-1"), member(api, cid, "root-2")]
    children = [member(api, cid, f"child-{i}", ref=roots[0]) for i in range(3)]
    grandchildren = [member(api, cid, f"grandchild-{i}", ref=children[0]) for i in range(2)]
    other = member(api, cid, "child-of-root-1", ref=roots[1])
    pump.drain(timeout=DRAIN_SECONDS)
    return {"cid": cid, "roots": roots, "children": children, "grandchildren": grandchildren, "other": other}


# --- the tree --------------------------------------------------------------------------------------


def test_roots_are_paged_over_the_shards_without_the_invited(api: Api, tenant: Tenant, family: dict[str, Any]) -> None:
    seen: list[dict[str, Any]] = []
    cursor: str | None = None
    for _ in range(20):
        status, body = tree(api, tenant.owner_token, family["cid"], limit=1, **({"cursor": cursor} if cursor else {}))
        assert status == 200, body
        assert len(body["items"]) <= 1
        seen += body["items"]
        cursor = body["next_cursor"]
        if cursor is None:
            break
    assert cursor is None
    assert sorted(n["code"] for n in seen) == sorted(family["roots"])
    by_code = {n["code"]: n for n in seen}
    first = by_code[family["roots"][0]]
    assert first["nickname"] == "张**"
    assert (first["depth"], first["invited_by"], first["qualified"], first["counted"]) == (0, None, True, 3)
    assert by_code[family["roots"][1]]["counted"] == 1
    assert "children" not in first


def test_a_subtree_goes_down_the_generations_with_counts(api: Api, tenant: Tenant, family: dict[str, Any]) -> None:
    root, (first_child, *_) = family["roots"][0], family["children"]
    status, body = tree(api, tenant.owner_token, family["cid"], root=root)
    assert status == 200, body
    top = body["root"]
    assert (top["code"], top["depth"], top["counted"], top["children_truncated"]) == (root, 0, 3, False)
    assert codes(top["children"]) == set(family["children"])
    assert body["truncated"] is False
    by_code = {n["code"]: n for n in top["children"]}
    child = by_code[first_child]
    assert (child["depth"], child["invited_by"], child["qualified"], child["counted"]) == (1, root, True, 2)
    assert child["nickname"] == "c******"
    assert codes(child["children"]) == set(family["grandchildren"])
    assert all(g["depth"] == 2 and g["invited_by"] == first_child for g in child["children"])
    assert all("children" not in g for g in child["children"])  # depth 2: grandchildren are not expanded

    shallow = tree(api, tenant.owner_token, family["cid"], root=root, depth=1)[1]["root"]
    assert codes(shallow["children"]) == set(family["children"])
    assert all("children" not in c for c in shallow["children"])

    middle = tree(api, tenant.owner_token, family["cid"], root=first_child, depth=5)[1]["root"]
    assert codes(middle["children"]) == set(family["grandchildren"])
    assert all(g["children"] == [] for g in middle["children"])


def test_children_beyond_the_limit_are_truncated_with_a_cursor(
    api: Api, tenant: Tenant, family: dict[str, Any]
) -> None:
    root = family["roots"][0]
    status, body = tree(api, tenant.owner_token, family["cid"], root=root, limit=2, depth=1)
    assert status == 200, body
    top = body["root"]
    assert len(top["children"]) == 2 and top["children_truncated"] is True
    rest = tree(api, tenant.owner_token, family["cid"], root=root, limit=2, depth=1, cursor=top["children_cursor"])[1]
    assert rest["root"]["children_truncated"] is False and rest["root"]["children_cursor"] is None
    assert codes(top["children"]) | codes(rest["root"]["children"]) == set(family["children"])
    assert not codes(top["children"]) & codes(rest["root"]["children"])

    # Two levels with a budget of 2 per level: the grandchildren level stops at two nodes.
    deep = tree(api, tenant.owner_token, family["cid"], root=root, limit=2, depth=2)[1]
    expanded = [c for c in deep["root"]["children"] if "children" in c]
    assert sum(len(c["children"]) for c in expanded) <= 2


def test_tree_errors(api: Api, tenant: Tenant, family: dict[str, Any], new_tenant: Callable[[], Tenant]) -> None:
    cid, token = family["cid"], tenant.owner_token
    other = new_tenant()
    elsewhere = live_campaign(api, other)
    stranger = member(api, elsewhere, "stranger")

    def error(status_and_body: tuple[int, Any]) -> tuple[int, str]:
        status, body = status_and_body
        return status, body["error"]["code"]

    assert error(tree(api, token, "cmp_missing")) == (404, "CAMPAIGN_NOT_FOUND")
    assert error(tree(api, other.owner_token, cid)) == (404, "CAMPAIGN_NOT_FOUND")
    assert error(tree(api, token, cid, root="nope")) == (404, "PARTICIPANT_NOT_FOUND")
    assert error(tree(api, token, cid, root=stranger)) == (404, "PARTICIPANT_NOT_FOUND")
    for bad in ({"depth": 0}, {"depth": 6}, {"depth": "two"}, {"limit": 0}, {"limit": 201}):
        assert error(tree(api, token, cid, **bad))[0] == 422, bad
    assert error(tree(api, token, cid, cursor="not-a-cursor!")) == (400, "INVALID_CURSOR")
    roots_cursor = tree(api, token, cid, limit=1)[1]["next_cursor"]
    mine = live_campaign(api, tenant)
    assert error(tree(api, token, mine, cursor=roots_cursor)) == (400, "INVALID_CURSOR")
    children_cursor = tree(api, token, cid, root=family["roots"][0], limit=1, depth=1)[1]["root"]["children_cursor"]
    assert error(tree(api, token, cid, root=family["roots"][1], cursor=children_cursor)) == (400, "INVALID_CURSOR")
    assert error(tree(api, token, cid, root=family["roots"][0], cursor=roots_cursor)) == (400, "INVALID_CURSOR")

    viewer = tenant.operator("viewer")
    assert tree(api, viewer, cid)[0] == 200


# --- exports ---------------------------------------------------------------------------------------


@pytest.fixture
def export_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    from chalicelib.analytics.store import files as export_files
    from chalicelib.core.config import get_settings

    monkeypatch.setattr(get_settings(), "export_dir", tmp_path / "exports")
    export_files.get_files.cache_clear()
    yield tmp_path / "exports"
    export_files.get_files.cache_clear()


@pytest.fixture
def small_pages(monkeypatch: pytest.MonkeyPatch) -> None:
    from chalicelib.analytics import exports

    monkeypatch.setattr(exports, "PAGE_SIZE", 7)
    monkeypatch.setattr(exports, "PARTITION_PAGE_SIZE", 9)


def run_until_done(app: Any, api: Api, token: str, eid: str, max_runs: int = 400) -> tuple[int, dict[str, Any]]:
    scheduler = Scheduler(app)
    for runs in range(1, max_runs + 1):
        scheduler.invoke("run_exports")
        status, body = api.call("GET", f"/v1/admin/exports/{eid}", token=token)
        assert status == 200, body
        if body["status"] not in ("queued", "running"):
            return runs, body
    raise AssertionError(f"export {eid} not finished after {max_runs} runs")


def start_export(api: Api, token: str, cid: str, kind: str, key: str | None = None) -> dict[str, Any]:
    headers = {"Idempotency-Key": key} if key else None
    status, body = api.call("POST", "/v1/admin/exports", {"campaign_id": cid, "kind": kind}, token, headers=headers)
    assert status == 202, body
    assert body["status"] == "queued" and body["rows"] == 0
    return dict(body)


def download(api: Api, token: str, eid: str) -> list[dict[str, str]]:
    response = api.client.http.get(f"/v1/admin/exports/{eid}/download", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200, response.body
    assert response.headers["Content-Type"].startswith("text/csv")
    assert response.headers["Content-Disposition"] == f'attachment; filename="{eid}.csv"'
    return parse(response.body)


def parse(body: bytes) -> list[dict[str, str]]:
    assert body.startswith("\ufeff".encode())
    return list(csv.DictReader(io.StringIO(body.decode("utf-8-sig"), newline="")))


@pytest.fixture
def make_crowd(api: Api, tenant: Tenant, pump: StreamPump) -> Callable[[int, int], dict[str, Any]]:
    """Inviters with invitees each, the stream handled; the first inviter's nickname looks like a formula."""

    def make(inviters: int, per_inviter: int) -> dict[str, Any]:
        cid = live_campaign(api, tenant)
        codes = [
            member(api, cid, f"inviter-{i}", nickname="=cmd|' /C calc'!A0" if i == 0 else None) for i in range(inviters)
        ]
        invitees = {
            member(api, cid, f"invitee-{i}-{j}", ref=code, nickname=f"Guest {i}-{j}"): code
            for i, code in enumerate(codes)
            for j in range(per_inviter)
        }
        pump.drain(timeout=DRAIN_SECONDS)
        return {"cid": cid, "inviters": codes, "invitees": invitees, "per_inviter": per_inviter}

    return make


def test_a_participants_export_runs_in_pages_over_several_runs_and_resumes_after_a_crash(
    app: Any,
    api: Api,
    tenant: Tenant,
    make_crowd: Callable[[int, int], dict[str, Any]],
    export_dir: Path,
    small_pages: None,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from chalicelib.analytics import exports

    crowd = make_crowd(20, 12)  # 260 participants

    monkeypatch.setattr(exports, "TIME_PER_JOB", 0.0)  # one page per job per run
    analyst = tenant.totp_token("analyst")  # exports need a TOTP step-up
    job = start_export(api, analyst, crowd["cid"], "participants")
    real_write, writes = exports._write_part, []

    def crash_once(eid: str, number: int, body: bytes) -> None:
        real_write(eid, number, body)
        if eid == job["id"]:
            writes.append(number)
            if len(writes) == 5:
                raise RuntimeError("the function died after writing a part")

    monkeypatch.setattr(exports, "_write_part", crash_once)

    scheduler = Scheduler(app)
    scheduler.invoke("run_exports")
    status, running = api.call("GET", f"/v1/admin/exports/{job['id']}", token=analyst)
    assert running["status"] == "running" and "download_url" not in running
    assert (
        api.client.http.get(
            f"/v1/admin/exports/{job['id']}/download", headers={"Authorization": f"Bearer {analyst}"}
        ).status_code
        == 409
    )

    runs, done = run_until_done(app, api, analyst, job["id"])
    assert runs > 10 and done["status"] == "done"
    total = 20 + 20 * 12
    assert done["rows"] == total and done["parts"] >= total // 7
    assert writes.count(5) == 2 and len(writes) == done["parts"] + 1  # part 5 written twice, once kept
    assert done["download_url"].endswith(f"/v1/admin/exports/{job['id']}/download")

    rows = download(api, analyst, job["id"])
    assert list(rows[0]) == ["code", "nickname", "channel", "joined_at", "invited_by", "qualified_at", "counted",
                             "variant", "depth"]  # fmt: skip
    assert len(rows) == total and len({r["code"] for r in rows}) == total
    by_code = {r["code"]: r for r in rows}
    assert set(by_code) == set(crowd["inviters"]) | set(crowd["invitees"])
    formula = by_code[crowd["inviters"][0]]
    assert formula["nickname"].startswith("'=") and "calc" not in formula["nickname"]
    assert by_code[crowd["inviters"][1]]["nickname"] == "i********"
    assert all(by_code[c]["counted"] == "12" and by_code[c]["invited_by"] == "" for c in crowd["inviters"])
    assert all(by_code[c]["invited_by"] == inviter for c, inviter in crowd["invitees"].items())
    assert (export_dir / f"exports/{job['id']}.csv").is_file()


def test_referrals_rewards_and_ledger_exports(
    app: Any,
    api: Api,
    tenant: Tenant,
    make_crowd: Callable[[int, int], dict[str, Any]],
    export_dir: Path,
    small_pages: None,
) -> None:
    crowd = make_crowd(5, 4)
    token = tenant.totp_token()
    referrals = start_export(api, token, crowd["cid"], "referrals")
    rewards = start_export(api, token, crowd["cid"], "rewards")
    ledger = start_export(api, token, crowd["cid"], "ledger")
    for job in (referrals, rewards, ledger):
        assert run_until_done(app, api, token, job["id"])[1]["status"] == "done"

    rows = download(api, token, referrals["id"])
    assert {(r["inviter"], r["invitee"]) for r in rows} == {(v, k) for k, v in crowd["invitees"].items()}
    assert len(rows) == len(crowd["invitees"])

    rows = download(api, token, rewards["id"])
    assert len(rows) == len({(r["code"], r["rule"]) for r in rows})
    by_rule: dict[str, set[str]] = {}
    for r in rows:
        by_rule.setdefault(r["rule"], set()).add(r["code"])
    assert by_rule["invitee"] == set(crowd["invitees"])
    assert by_rule["m1"] == by_rule["m2"] == set(crowd["inviters"])
    assert {r["type"] for r in rows} == {"coupon"} and {r["value_fen"] for r in by_rule_rows(rows, "invitee")} == {
        "300"
    }

    rows = download(api, token, ledger["id"])
    assert rows == []  # an invite campaign pays no commission: the header alone


def by_rule_rows(rows: list[dict[str, str]], rule: str) -> list[dict[str, str]]:
    return [r for r in rows if r["rule"] == rule]


def test_export_requests_are_checked_and_idempotent(
    api: Api, tenant: Tenant, new_tenant: Callable[[], Tenant], export_dir: Path
) -> None:
    cid = live_campaign(api, tenant)
    token = tenant.totp_token()
    first = start_export(api, token, cid, "participants", key="export-key-0001")
    again = start_export(api, token, cid, "participants", key="export-key-0001")
    assert again["id"] == first["id"]
    assert start_export(api, token, cid, "participants")["id"] != first["id"]

    def error(status_and_body: tuple[int, Any]) -> tuple[int, str]:
        return status_and_body[0], status_and_body[1]["error"]["code"]

    post = "/v1/admin/exports"
    assert error(api.call("POST", post, {"campaign_id": cid, "kind": "everything"}, token))[0] == 422
    assert error(api.call("POST", post, {"campaign_id": cid}, token))[0] == 422
    assert error(api.call("POST", post, {"campaign_id": "cmp_missing", "kind": "rewards"}, token)) == (
        404,
        "CAMPAIGN_NOT_FOUND",
    )
    assert error(api.call("GET", "/v1/admin/exports/exp_missing", token=token)) == (404, "EXPORT_NOT_FOUND")
    other = new_tenant()
    assert error(api.call("GET", f"/v1/admin/exports/{first['id']}", token=other.owner_token)) == (
        404,
        "EXPORT_NOT_FOUND",
    )
    assert error(api.call("POST", post, {"campaign_id": cid, "kind": "rewards"}, other.totp_token())) == (
        404,
        "CAMPAIGN_NOT_FOUND",
    )

    viewer = tenant.operator("viewer")
    assert error(api.call("POST", post, {"campaign_id": cid, "kind": "participants"}, viewer)) == (403, "FORBIDDEN")
    assert error(api.call("GET", f"/v1/admin/exports/{first['id']}", token=viewer)) == (403, "FORBIDDEN")
    finance = tenant.operator("finance")
    assert error(api.call("POST", post, {"campaign_id": cid, "kind": "ledger"}, finance)) == (403, "STEP_UP_REQUIRED")
    finance = tenant.totp_token("finance")
    assert api.call("POST", post, {"campaign_id": cid, "kind": "ledger"}, finance)[0] == 202


def test_downloading_an_export_needs_a_fresh_step_up_and_is_audited(
    app: Any, api: Api, tenant: Tenant, pump: StreamPump, clock: Clock, export_dir: Path
) -> None:
    cid = live_campaign(api, tenant)
    root = member(api, cid, "download-root")
    pump.drain(timeout=DRAIN_SECONDS)
    stepped = tenant.totp_token()
    job = start_export(api, stepped, cid, "participants")
    assert run_until_done(app, api, stepped, job["id"])[1]["status"] == "done"
    path = f"/v1/admin/exports/{job['id']}/download"

    # The TOTP login that made the export is past its window: the file stays shut without a new code.
    clock.advance(minutes=16)
    refused = api.client.http.get(path, headers={"Authorization": f"Bearer {stepped}"})
    assert refused.status_code == 403 and refused.json_body["error"]["code"] == "STEP_UP_REQUIRED"
    assert refused.json_body["error"]["details"]["reason"] == "stale" and root.encode() not in refused.body
    # Another analyst who never stepped up is refused too, whoever made the export.
    analyst = tenant.operator("analyst")
    refused = api.client.http.get(path, headers={"Authorization": f"Bearer {analyst}"})
    assert refused.status_code == 403 and refused.json_body["error"]["code"] == "STEP_UP_REQUIRED"
    status, trail = api.call("GET", "/v1/admin/audit?limit=100", token=stepped)
    assert "export.download" not in [e["action"] for e in trail["items"]]

    headers = {"Authorization": f"Bearer {stepped}", "X-Fission-TOTP": tenant.totp_code()}
    served = api.client.http.get(path, headers=headers)
    assert served.status_code == 200 and [r["code"] for r in parse(served.body)] == [root]

    status, trail = api.call("GET", "/v1/admin/audit?limit=100", token=stepped)
    (entry,) = [e for e in trail["items"] if e["action"] == "export.download"]
    assert entry["actor"] == tenant.owner_email and entry["target"] == job["id"]
    assert entry["details"] == {"campaign_id": cid, "kind": "participants", "rows": 1}


@pytest.fixture
def s3_exports(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    from chalicelib.analytics.store import files as export_files
    from chalicelib.core.config import get_settings

    # moto answers S3; DynamoDB keeps going to DynamoDB Local.
    with mock_aws(config={"core": {"passthrough": {"services": ["dynamodb", "dynamodbstreams"]}}}):
        client = boto3.client("s3", region_name="us-east-1")
        client.create_bucket(Bucket="fission-exports-test")
        monkeypatch.setattr(get_settings(), "export_bucket", "fission-exports-test")
        export_files.get_files.cache_clear()
        yield client
    export_files.get_files.cache_clear()


def test_exports_go_to_s3_in_parts_and_download_by_presigned_url(
    app: Any, api: Api, tenant: Tenant, pump: StreamPump, s3_exports: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    import moto.s3.models

    from chalicelib.analytics import exports
    from chalicelib.analytics.store import files as export_files

    monkeypatch.setattr(exports, "PAGE_SIZE", 2)
    # Tiny multipart parts, so the multipart path runs without megabytes of test data.
    monkeypatch.setattr(export_files, "MIN_UPLOAD_PART", 200)
    monkeypatch.setattr(moto.s3.models, "S3_UPLOAD_PART_MIN_SIZE", 1)
    cid = live_campaign(api, tenant)
    root = member(api, cid, "s3-root")
    invited = {member(api, cid, f"s3-friend-{i}", ref=root) for i in range(12)}
    pump.drain(timeout=DRAIN_SECONDS)

    token = tenant.totp_token()
    job = start_export(api, token, cid, "participants")
    done = run_until_done(app, api, token, job["id"])[1]
    assert done["status"] == "done" and done["rows"] == 13
    # The job names the API's download route, never a storage URL that would skip the step-up and the audit.
    assert done["download_url"].endswith(f"/v1/admin/exports/{job['id']}/download")
    assert "X-Amz" not in json.dumps(done)

    keys = [o["Key"] for o in s3_exports.list_objects_v2(Bucket="fission-exports-test")["Contents"]]
    assert f"exports/{job['id']}.csv" in keys
    assert sum(k.startswith(f"exports/{job['id']}/part-") for k in keys) == done["parts"]
    head = s3_exports.head_object(Bucket="fission-exports-test", Key=f"exports/{job['id']}.csv")
    assert "-" in head["ETag"]  # assembled by a multipart upload
    body = s3_exports.get_object(Bucket="fission-exports-test", Key=f"exports/{job['id']}.csv")["Body"].read()
    rows = parse(body)
    assert {r["code"] for r in rows} == invited | {root} and len(rows) == 13

    path = f"/v1/admin/exports/{job['id']}/download"
    redirect = api.client.http.get(path, headers={"Authorization": f"Bearer {token}"})
    assert redirect.status_code == 302
    url = urlparse(redirect.headers["Location"])
    assert "fission-exports-test" in url.netloc + url.path and url.path.endswith(f"/exports/{job['id']}.csv")
    assert "X-Amz-Signature=" in url.query and "X-Amz-Expires=60" in url.query
    # A page asks for the link as JSON: it cannot read a redirect, and its token must not follow one to S3.
    status, link = api.call("GET", path, token=token, headers={"Accept": "application/json"})
    assert status == 200 and link["expires_in"] == 60 and "X-Amz-Signature=" in link["url"]
    status, trail = api.call("GET", "/v1/admin/audit?limit=100", token=token)
    assert [e["action"] for e in trail["items"]].count("export.download") == 2
