"""One HTTP request to a WeChat or WeCom API: JSON in and out, a timeout, a size cap, and nothing secret logged.

Queries carry app secrets and access tokens, so a URL is never logged or put in an error: only the path.
"""

from __future__ import annotations

import http.client
import json
import urllib.error
import urllib.request
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlencode, urlsplit

from chalicelib.core.observability import logger
from chalicelib.platforms.rules.tokens import PlatformUnreachable

MAX_ANSWER_BYTES = 1024 * 1024
USER_AGENT = "Fission/1.0"


def request(
    method: str,
    url: str,
    params: Mapping[str, str] | None,
    body: Mapping[str, Any] | None,
    timeout: float,
) -> tuple[str, bytes]:
    """(content type, body) of the platform's answer; PlatformUnreachable for no answer or an HTTP error."""
    path = urlsplit(url).path
    full = f"{url}?{urlencode(dict(params))}" if params else url
    data = json.dumps(body, ensure_ascii=False).encode() if body is not None else None
    headers = {"User-Agent": USER_AGENT, "Accept": "application/json, image/*"}
    if data is not None:
        headers["Content-Type"] = "application/json; charset=utf-8"
    sent = urllib.request.Request(full, data=data, headers=headers, method=method)
    try:
        with urllib.request.urlopen(sent, timeout=timeout) as response:  # noqa: S310 - https bases from settings
            kind = (response.headers.get("Content-Type") or "").split(";")[0].strip().lower()
            raw = response.read(MAX_ANSWER_BYTES + 1)
    except urllib.error.HTTPError as exc:
        logger.warning("platform call failed", path=path, status=exc.code)
        raise PlatformUnreachable(f"the platform answered HTTP {exc.code} on {path}") from None
    # Timeouts and resets are OSErrors; a cut or garbled answer (IncompleteRead, BadStatusLine) is an HTTPException.
    except (urllib.error.URLError, OSError, ValueError, http.client.HTTPException) as exc:
        logger.warning("platform call failed", path=path, error=type(exc).__name__)
        raise PlatformUnreachable(f"the platform did not answer on {path} ({type(exc).__name__})") from None
    if len(raw) > MAX_ANSWER_BYTES:
        raise PlatformUnreachable(f"the platform's answer on {path} is too large")
    return kind, raw


def parse_json(raw: bytes, path: str) -> dict[str, Any]:
    try:
        answer = json.loads(raw)
    except ValueError:
        raise PlatformUnreachable(f"the platform's answer on {path} is not JSON") from None
    if not isinstance(answer, dict):
        raise PlatformUnreachable(f"the platform's answer on {path} is not a JSON object")
    return answer


def request_json(
    method: str,
    url: str,
    params: Mapping[str, str] | None,
    body: Mapping[str, Any] | None,
    timeout: float,
) -> dict[str, Any]:
    """The JSON object the platform answers; PlatformUnreachable for no answer, an HTTP error or not JSON."""
    return parse_json(request(method, url, params, body, timeout)[1], urlsplit(url).path)


def is_json(kind: str, raw: bytes) -> bool:
    """Whether an answer that may be an image is a JSON error instead (WeChat sends errors as JSON, sometimes
    labelled text/plain)."""
    return kind in ("application/json", "text/plain") or raw.lstrip()[:1] == b"{"
