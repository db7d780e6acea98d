"""The unit-test harness itself: marked `unit`, no network, private secrets and fresh settings."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from chalicelib.core.config import get_settings


def test_every_unit_test_is_marked_unit(request: pytest.FixtureRequest) -> None:
    assert request.node.get_closest_marker("unit") is not None


def test_tcp_connections_are_refused() -> None:
    with pytest.raises(RuntimeError, match="network disabled in unit tests"):
        socket.create_connection(("127.0.0.1", 9), timeout=0.1)
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock, pytest.raises(RuntimeError):
        sock.connect(("127.0.0.1", 9))


def test_local_unix_sockets_still_work(tmp_path: Path) -> None:
    path = str(tmp_path / "s.sock")
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as server:
        server.bind(path)
        server.listen(1)
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as client:
            client.connect(path)
            connection, _ = server.accept()
            with connection:
                client.sendall(b"ping")
                assert connection.recv(4) == b"ping"


def test_settings_point_at_this_tests_own_secrets_folder(secrets_dir: Path, tmp_path: Path) -> None:
    settings = get_settings()

    assert settings.secrets_dir == secrets_dir
    assert secrets_dir.is_relative_to(tmp_path)
    assert settings.kms_key_id is None
    assert not settings.is_cloud
