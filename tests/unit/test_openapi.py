"""docs/openapi.yaml is valid, covers exactly the app's routes, and agrees with the permissions and models."""

from __future__ import annotations

import importlib.util
import os
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from types import ModuleType
from typing import Any, get_args

import pytest
import yaml
from openapi_spec_validator import validate

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
os.environ.setdefault("POWERTOOLS_TRACE_DISABLED", "1")

import app
from chalicelib.accounts.rules import api_keys, domains, operators
from chalicelib.analytics.rules import counting, exports, growth, stoploss
from chalicelib.audience.rules import automations, churn, profiles
from chalicelib.campaigns.rules import compliance, templates
from chalicelib.campaigns.rules import spec as campaigns
from chalicelib.core.rbac import ROLE_PERMISSIONS, Permission
from chalicelib.loyalty.rules import catalogue as loyalty
from chalicelib.loyalty.rules import checkins
from chalicelib.loyalty.rules import tasks as loyalty_tasks
from chalicelib.loyalty.rules import tiers as loyalty_tiers
from chalicelib.messaging.rules import messages as messaging
from chalicelib.messaging.rules import payloads
from chalicelib.messaging.rules import webhooks as outbox
from chalicelib.modes.distribution.rules import orders
from chalicelib.modes.group_buy import rules as groups
from chalicelib.payouts.rules import credentials as payout_credentials
from chalicelib.payouts.rules import policy as payouts
from chalicelib.payouts.rules import requests as withdrawals
from chalicelib.platforms.rules import credentials as platforms
from chalicelib.platforms.rules import login as platform_login
from chalicelib.platforms.rules import xml as platform_xml
from chalicelib.referral.rules import follows as hooks
from chalicelib.referral.rules import fraud, participants, release, rewards

pytestmark = pytest.mark.unit

DOCUMENT = ROOT / "docs" / "openapi.yaml"
GENERATOR = ROOT / "scripts" / "gen_openapi_schemas.py"
HTTP_METHODS = {"get", "put", "post", "delete", "patch", "head", "trace"}  # OPTIONS is CORS, not the API
ADMIN_PREFIX = "/v1/admin/"
SERVER_PREFIX = "/v1/server/"
LOGIN = ("/v1/admin/login", "POST")
BEARER: list[dict[str, list[str]]] = [{"bearerAuth": []}]
PARTICIPANT: list[dict[str, list[str]]] = [{"participantToken": []}]
PARTICIPANT_ROUTES = {
    ("/v1/campaigns/{cid}/me", "GET"),
    ("/v1/campaigns/{cid}/me/proof", "POST"),
    ("/v1/campaigns/{cid}/me/sign-out", "POST"),
    ("/v1/campaigns/{cid}/groups", "POST"),
    ("/v1/groups/{gid}/members", "POST"),
    ("/v1/campaigns/{cid}/assists/{owner_code}", "POST"),
    ("/v1/rewards/{rid}/claim", "POST"),
    ("/v1/me/export", "POST"),
    ("/v1/me", "DELETE"),
    ("/v1/campaigns/{cid}/me/wallet", "GET"),
    ("/v1/campaigns/{cid}/me/withdrawals", "POST"),
    ("/v1/campaigns/{cid}/me/withdrawals", "GET"),
    ("/v1/campaigns/{cid}/me/points", "GET"),
    ("/v1/campaigns/{cid}/me/redemptions", "POST"),
    ("/v1/campaigns/{cid}/me/tasks", "GET"),
    ("/v1/campaigns/{cid}/me/tier", "GET"),
    ("/v1/campaigns/{cid}/me/checkins", "POST"),
    ("/v1/campaigns/{cid}/me/checkins", "GET"),
    ("/v1/campaigns/{cid}/me/checkins/makeup", "POST"),
}

Route = tuple[str, str]


class _StrictLoader(yaml.CSafeLoader):
    """PyYAML keeps the last of two equal keys in a mapping; YAML forbids them, and so does the reference's parser."""


