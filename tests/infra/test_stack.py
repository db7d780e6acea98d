"""The synthesised CloudFormation matches the table spec, the PynamoDB models and the stream and API contracts."""

from __future__ import annotations

import json
import os
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from aws_cdk import App
from aws_cdk.assertions import Template

from chalicelib.http.rules import ROUTES
from chalicelib.table import spec as table_spec
from chalicelib.table.models import Item
from infra import edge, nag
from infra.cdk_app import build
from infra.fission_stack import FissionStack

pytestmark = pytest.mark.infra

STREAM_FUNCTION = "StreamHandler"
REST_API = "RestAPI"
GATEWAY_RESPONSES = "x-amazon-apigateway-gateway-responses"


def _synth(tmp_path_factory: pytest.TempPathFactory, context: dict[str, str]) -> Iterator[Template]:
    # Runs `chalice package`: seconds with a warm .chalice/deployments cache, longer on a cold one.
    # Packaging loads the app with the stage's environment variables (CDK tokens) put into
    # os.environ; restore it so the rest of the session sees its own settings.
    saved = dict(os.environ)
    with pytest.MonkeyPatch.context() as patch:
        if not (os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION")):
            patch.setenv("AWS_DEFAULT_REGION", "us-east-1")
        work = tmp_path_factory.mktemp("infra")
        app = App(outdir=str(work / "cdk.out"), context=context)
        template = Template.from_stack(build(app, work))
    os.environ.clear()
    os.environ.update(saved)
    yield template


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Template]:
    yield from _synth(tmp_path_factory, {"stage": "dev"})


@pytest.fixture(scope="module")
def sale_template(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Template]:
    context = {
        "stage": "dev", "api_provisioned_concurrency": "25", "warm_writes_per_second": "20000",
        # A sale also raises the edge limits (docs/deploy.md, Edge protection).
        "api_rate_limit": "8000", "api_burst_limit": "5000", "waf_join_limit": "300",
    }  # fmt: skip
    yield from _synth(tmp_path_factory, context)


def _only(template: Template, resource_type: str) -> tuple[str, dict[str, Any]]:
    found = template.find_resources(resource_type)
    assert len(found) == 1, f"expected one {resource_type}, found {sorted(found)}"
    logical_id, resource = next(iter(found.items()))
    return logical_id, dict(resource)


def _data_key(template: Template) -> tuple[str, dict[str, Any]]:
    """The key wrapping the data keys (the audit chain has an HMAC key of its own)."""
    found = {k: dict(v) for k, v in template.find_resources("AWS::KMS::Key").items() if k.startswith("DataKey")}
    assert len(found) == 1, f"expected one data key, found {sorted(found)}"
    return next(iter(found.items()))


def _functions_policy(template: Template) -> tuple[str, dict[str, Any]]:
    """The policy on the role Chalice gives every function (the site deployment has a role of its own)."""
    found = {
        logical_id: dict(policy)
        for logical_id, policy in template.find_resources("AWS::IAM::Policy").items()
        if '"DefaultRole"' in json.dumps(policy["Properties"]["Roles"])
    }
    assert len(found) == 1, f"expected one policy on the functions' role, found {sorted(found)}"
    return next(iter(found.items()))


def _table(template: Template) -> dict[str, Any]:
    properties: dict[str, Any] = _only(template, "AWS::DynamoDB::Table")[1]["Properties"]
    return properties


def _gateway_responses(template: Template) -> dict[str, Any]:
    api = template.to_json()["Resources"][REST_API]["Properties"]["DefinitionBody"]
    responses: dict[str, Any] = api[GATEWAY_RESPONSES]
    return responses


def test_table_is_keyed_by_string_pk_and_sk(template: Template) -> None:
    table = _table(template)

    assert table["KeySchema"] == [
        {"AttributeName": table_spec.PK, "KeyType": "HASH"},
        {"AttributeName": table_spec.SK, "KeyType": "RANGE"},
    ]
    types = {d["AttributeName"]: d["AttributeType"] for d in table["AttributeDefinitions"]}
    assert types == dict.fromkeys(table_spec.key_attributes(), "S")


def test_table_has_every_spec_index_with_its_keys_and_all_attributes(template: Template) -> None:
    indexes = {gsi["IndexName"]: gsi for gsi in _table(template)["GlobalSecondaryIndexes"]}

    assert set(indexes) == {gsi.name for gsi in table_spec.GSIS}
    for gsi in table_spec.GSIS:
        assert indexes[gsi.name]["KeySchema"] == [
            {"AttributeName": gsi.partition_key, "KeyType": "HASH"},
            {"AttributeName": gsi.sort_key, "KeyType": "RANGE"},
        ]
        assert indexes[gsi.name]["Projection"] == {"ProjectionType": "ALL"}


