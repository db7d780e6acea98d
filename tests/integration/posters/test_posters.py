"""Posters over HTTP: binary answers with ETags, a cache by content hash (folder and S3), and avatars that
never stop a poster from rendering."""

from __future__ import annotations

import io
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import boto3
import pytest
import zxingcpp
from moto import mock_aws
from PIL import Image

from tests.conftest import Api, Tenant, join, live_campaign


def _png(color: tuple[int, int, int], size: int = 64) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (size, size), color).save(buffer, "PNG")
    return buffer.getvalue()


def _flat_png(width: int, height: int) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), (200, 30, 30)).save(buffer, "PNG")
    return buffer.getvalue()


class AvatarServer:
    """Serves a few avatar behaviours on 127.0.0.1: fine, too big, not an image, slow, too many pixels."""

    def __init__(self) -> None:
        good = _png((200, 30, 30))
        huge = _flat_png(5000, 4999)  # about 80 KB: well inside the byte cap, 100 MB once decoded

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                if self.path == "/good.png":
                    self._send(200, "image/png", good)
                elif self.path == "/big.png":
                    self._send(200, "image/png", b"\x89PNG" + b"\0" * (3 * 1024 * 1024))
                elif self.path == "/huge.png":
                    self._send(200, "image/png", huge)
                elif self.path == "/page.html":
                    self._send(200, "text/html", b"<html>not an avatar</html>")
                elif self.path == "/slow.png":
                    self.send_response(200)
                    self.send_header("Content-Type", "image/png")
                    self.end_headers()
                    for byte in good[:40]:  # a trickle: each read succeeds, the whole never arrives in time
                        self.wfile.write(bytes([byte]))
                        self.wfile.flush()
                        time.sleep(0.1)
                else:
                    self._send(404, "text/plain", b"missing")

            def _send(self, status: int, kind: str, body: bytes) -> None:
                self.send_response(status)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.base = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


@pytest.fixture(scope="module")
def avatars() -> Iterator[AvatarServer]:
    server = AvatarServer()
    yield server
    server.server.shutdown()


