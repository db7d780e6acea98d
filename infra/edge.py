"""Edge protection of the API: stage throttling and a regional WAF web ACL on the API Gateway stage.

The limits are per stage (`STAGE_EDGE_LIMITS`); each can be overridden with the CDK context key of
the same name (docs/deploy.md, Edge protection). They sit in front of the app's own per-address,
per-device and per-participant limits (chalicelib/http/rules.py) and are set above them: the app
answers ordinary excess with a precise 429 and Retry-After, the edge stops floods before they cost
a Lambda invocation or a DynamoDB write.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, fields, replace
from typing import Any

from aws_cdk import Acknowledgment, Aws, Fn, Stack, Validations
from aws_cdk import aws_sam as sam
from aws_cdk import aws_wafv2 as wafv2

from chalicelib.core.codes import Code

# The smallest limit a WAF rate-based rule accepts, and the windows it can count over.
WAF_MIN_LIMIT = 10
LOGIN_WINDOW_SECONDS = 300
PER_MINUTE = 60
# The CRS label its SizeRestrictions_BODY rule (bodies over 8 KB) adds, here only counted.
LARGE_BODY_LABEL = "awswaf:managed:aws:core-rule-set:SizeRestrictions_Body"
# Routes whose callers are authenticated and may send up to the app's 64 KB: campaign documents,
# coupon code uploads, segment and automation definitions, merchants' order batches.
LARGE_BODY_PATHS = ("/v1/admin/", "/v1/server/", "/v1/hooks/")
# The participants' and visitors' routes, reached without an operator token or API key.
# WeChat's login, the JS-SDK signature and the mini program's login are visitors' too; the platforms' own
# callbacks (`/v1/wecom/.../callback`, `/v1/wechat/.../callback`) come from their servers' few addresses and are not.
PUBLIC_PATHS = (
    "/v1/campaigns/", "/v1/i/", "/v1/posters/", "/v1/groups/", "/v1/rewards/", "/v1/me", "/v1/unsubscribe",
    "/oauth/", "/jssdk-config", "/v1/miniprogram/",
)  # fmt: skip
LOGIN_PATH = "/v1/admin/login"
JOIN_PATH = ("/v1/campaigns/", "/participants")
RATE_LIMITED_BODY = "rate_limited"
TOO_LARGE_BODY = "payload_too_large"


@dataclass(frozen=True)
class EdgeLimits:
    """What one stage allows at the edge; the field names are the context keys that override them."""

    # API Gateway stage throttling, for all callers together: steady requests/s and the bucket size.
    api_rate_limit: int
    api_burst_limit: int
    # WAF rate-based rules, per client address.
    waf_login_limit: int  # POST /v1/admin/login per 5 minutes
    waf_join_limit: int  # joins per minute
    waf_public_limit: int  # all public routes together per minute

    def check(self) -> EdgeLimits:
        if self.api_rate_limit < 1 or self.api_burst_limit < 1:
            raise ValueError("api_rate_limit and api_burst_limit must be at least 1")
        for name in ("waf_login_limit", "waf_join_limit", "waf_public_limit"):
            if getattr(self, name) < WAF_MIN_LIMIT:
                raise ValueError(f"{name} must be at least {WAF_MIN_LIMIT} (the smallest WAF rate limit)")
        return self


# Prod: half the account's default 10,000 requests/s for this API (others in the account keep the
# rest) and the account's default burst. A sale above it raises both with -c (docs/deploy.md).
# WAF: login 20 per 5 minutes per address; joins 100/min and all public calls 1,500/min per address,
# a few times the app's own 30 joins and 300 reads per minute, so people behind one carrier NAT
# reach the app's limits (with Retry-After) before the firewall's.
STAGE_EDGE_LIMITS: dict[str, EdgeLimits] = {
    "dev": EdgeLimits(
        api_rate_limit=100, api_burst_limit=200, waf_login_limit=20, waf_join_limit=100, waf_public_limit=1500
    ),
    "prod": EdgeLimits(
        api_rate_limit=5000, api_burst_limit=5000, waf_login_limit=20, waf_join_limit=100, waf_public_limit=1500
    ),
}
CONTEXT_KEYS = tuple(f.name for f in fields(EdgeLimits))


def limits_for(stage: str, overrides: dict[str, int] | None = None) -> EdgeLimits:
    """The stage's limits with any context overrides applied; refuses values WAF or API Gateway would not take."""
    return replace(STAGE_EDGE_LIMITS[stage], **(overrides or {})).check()