def test_table_is_on_demand_streams_both_images_expires_items_and_keeps_backups(template: Template) -> None:
    template.has_resource_properties(
        "AWS::DynamoDB::Table",
        {
            "BillingMode": "PAY_PER_REQUEST",
            "StreamSpecification": {"StreamViewType": "NEW_AND_OLD_IMAGES"},
            "TimeToLiveSpecification": {"AttributeName": "expires_at", "Enabled": True},
            "PointInTimeRecoverySpecification": {"PointInTimeRecoveryEnabled": True},
        },
    )


def test_synthesised_table_matches_the_pynamodb_models(template: Template) -> None:
    table = _table(template)
    schema = Item._get_schema()

    assert [Item._hash_keyname, Item._range_keyname] == [k["AttributeName"] for k in table["KeySchema"]]
    assert table["KeySchema"] == schema["key_schema"]
    assert sorted(table["AttributeDefinitions"], key=lambda d: d["AttributeName"]) == sorted(
        schema["attribute_definitions"], key=lambda d: d["AttributeName"]
    )
    synthesised = {gsi["IndexName"]: gsi for gsi in table["GlobalSecondaryIndexes"]}
    assert set(synthesised) == {index.Meta.index_name for index in Item._indexes.values()}
    for index in Item._indexes.values():
        model = type(index)._get_schema()
        assert synthesised[index.Meta.index_name]["KeySchema"] == model["key_schema"]
        assert synthesised[index.Meta.index_name]["Projection"] == model["projection"]
    assert Item.get_attributes()["expires_at"].attr_name == table["TimeToLiveSpecification"]["AttributeName"]


def test_stream_handler_consumes_the_table_stream_with_partial_batch_failures(template: Template) -> None:
    table_id, _ = _only(template, "AWS::DynamoDB::Table")
    queue_id, _ = _only(template, "AWS::SQS::Queue")

    template.has_resource_properties(
        "AWS::Lambda::EventSourceMapping",
        {
            "FunctionName": {"Fn::GetAtt": [STREAM_FUNCTION, "Arn"]},
            "EventSourceArn": {"Fn::GetAtt": [table_id, "StreamArn"]},
            "FunctionResponseTypes": ["ReportBatchItemFailures"],
            "BatchSize": 100,
            "MaximumBatchingWindowInSeconds": 1,
            "BisectBatchOnFunctionError": True,
            "MaximumRetryAttempts": 10,
            "ParallelizationFactor": 2,
            "StartingPosition": "TRIM_HORIZON",
            "DestinationConfig": {"OnFailure": {"Destination": {"Fn::GetAtt": [queue_id, "Arn"]}}},
        },
    )


def _allows(policy: dict[str, Any], action: str, resource: Any) -> bool:
    for statement in policy["Properties"]["PolicyDocument"]["Statement"]:
        actions = [statement["Action"]] if isinstance(statement["Action"], str) else statement["Action"]
        resources = statement["Resource"] if isinstance(statement["Resource"], list) else [statement["Resource"]]
        if statement["Effect"] == "Allow" and action in actions and resource in resources:
            return True
    return False


def test_stream_mapping_is_created_after_the_role_may_read_the_stream_and_park_failures(template: Template) -> None:
    table_id, _ = _only(template, "AWS::DynamoDB::Table")
    queue_id, _ = _only(template, "AWS::SQS::Queue")
    policy_id, policy = _functions_policy(template)
    _, mapping = _only(template, "AWS::Lambda::EventSourceMapping")
    stream = {"Fn::GetAtt": [table_id, "StreamArn"]}

    # Chalice gives all functions one role; the grants attach to it.
    assert template.to_json()["Resources"][STREAM_FUNCTION]["Properties"]["Role"] == {
        "Fn::GetAtt": ["DefaultRole", "Arn"]
    }
    assert '"DefaultRole"' in json.dumps(policy["Properties"]["Roles"])
    assert _allows(policy, "dynamodb:DescribeStream", stream)
    assert _allows(policy, "dynamodb:GetRecords", stream)
    assert _allows(policy, "dynamodb:GetShardIterator", stream)
    assert _allows(policy, "sqs:SendMessage", {"Fn::GetAtt": [queue_id, "Arn"]})
    assert policy_id in mapping["DependsOn"]