def _mapping(loader: _StrictLoader, node: yaml.MappingNode) -> dict[Any, Any]:
    keys = [loader.construct_object(key) for key, _ in node.value]
    repeated = sorted({str(k) for k in keys if keys.count(k) > 1})
    if repeated:
        raise ValueError(f"duplicated keys {repeated} in the mapping at line {node.start_mark.line + 1}")
    return loader.construct_mapping(node)


_StrictLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _mapping)


@cache
def document() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.load(DOCUMENT.read_text(encoding="utf-8"), Loader=_StrictLoader)  # noqa: S506
    return loaded


@cache
def generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location("gen_openapi_schemas", GENERATOR)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def app_routes() -> set[Route]:
    return {(path, method) for path, methods in app.app.routes.items() for method in methods if method != "OPTIONS"}


def documented_routes() -> set[Route]:
    return {
        (path, method.upper())
        for path, item in document()["paths"].items()
        for method in item
        if method in HTTP_METHODS
    }


def operation(route: Route) -> dict[str, Any]:
    path, method = route
    found = document()["paths"].get(path, {}).get(method.lower())
    if found is None:
        pytest.fail(f"docs/openapi.yaml does not document {method} {path}")
    return found  # type: ignore[no-any-return]


def view(route: Route) -> Any:
    path, method = route
    return app.app.routes[path][method].view_function


def roles_holding(permission: Permission) -> list[str]:
    return [role.value for role, granted in ROLE_PERMISSIONS.items() if permission in granted]


def route_id(route: Route) -> str:
    return f"{route[1]} {route[0]}"


def key_security(route: Route, permission: Permission | None) -> list[dict[str, list[str]]]:
    """The `apiKey` requirement of a route an API key may call (naming its scope), or none."""
    scope = api_keys.scope_for(route[1], route[0], permission)
    return [{"apiKey": [scope.value]}] if scope is not None else []


ADMIN_ROUTES = sorted(r for r in app_routes() if r[0].startswith(ADMIN_PREFIX) and r != LOGIN)
SERVER_ROUTES = sorted(r for r in app_routes() if r[0].startswith(SERVER_PREFIX))
OPEN_ROUTES = sorted(r for r in app_routes() if not r[0].startswith((ADMIN_PREFIX, SERVER_PREFIX)) or r == LOGIN)
ALL_ROUTES = sorted(app_routes())


def test_document_is_valid_openapi_3_1() -> None:
    assert str(document()["openapi"]).startswith("3.1.")
    validate(document())


def test_document_covers_exactly_the_apps_routes() -> None:
    served, documented = app_routes(), documented_routes()
    undocumented = sorted(served - documented)
    unserved = sorted(documented - served)
    problems = []
    if undocumented:
        problems.append("served by the app but missing from docs/openapi.yaml:")
        problems += [f"  {method} {path}" for path, method in undocumented]
    if unserved:
        problems.append("documented in docs/openapi.yaml but not served by the app:")
        problems += [f"  {method} {path}" for path, method in unserved]
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("route", ADMIN_ROUTES, ids=route_id)
def test_admin_operations_declare_bearer_auth_and_their_permission(route: Route) -> None:
    op = operation(route)
    needed = getattr(view(route), "required_permission", None)
    assert needed is not None, f"{route_id(route)} declares no permission in the code"
    expected = BEARER + key_security(route, needed)
    assert op.get("security") == expected, f"{route_id(route)} must declare `security: {expected}`"
    assert op.get("x-permission") == needed.value, f"{route_id(route)} needs {needed.value} in the code"
    assert op.get("x-roles") == roles_holding(needed), f"{route_id(route)}: roles holding {needed.value}"
    assert f"`{needed.value}`" in op.get("description", ""), "the description names the permission"
    assert {"401", "403"} <= set(op["responses"])


