"""The local API server: Chalice's local gateway for /v1/*, the demo shop's server for /demo-shop/api/*
(when the stack has one, local/demo_shop.py), static files from web/ for the rest.

Connections are served by a bounded pool of worker threads that run the one app object in parallel; its
per-request state is made per-thread first (local/isolation.py). A burst of connections waits in the
listen backlog and the pool's queue rather than being refused, and while connections wait, a worker
closes its keep-alive connection after each answer so that every client gets its turn.
"""

from __future__ import annotations

import json
import mimetypes
import queue
import socket
import sys
import threading
from functools import partial
from http.server import HTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from chalice.app import Chalice
from chalice.config import Config
from chalice.local import ChaliceRequestHandler, LocalGatewayException

from chalicelib.core.codes import Code
from local import demo_shop
from local.isolation import isolate_requests

API_PREFIX = "/v1/"
ALLOWED = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")
MAX_BODY_BYTES = 10 * 1024 * 1024  # API Gateway's own ceiling; the app enforces its smaller limit
WORKERS = 32  # connections served at once; the rest wait in the queue (two cores do not need more)
BACKLOG = 1024  # listen backlog: a burst of phones queues instead of being reset
KEEPALIVE_IDLE = 5.0  # seconds an idle keep-alive connection may hold a worker


def _error(code: str, message: str) -> bytes:
    return json.dumps({"error": {"code": code, "message": message, "details": {}}}).encode()


class Handler(ChaliceRequestHandler):
    web_root: Path
    timeout = KEEPALIVE_IDLE  # socket timeout per read: an idle keep-alive connection gives its worker back

    def __init__(self, *args: Any, web_root: Path, **kwargs: Any) -> None:
        self.web_root = web_root
        super().__init__(*args, **kwargs)

    def setup(self) -> None:
        super().setup()
        # Chalice's local gateway reports 127.0.0.1 for everyone; give the app the real peer, as API Gateway
        # does, so per-IP rate limits see distinct clients. The gateway (and its event converter) belongs to
        # this connection alone, so the address set on it is this connection's.
        self.local_gateway.event_converter.LOCAL_SOURCE_IP = self.client_address[0]

    def end_headers(self) -> None:
        # Connections are waiting for a worker: answer this request, then let the next client in.
        if isinstance(self.server, _Server) and self.server.backlogged() and not self.close_connection:
            self.send_header("Connection", "close")
        super().end_headers()

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - signature of the base class
        pass  # the app logs each request itself, as structured JSON

    def _generic_handle(self) -> None:
        path = urlsplit(self.path).path
        if path.startswith(demo_shop.PREFIX):
            self._demo_shop(path)
            return
        if not path.startswith(API_PREFIX):
            self._static(path)
            return
        if int(self.headers.get("content-length") or 0) > MAX_BODY_BYTES:
            self._send_http_response(
                413, {"Connection": "close"}, _error(Code.PAYLOAD_TOO_LARGE, "request body too large")
            )
            self.close_connection = True
            return
        try:
            super()._generic_handle()
        except Exception:  # never leave the socket without an answer
            self._send_http_response(500, {}, _error(Code.INTERNAL_ERROR, "the local gateway failed"))

    # The base class binds its own handler to the verbs at class creation; rebind ours.
    do_GET = do_PUT = do_POST = do_HEAD = do_DELETE = do_PATCH = do_OPTIONS = _generic_handle

    def _not_allowed(self) -> None:
        """Verbs the API never serves (TRACE, CONNECT...): a JSON 405 like the app's, not http.server's 501 page."""
        self._send_http_response(
            405, {"Allow": ", ".join(ALLOWED)}, _error(Code.METHOD_NOT_ALLOWED, f"{self.command} is not served")
        )

    def __getattr__(self, name: str) -> Any:
        # http.server looks up `do_<VERB>` and answers an HTML 501 when it is missing; any verb the API
        # does not serve gets the JSON 405 instead.
        if name.startswith("do_"):
            return self._not_allowed
        raise AttributeError(name)

    def _send_error_response(self, error: LocalGatewayException) -> None:
        # API Gateway answers an unknown route with 403 "Missing Authentication Token";
        # the deployed API maps that to this same JSON 404 (see infra/).
        if error.CODE == 403:
            body = _error(Code.ROUTE_NOT_FOUND, f"no route {self.command} {urlsplit(self.path).path}")
            self._send_http_response(404, {"Access-Control-Allow-Origin": "*"}, body)
            return
        super()._send_error_response(error)

    def _demo_shop(self, path: str) -> None:
        """The demo merchant's own server (login and assertion signer) for the pages in web/demo-shop/."""
        shop = self.server.demo_shop if isinstance(self.server, _Server) else None
        if shop is None:
            self._send_http_response(404, {}, _error(Code.NOT_FOUND, "this stack runs no demo shop"))
            return
        length = int(self.headers.get("content-length") or 0)
        if length > demo_shop.MAX_BODY_BYTES:
            self._send_http_response(413, {"Connection": "close"}, _error(Code.PAYLOAD_TOO_LARGE, "body too large"))
            self.close_connection = True
            return
        body = self.rfile.read(length) if length else b""
        wanted = {name: self.headers.get(name) or "" for name in ("Content-Type", "Cookie")}
        reply = shop.handle(self.command, path, wanted, body)
        self._send_http_response(reply.status, dict(reply.headers), reply.body)

    def _static(self, path: str) -> None:
        if self.command not in ("GET", "HEAD"):
            self._send_http_response(
                405, {"Allow": "GET, HEAD"}, _error(Code.METHOD_NOT_ALLOWED, "static files are read-only")
            )
            return
        root = self.web_root.resolve()
        target = (root / unquote(path).lstrip("/")).resolve()
        if target.is_dir():
            target = target / "index.html"
        if not target.is_relative_to(root) or not target.is_file():
            self._send_http_response(404, {}, _error(Code.NOT_FOUND, f"no file {path}"))
            return
        content_type = mimetypes.guess_type(target.name)[0] or "application/octet-stream"
        if content_type.startswith("text/") or content_type in ("application/javascript", "application/json"):
            content_type += "; charset=utf-8"
        body = target.read_bytes()
        headers = {"Content-Type": content_type, "Cache-Control": "no-cache"}
        if self.command == "HEAD":
            headers["Content-Length"] = str(len(body))
            self.send_response(200)
            self._send_headers(headers)
            return
        self._send_http_response(200, headers, body)


