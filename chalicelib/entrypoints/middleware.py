"""The HTTP middleware: one place where errors become responses and admin and server calls are authorised."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from chalice.app import Chalice, Request, Response

from chalicelib.core.codes import Code
from chalicelib.core.errors import FissionError, Forbidden, PayloadTooLarge, Unauthorized
from chalicelib.core.observability import logger
from chalicelib.http import inputs
from chalicelib.http.rules import ADMIN_PREFIX, ROUTES, SERVER_PREFIX, RouteClass, Scope

if TYPE_CHECKING:
    from chalicelib.accounts.rules.records import ApiKeyRecord
    from chalicelib.core.rbac import Permission, Principal

# Imported at `import app`, so only light modules at the top: settings, the request helpers, rate limits and
# the credentials are imported by the functions that use them, on the first request that reaches them (a
# public route never loads the operators' token or API-key code).

# Any origin may call: admin calls carry a bearer token, never cookies, so a wildcard leaks nothing.
CORS_ORIGIN = "*"
CORS_HEADERS = (
    "Content-Type,Authorization,Idempotency-Key,X-Device-Id,X-Request-Id,X-Fission-TOTP,X-Fission-Assertion,"
    "X-Fission-Proof"
)

# Chalice answers some requests itself (405, 415, Accept mismatch) with its own body shape;
# these map its error names onto ours so every 4xx a client sees has the same format.
_CHALICE_CODES = {
    "MethodNotAllowedError": Code.METHOD_NOT_ALLOWED,
    "UnsupportedMediaType": Code.UNSUPPORTED_MEDIA_TYPE,
    "BadRequest": Code.BAD_REQUEST,
    "BadRequestError": Code.BAD_REQUEST,
    "NotFoundError": Code.NOT_FOUND,
}


def error_response(status: int, code: str, message: str, details: dict[str, Any] | None = None) -> Response:
    body = {"error": {"code": code, "message": message, "details": details or {}}}
    return Response(body=body, status_code=status, headers={"Content-Type": "application/json"})


def _cors(response: Response) -> Response:
    response.headers.setdefault("Access-Control-Allow-Origin", CORS_ORIGIN)
    return response


def _normalise_chalice_error(response: Response) -> Response:
    body = response.body
    if response.status_code >= 400 and isinstance(body, dict) and "Code" in body and "error" not in body:
        code = _CHALICE_CODES.get(str(body["Code"]), Code.BAD_REQUEST)
        if response.status_code >= 500:
            code = Code.INTERNAL_ERROR
        fixed = error_response(response.status_code, code, str(body.get("Message", "")))
        fixed.headers.update({k: v for k, v in response.headers.items() if k.lower() != "content-type"})
        return fixed
    return response


def errors(event: Request, get_response: Callable[[Request], Response]) -> Response:
    """Outermost: size limit, path parameter shapes, domain errors by type, and a JSON 500 without internals."""
    # Settings (pydantic-settings): read on the first request, never at import.
    from chalicelib.core.config import get_settings

    try:
        raw = event.raw_body or b""
        limit = get_settings().max_body_bytes
        if len(raw) > limit:
            raise PayloadTooLarge(f"the body is {len(raw)} bytes; the limit is {limit}", details={"limit": limit})
        # Before rate limits and authorisation: no code after this sees an id no key could hold.
        inputs.check_path_parameters(event.uri_params)
        response = _normalise_chalice_error(get_response(event))
    except FissionError as exc:
        if exc.status >= 500:
            logger.warning("request failed", code=exc.code, error=exc.message)
        response = error_response(exc.status, exc.code, exc.message, exc.details)
        response.headers.update(getattr(exc, "headers", None) or {})  # e.g. Retry-After on a 429
    except Exception:
        logger.exception("unhandled error")
        response = error_response(500, Code.INTERNAL_ERROR, "an internal error occurred; it has been logged")
    request_id = (event.context or {}).get("requestId")
    if request_id:
        response.headers["X-Request-Id"] = str(request_id)
    return _cors(response)


def _route_view(app: Chalice, request: Request) -> Any:
    context = request.context or {}
    entry = app.routes.get(context.get("resourcePath", ""), {}).get(request.method)
    return entry.view_function if entry is not None else None


def _operator(event: Request, view: Any, path: str) -> Principal:
    """The operator behind the bearer token, holding the permission the admin route declares."""
    # Operators' tokens (accounts): loaded by the first admin request.
    from chalicelib.accounts import auth
    from chalicelib.core.rbac import is_allowed
    from chalicelib.http import request as http

    principal = auth.authenticate(event.headers.get("authorization"), http.now())
    needed: Permission | None = getattr(view, "required_permission", None)
    if needed is None:
        logger.error("admin route without a declared permission", path=path, method=event.method)
        raise Forbidden("this route declares no permission and is closed", code=Code.PERMISSION_UNDECLARED)
    if not is_allowed(principal.role, needed):
        raise Forbidden(
            f"the {principal.role.value} role may not do this",
            code=Code.FORBIDDEN,
            details={"permission": needed.value, "role": principal.role.value},
        )
    return principal


def _api_key(event: Request) -> ApiKeyRecord:
    """The API key behind `Bearer fsk_...`: verified and counted against its rate limit."""
    # API keys (accounts) and the rate limiter: loaded by the first request that presents a key.
    from chalicelib.accounts import api_keys
    from chalicelib.http import rate_limits
    from chalicelib.http import request as http

    now = http.now()
    key = api_keys.authenticate(event.headers.get("authorization"), now)
    subjects = {Scope.API_KEY: lambda: key.kid, Scope.IP: lambda: http.client_ip(event)}
    rate_limits.admit(RouteClass.SERVER, subjects, now)
    return key


def _check_scope(event: Request, view: Any, path: str, key: ApiKeyRecord) -> None:
    """403 SCOPE_REQUIRED unless the key holds the scope the route needs (accounts/rules/api_keys.py)."""
    # The scope table (accounts): loaded by the first request that presents a key.
    from chalicelib.accounts.rules import api_keys as key_rules

    needed = key_rules.scope_for(event.method, path, getattr(view, "required_permission", None))
    if needed is None or needed.value not in key.scopes:
        message = f"this API key lacks the {needed.value} scope" if needed else "API keys cannot call this route"
        raise Forbidden(
            message,
            code=Code.SCOPE_REQUIRED,
            details={"scope": needed.value if needed else None, "scopes": list(key.scopes)},
        )


def _as_key(event: Request, view: Any, path: str, get_response: Callable[[Request], Response]) -> Response:
    """A request with an API key, added to the key's usage log once the key is proven and within its rate
    limit, with the status it is answered with (a scope refusal included): docs/api-keys.md."""
    # API keys (accounts): loaded by the first request that presents a key.
    from chalicelib.accounts import api_keys
    from chalicelib.http import request as http

    record = _api_key(event)
    key = api_keys.principal(record)
    now = http.now()
    status = 500  # what the errors middleware answers for anything but a domain error
    try:
        _check_scope(event, view, path, record)
        http.set_principal(key)
        logger.append_keys(api_key=key.api_key)  # every log line of the call names the key
        response = get_response(event)
        status = response.status_code
        return response
    except FissionError as exc:
        status = exc.status
        raise
    finally:
        http.set_principal(None)
        logger.remove_keys(["api_key"])
        request_id = (event.context or {}).get("requestId")
        client = http.client_ip(event)
        api_keys.note_use(key, event.method, path, status, str(request_id) if request_id else None, client, now)


def authorisation(app: Chalice) -> Callable[[Request, Callable[[Request], Response]], Response]:
    """Admin routes declare a permission (or `anonymous`) and take operator tokens, and API keys where a
    key's scope opens them; server routes take API keys only. Undeclared routes are refused."""

    def check(event: Request, get_response: Callable[[Request], Response]) -> Response:
        path = (event.context or {}).get("resourcePath", "")
        server = path.startswith(SERVER_PREFIX)
        if not (server or path.startswith(ADMIN_PREFIX)) or event.method == "OPTIONS":
            return get_response(event)
        view = _route_view(app, event)
        if view is None:
            return get_response(event)  # Chalice answers 405 for an unknown method
        # Credentials (accounts): loaded by the first admin or server request, never by a public one.
        from chalicelib.accounts.rules import api_keys as key_rules
        from chalicelib.http import request as http

        if key_rules.is_api_key(event.headers.get("authorization")):
            return _as_key(event, view, path, get_response)
        if server:
            raise Unauthorized(
                "this call needs an API key: 'Authorization: Bearer fsk_...'", code=Code.API_KEY_REQUIRED
            )
        elif getattr(view, "anonymous", False):
            return get_response(event)
        else:
            principal = _operator(event, view, path)
        http.set_principal(principal)
        try:
            return get_response(event)
        finally:
            http.set_principal(None)

    return check