@pytest.mark.parametrize("route", SERVER_ROUTES, ids=route_id)
def test_server_operations_declare_api_key_auth_and_their_scope(route: Route) -> None:
    op = operation(route)
    expected = key_security(route, None)
    assert expected, f"{route_id(route)} is in no scope's table (accounts/rules/api_keys.py): no key may call it"
    assert op.get("security") == expected, f"{route_id(route)} must declare `security: {expected}`"
    assert "x-permission" not in op and getattr(view(route), "required_permission", None) is None
    assert f"`{expected[0]['apiKey'][0]}`" in op.get("description", ""), "the description names the scope"
    assert {"401", "403", "429"} <= set(op["responses"])


def test_every_scope_opens_some_route() -> None:
    opened = {
        scope
        for route in ADMIN_ROUTES + SERVER_ROUTES
        for requirement in operation(route)["security"]
        for scope in requirement.get("apiKey", [])
    }
    assert opened == {scope.value for scope in api_keys.ApiScope}
    assert all(
        s in api_keys.STEP_UP_SCOPES for s, p in api_keys.SCOPE_PERMISSIONS.items() if p is Permission.EXPORT_CREATE
    )
    assert Permission.PII_UNMASK not in api_keys.SCOPE_PERMISSIONS.values()


@pytest.mark.parametrize("route", OPEN_ROUTES, ids=route_id)
def test_public_operations_and_login_need_no_token(route: Route) -> None:
    op = operation(route)
    expected = PARTICIPANT if route in PARTICIPANT_ROUTES else []
    assert op.get("security") == expected, f"{route_id(route)} must declare `security: {expected}`"
    assert "x-permission" not in op
    assert getattr(view(route), "required_permission", None) is None
    if route[0].startswith(ADMIN_PREFIX):
        assert getattr(view(route), "anonymous", False), "an admin route without a token must be anonymous"


@pytest.mark.parametrize("route", ALL_ROUTES, ids=route_id)
def test_operation_ids_name_the_view_functions(route: Route) -> None:
    assert operation(route).get("operationId") == view(route).__name__


XML_MEDIA = {"text/xml", "application/xml"}


def takes_xml(op: dict[str, Any]) -> bool:
    """An operation whose body is a platform's XML (the WeChat / WeCom callbacks), not JSON."""
    content = op.get("requestBody", {}).get("content", {})
    return bool(content) and set(content) <= XML_MEDIA


PROVIDER_NOTIFICATIONS = ("/v1/payouts/{tid}/wechatpay/notify", "/v1/payouts/{tid}/alipay/notify")


def provider_notification(route: Route) -> bool:
    """A payout provider's callback: its body is the provider's, read only after its signature verifies."""
    return route[0] in PROVIDER_NOTIFICATIONS


def signed_callback(route: Route) -> bool:
    """A platform or payout provider callback: public, signed with the tenant's credentials; an unknown tenant is
    answered like a bad signature (401), so tenant ids cannot be probed, and no 404 is ever given."""
    return route[0] in ("/v1/wecom/{tid}/callback", "/v1/wechat/{tid}/callback", *PROVIDER_NOTIFICATIONS)


@pytest.mark.parametrize("route", ALL_ROUTES, ids=route_id)
def test_operations_document_their_error_statuses(route: Route) -> None:
    op = operation(route)
    statuses = set(op["responses"])
    assert any(s[0] in "23" for s in statuses), f"{route_id(route)} documents no success status"
    if "requestBody" in op:
        # An XML body has no model to fail: it is refused as 400 INVALID_XML, never 422.
        # So is a provider's notification: a body that does not verify is a 401, never a 422.
        needed = (
            {"400", "413", "415"} if takes_xml(op) or provider_notification(route) else {"400", "413", "415", "422"}
        )
        missing = needed - statuses
        assert not missing, f"{route_id(route)} takes a body but does not document {sorted(missing)}"
    if signed_callback(route):
        assert "401" in statuses and "404" not in statuses, f"{route_id(route)}: an unknown tenant is a 401"
        assert "unknown tenant" in _described(op["responses"]["401"])
    elif "{" in route[0]:
        assert "404" in statuses, f"{route_id(route)} addresses a resource but does not document 404"


