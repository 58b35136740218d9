"""The DynamoDB table behind the operations lock (one item per lock, expiring through TTL), protected."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from infra.components.base import Platform


@dataclass(frozen=True)
class OpsLockArgs:
    platform: Platform
    key: aws.kms.Key  # encrypts the table


class OpsLock(pulumi.ComponentResource):
    """The DynamoDB table behind the operations lock: one item per lock, expiring through TTL."""

    def __init__(self, name: str, args: OpsLockArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("scraper:ops:Lock", name, None, opts)
        platform = args.platform
        self.table = aws.dynamodb.Table(
            f"{name}-table",
            billing_mode="PAY_PER_REQUEST",
            hash_key="lockId",
            attributes=[{"name": "lockId", "type": "S"}],
            ttl={"attribute_name": "expiresAt", "enabled": True},
            point_in_time_recovery={"enabled": True},
            server_side_encryption={"enabled": True, "kms_key_arn": args.key.arn},
            deletion_protection_enabled=True,
            opts=pulumi.ResourceOptions(parent=self, provider=platform.aws, protect=True),
        )
        self.register_outputs({"tableName": self.table.name})