@pytest.fixture
def renders(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Counts real renders (cache misses) by layout id."""
    from chalicelib.posters import render

    seen: list[str] = []
    original = render.render

    def counting(layout: Any, *args: Any) -> bytes:
        seen.append(layout.id)
        return original(layout, *args)

    monkeypatch.setattr(render, "render", counting)
    return seen


def fetch(api: Api, path: str, **headers: str) -> Any:
    return api.client.http.get(path, headers={"Accept": "image/avif,image/webp,image/*,*/*;q=0.8", **headers})


def decoded(body: bytes) -> list[str]:
    return [result.text for result in zxingcpp.read_barcodes(Image.open(io.BytesIO(body)))]


def poster_campaign(api: Api, tenant: Tenant, layout: str = "classic") -> str:
    from tests.conftest import MODE_RULES

    return live_campaign(api, tenant, "poster", rules={**MODE_RULES["poster"], "layout_id": layout})


def test_a_poster_is_an_image_of_the_invite_link_with_an_etag(api: Api, tenant: Tenant, renders: list[str]) -> None:
    cid = poster_campaign(api, tenant)
    joined = join(api, cid, external_id="poster-1", nickname="小明")[1]
    assert joined["poster_url"].endswith(f"/v1/posters/{cid}/{joined['invite_code']}.jpg")
    path = f"/v1/posters/{cid}/{joined['invite_code']}"

    response = fetch(api, path + ".jpg")
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "image/jpeg"
    assert response.headers["Cache-Control"].startswith("public")
    etag = response.headers["ETag"]
    assert Image.open(io.BytesIO(response.body)).size == (750, 1334)
    assert decoded(response.body) == [joined["invite_url"]]

    again = fetch(api, path + ".jpg")
    assert (again.status_code, again.body, again.headers["ETag"]) == (200, response.body, etag)
    assert fetch(api, path + ".jpg", **{"If-None-Match": etag}).status_code == 304
    png = fetch(api, path + ".png")
    assert png.headers["Content-Type"] == "image/png" and png.headers["ETag"] != etag
    assert Image.open(io.BytesIO(png.body)).format == "PNG"
    assert renders == ["classic", "classic"]  # one JPEG, one PNG: the repeat came from the cache


def test_a_new_nickname_or_layout_is_a_new_poster(api: Api, tenant: Tenant, renders: list[str]) -> None:
    from chalicelib.table import keys
    from chalicelib.table.models import ParticipantItem

    cid = poster_campaign(api, tenant)
    joined = join(api, cid, external_id="poster-2", nickname="Alice")[1]
    path = f"/v1/posters/{cid}/{joined['invite_code']}.jpg"
    first = fetch(api, path).headers["ETag"]

    item = ParticipantItem.get(keys.participant_pk(joined["invite_code"]), keys.META)
    item.update(actions=[ParticipantItem.nickname.set("Alice W.")])
    renamed = fetch(api, path).headers["ETag"]
    assert renamed != first

    api.call("POST", f"/v1/admin/campaigns/{cid}/pause", token=tenant.owner_token)
    from tests.conftest import MODE_RULES

    patch = {"rules": {**MODE_RULES["poster"], "layout_id": "festive"}}
    assert api.call("PATCH", f"/v1/admin/campaigns/{cid}", patch, token=tenant.owner_token)[0] == 200
    api.call("POST", f"/v1/admin/campaigns/{cid}/publish", token=tenant.owner_token)
    from chalicelib.campaigns import live

    live.forget()
    relaid = fetch(api, path).headers["ETag"]
    assert relaid not in (first, renamed)
    assert renders == ["classic", "classic", "festive"]


def test_unknown_posters_are_json_404s(api: Api, tenant: Tenant) -> None:
    cid = poster_campaign(api, tenant)
    other = poster_campaign(api, tenant)
    code = join(api, other, external_id="elsewhere")[1]["invite_code"]
    for path, expected in (
        (f"/v1/posters/{cid}/{code}.jpg", "INVITE_CODE_NOT_FOUND"),
        (f"/v1/posters/{cid}/zzzzzzzz.jpg", "INVITE_CODE_NOT_FOUND"),
        (f"/v1/posters/{cid}/{code}.gif", "POSTER_NOT_FOUND"),
        (f"/v1/posters/{cid}/{code}", "POSTER_NOT_FOUND"),
        (f"/v1/posters/{cid}/{code.upper()}.jpg", "POSTER_NOT_FOUND"),
        (f"/v1/posters/cmp_nope/{code}.jpg", "CAMPAIGN_NOT_FOUND"),
    ):
        status, body = api.call("GET", path, headers={"Accept": "*/*"})
        assert (status, body.get("error", {}).get("code")) == (404, expected), (path, body)
    status, body = api.call("GET", f"/v1/posters/{other}/{code}.jpg", headers={"Accept": "application/json"})
    assert (status, body["error"]["code"]) == (406, "NOT_ACCEPTABLE")


@pytest.mark.parametrize(
    ("avatar", "reason"),
    [
        ("/good.png", None),
        ("/big.png", "too big"),
        ("/page.html", "not an image"),
        ("/slow.png", "too slow"),
        ("/missing.png", "unreachable"),
    ],
)
def test_every_avatar_failure_still_yields_a_poster(
    api: Api, tenant: Tenant, avatars: AvatarServer, monkeypatch: pytest.MonkeyPatch, avatar: str, reason: str | None
) -> None:
    from chalicelib.core.config import get_settings
    from chalicelib.posters import avatars as fetcher

    monkeypatch.setattr(get_settings(), "avatar_timeout_seconds", 1.0)
    outcomes: list[fetcher.Fetched] = []
    original = fetcher.fetch

    def recorded(url: str, **options: Any) -> fetcher.Fetched:
        outcomes.append(original(url, **options))
        return outcomes[-1]

    monkeypatch.setattr(fetcher, "fetch", recorded)
    cid = poster_campaign(api, tenant)
    joined = join(api, cid, external_id=f"avatar{avatar}", nickname="张三", avatar_url=avatars.base + avatar)[1]
    started = time.monotonic()
    response = fetch(api, f"/v1/posters/{cid}/{joined['invite_code']}.jpg")
    assert time.monotonic() - started < 5
    assert response.status_code == 200
    assert decoded(response.body) == [joined["invite_url"]]
    (outcome,) = outcomes
    if reason is None:
        assert outcome.data is not None
    else:
        assert outcome.data is None and outcome.reason is not None and outcome.reason.startswith(reason), outcome


def test_a_small_file_of_a_huge_picture_is_fetched_but_never_decoded(
    api: Api, tenant: Tenant, avatars: AvatarServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    from PIL import ImageFile

    from chalicelib.posters import render

    decoded_sizes: list[tuple[int, int]] = []
    load = ImageFile.ImageFile.load

    def recorded(self: ImageFile.ImageFile) -> Any:
        decoded_sizes.append(self.size)
        return load(self)

    monkeypatch.setattr(ImageFile.ImageFile, "load", recorded)
    drawn: list[bool] = []
    decode_avatar = render.decode_avatar

    def observed(data: bytes | None, size: int) -> Any:
        picture = decode_avatar(data, size)
        drawn.append(data is not None and picture is not None)
        return picture

    monkeypatch.setattr(render, "decode_avatar", observed)
    cid = poster_campaign(api, tenant)
    joined = join(api, cid, external_id="huge-avatar", nickname="张三", avatar_url=avatars.base + "/huge.png")[1]
    response = fetch(api, f"/v1/posters/{cid}/{joined['invite_code']}.jpg")
    assert response.status_code == 200
    assert decoded(response.body) == [joined["invite_url"]]
    assert drawn == [False]  # the generated avatar stands in
    assert all(w * h <= render.MAX_AVATAR_PIXELS for w, h in decoded_sizes), decoded_sizes


def test_cloud_stages_never_fetch_internal_avatars(
    api: Api, tenant: Tenant, avatars: AvatarServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    from chalicelib.core.config import get_settings
    from chalicelib.posters import avatars as fetcher

    outcome = fetcher.fetch(avatars.base + "/good.png", timeout=1.0, max_bytes=2**20, allow_private=False)
    assert outcome.data is None and (outcome.reason or "").startswith("refused")

    monkeypatch.setattr(get_settings(), "stage", "prod")
    cid = poster_campaign(api, tenant)
    joined = join(api, cid, external_id="internal", avatar_url="http://169.254.169.254/latest/meta-data/x.png")[1]
    response = fetch(api, f"/v1/posters/{cid}/{joined['invite_code']}.jpg")
    assert response.status_code == 200 and decoded(response.body) == [joined["invite_url"]]


@pytest.fixture
def s3_bucket(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[[], list[str]]]:
    from chalicelib.core.config import get_settings
    from chalicelib.posters import cache

    # moto answers S3; DynamoDB keeps going to DynamoDB Local.
    with mock_aws(config={"core": {"passthrough": {"services": ["dynamodb", "dynamodbstreams"]}}}):
        client = boto3.client("s3", region_name="us-east-1")
        client.create_bucket(Bucket="fission-posters-test")
        monkeypatch.setattr(get_settings(), "poster_bucket", "fission-posters-test")
        cache.get_cache.cache_clear()
        yield lambda: [o["Key"] for o in client.list_objects_v2(Bucket="fission-posters-test").get("Contents", [])]
    cache.get_cache.cache_clear()


def test_posters_are_cached_in_s3_in_the_cloud(
    api: Api, tenant: Tenant, renders: list[str], s3_bucket: Callable[[], list[str]]
) -> None:
    cid = poster_campaign(api, tenant, "dark")
    joined = join(api, cid, external_id="s3-poster")[1]
    path = f"/v1/posters/{cid}/{joined['invite_code']}.png"
    first = fetch(api, path)
    assert first.status_code == 200
    (key,) = s3_bucket()
    assert key == "posters/" + first.headers["ETag"].strip('"')
    assert fetch(api, path).body == first.body
    assert renders == ["dark"]
