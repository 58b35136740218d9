"""The app in its namespace: Deployment, migration Job, Service, disruption budget, network policy, IRSA role
(the autoscaling is in `autoscaling.py`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_aws as aws
import pulumi_kubernetes as k8s

from contract import metrics
from infra.components.base import Platform
from infra.components.security import irsa_role
from infra.components.workloads.pods import (
    APP_NAME, INSTANCE_TYPE_LABEL, IRSA_ANNOTATION, SERVICE_PORT, content_id, restricted_pod,
)
from infra.config import ResourceQuantities


@dataclass(frozen=True)
class AppArgs:
    platform: Platform
    namespace_name: str  # config namespace: the app's, created here under the restricted Pod Security Standard
    image: str  # config args.image, pinned by digest; the migration Job runs it too
    port: int  # config args.port: the container's `http` port
    health_path: str  # config app.healthPath: liveness and startup probes
    readiness_path: str  # config app.readinessPath: readiness probe
    requests: ResourceQuantities  # config app.requests
    limits: ResourceQuantities  # config app.limits
    migrate_command: tuple[str, ...]  # config app.migrateCommand
    db_name: str  # config database.dbName
    node_instance_type: str  # config cluster.nodeInstanceType: the node group the pods are pinned to
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


def app_pod(args: AppArgs, environment: list[dict[str, Any]], resources: dict[str, Any]) -> dict[str, Any]:
    """The app's pod template: restricted, probed, pinned to the priced node group, spread over zones."""
    probe = {"periodSeconds": 10, "timeoutSeconds": 2, "failureThreshold": 3}
    pod = restricted_pod(
        service_account=APP_NAME,
        labels={**LABELS, **API_SELECTOR},
        containers=[
            {
                "name": "app",
                "image": args.image,
                "ports": [{"name": "http", "containerPort": args.port}],
                "env": environment,
                "resources": resources,
                "readinessProbe": {"httpGet": {"path": args.readiness_path, "port": "http"}, **probe},
                "livenessProbe": {
                    "httpGet": {"path": args.health_path, "port": "http"},
                    **probe,
                    "initialDelaySeconds": 10,
                },
                "startupProbe": {
                    "httpGet": {"path": args.health_path, "port": "http"},
                    "periodSeconds": 5,
                    "failureThreshold": 30,
                },
            }
        ],
    )
    pod["spec"]["terminationGracePeriodSeconds"] = 30
    # The compute model (config cluster.nodeInstanceType): EC2 nodes of a managed node group, as priced.
    pod["spec"]["nodeSelector"] = {INSTANCE_TYPE_LABEL: args.node_instance_type}
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
        self.labels = LABELS
        self.namespace = k8s.core.v1.Namespace(
            f"{name}-namespace",
            metadata={
                "name": args.namespace_name,
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
            lambda arn: ":".join([*arn.split(":")[:3], platform.dr_region, *arn.split(":")[4:]])
        )
        self.role = irsa_role(self, f"{name}-irsa", platform, APP_NAME,
                              app_statements(args, master_secret_arn, dr_secret_arn), namespace=args.namespace_name)
        self.service_account = k8s.core.v1.ServiceAccount(
            f"{name}-service-account",
            metadata={
                "name": APP_NAME,
                "namespace": args.namespace_name,
                "labels": LABELS,
                "annotations": {IRSA_ANNOTATION: self.role.arn},
            },
            automount_service_account_token=False,
            opts=in_namespace,
        )
        environment = [
            {"name": "AWS_REGION", "value": platform.region},
            {"name": "DATABASE_HOST", "value": args.database.address},
            {"name": "DATABASE_PORT", "value": args.database.port.apply(str)},
            {"name": "DATABASE_NAME", "value": args.db_name},
            {"name": "DATABASE_SECRET_ARN", "value": master_secret_arn},
            {"name": "SCRAPE_QUEUE_URL", "value": args.queue.url},
            {"name": "DATA_BUCKET", "value": args.data_bucket.bucket},
            {"name": "METRICS_NAMESPACE", "value": metrics.NAMESPACE},
            {"name": "METRICS_STACK", "value": platform.stack},
        ]
        resources = {
            "requests": {"cpu": args.requests.cpu, "memory": args.requests.memory},
            "limits": {"cpu": args.limits.cpu, "memory": args.limits.memory},
        }
        self.migration = self._migration(name, args, environment, resources, in_namespace)
        self.deployment = k8s.apps.v1.Deployment(
            f"{name}-deployment",
            metadata={"name": APP_NAME, "namespace": args.namespace_name, "labels": LABELS},
            spec={
                # No `replicas`: the HPA that KEDA derives from the ScaledObject owns the replica count.
                "selector": {"matchLabels": API_SELECTOR},
                "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 0, "maxSurge": "25%"}},
                "revisionHistoryLimit": 5,
                "template": app_pod(args, environment, resources),
            },
            opts=pulumi.ResourceOptions.merge(in_namespace, pulumi.ResourceOptions(depends_on=[self.migration])),
        )
        self._serving(name, args, in_namespace)
        self.register_outputs({"deploymentName": APP_NAME, "namespace": self.namespace.metadata["name"]})

    def _migration(self, name: str, args: AppArgs, environment: list[dict[str, Any]],
                   resources: dict[str, Any], in_namespace: pulumi.ResourceOptions) -> k8s.batch.v1.Job:
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
                        "image": args.image,
                        "command": list(args.migrate_command),
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
                "namespace": args.namespace_name,
                "labels": {**LABELS, "app.kubernetes.io/component": "migration"},
                "annotations": {"scraper.io/image": args.image},
            },
            spec=migration_spec,
            opts=pulumi.ResourceOptions.merge(
                in_namespace, pulumi.ResourceOptions(depends_on=[self.service_account], delete_before_replace=False)
            ),
        )

    def _serving(self, name: str, args: AppArgs, in_namespace: pulumi.ResourceOptions) -> None:
        """The Service in front of the pods, the budget that keeps them through node drains, and their traffic."""
        self.service = k8s.core.v1.Service(
            f"{name}-service",
            metadata={"name": APP_NAME, "namespace": args.namespace_name, "labels": LABELS},
            spec={
                "type": "ClusterIP",
                "selector": API_SELECTOR,
                "ports": [{"name": "http", "port": SERVICE_PORT, "targetPort": "http"}],
            },
            opts=in_namespace,
        )
        self.disruption_budget = k8s.policy.v1.PodDisruptionBudget(
            f"{name}-pdb",
            metadata={"name": APP_NAME, "namespace": args.namespace_name, "labels": LABELS},
            spec={
                "maxUnavailable": 1,
                "selector": {"matchLabels": API_SELECTOR},
            },
            opts=in_namespace,
        )
        self.network_policy = k8s.networking.v1.NetworkPolicy(
            f"{name}-network-policy",
            metadata={"name": APP_NAME, "namespace": args.namespace_name, "labels": LABELS},
            spec={
                "podSelector": {"matchLabels": {"app.kubernetes.io/name": APP_NAME}},
                "policyTypes": ["Ingress", "Egress"],
                "ingress": [{"ports": [{"protocol": "TCP", "port": args.port}]}],
                "egress": [
                    {"ports": [{"protocol": "UDP", "port": 53}, {"protocol": "TCP", "port": 53}]},
                    {"ports": [{"protocol": "TCP", "port": 443}, {"protocol": "TCP", "port": 80}]},
                    {"ports": [{"protocol": "TCP", "port": 5432}]},
                ],
            },
            opts=in_namespace,
        )
