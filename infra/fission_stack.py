"""The Fission stack: the table, the KMS key, the Chalice app and the wiring Chalice does not do itself."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from aws_cdk import Acknowledgment, CfnOutput, Duration, RemovalPolicy, Stack, Validations
from aws_cdk import aws_cloudfront as cloudfront
from aws_cdk import aws_cloudfront_origins as origins
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_s3_deployment as s3deploy
from aws_cdk import aws_sqs as sqs
from chalice.cdk import Chalice
from constructs import Construct

from chalicelib.core.codes import Code
from chalicelib.core.observability import METRICS_NAMESPACE
from chalicelib.core.observability import SERVICE as METRICS_SERVICE
from chalicelib.table import spec as table_spec
from infra import edge

STAGES = ("dev", "prod")

# Logical ids in the SAM template `chalice package` writes (CamelCase of the Python names).
API_FUNCTION = "APIHandler"
STREAM_FUNCTION = "StreamHandler"
REST_API = "RestAPI"
# Chalice gives every function one shared role unless a function is configured otherwise.
DEFAULT_ROLE = "DefaultRole"

# Alias the API handler is invoked through when provisioned concurrency is on: unqualified
# invocations never use provisioned instances.
LIVE_ALIAS = "live"

# The stream mapping; docs/deploy.md explains each number.
STREAM_BATCH_SIZE = 100
POSTER_RETENTION_DAYS = 30
EXPORT_RETENTION_DAYS = 7
ACCESS_LOG_RETENTION_DAYS = 90
STREAM_BATCHING_WINDOW_SECONDS = 1
STREAM_MAX_RETRIES = 10
STREAM_PARALLELIZATION_FACTOR = 2
# Audit anchors: how long Object Lock keeps each one (docs/operations.md), and where they live in the bucket.
AUDIT_ANCHOR_RETENTION_DAYS = 400
AUDIT_ANCHOR_RETENTION_DAYS_DEV = 7
AUDIT_ANCHOR_PREFIX = "audit-anchors"
# The file that tells the static pages where the API is.
SITE_CONFIG = "config.js"
# A directory URL (`/admin/`, `/l/?campaign=...`) is its index.html: S3 behind CloudFront does not do this itself.
INDEX_REWRITE = """function handler(event) {
  var request = event.request;
  var uri = request.uri;
  if (uri.endsWith("/")) { request.uri = uri + "index.html"; }
  else if (uri.lastIndexOf(".") < uri.lastIndexOf("/")) { request.uri = uri + "/index.html"; }
  return request;
}"""


def error_body_template(code: str, message_expression: str) -> str:
    """The app's error shape as a gateway response template; `message_expression` is spliced in unquoted."""
    slot = "__message__"
    body = json.dumps({"error": {"code": code, "message": slot, "details": {}}})
    return body.replace(json.dumps(slot), message_expression)


