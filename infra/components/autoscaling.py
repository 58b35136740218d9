"""Autoscaling on the guide's three triggers (CPU 70 %, memory 80 %, queue depth 1000) with KEDA.

Why KEDA (and metrics-server): the queue-depth trigger needs an External metric, and the HPA controller has no source for it on a
fresh cluster; while any metric of an HPA is unavailable the controller does not scale down (Kubernetes docs,
"Horizontal Pod Autoscaling", algorithm details). KEDA, installed here from its Helm chart, serves the SQS
queue depth through its own metrics server and owns the HPA it derives from the ScaledObject, so the stack
alone makes all three triggers work. KEDA reads the queue with its operator's IRSA role (TriggerAuthentication
`podIdentity: {provider: aws, identityOwner: keda}`, KEDA docs "AWS (IRSA) Pod Identity Webhook"), which may
only call sqs:GetQueueAttributes on this queue.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_aws as aws
import pulumi_kubernetes as k8s

from infra.components.base import Platform
from infra.components.security import irsa_role
from infra.config import AutoscalingConfig

KEDA_NAMESPACE = "keda"
KEDA_OPERATOR_ACCOUNT = "keda-operator"
KEDA_CHART_REPOSITORY = "https://kedacore.github.io/charts"
TRIGGER_AUTHENTICATION = "keda-aws-operator-identity"


# A standby stack's app waits at zero replicas: KEDA scales the target to the annotation's value and stops
# autoscaling until the annotation is removed, which `dr failover` does by setting `site.serving` (KEDA docs,
# "Scaling Deployments, StatefulSets & Custom Resources", Pausing autoscaling). The ScaledObject keeps its
# production bounds, so the standby is held to the same rules as the primary.
PAUSED_REPLICAS = "autoscaling.keda.sh/paused-replicas"


@dataclass(frozen=True)
class AutoscalingArgs:
    platform: Platform
    scaling: AutoscalingConfig  # config autoscaling: the bounds, targets and windows, every one of them used
    cluster_name: str  # config cluster.name: the cluster the metrics-server add-on goes to
    keda_chart_version: str  # the KEDA chart for the cluster's version (config cluster.kubernetesVersion)
    serving: bool  # config site.serving: false pauses the app at zero replicas
    namespace: k8s.core.v1.Namespace  # the app's, created by AppWorkload
    namespace_name: str  # its name (config namespace)
    deployment: k8s.apps.v1.Deployment
    deployment_name: str
    queue: aws.sqs.Queue  # the queue-depth trigger's queue
    labels: dict[str, str]


def scaled_object_spec(
    scaling: AutoscalingConfig, region: str, deployment_name: str, queue_url: pulumi.Input[str]
) -> dict[str, Any]:
    """The ScaledObject: KEDA turns it into the HPA named like the Deployment, with these bounds and behaviour."""
    return {
        "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": deployment_name},
        "minReplicaCount": scaling.min_replicas,
        "maxReplicaCount": scaling.max_replicas,
        "pollingInterval": 30,
        "advanced": {
            "horizontalPodAutoscalerConfig": {
                "name": deployment_name,
                "behavior": {
                    "scaleUp": {
                        "stabilizationWindowSeconds": scaling.scale_up_stabilization_seconds,
                        "selectPolicy": "Max",
                        "policies": [
                            {"type": "Percent", "value": 100, "periodSeconds": 60},
                            {"type": "Pods", "value": 4, "periodSeconds": 60},
                        ],
                    },
                    "scaleDown": {
                        "stabilizationWindowSeconds": scaling.scale_down_stabilization_seconds,
                        "selectPolicy": "Min",
                        "policies": [
                            {"type": "Pods", "value": scaling.scale_down_pods_per_minute, "periodSeconds": 60}
                        ],
                    },
                },
            }
        },
        "triggers": [
            {"type": "cpu", "metricType": "Utilization", "metadata": {"value": str(scaling.cpu_target_percent)}},
            {"type": "memory", "metricType": "Utilization", "metadata": {"value": str(scaling.memory_target_percent)}},
            {
                # metricType Value: the HPA compares the whole queue depth with the target ("queue depth > 1000"),
                # not a per-pod share of it (KEDA's default AverageValue).
                "type": "aws-sqs-queue",
                "metricType": "Value",
                "metadata": {
                    "queueURL": queue_url,
                    "queueLength": str(scaling.queue_depth_target),
                    "awsRegion": region,
                },
                "authenticationRef": {"name": TRIGGER_AUTHENTICATION},
            },
        ],
    }


class Autoscaling(pulumi.ComponentResource):
    """KEDA (Helm release, operator IRSA role) and the app's TriggerAuthentication and ScaledObject."""

    def __init__(self, name: str, args: AutoscalingArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("scraper:k8s:Autoscaling", name, None, opts)
        platform = args.platform
        self.operator_role = irsa_role(
            self,
            f"{name}-keda-operator",
            platform,
            KEDA_OPERATOR_ACCOUNT,
            [{"Effect": "Allow", "Action": ["sqs:GetQueueAttributes"], "Resource": [args.queue.arn]}],
            namespace=KEDA_NAMESPACE,
        )
        # The cpu and memory triggers become HPA Resource metrics, served by metrics.k8s.io, which EKS does not
        # install (EKS User Guide, "View resource usage with the Kubernetes Metrics Server"); the EKS add-on
        # `metrics-server` provides it (EKS User Guide, "Community add-ons").
        self.metrics_server = aws.eks.Addon(
            f"{name}-metrics-server",
            cluster_name=args.cluster_name,
            addon_name="metrics-server",
            resolve_conflicts_on_create="OVERWRITE",
            resolve_conflicts_on_update="OVERWRITE",
            opts=pulumi.ResourceOptions(parent=self, provider=platform.aws),
        )
        self.keda = k8s.helm.v3.Release(
            f"{name}-keda",
            name="keda",
            chart="keda",
            version=args.keda_chart_version,
            repository_opts={"repo": KEDA_CHART_REPOSITORY},
            namespace=KEDA_NAMESPACE,
            create_namespace=True,
            atomic=True,
            cleanup_on_fail=True,
            values={
                "podIdentity": {"aws": {"irsa": {"enabled": True, "roleArn": self.operator_role.arn}}},
            },
            opts=pulumi.ResourceOptions(parent=self, provider=platform.k8s),
        )
        # The KEDA CRDs come with the release, and the resource metrics with the add-on: the custom resources wait.
        in_namespace = pulumi.ResourceOptions(
            parent=self, provider=platform.k8s, depends_on=[args.namespace, self.keda, self.metrics_server]
        )
        self.trigger_authentication = k8s.apiextensions.CustomResource(
            f"{name}-trigger-authentication",
            api_version="keda.sh/v1alpha1",
            kind="TriggerAuthentication",
            metadata={"name": TRIGGER_AUTHENTICATION, "namespace": args.namespace_name, "labels": args.labels},
            spec={"podIdentity": {"provider": "aws", "identityOwner": "keda"}},
            opts=in_namespace,
        )
        self.scaled_object = k8s.apiextensions.CustomResource(
            f"{name}-scaled-object",
            api_version="keda.sh/v1alpha1",
            kind="ScaledObject",
            metadata={"name": args.deployment_name, "namespace": args.namespace_name, "labels": args.labels,
                      **({} if args.serving else {"annotations": {PAUSED_REPLICAS: "0"}})},
            spec=scaled_object_spec(args.scaling, platform.region, args.deployment_name, args.queue.url),
            opts=pulumi.ResourceOptions.merge(
                in_namespace, pulumi.ResourceOptions(depends_on=[args.deployment, self.trigger_authentication])
            ),
        )
        self.hpa_name = args.deployment_name
        self.register_outputs({"hpaName": self.hpa_name, "kedaChartVersion": args.keda_chart_version})