def _device_id(event: Request, route_class: RouteClass) -> str | None:
    """`X-Device-Id`, or the join body's `device_id`; read leniently: the route validates the body."""
    # The request helpers (pydantic): loaded with the first rate-limited request.
    from chalicelib.http import request as http

    header = event.headers.get("x-device-id")
    if header:
        return str(header)[:64]
    if route_class is not RouteClass.JOIN:
        return None
    try:
        body = inputs.load_json(http.raw_body(event) or b"null")
    except FissionError:
        return None
    device = body.get("device_id") if isinstance(body, dict) else None
    return device[:64] if isinstance(device, str) and device else None


def rate_limiting(event: Request, get_response: Callable[[Request], Response]) -> Response:
    """Public routes with a route class in http/rules.py are counted per IP, device and
    participant; over a limit, 429 RATE_LIMITED with Retry-After. Health and operators' admin calls are
    not limited; API keys are counted by `authorisation` once the key is verified (class `server`)."""
    route_class = ROUTES.get((event.method, (event.context or {}).get("resourcePath", "")))
    if route_class is not None:
        # The limiter and its table store: loaded by the first rate-limited request.
        from chalicelib.http import rate_limits
        from chalicelib.http import request as http

        now = http.now()
        subjects = {
            Scope.IP: lambda: http.client_ip(event),
            Scope.DEVICE: lambda: _device_id(event, route_class),
            Scope.PARTICIPANT: lambda: rate_limits.participant_code(event.headers.get("authorization"), now),
        }
        rate_limits.admit(route_class, subjects, now)
    return get_response(event)


def install(app: Chalice) -> None:
    app.register_middleware(errors, "http")
    app.register_middleware(rate_limiting, "http")
    app.register_middleware(authorisation(app), "http")
