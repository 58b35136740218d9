"""Config groups of the cluster and the app: the cluster, the app's container, its autoscaling."""

from __future__ import annotations

import re

from pydantic import Field, ValidationInfo, field_validator

from contract import guide
from infra.config.base import INT32_MAX, _Model, check_pinned_image
from infra.quantities import parse_cpu, parse_memory

KEDA_CHART_FOR_KUBERNETES = {
    "1.27": "2.14.2",
    "1.28": "2.15.2",
    "1.29": "2.16.1",
    "1.30": "2.17.2",
    "1.31": "2.18.3",
    "1.32": "2.19.0",
    "1.33": "2.20.2",
    "1.34": "2.20.2",
    "1.35": "2.20.2",
}


class ClusterConfig(_Model):
    name: str = Field(min_length=1, max_length=100)
    """name of the existing EKS cluster the stack deploys into"""
    kubernetes_version: str = Field(default="1.31", pattern=r"^1\.\d+$")
    """its Kubernetes minor version (1.27-1.35: the versions a KEDA release is tested against)"""
    # The compute model: the app's pods run on the EC2 nodes of a managed node group of this instance type (a
    # nodeSelector pins them there). Container Insights' node metrics, the capacity report and `cost estimate`
    # all assume it; Fargate would have no node metrics and no CloudWatch agent DaemonSet.
    node_instance_type: str = Field(default="m6i.large")
    """EC2 instance type of the managed node group the app's pods run on"""

    @field_validator("node_instance_type")
    @classmethod
    def _ec2_type(cls, value: str) -> str:
        if not re.match(r"^[a-z][a-z0-9-]*\.[a-z0-9]+$", value):
            raise ValueError("must be the EC2 instance type of the managed node group the app runs on, like m6i.large")
        return value

    @field_validator("kubernetes_version")
    @classmethod
    def _keda_tested(cls, value: str) -> str:
        if value not in KEDA_CHART_FOR_KUBERNETES:
            raise ValueError(
                f"no KEDA release is tested against Kubernetes {value} (the queue-depth autoscaler needs one); "
                f"supported: {', '.join(KEDA_CHART_FOR_KUBERNETES)}"
            )
        return value

    @property
    def keda_chart_version(self) -> str:
        return KEDA_CHART_FOR_KUBERNETES[self.kubernetes_version]


class ResourceQuantities(_Model):
    cpu: str
    """CPU quantity (Kubernetes form: `500m`, `1`)"""
    memory: str
    """memory quantity (`512Mi`, `1Gi`)"""

    @field_validator("cpu")
    @classmethod
    def _cpu(cls, value: str) -> str:
        parse_cpu(value)
        return value

    @field_validator("memory")
    @classmethod
    def _memory(cls, value: str) -> str:
        parse_memory(value)
        return value


class AppConfig(_Model):
    image: str
    """the app's image, pinned by digest (`repo:tag@sha256:<64 hex>`, never `latest`)"""
    port: int = Field(default=5000, ge=1, le=65535)
    """the port the app listens on"""
    health_path: str = Field(default="/health", pattern=r"^/")
    """liveness probe and smoke-test path"""
    readiness_path: str = Field(default="/health/ready", pattern=r"^/")
    """readiness probe and smoke-test path"""
    api_path: str = Field(default="/api/v1/status", pattern=r"^/")
    """API status path the smoke tests read (answers JSON)"""
    scrapers_path: str = Field(default="/api/v1/scrapers/status", pattern=r"^/")
    """scrapers' status path the smoke tests read"""
    public_url: str | None = Field(default=None, pattern=r"^https?://")
    """the app's public URL, if it has one (else the in-cluster Service URL is used)"""
    migrate_command: tuple[str, ...] = ("./scripts/migrate.sh", "upgrade")
    """the database migration command, run as a Job on each image change"""
    requests: ResourceQuantities = ResourceQuantities(cpu="500m", memory="512Mi")
    """CPU and memory requests of an app pod (the HPA's utilization is relative to them)"""
    limits: ResourceQuantities = Field(default=ResourceQuantities(cpu="1", memory="1Gi"), validate_default=True)
    """CPU and memory limits of an app pod (at least the requests)"""

    @field_validator("image")
    @classmethod
    def _pinned(cls, value: str) -> str:
        return check_pinned_image(value)

    @field_validator("limits")
    @classmethod
    def _limits_cover_requests(cls, limits: ResourceQuantities, info: ValidationInfo) -> ResourceQuantities:
        requests = info.data.get("requests")
        if requests is not None:
            if parse_cpu(limits.cpu) < parse_cpu(requests.cpu):
                raise ValueError(f"cpu limit {limits.cpu} is below the cpu request {requests.cpu}")
            if parse_memory(limits.memory) < parse_memory(requests.memory):
                raise ValueError(f"memory limit {limits.memory} is below the memory request {requests.memory}")
        return limits


class AutoscalingConfig(_Model):
    min_replicas: int = Field(default=3, ge=1, le=INT32_MAX)
    """fewest app pods"""
    max_replicas: int = Field(default=10, ge=1, le=INT32_MAX)
    """most app pods (at least minReplicas)"""
    cpu_target_percent: int = Field(default=guide.CPU_TARGET_PERCENT, ge=1, le=100)
    """HPA CPU target, percent of the request (guide: 70)"""
    memory_target_percent: int = Field(default=guide.MEMORY_TARGET_PERCENT, ge=1, le=100)
    """HPA memory target, percent of the request (guide: 80)"""
    queue_depth_target: int = Field(default=guide.QUEUE_DEPTH_TARGET, ge=1)
    """queue depth per pod that scales up (guide: 1000)"""
    # Whole minutes: the CPU and memory alarms evaluate one-minute periods over the same window, and
    # CloudWatch needs at least one evaluation period (PutMetricAlarm: EvaluationPeriods >= 1).
    scale_up_stabilization_seconds: int = Field(default=guide.SCALE_UP_STABILIZATION_SECONDS, le=3600)
    """scale-up window, whole minutes 60-3600 (guide: 5 minutes; the CPU and memory alarms evaluate one-minute periods over it)"""
    scale_down_stabilization_seconds: int = Field(default=600, gt=0, le=3600)
    """scale-down window in seconds"""
    scale_down_pods_per_minute: int = Field(default=1, ge=1, le=INT32_MAX)
    """most pods removed per minute when scaling down"""

    @field_validator("scale_up_stabilization_seconds")
    @classmethod
    def _whole_minutes(cls, value: int) -> int:
        if value < 60 or value % 60:
            raise ValueError(
                "must be whole minutes from 60 to 3600 seconds: the CPU and memory alarms evaluate one-minute "
                "periods over this window and CloudWatch needs at least one (EvaluationPeriods >= 1)"
            )
        return value

    @field_validator("max_replicas")
    @classmethod
    def _max_not_below_min(cls, value: int, info: ValidationInfo) -> int:
        minimum = info.data.get("min_replicas")
        if minimum is not None and value < minimum:
            raise ValueError(f"must be >= minReplicas ({minimum})")
        return value
