"""Identity assertions: a hand-built HS256 JWT (no JWT library on this side) against Fission's verifier,
every way of being wrong with its own code, key rotation, and the worked example in docs/identity.md."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from chalicelib.core.errors import Unauthorized
from chalicelib.security import assertions
from chalicelib.security.assertions import KeySet

NOW = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)
T = int(NOW.timestamp())
KEY = ("idk_current", "the-current-secret-of-32-bytes-or-more")
NEXT = "the-next-secret-of-32-bytes-or-more"
GUESS = "a-guessed-secret-of-32-bytes-or-more"
KEYS = KeySet(active={KEY[0]: KEY[1].encode(), "idk_next": NEXT.encode()}, retired=frozenset({"idk_old"}))
DOC = Path(__file__).resolve().parents[3] / "docs" / "identity.md"


def b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def token(claims: dict[str, Any] | None = None, header: dict[str, Any] | None = None, secret: str = KEY[1]) -> str:
    head = {"alg": "HS256", "typ": "JWT", "kid": KEY[0], **(header or {})}
    body = {"iss": "shop", "sub": "member-42", "aud": "fission", "iat": T - 10, "exp": T + 290, **(claims or {})}
    signing_input = f"{b64(json.dumps(head).encode())}.{b64(json.dumps(body).encode())}"
    return f"{signing_input}.{b64(hmac.new(secret.encode(), signing_input.encode(), hashlib.sha256).digest())}"


def refused(raw: str) -> str:
    with pytest.raises(Unauthorized) as caught:
        assertions.verify(raw, "shop", KEYS, NOW)
    assert caught.value.status == 401
    return str(caught.value.code)


def test_a_well_signed_assertion_gives_the_subject_and_profile() -> None:
    found = assertions.verify(token({"nickname": "小王", "phone": "13812345678", "role": "ignored"}), "shop", KEYS, NOW)
    assert (found.subject, found.key_id, found.profile) == (
        "member-42",
        KEY[0],
        {"nickname": "小王", "phone": "13812345678"},
    )


@pytest.mark.parametrize(
    ("case", "raw", "code"),
    [
        ("expired", token({"iat": T - 400, "exp": T - 100}), "ASSERTION_EXPIRED"),
        ("not yet valid", token({"iat": T + 300, "exp": T + 600}), "ASSERTION_NOT_YET_VALID"),
        ("nbf ahead", token({"nbf": T + 300}), "ASSERTION_NOT_YET_VALID"),
        ("wrong tenant", token({"iss": "another-shop"}), "ASSERTION_ISSUER"),
        ("wrong audience", token({"aud": "someone-else"}), "ASSERTION_AUDIENCE"),
        (
            "wrong key",
            token(header={"kid": "idk_unknown"}, secret=GUESS),
            "ASSERTION_KEY_UNKNOWN",
        ),
        ("retired key", token(header={"kid": "idk_old"}), "ASSERTION_KEY_RETIRED"),
        ("no key id", token(header={"kid": None}), "ASSERTION_KEY_UNKNOWN"),
        ("signed with another secret", token(secret="not-the-key-though-32-bytes-or-more"), "ASSERTION_SIGNATURE"),
        ("over-long lifetime", token({"iat": T - 10, "exp": T + 3600}), "ASSERTION_LIFETIME"),
        ("no subject", token({"sub": ""}), "ASSERTION_MALFORMED"),
        ("not a jwt", "not.a-jwt", "ASSERTION_MALFORMED"),
    ],
)
def test_each_way_of_being_wrong_has_its_own_code(case: str, raw: str, code: str) -> None:
    assert refused(raw) == code, case


def test_a_tampered_payload_breaks_the_signature() -> None:
    head, _, signature = token().split(".")
    forged = b64(json.dumps({"iss": "shop", "sub": "victim", "aud": "fission", "iat": T - 10, "exp": T + 290}).encode())
    assert refused(f"{head}.{forged}.{signature}") == "ASSERTION_SIGNATURE"


def test_alg_none_and_hs512_with_the_right_key_are_refused_before_any_key_is_used() -> None:
    unsigned = token(header={"alg": "none"}).rsplit(".", 1)[0] + "."
    assert refused(unsigned) == "ASSERTION_ALGORITHM"
    head = {"alg": "HS512", "typ": "JWT", "kid": KEY[0]}
    body = {"iss": "shop", "sub": "member-42", "aud": "fission", "iat": T - 10, "exp": T + 290}
    signing_input = f"{b64(json.dumps(head).encode())}.{b64(json.dumps(body).encode())}"
    hs512 = b64(hmac.new(KEY[1].encode(), signing_input.encode(), hashlib.sha512).digest())
    assert refused(f"{signing_input}.{hs512}") == "ASSERTION_ALGORITHM"


def test_rotation_overlaps_and_a_retired_key_is_refused() -> None:
    old = token(header={"kid": "idk_current"})
    new = token(header={"kid": "idk_next"}, secret=NEXT)
    assert assertions.verify(old, "shop", KEYS, NOW).key_id == "idk_current"
    assert assertions.verify(new, "shop", KEYS, NOW).key_id == "idk_next"
    retired = KeySet(active={"idk_next": NEXT.encode()}, retired=frozenset({"idk_current"}))
    with pytest.raises(Unauthorized) as caught:
        assertions.verify(old, "shop", retired, NOW)
    assert caught.value.code == "ASSERTION_KEY_RETIRED"


def test_the_worked_example_in_the_docs_is_what_both_sides_compute() -> None:
    text = DOC.read_text()
    secret = re.search(r"^secret: `([^`]+)`$", text, flags=re.MULTILINE)
    claims = re.search(r"^claims: `(\{.*\})`$", text, flags=re.MULTILINE)
    expected = re.search(r"^token: `([^`]+)`$", text, flags=re.MULTILINE)
    kid = re.search(r"^key id: `([^`]+)`$", text, flags=re.MULTILINE)
    assert secret and claims and expected and kid, "docs/identity.md has lost its worked example"
    body = json.loads(claims.group(1))
    # By hand, with the header and claims serialised compactly in the order shown.
    head = {"alg": "HS256", "kid": kid.group(1), "typ": "JWT"}
    signing_input = ".".join(b64(json.dumps(part, separators=(",", ":")).encode()) for part in (head, body))
    by_hand = (
        f"{signing_input}.{b64(hmac.new(secret.group(1).encode(), signing_input.encode(), hashlib.sha256).digest())}"
    )
    assert by_hand == expected.group(1)
    keys = KeySet(active={kid.group(1): secret.group(1).encode()})
    moment = datetime.fromtimestamp(int(body["iat"]) + 60, tz=UTC)
    assert assertions.verify(expected.group(1), str(body["iss"]), keys, moment).subject == body["sub"]
