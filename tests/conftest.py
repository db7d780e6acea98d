"""Shared fixtures: DynamoDB Local in memory, a fresh table per session, the app and its test client."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import shutil
import threading
import uuid
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

os.environ.setdefault("POWERTOOLS_TRACE_DISABLED", "true")
os.environ.setdefault("POWERTOOLS_METRICS_DISABLED", "true")
os.environ.setdefault("POWERTOOLS_LOG_LEVEL", "WARNING")
os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")

OWNER_PASSWORD = "owner-pass-123"
# The identity key each test tenant's "server" signs join assertions with: tid -> (key id, secret),
# made on the first signature (so tenants that never sign have no key, and no audit entry for one).
IDENTITY_KEYS: dict[str, tuple[str, str]] = {}


def identity_key(tid: str) -> tuple[str, str]:
    """The tenant's signing key (key id, secret), made on first use as its owner would."""
    if tid not in IDENTITY_KEYS:
        from chalicelib.accounts import identity_keys
        from chalicelib.core.rbac import Principal, Role

        made = identity_keys.issue(Principal(tid, f"owner@{tid}.example.cn", Role.OWNER), datetime.now(UTC))
        IDENTITY_KEYS[tid] = (str(made["key_id"]), str(made["secret"]))
    return IDENTITY_KEYS[tid]


# Modules that run for many minutes on one worker (a 2,000-participant campaign through the API): collected first,
# so that under `make test` (pytest-xdist, `--dist loadfile --no-loadscope-reorder`, files handed out in collection
# order) one worker starts them at once while the other shares out the rest, rather than last on an idle machine.
LONG_MODULES = ("tests/integration/analytics/test_stats_synthetic.py",)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        parts = Path(str(item.fspath)).parts
        if "integration" in parts:
            item.add_marker(pytest.mark.integration)
        elif "e2e" in parts:
            item.add_marker(pytest.mark.e2e)
    items.sort(key=lambda item: item.nodeid.split("::", 1)[0] not in LONG_MODULES)  # stable: the rest keep their order


@pytest.fixture(scope="session")
def dynamodb_endpoint() -> Iterator[str]:
    """A DynamoDB Local in memory for the session (or the one named by FISSION_TEST_DYNAMODB_ENDPOINT)."""
    given = os.environ.get("FISSION_TEST_DYNAMODB_ENDPOINT")
    if given:
        yield given
        return
    from local.dynamo import DynamoDBLocal, free_port

    with DynamoDBLocal(free_port()) as dynamo:
        yield dynamo.endpoint


def _reset_caches() -> None:
    from chalicelib.accounts.store import anchors
    from chalicelib.core.config import get_settings
    from chalicelib.http import rate_limits
    from chalicelib.posters import cache as poster_cache
    from chalicelib.security import keyring, mac, pii, tokens
    from chalicelib.table import db, idempotency

    get_settings.cache_clear()
    db.reset()
    keyring.get_keyring.cache_clear()
    mac.get_mac.cache_clear()
    anchors.get_anchor_log.cache_clear()
    pii.get_cipher.cache_clear()
    tokens._signing_key.cache_clear()
    idempotency._persistence.cache_clear()
    poster_cache.get_cache.cache_clear()
    rate_limits.get_limiter.cache_clear()


