"""Browser-test fixtures: the local stack, Debian's Chromium driven by Playwright, pages that fail on console errors.

Fixtures (mark browser tests with `pytestmark = pytest.mark.browser`):

- `live_stack` (module): a `LocalStack` (API, stream pump, scheduler, web/) on a free port against the
  session's DynamoDB Local table, with a fresh tenant and owner. Exposes `.url`, `.email`, `.password`,
  `.tid`, `.owner_token` (logged in once) and `.call(method, path, body=None, token=None, headers=None)`
  -> `(status, json)` over real HTTP, for seeding data through the public and admin API (a bytes body is
  sent as it is, e.g. a signed webhook). `.assertion(user_id)` is what the merchant's server hands a
  signed campaign's landing page for its logged-in user (docs/identity.md), signed with an identity key
  made through the API on first use (`.identity_key()`). The owner signs in with a password alone; a
  second owner, the keyholder (`.keyholder`: email, password), has an authenticator: `.totp_code()` is
  its current code and `.stepped_token()` a token of a TOTP login, for the acts that need a step-up
  (secrets, keys, owners and roles, export files).
- `browser` (session): Chromium from /usr/bin/chromium (installed by `make chromium`, never by
  `playwright install`), headless, with background networking, sync and updates off.
- `new_page(mobile=False, allow=())`: a Page in a fresh BrowserContext (mobile: 375x812, touch). Every
  console error and uncaught page error is collected; at teardown the test fails if any was collected
  whose text contains none of the `allow` substrings (for failures the test provokes on purpose, e.g.
  "status of 409"). `page.errors` holds what was collected so far.
- `shoot(page, name)`: a full-page screenshot at tests/e2e/artifacts/{name}.png (git-ignored).

The suite runs under `make test` (pytest-xdist, `--dist loadfile`): each worker has its own browser,
DynamoDB Local and stacks; a module shares one stack, whose stream pump starts at the stream's end (the session's
`stream_tail`), not at the records earlier tests on the worker wrote.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Protocol

import pytest
from playwright.sync_api import Browser, ConsoleMessage, Error, Page, Playwright, sync_playwright

from local.dynamo import free_port
from local.stack import LocalStack, StackSettings
from tests.conftest import StreamTail

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-quic",
    "--no-first-run",
    "--disable-component-update",
    "--disable-sync",
]
ARTIFACTS = Path(__file__).resolve().parent / "artifacts"
MOBILE = {"viewport": {"width": 375, "height": 812}, "is_mobile": True, "has_touch": True, "device_scale_factor": 2}
DESKTOP = {"viewport": {"width": 1280, "height": 800}}
KEYHOLDER_PASSWORD = "browser-keyholder-pass-1"


@dataclass
class LiveStack:
    """A running local stack and the owner of a tenant seeded in it."""

    stack: LocalStack
    tid: str
    email: str
    password: str
    _token: str | None = field(default=None, repr=False)
    _identity_key: tuple[str, str] | None = field(default=None, repr=False)
    _totp_secret: str | None = field(default=None, repr=False)
    _stepped: str | None = field(default=None, repr=False)

    @property
    def url(self) -> str:
        return self.stack.url

    def call(
        self, method: str, path: str, body: Any = None, token: str | None = None, headers: dict[str, str] | None = None
    ) -> tuple[int, Any]:
        """One HTTP request to the stack: JSON (or raw bytes) in, (status, decoded JSON or None) out."""
        data = None if body is None else (body if isinstance(body, bytes) else json.dumps(body).encode())
        request = urllib.request.Request(self.url + path, data=data, method=method, headers=headers or {})
        if data is not None:
            request.add_header("Content-Type", "application/json")
        if token:
            request.add_header("Authorization", f"Bearer {token}")
        try:
            with urllib.request.urlopen(request, timeout=15) as response:
                status, raw = response.status, response.read()
        except urllib.error.HTTPError as error:
            status, raw = error.code, error.read()
        try:
            return status, json.loads(raw) if raw else None
        except ValueError:
            return status, None

    @property
    def owner_token(self) -> str:
        if self._token is None:
            status, body = self.call("POST", "/v1/admin/login", {"email": self.email, "password": self.password})
            assert status == 200, body
            self._token = str(body["token"])
        return self._token

    @property
    def keyholder(self) -> tuple[str, str]:
        return f"keyholder@{self.tid}.example.cn", KEYHOLDER_PASSWORD

    def totp_code(self, steps_ahead: int = 0) -> str:
        """The keyholder's authenticator code (enrolled on first use)."""
        if self._totp_secret is None:
            self._totp_secret = self.enrolled_owner(*self.keyholder)
        return code_at(self._totp_secret, steps_ahead)

    def enrolled_owner(self, email: str, password: str) -> str:
        """Another owner of the tenant, with an authenticator; returns its TOTP secret (see `code_at`)."""
        from chalicelib.accounts.tenants import ensure_tenant
        from chalicelib.security import totp

        ensure_tenant(self.tid, f"Shop {self.tid}", email, password, datetime.now(UTC))  # adds the owner
        status, body = self.call("POST", "/v1/admin/login", {"email": email, "password": password})
        assert status == 200, body
        token = str(body["token"])
        status, body = self.call("POST", "/v1/admin/operators/me/totp", token=token)
        assert status == 201, body
        secret = str(body["secret"])
        # The previous step's code confirms, so the current and next ones stay free for a login and a step-up.
        code = totp.code_at(secret, datetime.now(UTC) - timedelta(seconds=totp.STEP_SECONDS))
        status, body = self.call("POST", "/v1/admin/operators/me/totp/confirm", {"code": code}, token=token)
        assert status == 200, body
        return secret

    def stepped_token(self) -> str:
        """The keyholder's token from a TOTP login (a step-up for 15 minutes), made once."""
        if self._stepped is None:
            email, password = self.keyholder
            body = {"email": email, "password": password, "totp": self.totp_code()}
            status, answer = self.call("POST", "/v1/admin/login", body)
            assert status == 200, answer
            self._stepped = str(answer["token"])
        return self._stepped

    def identity_key(self) -> tuple[str, str]:
        """(key id, secret) of the identity key the tenant's "server" signs with, made by an owner once."""
        if self._identity_key is None:
            status, body = self.call("POST", "/v1/admin/identity-keys", token=self.stepped_token())
            assert status == 201, body
            self._identity_key = (str(body["key_id"]), str(body["secret"]))
        return self._identity_key

    def assertion(self, user_id: str, **claims: Any) -> str:
        """A fresh assertion for the merchant's user `user_id`, as its server would sign it."""
        return sign_assertion(self.tid, self.identity_key(), user_id, **claims)

    def wait_healthy(self, timeout: float = 60.0) -> None:
        # Late in a full run the scheduler's first pass reads a table the whole suite has filled, on a loaded
        # machine: it can take longer than the health probe's 10 s to report a pass.
        deadline = time.monotonic() + timeout
        while True:
            status, body = self.call("GET", "/v1/health")
            if status == 200:
                return
            if time.monotonic() > deadline:
                raise AssertionError(f"the local stack never became healthy: {body}")
            time.sleep(0.2)


