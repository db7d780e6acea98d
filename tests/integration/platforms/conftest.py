"""A tiny stand-in for the token endpoints and one API of WeCom and WeChat, counting what it is asked."""

from __future__ import annotations

import json
import threading
import time
import urllib.request
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest

from local.wechat.server import WeChatStandIn
from tests import contract
from tests.conftest import Api, Tenant

CORP_ID = "ww0123456789abcdef"
APP_ID = "wx1234567890abcdef"
SECRET = "contact-secret-0123456789abcdefghijklmnopqrstu"
APP_SECRET = "0123456789abcdef0123456789abcdef"
AES_KEY = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"


@dataclass
class TokenServer:
    """Issues `tok-1`, `tok-2`... (only the latest is valid) and `ticket-N`; `/cgi-bin/echo` needs a valid token."""

    base: str = ""
    hits: Counter[str] = field(default_factory=Counter)
    issued: int = 0
    valid: set[str] = field(default_factory=set)
    delay: float = 0.0
    answers: dict[str, dict[str, Any]] = field(default_factory=dict)  # a path's fixed answer
    lock: threading.Lock = field(default_factory=threading.Lock)

    def revoke(self) -> None:
        with self.lock:
            self.valid.clear()

    def handle(self, path: str, query: dict[str, str]) -> dict[str, Any]:
        with self.lock:
            self.hits[path] += 1
        if path in self.answers:
            return self.answers[path]
        if path in ("/qyapi/cgi-bin/gettoken", "/api/cgi-bin/token"):
            time.sleep(self.delay)
            expected = (CORP_ID, SECRET) if path.startswith("/qyapi") else (APP_ID, APP_SECRET)
            given = (query.get("corpid"), query.get("corpsecret")) if path.startswith("/qyapi") else (
                query.get("appid"), query.get("secret"))  # fmt: skip
            if given != expected:
                return {"errcode": 40013, "errmsg": "invalid appid"}
            with self.lock:
                self.issued += 1
                token = f"tok-{self.issued}"
                self.valid = {token}
            return {"access_token": token, "expires_in": 7200} | ({"errcode": 0} if "qyapi" in path else {})
        if query.get("access_token") not in self.valid:
            return {"errcode": 40001, "errmsg": "invalid credential, access_token is invalid or not latest"}
        if path == "/api/cgi-bin/ticket/getticket":
            return {"errcode": 0, "errmsg": "ok", "ticket": f"ticket-{self.hits[path]}", "expires_in": 7200}
        return {"errcode": 0, "errmsg": "ok", "token_used": query["access_token"]}


@pytest.fixture
def token_server(monkeypatch: pytest.MonkeyPatch) -> Iterator[TokenServer]:
    state = TokenServer()

    class Handler(BaseHTTPRequestHandler):
        def _answer(self) -> None:
            parts = urlsplit(self.path)
            query = {k: v[0] for k, v in parse_qs(parts.query).items()}
            length = int(self.headers.get("Content-Length") or 0)
            if length:
                self.rfile.read(length)
            body = json.dumps(state.handle(parts.path, query)).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        do_GET = do_POST = _answer

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    state.base = f"http://127.0.0.1:{server.server_address[1]}"
    monkeypatch.setenv("FISSION_WECOM_API_BASE", state.base + "/qyapi")
    monkeypatch.setenv("FISSION_WECHAT_API_BASE", state.base + "/api")
    from chalicelib.core.config import get_settings

    get_settings.cache_clear()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
        get_settings.cache_clear()


def connect(api: Api, tenant: Tenant, platform: str, body: dict[str, Any]) -> dict[str, Any]:
    status, answer = api.call("PUT", f"/v1/admin/platforms/{platform}", body, tenant.stepped_token())
    assert status == 200, answer
    return dict(answer)


WECOM = {"corp_id": CORP_ID, "contact_secret": SECRET, "callback_token": "cbToken123", "encoding_aes_key": AES_KEY}
WECHAT = {"app_id": APP_ID, "app_secret": APP_SECRET, "callback_token": "oaToken123", "encoding_aes_key": AES_KEY}


@dataclass
class World:
    """The stand-in, the tenant connected to it, and what the app answered to each forwarded callback."""

    standin: WeChatStandIn
    api: Api
    tenant: Tenant
    answers: list[tuple[int, bytes]] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    def control(self, path: str, body: dict[str, Any]) -> Any:
        request = urllib.request.Request(self.standin.url + path, json.dumps(body).encode(), method="POST")
        with urllib.request.urlopen(request, timeout=30) as response:
            return json.loads(response.read())

    def inbox(self, visitor: str) -> list[dict[str, Any]]:
        with urllib.request.urlopen(f"{self.standin.url}/_local/inbox?visitor={visitor}", timeout=10) as response:
            return list(json.loads(response.read()))

    def post(self, path: str, query: dict[str, str], body: bytes) -> tuple[int, Any]:
        """A callback sent straight to the app (a forged or broken one the stand-in would not send)."""
        return self.api.call("POST", f"{path}?{urlencode(query)}", body, headers={"Content-Type": "text/xml"})


@pytest.fixture
def world(api: Api, tenant: Tenant, monkeypatch: pytest.MonkeyPatch) -> Iterator[World]:
    from chalicelib.core.config import get_settings

    standin = WeChatStandIn(attempts=1, timeout=30)
    found = World(standin, api, tenant)

    class Forward(BaseHTTPRequestHandler):
        def _serve(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            kind = self.headers.get("Content-Type") or ("text/xml" if body else None)
            sent = {"Content-Type": kind} if kind else {}  # the console's URL check is a GET without a body
            answer = api.client.http.request(self.command, self.path, headers=sent, body=body)
            typed = answer.headers.get("Content-Type", "").startswith("application/json")
            parsed = json.loads(answer.body) if typed and answer.body else None
            found.problems += contract.problems(self.command, self.path, answer.status_code, parsed)
            found.answers.append((answer.status_code, answer.body))
            self.send_response(answer.status_code)
            self.send_header("Content-Length", str(len(answer.body)))
            self.end_headers()
            self.wfile.write(answer.body)

        do_GET = do_POST = _serve

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
            pass

    forward = ThreadingHTTPServer(("127.0.0.1", 0), Forward)
    base = f"http://127.0.0.1:{forward.server_address[1]}"
    threading.Thread(target=forward.serve_forever, daemon=True).start()
    standin.start()
    for name, value in standin.environment().items():
        monkeypatch.setenv(name, value)
    get_settings.cache_clear()
    standin.register_corp({
        "corp_id": CORP_ID, "secret": SECRET, "token": WECOM["callback_token"], "encoding_aes_key": AES_KEY,
        "callback_url": f"{base}/v1/wecom/{tenant.tid}/callback", "agent_id": "1000002",
    })  # fmt: skip
    standin.register_app({
        "app_id": APP_ID, "secret": APP_SECRET, "token": WECHAT["callback_token"], "encoding_aes_key": AES_KEY,
        "callback_url": f"{base}/v1/wechat/{tenant.tid}/callback", "original_id": "gh_0123456789ab",
    })  # fmt: skip
    connect(api, tenant, "wecom", WECOM)
    connect(api, tenant, "wechat", WECHAT)
    try:
        yield found
        assert found.problems == [], "the answer does not match docs/openapi.yaml"
    finally:
        forward.shutdown()
        forward.server_close()
        standin.stop()
        get_settings.cache_clear()
