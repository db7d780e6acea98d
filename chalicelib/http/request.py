"""Request parsing and the request-scoped principal, shared by every route."""

from __future__ import annotations

from collections.abc import Callable
from contextvars import ContextVar
from datetime import datetime
from functools import lru_cache
from typing import Any

from chalice.app import Request, Response
from pydantic import BaseModel, ValidationError

from chalicelib.core.clock import Clock, utcnow
from chalicelib.core.config import get_settings
from chalicelib.core.errors import Unauthorized, ValidationFailed
from chalicelib.core.observability import logger
from chalicelib.core.rbac import Permission, Principal
from chalicelib.core.validation import validation_error
from chalicelib.http import addresses
from chalicelib.http.inputs import load_json

_principal: ContextVar[Principal | None] = ContextVar("principal", default=None)

# The service clock for routes; tests replace it to travel in time.
clock: Clock = utcnow


def now() -> datetime:
    return clock()


def set_principal(principal: Principal | None) -> None:
    _principal.set(principal)


def principal() -> Principal:
    current = _principal.get()
    if current is None:  # only reachable if a route forgot to declare a permission
        raise Unauthorized("this call needs an operator bearer token")
    return current


def requires[F: Callable[..., Any]](permission: Permission) -> Callable[[F], F]:
    """Declare the permission an admin route needs; the auth middleware enforces it."""

    def mark(view: F) -> F:
        setattr(view, "required_permission", permission)  # noqa: B010 - a marker read by the middleware
        return view

    return mark


def anonymous[F: Callable[..., Any]](view: F) -> F:
    """Declare that an admin route needs no token (login)."""
    setattr(view, "anonymous", True)  # noqa: B010 - a marker read by the middleware
    return view


def raw_body(request: Request) -> bytes:
    """The body exactly as sent: signatures are computed over these bytes."""
    raw = request.raw_body or b""
    return raw.encode() if isinstance(raw, str) else raw


def json_object(request: Request) -> dict[str, Any]:
    """The request body as a JSON object; clear 4xx errors for anything else (http/inputs.py)."""
    raw = raw_body(request)
    if not raw.strip():
        return {}
    data = load_json(raw)
    if not isinstance(data, dict):
        raise ValidationFailed(
            "the body must be a JSON object",
            details={"errors": [{"field": "", "type": "dict_type", "message": "not an object"}]},
        )
    return data


def parse[M: BaseModel](request: Request, model: type[M]) -> M:
    try:
        return model.model_validate(json_object(request))
    except ValidationError as exc:
        raise validation_error(exc) from exc


def parse_query[M: BaseModel](request: Request, model: type[M]) -> M:
    """The query string as `model` (by its fields' aliases); 422 like a body's fields."""
    try:
        return model.model_validate(dict(request.query_params or {}))
    except ValidationError as exc:
        raise validation_error(exc) from exc


def query_param(request: Request, name: str) -> str | None:
    params = request.query_params
    value = params.get(name) if params is not None else None
    return str(value) if value else None


def query_int(request: Request, name: str, default: int) -> int:
    value = query_param(request, name)
    if value is None:
        return default
    try:
        return int(value)
    except ValueError:
        raise ValidationFailed(
            f"{name} must be an integer",
            details={"errors": [{"field": name, "type": "int_parsing", "message": "not an integer"}]},
        ) from None


def no_content() -> Response:
    return Response(body="", status_code=204)


def created(body: dict[str, Any]) -> Response:
    return Response(body=body, status_code=201)


def _peer_ip(request: Request) -> str | None:
    """The connection's source address: API Gateway's `sourceIp` (the local server passes its peer there);
    absent when something else invoked the app."""
    identity = (request.context or {}).get("identity") or {}
    return str(identity.get("sourceIp") or "") or None


@lru_cache(maxsize=4)
def _trusted_proxies(setting: str) -> tuple[addresses.Network, ...]:
    networks, invalid = addresses.parse_networks(setting)
    if invalid:  # trusting fewer proxies only ignores their forwarding headers: log, never fail requests
        logger.error("FISSION_TRUSTED_PROXIES has entries that are not CIDRs; ignoring them", entries=invalid)
    return networks


def client_ip(request: Request) -> str | None:
    """The client's address, the one rule for the rate limits, the fraud signals and anything else that
    counts per address (http/addresses.py): the connection's source address, or, when that is a configured
    trusted proxy, the right-most `X-Forwarded-For` hop that is not one. None when the app was invoked
    without a source address."""
    return addresses.client_address(
        _peer_ip(request), request.headers.get("x-forwarded-for"), _trusted_proxies(get_settings().trusted_proxies)
    )
