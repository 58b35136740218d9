"""AWS Backup of the database: a vault in each region (protected) and a daily plan that copies to the DR vault."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping

import pulumi
import pulumi_aws as aws

from infra.components.base import Platform, service_trust
from infra.schedules import aws_cron


@dataclass(frozen=True)
class BackupsArgs:
    platform: Platform
    primary_key: aws.kms.Key  # encrypts the vault
    dr_key: aws.kms.Key  # encrypts the DR vault
    database: aws.rds.Instance  # what the plan backs up
    schedule: str  # config schedules.backupPlan: 5-field UTC cron of the daily rule
    retention_days: int  # config database.backupRetentionDays: of the recovery points
    copy_retention_days: int  # config dr.backupCopyRetentionDays: of the copies in the DR vault
    # The cost tags: recovery points are not the plan's resource, so the provider's default tags do not reach them.
    recovery_point_tags: Mapping[str, str]


class Backups(pulumi.ComponentResource):
    """AWS Backup: a vault in each region and a daily plan for the database that copies to the DR vault."""

    def __init__(self, name: str, args: BackupsArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("scraper:data:Backups", name, None, opts)
        platform = args.platform
        self.vault = aws.backup.Vault(
            f"{name}-vault",
            kms_key_arn=args.primary_key.arn,
            opts=pulumi.ResourceOptions(parent=self, provider=platform.aws, protect=True),
        )
        self.dr_vault = aws.backup.Vault(
            f"{name}-dr-vault",
            kms_key_arn=args.dr_key.arn,
            opts=pulumi.ResourceOptions(parent=self, provider=platform.aws_dr, protect=True),
        )
        self.plan = aws.backup.Plan(
            f"{name}-plan",
            rules=[
                {
                    "rule_name": "daily-database",
                    "target_vault_name": self.vault.name,
                    "schedule": aws_cron(args.schedule),
                    "schedule_expression_timezone": "Etc/UTC",
                    "start_window": 60,
                    "completion_window": 180,
                    "lifecycle": {"delete_after": args.retention_days},
                    "copy_actions": [
                        {
                            "destination_vault_arn": self.dr_vault.arn,
                            "lifecycle": {"delete_after": args.copy_retention_days},
                        }
                    ],
                    "recovery_point_tags": dict(args.recovery_point_tags),
                }
            ],
            opts=pulumi.ResourceOptions(parent=self, provider=platform.aws),
        )
        self.role = aws.iam.Role(
            f"{name}-role",
            description="AWS Backup service role of the database plan",
            assume_role_policy=service_trust("backup.amazonaws.com"),
            opts=pulumi.ResourceOptions(parent=self, provider=platform.aws),
        )
        for purpose in ("Backup", "Restores"):
            aws.iam.RolePolicyAttachment(
                f"{name}-role-{purpose.lower()}",
                role=self.role.name,
                policy_arn=pulumi.Output.concat(
                    "arn:", platform.partition, f":iam::aws:policy/service-role/AWSBackupServiceRolePolicyFor{purpose}"
                ),
                opts=pulumi.ResourceOptions(parent=self, provider=platform.aws),
            )
        aws.backup.Selection(
            f"{name}-selection",
            name=f"{platform.prefix}-database",
            plan_id=self.plan.id,
            iam_role_arn=self.role.arn,
            resources=[args.database.arn],
            opts=pulumi.ResourceOptions(parent=self, provider=platform.aws),
        )
        self.register_outputs({"vaultName": self.vault.name, "drVaultName": self.dr_vault.name})
