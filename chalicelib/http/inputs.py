"""Limits on what a request may carry, checked in one place before any route or store sees it.

JSON bodies are nested at most `MAX_JSON_DEPTH` levels: Python's parser and pydantic recurse once per
level, so a body of a few kilobytes of `[` would otherwise exhaust the stack (a RecursionError, a 500).
Path parameters are identifiers: printable ASCII of bounded length. Every one ends up in a DynamoDB key,
which refuses a partition key over 2048 bytes and a sort key over 1024 bytes with an error of its own.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from chalicelib.core.codes import Code
from chalicelib.core.errors import BadRequest, InvalidJson

# No document of the API comes near: a campaign spec is 5 levels deep, segments are strings.
MAX_JSON_DEPTH = 32
MAX_PATH_PARAMETER = 128
# An email (up to 254 characters, RFC 5321) may arrive percent-encoded (`@` as `%40`).
LONG_PATH_PARAMETERS = {"email": 320}
_CONTAINERS = (dict, list)


def _too_deep() -> BadRequest:
    return BadRequest(
        f"the body is nested more than {MAX_JSON_DEPTH} levels deep",
        code=Code.JSON_TOO_DEEP,
        details={"max_depth": MAX_JSON_DEPTH},
    )


def _deeper_than_limit(value: Any) -> bool:
    """Whether arrays and objects nest past `MAX_JSON_DEPTH` in `value`: level by level, containers only, so
    no depth can overflow the stack (about 1.5 times the parse for a 60 KB body of 9,000 containers)."""
    level = [value] if isinstance(value, _CONTAINERS) else []
    for _ in range(MAX_JSON_DEPTH):
        level = [
            child
            for node in level
            for child in (node.values() if isinstance(node, dict) else node)
            if isinstance(child, _CONTAINERS)
        ]
        if not level:
            return False
    return True


def load_json(raw: bytes) -> Any:
    """The JSON value of a request body: 400 INVALID_JSON if it is not JSON, 400 JSON_TOO_DEEP if it nests
    more than `MAX_JSON_DEPTH` levels. Every body the API reads goes through here."""
    try:
        data = json.loads(raw)
    except RecursionError:  # the C scanner stops at the interpreter's limit, far past ours
        raise _too_deep() from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise InvalidJson(f"the body is not valid JSON: {exc}") from exc
    # A body with no more opening brackets than the limit cannot nest past it: most bodies skip the walk.
    if raw.count(b"[") + raw.count(b"{") > MAX_JSON_DEPTH and _deeper_than_limit(data):
        raise _too_deep()
    return data


def path_parameter_problem(name: str, value: str) -> str | None:
    """Why `value` cannot be the path parameter `name`, or None when it has the shape of an identifier."""
    limit = LONG_PATH_PARAMETERS.get(name, MAX_PATH_PARAMETER)
    if not value:
        return "is empty"
    if len(value) > limit:
        return f"is longer than {limit} characters"
    if not all("!" <= ch <= "~" for ch in value):
        return "may hold only printable ASCII characters without spaces"
    return None


def check_path_parameters(params: Mapping[str, Any] | None) -> None:
    """400 INVALID_PATH_PARAMETER unless every path parameter has the shape of an identifier."""
    for name, value in (params or {}).items():
        problem = path_parameter_problem(name, value if isinstance(value, str) else "")
        if problem is not None:
            raise BadRequest(
                f"the path parameter {name} {problem}",
                code=Code.INVALID_PATH_PARAMETER,
                details={"parameter": name},
            )