def throttle_stage(api: sam.CfnApi, limits: EdgeLimits) -> None:
    """Stage-wide throttling on every method: beyond it API Gateway answers 429 RATE_LIMITED itself
    (the THROTTLED gateway response) without invoking the function."""
    api.add_property_override(
        "MethodSettings",
        [
            {
                "ResourcePath": "/*",
                "HttpMethod": "*",
                "ThrottlingRateLimit": limits.api_rate_limit,
                "ThrottlingBurstLimit": limits.api_burst_limit,
            }
        ],
    )


def _error_body(code: str, message: str) -> dict[str, str]:
    body = {"error": {"code": code, "message": message, "details": {}}}
    return {"ContentType": "APPLICATION_JSON", "Content": json.dumps(body)}


def _uri(constraint: str, text: str) -> dict[str, Any]:
    # CONTAINS / ENDS_WITH rather than STARTS_WITH: the path WAF sees may carry the stage or a base path.
    return {
        "ByteMatchStatement": {
            "FieldToMatch": {"UriPath": {}},
            "PositionalConstraint": constraint,
            "SearchString": text,
            "TextTransformations": [{"Priority": 0, "Type": "NONE"}],
        }
    }


def _post() -> dict[str, Any]:
    return {
        "ByteMatchStatement": {
            "FieldToMatch": {"Method": {}},
            "PositionalConstraint": "EXACTLY",
            "SearchString": "POST",
            "TextTransformations": [{"Priority": 0, "Type": "NONE"}],
        }
    }


def _any(statements: list[dict[str, Any]]) -> dict[str, Any]:
    return statements[0] if len(statements) == 1 else {"OrStatement": {"Statements": statements}}


def _visibility(name: str) -> dict[str, Any]:
    return {"SampledRequestsEnabled": True, "CloudWatchMetricsEnabled": True, "MetricName": name}


def _block(status: int, body_key: str, headers: dict[str, str]) -> dict[str, Any]:
    return {
        "Block": {
            "CustomResponse": {
                "ResponseCode": status,
                "CustomResponseBodyKey": body_key,
                "ResponseHeaders": [{"Name": k, "Value": v} for k, v in headers.items()],
            }
        }
    }


def _rate_rule(name: str, priority: int, limit: int, window: int, scope: dict[str, Any]) -> dict[str, Any]:
    return {
        "Name": name,
        "Priority": priority,
        "Statement": {
            "RateBasedStatement": {
                "Limit": limit,
                "EvaluationWindowSec": window,
                "AggregateKeyType": "IP",
                "ScopeDownStatement": scope,
            }
        },
        # Browsers must be able to read the 429 (the app's CORS is `*` too); a client may retry after
        # the window, by which time WAF has usually lifted the block.
        "Action": _block(429, RATE_LIMITED_BODY, {"Access-Control-Allow-Origin": "*", "Retry-After": str(window)}),
        "VisibilityConfig": _visibility(name),
    }


def _managed(name: str, priority: int, overrides: list[str] | None = None) -> dict[str, Any]:
    group: dict[str, Any] = {"VendorName": "AWS", "Name": name}
    if overrides:
        group["RuleActionOverrides"] = [{"Name": rule, "ActionToUse": {"Count": {}}} for rule in overrides]
    return {
        "Name": name,
        "Priority": priority,
        "Statement": {"ManagedRuleGroupStatement": group},
        "OverrideAction": {"None": {}},
        "VisibilityConfig": _visibility(name),
    }


