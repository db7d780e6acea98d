"""Click tokens: signed, compact and URL-safe; anything not signed by us is simply no click."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import quote

import pytest

from chalicelib.security import click_tokens
from chalicelib.security.click_tokens import Click
from chalicelib.security.keyring import get_keyring

CODE = "ab3k9xz2"
AT = 1_795_000_000


def test_a_token_round_trips_its_code_and_time() -> None:
    token = click_tokens.issue(CODE, AT)
    assert click_tokens.verify(token) == Click(code=CODE, at=AT)


def test_a_token_is_compact_and_url_safe() -> None:
    token = click_tokens.issue(CODE, AT)
    assert len(token) <= click_tokens.MAX_LENGTH
    assert quote(token, safe="") == token


def test_the_key_comes_from_the_keyring(secrets_dir: Path) -> None:
    click_tokens.issue(CODE, AT)
    assert (secrets_dir / "click-tokens.key").exists()


def test_a_token_signed_with_another_key_is_rejected(secrets_dir: Path) -> None:
    token = click_tokens.issue(CODE, AT)
    (secrets_dir / "click-tokens.key").unlink()
    get_keyring.cache_clear()  # a process that starts now makes a new key on first use
    assert click_tokens.verify(token) is None


def test_changing_the_code_or_the_time_breaks_the_signature() -> None:
    prefix, code, at, tag = click_tokens.issue(CODE, AT).split(".")
    assert click_tokens.verify(f"{prefix}.zzzzzzzz.{at}.{tag}") is None
    assert click_tokens.verify(f"{prefix}.{code}.{int(at) - 3600}.{tag}") is None
    flipped = tag[:-1] + ("A" if tag[-1] != "A" else "B")
    assert click_tokens.verify(f"{prefix}.{code}.{at}.{flipped}") is None


@pytest.mark.parametrize(
    "token",
    ["", "garbage", "c1...", "c1.ab3k9xz2.1795000000", "c1.é.ü.ß", "x" * 500, "c1.ab3k9xz2.1795000000.a.b"],
)
def test_malformed_tokens_are_no_click_not_an_error(token: str) -> None:
    assert click_tokens.verify(token) is None


def test_a_well_signed_token_with_the_wrong_prefix_is_rejected() -> None:
    _, code, at, tag = click_tokens.issue(CODE, AT).split(".")
    assert click_tokens.verify(f"c2.{code}.{at}.{tag}") is None


@pytest.mark.parametrize(("code", "at"), [("not-a-code", AT), (CODE, 0), (CODE, -5)])
def test_issue_refuses_what_no_link_could_produce(code: str, at: int) -> None:
    with pytest.raises(ValueError):
        click_tokens.issue(code, at)