@pytest.fixture(scope="session")
def table(dynamodb_endpoint: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The app's table, created from the table spec, with the app's settings pointing at it."""
    name = f"fission-test-{uuid.uuid4().hex[:8]}"
    saved = dict(os.environ)
    for leftover in [k for k in os.environ if k.startswith("FISSION_")]:
        del os.environ[leftover]
    os.environ.update(
        FISSION_STAGE="test",
        FISSION_REGION="us-east-1",
        FISSION_DYNAMODB_ENDPOINT=dynamodb_endpoint,
        FISSION_TABLE_NAME=name,
        FISSION_SECRETS_DIR=str(tmp_path_factory.mktemp("secrets")),
        FISSION_POSTER_CACHE_DIR=str(tmp_path_factory.mktemp("posters")),
        FISSION_AUDIT_ANCHOR_FILE=str(tmp_path_factory.mktemp("audit") / "audit-anchors.jsonl"),
        # Many tests join hundreds of times from one client; tests of the limits turn them on.
        FISSION_RATE_LIMITS="off",
    )
    _reset_caches()
    from chalice.local import LambdaEventConverter

    from chalicelib.table import db

    # Chalice's test client is no network connection, yet it reports 127.0.0.1 as every request's source
    # address. Report none, like an invoker without one: nothing is counted per address (rate limits, fraud
    # velocity) unless a test gives the client an address (LambdaEventConverter.LOCAL_SOURCE_IP).
    source_ip = LambdaEventConverter.LOCAL_SOURCE_IP
    LambdaEventConverter.LOCAL_SOURCE_IP = ""
    db.ensure_table(db.dynamodb_client(), name)
    yield name
    LambdaEventConverter.LOCAL_SOURCE_IP = source_ip
    os.environ.clear()
    os.environ.update(saved)
    _reset_caches()


# argon2id at its production cost (64 MiB, three passes) takes a tenth of a second or more per hash and per check,
# and the suite makes thousands of tenants, operators and logins. Outside the unit tests, which keep the production
# hasher and check its parameters, passwords are hashed at argon2's lowest cost: the same algorithm, encoding and
# checks, and verification reads the cost from each stored hash, so hashes of either cost verify alike.
@pytest.fixture(autouse=True)
def _cheap_password_hashing(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    if request.node.get_closest_marker("unit") is not None:
        return
    from argon2 import PasswordHasher

    from chalicelib.security import passwords

    cheap = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)  # 8 KiB, one pass, one lane
    monkeypatch.setattr(passwords, "_hasher", lambda: cheap)
    dummy = cheap.hash("not-a-real-password")
    monkeypatch.setattr(passwords, "_dummy_hash", lambda: dummy)


@dataclass
class StreamTail:
    """The end of the session table's stream, followed by a pump that handles nothing.

    A new pump (a test's, a local stack's) reads the stream from its start; `checkpoints` gives it a checkpoint
    store at the stream's current end instead, so it starts where this pump stopped rather than reading again
    everything the session wrote before (tens of thousands of records late in a run)."""

    pump: Any
    path: Path

    def checkpoints(self, destination: Path) -> Any:
        """A checkpoint store at `destination`, at the end of everything written so far."""
        from local.pump import CheckpointStore

        self.pump.drain(timeout=120)
        if self.path.exists():
            destination.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(self.path, destination)
        return CheckpointStore(destination)


@pytest.fixture(scope="session")
def stream_tail(table: str, tmp_path_factory: pytest.TempPathFactory) -> StreamTail:
    from chalicelib.table import db
    from local.pump import CheckpointStore, StreamPump

    path = tmp_path_factory.mktemp("stream-tail") / "checkpoints.json"
    pump = StreamPump(
        db.streams_client(),
        db.stream_arn(db.dynamodb_client(), table),
        lambda event, context: {"batchItemFailures": []},
        checkpoints=CheckpointStore(path),
        batch_size=1000,
        backoff_base=0.0,
    )
    return StreamTail(pump, path)


class Clock:
    """A controllable clock for the routes (`chalicelib.http.request.clock`)."""

    def __init__(self) -> None:
        self.offset = timedelta()

    def __call__(self) -> datetime:
        return datetime.now(UTC) + self.offset

    def advance(self, **delta: float) -> None:
        self.offset += timedelta(**delta)


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    from chalicelib.http import request as http

    fake = Clock()
    monkeypatch.setattr(http, "clock", fake)
    return fake


@pytest.fixture
def app(table: str) -> Any:
    from app import app as chalice_app

    return chalice_app


@pytest.fixture
def client(app: Any) -> Iterator[Any]:
    from chalice.test import Client

    with Client(app, stage_name="local") as test_client:
        yield test_client


def _conformance(method: str, path: str, status: int, body: Any) -> None:
    """Every answer a test gets must be one docs/openapi.yaml documents, in the shape it documents."""
    from tests import contract

    found = contract.problems(method, path, status, body)
    assert not found, "the answer does not match docs/openapi.yaml:\n" + "\n".join(found)


@dataclass
class Api:
    """Thin helpers over the Chalice test client: JSON in, (status, body) out."""

    client: Any

    def call(
        self, method: str, path: str, body: Any = None, token: str | None = None, headers: dict[str, str] | None = None
    ) -> tuple[int, Any]:
        sent = {"Content-Type": "application/json", **(headers or {})}
        if token:
            sent["Authorization"] = f"Bearer {token}"
        raw = body if isinstance(body, str | bytes) else (None if body is None else json.dumps(body))
        response = self.client.http.request(method, path, headers=sent, body=raw or b"")
        _conformance(method, path, response.status_code, response.json_body)
        return response.status_code, response.json_body

    def login(self, email: str, password: str) -> str:
        status, body = self.call("POST", "/v1/admin/login", {"email": email, "password": password})
        assert status == 200, body
        return str(body["token"])


@pytest.fixture
def api(client: Any) -> Api:
    return Api(client)


_LIBRARY_CLOCK = threading.Lock()


@contextmanager
def library_clock(moment: datetime) -> Iterator[None]:
    """The Standard Webhooks library's "now" set to `moment` (it reads `datetime.now` for its 5-minute tolerance):
    tests deliver at moments of their own, and a receiver checks freshness against the moment it receives at."""
    from standardwebhooks import webhooks as library

    class Frozen(datetime):
        @classmethod
        def now(cls, tz: Any = None) -> Any:
            return moment.astimezone(tz)

    with _LIBRARY_CLOCK:
        real = library.datetime  # type: ignore[attr-defined]
        library.datetime = Frozen  # type: ignore[attr-defined]
        try:
            yield
        finally:
            library.datetime = real  # type: ignore[attr-defined]


def standard_secret(tid: str) -> str:
    """The tenant's current `whsec_` secret, as `GET /v1/admin/webhook-secret` shows it to the owner."""
    from chalicelib.accounts import webhook_secret
    from chalicelib.security import signing

    return signing.standard_secret(webhook_secret.signing_keys(tid, datetime.now(UTC)).current)


def verify_delivery(secret: str, headers: Mapping[str, str], body: bytes, *, at: datetime | None = None) -> Any:
    """An outbound delivery verified as a Standard Webhooks receiver holding `secret` would, with the reference
    library (not our code); returns the parsed body, or raises `WebhookVerificationError`.

    `at` is when the receiver got it (the library refuses timestamps more than 5 minutes away); by default the
    attempt's own `webhook-timestamp`, for receivers that cannot know the test's moving clock."""
    from standardwebhooks.webhooks import Webhook

    if at is None:
        stamp = {k.lower(): v for k, v in headers.items()}.get("webhook-timestamp", "")
        at = datetime.fromtimestamp(int(stamp), UTC) if stamp.isdigit() else datetime.now(UTC)
    with library_clock(at):
        return Webhook(secret).verify(body, dict(headers))


@dataclass
class Tenant:
    tid: str
    owner_email: str
    owner_token: str
    api: Api
    totp_secrets: dict[str, str] = field(default_factory=dict)
    _stepped: str | None = field(default=None, repr=False)
    _logins: dict[str, tuple[str, str]] = field(default_factory=dict, repr=False)

    def enrol_totp(self, token: str, email: str) -> str:
        """Enrol and confirm TOTP for the operator behind `token`; returns the secret.

        Confirms with the previous time step's code, so the current and next steps stay free
        for a login and one header step-up (a code is accepted once)."""
        from chalicelib.http import request as http
        from chalicelib.security import totp

        status, body = self.api.call("POST", "/v1/admin/operators/me/totp", token=token)
        assert status == 201, body
        secret = str(body["secret"])
        for _ in range(2):  # a step boundary between reading the clock and the check makes the code two steps old
            code = totp.code_at(secret, http.now() - timedelta(seconds=totp.STEP_SECONDS))
            status, body = self.api.call("POST", "/v1/admin/operators/me/totp/confirm", {"code": code}, token=token)
            if status != 400 or totp.code_at(secret, http.now() - timedelta(seconds=totp.STEP_SECONDS)) == code:
                break
        assert status == 200, body
        self.totp_secrets[email] = secret
        return secret

    def totp_code(self, email: str | None = None, *, steps_ahead: int = 0) -> str:
        """The authenticator's code for an enrolled operator (the owner by default) at the service clock."""
        from chalicelib.http import request as http
        from chalicelib.security import totp

        secret = self.totp_secrets[email or self.owner_email]
        return totp.code_at(secret, http.now() + timedelta(seconds=totp.STEP_SECONDS * steps_ahead))

    def totp_token(self, role: str | None = None) -> str:
        """A token with a fresh TOTP step-up (exports, unmasking): the owner's, or a new operator's with `role`."""
        email, password = self.owner_email, OWNER_PASSWORD
        if role is not None:
            email, password = f"{role}-{uuid.uuid4().hex[:6]}@{self.tid}.example.cn", "operator-pass-1"
            new = {"email": email, "password": password, "role": role}
            status, body = self.api.call("POST", "/v1/admin/operators", new, token=self.owner_token)
            assert status == 201, body
        if email not in self.totp_secrets:
            self.enrol_totp(self.api.login(email, password), email)
        code = self.totp_code(email)
        # A code is accepted once: within its 30 s step the token it gave is as fresh as a new login.
        if email in self._logins and self._logins[email][0] == code:
            return self._logins[email][1]
        status, body = self.api.call("POST", "/v1/admin/login", {"email": email, "password": password, "totp": code})
        assert status == 200, body
        self._logins[email] = (code, str(body["token"]))
        return str(body["token"])

    def stepped_token(self) -> str:
        """The owner's token from one TOTP login, kept: for the acts that need a fresh step-up (the webhook
        secret, identity and API keys, owners and roles) within 15 minutes of the service clock."""
        if self._stepped is None:
            self._stepped = self.totp_token()
        return self._stepped

    def operator(self, role: str, **extra: Any) -> str:
        """Create an operator with `role` and return their token."""
        email = f"{role}-{uuid.uuid4().hex[:6]}@{self.tid}.example.cn"
        status, body = self.api.call(
            "POST",
            "/v1/admin/operators",
            {"email": email, "password": "operator-pass-1", "role": role, **extra},
            token=self.owner_token,
        )
        assert status == 201, body
        return self.api.login(email, "operator-pass-1")


@pytest.fixture
def new_tenant(api: Api) -> Callable[[], Tenant]:
    """A factory of fresh tenants, each with a logged-in owner (tests never share tenants)."""
    from chalicelib.accounts.tenants import ensure_tenant

    def make() -> Tenant:
        tid = f"t-{uuid.uuid4().hex[:10]}"
        email = f"owner@{tid}.example.cn"
        ensure_tenant(tid, f"Shop {tid}", email, OWNER_PASSWORD, datetime.now(UTC))
        return Tenant(tid, email, api.login(email, OWNER_PASSWORD), api)

    return make


@pytest.fixture
def tenant(new_tenant: Callable[[], Tenant]) -> Tenant:
    return new_tenant()


def window(start_in: timedelta = timedelta(hours=-1), length: timedelta = timedelta(days=14)) -> dict[str, str]:
    start = datetime.now(UTC).replace(microsecond=0) + start_in
    return {
        "starts_at": start.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "ends_at": (start + length).strftime("%Y-%m-%dT%H:%M:%SZ"),
    }


def _reward(name: str = "5 yuan coupon", value: int = 500) -> dict[str, Any]:
    return {"type": "coupon", "name": name, "value_fen": value, "stock": 1000}


PRODUCT = {"sku": "SKU-1", "name": "Full-size serum"}

MODE_RULES: dict[str, dict[str, Any]] = {
    "invite": {
        "qualifying_action": "join",
        "milestones": [{"invites": 1, "reward": _reward()}, {"invites": 3, "reward": _reward("Sample", 2000)}],
        "invitee_reward": _reward("Welcome coupon", 300),
    },
    "group_buy": {
        "product": PRODUCT,
        "original_price_fen": 9900,
        "tiers": [{"size": 2, "price_fen": 7900}, {"size": 3, "price_fen": 6900}, {"size": 5, "price_fen": 4900}],
        "deadline_hours": 24,
    },
    "assist": {
        "goal": "cut_price",
        "product": PRODUCT,
        "original_price_fen": 10000,
        "floor_price_fen": 100,
        "helpers_required": 10,
        "min_cut_fen": 100,
        "max_cut_fen": 2000,
    },
    "distribution": {"levels": 2, "rates_bp": [1000, 300], "binding": "first_click", "frozen_days": 7},
    "poster": {
        "qualifying_action": "follow",
        "layout_id": "classic",
        "milestones": [{"invites": 5, "reward": {"type": "points", "name": "500 points", "points": 500}}],
    },
}


def campaign_body(mode: str = "invite", **overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "title": f"{mode} campaign",
        "mode": mode,
        **window(),
        "share": {"title": "邀请好友得好礼", "text": "Invite friends and both of you get a coupon"},
        "rule_text": "每位用户限领一次。活动最终解释权归商家所有。",
        "rules": MODE_RULES[mode],
    }
    body.update(overrides)
    return body


def live_campaign(api: Api, tenant: Tenant, mode: str = "invite", **overrides: Any) -> str:
    status, body = api.call("POST", "/v1/admin/campaigns", campaign_body(mode, **overrides), token=tenant.owner_token)
    assert status == 201, body
    cid = str(body["campaign_id"])
    assert api.call("POST", f"/v1/admin/campaigns/{cid}/publish", token=tenant.owner_token)[0] == 200
    return cid


def _b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def sign_assertion(
    tid: str,
    subject: str,
    *,
    issued_at: int | None = None,
    lifetime: int = 600,
    key: tuple[str, str] | None = None,
    header: dict[str, Any] | None = None,
    **claims: Any,
) -> str:
    """An identity assertion as a merchant's server signs it, built by hand (HMAC-SHA256 over base64url
    JSON, no JWT library), so the tests check Fission's verifier against an independent signer."""
    from chalicelib.http import request as http

    kid, secret = key or identity_key(tid)
    issued = int(http.now().timestamp()) if issued_at is None else issued_at
    body = {"iss": tid, "sub": subject, "aud": "fission", "iat": issued, "exp": issued + lifetime, **claims}
    head = {"alg": "HS256", "typ": "JWT", "kid": kid, **(header or {})}
    signing_input = f"{_b64url(json.dumps(head).encode())}.{_b64url(json.dumps(body).encode())}"
    signature = hmac.new(secret.encode(), signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{_b64url(signature)}"


def identity_mode(cid: str) -> tuple[str, str] | None:
    """(tenant, identity mode) of a campaign, read from the table; None when there is no such campaign."""
    from chalicelib.campaigns import lifecycle

    rec = lifecycle.find(cid)
    return None if rec is None else (rec.tid, rec.spec.identity.mode.value)


# Who each participant token was issued to, for the fresh proof sensitive acts need: token -> (cid, user id).
JOINED: dict[str, tuple[str, str]] = {}


def join(api: Api, cid: str, **fields: Any) -> tuple[int, Any]:
    """Join as a merchant's page does: with the user's signed assertion (the default identity mode), or
    as a fresh anonymous visitor in an anonymous campaign."""
    external_id = fields.pop("external_id", f"user-{uuid.uuid4().hex[:8]}")
    status, body = api.call("POST", f"/v1/campaigns/{cid}/participants", join_body(cid, external_id, **fields))
    if isinstance(body, dict) and "token" in body:
        JOINED[str(body["token"])] = (cid, external_id)
    return status, body


def proof(api: Api, token: str) -> dict[str, str]:
    """The fresh proof an export, an erasure or a claim with an address needs besides the token: a new
    assertion for the user (signed campaigns), or a one-time proof code (anonymous campaigns)."""
    cid, external_id = JOINED[token]
    found = identity_mode(cid)
    assert found is not None, cid
    tid, mode = found
    if mode != "anonymous":
        return {"X-Fission-Assertion": sign_assertion(tid, external_id)}
    status, body = api.call("POST", f"/v1/campaigns/{cid}/me/proof", token=token)
    assert status == 200, body
    return {"X-Fission-Proof": str(body["proof"])}


def join_body(cid: str, external_id: str, **fields: Any) -> dict[str, Any]:
    """A join body for `external_id`, with the assertion a signed campaign needs."""
    found = identity_mode(cid)
    if found is None:  # no such campaign: the body a page would send, for the API to refuse
        return {"external_id": external_id, **fields}
    tid, mode = found
    if mode == "anonymous":
        return dict(fields)
    return {"external_id": external_id, "assertion": sign_assertion(tid, external_id), **fields}
