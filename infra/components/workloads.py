"""The scraper on Kubernetes: namespace, app Deployment, migration Job, and the ops CronJobs (the autoscaling is
in `autoscaling.py`).

Every pod runs under the `restricted` Pod Security Standard: non-root, read-only
root filesystem, no privilege escalation, all capabilities dropped, seccomp
RuntimeDefault, and no Kubernetes API token (IRSA mounts its own AWS token).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any, Mapping, Sequence

import pulumi
import pulumi_aws as aws
import pulumi_kubernetes as k8s

from contract import metrics
from infra.components.base import Platform
from infra.components.security import irsa_role
from infra.config import StackConfig

APP_NAME = "social-media-scraper-app"
OUTPUTS_CONFIGMAP = "scraper-ops-outputs"
OUTPUTS_DIR = "/etc/scraper-ops"
OUTPUTS_FILE = "outputs.json"
RUN_AS_USER = 10001
IRSA_ANNOTATION = "eks.amazonaws.com/role-arn"
DR_SENTINEL_PREFIX = "dr-sentinel/"  # the objects `scraper-ops dr test` replicates (automation/dr.py)
SERVICE_PORT = 80
INSTANCE_TYPE_LABEL = "node.kubernetes.io/instance-type"  # well-known label the kubelet sets


def restricted_pod(
    *,
    service_account: str,
    containers: Sequence[dict[str, Any]],
    volumes: Sequence[dict[str, Any]] = (),
    restart_policy: str | None = None,
    labels: Mapping[str, str],
) -> dict[str, Any]:
    """A pod template under the restricted Pod Security Standard, with a writable /tmp."""
    spec: dict[str, Any] = {
        "serviceAccountName": service_account,
        "automountServiceAccountToken": False,
        "securityContext": {
            "runAsNonRoot": True,
            "runAsUser": RUN_AS_USER,
            "runAsGroup": RUN_AS_USER,
            "fsGroup": RUN_AS_USER,
            "seccompProfile": {"type": "RuntimeDefault"},
        },
        "containers": [
            {
                # Images are pinned by digest, so a cached image is exactly the one asked for: no registry round
                # trip (and no registry outage) on every pod start. checkov accepts any policy with a digest
                # (CKV_K8S_15, since bridgecrewio/checkov#4781).
                "imagePullPolicy": "IfNotPresent",
                **container,
                "securityContext": {
                    "runAsNonRoot": True,
                    "allowPrivilegeEscalation": False,
                    "readOnlyRootFilesystem": True,
                    "capabilities": {"drop": ["ALL"]},
                    "seccompProfile": {"type": "RuntimeDefault"},
                },
                "volumeMounts": [{"name": "tmp", "mountPath": "/tmp"}, *container.get("volumeMounts", [])],
            }
            for container in containers
        ],
        "volumes": [{"name": "tmp", "emptyDir": {"sizeLimit": "256Mi"}}, *volumes],
    }
    if restart_policy:
        spec["restartPolicy"] = restart_policy
    return {"metadata": {"labels": dict(labels)}, "spec": spec}


def content_id(document: str) -> str:
    """A short, stable id of a document (a Job's whole spec), for names keyed by what they run."""
    return hashlib.sha256(document.encode()).hexdigest()[:10]


@dataclass(frozen=True)
class AppArgs:
    platform: Platform
    queue: aws.sqs.Queue
    data_bucket: Any  # aws.s3.Bucket, or on a standby the primary's replica bucket (data.BucketRef)
    database: aws.rds.Instance
    # The master secret's ARN, as an output of its version where the stack owns it, so pods start only once it
    # holds a value.
    database_secret_arn: pulumi.Input[str]
    key: aws.kms.Key
    # Keys that encrypt the secret's copies: prod's DR key (its replica), or, on a standby, the primary stack's
    # DR key that the replica read there uses.
    secret_key_arns: tuple[pulumi.Input[str], ...] = ()
    # The key of a data bucket the stack does not own (a standby's: its primary's replica bucket, under the
    # primary's DR key); the app reads and writes objects encrypted with it.
    data_key_arn: pulumi.Input[str] | None = None


LABELS = {"app.kubernetes.io/name": APP_NAME, "app.kubernetes.io/part-of": "social-media-scraper"}
API_SELECTOR = {"app.kubernetes.io/name": APP_NAME, "app.kubernetes.io/component": "api"}


def app_statements(args: AppArgs, master_secret_arn: pulumi.Output[str],
                   dr_secret_arn: pulumi.Output[str]) -> list[dict[str, Any]]:
    """What the app's pods may do: the queue, the data bucket, the master secret in both regions, the keys that
    encrypt them, and metrics in the app's own namespace."""
    return [
        {
            "Effect": "Allow",
            "Action": [
                "sqs:SendMessage",
                "sqs:ReceiveMessage",
                "sqs:DeleteMessage",
                "sqs:ChangeMessageVisibility",
                "sqs:GetQueueAttributes",
            ],
            "Resource": [args.queue.arn],
        },
        {
            "Effect": "Allow",
            "Action": ["s3:GetObject", "s3:PutObject"],
            "Resource": [pulumi.Output.concat(args.data_bucket.arn, "/*")],
        },
        {"Effect": "Allow", "Action": ["s3:ListBucket"], "Resource": [args.data_bucket.arn]},
        {
            "Effect": "Allow",
            "Action": ["secretsmanager:GetSecretValue"],
            "Resource": [master_secret_arn, dr_secret_arn],
        },
        {"Effect": "Allow", "Action": ["kms:Decrypt", "kms:GenerateDataKey"], "Resource": [args.key.arn]},
        *([{"Effect": "Allow", "Action": ["kms:Decrypt"], "Resource": list(args.secret_key_arns)}]
          if args.secret_key_arns else []),
        *([{"Effect": "Allow", "Action": ["kms:Decrypt", "kms:GenerateDataKey"], "Resource": [args.data_key_arn]}]
          if args.data_key_arn else []),
        {
            "Effect": "Allow",
            "Action": ["cloudwatch:PutMetricData"],
            "Resource": ["*"],
            "Condition": {"StringEquals": {"cloudwatch:namespace": metrics.NAMESPACE}},
        },
    ]


def app_pod(config: StackConfig, environment: list[dict[str, Any]], resources: dict[str, Any]) -> dict[str, Any]:
    """The app's pod template: restricted, probed, pinned to the priced node group, spread over zones."""
    app = config.app
    probe = {"periodSeconds": 10, "timeoutSeconds": 2, "failureThreshold": 3}
    pod = restricted_pod(
        service_account=APP_NAME,
        labels={**LABELS, **API_SELECTOR},
        containers=[
            {
                "name": "app",
                "image": app.image,
                "ports": [{"name": "http", "containerPort": app.port}],
                "env": environment,
                "resources": resources,
                "readinessProbe": {"httpGet": {"path": app.readiness_path, "port": "http"}, **probe},
                "livenessProbe": {
                    "httpGet": {"path": app.health_path, "port": "http"},
                    **probe,
                    "initialDelaySeconds": 10,
                },
                "startupProbe": {
                    "httpGet": {"path": app.health_path, "port": "http"},
                    "periodSeconds": 5,
                    "failureThreshold": 30,
                },
            }
        ],
    )
    pod["spec"]["terminationGracePeriodSeconds"] = 30
    # The compute model (config cluster.nodeInstanceType): EC2 nodes of a managed node group, as priced.
    pod["spec"]["nodeSelector"] = {INSTANCE_TYPE_LABEL: config.cluster.node_instance_type}
    pod["spec"]["topologySpreadConstraints"] = [
        {
            "maxSkew": 1,
            "topologyKey": "topology.kubernetes.io/zone",
            "whenUnsatisfiable": "ScheduleAnyway",
            "labelSelector": {"matchLabels": API_SELECTOR},
        }
    ]
    return pod


class AppWorkload(pulumi.ComponentResource):
    """The app in its namespace: IRSA role and service account, the migration Job, the Deployment (whose replica
    count the KEDA-owned HPA sets), its Service, disruption budget and network policy."""

    def __init__(self, name: str, args: AppArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("scraper:k8s:App", name, None, opts)
        platform = args.platform
        config = platform.config
        self.labels = LABELS
        self.namespace = k8s.core.v1.Namespace(
            f"{name}-namespace",
            metadata={
                "name": config.namespace,
                "labels": {
                    "pod-security.kubernetes.io/enforce": "restricted",
                    "pod-security.kubernetes.io/enforce-version": "latest",
                    "pod-security.kubernetes.io/warn": "restricted",
                },
            },
            opts=pulumi.ResourceOptions(parent=self, provider=platform.k8s),
        )
        in_namespace = pulumi.ResourceOptions(parent=self, provider=platform.k8s, depends_on=[self.namespace])
        master_secret_arn = pulumi.Output.from_input(args.database_secret_arn)
        # After a failover the app reads the secret's replica in the DR region (same name, other region).
        dr_secret_arn = master_secret_arn.apply(
            lambda arn: ":".join([*arn.split(":")[:3], config.dr_region, *arn.split(":")[4:]])
        )
        self.role = irsa_role(self, f"{name}-irsa", platform, APP_NAME,
                              app_statements(args, master_secret_arn, dr_secret_arn))
        self.service_account = k8s.core.v1.ServiceAccount(
            f"{name}-service-account",
            metadata={
                "name": APP_NAME,
                "namespace": config.namespace,
                "labels": LABELS,
                "annotations": {IRSA_ANNOTATION: self.role.arn},
            },
            automount_service_account_token=False,
            opts=in_namespace,
        )
        environment = [
            {"name": "AWS_REGION", "value": config.region},
            {"name": "DATABASE_HOST", "value": args.database.address},
            {"name": "DATABASE_PORT", "value": args.database.port.apply(str)},
            {"name": "DATABASE_NAME", "value": config.database.db_name},
            {"name": "DATABASE_SECRET_ARN", "value": master_secret_arn},
            {"name": "SCRAPE_QUEUE_URL", "value": args.queue.url},
            {"name": "DATA_BUCKET", "value": args.data_bucket.bucket},
            {"name": "METRICS_NAMESPACE", "value": metrics.NAMESPACE},
            {"name": "METRICS_STACK", "value": platform.stack},
        ]
        resources = {
            "requests": {"cpu": config.app.requests.cpu, "memory": config.app.requests.memory},
            "limits": {"cpu": config.app.limits.cpu, "memory": config.app.limits.memory},
        }
        self.migration = self._migration(name, config, environment, resources, in_namespace)
        self.deployment = k8s.apps.v1.Deployment(
            f"{name}-deployment",
            metadata={"name": APP_NAME, "namespace": config.namespace, "labels": LABELS},
            spec={
                # No `replicas`: the HPA that KEDA derives from the ScaledObject owns the replica count.
                "selector": {"matchLabels": API_SELECTOR},
                "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 0, "maxSurge": "25%"}},
                "revisionHistoryLimit": 5,
                "template": app_pod(config, environment, resources),
            },
            opts=pulumi.ResourceOptions.merge(in_namespace, pulumi.ResourceOptions(depends_on=[self.migration])),
        )
        self._serving(name, config, in_namespace)
        self.register_outputs({"deploymentName": APP_NAME, "namespace": self.namespace.metadata["name"]})

    def _migration(self, name: str, config: StackConfig, environment: list[dict[str, Any]],
                   resources: dict[str, Any], in_namespace: pulumi.ResourceOptions) -> k8s.batch.v1.Job:
        app = config.app
        migration_spec = {
            "backoffLimit": 1,
            "activeDeadlineSeconds": 1800,
            "template": restricted_pod(
                service_account=APP_NAME,
                restart_policy="Never",
                labels={**LABELS, "app.kubernetes.io/component": "migration"},
                containers=[
                    {
                        "name": "migrate",
                        "image": app.image,
                        "command": list(app.migrate_command),
                        "env": environment,
                        "resources": resources,
                    }
                ],
            ),
        }
        # A Job's pod template is immutable, so whatever changes in what it runs (image, command, environment,
        # resources) must be a new Job: the name carries the id of the whole spec. The new Job is created (and
        # runs the idempotent `migrate upgrade`) before the old one is deleted; an unchanged spec keeps its
        # Job and never re-runs it.
        return k8s.batch.v1.Job(
            f"{name}-migration",
            metadata={
                "name": pulumi.Output.json_dumps(migration_spec).apply(
                    lambda spec: f"social-media-scraper-migrate-{content_id(spec)}"),
                "namespace": config.namespace,
                "labels": {**LABELS, "app.kubernetes.io/component": "migration"},
                "annotations": {"scraper.io/image": app.image},
            },
            spec=migration_spec,
            opts=pulumi.ResourceOptions.merge(
                in_namespace, pulumi.ResourceOptions(depends_on=[self.service_account], delete_before_replace=False)
            ),
        )

    def _serving(self, name: str, config: StackConfig, in_namespace: pulumi.ResourceOptions) -> None:
        """The Service in front of the pods, the budget that keeps them through node drains, and their traffic."""
        self.service = k8s.core.v1.Service(
            f"{name}-service",
            metadata={"name": APP_NAME, "namespace": config.namespace, "labels": LABELS},
            spec={
                "type": "ClusterIP",
                "selector": API_SELECTOR,
                "ports": [{"name": "http", "port": SERVICE_PORT, "targetPort": "http"}],
            },
            opts=in_namespace,
        )
        self.disruption_budget = k8s.policy.v1.PodDisruptionBudget(
            f"{name}-pdb",
            metadata={"name": APP_NAME, "namespace": config.namespace, "labels": LABELS},
            spec={
                "maxUnavailable": 1,
                "selector": {"matchLabels": API_SELECTOR},
            },
            opts=in_namespace,
        )
        self.network_policy = k8s.networking.v1.NetworkPolicy(
            f"{name}-network-policy",
            metadata={"name": APP_NAME, "namespace": config.namespace, "labels": LABELS},
            spec={
                "podSelector": {"matchLabels": {"app.kubernetes.io/name": APP_NAME}},
                "policyTypes": ["Ingress", "Egress"],
                "ingress": [{"ports": [{"protocol": "TCP", "port": config.app.port}]}],
                "egress": [
                    {"ports": [{"protocol": "UDP", "port": 53}, {"protocol": "TCP", "port": 53}]},
                    {"ports": [{"protocol": "TCP", "port": 443}, {"protocol": "TCP", "port": 80}]},
                    {"ports": [{"protocol": "TCP", "port": 5432}]},
                ],
            },
            opts=in_namespace,
        )


@dataclass(frozen=True)
class OpsJob:
    """One of the guide's scheduled scripts, as a CronJob running a `scraper-ops` command."""

    key: str  # the key in the `cronJobs` output
    name: str
    command: tuple[str, ...]
    active_deadline_seconds: int
    starting_deadline_seconds: int
    backoff_limit: int


OPS_JOBS = (
    OpsJob("backup", "scraper-ops-backup", ("backup", "create", "--reason", "scheduled"), 3600, 600, 1),
    OpsJob("backupVerify", "scraper-ops-backup-verify", ("backup", "verify", "--restore-test"), 3 * 3600, 600, 0),
    OpsJob("smokeTests", "scraper-ops-smoke-tests", ("smoke", "all"), 240, 120, 0),
    OpsJob("metrics", "scraper-ops-metrics", ("metrics", "collect", "--hours", "24"), 900, 300, 1),
    # A DR drill is not retried: a second restore right after a failed one measures nothing new.
    OpsJob("drTest", "scraper-ops-dr-test", ("dr", "test"), 3 * 3600, 3600, 0),
    OpsJob("capacityReport", "scraper-ops-capacity-report",
           ("capacity", "report", "--format", "json", "--format", "md"), 1800, 3600, 1),
    OpsJob("costReview", "scraper-ops-cost-review",
           ("cost", "review", "--format", "json", "--format", "md"), 1800, 3600, 1),
)


def ops_cron_job_names() -> dict[str, str]:
    return {job.key: job.name for job in OPS_JOBS}


@dataclass(frozen=True)
class OpsJobsArgs:
    platform: Platform
    namespace: k8s.core.v1.Namespace
    outputs: Mapping[str, Any]
    database: aws.rds.Instance
    primary_key: aws.kms.Key
    dr_key: aws.kms.Key
    ops_bucket: aws.s3.Bucket
    data_bucket: Any  # aws.s3.Bucket, or on a standby the primary's replica bucket (data.BucketRef)
    data_replica_bucket: aws.s3.Bucket | None  # None on a standby: it has no replica of its own


class OpsJobs(pulumi.ComponentResource):
    """The ops CronJobs: each with its own IRSA role allowing only what that job does, and the outputs mounted."""

    def __init__(self, name: str, args: OpsJobsArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("scraper:k8s:OpsJobs", name, None, opts)
        platform = args.platform
        config = platform.config
        in_namespace = pulumi.ResourceOptions(parent=self, provider=platform.k8s, depends_on=[args.namespace])
        self.outputs_config_map = k8s.core.v1.ConfigMap(
            f"{name}-outputs",
            metadata={"name": OUTPUTS_CONFIGMAP, "namespace": config.namespace},
            data={OUTPUTS_FILE: pulumi.Output.json_dumps(dict(args.outputs))},
            opts=in_namespace,
        )
        statements = self._statements(platform, args)
        self.roles: dict[str, aws.iam.Role] = {}
        self.cron_jobs: dict[str, k8s.batch.v1.CronJob] = {}
        schedules = {
            "backup": config.schedules.backup,
            "backupVerify": config.schedules.backup_verify,
            "smokeTests": config.schedules.smoke_tests,
            "metrics": config.schedules.metrics,
            "drTest": config.schedules.dr_test,
            "capacityReport": config.schedules.capacity_report,
            "costReview": config.schedules.cost_review,
        }
        for job in OPS_JOBS:
            role = irsa_role(self, f"{name}-{job.name}", platform, job.name, statements[job.key])
            account = k8s.core.v1.ServiceAccount(
                f"{name}-{job.name}-service-account",
                metadata={"name": job.name, "namespace": config.namespace, "annotations": {IRSA_ANNOTATION: role.arn}},
                automount_service_account_token=False,
                opts=in_namespace,
            )
            labels = {"app.kubernetes.io/name": job.name, "app.kubernetes.io/part-of": "social-media-scraper"}
            self.roles[job.key] = role
            self.cron_jobs[job.key] = k8s.batch.v1.CronJob(
                f"{name}-{job.name}",
                metadata={"name": job.name, "namespace": config.namespace, "labels": labels},
                spec={
                    "schedule": schedules[job.key],
                    # A standing-by app (site.serving false) has no pod to smoke-test until a failover; a standby has
                    # no replica of its own to drill (its primary's drill covers the replica it runs on).
                    **({"suspend": True} if job.key == "smokeTests" and not config.site.serving
                       or job.key == "drTest" and config.site.role == "standby" else {}),
                    "timeZone": "Etc/UTC",
                    "concurrencyPolicy": "Forbid",
                    "startingDeadlineSeconds": job.starting_deadline_seconds,
                    "successfulJobsHistoryLimit": 3,
                    "failedJobsHistoryLimit": 3,
                    "jobTemplate": {
                        "metadata": {"labels": labels},
                        "spec": {
                            "backoffLimit": job.backoff_limit,
                            "activeDeadlineSeconds": job.active_deadline_seconds,
                            "template": restricted_pod(
                                service_account=job.name,
                                restart_policy="Never",
                                labels=labels,
                                containers=[
                                    {
                                        "name": "scraper-ops",
                                        "image": config.ops_image,
                                        "command": ["scraper-ops"],
                                        "args": list(job.command),
                                        "env": [
                                            {"name": "AWS_REGION", "value": config.region},
                                            {"name": "HOME", "value": "/tmp"},
                                            {"name": "SCRAPER_OPS_OUTPUTS", "value": f"{OUTPUTS_DIR}/{OUTPUTS_FILE}"},
                                            {"name": "SCRAPER_OPS_REPORT_DIR", "value": "/tmp/reports"},
                                        ],
                                        "resources": {
                                            "requests": {"cpu": "100m", "memory": "256Mi"},
                                            "limits": {"cpu": "500m", "memory": "512Mi"},
                                        },
                                        "volumeMounts": [{"name": "outputs", "mountPath": OUTPUTS_DIR, "readOnly": True}],
                                    }
                                ],
                                volumes=[{"name": "outputs", "configMap": {"name": OUTPUTS_CONFIGMAP}}],
                            ),
                        },
                    },
                },
                opts=pulumi.ResourceOptions.merge(
                    in_namespace, pulumi.ResourceOptions(depends_on=[account, self.outputs_config_map])
                ),
            )
        self.register_outputs({"cronJobs": ops_cron_job_names()})

    @staticmethod
    def _statements(platform: Platform, args: OpsJobsArgs) -> dict[str, list[dict[str, Any]]]:
        """Least privilege per job. Wildcard resources only for read-only describe calls and for
        PutMetricData, which has no resource-level permissions and is pinned to the namespace instead.

        Long on purpose: one table, so that a review reads every job's permissions side by side."""
        config = platform.config

        def rds_arn(region: str, kind: str, name: str) -> pulumi.Output[str]:
            return pulumi.Output.concat(
                "arn:", platform.partition, ":rds:", region, ":", platform.account_id, f":{kind}:{name}"
            )

        primary_snapshots = rds_arn(config.region, "snapshot", f"{platform.prefix}-*")
        dr_snapshots = rds_arn(config.dr_region, "snapshot", f"{platform.prefix}-*")
        restore_instances = rds_arn(config.dr_region, "db", f"{platform.prefix}-restore-test-*")
        put_metrics = {
            "Effect": "Allow",
            "Action": ["cloudwatch:PutMetricData"],
            "Resource": ["*"],
            "Condition": {"StringEquals": {"cloudwatch:namespace": metrics.NAMESPACE}},
        }

        def write_reports(prefix: str) -> dict[str, Any]:
            return {
                "Effect": "Allow",
                "Action": ["s3:PutObject"],
                "Resource": [pulumi.Output.concat(args.ops_bucket.arn, f"/{prefix}/*")],
            }

        restore_test = [  # a DR snapshot restored to a temporary instance in the DR region, then deleted
            {
                "Effect": "Allow",
                "Action": ["rds:RestoreDBInstanceFromDBSnapshot"],
                "Resource": [
                    restore_instances,
                    dr_snapshots,
                    rds_arn(config.dr_region, "subgrp", config.dr.subnet_group_name),
                    rds_arn(config.dr_region, "og", "default:*"),
                    rds_arn(config.dr_region, "pg", "default.*"),
                ],
            },
            {
                "Effect": "Allow",
                "Action": ["rds:AddTagsToResource", "rds:DeleteDBInstance"],
                "Resource": [restore_instances],
            },
            {
                "Effect": "Allow",
                "Action": ["kms:CreateGrant", "kms:DescribeKey", "kms:Decrypt"],
                "Resource": [args.dr_key.arn],
            },
        ]
        read_metrics = {"Effect": "Allow", "Action": ["cloudwatch:GetMetricData"], "Resource": ["*"]}
        # The drill's bucket replication check; a standby has no replica bucket of its own (its drill refuses).
        bucket_replication = [] if args.data_replica_bucket is None else [
            {"Effect": "Allow", "Action": ["s3:GetReplicationConfiguration"], "Resource": [args.data_bucket.arn]},
            {
                # The sentinel object: written to the data bucket, looked for in the replica, then every
                # version of it removed from both (S3 User Guide, "Deleting object versions": deleting a
                # version needs s3:DeleteObjectVersion, listing them s3:ListBucketVersions).
                "Effect": "Allow",
                "Action": ["s3:PutObject", "s3:GetObject", "s3:DeleteObject", "s3:DeleteObjectVersion"],
                "Resource": [pulumi.Output.concat(bucket.arn, f"/{DR_SENTINEL_PREFIX}*")
                             for bucket in (args.data_bucket, args.data_replica_bucket)],
            },
            {
                "Effect": "Allow",
                "Action": ["s3:ListBucketVersions"],
                "Resource": [args.data_bucket.arn, args.data_replica_bucket.arn],
                "Condition": {"StringLike": {"s3:prefix": [f"{DR_SENTINEL_PREFIX}*"]}},
            },
        ]
        describe_rds = {
            "Effect": "Allow",
            "Action": ["rds:DescribeDBInstances", "rds:DescribeDBSnapshots", "rds:DescribeDBInstanceAutomatedBackups"],
            "Resource": ["*"],
        }
        return {
            "backup": [
                describe_rds,
                {"Effect": "Allow", "Action": ["rds:CreateDBSnapshot"], "Resource": [args.database.arn, primary_snapshots]},
                {
                    "Effect": "Allow",
                    "Action": ["rds:CopyDBSnapshot", "rds:AddTagsToResource"],
                    "Resource": [primary_snapshots, dr_snapshots],
                },
                {
                    "Effect": "Allow",
                    "Action": ["kms:CreateGrant", "kms:DescribeKey", "kms:Decrypt", "kms:GenerateDataKey", "kms:ReEncryptFrom", "kms:ReEncryptTo"],
                    "Resource": [args.primary_key.arn, args.dr_key.arn],
                },
                {
                    # Expiry deletes only snapshots `backup create` tagged as its own, in both regions
                    # (rds:snapshot-tag/<key>: AWS RDS User Guide, "Specifying conditions: Using custom tags").
                    "Effect": "Allow",
                    "Action": ["rds:DeleteDBSnapshot"],
                    "Resource": [primary_snapshots, dr_snapshots],
                    "Condition": {"StringEquals": {"rds:snapshot-tag/created-by": "scraper-ops"}},
                },
                {
                    # The maintenance records, whose pre-maintenance snapshots expiry keeps.
                    "Effect": "Allow",
                    "Action": ["s3:ListBucket"],
                    "Resource": [args.ops_bucket.arn],
                    "Condition": {"StringLike": {"s3:prefix": ["maintenance/*"]}},
                },
                {"Effect": "Allow", "Action": ["s3:GetObject"],
                 "Resource": [pulumi.Output.concat(args.ops_bucket.arn, "/maintenance/*")]},
                write_reports("backups"),
                put_metrics,
            ],
            "backupVerify": [
                describe_rds,
                {
                    "Effect": "Allow",
                    "Action": ["backup:ListBackupPlans", "backup:GetBackupPlan", "backup:ListBackupSelections"],
                    "Resource": ["*"],
                },
                *restore_test,
                write_reports("backups"),
                put_metrics,
            ],
            "smokeTests": [put_metrics],
            "metrics": [
                describe_rds,
                {
                    "Effect": "Allow",
                    "Action": ["cloudwatch:GetMetricData", "cloudwatch:DescribeAlarms"],
                    "Resource": ["*"],
                },
                write_reports("metrics"),
                put_metrics,
            ],
            "drTest": [
                describe_rds,
                read_metrics,  # the replica's ReplicaLag, in the DR region
                *bucket_replication,
                *restore_test,
                write_reports("dr"),
                put_metrics,
            ],
            "capacityReport": [read_metrics, write_reports("capacity")],
            # Cost Explorer's reads take no resource ARN (Service Authorization Reference, "Actions defined by
            # AWS Cost Explorer Service": GetCostAndUsage and GetCostForecast list no resource types).
            "costReview": [
                read_metrics,
                {"Effect": "Allow", "Action": ["ce:GetCostAndUsage", "ce:GetCostForecast"], "Resource": ["*"]},
                write_reports("cost"),
            ],
        }