def _described(response: dict[str, Any]) -> str:
    """A response's description, following a `$ref` to the shared component."""
    ref = response.get("$ref")
    if ref:
        response = document()["components"]["responses"][ref.rsplit("/", 1)[-1]]
    return str(response.get("description", ""))


@pytest.mark.parametrize("route", ALL_ROUTES, ids=route_id)
def test_operations_document_the_refusals_of_hostile_input(route: Route) -> None:
    """Every path parameter is checked (http/inputs.py) and every body's nesting is limited: both are 400s."""
    op = operation(route)
    described = _described(op["responses"].get("400", {}))
    if "{" in route[0]:
        assert "INVALID_PATH_PARAMETER" in described, f"{route_id(route)} does not document INVALID_PATH_PARAMETER"
    if takes_xml(op):
        assert "INVALID_XML" in described, f"{route_id(route)} takes XML but does not document INVALID_XML"
    elif "requestBody" in op and not provider_notification(route):
        assert "JSON_TOO_DEEP" in described, f"{route_id(route)} takes a body but does not document JSON_TOO_DEEP"


def test_generated_schemas_match_the_models() -> None:
    fresh = generator().generate()
    committed = document()["components"]["schemas"]
    stale = sorted(name for name, schema in fresh.items() if committed.get(name) != schema)
    assert not stale, f"schemas out of date with the models: {stale}; run scripts/gen_openapi_schemas.py"
    hooks = generator().webhooks()
    assert document().get("webhooks") == hooks, (
        "webhooks out of date with the models; run scripts/gen_openapi_schemas.py"
    )
    text = DOCUMENT.read_text(encoding="utf-8")
    assert generator().rewrite(text, fresh, hooks) == text, "run scripts/gen_openapi_schemas.py"


def test_every_event_type_is_a_webhook_whose_data_is_its_model() -> None:
    hooks = document()["webhooks"]
    assert list(hooks) == list(outbox.EVENT_TYPES)
    schemas = document()["components"]["schemas"]
    for event_type, model in payloads.PAYLOADS.items():
        body = hooks[event_type]["post"]["requestBody"]["content"]["application/json"]["schema"]
        envelope = schemas[body["$ref"].rsplit("/", 1)[-1]]
        assert envelope["properties"]["type"]["const"] == event_type
        assert envelope["properties"]["data"] == {"$ref": f"#/components/schemas/{model.__name__}"}
        assert envelope["additionalProperties"] is False and schemas[model.__name__]["additionalProperties"] is False


def test_event_reward_types_are_the_campaigns_reward_types() -> None:
    assert get_args(payloads.RewardType) == get_args(campaigns.Reward.model_fields["type"].annotation)


def _patched_campaign(patch: dict[str, Any]) -> object:
    create = operation(("/v1/admin/campaigns", "POST"))
    base = create["requestBody"]["content"]["application/json"]["example"]
    return campaigns.parse_spec(campaigns.merge_patch(base, patch))


def _created_campaign(body: dict[str, Any]) -> object:
    # A body naming a template_id is expanded the way the create does it before validation.
    return campaigns.parse_spec(templates.document_for(body, datetime(2026, 11, 1, tzinfo=UTC)))