def code_at(secret: str, steps_ahead: int = 0) -> str:
    """An authenticator's code for `secret`, now or `steps_ahead` time steps later."""
    from chalicelib.security import totp

    return totp.code_at(secret, datetime.now(UTC) + timedelta(seconds=totp.STEP_SECONDS * steps_ahead))


def _b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def sign_assertion(tid: str, key: tuple[str, str], user_id: str, lifetime: int = 600, **claims: Any) -> str:
    """A compact HS256 JWT built by hand (no JWT library), as a merchant's server signs one: `kid` the key
    id, `iss` the tenant, `sub` the user, `aud` fission, valid for `lifetime` seconds (at most 900)."""
    kid, secret = key
    now = int(time.time())
    head = {"alg": "HS256", "typ": "JWT", "kid": kid}
    body = {"iss": tid, "sub": user_id, "aud": "fission", "iat": now, "exp": now + lifetime, **claims}
    signing_input = f"{_b64url(json.dumps(head).encode())}.{_b64url(json.dumps(body).encode())}"
    signature = hmac.new(secret.encode(), signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{_b64url(signature)}"


@pytest.fixture(scope="module")
def live_stack(
    dynamodb_endpoint: str, table: str, stream_tail: StreamTail, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LiveStack]:
    from chalicelib.accounts.tenants import ensure_tenant

    # The stack's pump starts at the stream's current end: the records of the tests that ran before on this
    # worker (tens of thousands late in a full run) are no business of this module's stack.
    checkpoints = stream_tail.checkpoints(tmp_path_factory.mktemp("stack") / "stream-checkpoints.json")
    stack = LocalStack(StackSettings(endpoint=dynamodb_endpoint, table_name=table, port=free_port(), batching_window=0))
    stack.pump.checkpoints = checkpoints
    tid = f"t-{uuid.uuid4().hex[:10]}"
    email, password = f"owner@{tid}.example.cn", "browser-owner-pass-1"
    ensure_tenant(tid, f"Shop {tid}", email, password, datetime.now(UTC))
    stack.start()
    live = LiveStack(stack, tid, email, password)
    try:
        live.wait_healthy()
        yield live
    finally:
        stack.stop()  # which gives the environment back: later modules get the session's settings


@pytest.fixture(scope="session")
def playwright_driver() -> Iterator[Playwright]:
    with sync_playwright() as driver:
        yield driver


@pytest.fixture(scope="session")
def browser(playwright_driver: Playwright) -> Iterator[Browser]:
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: run `make chromium` (installs Debian's chromium package)")
    launched = playwright_driver.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
    yield launched
    launched.close()


class NewPage(Protocol):
    def __call__(self, mobile: bool = False, allow: tuple[str, ...] = ()) -> Page: ...


@pytest.fixture
def new_page(browser: Browser) -> Iterator[NewPage]:
    opened: list[tuple[Any, list[str], tuple[str, ...]]] = []

    def make(mobile: bool = False, allow: tuple[str, ...] = ()) -> Page:
        context = browser.new_context(**(MOBILE if mobile else DESKTOP))
        context.set_default_timeout(10_000)
        page = context.new_page()
        errors: list[str] = []

        def on_console(message: ConsoleMessage) -> None:
            if message.type == "error":
                location = message.location.get("url", "")
                errors.append(f"console: {message.text} ({location})")

        def on_page_error(error: Error) -> None:
            errors.append(f"pageerror: {error.message}")

        page.on("console", on_console)
        page.on("pageerror", on_page_error)
        page.errors = errors  # type: ignore[attr-defined]
        opened.append((context, errors, allow))
        return page

    yield make
    unexpected: list[str] = []
    for context, errors, allow in opened:
        context.close()
        unexpected += [e for e in errors if not any(expected in e for expected in allow)]
    if unexpected:
        pytest.fail("the page logged errors:\n" + "\n".join(unexpected), pytrace=False)


def _shoot(page: Page, name: str) -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


@pytest.fixture
def shoot() -> Callable[[Page, str], Path]:
    return _shoot
