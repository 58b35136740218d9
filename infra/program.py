"""The whole stack as one function, so the CLI engine and the offline engine run the same program.

`build_stack` reads the config once and hands each component the values it uses (its `*Args`); one builder per
area declares that area's components and returns them for the areas after it and for the outputs.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from contract import alarms as alarm_keys
from contract import metrics
from infra.components.autoscaling import Autoscaling, AutoscalingArgs
from infra.components.base import Platform
from infra.components.data import (
    Backups, BackupsArgs, Database, DatabaseArgs, OpsLock, OpsLockArgs, StandbyDatabase, StandbyDatabaseArgs,
    Storage, StorageArgs,
)
from infra.components.dns import PRIMARY, SECONDARY, FailoverRecord, FailoverRecordArgs
from infra.components.messaging import Messaging, MessagingArgs
from infra.components.monitoring import AlarmSettings, Monitoring, MonitoringArgs
from infra.components.observability import Observability, ObservabilityArgs
from infra.components.security import Keys, KeysArgs
from infra.components.workloads import (
    APP_NAME,
    SERVICE_PORT,
    AppArgs,
    AppWorkload,
    OpsJobs,
    OpsJobsArgs,
    ops_cron_job_names,
)
from infra.config import StackConfig
from infra.providers import create_platform


@dataclass(frozen=True)
class DataArea:
    storage: Storage
    database: Database | StandbyDatabase
    backups: Backups
    lock: OpsLock


@dataclass(frozen=True)
class AppArea:
    app: AppWorkload
    autoscaling: Autoscaling
    observability: Observability


@dataclass(frozen=True)
class Declared:
    """Every component of the stack, for the outputs."""

    keys: Keys
    messaging: Messaging
    data: DataArea
    app: AppArea
    monitoring: Monitoring
    dns: FailoverRecord | None


def build_stack(config: StackConfig, stack: str) -> dict[str, Any]:
    """Declare every resource; returns the stack outputs (the contract the automation reads)."""
    platform = create_platform(stack, config.region, config.dr_region, config.cluster.name, config.cost.tags)
    keys = Keys("keys", KeysArgs(platform))
    messaging = Messaging(
        "messaging",
        MessagingArgs(
            platform, keys.primary, keys.dr,
            alert_emails=tuple(config.alarms.emails), alert_https_endpoints=tuple(config.alarms.https_endpoints),
        ),
    )
    data = build_data(config, platform, keys)
    app = build_app(config, platform, keys, messaging, data)
    monitoring = build_monitoring(config, platform, messaging, data, app)
    dns = build_dns(config, platform, app, monitoring)
    outputs = stack_outputs(config, stack, Declared(keys, messaging, data, app, monitoring, dns))
    build_ops_jobs(config, platform, keys, data, app, outputs)
    return outputs


def build_data(config: StackConfig, platform: Platform, keys: Keys) -> DataArea:
    """Buckets, the database (owned on a primary, looked up on a standby), its backups, the ops lock table."""
    storage = Storage("storage", StorageArgs(platform, keys.primary, keys.dr, config.site.data_bucket))
    if config.site.role == "standby":
        database: Database | StandbyDatabase = StandbyDatabase(
            "database",
            StandbyDatabaseArgs(platform, config.site.primary_stack, config.site.database_instance_id),
        )
    else:
        database = Database(
            "database",
            DatabaseArgs(
                platform, keys.primary, keys.dr,
                database=config.database,
                replica_suffix=config.dr.replica_suffix,
                replica_instance_class=config.dr.replica_instance_class,
                dr_subnet_group_name=config.dr.subnet_group_name,
                dr_security_group_ids=tuple(config.dr.security_group_ids),
                backup_copy_retention_days=config.dr.backup_copy_retention_days,
            ),
        )
    backups = Backups(
        "backups",
        BackupsArgs(
            platform, keys.primary, keys.dr, database.primary,
            schedule=config.schedules.backup_plan,
            retention_days=config.database.backup_retention_days,
            copy_retention_days=config.dr.backup_copy_retention_days,
            recovery_point_tags=dict(config.cost.tags),
        ),
    )
    lock = OpsLock("ops-lock", OpsLockArgs(platform, keys.primary))
    return DataArea(storage, database, backups, lock)


def build_app(config: StackConfig, platform: Platform, keys: Keys, messaging: Messaging, data: DataArea) -> AppArea:
    """The app's workload, its autoscaling, and what measures it (Container Insights, the ALB)."""
    database = data.database
    standby = isinstance(database, StandbyDatabase)
    app = AppWorkload(
        "app",
        AppArgs(
            platform,
            namespace_name=config.namespace,
            image=config.app.image,
            port=config.app.port,
            health_path=config.app.health_path,
            readiness_path=config.app.readiness_path,
            requests=config.app.requests,
            limits=config.app.limits,
            migrate_command=tuple(config.app.migrate_command),
            db_name=config.database.db_name,
            node_instance_type=config.cluster.node_instance_type,
            queue=messaging.queue,
            data_bucket=data.storage.data_bucket,
            database=database.primary,
            database_secret_arn=(
                database.master_secret.arn if standby else database.master_secret_version.secret_arn
            ),
            key=keys.primary,
            secret_key_arns=(database.secret_key_arn,) if standby else (keys.dr.arn,),
            # A standby's data bucket is its primary's replica bucket, under the primary's DR key like the secret.
            data_key_arn=database.secret_key_arn if standby else None,
        ),
    )
    autoscaling = Autoscaling(
        "autoscaling",
        AutoscalingArgs(
            platform,
            scaling=config.autoscaling,
            cluster_name=config.cluster.name,
            keda_chart_version=config.cluster.keda_chart_version,
            serving=config.site.serving,
            namespace=app.namespace,
            namespace_name=config.namespace,
            deployment=app.deployment,
            deployment_name=APP_NAME,
            queue=messaging.queue,
            labels=app.labels,
        ),
    )
    observability = Observability(
        "observability",
        ObservabilityArgs(
            platform,
            cluster_name=config.cluster.name,
            readiness_path=config.app.readiness_path,
            namespace=app.namespace,
            namespace_name=config.namespace,
            service=app.service,
            service_name=APP_NAME,
            service_port=SERVICE_PORT,
            labels=app.labels,
        ),
    )
    return AppArea(app, autoscaling, observability)


