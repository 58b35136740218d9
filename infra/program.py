"""The whole stack as one function, so the CLI engine and the offline engine run the same program."""

from __future__ import annotations

import json
from typing import Any

import pulumi
import pulumi_aws as aws
import pulumi_kubernetes as k8s

from contract import metrics
from infra.components.autoscaling import Autoscaling, AutoscalingArgs
from infra.components.base import Platform
from infra.components.data import (
    Backups, BackupsArgs, Database, DatabaseArgs, OpsLock, OpsLockArgs, StandbyDatabase, Storage, StorageArgs,
)
from infra.components.dns import FailoverRecord, FailoverRecordArgs
from infra.components.messaging import Messaging, MessagingArgs
from infra.components.monitoring import Monitoring, MonitoringArgs
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


def _kubeconfig(cluster: Any, region: str) -> str:
    """A kubeconfig for the existing cluster that authenticates through `aws eks get-token`."""
    return json.dumps(
        {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [
                {
                    "name": cluster.name,
                    "cluster": {
                        "server": cluster.endpoint,
                        "certificate-authority-data": cluster.certificate_authorities[0].data,
                    },
                }
            ],
            "contexts": [{"name": cluster.name, "context": {"cluster": cluster.name, "user": cluster.name}}],
            "current-context": cluster.name,
            "users": [
                {
                    "name": cluster.name,
                    "user": {
                        "exec": {
                            "apiVersion": "client.authentication.k8s.io/v1beta1",
                            "command": "aws",
                            "args": ["eks", "get-token", "--cluster-name", cluster.name, "--region", region],
                        }
                    },
                }
            ],
        }
    )


# How the provider reports a lookup that found nothing (terraform-provider-aws: tfresource.NotFound).
NOT_FOUND_SIGNS = ("couldn't find resource", "not found", "NoSuchEntity")


class OidcProviderMissing(pulumi.RunError):
    """The cluster's OIDC issuer is not an IAM OIDC provider of the account, so no IRSA role can be assumed."""


def registered_oidc_provider(issuer_url: str, cluster_name: str, provider: aws.Provider) -> str:
    """The ARN of the account's IAM OIDC provider for the cluster's issuer; a clear error naming the fix if absent.

    IRSA roles trust that provider (EKS User Guide, "Create an IAM OIDC provider for your cluster"); the stack
    does not own it because it belongs to the cluster, which the stack does not build.
    """
    try:
        found = aws.iam.get_open_id_connect_provider(url=issuer_url, opts=pulumi.InvokeOptions(provider=provider))
    except Exception as error:
        if not any(sign in str(error) for sign in NOT_FOUND_SIGNS):
            raise  # access denied, throttling...: not a missing provider, and not to be reported as one
        raise OidcProviderMissing(
            f"cluster {cluster_name}: its OIDC issuer {issuer_url} is not registered as an IAM OIDC provider in this "
            f"account, so no pod can assume an IRSA role. Register it once (`eksctl utils associate-iam-oidc-provider "
            f"--cluster {cluster_name} --approve`, or an aws.iam.OpenIdConnectProvider in the cluster's stack) and "
            f"run again. ({error})"
        ) from None
    return found.arn


def create_platform(config: StackConfig, stack: str) -> Platform:
    primary = aws.Provider("aws-primary", region=config.region)
    dr = aws.Provider("aws-dr", region=config.dr_region)
    on_primary = pulumi.InvokeOutputOptions(provider=primary)
    cluster = aws.eks.get_cluster_output(name=config.cluster.name, opts=on_primary)
    issuer = cluster.identities[0].oidcs[0].issuer
    kubernetes = k8s.Provider(
        "k8s-cluster",
        kubeconfig=cluster.apply(lambda c: _kubeconfig(c, config.region)),
        enable_server_side_apply=True,
    )
    return Platform(
        config=config,
        stack=stack,
        aws=primary,
        aws_dr=dr,
        k8s=kubernetes,
        account_id=aws.get_caller_identity_output(opts=on_primary).account_id,
        partition=aws.get_partition_output(opts=on_primary).partition,
        oidc_issuer=issuer.apply(lambda url: url.removeprefix("https://")),
        oidc_provider_arn=issuer.apply(lambda url: registered_oidc_provider(url, config.cluster.name, primary)),
    )


