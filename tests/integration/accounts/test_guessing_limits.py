"""Guessing limits: TOTP codes at step-up and login, passwords per email and per address; every refusal
audited, a lock answered 429 with Retry-After, and no answer telling a right password from a wrong one."""

from __future__ import annotations

import json
import random
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from chalicelib.core import observability
from tests.conftest import OWNER_PASSWORD, Api, Clock, Tenant, live_campaign

LOGIN = "/v1/admin/login"
EXPORTS = "/v1/admin/exports"

# A fresh source address for every test (tests/integration/conftest.py): attempts persist in the table.
pytestmark = pytest.mark.usefixtures("client_ip")


@pytest.fixture
def counted(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The names of the metrics the service emits during the test."""
    names: list[str] = []
    monkeypatch.setattr(observability.metrics, "add_metric", lambda name, unit, value: names.append(name))
    return names


def code_at(secret: str, seconds: int = 0) -> str:
    from chalicelib.http import request as http
    from chalicelib.security import totp

    return totp.code_at(secret, http.now() + timedelta(seconds=seconds))


def wrong_code(secret: str) -> str:
    """A code no step within the allowed drift (nor the next one) shows."""
    taken = {code_at(secret, s) for s in (-60, -30, 0, 30, 60)}
    while True:
        code = f"{random.randrange(10**6):06d}"
        if code not in taken:
            return code


def login(api: Api, email: str, password: str, totp: str | None = None) -> tuple[int, Any, dict[str, str]]:
    body = {"email": email, "password": password, **({"totp": totp} if totp is not None else {})}
    response = api.client.http.request(
        "POST", LOGIN, headers={"Content-Type": "application/json"}, body=json.dumps(body)
    )
    return response.status_code, response.json_body, dict(response.headers)


def export(api: Api, token: str, cid: str, code: str | None) -> tuple[int, Any, dict[str, str]]:
    headers = {"Content-Type": "application/json", "Authorization": f"Bearer {token}"}
    if code is not None:
        headers["X-Fission-TOTP"] = code
    body = json.dumps({"campaign_id": cid, "kind": "participants"})
    response = api.client.http.request("POST", EXPORTS, headers=headers, body=body)
    return response.status_code, response.json_body, dict(response.headers)


def trail(api: Api, tenant: Tenant, limit: int = 100) -> list[dict[str, Any]]:
    """The tenant's audit entries, oldest first (the owner's token, which never needs a step-up here)."""
    items: list[dict[str, Any]] = []
    cursor = ""
    while True:
        status, page = api.call("GET", f"/v1/admin/audit?limit={limit}{cursor}", token=tenant.owner_token)
        assert status == 200, page
        items += page["items"]
        if not page["next_cursor"]:
            return list(reversed(items))
        cursor = f"&cursor={page['next_cursor']}"


def new_operator(api: Api, tenant: Tenant, role: str = "analyst") -> str:
    email = f"{role}-{uuid.uuid4().hex[:6]}@{tenant.tid}.example.cn"
    new = {"email": email, "password": "operator-pass-1", "role": role}
    assert api.call("POST", "/v1/admin/operators", new, token=tenant.owner_token)[0] == 201
    return email


def test_wrong_step_up_codes_lock_the_operator_and_every_refusal_is_audited(
    api: Api, tenant: Tenant, clock: Clock, counted: list[str]
) -> None:
    cid = live_campaign(api, tenant)
    email = new_operator(api, tenant)
    token = api.login(email, "operator-pass-1")
    secret = tenant.enrol_totp(token, email)
    # The attack: a stolen password-only session guessing X-Fission-TOTP as fast as it can.
    answers = [export(api, token, cid, wrong_code(secret)) for _ in range(30)]
    assert [a[0] for a in answers[:5]] == [403] * 5
    assert {a[1]["error"]["details"]["reason"] for a in answers[:5]} == {"invalid_code"}
    for status, body, headers in answers[5:]:
        assert (status, body["error"]["code"]) == (429, "TOTP_LOCKED")
        assert 890 <= int(headers["Retry-After"]) <= 900 and body["error"]["details"]["retry_after"] > 0
    # Locked means locked: the right code is not even looked at, at step-up or at login.
    status, body, _ = export(api, token, cid, code_at(secret))
    assert (status, body["error"]["code"]) == (429, "TOTP_LOCKED")
    status, body, _ = login(api, email, "operator-pass-1", code_at(secret))
    assert (status, body["error"]["code"]) == (401, "INVALID_CREDENTIALS")

    failed = [e for e in trail(api, tenant) if e["action"] == "step_up.failed"]
    assert [e["details"] for e in failed[:5]] == [{"reason": "invalid_code"}] * 4 + [
        {"reason": "invalid_code", "totp_locked_seconds": 900}
    ]
    assert [e["details"] for e in failed[5:]] == [{"reason": "locked"}] * 26
    assert {e["actor"] for e in failed} == {email}
    assert counted.count("TotpFailures") == 32 and counted.count("TotpLockouts") == 1

    # The lock ends with its 15 minutes on the service clock; a right code then works and clears the count.
    clock.advance(minutes=15, seconds=1)
    assert export(api, token, cid, code_at(secret))[0] == 202
    for _ in range(4):
        assert export(api, token, cid, wrong_code(secret))[0] == 403
    assert export(api, token, cid, code_at(secret, 30))[0] == 202  # four misses, then a hit: no lock


def test_a_second_totp_lock_in_the_same_streak_lasts_twice_as_long(api: Api, tenant: Tenant, clock: Clock) -> None:
    cid = live_campaign(api, tenant)
    token = tenant.owner_token
    secret = tenant.enrol_totp(token, tenant.owner_email)
    for _ in range(5):
        assert export(api, token, cid, wrong_code(secret))[0] == 403
    clock.advance(minutes=15, seconds=1)
    assert export(api, token, cid, wrong_code(secret))[0] == 403  # the sixth miss of the streak: 30 minutes
    status, _, headers = export(api, token, cid, code_at(secret))
    assert status == 429 and 1790 <= int(headers["Retry-After"]) <= 1800


def test_wrong_codes_at_login_lock_the_account_and_the_codes(
    api: Api, tenant: Tenant, clock: Clock, counted: list[str]
) -> None:
    email = tenant.owner_email
    secret = tenant.enrol_totp(tenant.owner_token, email)
    # The attack: the password is known; 100 codes are tried at login.
    answers = [login(api, email, OWNER_PASSWORD, wrong_code(secret)) for _ in range(100)]
    assert [(a[0], a[1]["error"]["code"]) for a in answers[:5]] == [(401, "INVALID_CREDENTIALS")] * 5
    assert {(a[0], a[1]["error"]["code"]) for a in answers[5:]} == {(429, "LOGIN_LOCKED")}
    assert all(1 <= int(a[2]["Retry-After"]) <= 60 for a in answers[5:])
    assert answers[5][1]["error"]["details"] == {"scope": "account", "retry_after": int(answers[5][2]["Retry-After"])}

    # The account lock ends after a minute, but the codes stay locked for 15: even the right code fails,
    # with the same answer as a wrong one, and the account's next lock is twice as long.
    clock.advance(seconds=61)
    status, body, _ = login(api, email, OWNER_PASSWORD, code_at(secret))
    assert (status, body["error"]["code"]) == (401, "INVALID_CREDENTIALS")
    status, body, headers = login(api, email, OWNER_PASSWORD, code_at(secret))
    assert (status, body["error"]["code"]) == (429, "LOGIN_LOCKED") and 61 <= int(headers["Retry-After"]) <= 120

    entries = [e for e in trail(api, tenant) if e["action"].startswith("login.")]
    failed = [e["details"] for e in entries if e["action"] == "login.totp_failed"]
    assert failed == [
        {"reason": "invalid_code"},
        {"reason": "invalid_code"},
        {"reason": "invalid_code"},
        {"reason": "invalid_code"},
        {"reason": "invalid_code", "totp_locked_seconds": 900, "locked_seconds": 60},  # both locks start
        {"reason": "locked", "locked_seconds": 120},  # the right code, refused unseen: the second lock
    ]
    assert counted.count("LoginLocked") == 96 and counted.count("LoginLockouts") == 2
    assert counted.count("TotpLockouts") == 1

    # Both locks over: the right password and code log in, and the failures are forgotten.
    clock.advance(minutes=16)
    status, body, _ = login(api, email, OWNER_PASSWORD, code_at(secret))
    assert status == 200, body
    for _ in range(4):
        assert login(api, email, OWNER_PASSWORD, wrong_code(secret))[0] == 401
    assert login(api, email, OWNER_PASSWORD, code_at(secret, 30))[0] == 200


def test_many_wrong_passwords_are_refused_with_429_and_a_doubling_backoff(
    api: Api, tenant: Tenant, clock: Clock
) -> None:
    email = tenant.owner_email
    answers = [login(api, email, f"guess-{n}") for n in range(200)]
    assert [a[0] for a in answers[:5]] == [401] * 5
    assert {(a[0], a[1]["error"]["code"]) for a in answers[5:]} == {(429, "LOGIN_LOCKED")}
    assert all(1 <= int(a[2]["Retry-After"]) <= 60 for a in answers[5:])
    # Even the right password waits out the lock.
    assert login(api, email, OWNER_PASSWORD)[0] == 429

    waits = []
    for _ in range(3):  # each further miss doubles the lock (2, 4, 8 minutes), however long the pause before it
        clock.advance(seconds=int(login(api, email, "still-guessing")[2]["Retry-After"]) + 16 * 60)
        assert login(api, email, "still-guessing")[0] == 401
        waits.append(int(login(api, email, "still-guessing")[2]["Retry-After"]))
    assert [round(w / 60) for w in waits] == [2, 4, 8]

    clock.advance(seconds=waits[-1] + 1)
    status, body, _ = login(api, email, OWNER_PASSWORD)
    assert status == 200, body
    assert [login(api, email, "after-success")[0] for _ in range(6)] == [401] * 5 + [429]

    audited = [e for e in trail(api, tenant) if e["action"] == "login.failure"]
    assert audited[4]["details"] == {"reason": "INVALID_CREDENTIALS", "locked_seconds": 60}
    assert len(audited) == 5 + 3 + 5  # refusals of a locked account are counted in metrics, not audited


def test_a_lock_ends_when_its_window_passes_and_a_quiet_streak_starts_afresh(
    api: Api, tenant: Tenant, clock: Clock
) -> None:
    email = tenant.owner_email
    for _ in range(4):
        assert login(api, email, "wrong-password")[0] == 401
    clock.advance(minutes=15, seconds=1)  # the streak ended: four more misses lock nothing
    for _ in range(4):
        assert login(api, email, "wrong-password")[0] == 401
    assert login(api, email, OWNER_PASSWORD)[0] == 200


def test_unknown_emails_are_refused_and_locked_exactly_like_known_ones(api: Api, tenant: Tenant) -> None:
    ghost = f"ghost-{uuid.uuid4().hex[:6]}@nowhere.cn"
    known = [login(api, tenant.owner_email, "wrong-password") for _ in range(7)]
    unknown = [login(api, ghost, "wrong-password") for _ in range(7)]
    assert [(s, b) for s, b, _ in known[:5]] == [(s, b) for s, b, _ in unknown[:5]]
    assert [s for s, _, _ in unknown] == [401] * 5 + [429] * 2
    assert [(b["error"]["code"], b["error"]["details"]["scope"]) for _, b, _ in known[5:] + unknown[5:]] == [
        ("LOGIN_LOCKED", "account")
    ] * 4


def test_one_address_trying_many_emails_is_locked_by_address(
    api: Api, tenant: Tenant, client_ip: Callable[[], str]
) -> None:
    emails = [f"spray-{n}-{uuid.uuid4().hex[:4]}@nowhere.cn" for n in range(10)]
    answers = [login(api, email, "password-1")[0] for email in emails for _ in range(3)]  # 3 per email: no account lock
    assert answers == [401] * 30
    status, body, headers = login(api, tenant.owner_email, OWNER_PASSWORD)
    assert (status, body["error"]["code"], body["error"]["details"]["scope"]) == (429, "LOGIN_LOCKED", "address")
    assert 1 <= int(headers["Retry-After"]) <= 60
    client_ip()  # the same operator from another address is not affected
    assert login(api, tenant.owner_email, OWNER_PASSWORD)[0] == 200


def test_a_totp_operator_cannot_tell_a_wrong_password_from_a_missing_or_wrong_code(api: Api, tenant: Tenant) -> None:
    email = tenant.owner_email
    secret = tenant.enrol_totp(tenant.owner_token, email)
    wrong_password = login(api, email, "not-the-password", code_at(secret))
    wrong_password_no_code = login(api, email, "not-the-password")
    missing_code = login(api, email, OWNER_PASSWORD)
    wrong = login(api, email, OWNER_PASSWORD, wrong_code(secret))
    answers = [wrong_password, wrong_password_no_code, missing_code, wrong]
    refused = {"error": {"code": "INVALID_CREDENTIALS", "message": "wrong email, password or TOTP code", "details": {}}}
    assert [(status, body) for status, body, _ in answers] == [(401, refused)] * 4
    # The wrong password did not spend the code it carried; the right pair still logs in.
    status, body, _ = login(api, email, OWNER_PASSWORD, code_at(secret))
    assert status == 200 and body["email"] == email

    reasons = [(e["action"], e["details"]) for e in trail(api, tenant) if e["action"].startswith("login.")][-5:]
    assert reasons == [
        ("login.failure", {"reason": "INVALID_CREDENTIALS"}),
        ("login.failure", {"reason": "INVALID_CREDENTIALS"}),
        ("login.totp_failed", {"reason": "missing"}),
        ("login.totp_failed", {"reason": "invalid_code"}),
        ("login.success", {"totp": True}),
    ]


def test_an_operator_without_totp_still_logs_in_with_the_password(api: Api, tenant: Tenant) -> None:
    email = new_operator(api, tenant)
    assert login(api, email, "wrong-password")[0] == 401
    status, body, _ = login(api, email, "operator-pass-1")
    assert status == 200 and body["email"] == email


def test_starting_a_totp_enrolment_is_audited(api: Api, tenant: Tenant) -> None:
    assert api.call("POST", "/v1/admin/operators/me/totp", token=tenant.owner_token)[0] == 201
    assert api.call("POST", "/v1/admin/operators/me/totp", token=tenant.owner_token)[0] == 201  # a restart
    entries = [e for e in trail(api, tenant) if e["action"] == "operator.totp_enrol"]
    assert len(entries) == 2 and entries[0]["details"] == {"status": "pending"}
    assert "secret" not in str(entries)


def test_stale_and_unenrolled_step_ups_are_audited(api: Api, tenant: Tenant) -> None:
    cid = live_campaign(api, tenant)
    assert export(api, tenant.owner_token, cid, None)[0] == 403  # not enrolled
    tenant.enrol_totp(tenant.owner_token, tenant.owner_email)
    assert export(api, tenant.owner_token, cid, None)[0] == 403  # a password-only token
    failed = [e["details"] for e in trail(api, tenant) if e["action"] == "step_up.failed"]
    assert failed == [{"reason": "not_enrolled"}, {"reason": "stale"}]


def test_concurrent_failures_are_each_counted(table: str) -> None:
    from chalicelib.accounts import lockout
    from chalicelib.accounts.rules.lockout import Scope
    from chalicelib.accounts.store import attempts

    hashed = lockout.subject(Scope.ADDRESS, f"203.0.113.{random.randrange(256)}-{uuid.uuid4().hex}")
    now = datetime.now(UTC)
    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(lambda _: lockout.fail(Scope.ADDRESS, hashed, now), range(40)))
    assert sorted(r.failures for r in results) == list(range(1, 41))
    stored = attempts.get_many([(Scope.ADDRESS.value, hashed)])[(Scope.ADDRESS.value, hashed)]
    assert stored.failures == 40 and stored.locked_until == int(now.timestamp()) + 3600  # the longest lock wins
