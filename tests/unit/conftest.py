"""Unit tests: marked `unit`, no network, secrets in a temporary folder and fresh settings for each test."""

from __future__ import annotations

import socket
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

UNIT_DIR = Path(__file__).resolve().parent
ROOT = UNIT_DIR.parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

NETWORK_DISABLED = "network disabled in unit tests"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if item.path.resolve().is_relative_to(UNIT_DIR):
            item.add_marker(pytest.mark.unit)


def _clear_cached_settings() -> None:
    from chalicelib.accounts.store import anchors
    from chalicelib.core.config import get_settings
    from chalicelib.security import keyring, mac, pii, tokens

    get_settings.cache_clear()
    keyring.get_keyring.cache_clear()
    mac.get_mac.cache_clear()
    anchors.get_anchor_log.cache_clear()
    pii.get_cipher.cache_clear()
    tokens._signing_key.cache_clear()


@pytest.fixture(autouse=True)
def _no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    """Any attempt to reach the network fails loudly; local (AF_UNIX) sockets still work."""
    real_connect = socket.socket.connect
    real_connect_ex = socket.socket.connect_ex

    def guarded_connect(self: socket.socket, address: Any) -> None:
        if self.family == socket.AF_UNIX:
            return real_connect(self, address)
        raise RuntimeError(NETWORK_DISABLED)

    def guarded_connect_ex(self: socket.socket, address: Any) -> int:
        if self.family == socket.AF_UNIX:
            return real_connect_ex(self, address)
        raise RuntimeError(NETWORK_DISABLED)

    def no_create_connection(*args: Any, **kwargs: Any) -> socket.socket:
        raise RuntimeError(NETWORK_DISABLED)

    monkeypatch.setattr(socket.socket, "connect", guarded_connect)
    monkeypatch.setattr(socket.socket, "connect_ex", guarded_connect_ex)
    monkeypatch.setattr(socket, "create_connection", no_create_connection)


@pytest.fixture(autouse=True)
def _isolated_settings(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[Path]:
    """Each test gets its own secrets folder and settings read afresh from the environment."""
    secrets_dir = tmp_path / "secrets"
    monkeypatch.setenv("FISSION_SECRETS_DIR", str(secrets_dir))
    # Local keys only: a stage or KMS key from the developer's shell must not leak into unit tests.
    monkeypatch.setenv("FISSION_STAGE", "test")
    monkeypatch.delenv("FISSION_KMS_KEY_ID", raising=False)
    monkeypatch.delenv("FISSION_AUDIT_MAC_KEY_ID", raising=False)
    monkeypatch.delenv("FISSION_AUDIT_KEY_FILE", raising=False)
    monkeypatch.delenv("FISSION_AUDIT_ANCHOR_BUCKET", raising=False)
    monkeypatch.setenv("FISSION_AUDIT_ANCHOR_FILE", str(tmp_path / "audit-anchors.jsonl"))
    _clear_cached_settings()
    yield secrets_dir
    _clear_cached_settings()


@pytest.fixture
def secrets_dir(_isolated_settings: Path) -> Path:
    """The folder FISSION_SECRETS_DIR points at for this test (created on first use of a key)."""
    return _isolated_settings