def test_functions_may_use_the_table_and_the_kms_key(template: Template) -> None:
    table_id, _ = _only(template, "AWS::DynamoDB::Table")
    key_id, key = _data_key(template)
    _, policy = _functions_policy(template)
    table = {"Fn::GetAtt": [table_id, "Arn"]}
    kms_key = {"Fn::GetAtt": [key_id, "Arn"]}

    assert key["Properties"]["EnableKeyRotation"] is True
    for action in ("dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:Query"):
        assert _allows(policy, action, table), action
    # Exactly what the keyring calls: no ReEncrypt*, no GenerateDataKey* wildcards.
    for action in ("kms:Decrypt", "kms:GenerateDataKey"):
        assert _allows(policy, action, kms_key), action
    assert not _allows(policy, "kms:ReEncrypt*", kms_key)


def test_every_function_is_told_its_stage_table_and_key(template: Template) -> None:
    table_id, _ = _only(template, "AWS::DynamoDB::Table")
    key_id, _ = _data_key(template)
    functions = template.find_resources("AWS::Serverless::Function")

    from app import app as chalice_app

    def logical_id(name: str) -> str:
        return "".join(part.capitalize() for part in name.split("_"))

    scheduled = {logical_id(source.name) for source in chalice_app.event_sources}
    assert set(functions) == {"APIHandler", STREAM_FUNCTION, *scheduled}
    assert "FailExpiredGroups" in scheduled
    for function in functions.values():
        variables = function["Properties"]["Environment"]["Variables"]
        assert variables["FISSION_STAGE"] == "dev"
        assert variables["FISSION_TABLE_NAME"] == {"Ref": table_id}
        assert variables["FISSION_KMS_KEY_ID"] == {"Fn::GetAtt": [key_id, "Arn"]}
        assert variables["FISSION_REGION"] == {"Ref": "AWS::Region"}


def test_every_function_is_traced_by_lambda_with_the_xray_sdk_tracer_off(template: Template) -> None:
    functions = template.find_resources("AWS::Serverless::Function")
    assert functions
    for name, function in functions.items():
        properties = function["Properties"]
        assert properties["Tracing"] == "Active", name
        assert properties["Environment"]["Variables"]["POWERTOOLS_TRACE_DISABLED"] == "true", name


def test_dev_stage_settings_from_chalice_config_apply(template: Template) -> None:
    stream_handler = template.to_json()["Resources"][STREAM_FUNCTION]["Properties"]

    assert (stream_handler["Timeout"], stream_handler["MemorySize"]) == (60, 1024)
    assert stream_handler["Handler"] == "chalicelib.entrypoints.events.stream_handler"


def test_unknown_route_answers_404_in_the_app_error_shape(template: Template) -> None:
    response = _gateway_responses(template)["MISSING_AUTHENTICATION_TOKEN"]

    assert response["statusCode"] == "404"
    assert json.loads(response["responseTemplates"]["application/json"]) == {
        "error": {"code": "ROUTE_NOT_FOUND", "message": "no such route", "details": {}}
    }
    assert response["responseParameters"]["gatewayresponse.header.Access-Control-Allow-Origin"] == "'*'"


@pytest.mark.parametrize(("response_type", "code"), [("DEFAULT_4XX", "BAD_REQUEST"), ("DEFAULT_5XX", "INTERNAL_ERROR")])
def test_gateway_errors_use_the_app_error_shape_with_cors(template: Template, response_type: str, code: str) -> None:
    response = _gateway_responses(template)[response_type]
    # API Gateway substitutes the variable with an already quoted JSON string.
    body = response["responseTemplates"]["application/json"].replace("$context.error.messageString", '"failed"')

    assert json.loads(body) == {"error": {"code": code, "message": "failed", "details": {}}}
    assert response["responseParameters"]["gatewayresponse.header.Access-Control-Allow-Origin"] == "'*'"


def test_gateway_responses_are_part_of_the_deployed_api_definition(template: Template) -> None:
    # Standalone GatewayResponse resources are dropped when SAM re-imports the definition.
    assert template.find_resources("AWS::ApiGateway::GatewayResponse") == {}
    assert set(_gateway_responses(template)) >= {"MISSING_AUTHENTICATION_TOKEN", "DEFAULT_4XX", "DEFAULT_5XX"}


def test_dev_data_goes_with_the_stack(template: Template) -> None:
    template.has_resource("AWS::DynamoDB::Table", {"DeletionPolicy": "Delete"})
    assert _data_key(template)[1]["DeletionPolicy"] == "Delete"


