"""The ops CronJobs: the guide's scheduled scripts as `scraper-ops` commands, each with a least-privilege IRSA role
and the stack outputs mounted."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

import pulumi
import pulumi_aws as aws
import pulumi_kubernetes as k8s

from contract import metrics
from infra.components.base import Platform
from infra.components.security import irsa_role
from infra.components.workloads.pods import (
    DR_SENTINEL_PREFIX, IRSA_ANNOTATION, OUTPUTS_CONFIGMAP, OUTPUTS_DIR, OUTPUTS_FILE, restricted_pod,
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


def job_labels(job: OpsJob) -> dict[str, str]:
    return {"app.kubernetes.io/name": job.name, "app.kubernetes.io/part-of": "social-media-scraper"}


def cron_job_spec(job: OpsJob, args: OpsJobsArgs) -> dict[str, Any]:
    """A CronJob's spec: the job's `scraper-ops` command in a restricted pod, the stack outputs mounted read-only."""
    labels = job_labels(job)
    return {
        "schedule": args.schedules[job.key],
        # A standing-by app (site.serving false) has no pod to smoke-test until a failover; a standby has no replica
        # of its own to drill (its primary's drill covers the replica it runs on).
        **({"suspend": True} if job.key == "smokeTests" and not args.serving
           or job.key == "drTest" and args.data_replica_bucket is None else {}),
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
                            "image": args.ops_image,
                            "command": ["scraper-ops"],
                            "args": list(job.command),
                            "env": [
                                {"name": "AWS_REGION", "value": args.platform.region},
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
    }


@dataclass(frozen=True)
class OpsJobsArgs:
    platform: Platform
    namespace: k8s.core.v1.Namespace  # the app's, created by AppWorkload
    namespace_name: str  # its name (config namespace)
    ops_image: str  # config opsImage, pinned by digest
    schedules: Mapping[str, str]  # per OpsJob key, its 5-field UTC cron (config schedules)
    serving: bool  # config site.serving: a standing-by app has no pod to smoke-test, so that job is suspended
    dr_subnet_group_name: str  # config dr.subnetGroupName: where the restore tests restore
    outputs: Mapping[str, Any]  # the stack outputs, mounted into every job (the jobs read nothing else)
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
        in_namespace = pulumi.ResourceOptions(parent=self, provider=platform.k8s, depends_on=[args.namespace])
        self.outputs_config_map = k8s.core.v1.ConfigMap(
            f"{name}-outputs",
            metadata={"name": OUTPUTS_CONFIGMAP, "namespace": args.namespace_name},
            data={OUTPUTS_FILE: pulumi.Output.json_dumps(dict(args.outputs))},
            opts=in_namespace,
        )
        statements = self._statements(platform, args)
        self.roles: dict[str, aws.iam.Role] = {}
        self.cron_jobs: dict[str, k8s.batch.v1.CronJob] = {}
        for job in OPS_JOBS:
            role = irsa_role(self, f"{name}-{job.name}", platform, job.name, statements[job.key],
                             namespace=args.namespace_name)
            account = k8s.core.v1.ServiceAccount(
                f"{name}-{job.name}-service-account",
                metadata={"name": job.name, "namespace": args.namespace_name,
                          "annotations": {IRSA_ANNOTATION: role.arn}},
                automount_service_account_token=False,
                opts=in_namespace,
            )
            self.roles[job.key] = role
            self.cron_jobs[job.key] = k8s.batch.v1.CronJob(
                f"{name}-{job.name}",
                metadata={"name": job.name, "namespace": args.namespace_name, "labels": job_labels(job)},
                spec=cron_job_spec(job, args),
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

        def rds_arn(region: str, kind: str, name: str) -> pulumi.Output[str]:
            return pulumi.Output.concat(
                "arn:", platform.partition, ":rds:", region, ":", platform.account_id, f":{kind}:{name}"
            )

        primary_snapshots = rds_arn(platform.region, "snapshot", f"{platform.prefix}-*")
        dr_snapshots = rds_arn(platform.dr_region, "snapshot", f"{platform.prefix}-*")
        restore_instances = rds_arn(platform.dr_region, "db", f"{platform.prefix}-restore-test-*")
        put_metrics = {
            "Effect": "Allow",
            "Action": ["cloudwatch:PutMetricData"],
            "Resource": ["*"],
            "Condition": {"StringEquals": {"cloudwatch:namespace": metrics.NAMESPACE}},
        }

        def write_reports(prefix: str) -> list[dict[str, Any]]:
            """The job's reports in the ops bucket, whose default encryption is SSE-KMS under the primary key: an
            upload needs kms:GenerateDataKey on that key as well (S3 User Guide, "Using server-side encryption with
            AWS KMS keys (SSE-KMS)", permissions; with an S3 Bucket Key too, only less often)."""
            return [
                {
                    "Effect": "Allow",
                    "Action": ["s3:PutObject"],
                    "Resource": [pulumi.Output.concat(args.ops_bucket.arn, f"/{prefix}/*")],
                },
                {"Effect": "Allow", "Action": ["kms:GenerateDataKey"], "Resource": [args.primary_key.arn]},
            ]

        restore_test = [  # a DR snapshot restored to a temporary instance in the DR region, then deleted
            {
                "Effect": "Allow",
                "Action": ["rds:RestoreDBInstanceFromDBSnapshot"],
                "Resource": [
                    restore_instances,
                    dr_snapshots,
                    rds_arn(platform.dr_region, "subgrp", args.dr_subnet_group_name),
                    rds_arn(platform.dr_region, "og", "default:*"),
                    rds_arn(platform.dr_region, "pg", "default.*"),
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
                "Action": ["s3:GetObject", "s3:DeleteObject", "s3:DeleteObjectVersion"],
                "Resource": [pulumi.Output.concat(bucket.arn, f"/{DR_SENTINEL_PREFIX}*")
                             for bucket in (args.data_bucket, args.data_replica_bucket)],
            },
            {
                "Effect": "Allow",
                "Action": ["s3:PutObject"],  # only to the data bucket: S3 replication writes the replica
                "Resource": [pulumi.Output.concat(args.data_bucket.arn, f"/{DR_SENTINEL_PREFIX}*")],
            },
            {
                "Effect": "Allow",
                "Action": ["s3:ListBucketVersions"],
                "Resource": [args.data_bucket.arn, args.data_replica_bucket.arn],
                "Condition": {"StringLike": {"s3:prefix": [f"{DR_SENTINEL_PREFIX}*"]}},
            },
            # The data bucket encrypts under the primary key, its replica under the DR key (SSE-KMS: writing needs
            # kms:GenerateDataKey, reading kms:Decrypt on the object's key).
            {"Effect": "Allow", "Action": ["kms:GenerateDataKey"], "Resource": [args.primary_key.arn]},
            {"Effect": "Allow", "Action": ["kms:Decrypt"], "Resource": [args.primary_key.arn, args.dr_key.arn]},
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
                *write_reports("backups"),
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
                *write_reports("backups"),
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
                *write_reports("metrics"),
                put_metrics,
            ],
            "drTest": [
                describe_rds,
                read_metrics,  # the replica's ReplicaLag, in the DR region
                *bucket_replication,
                *restore_test,
                *write_reports("dr"),
                put_metrics,
            ],
            "capacityReport": [read_metrics, *write_reports("capacity")],
            # Cost Explorer's reads take no resource ARN (Service Authorization Reference, "Actions defined by
            # AWS Cost Explorer Service": GetCostAndUsage and GetCostForecast list no resource types).
            "costReview": [
                read_metrics,
                {"Effect": "Allow", "Action": ["ce:GetCostAndUsage", "ce:GetCostForecast"], "Resource": ["*"]},
                *write_reports("cost"),
            ],
        }