class FissionStack(Stack):
    """One stage of Fission.

    The stack's construct id must be the Chalice stage: the Chalice construct takes its stage
    name from its scope, and that name selects the stage block in `.chalice/config.json`.
    `chalice package` runs while this is constructed and writes to `./chalice.out`.
    """

    def __init__(
        self,
        scope: Construct,
        stage: str,
        *,
        source_dir: Path,
        public_base_url: str | None = None,
        warm_writes_per_second: int | None = None,
        warm_reads_per_second: int | None = None,
        api_provisioned_concurrency: int = 0,
        edge_limits: dict[str, int] | None = None,
        **kwargs: Any,
    ) -> None:
        if stage not in STAGES:
            raise ValueError(f"stage must be one of {STAGES}, not {stage!r}")
        kwargs.setdefault("stack_name", f"fission-{stage}")
        kwargs.setdefault("description", f"Fission referral-growth engine ({stage})")
        super().__init__(scope, stage, **kwargs)
        if self.node.path != stage:
            # Nested under another construct the path (hence the Chalice stage) would differ and
            # the stage's settings in .chalice/config.json would silently not apply.
            raise ValueError(f"FissionStack must be a direct child of the App, not at {self.node.path!r}")
        self.stage = stage
        is_prod = stage == "prod"
        # Prod data outlives the stack; a dev stack is disposable.
        removal = RemovalPolicy.RETAIN if is_prod else RemovalPolicy.DESTROY

        self.edge_limits = edge.limits_for(stage, edge_limits)
        self.access_logs = self._access_log_bucket(removal)
        self.table = self._table(removal, is_prod, warm_reads_per_second, warm_writes_per_second)
        self.key = kms.Key(
            self,
            "DataKey",
            description=f"Fission {stage}: wraps the PII and token-signing data keys stored in the table",
            enable_key_rotation=True,
            alias=f"alias/fission-{stage}",
            removal_policy=removal,
            pending_window=Duration.days(30 if is_prod else 7),
        )

        # Rendered posters by content hash: nothing in it is precious (a miss renders again), so old
        # entries simply expire.
        self.posters = self._private_bucket(
            "Posters", [s3.LifecycleRule(prefix="posters/", expiration=Duration.days(POSTER_RETENTION_DAYS))]
        )

        # CSV exports hold participant data (masked): private, and gone with their jobs after 7 days.
        # Abandoned multipart uploads (a run that died while assembling) are cleaned up too.
        self.exports = self._private_bucket(
            "Exports",
            [
                s3.LifecycleRule(
                    prefix="exports/",
                    expiration=Duration.days(EXPORT_RETENTION_DAYS),
                    abort_incomplete_multipart_upload_after=Duration.days(1),
                )
            ],
        )

        self._site()
        environment = {
            "FISSION_STAGE": stage,
            "FISSION_SITE_BASE_URL": f"https://{self.distribution.distribution_domain_name}",
            "FISSION_TABLE_NAME": self.table.table_name,
            "FISSION_REGION": self.region,
            "FISSION_KMS_KEY_ID": self.key.key_arn,
            "FISSION_POSTER_BUCKET": self.posters.bucket_name,
            "FISSION_EXPORT_BUCKET": self.exports.bucket_name,
        }
        environment.update(self._audit_chain(is_prod))
        if public_base_url:
            environment["FISSION_PUBLIC_BASE_URL"] = public_base_url
        # Merged by Chalice over the global and stage blocks of .chalice/config.json, for every function.
        self.chalice = Chalice(
            self,
            "Api",
            source_dir=str(source_dir),
            stage_config={"environment_variables": environment},
        )

        role = self.chalice.get_role(DEFAULT_ROLE)
        self.table.grant_read_write_data(role)
        # What the keyring calls (security/keyring.py), not the grant's wildcards (ReEncrypt*, GenerateDataKey*).
        self.key.grant(role, "kms:GenerateDataKey", "kms:Decrypt")
        self._grant_objects(role, self.posters, "posters/*", ["s3:GetObject", "s3:PutObject", "s3:DeleteObject"])
        self._grant_objects(
            role, self.exports, "exports/*",
            ["s3:GetObject", "s3:PutObject", "s3:DeleteObject", "s3:AbortMultipartUpload"],
        )  # fmt: skip
        self._audit_chain_access(role)
        # The email channel (docs/messaging.md): senders are per tenant, verified in SES, so no fixed resource.
        role.add_to_principal_policy(iam.PolicyStatement(actions=["ses:SendEmail"], resources=["*"]))

        self.stream_failures = sqs.Queue(
            self,
            "StreamFailures",
            # As long as SQS allows: after the records have left the stream, this still says what was lost.
            retention_period=Duration.days(14),
            encryption=sqs.QueueEncryption.SQS_MANAGED,
            enforce_ssl=True,
        )
        self.stream_mapping = self._stream_mapping(role)
        self._stream_failure_alarm()
        self._coupon_pool_alarm()
        self._guessing_alarms()
        self._gateway_responses()
        self._edge_protection()
        self._site_files(source_dir / "web")
        if api_provisioned_concurrency > 0:
            self._provisioned_concurrency(api_provisioned_concurrency)

        CfnOutput(self, "TableName", value=self.table.table_name)
        CfnOutput(self, "KmsKeyArn", value=self.key.key_arn)
        CfnOutput(self, "PosterBucket", value=self.posters.bucket_name)
        CfnOutput(self, "ExportBucket", value=self.exports.bucket_name)
        CfnOutput(self, "StreamFailureQueueUrl", value=self.stream_failures.queue_url)
        CfnOutput(self, "SiteUrl", value=f"https://{self.distribution.distribution_domain_name}")

    # --- The audit chain's key and anchors (docs/decisions.md, "The audit chain: keyed and anchored") ---

    def _audit_chain(self, is_prod: bool) -> dict[str, str]:
        """The HMAC key the chain's entries are MACed with, and the Object Lock bucket its heads are
        anchored in; returns the app's settings naming them."""
        self.audit_key = kms.Key(
            self,
            "AuditMacKey",
            description=f"Fission {self.stage}: MACs the audit chain; never leaves KMS",
            key_spec=kms.KeySpec.HMAC_256,
            key_usage=kms.KeyUsage.GENERATE_VERIFY_MAC,
            alias=f"alias/fission-{self.stage}-audit",
            # Losing the key unseals every chain: it outlives the stack, whatever the stage.
            removal_policy=RemovalPolicy.RETAIN,
            pending_window=Duration.days(30),
        )
        # Compliance mode in prod: nobody, root included, deletes or shortens an anchor before its time.
        # Governance in dev, so a disposable stage can be cleaned up by someone allowed to bypass it.
        retention = (
            s3.ObjectLockRetention.compliance(Duration.days(AUDIT_ANCHOR_RETENTION_DAYS))
            if is_prod
            else s3.ObjectLockRetention.governance(Duration.days(AUDIT_ANCHOR_RETENTION_DAYS_DEV))
        )
        self.audit_anchors = s3.Bucket(
            self,
            "AuditAnchors",
            encryption=s3.BucketEncryption.S3_MANAGED,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            enforce_ssl=True,
            versioned=True,
            object_lock_enabled=True,
            object_lock_default_retention=retention,
            server_access_logs_bucket=self.access_logs,
            server_access_logs_prefix="s3/audit-anchors/",
            # Locked objects cannot be emptied out by a stack deletion: the bucket stays behind.
            removal_policy=RemovalPolicy.RETAIN,
        )
        CfnOutput(self, "AuditMacKeyArn", value=self.audit_key.key_arn)
        CfnOutput(self, "AuditAnchorBucket", value=self.audit_anchors.bucket_name)
        return {
            "FISSION_AUDIT_MAC_KEY_ID": self.audit_key.key_arn,
            "FISSION_AUDIT_ANCHOR_BUCKET": self.audit_anchors.bucket_name,
        }

    def _audit_chain_access(self, role: iam.IRole) -> None:
        """The app may MAC and verify with the key (nothing else: KMS never exports HMAC keys), and add and
        read anchors, never delete or re-date them."""
        role.add_to_principal_policy(
            iam.PolicyStatement(actions=["kms:GenerateMac", "kms:VerifyMac"], resources=[self.audit_key.key_arn])
        )
        anchors = self.audit_anchors.arn_for_objects(f"{AUDIT_ANCHOR_PREFIX}/*")
        role.add_to_principal_policy(iam.PolicyStatement(actions=["s3:PutObject", "s3:GetObject"], resources=[anchors]))
        role.add_to_principal_policy(
            iam.PolicyStatement(
                actions=["s3:ListBucket"],
                resources=[self.audit_anchors.bucket_arn],
                conditions={"StringLike": {"s3:prefix": [f"{AUDIT_ANCHOR_PREFIX}/*"]}},
            )
        )
        # Should a wider grant ever reach the role, the bucket still refuses it the ways to hide an anchor:
        # a delete marker hides the newest anchor from a listing even while the locked version survives.
        self.audit_anchors.add_to_resource_policy(
            iam.PolicyStatement(
                effect=iam.Effect.DENY,
                principals=[iam.ArnPrincipal(role.role_arn)],
                actions=[
                    "s3:DeleteObject",
                    "s3:DeleteObjectVersion",
                    "s3:PutObjectRetention",
                    "s3:PutObjectLegalHold",
                    "s3:BypassGovernanceRetention",
                    "s3:PutBucketObjectLockConfiguration",
                    "s3:PutLifecycleConfiguration",
                    "s3:PutBucketPolicy",
                    "s3:DeleteBucketPolicy",
                ],
                resources=[self.audit_anchors.bucket_arn, self.audit_anchors.arn_for_objects("*")],
            )
        )

    # --- end of the audit chain's block ---

    def _table(
        self, removal: RemovalPolicy, is_prod: bool, warm_reads: int | None, warm_writes: int | None
    ) -> dynamodb.Table:
        warm = None
        if warm_reads or warm_writes:
            # Pre-warmed partitions for an announced sale: on-demand alone serves twice the
            # previous peak at once and throttles a cold launch. Indexes too, because a cold
            # index throttles the table writes that feed it.
            warm = dynamodb.WarmThroughput(read_units_per_second=warm_reads, write_units_per_second=warm_writes)
        table = dynamodb.Table(
            self,
            "Table",
            partition_key=dynamodb.Attribute(name=table_spec.PK, type=dynamodb.AttributeType.STRING),
            sort_key=dynamodb.Attribute(name=table_spec.SK, type=dynamodb.AttributeType.STRING),
            billing_mode=dynamodb.BillingMode.PAY_PER_REQUEST,
            point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
                point_in_time_recovery_enabled=True
            ),
            stream=dynamodb.StreamViewType[table_spec.STREAM_VIEW_TYPE],
            time_to_live_attribute=table_spec.TTL_ATTRIBUTE,
            removal_policy=removal,
            deletion_protection=is_prod,
            warm_throughput=warm,
        )
        for gsi in table_spec.GSIS:
            table.add_global_secondary_index(
                index_name=gsi.name,
                partition_key=dynamodb.Attribute(name=gsi.partition_key, type=dynamodb.AttributeType.STRING),
                sort_key=dynamodb.Attribute(name=gsi.sort_key, type=dynamodb.AttributeType.STRING),
                projection_type=dynamodb.ProjectionType.ALL,
                warm_throughput=warm,
            )
        return table

    def _stream_mapping(self, role: Any) -> lambda_.CfnEventSourceMapping:
        # Chalice packages the function but cannot subscribe it to a stream created outside it.
        self.table.grant_stream_read(role)
        self.stream_failures.grant_send_messages(role)
        function = self.chalice.get_function(STREAM_FUNCTION)
        mapping = lambda_.CfnEventSourceMapping(
            self,
            "StreamMapping",
            function_name=function.function_arn,
            event_source_arn=self.table.table_stream_arn,
            starting_position="TRIM_HORIZON",
            batch_size=STREAM_BATCH_SIZE,
            maximum_batching_window_in_seconds=STREAM_BATCHING_WINDOW_SECONDS,
            bisect_batch_on_function_error=True,
            maximum_retry_attempts=STREAM_MAX_RETRIES,
            parallelization_factor=STREAM_PARALLELIZATION_FACTOR,
            function_response_types=["ReportBatchItemFailures"],
            destination_config=lambda_.CfnEventSourceMapping.DestinationConfigProperty(
                on_failure=lambda_.CfnEventSourceMapping.OnFailureProperty(destination=self.stream_failures.queue_arn)
            ),
        )
        # Lambda checks the role can read the stream and send to the queue when the mapping is
        # created, so the policies those grants add must exist first.
        mapping.node.add_dependency(role)
        return mapping

    def _stream_failure_alarm(self) -> None:
        # A batch in the queue was given up on: its records leave the stream 24 h after written.
        cloudwatch.Alarm(
            self,
            "StreamFailuresAlarm",
            alarm_description="Stream batches were given up on; replay them before the stream's 24 h retention ends",
            metric=self.stream_failures.metric_approximate_number_of_messages_visible(period=Duration.minutes(1)),
            threshold=0,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
            evaluation_periods=1,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
        )

    def _coupon_pool_alarm(self) -> None:
        # A pooled coupon was earned with no code left: participants wait until the operator uploads more.
        cloudwatch.Alarm(
            self,
            "CouponPoolExhaustedAlarm",
            alarm_description="A coupon code pool ran dry; rewards wait as pending until more codes are uploaded",
            metric=cloudwatch.Metric(
                namespace=METRICS_NAMESPACE,
                metric_name="CouponPoolExhausted",
                dimensions_map={"service": METRICS_SERVICE},
                statistic="Sum",
                period=Duration.minutes(5),
            ),
            threshold=0,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
            evaluation_periods=1,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
        )

    def _guessing_alarms(self) -> None:
        # Bursts of refused TOTP codes or logins: someone is guessing (docs/operations.md, "Guessing limits").
        # The locks stop each subject; these tell a person that it is happening, and across subjects.
        for name, metric_name, threshold, description in (
            ("TotpGuessingAlarm", "TotpFailures", 10, "10+ TOTP codes refused in 5 minutes: guessing"),
            ("LoginGuessingAlarm", "LoginFailures", 100, "100+ failed logins in 5 minutes: guessing"),
        ):
            cloudwatch.Alarm(
                self,
                name,
                alarm_description=description,
                metric=cloudwatch.Metric(
                    namespace=METRICS_NAMESPACE,
                    metric_name=metric_name,
                    dimensions_map={"service": METRICS_SERVICE},
                    statistic="Sum",
                    period=Duration.minutes(5),
                ),
                threshold=threshold,
                comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
                evaluation_periods=1,
                treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
            )

    def _gateway_responses(self) -> None:
        """Errors API Gateway answers itself (no route, throttled, timeouts) in the app's error shape.

        They go into the API definition rather than `AWS::ApiGateway::GatewayResponse` resources:
        SAM re-imports the definition on every deployment, which drops responses defined beside it,
        and a change to a separate resource would not trigger a new deployment.
        """
        headers = {
            # Any origin, as the app's own CORS: admin calls carry bearer tokens, never cookies.
            "gatewayresponse.header.Access-Control-Allow-Origin": "'*'",
            # The same id the app's middleware returns, so a client can quote it either way.
            "gatewayresponse.header.X-Request-Id": "context.requestId",
        }
        message = "$context.error.messageString"
        responses = {
            # API Gateway's answer to an unknown path (or method) when no authoriser is involved.
            "MISSING_AUTHENTICATION_TOKEN": ("404", error_body_template(Code.ROUTE_NOT_FOUND, '"no such route"')),
            "THROTTLED": ("429", error_body_template(Code.RATE_LIMITED, message)),
            "DEFAULT_4XX": (None, error_body_template(Code.BAD_REQUEST, message)),
            "DEFAULT_5XX": (None, error_body_template(Code.INTERNAL_ERROR, message)),
        }
        definition: dict[str, Any] = {}
        for response_type, (status, template) in responses.items():
            entry: dict[str, Any] = {
                "responseParameters": headers,
                "responseTemplates": {"application/json": template},
            }
            if status is not None:
                entry["statusCode"] = status
            definition[response_type] = entry
        api = self.chalice.get_resource(REST_API)
        api.add_property_override("DefinitionBody.x-amazon-apigateway-gateway-responses", definition)

    def _private_bucket(self, name: str, lifecycle: list[s3.LifecycleRule]) -> s3.Bucket:
        """Private, encrypted, TLS only, and removed with the stack: what it holds is re-rendered, re-uploaded
        or short-lived."""
        return s3.Bucket(
            self,
            name,
            encryption=s3.BucketEncryption.S3_MANAGED,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            enforce_ssl=True,
            lifecycle_rules=lifecycle or None,
            removal_policy=RemovalPolicy.DESTROY,
            auto_delete_objects=True,
            server_access_logs_bucket=self.access_logs,
            server_access_logs_prefix=f"s3/{name.lower()}/",
        )

    def _access_log_bucket(self, removal: RemovalPolicy) -> s3.Bucket:
        """Server access logs of the other buckets and the distribution's standard logs: who read which
        poster, export or page, for an investigation. Kept 90 days; retained with prod's data."""
        return s3.Bucket(
            self,
            "AccessLogs",
            encryption=s3.BucketEncryption.S3_MANAGED,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            enforce_ssl=True,
            # CloudFront's standard logging writes with an ACL grant, so ACLs stay usable on this bucket.
            object_ownership=s3.ObjectOwnership.OBJECT_WRITER,
            lifecycle_rules=[s3.LifecycleRule(expiration=Duration.days(ACCESS_LOG_RETENTION_DAYS))],
            removal_policy=removal,
            auto_delete_objects=removal == RemovalPolicy.DESTROY,
        )

    def _grant_objects(self, role: iam.IRole, bucket: s3.Bucket, keys: str, actions: list[str]) -> None:
        """`actions` on the objects under `keys`, and listing the bucket: without s3:ListBucket a missing
        object reads as AccessDenied, not NoSuchKey, and the caches would take a miss for an error."""
        role.add_to_principal_policy(iam.PolicyStatement(actions=actions, resources=[bucket.arn_for_objects(keys)]))
        role.add_to_principal_policy(iam.PolicyStatement(actions=["s3:ListBucket"], resources=[bucket.bucket_arn]))

    def _edge_protection(self) -> None:
        """Stage throttling and the WAF web ACL on the API's stage (infra/edge.py, docs/deploy.md)."""
        api = self.chalice.get_resource(REST_API)
        edge.throttle_stage(api, self.edge_limits)
        self.web_acl = edge.protect_stage(self, api, REST_API, self.stage, self.edge_limits)
        CfnOutput(self, "ApiWebAclArn", value=self.web_acl.attr_arn)

    def _site(self) -> None:
        """The console and landing pages (web/) from a private bucket behind CloudFront.

        The pages call the API at its own address, written into `config.js` at deploy time
        (`_site_files`). The API is not routed through this distribution: API Gateway would then see
        CloudFront's addresses, not the visitors', and the per-address rate limits and fraud signals
        would lump a whole edge together. The functions learn the site's address
        (FISSION_SITE_BASE_URL) for invite redirects and unsubscribe links.
        """
        self.site = self._private_bucket("Site", [])
        index = cloudfront.Function(
            self, "SiteIndex", code=cloudfront.FunctionCode.from_inline(INDEX_REWRITE),
            runtime=cloudfront.FunctionRuntime.JS_2_0,
        )  # fmt: skip
        self.distribution = cloudfront.Distribution(
            self,
            "SiteDistribution",
            comment=f"Fission {self.stage}: console and landing pages",
            default_root_object="index.html",
            enable_logging=True,
            log_bucket=self.access_logs,
            log_file_prefix="cloudfront/",
            default_behavior=cloudfront.BehaviorOptions(
                origin=origins.S3BucketOrigin.with_origin_access_control(self.site),
                viewer_protocol_policy=cloudfront.ViewerProtocolPolicy.REDIRECT_TO_HTTPS,
                function_associations=[
                    cloudfront.FunctionAssociation(
                        function=index, event_type=cloudfront.FunctionEventType.VIEWER_REQUEST
                    )
                ],
            ),
        )

    def _site_files(self, web_dir: Path) -> None:
        """Upload web/ with a `config.js` naming the API, and invalidate the distribution's cache."""
        api = self.chalice.get_resource(REST_API)
        # The stage is the path's first segment: Chalice names it after `api_gateway_stage` (dev, prod).
        api_url = f"https://{api.ref}.execute-api.{self.region}.{self.url_suffix}/{api.stage_name}"
        config = f'window.FISSION_CONFIG = {{ api: "{api_url}" }};\n'
        s3deploy.BucketDeployment(
            self,
            "SiteFiles",
            sources=[
                # The demo shop needs the local stack's demo merchant server (local/demo_shop.py): never deployed.
                s3deploy.Source.asset(str(web_dir), exclude=[SITE_CONFIG, "demo-shop"]),
                s3deploy.Source.data(SITE_CONFIG, config),
            ],
            destination_bucket=self.site,
            distribution=self.distribution,
            distribution_paths=["/*"],
        )

    def _provisioned_concurrency(self, executions: int) -> None:
        """Keep `executions` API handler instances initialised; for the hours around a sale."""
        function = self.chalice.get_resource(API_FUNCTION)
        function.add_property_override("AutoPublishAlias", LIVE_ALIAS)
        function.add_property_override("ProvisionedConcurrencyConfig", {"ProvisionedConcurrentExecutions": executions})
        # API Gateway must invoke the alias, and may only invoke what the permission names.
        api = self.chalice.get_resource(REST_API)
        unqualified = "${" + API_FUNCTION + ".Arn}"
        qualified = "${" + API_FUNCTION + ".Alias}"
        body = self.resolve(api.definition_body)
        api.add_property_override("DefinitionBody.paths", _replace_in_strings(body["paths"], unqualified, qualified))
        permission = self.chalice.get_resource(f"{API_FUNCTION}InvokePermission")
        permission.add_property_override("FunctionName", {"Ref": f"{API_FUNCTION}.Alias"})
        # `Function.Alias` is SAM syntax resolved by the transform; CDK's validation and cfn-lint
        # look at the template before it, so each is told to skip that one check here.
        Validations.of(permission).acknowledge(
            Acknowledgment(id="CloudFormation-Validate::F1020", reason="SAM resolves Function.Alias references")
        )
        api.add_metadata("cfn-lint", {"config": {"ignore_checks": ["E1019"]}})


def _replace_in_strings(value: Any, old: str, new: str) -> Any:
    if isinstance(value, str):
        return value.replace(old, new)
    if isinstance(value, dict):
        return {k: _replace_in_strings(v, old, new) for k, v in value.items()}
    if isinstance(value, list):
        return [_replace_in_strings(v, old, new) for v in value]
    return value