def _allows_only(policy: dict[str, Any], resource: Any) -> set[str]:
    """Every action the policy allows on `resource` (statements naming it among others included); the
    statements on `*` are checked to hold no KMS or S3 action, so none can reach it that way."""
    allowed: set[str] = set()
    for statement in policy["Properties"]["PolicyDocument"]["Statement"]:
        actions = [statement["Action"]] if isinstance(statement["Action"], str) else statement["Action"]
        resources = statement["Resource"] if isinstance(statement["Resource"], list) else [statement["Resource"]]
        if statement["Effect"] != "Allow":
            continue
        if "*" in resources:
            assert not [a for a in actions if a.startswith(("kms:", "s3:"))], statement
        if resource in resources:
            allowed.update(actions)
    return allowed


def test_the_audit_chain_key_is_an_hmac_key_the_functions_may_only_mac_and_verify_with(template: Template) -> None:
    keys = {k: v for k, v in template.find_resources("AWS::KMS::Key").items() if k.startswith("AuditMacKey")}
    ((key_id, key),) = keys.items()
    _, policy = _functions_policy(template)

    assert key["Properties"]["KeySpec"] == "HMAC_256"
    assert key["Properties"]["KeyUsage"] == "GENERATE_VERIFY_MAC"
    assert key["DeletionPolicy"] == "Retain"  # losing it unseals every chain, even in dev
    assert _allows_only(policy, {"Fn::GetAtt": [key_id, "Arn"]}) == {"kms:GenerateMac", "kms:VerifyMac"}
    for function in template.find_resources("AWS::Serverless::Function").values():
        variables = function["Properties"]["Environment"]["Variables"]
        assert variables["FISSION_AUDIT_MAC_KEY_ID"] == {"Fn::GetAtt": [key_id, "Arn"]}


def test_audit_anchors_go_to_an_object_lock_bucket_the_functions_may_add_to_but_not_delete_from(
    template: Template,
) -> None:
    buckets = {k: v for k, v in template.find_resources("AWS::S3::Bucket").items() if k.startswith("AuditAnchors")}
    ((bucket_id, bucket),) = buckets.items()
    _, policy = _functions_policy(template)
    objects = {"Fn::Join": ["", [{"Fn::GetAtt": [bucket_id, "Arn"]}, "/audit-anchors/*"]]}

    assert bucket["Properties"]["ObjectLockEnabled"] is True
    assert bucket["Properties"]["VersioningConfiguration"] == {"Status": "Enabled"}
    retention = bucket["Properties"]["ObjectLockConfiguration"]["Rule"]["DefaultRetention"]
    assert retention == {"Mode": "GOVERNANCE", "Days": 7}  # dev; prod is COMPLIANCE for 400 days
    assert bucket["DeletionPolicy"] == "Retain"
    assert _allows_only(policy, objects) == {"s3:PutObject", "s3:GetObject"}
    assert _allows_only(policy, {"Fn::GetAtt": [bucket_id, "Arn"]}) == {"s3:ListBucket"}
    every_object = {"Fn::Join": ["", [{"Fn::GetAtt": [bucket_id, "Arn"]}, "/*"]]}
    assert _allows_only(policy, every_object) == set()
    bucket_policy = [
        s
        for p in template.find_resources("AWS::S3::BucketPolicy").values()
        if p["Properties"]["Bucket"] == {"Ref": bucket_id}
        for s in p["Properties"]["PolicyDocument"]["Statement"]
    ]
    denied = {
        action
        for s in bucket_policy
        if s["Effect"] == "Deny" and "Condition" not in s
        for action in ([s["Action"]] if isinstance(s["Action"], str) else s["Action"])
    }
    assert {"s3:DeleteObject", "s3:DeleteObjectVersion", "s3:BypassGovernanceRetention"} <= denied
    for function in template.find_resources("AWS::Serverless::Function").values():
        variables = function["Properties"]["Environment"]["Variables"]
        assert variables["FISSION_AUDIT_ANCHOR_BUCKET"] == {"Ref": bucket_id}
    assert "AnchorAuditChains" in template.find_resources("AWS::Serverless::Function")


def test_api_is_invoked_through_the_provisioned_alias_during_a_sale(sale_template: Template) -> None:
    resources = sale_template.to_json()["Resources"]
    api_handler = resources["APIHandler"]["Properties"]
    uris = [
        operation["x-amazon-apigateway-integration"]["uri"]["Fn::Sub"]
        for path in resources[REST_API]["Properties"]["DefinitionBody"]["paths"].values()
        for operation in path.values()
        if operation.get("x-amazon-apigateway-integration", {}).get("type") == "aws_proxy"
    ]

    assert api_handler["AutoPublishAlias"] == "live"
    assert api_handler["ProvisionedConcurrencyConfig"] == {"ProvisionedConcurrentExecutions": 25}
    assert uris
    assert all("${APIHandler.Alias}" in uri and "${APIHandler.Arn}" not in uri for uri in uris)
    assert resources["APIHandlerInvokePermission"]["Properties"]["FunctionName"] == {"Ref": "APIHandler.Alias"}


