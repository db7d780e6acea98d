"""cdk-nag on the app: the AWS Solutions and Serverless packs run when the app is synthesised, and any
finding that is not acknowledged here fails the synthesis (docs/deploy.md, cdk-nag).

An acknowledgment names one finding on one construct (cdk-nag 3 matches `Rule[finding]` exactly,
never a whole rule), and its reason says why the finding does not apply or what stands in for it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from aws_cdk import Acknowledgment, App, Validations
from cdk_nag import AwsSolutionsChecks, ServerlessChecks
from constructs import IConstruct

if TYPE_CHECKING:
    from infra.fission_stack import FissionStack

# The singleton function and role that `BucketDeployment` adds to the stack (CDK's own code).
BUCKET_DEPLOYMENT_PREFIX = "Custom::CDKBucketDeployment"
BASIC_EXECUTION_POLICY = "arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"
# The bootstrap asset bucket of CDK's default synthesiser.
ASSET_OBJECTS = "arn:<AWS::Partition>:s3:::cdk-hnb659fds-assets-<AWS::AccountId>-<AWS::Region>/*"


def add_checks(app: App) -> None:
    Validations.of(app).add_plugins(AwsSolutionsChecks(app), ServerlessChecks(app))


def _ack(construct: IConstruct, reasons: dict[str, str]) -> None:
    Validations.of(construct).acknowledge(*(Acknowledgment(id=rule, reason=why) for rule, why in reasons.items()))


def acknowledge_findings(stack: FissionStack) -> None:
    _functions_role(stack)
    _site(stack)
    _access_logs(stack)
    _stream_failures(stack)
    _bucket_deployment(stack)


def _functions_role(stack: FissionStack) -> None:
    table = stack.resolve(stack.table.node.default_child.logical_id)  # type: ignore[union-attr]
    posters = stack.resolve(stack.posters.node.default_child.logical_id)  # type: ignore[union-attr]
    exports = stack.resolve(stack.exports.node.default_child.logical_id)  # type: ignore[union-attr]
    anchors = stack.resolve(stack.audit_anchors.node.default_child.logical_id)  # type: ignore[union-attr]
    # The role Chalice writes (its own inline policy) and the policy CDK's grants add to it.
    _ack(
        stack.chalice.get_resource("DefaultRole"),
        {
            "AwsSolutions-IAM5[Resource::arn:*:logs:*:*:*]": (
                "Chalice's log policy: each function writes to its own /aws/lambda/ group, named only after deploy"
            ),
            "AwsSolutions-IAM5[Resource::*]": (
                "X-Ray's PutTraceSegments and PutTelemetryRecords take no resource; they are all Chalice adds with *"
            ),
            "Serverless-LambdaStarPermissions": "the same two wildcards as AwsSolutions-IAM5 on this role, above",
        },
    )
    _ack(
        stack.node.find_child("Api").node.find_child("DefaultRole"),
        {
            "AwsSolutions-IAM5[Resource::*]": (
                "ses:SendEmail: senders are verified per tenant in SES at run time (docs/messaging.md), "
                "so no identity ARN is known when the stack is deployed"
            ),
            f"AwsSolutions-IAM5[Resource::<{table}.Arn>/index/*]": (
                "queries on the table's own indexes; every index of the table is read by some listing"
            ),
            f"AwsSolutions-IAM5[Resource::<{posters}.Arn>/posters/*]": (
                "posters are keyed by content hash, so only the prefix is known; the bucket holds nothing else"
            ),
            f"AwsSolutions-IAM5[Resource::<{exports}.Arn>/exports/*]": (
                "exports are keyed by job id, so only the prefix is known; the bucket holds nothing else"
            ),
            f"AwsSolutions-IAM5[Resource::<{anchors}.Arn>/audit-anchors/*]": (
                "audit anchors are keyed by tenant and sequence, so only the prefix is known; the bucket policy "
                "denies the role every delete and retention change, and Object Lock keeps each anchor"
            ),
        },
    )


def _site(stack: FissionStack) -> None:
    _ack(
        stack.distribution,
        {
            "AwsSolutions-CFR1": "campaigns are open worldwide; tenants' legal limits are enforced per campaign",
            "AwsSolutions-CFR2": (
                "the distribution serves only static files (no API, no forms); a CLOUDFRONT-scope web ACL must live "
                "in us-east-1, a second stack the API's regional ACL does not need (docs/deploy.md, Edge protection)"
            ),
            "AwsSolutions-CFR4": (
                "the default *.cloudfront.net certificate pins the viewer policy to TLSv1; a custom domain with an "
                "ACM certificate and TLSv1.2_2021 lifts it (docs/deploy.md, Not built here yet)"
            ),
        },
    )


def _access_logs(stack: FissionStack) -> None:
    _ack(
        stack.access_logs,
        {"AwsSolutions-S1": "this is the access-log bucket; logging its own access would log each log delivery"},
    )


def _stream_failures(stack: FissionStack) -> None:
    reason = (
        "this queue is the dead-letter destination of the stream mapping (it holds the failed batches' "
        "locations); a queue behind it would only repeat it"
    )
    _ack(stack.stream_failures, {"AwsSolutions-SQS3": reason, "Serverless-SQSRedrivePolicy": reason})


def _bucket_deployment(stack: FissionStack) -> None:
    function = next(c for c in stack.node.children if c.node.id.startswith(BUCKET_DEPLOYMENT_PREFIX))
    why = "CDK's BucketDeployment handler, which runs only while a deployment uploads web/"
    _ack(
        function,
        {
            f"AwsSolutions-IAM4[Policy::{BASIC_EXECUTION_POLICY}]": f"{why}; the managed policy only writes its logs",
            "AwsSolutions-IAM5[Resource::*]": f"{why}; CloudFront's CreateInvalidation takes no resource",
            "AwsSolutions-IAM5[Action::s3:GetObject*]": f"{why}; CDK's grant to read the asset and write the site",
            "AwsSolutions-IAM5[Action::s3:GetBucket*]": f"{why}; CDK's grant to read the asset and write the site",
            "AwsSolutions-IAM5[Action::s3:List*]": f"{why}; CDK's grant to read the asset and write the site",
            "AwsSolutions-IAM5[Action::s3:DeleteObject*]": f"{why}; it removes files no longer in web/",
            "AwsSolutions-IAM5[Action::s3:Abort*]": f"{why}; CDK's grant to write the site",
            f"AwsSolutions-IAM5[Resource::{ASSET_OBJECTS}]": f"{why}; the asset bucket, whose keys are asset hashes",
            f"AwsSolutions-IAM5[Resource::<{stack.resolve(stack.site.node.default_child.logical_id)}.Arn>/*]": (  # type: ignore[union-attr]
                f"{why}; every file of the site"
            ),
            "AwsSolutions-L1": f"{why}; CDK pins its runtime and moves it with aws-cdk-lib upgrades",
            "Serverless-LambdaLatestVersion": f"{why}; CDK pins its runtime and moves it with aws-cdk-lib upgrades",
            "Serverless-LambdaDLQ": f"{why}; a CloudFormation custom resource, whose failure fails the deployment",
            "Serverless-LambdaTracing": f"{why}; nothing to trace outside a deployment",
        },
    )
