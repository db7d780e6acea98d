"""Helpers the benchmarks share."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any


def cpu_seconds(pid: int | None) -> float:
    """User + system CPU of another process, e.g. DynamoDB Local's (Linux /proc; 0 elsewhere)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def api_caller(client: Any) -> Callable[..., Any]:
    """`call(method, path, body, token, **headers)` through a chalice.test Client: the JSON answer, asserting
    it is not an error (a benchmark that measures failures measures nothing)."""

    def call(method: str, path: str, body: Any = None, token: str | None = None, **extra: str) -> Any:
        headers = {"Content-Type": "application/json", **({"Authorization": f"Bearer {token}"} if token else {})}
        headers.update(extra)
        response = client.http.request(method, path, headers=headers, body=json.dumps(body).encode() if body else b"")
        assert response.status_code < 400, response.json_body
        return response.json_body

    return call