def test_table_and_indexes_are_prewarmed_for_a_sale(sale_template: Template) -> None:
    table = _table(sale_template)

    assert table["WarmThroughput"] == {"WriteUnitsPerSecond": 20000}
    assert all(gsi["WarmThroughput"] == {"WriteUnitsPerSecond": 20000} for gsi in table["GlobalSecondaryIndexes"])


def test_sale_settings_are_off_unless_asked_for(template: Template) -> None:
    api_handler = template.to_json()["Resources"]["APIHandler"]["Properties"]
    table = _table(template)

    assert "ProvisionedConcurrencyConfig" not in api_handler
    assert "AutoPublishAlias" not in api_handler
    assert "WarmThroughput" not in table


def test_posters_are_cached_in_a_private_expiring_bucket_the_functions_may_use(template: Template) -> None:
    template.has_resource_properties(
        "AWS::S3::Bucket",
        {
            "PublicAccessBlockConfiguration": {
                "BlockPublicAcls": True, "BlockPublicPolicy": True, "IgnorePublicAcls": True,
                "RestrictPublicBuckets": True,
            },
            "LifecycleConfiguration": {"Rules": [{"Prefix": "posters/", "ExpirationInDays": 30, "Status": "Enabled"}]},
        },
    )  # fmt: skip
    functions = template.find_resources("AWS::Serverless::Function")
    assert functions, "no functions in the template"
    for name, function in functions.items():
        variables = function["Properties"]["Environment"]["Variables"]
        assert "FISSION_POSTER_BUCKET" in variables, name