class _Server(HTTPServer):
    """An HTTP server whose connections are served by a fixed pool of worker threads."""

    request_queue_size = BACKLOG
    demo_shop: demo_shop.DemoShop | None = None

    def __init__(self, address: tuple[str, int], handler: Any, workers: int = WORKERS) -> None:
        if workers < 1:
            raise ValueError("the server needs at least one worker")
        self._waiting: queue.SimpleQueue[tuple[socket.socket, Any] | None] = queue.SimpleQueue()
        self._active: set[socket.socket] = set()
        self._lock = threading.Lock()
        self._workers: list[threading.Thread] = []
        super().__init__(address, handler)  # binds and listens with request_queue_size
        for n in range(workers):
            worker = threading.Thread(target=self._work, name=f"api-worker-{n}", daemon=True)
            worker.start()
            self._workers.append(worker)

    def backlogged(self) -> bool:
        return not self._waiting.empty()

    def process_request(self, request: Any, client_address: Any) -> None:
        self._waiting.put((request, client_address))

    def _work(self) -> None:
        while (item := self._waiting.get()) is not None:
            request, client_address = item
            with self._lock:
                self._active.add(request)
            try:
                self.finish_request(request, client_address)
            except Exception:
                self.handle_error(request, client_address)
            finally:
                with self._lock:
                    self._active.discard(request)
                self.shutdown_request(request)

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A browser that navigates away drops its pending requests: not worth a traceback.
        if isinstance(sys.exc_info()[1], ConnectionError | TimeoutError):
            return
        super().handle_error(request, client_address)

    def server_close(self) -> None:
        """Stop the workers: connections still queued are closed unanswered, open ones are cut."""
        super().server_close()
        for _ in self._workers:
            self._waiting.put(None)
        with self._lock:
            for connection in self._active:
                try:
                    connection.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
        for worker in self._workers:
            worker.join(timeout=5)
        while not self._waiting.empty():
            item = self._waiting.get()
            if item is not None:
                self.shutdown_request(item[0])


class LocalServer:
    """The app and web/ on one port, in a background thread, served by a pool of `workers` threads."""

    def __init__(
        self, app: Chalice, host: str, port: int, web_root: Path, stage: str = "local", workers: int = WORKERS
    ) -> None:
        isolate_requests(app)
        config = Config.create(chalice_stage=stage, app_name=app.app_name, chalice_app=app)
        handler = partial(Handler, app_object=app, config=config, web_root=web_root)
        self.httpd = _Server((host, port), handler, workers)
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        return int(self.httpd.server_address[1])

    def serve_demo_shop(self, shop: demo_shop.DemoShop | None) -> None:
        """Route /demo-shop/api/* to the demo merchant's server (None: those routes answer 404)."""
        self.httpd.demo_shop = shop

    def start(self) -> None:
        self._thread = threading.Thread(target=self.httpd.serve_forever, name="api-server", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        if self._thread is not None:  # shutdown() waits for serve_forever, so only when it runs
            self.httpd.shutdown()
            self._thread.join(timeout=10)
        self.httpd.server_close()
