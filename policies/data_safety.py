"""Rules that refuse stacks which could lose data: databases, buckets, protected stateful resources."""

from __future__ import annotations

from pulumi_policy import (
    EnforcementLevel,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationArgs,
    StackValidationPolicy,
)

from .common import (
    RDS_INSTANCE,
    S3_BUCKET,
    S3_ENCRYPTION,
    S3_PUBLIC_ACCESS_BLOCK,
    S3_REPLICATION,
    S3_VERSIONING,
    SECRET,
    SECRET_VERSION,
    STATEFUL,
    StackIndex,
    computed_from,
    field,
    in_production,
    is_true,
    label,
    mappings,
    number,
    only,
    provider_region,
    text,
)
from .thresholds import schema

MANDATORY = EnforcementLevel.MANDATORY


def _is_replica(props) -> bool:
    """A source unknown at preview is the ARN of another instance: still a replica."""
    return bool(field(props, "replicateSourceDb"))


def rds_encrypted(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    if not is_true(field(args.props, "storageEncrypted")) or not field(args.props, "kmsKeyId"):
        report_violation(
            f"RDS instance {args.name} is not encrypted with a customer KMS key; "
            "set storage_encrypted=True and kms_key_id to the stack's key."
        )


def rds_deletion_protection(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    if not is_true(field(args.props, "deletionProtection")):
        report_violation(f"RDS instance {args.name} has no deletion protection; set deletion_protection=True.")


def rds_backup_retention(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    if _is_replica(args.props):
        return
    minimum = args.get_config()["minBackupRetentionDays"]
    retention = number(field(args.props, "backupRetentionPeriod")) or 0
    if retention < minimum:
        report_violation(
            f"RDS instance {args.name} keeps automated backups {retention} days; "
            f"set backup_retention_period to at least {minimum}."
        )


def rds_multi_az_in_production(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    if _is_replica(args.props) or not in_production(args.urn, args.get_config()):
        return
    if not is_true(field(args.props, "multiAz")):
        report_violation(f"RDS instance {args.name} runs in one availability zone in production; set multi_az=True.")


def rds_not_public(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    if is_true(field(args.props, "publiclyAccessible")):
        report_violation(f"RDS instance {args.name} is publicly accessible; set publicly_accessible=False.")


def rds_copy_tags_to_snapshot(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    if not is_true(field(args.props, "copyTagsToSnapshot")):
        report_violation(
            f"RDS instance {args.name} does not copy tags to snapshots (they would lose their cost tags and "
            "ownership); set copy_tags_to_snapshot=True."
        )


def rds_final_snapshot(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    if _is_replica(args.props):
        return
    if is_true(field(args.props, "skipFinalSnapshot")) or not field(args.props, "finalSnapshotIdentifier"):
        report_violation(
            f"RDS instance {args.name} would be deleted without a final snapshot; "
            "set skip_final_snapshot=False and a final_snapshot_identifier."
        )


def rds_master_password_write_only(args: StackValidationArgs, report_violation: ReportViolation) -> None:
    """The master password of every primary is a write-only input read from a KMS-encrypted secret of the stack.

    `password` would sit in state and show in diffs; `manageMasterUserPassword` makes RDS refuse to create read
    replicas (RDS User Guide, "Password management with Amazon RDS and AWS Secrets Manager", Limitations: read
    replicas of such a source are not supported, every engine but SQL Server). So: `passwordWo` with its
    version, computed from an aws.secretsmanager.SecretVersion (`secretStringWo` with its version) of a secret
    encrypted with a customer key and replicated to every region that holds a replica of the database.
    Stack policies see outputs, where write-only values never appear (Pulumi docs, "Write-only fields"), so the
    rule reads their version fields, and links the instance to the version by its dependencies.
    """
    index = StackIndex(args.resources)
    versions = {r.urn for r in index.of_type(SECRET_VERSION)}
    secrets = {r.urn: r for r in index.of_type(SECRET)}
    for primary in (db for db in index.of_type(RDS_INSTANCE) if not _is_replica(db.props)):
        props = primary.props
        replica_regions = {
            provider_region(db.provider) for db in index.dependents(primary.urn, "replicateSourceDb", RDS_INSTANCE)
        }
        if field(props, "password"):
            report_violation(
                f"RDS instance {primary.name} takes its master password as a plain input, which lands in state and "
                "diffs; pass it as password_wo with password_wo_version.",
                primary.urn,
            )
        if is_true(field(props, "manageMasterUserPassword")):
            report_violation(
                f"RDS instance {primary.name} lets RDS manage its master password, and RDS then refuses to create "
                "read replicas of it (needed for DR); keep the password in a stack-owned secret and pass it as "
                "password_wo.",
                primary.urn,
            )
        sources = [dep for dep in primary.dependencies or []
                   if dep.urn in versions and field(dep.props, "secretStringWoVersion")]
        if not field(props, "passwordWoVersion") or not sources:
            report_violation(
                f"RDS instance {primary.name} takes no write-only master password read from a secret of the stack; "
                "set password_wo (with password_wo_version) from an aws.secretsmanager.SecretVersion "
                "(secret_string_wo with its version).",
                primary.urn,
            )
            continue
        holders = [secrets[dep.urn] for v in sources for dep in (v.property_dependencies or {}).get("secretId", [])
                   if dep.urn in secrets]
        for secret in holders:
            if not field(secret.props, "kmsKeyId"):
                report_violation(
                    f"Secret {secret.name} holding {primary.name}'s master password is not encrypted with a customer "
                    "KMS key; set kms_key_id.",
                    secret.urn,
                )
            replicated = {text(field(replica, "region")) for replica in mappings(field(secret.props, "replicas"))}
            missing = sorted(r for r in replica_regions - replicated - {provider_region(secret.provider)} if r)
            if missing:
                report_violation(
                    f"Secret {secret.name} is not replicated to {', '.join(missing)}, where {primary.name} has a read "
                    "replica; after a failover the application could not read its credentials. Add replicas.",
                    secret.urn,
                )


def stateful_protected(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    if not args.opts.protect:
        report_violation(
            f"{label(args.resource_type, args.name)} holds state but is not protected; "
            "set protect=True in its resource options (and rename with aliases, never by replacement)."
        )


def _bucket_companions(args: StackValidationArgs, companion_type: str, report_violation: ReportViolation,
                       accept, problem: str) -> None:
    """Each bucket needs a companion resource (versioning, encryption...) bound to it that `accept`s."""
    index = StackIndex(args.resources)
    for bucket in index.of_type(S3_BUCKET):
        if not any(accept(c.props) for c in index.dependents(bucket.urn, "bucket", companion_type)):
            report_violation(f"Bucket {bucket.name} {problem}", bucket.urn)


def buckets_versioned(args: StackValidationArgs, report_violation: ReportViolation) -> None:
    _bucket_companions(
        args, S3_VERSIONING, report_violation,
        lambda p: text(field(p, "versioningConfiguration", "status")) == "Enabled",
        "is not versioned; add an aws.s3.BucketVersioning with status Enabled.",
    )


def buckets_encrypted(args: StackValidationArgs, report_violation: ReportViolation) -> None:
    def kms_default(props) -> bool:
        return any(
            text(field(rule, "applyServerSideEncryptionByDefault", "sseAlgorithm")) in ("aws:kms", "aws:kms:dsse")
            for rule in mappings(field(props, "rules"))
        )

    _bucket_companions(
        args, S3_ENCRYPTION, report_violation, kms_default,
        "has no default KMS encryption; add an aws.s3.BucketServerSideEncryptionConfiguration with aws:kms.",
    )


def buckets_public_access_blocked(args: StackValidationArgs, report_violation: ReportViolation) -> None:
    flags = ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets")
    _bucket_companions(
        args, S3_PUBLIC_ACCESS_BLOCK, report_violation, lambda p: all(is_true(field(p, f)) for f in flags),
        "does not block public access; add an aws.s3.BucketPublicAccessBlock with all four flags True.",
    )


def data_buckets_replicated(args: StackValidationArgs, report_violation: ReportViolation) -> None:
    """Every bucket is replicated to another region, except replication destinations and exempt buckets."""
    exempt = set(args.get_config()["unreplicatedBuckets"])
    buckets = {r.urn: r for r in args.resources if r.resource_type == S3_BUCKET}
    replicated_to: dict[str, set[str | None]] = {urn: set() for urn in buckets}
    destinations: set[str] = set()
    for replication in (r for r in args.resources if r.resource_type == S3_REPLICATION):
        sources = {urn for urn in computed_from(replication, "bucket") if urn in buckets}
        targets = {urn for urn in computed_from(replication, "rules") if urn in buckets} - sources
        destinations |= targets
        if any(text(field(rule, "status")) == "Enabled" for rule in mappings(field(replication.props, "rules"))):
            for source in sources:
                replicated_to[source] |= {provider_region(buckets[t].provider) for t in targets}
    for urn, bucket in buckets.items():
        if urn in destinations or bucket.name in exempt:
            continue
        if not replicated_to[urn] - {provider_region(bucket.provider)}:
            report_violation(
                f"Bucket {bucket.name} is not replicated to another region; add an aws.s3.BucketReplicationConfig "
                "to a versioned bucket in the DR region (or list it in unreplicatedBuckets if it holds no data).",
                urn,
            )


POLICIES = [
    ResourceValidationPolicy(
        name="rds-encrypted", description="RDS storage is encrypted with a customer KMS key.",
        validate=only([RDS_INSTANCE], rds_encrypted), enforcement_level=MANDATORY,
    ),
    ResourceValidationPolicy(
        name="rds-deletion-protection", description="RDS instances have deletion protection.",
        validate=only([RDS_INSTANCE], rds_deletion_protection), enforcement_level=MANDATORY,
    ),
    ResourceValidationPolicy(
        name="rds-backup-retention", description="RDS primaries keep automated backups long enough.",
        validate=only([RDS_INSTANCE], rds_backup_retention), enforcement_level=MANDATORY,
        config_schema=schema("minBackupRetentionDays"),
    ),
    ResourceValidationPolicy(
        name="rds-multi-az-in-production", description="RDS primaries span availability zones in production.",
        validate=only([RDS_INSTANCE], rds_multi_az_in_production), enforcement_level=MANDATORY,
        config_schema=schema("productionStacks"),
    ),
    ResourceValidationPolicy(
        name="rds-not-public", description="RDS instances are not publicly accessible.",
        validate=only([RDS_INSTANCE], rds_not_public), enforcement_level=MANDATORY,
    ),
    ResourceValidationPolicy(
        name="rds-copy-tags-to-snapshot", description="RDS instances copy their tags to snapshots.",
        validate=only([RDS_INSTANCE], rds_copy_tags_to_snapshot), enforcement_level=MANDATORY,
    ),
    ResourceValidationPolicy(
        name="rds-final-snapshot", description="RDS primaries take a final snapshot when deleted.",
        validate=only([RDS_INSTANCE], rds_final_snapshot), enforcement_level=MANDATORY,
    ),
    StackValidationPolicy(
        name="rds-master-password-write-only",
        description="RDS master passwords are write-only inputs kept in a stack-owned, KMS-encrypted, replicated secret.",
        validate=rds_master_password_write_only, enforcement_level=MANDATORY,
    ),
    ResourceValidationPolicy(
        name="stateful-resources-protected",
        description="Databases, buckets, vaults, keys and tables are protected from deletion by Pulumi.",
        validate=only(STATEFUL, stateful_protected), enforcement_level=MANDATORY,
    ),
    StackValidationPolicy(
        name="s3-buckets-versioned", description="Every bucket is versioned.",
        validate=buckets_versioned, enforcement_level=MANDATORY,
    ),
    StackValidationPolicy(
        name="s3-buckets-encrypted", description="Every bucket encrypts by default with KMS.",
        validate=buckets_encrypted, enforcement_level=MANDATORY,
    ),
    StackValidationPolicy(
        name="s3-buckets-public-access-blocked", description="Every bucket blocks public access.",
        validate=buckets_public_access_blocked, enforcement_level=MANDATORY,
    ),
    StackValidationPolicy(
        name="s3-data-buckets-replicated", description="Data buckets replicate to another region.",
        validate=data_buckets_replicated, enforcement_level=MANDATORY,
        config_schema=schema("unreplicatedBuckets"),
    ),
]