def test_exports_go_to_a_private_bucket_that_forgets_them_after_seven_days(template: Template) -> None:
    template.has_resource_properties(
        "AWS::S3::Bucket",
        {
            "BucketEncryption": {
                "ServerSideEncryptionConfiguration": [{"ServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]
            },
            "PublicAccessBlockConfiguration": {
                "BlockPublicAcls": True, "BlockPublicPolicy": True, "IgnorePublicAcls": True,
                "RestrictPublicBuckets": True,
            },
            "LifecycleConfiguration": {
                "Rules": [
                    {
                        "Prefix": "exports/", "ExpirationInDays": 7, "Status": "Enabled",
                        "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": 1},
                    }
                ]
            },
        },
    )  # fmt: skip
    buckets = template.find_resources("AWS::S3::Bucket")
    (exports,) = [n for n, b in buckets.items() if n.startswith("Exports")]
    policies = template.find_resources("AWS::S3::BucketPolicy")
    tls = [
        s
        for p in policies.values()
        if p["Properties"]["Bucket"] == {"Ref": exports}
        for s in p["Properties"]["PolicyDocument"]["Statement"]
        if s.get("Condition", {}).get("Bool", {}).get("aws:SecureTransport") == "false"
    ]
    assert tls and all(s["Effect"] == "Deny" for s in tls)
    for name, function in template.find_resources("AWS::Serverless::Function").items():
        variables = function["Properties"]["Environment"]["Variables"]
        assert variables.get("FISSION_EXPORT_BUCKET") == {"Ref": exports}, name
    granted = json.dumps(template.find_resources("AWS::IAM::Policy"))
    assert exports in granted and "s3:PutObject" in granted


def test_an_empty_coupon_pool_raises_an_alarm(template: Template) -> None:
    template.has_resource_properties(
        "AWS::CloudWatch::Alarm",
        {
            "Namespace": "Fission",
            "MetricName": "CouponPoolExhausted",
            "Dimensions": [{"Name": "service", "Value": "fission"}],
            "Threshold": 0,
            "ComparisonOperator": "GreaterThanThreshold",
        },
    )


@pytest.mark.parametrize(("metric", "threshold"), [("TotpFailures", 10), ("LoginFailures", 100)])
def test_bursts_of_refused_codes_and_logins_raise_an_alarm(template: Template, metric: str, threshold: int) -> None:
    template.has_resource_properties(
        "AWS::CloudWatch::Alarm",
        {
            "Namespace": "Fission",
            "MetricName": metric,
            "Dimensions": [{"Name": "service", "Value": "fission"}],
            "Statistic": "Sum",
            "Period": 300,
            "Threshold": threshold,
            "ComparisonOperator": "GreaterThanOrEqualToThreshold",
        },
    )


def test_the_package_ships_the_built_poster_fonts_and_their_licence(
    template: Template, tmp_path_factory: pytest.TempPathFactory
) -> None:
    # `_synth` packaged the app under a numbered infra* folder of the session's temporary folder.
    packages = sorted(tmp_path_factory.getbasetemp().glob("infra*/chalice.out/*/deployment.zip"))
    assert packages, "no Chalice package found"
    with zipfile.ZipFile(packages[0]) as archive:
        names = set(archive.namelist())
    fonts = {
        f"chalicelib/posters/fonts/NotoSansSC-{name}.{ext}"
        for name in ("Regular", "Bold", "Fallback")
        for ext in ("ttf", "cmap.txt")
    }
    assert fonts | {"chalicelib/posters/fonts/OFL.txt"} <= names


def test_stack_refuses_an_unknown_stage(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="stage must be one of"):
        FissionStack(App(outdir=str(tmp_path)), "staging", source_dir=tmp_path)


def test_the_pages_are_served_from_a_private_bucket_behind_cloudfront(template: Template) -> None:
    resources = template.to_json()["Resources"]
    _, distribution = _only(template, "AWS::CloudFront::Distribution")
    config = distribution["Properties"]["DistributionConfig"]
    assert config["DefaultRootObject"] == "index.html"
    behaviour = config["DefaultCacheBehavior"]
    assert behaviour["ViewerProtocolPolicy"] == "redirect-to-https"
    # Directory URLs (/admin/, /l/?campaign=...) are rewritten to their index.html at the edge.
    (association,) = behaviour["FunctionAssociations"]
    function_id = association["FunctionARN"]["Fn::GetAtt"][0]
    assert "index.html" in resources[function_id]["Properties"]["FunctionCode"]
    # The bucket is reached only through the distribution's origin access control.
    (origin,) = config["Origins"]
    assert origin["OriginAccessControlId"] and origin["S3OriginConfig"] == {"OriginAccessIdentity": ""}
    bucket = resources[origin["DomainName"]["Fn::GetAtt"][0]]["Properties"]
    assert bucket["PublicAccessBlockConfiguration"]["RestrictPublicBuckets"] is True
    # Not the API: API Gateway must keep seeing the visitors' own addresses (rate limits, fraud signals).
    assert "CacheBehaviors" not in config


def test_the_pages_learn_where_the_api_is_and_the_functions_where_the_pages_are(template: Template) -> None:
    _, deployment = _only(template, "Custom::CDKBucketDeployment")
    markers = json.dumps(deployment["Properties"]["SourceMarkers"])
    assert '"Ref": "RestAPI"' in markers, "config.js names the deployed API"
    assert deployment["Properties"]["DistributionPaths"] == ["/*"]
    for name, function in template.find_resources("AWS::Serverless::Function").items():
        site = function["Properties"]["Environment"]["Variables"]["FISSION_SITE_BASE_URL"]
        assert "SiteDistribution" in json.dumps(site), name


# --- Edge protection: stage throttling, the WAF web ACL, cdk-nag -------------------------------------


def _stage_throttling(template: Template) -> tuple[int, int]:
    (setting,) = template.to_json()["Resources"][REST_API]["Properties"]["MethodSettings"]
    assert (setting["ResourcePath"], setting["HttpMethod"]) == ("/*", "*")
    return setting["ThrottlingRateLimit"], setting["ThrottlingBurstLimit"]


def _waf_rules(template: Template) -> dict[str, dict[str, Any]]:
    _, acl = _only(template, "AWS::WAFv2::WebACL")
    return {rule["Name"]: rule for rule in acl["Properties"]["Rules"]}


def _matches(statement: dict[str, Any], method: str, path: str, labels: frozenset[str] = frozenset()) -> bool:
    """Evaluate the statement kinds the web ACL uses against one request, as WAF would."""
    (kind, body), *_ = statement.items()
    if kind == "AndStatement":
        return all(_matches(s, method, path, labels) for s in body["Statements"])
    if kind == "OrStatement":
        return any(_matches(s, method, path, labels) for s in body["Statements"])
    if kind == "NotStatement":
        return not _matches(body["Statement"], method, path, labels)
    if kind == "LabelMatchStatement":
        return body["Key"] in labels
    assert kind == "ByteMatchStatement", kind
    value = method if "Method" in body["FieldToMatch"] else path
    needle, where = str(body["SearchString"]), str(body["PositionalConstraint"])
    checks: dict[str, bool] = {
        "EXACTLY": value == needle, "CONTAINS": needle in value,
        "ENDS_WITH": value.endswith(needle), "STARTS_WITH": value.startswith(needle),
    }  # fmt: skip
    return checks[where]


def _rate_scope(rule: dict[str, Any]) -> dict[str, Any]:
    scope: dict[str, Any] = rule["Statement"]["RateBasedStatement"]["ScopeDownStatement"]
    return scope


def test_the_api_stage_is_throttled_with_the_stage_defaults(template: Template) -> None:
    limits = edge.STAGE_EDGE_LIMITS["dev"]
    assert _stage_throttling(template) == (limits.api_rate_limit, limits.api_burst_limit)


def test_edge_limits_follow_the_context_for_a_sale(sale_template: Template) -> None:
    assert _stage_throttling(sale_template) == (8000, 5000)
    join = _waf_rules(sale_template)["JoinPerAddress"]["Statement"]["RateBasedStatement"]
    assert join["Limit"] == 300


@pytest.mark.parametrize("key", ["waf_login_limit", "waf_join_limit", "waf_public_limit"])
def test_a_waf_limit_below_what_waf_accepts_is_refused(key: str) -> None:
    with pytest.raises(ValueError, match=key):
        edge.limits_for("prod", {key: 5})


def test_the_web_acl_is_regional_and_guards_the_api_stage(template: Template) -> None:
    acl_id, acl = _only(template, "AWS::WAFv2::WebACL")
    _, association = _only(template, "AWS::WAFv2::WebACLAssociation")
    assert acl["Properties"]["Scope"] == "REGIONAL"
    assert acl["Properties"]["DefaultAction"] == {"Allow": {}}
    assert association["Properties"]["WebACLArn"] == {"Fn::GetAtt": [acl_id, "Arn"]}
    # SAM's stage reference: the association waits for the stage SAM generates, whatever its name.
    arn = association["Properties"]["ResourceArn"]["Fn::Join"][1]
    assert ":apigateway:" in arn and {"Ref": REST_API} in arn and {"Ref": f"{REST_API}.Stage"} in arn


@pytest.mark.parametrize(
    ("rule", "method", "path", "window"),
    [
        ("LoginPerAddress", "POST", "/dev/v1/admin/login", 300),
        ("JoinPerAddress", "POST", "/dev/v1/campaigns/c1/participants", 60),
        ("PublicPerAddress", "GET", "/dev/v1/campaigns/c1/public", 60),
        ("PublicPerAddress", "GET", "/dev/v1/i/abc123", 60),
    ],
)
def test_a_flood_from_one_address_is_answered_429_by_the_firewall(
    template: Template, rule: str, method: str, path: str, window: int
) -> None:
    found = _waf_rules(template)[rule]
    rate = found["Statement"]["RateBasedStatement"]
    assert rate["AggregateKeyType"] == "IP" and rate["EvaluationWindowSec"] == window
    assert _matches(_rate_scope(found), method, path), (rule, path)
    response = found["Action"]["Block"]["CustomResponse"]
    assert response["ResponseCode"] == 429
    _, acl = _only(template, "AWS::WAFv2::WebACL")
    body = json.loads(acl["Properties"]["CustomResponseBodies"][response["CustomResponseBodyKey"]]["Content"])
    assert body["error"]["code"] == "RATE_LIMITED"
    headers = {h["Name"]: h["Value"] for h in response["ResponseHeaders"]}
    assert headers == {"Access-Control-Allow-Origin": "*", "Retry-After": str(window)}


def test_login_is_limited_tighter_than_the_public_routes(template: Template) -> None:
    rules = _waf_rules(template)
    login = rules["LoginPerAddress"]["Statement"]["RateBasedStatement"]
    public = rules["PublicPerAddress"]["Statement"]["RateBasedStatement"]

    def per_minute(rate: dict[str, Any]) -> float:
        return float(rate["Limit"]) * 60 / float(rate["EvaluationWindowSec"])

    assert per_minute(login) < per_minute(public) / 100
    # Only the login call counts against it, not the console's other calls.
    assert not _matches(_rate_scope(rules["LoginPerAddress"]), "GET", "/dev/v1/admin/campaigns")


def test_every_rate_limited_app_route_is_also_limited_at_the_edge(template: Template) -> None:
    public = _rate_scope(_waf_rules(template)["PublicPerAddress"])
    for method, route in ROUTES:
        path = "/dev" + route.replace("{", "x").replace("}", "")
        assert _matches(public, method, path), route
    # Merchants' servers and the console are not per-address traffic: they stay out of that rule.
    for path in (
        "/dev/v1/server/orders", "/dev/v1/hooks/t1/orders", "/dev/v1/admin/campaigns", "/dev/v1/wecom/t1/callback",
        "/dev/v1/wechat/t1/callback",
    ):  # fmt: skip
        assert not _matches(public, "POST", path), path


def test_managed_rule_groups_guard_the_api_and_large_bodies_are_blocked_on_public_routes_only(
    template: Template,
) -> None:
    rules = _waf_rules(template)
    for group in (
        "AWSManagedRulesAmazonIpReputationList", "AWSManagedRulesKnownBadInputsRuleSet", "AWSManagedRulesCommonRuleSet"
    ):  # fmt: skip
        assert rules[group]["Statement"]["ManagedRuleGroupStatement"]["VendorName"] == "AWS"
        assert rules[group]["OverrideAction"] == {"None": {}}
    # The CRS only labels bodies over 8 KB: campaign documents and code uploads go up to 64 KB.
    crs = rules["AWSManagedRulesCommonRuleSet"]["Statement"]["ManagedRuleGroupStatement"]
    assert crs["RuleActionOverrides"] == [{"Name": "SizeRestrictions_BODY", "ActionToUse": {"Count": {}}}]
    large = rules["LargeBodyOnPublicRoute"]
    assert large["Priority"] > rules["AWSManagedRulesCommonRuleSet"]["Priority"]
    assert large["Action"]["Block"]["CustomResponse"]["ResponseCode"] == 413
    labelled = frozenset({edge.LARGE_BODY_LABEL})
    assert _matches(large["Statement"], "POST", "/dev/v1/campaigns/c1/participants", labelled)
    assert not _matches(large["Statement"], "POST", "/dev/v1/campaigns/c1/participants")
    console = ("/dev/v1/admin/campaigns", "/dev/v1/admin/campaigns/c1/coupon-pools/r1/codes", "/dev/v1/server/orders")
    for path in console:
        assert not _matches(large["Statement"], "POST", path, labelled), path


def test_the_site_and_buckets_log_access_to_the_log_bucket(template: Template) -> None:
    buckets = template.find_resources("AWS::S3::Bucket")
    (logs,) = [n for n in buckets if n.startswith("AccessLogs")]
    for name, bucket in buckets.items():
        if name != logs:
            assert bucket["Properties"]["LoggingConfiguration"]["DestinationBucketName"] == {"Ref": logs}, name
    _, distribution = _only(template, "AWS::CloudFront::Distribution")
    logging = distribution["Properties"]["DistributionConfig"]["Logging"]
    assert logging["Bucket"] == {"Fn::GetAtt": [logs, "RegionalDomainName"]}


def test_synthesis_fails_on_a_cdk_nag_finding_nobody_acknowledged(tmp_path: Path) -> None:
    from aws_cdk import Acknowledgment, Stack, Validations
    from aws_cdk import aws_sqs as sqs

    def probe(outdir: Path) -> tuple[App, sqs.Queue]:
        app = App(outdir=str(outdir))
        nag.add_checks(app)
        return app, sqs.Queue(Stack(app, "Probe"), "Unguarded")  # no DLQ, no TLS-only policy

    app, _ = probe(tmp_path / "bare")
    with pytest.raises(Exception, match="AwsSolutions-SQS4"):
        app.synth()
    # Each finding acknowledged by its id, with a reason, and the synthesis goes through.
    app, queue = probe(tmp_path / "acknowledged")
    for rule in ("AwsSolutions-SQS3", "AwsSolutions-SQS4", "Serverless-SQSRedrivePolicy"):
        Validations.of(queue).acknowledge(Acknowledgment(id=rule, reason="a probe that is never deployed"))
    app.synth()


def test_the_stack_passes_cdk_nag_with_every_exception_acknowledged(
    template: Template, tmp_path_factory: pytest.TempPathFactory
) -> None:
    # Synthesis (the fixture's, too) raises on an unacknowledged finding; the report it leaves lists
    # every plugin that found something, with the acknowledged findings apart.
    reports = sorted(tmp_path_factory.getbasetemp().glob("infra*/cdk.out/validation-report.json"))
    assert reports, "no synthesis left a validation report"
    for path in reports:
        plugins = json.loads(path.read_text())["pluginReports"]
        assert [p["pluginName"] for p in plugins if p["conclusion"] != "success"] == [], path
        assert [v["ruleName"] for p in plugins for v in p["violations"]] == [], path


def test_the_pages_call_the_api_under_its_stage(template: Template, tmp_path_factory: pytest.TempPathFactory) -> None:
    # API Gateway serves the app under /<stage>/: a page pointed elsewhere would get 403s from the gateway.
    configs = list(tmp_path_factory.getbasetemp().glob("infra*/cdk.out/asset.*/config.js"))
    assert configs, "no config.js was synthesised"
    for config in configs:
        text = config.read_text()
        assert text.rstrip().endswith('/dev" };'), text