def web_acl_rules(limits: EdgeLimits) -> list[dict[str, Any]]:
    """The rules in evaluation order, in CloudFormation's shape (easier to hold against the WAF
    documentation than the L1 property classes)."""
    login = {"AndStatement": {"Statements": [_post(), _uri("CONTAINS", LOGIN_PATH)]}}
    join = {"AndStatement": {"Statements": [_post(), _uri("CONTAINS", JOIN_PATH[0]), _uri("ENDS_WITH", JOIN_PATH[1])]}}
    public = _any([_uri("CONTAINS", path) for path in PUBLIC_PATHS])
    large_body = {
        "AndStatement": {
            "Statements": [
                {"LabelMatchStatement": {"Scope": "LABEL", "Key": LARGE_BODY_LABEL}},
                {"NotStatement": {"Statement": _any([_uri("CONTAINS", path) for path in LARGE_BODY_PATHS])}},
            ]
        }
    }
    return [
        # Addresses Amazon's threat intelligence knows for bots and scanners: nothing else to ask them.
        _managed("AWSManagedRulesAmazonIpReputationList", 0),
        _rate_rule("LoginPerAddress", 1, limits.waf_login_limit, LOGIN_WINDOW_SECONDS, login),
        _rate_rule("JoinPerAddress", 2, limits.waf_join_limit, PER_MINUTE, join),
        _rate_rule("PublicPerAddress", 3, limits.waf_public_limit, PER_MINUTE, public),
        _managed("AWSManagedRulesKnownBadInputsRuleSet", 4),
        # SizeRestrictions_BODY would block every body over 8 KB, but the console and merchants may send
        # up to 64 KB (the app's own limit): it only labels here, and the next rule decides by route.
        _managed("AWSManagedRulesCommonRuleSet", 5, overrides=["SizeRestrictions_BODY"]),
        {
            "Name": "LargeBodyOnPublicRoute",
            "Priority": 6,
            "Statement": large_body,
            "Action": _block(413, TOO_LARGE_BODY, {"Access-Control-Allow-Origin": "*"}),
            "VisibilityConfig": _visibility("LargeBodyOnPublicRoute"),
        },
    ]


def protect_stage(
    stack: Stack, api: sam.CfnApi, api_logical_id: str, stage_name: str, limits: EdgeLimits
) -> wafv2.CfnWebACL:
    """A REGIONAL web ACL (the scope API Gateway takes, whatever the endpoint type) on the API's stage."""
    acl = wafv2.CfnWebACL(
        stack,
        "ApiFirewall",
        scope="REGIONAL",
        description=f"Fission {stage_name}: rate limits per address and managed rules for the API",
        default_action=wafv2.CfnWebACL.DefaultActionProperty(allow={}),
        visibility_config=wafv2.CfnWebACL.VisibilityConfigProperty(
            sampled_requests_enabled=True, cloud_watch_metrics_enabled=True, metric_name=f"fission-{stage_name}-api"
        ),
    )
    acl.add_property_override("Rules", web_acl_rules(limits))
    acl.add_property_override(
        "CustomResponseBodies",
        {
            RATE_LIMITED_BODY: _error_body(Code.RATE_LIMITED, "too many requests from this address; retry later"),
            TOO_LARGE_BODY: _error_body(Code.PAYLOAD_TOO_LARGE, "the body is over 8 KB, the limit of this route"),
        },
    )
    # `<Api>.Stage` is SAM's reference to the stage it generates: it resolves to the stage name and
    # orders the association after the stage exists (a plain name would race the stage's creation).
    stage = Fn.ref(f"{api_logical_id}.Stage")
    association = wafv2.CfnWebACLAssociation(
        stack,
        "ApiFirewallAssociation",
        resource_arn=Fn.join(
            "", ["arn:", Aws.PARTITION, ":apigateway:", Aws.REGION, "::/restapis/", api.ref, "/stages/", stage]
        ),
        web_acl_arn=acl.attr_arn,
    )
    Validations.of(association).acknowledge(
        Acknowledgment(id="CloudFormation-Validate::F1020", reason="SAM resolves the Api.Stage reference")
    )
    return acl
