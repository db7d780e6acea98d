"""Poster benchmark: render time (cache miss) for JPEG and PNG, renders per second per core, bytes per
poster, and the latency of a cache hit through the HTTP route (prints a table).

Renders run in this one process, one after another, so renders per second is per core. The cache-hit
figure goes through the app's request path (Chalice's test client) against an in-memory DynamoDB Local,
as a landing page would fetch a poster the second time.
"""

from __future__ import annotations

import io
import os
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Literal

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

RENDERS = 60  # per format and layout set; enough for a stable p95 on a quiet machine
WARMUP = 3
HITS = 200
TARGET_P50_MS = 25.0


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def avatar_bytes() -> bytes:
    from PIL import Image, ImageDraw

    image = Image.new("RGB", (640, 640), (90, 140, 200))
    ImageDraw.Draw(image).ellipse((120, 120, 520, 520), fill=(250, 220, 180))
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=90)
    return buffer.getvalue()


def render_times(fmt: Literal["jpeg", "png"], avatar: bytes) -> tuple[list[float], list[int]]:
    """Milliseconds and bytes of RENDERS distinct posters (a different nickname each: all misses)."""
    from chalicelib.posters import layouts, render

    times: list[float] = []
    sizes: list[int] = []
    ids = layouts.LAYOUT_IDS
    for i in range(WARMUP + RENDERS):
        fields = render.PosterFields(
            nickname=f"小明{i:03d}", title="邀请 3 位好友，免费领取精美礼品", invite_url=f"https://fission.example.cn/v1/i/7k2m{i:04d}",
            body="好友通过你的海报加入，你们都能获得 10 元优惠券。活动期间每人限领一次。", tagline="邀请你一起参加",
            qr_caption="长按识别二维码", expiry="活动截止 2026-12-31 23:59", rule="活动最终解释权归商家所有",
        )  # fmt: skip
        layout = layouts.load(ids[i % len(ids)])
        started = time.perf_counter()
        body = render.render(layout, fields, fmt, avatar)
        elapsed = (time.perf_counter() - started) * 1000
        if i >= WARMUP:
            times.append(elapsed)
            sizes.append(len(body))
    return times, sizes


def cache_hit_ms(tmp: Path) -> list[float]:
    """Latency of GET /v1/posters/{cid}/{code}.jpg once the poster is cached (a folder, as locally)."""
    from chalice.test import Client

    from app import app
    from chalicelib.accounts import tenants
    from chalicelib.table import db

    db.ensure_table(db.dynamodb_client(), "fission-bench-posters")
    now = datetime.now(UTC).replace(microsecond=0)
    tenants.ensure_tenant("bench", "Bench", "owner@bench.example.cn", "bench-password-1", now)
    with Client(app) as client:

        def call(method: str, path: str, body: Any = None, token: str | None = None) -> Any:
            import json

            headers = {"Content-Type": "application/json", **({"Authorization": f"Bearer {token}"} if token else {})}
            raw = json.dumps(body).encode() if body else b""
            response = client.http.request(method, path, headers=headers, body=raw)
            return response.json_body

        token = call("POST", "/v1/admin/login", {"email": "owner@bench.example.cn", "password": "bench-password-1"})[
            "token"
        ]
        spec = {
            "title": "海报裂变", "mode": "poster", "rule_text": "每人限领一次，奖励在活动结束后 30 天内有效。",
            "starts_at": (now - timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "ends_at": (now + timedelta(days=7)).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "share": {"title": "扫码领好礼", "text": "邀请好友扫码关注，集满 3 人得礼品"},
            "rules": {"milestones": [{"invites": 3, "reward": {"type": "points", "name": "300 积分", "points": 300}}]},
        }  # fmt: skip
        cid = call("POST", "/v1/admin/campaigns", spec, token)["campaign_id"]
        call("POST", f"/v1/admin/campaigns/{cid}/publish", token=token)
        code = call("POST", f"/v1/campaigns/{cid}/participants", {"external_id": "bench", "nickname": "小明"})[
            "invite_code"
        ]
        path = f"/v1/posters/{cid}/{code}.jpg"
        accept = {"Accept": "image/avif,image/webp,image/*,*/*;q=0.8"}
        assert client.http.get(path, headers=accept).status_code == 200  # the miss that fills the cache
        times = []
        for _ in range(HITS):
            started = time.perf_counter()
            response = client.http.get(path, headers=accept)
            times.append((time.perf_counter() - started) * 1000)
            assert response.status_code == 200
    return times


def main() -> int:
    from local.dynamo import DynamoDBLocal, free_port

    with DynamoDBLocal(free_port()) as dynamo, tempfile.TemporaryDirectory() as tmp:
        os.environ.update(
            FISSION_STAGE="test", FISSION_DYNAMODB_ENDPOINT=dynamo.endpoint, FISSION_TABLE_NAME="fission-bench-posters",
            FISSION_SECRETS_DIR=tmp, FISSION_POSTER_CACHE_DIR=str(Path(tmp) / "posters"),
            POWERTOOLS_TRACE_DISABLED="true", POWERTOOLS_METRICS_DISABLED="true", POWERTOOLS_LOG_LEVEL="ERROR",
            AWS_DEFAULT_REGION="us-east-1",
        )  # fmt: skip
        avatar = avatar_bytes()
        rows: list[tuple[str, str, str]] = []
        formats: tuple[tuple[Literal["jpeg", "png"], str], ...] = (("jpeg", "JPEG q85"), ("png", "PNG level 1"))
        for fmt, label in formats:
            times, sizes = render_times(fmt, avatar)
            p50, p95 = percentile(times, 0.5), percentile(times, 0.95)
            note = f"target <= {TARGET_P50_MS:.0f} ms" if fmt == "jpeg" else "every layout, avatar and QR"
            rows += [
                (f"{label}: ms per render p50", f"{p50:.1f}", note),
                (f"{label}: ms per render p95", f"{p95:.1f}", f"{len(times)} misses: new names and links, same copy"),
                (
                    f"{label}: renders per second per core",
                    f"{1000 / statistics.mean(times):.1f}",
                    "one process, serial",
                ),
                (f"{label}: KiB per poster", f"{statistics.mean(sizes) / 1024:.0f}", "750x1334"),
            ]
        hits = cache_hit_ms(Path(tmp))
        rows += [
            ("cache hit: ms p50 (HTTP route)", f"{percentile(hits, 0.5):.2f}", "participant read + hash + cached file"),
            ("cache hit: ms p95 (HTTP route)", f"{percentile(hits, 0.95):.2f}", f"{HITS} requests"),
        ]
    width = max(len(r[0]) for r in rows)
    print(f"\n{'metric':<{width}}  {'value':>8}  note")
    print(f"{'-' * width}  {'-' * 8}  {'-' * 40}")
    for metric, value, note in rows:
        print(f"{metric:<{width}}  {value:>8}  {note}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
