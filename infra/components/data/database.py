"""The database: the RDS PostgreSQL primary, its cross-region replica and their master secret on a primary
stack (`Database`), or the primary's replica looked up on a standby (`StandbyDatabase`). Owned ones are protected.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from infra.components.base import Platform
from infra.config import DatabaseConfig


@dataclass(frozen=True)
class DatabaseArgs:
    platform: Platform
    primary_key: aws.kms.Key  # encrypts the primary, its secret and Performance Insights
    dr_key: aws.kms.Key  # encrypts the replica, the secret's replica and the replicated backups
    database: DatabaseConfig  # config database: the primary's engine, size, network, windows and credentials
    replica_suffix: str  # config dr.replicaSuffix: appended to the replica's identifier
    replica_instance_class: str  # config dr.replicaInstanceClass
    dr_subnet_group_name: str  # config dr.subnetGroupName: the replica's subnet group in the DR region
    dr_security_group_ids: tuple[str, ...]  # config dr.securityGroupIds
    backup_copy_retention_days: int  # config dr.backupCopyRetentionDays: of the backups replicated to the DR region


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
        self.master_secret, self.master_secret_version = self._master_secret(name, args)
        self.primary = self._primary(name, args)
        self.replica = self._replica(name, args)
        # What the ops jobs' cost figures bill for this database (the `sizing` output).
        self.instance_class: pulumi.Input[str] = args.database.instance_class
        self.instances: pulumi.Input[int] = 2 if args.database.multi_az else 1
        self.backup_replication = aws.rds.InstanceAutomatedBackupsReplication(
            f"{name}-backup-replication",
            source_db_instance_arn=self.primary.arn,
            kms_key_id=args.dr_key.arn,
            retention_period=args.backup_copy_retention_days,
            opts=pulumi.ResourceOptions(parent=self, provider=args.platform.aws_dr),
        )
        self.register_outputs(
            {
                "primaryId": self.primary.identifier,
                "replicaId": self.replica.identifier,
                "masterSecretArn": self.master_secret.arn,
            }
        )

    def _master_secret(
        self, name: str, args: DatabaseArgs
    ) -> tuple[aws.secretsmanager.Secret, aws.secretsmanager.SecretVersion]:
        """The secret, replicated to the DR region, and its version holding a generated password (write-only)."""
        platform, db = args.platform, args.database
        secret = aws.secretsmanager.Secret(
            f"{name}-master-secret",
            name=master_secret_name(platform.prefix),
            description=f"Master credentials of the {platform.prefix} database (written by Pulumi, write-only)",
            kms_key_id=args.primary_key.arn,
            recovery_window_in_days=30,
            replicas=[{"region": platform.dr_region, "kms_key_id": args.dr_key.arn}],
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
        version = aws.secretsmanager.SecretVersion(
            f"{name}-master-secret-version",
            secret_id=secret.id,
            secret_string_wo=pulumi.Output.json_dumps(
                {"engine": "postgres", "dbname": db.db_name, "username": db.username, "password": generated}
            ),
            secret_string_wo_version=db.master_password_version,
            opts=pulumi.ResourceOptions(parent=self, provider=platform.aws),
        )
        return secret, version

    def _primary(self, name: str, args: DatabaseArgs) -> aws.rds.Instance:
        """The primary instance, its password read back from the secret's version."""
        platform, db = args.platform, args.database
        stored = aws.secretsmanager.get_secret_version_output(
            secret_id=self.master_secret.id,
            version_id=self.master_secret_version.version_id,
            opts=pulumi.InvokeOutputOptions(provider=platform.aws),
        )
        password = pulumi.Output.secret(stored.secret_string.apply(lambda text: json.loads(text)["password"]))
        return aws.rds.Instance(
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
            # Explicit: the password comes from this version through an invoke, whose dependencies a preview drops.
            opts=pulumi.ResourceOptions(
                parent=self, provider=platform.aws, protect=True, depends_on=[self.master_secret_version]
            ),
        )

    def _replica(self, name: str, args: DatabaseArgs) -> aws.rds.Instance:
        """The cross-region read replica in the DR region, the one `dr failover` promotes."""
        platform, db = args.platform, args.database
        return aws.rds.Instance(
            f"{name}-replica",
            identifier=platform.prefix + args.replica_suffix,
            replicate_source_db=self.primary.arn,
            instance_class=args.replica_instance_class,
            storage_type="gp3",
            storage_encrypted=True,
            kms_key_id=args.dr_key.arn,
            db_subnet_group_name=args.dr_subnet_group_name,
            vpc_security_group_ids=list(args.dr_security_group_ids),
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
            opts=pulumi.ResourceOptions(parent=self, provider=platform.aws_dr, protect=True),
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


@dataclass(frozen=True)
class StandbyDatabaseArgs:
    platform: Platform
    primary_stack: str  # config site.primaryStack: whose secret and DR key the standby reads
    database_instance_id: str  # config site.databaseInstanceId: the primary's replica in this region


class StandbyDatabase(pulumi.ComponentResource):
    """A standby stack's database: the primary stack's cross-region replica in this region, looked up, not owned
    (the primary stack declares and protects it; `dr failover` promotes it). The master credentials are the
    primary's secret as Secrets Manager replicates it into this region, under the same name."""

    def __init__(self, name: str, args: StandbyDatabaseArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("scraper:data:StandbyDatabase", name, None, opts)
        here = pulumi.InvokeOutputOptions(provider=args.platform.aws)
        found = aws.rds.get_instance_output(db_instance_identifier=args.database_instance_id, opts=here)
        self.primary = DatabaseEndpoint(found.db_instance_identifier, found.db_instance_arn, found.address, found.port)
        primary_prefix = f"scraper-{args.primary_stack}"
        secret = aws.secretsmanager.get_secret_output(name=master_secret_name(primary_prefix), opts=here)
        self.master_secret = SecretRef(secret.arn)
        # The secret's replica here is encrypted with the primary stack's DR-region key (its alias is declared by
        # `Keys` of the primary: alias/<prefix>-dr); reading the secret needs kms:Decrypt on that key.
        self.secret_key_arn = aws.kms.get_alias_output(name=f"alias/{primary_prefix}-dr", opts=here).target_key_arn
        self.replica = None  # a standby has no replica of its own: it is the replica
        # Billed as it runs (the primary's replica: its class and AZs are the primary's dr settings, not this stack's
        # database group), for the `sizing` output.
        self.instance_class: pulumi.Input[str] = found.db_instance_class
        self.instances: pulumi.Input[int] = found.multi_az.apply(lambda multi_az: 2 if multi_az else 1)
        self.register_outputs({"primaryId": self.primary.identifier, "masterSecretArn": self.master_secret.arn})

