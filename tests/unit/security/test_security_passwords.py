"""Operator passwords: argon2id hashes that verify only the right password."""

from __future__ import annotations

import pytest

from chalicelib.security.passwords import burn_time, hash_password, verify_password

PASSWORD = "correct horse battery"


@pytest.fixture(scope="module")
def password_hash() -> str:
    # Hashing is deliberately slow; one hash serves the whole module.
    return hash_password(PASSWORD)


def test_hash_is_argon2id_and_does_not_contain_the_password(password_hash: str) -> None:
    assert password_hash.startswith("$argon2id$")
    assert PASSWORD not in password_hash


def test_hash_has_the_production_cost(password_hash: str) -> None:
    # argon2-cffi's default profile (RFC 9106, low memory): 64 MiB, three passes, four lanes. Tests outside
    # tests/unit hash at the lowest cost (tests/conftest.py); production never does.
    assert "$m=65536,t=3,p=4$" in password_hash


def test_right_password_verifies(password_hash: str) -> None:
    assert verify_password(password_hash, PASSWORD) is True


def test_wrong_password_does_not_verify(password_hash: str) -> None:
    assert verify_password(password_hash, PASSWORD + "!") is False


@pytest.mark.parametrize("garbage", ["", "not-a-hash", "$argon2id$v=19$m=1,t=1,p=1$", "$2b$12$" + "a" * 53])
def test_garbage_hash_does_not_verify(garbage: str) -> None:
    assert verify_password(garbage, PASSWORD) is False


def test_burning_time_for_an_unknown_email_does_not_raise() -> None:
    burn_time(PASSWORD)
