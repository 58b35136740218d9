"""Stack rules for disaster recovery: a replica and backup copies in another region, within the RPO."""

from __future__ import annotations

from typing import Any, Mapping

from croniter import croniter
from pulumi_policy import EnforcementLevel, ReportViolation, StackValidationArgs, StackValidationPolicy

from .common import (
    BACKUP_PLAN,
    METRIC_ALARM,
    RDS_BACKUP_REPLICATION,
    RDS_INSTANCE,
    BACKUP_VAULT,
    ROUTE53_HEALTH_CHECK,
    ROUTE53_RECORD,
    S3_REPLICATION,
    StackIndex,
    Unknown,
    arn_region,
    computed_from,
    field,
    in_production,
    is_true,
    mapping,
    mappings,
    number,
    provider_region,
    text,
)
from .thresholds import schema

MANDATORY = EnforcementLevel.MANDATORY


def _primaries(args: StackValidationArgs):
    return [r for r in args.resources if r.resource_type == RDS_INSTANCE and not field(r.props, "replicateSourceDb")]


def database_replica_in_other_region(args: StackValidationArgs, report_violation: ReportViolation) -> None:
    index = StackIndex(args.resources)
    for primary in _primaries(args):
        region = provider_region(primary.provider)
        replicas = index.dependents(primary.urn, "replicateSourceDb", RDS_INSTANCE)
        if not any(field(replica.props, "replicateSourceDb") and provider_region(replica.provider) != region
                   for replica in replicas):
            report_violation(
                f"RDS instance {primary.name} has no read replica outside {region}; add an aws.rds.Instance with "
                "replicate_source_db set to its ARN through a provider for the DR region.",
                primary.urn,
            )


def backups_copied_cross_region(args: StackValidationArgs, report_violation: ReportViolation) -> None:
    index = StackIndex(args.resources)
    for primary in _primaries(args):
        region = provider_region(primary.provider)
        replicated = any(
            provider_region(r.provider) != region
            for r in index.dependents(primary.urn, "sourceDbInstanceArn", RDS_BACKUP_REPLICATION)
        )
        if not replicated:
            report_violation(
                f"RDS instance {primary.name}: automated backups are not replicated to another region; add an "
                "aws.rds.InstanceAutomatedBackupsReplication in the DR region.",
                primary.urn,
            )
    plans = index.of_type(BACKUP_PLAN)
    vaults = {vault.urn: vault for vault in index.of_type(BACKUP_VAULT)}
    if not plans and _primaries(args):
        report_violation("No AWS Backup plan protects the database; add an aws.backup.Plan with a copy action "
                         "to a vault in the DR region.", None)
    for plan in plans:
        region = provider_region(plan.provider)
        for rule in mappings(field(plan.props, "rules")):
            copies = [
                region_of_copy
                for copy in mappings(field(rule, "copyActions"))
                for region_of_copy in _destination_regions(vaults, plan, field(copy, "destinationVaultArn"))
            ]
            if not any(copy and copy != region for copy in copies):
                report_violation(
                    f"Backup plan {plan.name} rule {field(rule, 'ruleName')} keeps every recovery point in {region}; "
                    "add a copy_actions entry to a vault in the DR region.",
                    plan.urn,
                )


def _destination_regions(vaults: Mapping[str, Any], plan, vault_arn) -> list[str | None]:
    """The region of a copy destination. At preview the ARN of a vault the stack creates is unknown: the
    regions of the vaults the plan's rules are computed from stand in for it (the update checks the ARN)."""
    if not isinstance(vault_arn, Unknown):
        return [arn_region(vault_arn)]
    return [provider_region(vaults[urn].provider) for urn in computed_from(plan, "rules") if urn in vaults]


def _at_least_daily(aws_schedule: str) -> bool:
    """Whether an AWS `cron(m h dom mon dow year)` schedule fires every day."""
    fields = aws_schedule.removeprefix("cron(").removesuffix(")").split()
    if len(fields) != 6:
        return False
    minute, hour, day, month, weekday, _ = fields
    return day in ("*", "?") and month == "*" and weekday in ("*", "?") and croniter.is_valid(f"{minute} {hour} * * *")


