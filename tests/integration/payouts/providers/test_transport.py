"""Provider calls go through the egress guard: error statuses come back as answers (their codes are in the body),
redirects and private addresses outside the local stages are refused, and no answer is ProviderUnreachable."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from chalicelib.core.config import get_settings
from chalicelib.payouts.providers import transport
from chalicelib.payouts.providers.base import ProviderUnreachable
from local.dynamo import free_port


class _Handler(BaseHTTPRequestHandler):
    def log_message(self, *args: object) -> None:
        pass

    def do_GET(self) -> None:
        if self.path == "/redirect":
            self.send_response(302)
            self.send_header("Location", "http://169.254.169.254/")
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        body = b'{"code":"PARAM_ERROR","message":"bad"}'
        self.send_response(400)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


def test_an_error_status_is_an_answer(server: str) -> None:
    answer = transport.exchange("GET", f"{server}/v3/x", {}, None, 5.0)
    assert answer.status == 400 and answer.body == b'{"code":"PARAM_ERROR","message":"bad"}'


def test_a_redirect_is_refused(server: str) -> None:
    with pytest.raises(ProviderUnreachable, match="EgressRefused"):
        transport.exchange("GET", f"{server}/redirect", {}, None, 5.0)


def test_no_answer_is_unreachable() -> None:
    with pytest.raises(ProviderUnreachable):
        transport.exchange("GET", f"http://127.0.0.1:{free_port()}/v3/x", {}, None, 1.0)


def test_a_cloud_stage_does_not_call_this_machine(server: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FISSION_STAGE", "prod")
    get_settings.cache_clear()
    try:
        with pytest.raises(ProviderUnreachable, match="EgressRefused"):
            transport.exchange("GET", f"{server}/v3/x", {}, None, 5.0)
    finally:
        monkeypatch.delenv("FISSION_STAGE")
        get_settings.cache_clear()
