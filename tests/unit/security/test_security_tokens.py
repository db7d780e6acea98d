"""Operator bearer tokens: they verify until they expire, and only if untouched and signed by our key."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import jwt
import pytest

from chalicelib.core.errors import Unauthorized
from chalicelib.security import tokens

NOW = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)
TTL = 3600


def test_issued_token_verifies_to_its_claims(secrets_dir: Path) -> None:
    token, expires = tokens.issue("t1", "boss@shop.local", 3, NOW, TTL)

    claims = tokens.verify(token, NOW + timedelta(minutes=30))

    assert claims == tokens.TokenClaims(tid="t1", email="boss@shop.local", version=3, expires_at=expires)
    assert expires == NOW + timedelta(seconds=TTL)
    assert (secrets_dir / "token.key").exists()


def test_token_verifies_until_its_last_second() -> None:
    token, _ = tokens.issue("t1", "boss@shop.local", 1, NOW, TTL)

    assert tokens.verify(token, NOW + timedelta(seconds=TTL - 1)).tid == "t1"


@pytest.mark.parametrize("later", [TTL, TTL + 1, 86_400], ids=["at-expiry", "a-second-after", "a-day-after"])
def test_expired_token_is_token_expired(later: int) -> None:
    token, _ = tokens.issue("t1", "boss@shop.local", 1, NOW, TTL)

    with pytest.raises(Unauthorized) as caught:
        tokens.verify(token, NOW + timedelta(seconds=later))

    assert caught.value.code == "TOKEN_EXPIRED"
    assert caught.value.status == 401


def _b64(data: dict[str, object]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def test_tampered_token_is_invalid() -> None:
    # GIVEN a viewer's token whose payload is rewritten to another tenant, signature kept
    token, _ = tokens.issue("t1", "viewer@shop.local", 1, NOW, TTL)
    header, _, signature = token.split(".")
    claims = jwt.decode(token, options={"verify_signature": False})
    forged = f"{header}.{_b64({**claims, 'tid': 't2'})}.{signature}"

    # WHEN it is verified THEN it is refused
    with pytest.raises(Unauthorized) as caught:
        tokens.verify(forged, NOW)

    assert caught.value.code == "INVALID_TOKEN"


def test_token_signed_with_another_key_is_invalid() -> None:
    token, _ = tokens.issue("t1", "boss@shop.local", 1, NOW, TTL)
    claims = jwt.decode(token, options={"verify_signature": False})
    foreign = jwt.encode(claims, b"k" * 32, algorithm="HS256")

    with pytest.raises(Unauthorized) as caught:
        tokens.verify(foreign, NOW)

    assert caught.value.code == "INVALID_TOKEN"


def test_token_from_another_deployment_is_invalid(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    # GIVEN a token issued with one secrets folder
    token, _ = tokens.issue("t1", "boss@shop.local", 1, NOW, TTL)

    # WHEN the service runs with another folder (another signing key)
    monkeypatch.setenv("FISSION_SECRETS_DIR", str(tmp_path / "other"))
    from chalicelib.core.config import get_settings
    from chalicelib.security.keyring import get_keyring

    get_settings.cache_clear()
    get_keyring.cache_clear()
    tokens._signing_key.cache_clear()

    # THEN the token no longer verifies
    with pytest.raises(Unauthorized) as caught:
        tokens.verify(token, NOW)
    assert caught.value.code == "INVALID_TOKEN"


def test_unsigned_token_is_invalid() -> None:
    token, _ = tokens.issue("t1", "boss@shop.local", 1, NOW, TTL)
    claims = jwt.decode(token, options={"verify_signature": False})
    unsigned = f"{_b64({'alg': 'none', 'typ': 'JWT'})}.{_b64(claims)}."

    with pytest.raises(Unauthorized) as caught:
        tokens.verify(unsigned, NOW)

    assert caught.value.code == "INVALID_TOKEN"


@pytest.mark.parametrize("claim", ["aud", "iss"])
def test_token_for_another_audience_or_issuer_is_invalid(claim: str) -> None:
    token, _ = tokens.issue("t1", "boss@shop.local", 1, NOW, TTL)
    claims = jwt.decode(token, options={"verify_signature": False})
    other = jwt.encode({**claims, claim: "someone-else"}, tokens._signing_key(), algorithm="HS256")

    with pytest.raises(Unauthorized) as caught:
        tokens.verify(other, NOW)

    assert caught.value.code == "INVALID_TOKEN"


@pytest.mark.parametrize("missing", ["exp", "tid", "ver", "sub", "iat"])
def test_token_missing_a_required_claim_is_invalid(missing: str) -> None:
    token, _ = tokens.issue("t1", "boss@shop.local", 1, NOW, TTL)
    claims = jwt.decode(token, options={"verify_signature": False})
    del claims[missing]
    partial = jwt.encode(claims, tokens._signing_key(), algorithm="HS256")

    with pytest.raises(Unauthorized) as caught:
        tokens.verify(partial, NOW)

    assert caught.value.code == "INVALID_TOKEN"


@pytest.mark.parametrize("garbage", ["", "not-a-token", "a.b.c"])
def test_garbage_is_invalid(garbage: str) -> None:
    with pytest.raises(Unauthorized) as caught:
        tokens.verify(garbage, NOW)

    assert caught.value.code == "INVALID_TOKEN"


def test_token_issued_within_the_clock_skew_ahead_is_accepted() -> None:
    token, _ = tokens.issue("t1", "boss@shop.local", 1, NOW + timedelta(seconds=tokens.CLOCK_SKEW_SECONDS), TTL)

    assert tokens.verify(token, NOW).tid == "t1"


def test_token_issued_further_in_the_future_than_the_clock_skew_is_invalid() -> None:
    token, _ = tokens.issue("t1", "boss@shop.local", 1, NOW + timedelta(seconds=tokens.CLOCK_SKEW_SECONDS + 1), TTL)

    with pytest.raises(Unauthorized) as caught:
        tokens.verify(token, NOW)

    assert caught.value.code == "INVALID_TOKEN"