def rpo_consistent(args: StackValidationArgs, report_violation: ReportViolation) -> None:
    config = args.get_config()
    rpo_minutes, retention = config["rpoMinutes"], config["minBackupRetentionDays"]
    lag_alarms = [
        r for r in args.resources
        if r.resource_type == METRIC_ALARM and text(field(r.props, "metricName")) == "ReplicaLag"
    ]
    thresholds = [number(field(a.props, "threshold")) for a in lag_alarms]
    if _primaries(args) and not any(t is not None and t <= rpo_minutes * 60 for t in thresholds):
        report_violation(
            f"No ReplicaLag alarm fires within the RPO of {rpo_minutes} minutes; add one with threshold <= "
            f"{rpo_minutes * 60} seconds on the DR replica.",
            None,
        )
    for replication in (r for r in args.resources if r.resource_type == S3_REPLICATION):
        for rule in mappings(field(replication.props, "rules")):
            control = mapping(field(rule, "destination", "replicationTime"))
            minutes = number(field(control, "time", "minutes"))
            if text(field(control, "status")) != "Enabled" or minutes is None or minutes > rpo_minutes:
                report_violation(
                    f"Bucket replication {replication.name} rule {field(rule, 'id')} does not bound replication time "
                    f"within the RPO of {rpo_minutes} minutes; enable replication_time (S3 RTC, 15 minutes).",
                    replication.urn,
                )
    for plan in (r for r in args.resources if r.resource_type == BACKUP_PLAN):
        for rule in mappings(field(plan.props, "rules")):
            name, schedule = field(rule, "ruleName"), text(field(rule, "schedule")) or ""
            if not _at_least_daily(schedule):
                report_violation(
                    f"Backup plan {plan.name} rule {name} does not run every day ({schedule or 'no schedule'}); "
                    "schedule it daily.",
                    plan.urn,
                )
            kept = [number(field(rule, "lifecycle", "deleteAfter"))] + [
                number(field(c, "lifecycle", "deleteAfter")) for c in mappings(field(rule, "copyActions"))
            ]
            if any(days is not None and days < retention for days in kept):
                report_violation(
                    f"Backup plan {plan.name} rule {name} deletes recovery points or their copies before "
                    f"{retention} days; raise lifecycle delete_after.",
                    plan.urn,
                )


def public_name_fails_over(args: StackValidationArgs, report_violation: ReportViolation) -> None:
    """In production the app's public name is a Route 53 failover record aliasing the stack's load balancer with
    EvaluateTargetHealth; a PRIMARY record also carries a health check that counts insufficient data as unhealthy,
    so that a region which stops reporting moves the name (Route 53 Developer Guide, "Values specific for failover
    alias records"; HealthCheckConfig InsufficientDataHealthStatus)."""
    if not args.resources or not in_production(args.resources[0].urn, args.get_config()):
        return
    records = [r for r in args.resources
               if r.resource_type == ROUTE53_RECORD and mappings(field(r.props, "failoverRoutingPolicies"))]
    if not records:
        report_violation("No Route 53 failover record for the app's public name; set the stack's dns group "
                         "(hostedZoneId, recordName) so that it declares its record of the failover pair.", None)
    checks = {r.urn: r for r in args.resources if r.resource_type == ROUTE53_HEALTH_CHECK}
    for record in records:
        aliases = mappings(field(record.props, "aliases"))
        if not aliases or not all(is_true(field(alias, "evaluateTargetHealth")) for alias in aliases):
            report_violation(f"Failover record {record.name} does not alias a load balancer with "
                             "evaluate_target_health: Route 53 would answer with it while nothing behind it is "
                             "healthy.", record.urn)
        kinds = {text(field(policy, "type")) for policy in mappings(field(record.props, "failoverRoutingPolicies"))}
        tied = [checks[urn] for urn in computed_from(record, "healthCheckId") if urn in checks]
        # InsufficientDataHealthStatus concerns only CLOUDWATCH_METRIC checks ("when CloudWatch has insufficient
        # data about the metric": Route 53 API Reference, HealthCheckConfig); an endpoint check never reads it.
        if "PRIMARY" in kinds and not any(
            text(field(c.props, "type")) == "CLOUDWATCH_METRIC"
            and text(field(c.props, "insufficientDataHealthStatus")) == "Unhealthy" for c in tied
        ):
            report_violation(f"PRIMARY failover record {record.name} has no health check that turns unhealthy when "
                             "its region stops reporting; tie it to a CloudWatch-alarm health check with "
                             "insufficient_data_health_status Unhealthy.", record.urn)


POLICIES = [
    StackValidationPolicy(
        name="dr-database-replica-other-region",
        description="Every database has a read replica in a region other than its own.",
        validate=database_replica_in_other_region, enforcement_level=MANDATORY,
    ),
    StackValidationPolicy(
        name="dr-backups-copied-cross-region",
        description="Database backups are copied to another region (RDS backup replication and AWS Backup).",
        validate=backups_copied_cross_region, enforcement_level=MANDATORY,
    ),
    StackValidationPolicy(
        name="dr-rpo-consistent",
        description="Replica lag alarms, S3 replication time and backup schedules and retention honour the RPO.",
        validate=rpo_consistent, enforcement_level=MANDATORY,
        config_schema=schema("rpoMinutes", "minBackupRetentionDays"),
    ),
    StackValidationPolicy(
        name="dr-public-name-fails-over",
        description="Production stacks declare their Route 53 failover record, health-checked on the primary.",
        validate=public_name_fails_over, enforcement_level=MANDATORY, config_schema=schema("productionStacks"),
    ),
]