def alarm_settings(config: StackConfig, stack: str) -> AlarmSettings:
    return AlarmSettings(
        stack=stack,
        serving=config.site.serving,
        requests=config.app.requests,
        limits=config.app.limits,
        cpu_target_percent=config.autoscaling.cpu_target_percent,
        memory_target_percent=config.autoscaling.memory_target_percent,
        scale_up_stabilization_seconds=config.autoscaling.scale_up_stabilization_seconds,
        queue_depth_target=config.autoscaling.queue_depth_target,
        dead_letter_messages=config.alarms.dead_letter_messages,
        error_rate_percent=config.alarms.error_rate_percent,
        db_cpu_percent=config.alarms.db_cpu_percent,
        db_free_storage_gb=config.alarms.db_free_storage_gb,
        backup_max_age_hours=config.alarms.backup_max_age_hours,
        availability_percent=config.slo.availability_percent,
        latency_p95_seconds=config.slo.latency_p95_seconds,
        scraper_success_percent=config.slo.scraper_success_percent,
        rpo_minutes=config.dr.rpo_minutes,
    )


def build_monitoring(config: StackConfig, platform: Platform, messaging: Messaging, data: DataArea,
                     app: AppArea) -> Monitoring:
    return Monitoring(
        "monitoring",
        MonitoringArgs(
            platform,
            settings=alarm_settings(config, platform.stack),
            cluster_name=config.cluster.name,
            namespace_name=config.namespace,
            deployment_name=APP_NAME,
            queue=messaging.queue,
            dead_letter_queue=messaging.dead_letter_queue,
            database=data.database.primary,
            replica=data.database.replica,
            alerts_topic=messaging.alerts_topic,
            dr_alerts_topic=messaging.dr_alerts_topic,
            load_balancer=app.observability.load_balancer,
        ),
    )


def build_dns(config: StackConfig, platform: Platform, app: AppArea, monitoring: Monitoring) -> FailoverRecord | None:
    """The app's public name as one record of the failover pair, when the config names one."""
    if config.dns is None:
        return None
    primary = config.site.role == "primary"
    return FailoverRecord(
        "dns",
        FailoverRecordArgs(
            platform,
            hosted_zone_id=config.dns.hosted_zone_id,
            record_name=config.dns.record_name,
            failover=PRIMARY if primary else SECONDARY,
            load_balancer_dns_name=app.observability.load_balancer_dns_name,
            load_balancer_zone_id=app.observability.load_balancer_zone_id,
            health_alarm=monitoring.alarms[alarm_keys.SMOKE_TESTS_FAILING] if primary else None,
        ),
    )


def build_ops_jobs(config: StackConfig, platform: Platform, keys: Keys, data: DataArea, app: AppArea,
                   outputs: dict[str, Any]) -> OpsJobs:
    schedules = config.schedules
    return OpsJobs(
        "ops-jobs",
        OpsJobsArgs(
            platform,
            namespace=app.app.namespace,
            namespace_name=config.namespace,
            ops_image=config.ops_image,
            schedules={
                "backup": schedules.backup,
                "backupVerify": schedules.backup_verify,
                "smokeTests": schedules.smoke_tests,
                "metrics": schedules.metrics,
                "drTest": schedules.dr_test,
                "capacityReport": schedules.capacity_report,
                "costReview": schedules.cost_review,
            },
            serving=config.site.serving,
            dr_subnet_group_name=config.dr.subnet_group_name,
            outputs=outputs,
            database=data.database.primary,
            primary_key=keys.primary,
            dr_key=keys.dr,
            ops_bucket=data.storage.ops_bucket,
            data_bucket=data.storage.data_bucket,
            data_replica_bucket=data.storage.data_replica_bucket,
        ),
    )


