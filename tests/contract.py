"""Every answer the tests get from the API checked against docs/openapi.yaml, with jsonschema.

The contract fuzz run sends generated requests and sees mostly refusals; the scenario tests drive real flows and
see the successful answers, so they check those: the status must be one the operation documents and a JSON body
must match its schema. A mismatch fails the test that got the answer.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema
import yaml
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

DOCUMENT = Path(__file__).resolve().parents[1] / "docs" / "openapi.yaml"
DOCUMENT_URI = "urn:fission:openapi"


@dataclass(frozen=True)
class Operation:
    template: str
    method: str
    responses: dict[str, Any]


# libyaml's parser when PyYAML has it: the same safe constructors, five times faster on a 400 kB document.
_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


@cache
def document() -> dict[str, Any]:
    """docs/openapi.yaml, parsed once per process and shared by the tests that read it (do not modify it)."""
    loaded: dict[str, Any] = yaml.load(DOCUMENT.read_text(encoding="utf-8"), Loader=_LOADER)  # noqa: S506 - safe
    return loaded


@cache
def _registry() -> Registry[Any]:
    registry: Registry[Any] = Registry().with_resource(
        DOCUMENT_URI, Resource.from_contents(document(), default_specification=DRAFT202012)
    )
    return registry


@cache
def _routes() -> list[tuple[re.Pattern[str], str]]:
    """Path templates as patterns, literal ones first (so `/v1/me/export` is not read as `/v1/me/{x}`)."""
    routes = []
    for template in document()["paths"]:
        pattern = re.sub(r"\\\{[^}]+\\\}", "[^/]+", re.escape(template))
        routes.append((re.compile(f"^{pattern}$"), template))
    return sorted(routes, key=lambda r: (r[1].count("{"), r[1]))


def operation(method: str, path: str) -> Operation | None:
    bare = path.split("?", 1)[0]
    for pattern, template in _routes():
        if pattern.match(bare):
            found = document()["paths"][template].get(method.lower())
            if found is not None:
                return Operation(template, method.upper(), found.get("responses", {}))
    return None


def _resolved(node: Any) -> Any:
    """A `$ref` to a component (a response, say) followed inside the document."""
    while isinstance(node, dict) and "$ref" in node and node["$ref"].startswith("#/components/responses/"):
        node = document()["components"]["responses"][node["$ref"].rsplit("/", 1)[1]]
    return node


@cache
def _validator(template: str, method: str, status: str) -> jsonschema.Draft202012Validator | None:
    declared = document()["paths"][template][method.lower()]["responses"][status]
    schema = (_resolved(declared).get("content") or {}).get("application/json", {}).get("schema")
    if schema is None:
        return None  # not a JSON answer (a redirect, a CSV, an image)
    if "$ref" in declared:
        at = f"/components/responses/{declared['$ref'].rsplit('/', 1)[1]}"
    else:
        at = f"/paths/{template.replace('~', '~0').replace('/', '~1')}/{method.lower()}/responses/{status}"
    return jsonschema.Draft202012Validator(
        {"$ref": f"{DOCUMENT_URI}#{at}/content/application~1json/schema"}, registry=_registry()
    )


@cache
def _error_validator() -> jsonschema.Draft202012Validator:
    return jsonschema.Draft202012Validator({"$ref": f"{DOCUMENT_URI}#/components/schemas/Error"}, registry=_registry())


def problems(method: str, path: str, status: int, body: Any) -> list[str]:
    """What is wrong with this answer per the document (empty when it conforms, or the route is not documented)."""
    if method.upper() == "OPTIONS":
        return []
    op = operation(method, path)
    if op is None or (status >= 500 and str(status) not in op.responses):
        # A method the path does not have (405), or a failure nobody planned (500): the error envelope still holds.
        if status >= 400:
            return [f"{method} {path} {status}: {e.message[:300]}" for e in _error_validator().iter_errors(body)]
        return [f"{method} {path}: no documented operation"]
    key = str(status) if str(status) in op.responses else f"{str(status)[0]}XX"
    if key not in op.responses:
        key = "default"
    if key not in op.responses:
        code = body.get("error", {}).get("code") if isinstance(body, dict) else None
        return [f"{method} {op.template}: status {status} ({code}) is not documented"]
    validator = _validator(op.template, op.method, key)
    if validator is None or body is None:
        return []
    return [
        f"{method} {op.template} {status}: {'/'.join(map(str, e.absolute_path)) or '(body)'}: {e.message[:300]}"
        for e in validator.iter_errors(body)
    ]
