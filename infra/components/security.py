"""KMS keys of both regions and the IRSA roles of the workloads."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Sequence

import pulumi
import pulumi_aws as aws

from infra.components.base import Platform

# Services that encrypt with the stack's keys on the stack's behalf (CloudWatch has its own statement below).
KEY_USER_SERVICES = (
    "sns.amazonaws.com",
    "sqs.amazonaws.com",
    "s3.amazonaws.com",
    "rds.amazonaws.com",
    "backup.amazonaws.com",
    "dynamodb.amazonaws.com",
)


def key_policy(platform: Platform, region: str) -> pulumi.Output[str]:
    """The key policy: the account administers the key; the stack's services use it.

    CloudWatch alarms can only notify an SSE-KMS topic when the key policy lets the CloudWatch service principal
    call kms:Decrypt and kms:GenerateDataKey* (SNS Developer Guide, "Enable compatibility between event sources
    from AWS services and encrypted topics"). That grant is scoped against the confused deputy with
    aws:SourceAccount and aws:SourceArn (IAM User Guide, "The confused deputy problem"; CloudWatch sets both when
    an alarm publishes): only this stack's alarms in the key's region.
    """
    root = pulumi.Output.concat("arn:", platform.partition, ":iam::", platform.account_id, ":root")
    alarms = pulumi.Output.concat(
        "arn:", platform.partition, ":cloudwatch:", region, ":", platform.account_id, f":alarm:{platform.prefix}-*"
    )
    return pulumi.Output.json_dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Sid": "AccountAdministers",
                    "Effect": "Allow",
                    "Principal": {"AWS": root},
                    "Action": "kms:*",
                    "Resource": "*",
                },
                {
                    "Sid": "ServicesEncrypt",
                    "Effect": "Allow",
                    "Principal": {"Service": list(KEY_USER_SERVICES)},
                    "Action": ["kms:Decrypt", "kms:GenerateDataKey*", "kms:DescribeKey"],
                    "Resource": "*",
                    "Condition": {"StringEquals": {"aws:SourceAccount": platform.account_id}},
                },
                {
                    "Sid": "CloudWatchAlarmsPublishToEncryptedTopics",
                    "Effect": "Allow",
                    "Principal": {"Service": "cloudwatch.amazonaws.com"},
                    "Action": ["kms:Decrypt", "kms:GenerateDataKey*"],
                    "Resource": "*",
                    "Condition": {
                        "StringEquals": {"aws:SourceAccount": platform.account_id},
                        "ArnLike": {"aws:SourceArn": alarms},
                    },
                },
            ],
        }
    )


@dataclass(frozen=True)
class KeysArgs:
    platform: Platform  # a key in each of its providers' regions


class Keys(pulumi.ComponentResource):
    """Customer-managed keys: one in the primary region, one in the DR region for the copies there."""

    def __init__(self, name: str, args: KeysArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("scraper:security:Keys", name, None, opts)
        platform = args.platform
        self.primary = self._key(f"{name}-primary", platform, platform.aws, platform.region)
        self.dr = self._key(f"{name}-dr", platform, platform.aws_dr, platform.dr_region)
        self.register_outputs({"primaryArn": self.primary.arn, "drArn": self.dr.arn})

    def _key(self, name: str, platform: Platform, provider: aws.Provider, region: str) -> aws.kms.Key:
        key = aws.kms.Key(
            name,
            description=f"social-media-scraper {platform.stack}: data at rest in {region}",
            enable_key_rotation=True,
            deletion_window_in_days=30,
            policy=key_policy(platform, region),
            opts=pulumi.ResourceOptions(parent=self, provider=provider, protect=True),
        )
        aws.kms.Alias(
            f"{name}-alias",
            name=f"alias/{platform.prefix}-{name.rsplit('-', 1)[-1]}",
            target_key_id=key.key_id,
            opts=pulumi.ResourceOptions(parent=self, provider=provider),
        )
        return key


def irsa_trust(platform: Platform, subject: str) -> pulumi.Output[str]:
    """A trust policy that lets exactly one service account (`system:serviceaccount:NS:NAME`) assume a role
    through the cluster's registered IAM OIDC provider (EKS User Guide, "Assign IAM roles to Kubernetes service
    accounts": the `sub` and `aud` conditions)."""
    return pulumi.Output.all(platform.oidc_provider_arn, platform.oidc_issuer).apply(
        lambda facts: json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Principal": {"Federated": facts[0]},
                        "Action": "sts:AssumeRoleWithWebIdentity",
                        "Condition": {
                            "StringEquals": {f"{facts[1]}:sub": subject, f"{facts[1]}:aud": "sts.amazonaws.com"}
                        },
                    }
                ],
            }
        )
    )


def irsa_role(
    parent: pulumi.Resource,
    name: str,
    platform: Platform,
    service_account: str,
    statements: Sequence[dict[str, Any]],
    namespace: str,
) -> aws.iam.Role:
    """An IAM role that only the service account `namespace/service_account` can assume, with an inline policy."""
    trust = irsa_trust(platform, f"system:serviceaccount:{namespace}:{service_account}")
    role = aws.iam.Role(
        f"{name}-role",
        description=f"IRSA role of {namespace}/{service_account}",
        assume_role_policy=trust,
        max_session_duration=3600,
        opts=pulumi.ResourceOptions(parent=parent, provider=platform.aws),
    )
    aws.iam.RolePolicy(
        f"{name}-policy",
        role=role.id,
        policy=pulumi.Output.json_dumps({"Version": "2012-10-17", "Statement": list(statements)}),
        opts=pulumi.ResourceOptions(parent=parent, provider=platform.aws),
    )
    return role