VALIDATORS: dict[str, Callable[[dict[str, Any]], object]] = {
    "CampaignSpec": campaigns.parse_spec,
    "CampaignCreate": _created_campaign,
    "CampaignPatch": _patched_campaign,
    "LoginRequest": operators.LoginRequest.model_validate,
    "OperatorCreate": operators.OperatorCreate.model_validate,
    "OperatorPatch": operators.OperatorPatch.model_validate,
    "TotpConfirm": operators.TotpConfirm.model_validate,
    "JoinRequest": participants.JoinRequest.model_validate,
    "OpenGroupRequest": groups.OpenGroupRequest.model_validate,
    "FollowEvent": hooks.FollowEvent.model_validate,
    "WebhookCreate": outbox.WebhookCreate.model_validate,
    "OrderEvent": orders.OrderEvent.model_validate,
    "ClaimRequest": rewards.ClaimRequest.model_validate,
    "CodesUpload": rewards.CodesUpload.model_validate,
    "RevokeRequest": rewards.RevokeRequest.model_validate,
    "ExportRequest": exports.ExportRequest.model_validate,
    "BeaconRequest": counting.BeaconRequest.model_validate,
    "ReviewDecision": fraud.ReviewDecision.model_validate,
    "PreviewRequest": compliance.PreviewRequest.model_validate,
    "TagCreate": profiles.TagCreate.model_validate,
    "TagUpdate": profiles.TagUpdate.model_validate,
    "TagAssign": profiles.TagAssign.model_validate,
    "SegmentCreate": profiles.SegmentCreate.model_validate,
    "SegmentUpdate": profiles.SegmentUpdate.model_validate,
    "SegmentPreview": profiles.SegmentPreview.model_validate,
    "AutomationCreate": automations.AutomationCreate.model_validate,
    "AutomationUpdate": automations.AutomationUpdate.model_validate,
    "MessagingSettings": messaging.MessagingSettings.model_validate,
    "SubscriptionsUpdate": messaging.SubscriptionsUpdate.model_validate,
    "UnsubscribeRequest": messaging.UnsubscribeRequest.model_validate,
    "ServerJoinRequest": participants.ServerJoinRequest.model_validate,
    "ExistingCustomers": release.ExistingCustomers.model_validate,
    "ApiKeyCreate": api_keys.ApiKeyCreate.model_validate,
    "WecomUpdate": platforms.WecomUpdate.model_validate,
    "WechatUpdate": platforms.WechatUpdate.model_validate,
    "MiniProgramUpdate": platforms.MiniProgramUpdate.model_validate,
    "MiniLogin": platform_login.MiniLogin.model_validate,
    "LandingDomainCreate": domains.DomainCreate.model_validate,
    "LandingDomainBlock": domains.DomainBlock.model_validate,
    "PayoutSettings": payouts.PayoutSettings.model_validate,
    "WithdrawalCreate": withdrawals.WithdrawalCreate.model_validate,
    "WithdrawalBatch": withdrawals.WithdrawalBatch.model_validate,
    "MarkPaid": withdrawals.MarkPaid.model_validate,
    "CatalogueItemCreate": loyalty.CatalogueItemCreate.model_validate,
    "CatalogueItemPatch": loyalty.CatalogueItemPatch.model_validate,
    "RedemptionCreate": loyalty.RedemptionCreate.model_validate,
    "LoyaltySettings": loyalty.LoyaltySettings.model_validate,
    "TierRules": loyalty_tiers.TierRules.model_validate,
    "ChurnSettings": churn.ChurnSettings.model_validate,
    "StopLossRequest": stoploss.StopLossRequest.model_validate,
    "GrowthTarget": growth.GrowthTarget.model_validate,
    "PayoutProviderCredentials": lambda body: payout_credentials.INPUTS[body["provider"]].model_validate(body),
    "TaskCreate": loyalty_tasks.TaskCreate.model_validate,
    "TaskPatch": loyalty_tasks.TaskPatch.model_validate,
    "CheckinSettings": checkins.CheckinSettings.model_validate,
    "MakeupRequest": checkins.MakeupRequest.model_validate,
}