def build_stack(config: StackConfig, stack: str) -> dict[str, Any]:
    """Declare every resource; returns the stack outputs (the contract the automation reads)."""
    platform = create_platform(config, stack)
    keys = Keys("keys", KeysArgs(platform))
    messaging = Messaging("messaging", MessagingArgs(platform, keys.primary, keys.dr))
    storage = Storage("storage", StorageArgs(platform, keys.primary, keys.dr))
    if config.site.role == "standby":
        database: Database | StandbyDatabase = StandbyDatabase("database", platform)
    else:
        database = Database("database", DatabaseArgs(platform, keys.primary, keys.dr))
    backups = Backups("backups", BackupsArgs(platform, keys.primary, keys.dr, database.primary))
    lock = OpsLock("ops-lock", OpsLockArgs(platform, keys.primary))
    app = AppWorkload(
        "app",
        AppArgs(
            platform,
            messaging.queue,
            storage.data_bucket,
            database.primary,
            database_secret_arn=(
                database.master_secret.arn if isinstance(database, StandbyDatabase)
                else database.master_secret_version.secret_arn
            ),
            key=keys.primary,
            secret_key_arns=(database.secret_key_arn,) if isinstance(database, StandbyDatabase) else (keys.dr.arn,),
            # A standby's data bucket is its primary's replica bucket, under the primary's DR key like the secret.
            data_key_arn=database.secret_key_arn if isinstance(database, StandbyDatabase) else None,
        ),
    )
    autoscaling = Autoscaling(
        "autoscaling",
        AutoscalingArgs(
            platform,
            namespace=app.namespace,
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
            namespace=app.namespace,
            service=app.service,
            service_name=APP_NAME,
            service_port=SERVICE_PORT,
            labels=app.labels,
        ),
    )
    monitoring = Monitoring(
        "monitoring",
        MonitoringArgs(
            platform,
            deployment_name=APP_NAME,
            queue=messaging.queue,
            dead_letter_queue=messaging.dead_letter_queue,
            database=database.primary,
            replica=database.replica,
            alerts_topic=messaging.alerts_topic,
            dr_alerts_topic=messaging.dr_alerts_topic,
            load_balancer=observability.load_balancer,
        ),
    )
    dns = None
    if config.dns is not None:
        dns = FailoverRecord(
            "dns",
            FailoverRecordArgs(
                platform,
                config.dns,
                load_balancer_dns_name=observability.load_balancer_dns_name,
                load_balancer_zone_id=observability.load_balancer_zone_id,
                health_alarm=monitoring.alarms["smoke-tests-failing"] if config.site.role == "primary" else None,
            ),
        )
    service_url = config.app.public_url or f"http://{APP_NAME}.{config.namespace}.svc.cluster.local"
    outputs: dict[str, Any] = {
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
            "dbInstanceClass": config.database.instance_class,
            "dbInstances": 2 if config.database.multi_az else 1,
            "nodeInstanceType": config.cluster.node_instance_type,
            "monthlyBudgetUsd": config.cost.monthly_budget_usd,
        },
    }
    OpsJobs(
        "ops-jobs",
        OpsJobsArgs(
            platform,
            namespace=app.namespace,
            outputs=outputs,
            database=database.primary,
            primary_key=keys.primary,
            dr_key=keys.dr,
            ops_bucket=storage.ops_bucket,
            data_bucket=storage.data_bucket,
            data_replica_bucket=storage.data_replica_bucket,
        ),
    )
    return outputs
