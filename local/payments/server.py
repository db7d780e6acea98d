"""The payment fakes' HTTP server: WeChat Pay under /wechatpay (its API v3 paths below it), Alipay's gateway at
/alipay/gateway.do, and the control API under /_local (docs/payouts-local.md lists every path)."""

from __future__ import annotations

import json
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from local.payments.alipay import AlipayWorld
from local.payments.keys import KeyRing
from local.payments.wechatpay import Batch, WeChatPayWorld

MAX_BODY_BYTES = 256 * 1024
ATTEMPTS = 3  # callback deliveries: the same bytes, re-signed, at most three times
TIMEOUT = 5.0


@dataclass(frozen=True)
class Delivery:
    url: str
    status: int | None  # None: no answer
    attempt: int


class PaymentsStandIn:
    """Both fakes behind one port; `keys_file` keeps their keys across restarts (make run), else they are new."""

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        keys_file: Path | None = None,
        settle_seconds: float = 0.0,
        hang_seconds: float = 2.0,
    ) -> None:
        keys = KeyRing(keys_file)
        self.wechatpay = WeChatPayWorld(keys, settle_seconds=settle_seconds, hang_seconds=hang_seconds)
        self.alipay = AlipayWorld(keys, settle_seconds=settle_seconds, hang_seconds=hang_seconds)
        self.deliveries: list[Delivery] = []
        self._deliveries_lock = threading.Lock()
        handler = type("BoundHandler", (_Handler,), {"standin": self})
        self.httpd = ThreadingHTTPServer((host, port), handler)
        self.httpd.daemon_threads = True
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        return int(self.httpd.server_address[1])

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def environment(self) -> dict[str, str]:
        """The FISSION_* settings that point the product at the fakes instead of the providers."""
        return {
            "FISSION_WECHATPAY_API_BASE": f"{self.url}/wechatpay",
            "FISSION_ALIPAY_GATEWAY": f"{self.url}/alipay/gateway.do",
        }

    def start(self) -> None:
        self._thread = threading.Thread(target=self.httpd.serve_forever, name="payments-standin", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        if self._thread is not None:
            self.httpd.shutdown()
            self._thread.join(timeout=10)
        self.httpd.server_close()

    # -- callbacks --------------------------------------------------------------------------------------------

    def deliver(self, url: str, headers: dict[str, str], body: bytes, attempts: int = ATTEMPTS) -> int | None:
        """POST a callback; retried (same body) until a 2xx or `attempts` tries. The last status, None if none."""
        status: int | None = None
        for attempt in range(1, attempts + 1):
            request = urllib.request.Request(url, data=body, headers=headers, method="POST")
            try:
                with urllib.request.urlopen(request, timeout=TIMEOUT) as response:  # noqa: S310 - local URLs
                    status = int(response.status)
            except urllib.error.HTTPError as exc:
                status = exc.code
            except (urllib.error.URLError, OSError):
                status = None
            with self._deliveries_lock:
                self.deliveries.append(Delivery(url, status, attempt))
            if status is not None and 200 <= status < 300:
                break
            time.sleep(0.2 * attempt)
        return status

    def _notify_later(self, batch: Batch) -> None:
        def run() -> None:
            time.sleep(max(0.0, batch.settle_at - time.time()))
            headers, body = self.wechatpay.notification(batch.mchid, batch.out_batch_no)
            if batch.notify_url:
                self.deliver(batch.notify_url, headers, body)
                batch.notified += 1

        threading.Thread(target=run, name="wechatpay-notify", daemon=True).start()

    # -- routing ----------------------------------------------------------------------------------------------

    def handle(self, method: str, target: str, headers: dict[str, str], body: bytes) -> tuple[int, str, Any]:
        """(status, kind, payload): kind "json" (payload a value), "text" (payload signed JSON text) or "hang"."""
        parts = urlsplit(target)
        path = parts.path
        if path.startswith("/wechatpay/"):
            status, answer = self.wechatpay.handle(method, path[len("/wechatpay") :], target, headers, body)
            for batch in self.wechatpay.take_pending():
                self._notify_later(batch)
            if status == -1:
                return 200, "hang", None
            return status, "wechatpay", answer
        if path == "/alipay/gateway.do" and method in ("GET", "POST"):
            params = {k: v[0] for k, v in parse_qs(parts.query, keep_blank_values=True).items()}
            if body:
                params.update({k: v[0] for k, v in parse_qs(body.decode(), keep_blank_values=True).items()})
            kind, text = self.alipay.handle(params)
            return 200, kind, text
        return self._control(method, path, body)

    def _control(self, method: str, path: str, body: bytes) -> tuple[int, str, Any]:
        if method == "GET" and path == "/_local/credentials":
            return 200, "json", {"wechatpay": self.wechatpay.credentials(), "alipay": self.alipay.credentials()}
        if method == "GET" and path == "/_local/payments":
            return 200, "json", {"wechatpay": self.wechatpay.payments, "alipay": self.alipay.payments}
        try:
            values = json.loads(body or b"{}")
        except ValueError:
            return 400, "json", {"error": "the body is not JSON"}
        if method == "POST" and path == "/_local/hang":
            seconds = float(values.get("seconds", 2.0))
            self.wechatpay.hang_seconds = self.alipay.hang_seconds = seconds
            return 200, "json", {"hang_seconds": seconds}
        parts = path.split("/")
        if method == "POST" and len(parts) == 6 and parts[:3] == ["", "_local", "wechatpay"] and parts[3] == "notify":
            batch = self.wechatpay.batches.get((parts[4], parts[5]))
            url = values.get("url") or (batch.notify_url if batch else None)
            if batch is None or not url:
                return 404, "json", {"error": "no such batch, or it has no notify_url"}
            headers, payload = self.wechatpay.notification(parts[4], parts[5])
            return 200, "json", {"status": self.deliver(str(url), headers, payload)}
        if method == "POST" and len(parts) == 6 and parts[:3] == ["", "_local", "alipay"] and parts[3] == "notify":
            if (parts[4], parts[5]) not in self.alipay.orders or not values.get("url"):
                return 404, "json", {"error": "no such order, or no url given"}
            headers, payload = self.alipay.notification(parts[4], parts[5])
            return 200, "json", {"status": self.deliver(str(values["url"]), headers, payload)}
        return 404, "json", {"error": f"no such path {path}"}


class _Handler(BaseHTTPRequestHandler):
    standin: PaymentsStandIn
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - signature of the base class
        pass

    def _serve(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_BODY_BYTES:
            self._send(413, "application/json", b'{"error":"body too large"}', {})
            self.close_connection = True
            return
        body = self.rfile.read(length) if length else b""
        headers = {k.lower(): v for k, v in self.headers.items()}
        try:
            status, kind, payload = self.standin.handle(self.command, self.path, headers, body)
        except Exception as exc:  # never leave the socket without an answer
            status, kind, payload = 500, "json", {"error": f"the fake failed: {type(exc).__name__}: {exc}"}
        if kind == "hang":  # taken, but the answer comes too late: the caller has timed out and must query
            time.sleep(self.standin.wechatpay.hang_seconds)
            self.close_connection = True
            return
        if kind == "wechatpay":
            raw = json.dumps(payload, ensure_ascii=False).encode() if payload is not None else b""
            self._send(status, "application/json", raw, self.standin.wechatpay.signed_headers(raw))
        elif kind in ("ok", "text"):
            self._send(status, "text/html;charset=utf-8", str(payload).encode(), {})  # as Alipay labels it
        else:
            self._send(status, "application/json", json.dumps(payload, ensure_ascii=False).encode(), {})

    do_GET = do_POST = _serve

    def _send(self, status: int, kind: str, raw: bytes, headers: dict[str, str]) -> None:
        try:
            self.send_response(status)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(raw)))
            for name, value in headers.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(raw)
        except OSError:
            pass  # the caller went away
