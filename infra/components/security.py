"""KMS keys of both regions and the IRSA roles of the workloads."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Sequence

import pulumi
import pulumi_aws as aws

from infra.components.base import Platform, json_output

# Services that encrypt with the stack's keys on the stack's behalf.
KEY_USER_SERVICES = (
    "cloudwatch.amazonaws.com",  # alarms publishing to encrypted topics
    "sns.amazonaws.com",
    "sqs.amazonaws.com",
    "s3.amazonaws.com",
    "rds.amazonaws.com",
    "backup.amazonaws.com",
    "dynamodb.amazonaws.com",
)


def key_policy(platform: Platform) -> pulumi.Output[str]:
    root = pulumi.Output.concat("arn:", platform.partition, ":iam::", platform.account_id, ":root")
    return json_output(
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
            ],
        }
    )


@dataclass(frozen=True)
class KeysArgs:
    platform: Platform


class Keys(pulumi.ComponentResource):
    """Customer-managed keys: one in the primary region, one in the DR region for the copies there."""

    def __init__(self, name: str, args: KeysArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("scraper:security:Keys", name, None, opts)
        platform = args.platform
        self.primary = self._key(f"{name}-primary", platform, platform.aws, "primary region")
        self.dr = self._key(f"{name}-dr", platform, platform.aws_dr, "disaster-recovery region")
        self.register_outputs({"primaryArn": self.primary.arn, "drArn": self.dr.arn})

    def _key(self, name: str, platform: Platform, provider: aws.Provider, where: str) -> aws.kms.Key:
        key = aws.kms.Key(
            name,
            description=f"social-media-scraper {platform.stack}: data at rest in the {where}",
            enable_key_rotation=True,
            deletion_window_in_days=30,
            policy=key_policy(platform),
            tags=platform.tags,
            opts=pulumi.ResourceOptions(parent=self, provider=provider, protect=True),
        )
        aws.kms.Alias(
            f"{name}-alias",
            name=f"alias/{platform.prefix}-{name.rsplit('-', 1)[-1]}",
            target_key_id=key.key_id,
            opts=pulumi.ResourceOptions(parent=self, provider=provider),
        )
        return key


def irsa_role(
    parent: pulumi.Resource,
    name: str,
    platform: Platform,
    service_account: str,
    statements: Sequence[dict[str, Any]],
) -> aws.iam.Role:
    """An IAM role that only the named Kubernetes service account can assume, with an inline policy."""
    subject = f"system:serviceaccount:{platform.config.namespace}:{service_account}"
    trust = pulumi.Output.all(platform.partition, platform.account_id, platform.oidc_issuer).apply(
        lambda facts: json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Principal": {"Federated": f"arn:{facts[0]}:iam::{facts[1]}:oidc-provider/{facts[2]}"},
                        "Action": "sts:AssumeRoleWithWebIdentity",
                        "Condition": {
                            "StringEquals": {f"{facts[2]}:sub": subject, f"{facts[2]}:aud": "sts.amazonaws.com"}
                        },
                    }
                ],
            }
        )
    )
    role = aws.iam.Role(
        f"{name}-role",
        description=f"IRSA role of {platform.config.namespace}/{service_account}",
        assume_role_policy=trust,
        max_session_duration=3600,
        tags=platform.tags,
        opts=pulumi.ResourceOptions(parent=parent, provider=platform.aws),
    )
    aws.iam.RolePolicy(
        f"{name}-policy",
        role=role.id,
        policy=json_output({"Version": "2012-10-17", "Statement": list(statements)}),
        opts=pulumi.ResourceOptions(parent=parent, provider=platform.aws),
    )
    return role
