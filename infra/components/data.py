"""Stateful resources: buckets, the database and its replica, AWS Backup, the operations lock table.

Every one of them is protected: `pulumi destroy` or a replace cannot remove it
without a deliberate `pulumi state unprotect`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from infra.components.base import Platform, service_trust
from infra.schedules import aws_cron

NONCURRENT_VERSION_DAYS = 90
REPORT_TRANSITION_DAYS = 90


@dataclass(frozen=True)
class StorageArgs:
    platform: Platform
    primary_key: aws.kms.Key
    dr_key: aws.kms.Key


@dataclass(frozen=True)
class BucketRef:
    """What the app and the ops jobs need of a bucket the stack does not own."""

    bucket: pulumi.Output[str]
    arn: pulumi.Output[str]


def primary_replica_bucket(platform: Platform) -> BucketRef:
    """A standby's data bucket: its primary's `dataReplicaBucket` in this region, looked up, not owned. It holds
    what the primary scraped (S3 replication), so after a failover the app sees it; named in config rather than
    read through a StackReference, because on the day the primary region fails the standby's update must depend
    on nothing of the primary but what lives in this region (README, "Disaster recovery")."""
    found = aws.s3.get_bucket_output(bucket=platform.config.site.data_bucket,
                                     opts=pulumi.InvokeOutputOptions(provider=platform.aws))
    return BucketRef(found.bucket, found.arn)


class Storage(pulumi.ComponentResource):
    """The scraped-data bucket replicated to the DR region, and the ops bucket for reports and records. A standby
    owns only its ops bucket: its data bucket is its primary's replica bucket (`site.dataBucket`)."""

    def __init__(self, name: str, args: StorageArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("scraper:data:Storage", name, None, opts)
        platform = args.platform
        self.data_bucket: aws.s3.Bucket | BucketRef
        self.data_replica_bucket: aws.s3.Bucket | None = None
        if platform.config.site.data_bucket:
            self.data_bucket = primary_replica_bucket(platform)
        else:
            self._replicated_data(name, platform, args)
        self.ops_bucket, _ = self._bucket(f"{name}-ops", platform, platform.aws, args.primary_key)
        aws.s3.BucketLifecycleConfiguration(
            f"{name}-ops-lifecycle",
            bucket=self.ops_bucket.id,
            rules=[
                {
                    "id": "reports-to-infrequent-access",
                    "status": "Enabled",
                    "filter": {},
                    "transitions": [{"days": REPORT_TRANSITION_DAYS, "storage_class": "STANDARD_IA"}],
                    "noncurrent_version_expiration": {"noncurrent_days": NONCURRENT_VERSION_DAYS},
                }
            ],
            opts=pulumi.ResourceOptions(parent=self, provider=platform.aws),
        )
        self.register_outputs(
            {
                "dataBucket": self.data_bucket.bucket,
                "dataReplicaBucket": self.data_replica_bucket.bucket if self.data_replica_bucket else None,
                "opsBucket": self.ops_bucket.bucket,
            }
        )

    def _replicated_data(self, name: str, platform: Platform, args: StorageArgs) -> None:
        """A primary's data bucket and its replica in the DR region, with the replication between them."""
        self.data_bucket, data_versioning = self._bucket(f"{name}-data", platform, platform.aws, args.primary_key)
        self.data_replica_bucket, replica_versioning = self._bucket(
            f"{name}-data-replica", platform, platform.aws_dr, args.dr_key
        )
        self.replication_role = self._replication_role(name, platform, args)
        self.replication = aws.s3.BucketReplicationConfig(
            f"{name}-data-replication",
            bucket=self.data_bucket.id,
            role=self.replication_role.arn,
            rules=[
                {
                    "id": "data-to-dr-region",
                    "status": "Enabled",
                    "priority": 1,
                    "filter": {},
                    "delete_marker_replication": {"status": "Enabled"},
                    "source_selection_criteria": {"sse_kms_encrypted_objects": {"status": "Enabled"}},
                    "destination": {
                        "bucket": self.data_replica_bucket.arn,
                        "storage_class": "STANDARD",
                        "encryption_configuration": {"replica_kms_key_id": args.dr_key.arn},
                        # Replication Time Control: 99.99 % of objects within 15 minutes, measured.
                        "replication_time": {"status": "Enabled", "time": {"minutes": 15}},
                        "metrics": {"status": "Enabled", "event_threshold": {"minutes": 15}},
                    },
                }
            ],
            opts=pulumi.ResourceOptions(
                parent=self, provider=platform.aws, depends_on=[data_versioning, replica_versioning]
            ),
        )

    def _bucket(
        self, name: str, platform: Platform, provider: aws.Provider, key: aws.kms.Key
    ) -> tuple[aws.s3.Bucket, aws.s3.BucketVersioning]:
        child = pulumi.ResourceOptions(parent=self, provider=provider)
        bucket = aws.s3.Bucket(
            name,
            force_destroy=False,
            tags=platform.tags,
            opts=pulumi.ResourceOptions(parent=self, provider=provider, protect=True),
        )
        versioning = aws.s3.BucketVersioning(
            f"{name}-versioning", bucket=bucket.id, versioning_configuration={"status": "Enabled"}, opts=child
        )
        aws.s3.BucketServerSideEncryptionConfiguration(
            f"{name}-encryption",
            bucket=bucket.id,
            rules=[
                {
                    "apply_server_side_encryption_by_default": {"sse_algorithm": "aws:kms", "kms_master_key_id": key.arn},
                    "bucket_key_enabled": True,
                }
            ],
            opts=child,
        )
        aws.s3.BucketPublicAccessBlock(
            f"{name}-public-access-block",
            bucket=bucket.id,
            block_public_acls=True,
            block_public_policy=True,
            ignore_public_acls=True,
            restrict_public_buckets=True,
            opts=child,
        )
        aws.s3.BucketOwnershipControls(
            f"{name}-ownership", bucket=bucket.id, rule={"object_ownership": "BucketOwnerEnforced"}, opts=child
        )
        aws.s3.BucketPolicy(
            f"{name}-tls-only",
            bucket=bucket.id,
            policy=pulumi.Output.json_dumps(
                {
                    "Version": "2012-10-17",
                    "Statement": [
                        {
                            "Sid": "DenyInsecureTransport",
                            "Effect": "Deny",
                            "Principal": "*",
                            "Action": "s3:*",
                            "Resource": [bucket.arn, pulumi.Output.concat(bucket.arn, "/*")],
                            "Condition": {"Bool": {"aws:SecureTransport": "false"}},
                        }
                    ],
                }
            ),
            opts=child,
        )
        return bucket, versioning

    def _replication_role(self, name: str, platform: Platform, args: StorageArgs) -> aws.iam.Role:
        role = aws.iam.Role(
            f"{name}-replication-role",
            description="S3 replication of the scraped data to the DR region",
            assume_role_policy=service_trust("s3.amazonaws.com"),
            tags=platform.tags,
            opts=pulumi.ResourceOptions(parent=self, provider=platform.aws),
        )
        source, replica = self.data_bucket, self.data_replica_bucket
        aws.iam.RolePolicy(
            f"{name}-replication-policy",
            role=role.id,
            policy=pulumi.Output.json_dumps(
                {
                    "Version": "2012-10-17",
                    "Statement": [
                        {
                            "Effect": "Allow",
                            "Action": ["s3:GetReplicationConfiguration", "s3:ListBucket"],
                            "Resource": [source.arn],
                        },
                        {
                            "Effect": "Allow",
                            "Action": [
                                "s3:GetObjectVersionForReplication",
                                "s3:GetObjectVersionAcl",
                                "s3:GetObjectVersionTagging",
                            ],
                            "Resource": [pulumi.Output.concat(source.arn, "/*")],
                        },
                        {
                            "Effect": "Allow",
                            "Action": ["s3:ReplicateObject", "s3:ReplicateDelete", "s3:ReplicateTags"],
                            "Resource": [pulumi.Output.concat(replica.arn, "/*")],
                        },
                        {"Effect": "Allow", "Action": ["kms:Decrypt"], "Resource": [args.primary_key.arn]},
                        {"Effect": "Allow", "Action": ["kms:Encrypt", "kms:GenerateDataKey"], "Resource": [args.dr_key.arn]},
                    ],
                }
            ),
            opts=pulumi.ResourceOptions(parent=self, provider=platform.aws),
        )
        return role


@dataclass(frozen=True)
class DatabaseArgs:
    platform: Platform
    primary_key: aws.kms.Key
    dr_key: aws.kms.Key


# RDS master passwords for PostgreSQL: 8-128 printable ASCII characters except '/', '"', '@' and space
# (RDS API Reference, CreateDBInstance, MasterUserPassword). Quotes and backslashes are left out too, so the
# value can sit in a connection string unescaped.
MASTER_PASSWORD_LENGTH = 40
MASTER_PASSWORD_EXCLUDED = "/@\"' \\`"


def master_secret_name(prefix: str) -> str:
    """The secret's name, the same in both regions (Secrets Manager replicas keep the primary's name)."""
    return f"{prefix}/database/master"


class Database(pulumi.ComponentResource):
    """RDS PostgreSQL primary, its cross-region read replica, the replication of its automated backups, and the
    Secrets Manager secret that holds the master credentials.

    Why not `manage_master_user_password`: RDS cannot create a read replica of a source whose master password it
    manages in Secrets Manager (RDS User Guide, "Password management with Amazon RDS and AWS Secrets Manager",
    Limitations: "Creating a read replica ... is not supported" for every engine but SQL Server), and the DR
    design needs the cross-region replica. So the stack owns the secret, and the secret is the one source of the
    password: Secrets Manager generates a value (GetRandomPassword) that is written once, as a Pulumi secret, to
    the write-only `secret_string_wo` of a secret version; the instance's write-only `password_wo` is read back
    from that version (GetSecretValue by version id). A retried create or a replaced instance therefore gets the
    stored value, never a fresh one the secret does not hold. Write-only values never appear in outputs, logs or
    diffs; `database.masterPasswordVersion` is the only thing in config, and bumping it writes a new value to
    the secret and then to the instance in one update. The secret is replicated to the DR region under the DR
    key, and holds no host, so after a failover the same credentials serve the promoted replica.
    """

    def __init__(self, name: str, args: DatabaseArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("scraper:data:Database", name, None, opts)
        platform, db = args.platform, args.platform.config.database
        self.master_secret = aws.secretsmanager.Secret(
            f"{name}-master-secret",
            name=master_secret_name(platform.prefix),
            description=f"Master credentials of the {platform.prefix} database (written by Pulumi, write-only)",
            kms_key_id=args.primary_key.arn,
            recovery_window_in_days=30,
            replicas=[{"region": platform.config.dr_region, "kms_key_id": args.dr_key.arn}],
            tags=platform.tags,
            opts=pulumi.ResourceOptions(parent=self, provider=platform.aws, protect=True),
        )
        generated = pulumi.Output.secret(
            aws.secretsmanager.get_random_password_output(
                password_length=MASTER_PASSWORD_LENGTH,
                exclude_characters=MASTER_PASSWORD_EXCLUDED,
                require_each_included_type=True,
                opts=pulumi.InvokeOutputOptions(provider=platform.aws),
            ).random_password
        )
        self.master_secret_version = aws.secretsmanager.SecretVersion(
            f"{name}-master-secret-version",
            secret_id=self.master_secret.id,
            secret_string_wo=pulumi.Output.json_dumps(
                {"engine": "postgres", "dbname": db.db_name, "username": db.username, "password": generated}
            ),
            secret_string_wo_version=db.master_password_version,
            opts=pulumi.ResourceOptions(parent=self, provider=platform.aws),
        )
        stored = aws.secretsmanager.get_secret_version_output(
            secret_id=self.master_secret.id,
            version_id=self.master_secret_version.version_id,
            opts=pulumi.InvokeOutputOptions(provider=platform.aws),
        )
        password = pulumi.Output.secret(stored.secret_string.apply(lambda text: json.loads(text)["password"]))
        self.primary = aws.rds.Instance(
            f"{name}-primary",
            identifier=platform.prefix + db.instance_suffix,
            engine="postgres",
            engine_version=db.engine_version,
            instance_class=db.instance_class,
            allocated_storage=db.allocated_storage_gb,
            max_allocated_storage=db.max_allocated_storage_gb,
            storage_type="gp3",
            storage_encrypted=True,
            kms_key_id=args.primary_key.arn,
            db_name=db.db_name,
            username=db.username,
            password_wo=password,
            password_wo_version=db.master_password_version,
            iam_database_authentication_enabled=True,
            multi_az=db.multi_az,
            db_subnet_group_name=db.subnet_group_name,
            vpc_security_group_ids=list(db.security_group_ids),
            publicly_accessible=False,
            deletion_protection=True,
            backup_retention_period=db.backup_retention_days,
            backup_window=db.backup_window,
            maintenance_window=db.maintenance_window,
            copy_tags_to_snapshot=True,
            skip_final_snapshot=False,
            final_snapshot_identifier=f"{platform.prefix}-final",
            performance_insights_enabled=True,
            performance_insights_kms_key_id=args.primary_key.arn,
            performance_insights_retention_period=7,
            enabled_cloudwatch_logs_exports=["postgresql", "upgrade"],
            auto_minor_version_upgrade=db.auto_minor_version_upgrade,
            apply_immediately=False,
            tags=platform.tags,
            # Explicit: the password comes from this version through an invoke, whose dependencies a preview drops.
            opts=pulumi.ResourceOptions(
                parent=self, provider=platform.aws, protect=True, depends_on=[self.master_secret_version]
            ),
        )
        self.replica = aws.rds.Instance(
            f"{name}-replica",
            identifier=platform.prefix + platform.config.dr.replica_suffix,
            replicate_source_db=self.primary.arn,
            instance_class=platform.config.dr.replica_instance_class,
            storage_type="gp3",
            storage_encrypted=True,
            kms_key_id=args.dr_key.arn,
            db_subnet_group_name=platform.config.dr.subnet_group_name,
            vpc_security_group_ids=list(platform.config.dr.security_group_ids),
            publicly_accessible=False,
            deletion_protection=True,
            backup_retention_period=db.backup_retention_days,
            copy_tags_to_snapshot=True,
            # RDS takes no final snapshot of a read replica; its data lives on in the primary and the DR copies.
            skip_final_snapshot=True,
            performance_insights_enabled=True,
            performance_insights_kms_key_id=args.dr_key.arn,
            performance_insights_retention_period=7,
            auto_minor_version_upgrade=db.auto_minor_version_upgrade,
            apply_immediately=False,
            tags=platform.tags,
            opts=pulumi.ResourceOptions(parent=self, provider=platform.aws_dr, protect=True),
        )
        self.backup_replication = aws.rds.InstanceAutomatedBackupsReplication(
            f"{name}-backup-replication",
            source_db_instance_arn=self.primary.arn,
            kms_key_id=args.dr_key.arn,
            retention_period=platform.config.dr.backup_copy_retention_days,
            opts=pulumi.ResourceOptions(parent=self, provider=platform.aws_dr),
        )
        self.register_outputs(
            {
                "primaryId": self.primary.identifier,
                "replicaId": self.replica.identifier,
                "masterSecretArn": self.master_secret.arn,
            }
        )


@dataclass(frozen=True)
class DatabaseEndpoint:
    """What the app, the alarms and the backups need of a database they do not own."""

    identifier: pulumi.Output[str]
    arn: pulumi.Output[str]
    address: pulumi.Output[str]
    port: pulumi.Output[int]


@dataclass(frozen=True)
class SecretRef:
    arn: pulumi.Output[str]


class StandbyDatabase(pulumi.ComponentResource):
    """A standby stack's database: the primary stack's cross-region replica in this region, looked up, not owned
    (the primary stack declares and protects it; `dr failover` promotes it). The master credentials are the
    primary's secret as Secrets Manager replicates it into this region, under the same name."""

    def __init__(self, name: str, platform: Platform, opts: pulumi.ResourceOptions | None = None):
        super().__init__("scraper:data:StandbyDatabase", name, None, opts)
        site = platform.config.site
        here = pulumi.InvokeOutputOptions(provider=platform.aws)
        found = aws.rds.get_instance_output(db_instance_identifier=site.database_instance_id, opts=here)
        self.primary = DatabaseEndpoint(found.db_instance_identifier, found.db_instance_arn, found.address, found.port)
        primary_prefix = f"scraper-{site.primary_stack}"
        secret = aws.secretsmanager.get_secret_output(name=master_secret_name(primary_prefix), opts=here)
        self.master_secret = SecretRef(secret.arn)
        # The secret's replica here is encrypted with the primary stack's DR-region key (its alias is declared by
        # `Keys` of the primary: alias/<prefix>-dr); reading the secret needs kms:Decrypt on that key.
        self.secret_key_arn = aws.kms.get_alias_output(name=f"alias/{primary_prefix}-dr", opts=here).target_key_arn
        self.replica = None  # a standby has no replica of its own: it is the replica
        self.register_outputs({"primaryId": self.primary.identifier, "masterSecretArn": self.master_secret.arn})


@dataclass(frozen=True)
class BackupsArgs:
    platform: Platform
    primary_key: aws.kms.Key
    dr_key: aws.kms.Key
    database: aws.rds.Instance


class Backups(pulumi.ComponentResource):
    """AWS Backup: a vault in each region and a daily plan for the database that copies to the DR vault."""

    def __init__(self, name: str, args: BackupsArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("scraper:data:Backups", name, None, opts)
        platform = args.platform
        self.vault = aws.backup.Vault(
            f"{name}-vault",
            kms_key_arn=args.primary_key.arn,
            tags=platform.tags,
            opts=pulumi.ResourceOptions(parent=self, provider=platform.aws, protect=True),
        )
        self.dr_vault = aws.backup.Vault(
            f"{name}-dr-vault",
            kms_key_arn=args.dr_key.arn,
            tags=platform.tags,
            opts=pulumi.ResourceOptions(parent=self, provider=platform.aws_dr, protect=True),
        )
        retention = platform.config.database.backup_retention_days
        self.plan = aws.backup.Plan(
            f"{name}-plan",
            rules=[
                {
                    "rule_name": "daily-database",
                    "target_vault_name": self.vault.name,
                    "schedule": aws_cron(platform.config.schedules.backup_plan),
                    "schedule_expression_timezone": "Etc/UTC",
                    "start_window": 60,
                    "completion_window": 180,
                    "lifecycle": {"delete_after": retention},
                    "copy_actions": [
                        {
                            "destination_vault_arn": self.dr_vault.arn,
                            "lifecycle": {"delete_after": platform.config.dr.backup_copy_retention_days},
                        }
                    ],
                    "recovery_point_tags": platform.tags,
                }
            ],
            tags=platform.tags,
            opts=pulumi.ResourceOptions(parent=self, provider=platform.aws),
        )
        self.role = aws.iam.Role(
            f"{name}-role",
            description="AWS Backup service role of the database plan",
            assume_role_policy=service_trust("backup.amazonaws.com"),
            tags=platform.tags,
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


@dataclass(frozen=True)
class OpsLockArgs:
    platform: Platform
    key: aws.kms.Key


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
            tags=platform.tags,
            opts=pulumi.ResourceOptions(parent=self, provider=platform.aws, protect=True),
        )
        self.register_outputs({"tableName": self.table.name})