def stack_outputs(config: StackConfig, stack: str, declared: Declared) -> dict[str, Any]:
    """The stack outputs (contract/outputs.py's StackOutputs).

    Long on purpose: one literal, key by key, in the order the ops ConfigMap has always carried them (the ops jobs'
    `outputs.json` is this dict serialized, so a new order would change the ConfigMap on the next update)."""
    keys, messaging, monitoring, dns = declared.keys, declared.messaging, declared.monitoring, declared.dns
    data = declared.data
    storage, database, backups, lock = data.storage, data.database, data.backups, data.lock
    autoscaling, observability = declared.app.autoscaling, declared.app.observability
    service_url = config.app.public_url or f"http://{APP_NAME}.{config.namespace}.svc.cluster.local"
    return {
        "region": config.region,
        "drRegion": config.dr_region,
        "clusterName": config.cluster.name,
        "namespace": config.namespace,
        "deploymentName": APP_NAME,
        "hpaName": autoscaling.hpa_name,
        "scaledObjectName": APP_NAME,
        "serviceUrl": service_url,
        "dbInstanceId": database.primary.identifier,
        "dbReplicaId": database.replica.identifier if database.replica else None,
        "dbSecretArn": database.master_secret.arn,
        "dataBucket": storage.data_bucket.bucket,
        "dataReplicaBucket": storage.data_replica_bucket.bucket if storage.data_replica_bucket else None,
        "opsBucket": storage.ops_bucket.bucket,
        "queueUrl": messaging.queue.url,
        "deadLetterQueueUrl": messaging.dead_letter_queue.url,
        "alertsTopicArn": messaging.alerts_topic.arn,
        "maintenanceTopicArn": messaging.maintenance_topic.arn,
        "dashboardName": monitoring.dashboard.dashboard_name,
        "alarms": {key: alarm.name for key, alarm in monitoring.alarms.items()},
        "backupVaultName": backups.vault.name,
        "drBackupVaultName": backups.dr_vault.name,
        "drKmsKeyArn": keys.dr.arn,
        "lockTableName": lock.table.name,
        "cronJobs": ops_cron_job_names(),
        "costTags": dict(config.cost.tags),
        # What the ops commands need beyond physical names: the checks and the objectives they measure against.
        "stack": stack,
        "metricsNamespace": metrics.NAMESPACE,
        "smokeChecks": {
            "health": config.app.health_path,
            "readiness": config.app.readiness_path,
            "api": config.app.api_path,
            "scrapers": config.app.scrapers_path,
        },
        "objectives": {
            "availabilityPercent": config.slo.availability_percent,
            "latencyP95Seconds": config.slo.latency_p95_seconds,
            "scraperSuccessPercent": config.slo.scraper_success_percent,
            "errorRatePercent": config.alarms.error_rate_percent,
            "backupMaxAgeHours": config.alarms.backup_max_age_hours,
            "rpoMinutes": config.dr.rpo_minutes,
            "rtoMinutes": config.dr.rto_minutes,
        },
        "dbBackupRetentionDays": config.database.backup_retention_days,
        "backupPlanId": backups.plan.id,
        "drSubnetGroupName": config.dr.subnet_group_name,
        "drSecurityGroupIds": list(config.dr.security_group_ids),
        "maintenance": {
            "windowStart": config.maintenance.window_start,
            "durationMinutes": config.maintenance.duration_minutes,
            "cutoffMinutes": config.maintenance.cutoff_minutes,
        },
        "snapshotRetention": {
            "manualRetentionDays": config.snapshots.manual_retention_days,
            "keepNewest": config.snapshots.keep_newest,
        },
        "site": {"role": config.site.role, "serving": config.site.serving, "primaryStack": config.site.primary_stack},
        "loadBalancer": observability.load_balancer,
        "sloAlarms": {key: alarm.alarm_name for key, alarm in monitoring.slo_alarms.items()},
        # The failover record of the app's public name, what `dr failover` and `dr failback --switch` flip.
        "dns": None if dns is None else {
            "hostedZoneId": config.dns.hosted_zone_id,
            "recordName": config.dns.record_name,
            "failover": dns.failover,
            "setIdentifier": stack,
            "healthCheckId": dns.health_check.id if dns.health_check else None,
            "loadBalancerDnsName": observability.load_balancer_dns_name,
        },
        "kmsKeyArn": keys.primary.arn,  # the stack's own key: `dr failback` encrypts the instance it will adopt with it
        "sizing": {
            "requests": config.app.requests.model_dump(),
            "limits": config.app.limits.model_dump(),
            "minReplicas": config.autoscaling.min_replicas,
            "maxReplicas": config.autoscaling.max_replicas,
            "cpuTargetPercent": config.autoscaling.cpu_target_percent,
            "memoryTargetPercent": config.autoscaling.memory_target_percent,
            "queueDepthTarget": config.autoscaling.queue_depth_target,
            "dbCpuPercent": config.alarms.db_cpu_percent,
            "dbFreeStorageGb": config.alarms.db_free_storage_gb,
            "dbInstanceClass": data.database.instance_class,
            "dbInstances": data.database.instances,
            "nodeInstanceType": config.cluster.node_instance_type,
            "monthlyBudgetUsd": config.cost.monthly_budget_usd,
        },
    }