@pytest.mark.parametrize("route", [r for r in ALL_ROUTES if r[1] in ("POST", "PATCH", "PUT")], ids=route_id)
def test_request_examples_pass_the_models(route: Route) -> None:
    body = operation(route).get("requestBody")
    if body is None:
        return
    if takes_xml(operation(route)):
        # A platform's XML: each media type's example is a flat <xml> document the callback parser reads.
        for media_type, media in body["content"].items():
            assert "example" in media, f"{route_id(route)} has no {media_type} example"
            assert platform_xml.parse(media["example"]), f"{route_id(route)}: the example has no known field"
        return
    if provider_notification(route):
        return  # the providers' own documents, signed with keys no example can hold
    media = body["content"]["application/json"]
    name = media["schema"]["$ref"].rsplit("/", 1)[-1]
    assert name in VALIDATORS, f"no model check for request schema {name}"
    assert "example" in media, f"{route_id(route)} has no request example"
    VALIDATORS[name](media["example"])


# Objects whose keys are genuinely open (code-specific context): the only places `additionalProperties: true` may
# stand in a response.
OPEN_OBJECTS = {"Error.error.details", "ComplianceFinding.details", "AuditEntry.details"}


def _loose_objects(schema: Any, where: str, seen: set[str]) -> list[str]:
    """Every object schema reachable from `schema` that does not say what its keys are, with where it is."""
    if not isinstance(schema, dict):
        return []
    if "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        if name in seen:
            return []
        seen.add(name)
        return _loose_objects(document()["components"]["schemas"][name], name, seen)
    found = []
    declared = schema.get("type")
    types: list[Any] = declared if isinstance(declared, list) else [declared]
    combined = any(k in schema for k in ("oneOf", "anyOf", "allOf"))
    if ("object" in types or "properties" in schema) and not combined:
        extra = schema.get("additionalProperties")
        if extra is None:
            found.append(f"{where}: an object without `additionalProperties` (closed: false, or a map's value type)")
        elif extra is True and where not in OPEN_OBJECTS:
            found.append(f"{where}: `additionalProperties: true`")
    if "array" in types and "items" not in schema:
        found.append(f"{where}: an array without `items`")
    for name, sub in schema.get("properties", {}).items():
        found += _loose_objects(sub, f"{where}.{name}", seen)
    for key in ("items", "additionalProperties"):
        found += _loose_objects(schema.get(key), f"{where}[{key}]", seen)
    for key in ("oneOf", "anyOf", "allOf"):
        for i, sub in enumerate(schema.get(key, [])):
            found += _loose_objects(sub, f"{where}|{key}{i}", seen)
    return found


def _response_schemas() -> list[tuple[str, dict[str, Any]]]:
    found = []
    for path, item in document()["paths"].items():
        for method, op in item.items():
            if method not in HTTP_METHODS:
                continue
            for status, response in op["responses"].items():
                ref = response.get("$ref")
                if ref:
                    response = document()["components"]["responses"][ref.rsplit("/", 1)[-1]]
                for media in response.get("content", {}).values():
                    found.append((f"{method.upper()} {path} {status}", media["schema"]))
    return found


def test_every_response_body_is_fully_typed() -> None:
    """Schemathesis' conformance check sees only what the document closes: every response object names its keys."""
    seen: set[str] = set()
    problems = [problem for where, schema in _response_schemas() for problem in _loose_objects(schema, where, seen)]
    assert not problems, "\n".join(problems)


def test_every_event_body_is_fully_typed() -> None:
    seen: set[str] = set()
    problems = []
    for event_type, item in document()["webhooks"].items():
        schema = item["post"]["requestBody"]["content"]["application/json"]["schema"]
        problems += _loose_objects(schema, event_type, seen)
    assert not problems, "\n".join(problems)


def test_the_campaign_view_lists_every_field_of_every_campaign_document() -> None:
    """The operator's view is hand-written and closed: a field added to a campaign model must be added to it too."""
    shown = set(document()["components"]["schemas"]["Campaign"]["properties"])
    for model in (
        campaigns.InviteCampaign,
        campaigns.GroupBuyCampaign,
        campaigns.AssistCampaign,
        campaigns.DistributionCampaign,
        campaigns.PosterCampaign,
    ):
        assert set(model.model_fields) <= shown, (model.__name__, sorted(set(model.model_fields) - shown))
