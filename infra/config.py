"""The typed stack configuration: every key of the project namespace, read once.

The guide's thresholds are the defaults here and nowhere else: the HPA, the
alarms, the policy pack and the reports all read them from this model.
"""

from __future__ import annotations

import json
import re
from typing import Any, Literal, Mapping

from croniter import croniter
from pydantic import BaseModel, ConfigDict, Field, ValidationError, ValidationInfo, field_validator, model_validator
from pydantic.alias_generators import to_camel

from contract import guide
from infra.quantities import parse_cpu, parse_memory
from infra.schedules import aws_cron

PROJECT = "social-media-scraper"
REGION_KEY = "aws:region"


class ConfigError(ValueError):
    """Stack config that cannot be used; `problems` holds one line per bad value."""

    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__("\n".join(problems))


# Kubernetes integer fields of the objects these values reach are int32 (HorizontalPodAutoscalerSpec minReplicas,
# maxReplicas; HPAScalingPolicy value; KEDA ScaledObject minReplicaCount, maxReplicaCount): the API server refuses more
# (https://kubernetes.io/docs/reference/kubernetes-api/workload-resources/horizontal-pod-autoscaler-v2/).
INT32_MAX = 2**31 - 1
# Stacks that must page someone: the value of their `Environment` cost tag (the policy pack reads the same tag).
PRODUCTION_ENVIRONMENTS = ("prod", "production")


class _Model(BaseModel):
    # No inf or NaN: no AWS or Kubernetes field takes them, and every comparison with NaN is false.
    # Each field's docstring is its description: infra/config_docs.py prints the README's config table from them
    # (read from the source there, not at import: pydantic's use_attribute_docstrings costs every command ~30 ms).
    model_config = ConfigDict(alias_generator=to_camel, extra="forbid", frozen=True, populate_by_name=False,
                              allow_inf_nan=False)

    @field_validator("*", mode="before")
    @classmethod
    def _no_boolean_for_a_number(cls, value: Any, info: ValidationInfo) -> Any:
        """YAML `true` is not 1: pydantic's lax mode would take a boolean for a number."""
        if isinstance(value, bool) and cls.model_fields[info.field_name].annotation in (int, float):
            raise ValueError("must be a number, not a boolean")
        return value


# The commercial partition's regions with EC2 and RDS endpoints, as botocore 1.44's bundled endpoint data lists
# them (`Session.get_available_regions`). A constant: loading that data costs every command 0.15 s at start-up.
# tests/infra/test_regions.py checks it against the installed botocore's endpoint and partition data.
AWS_REGIONS = frozenset({
    "af-south-1", "ap-east-1", "ap-east-2", "ap-northeast-1", "ap-northeast-2", "ap-northeast-3", "ap-south-1",
    "ap-south-2", "ap-southeast-1", "ap-southeast-2", "ap-southeast-3", "ap-southeast-4", "ap-southeast-5",
    "ap-southeast-6", "ap-southeast-7", "ca-central-1", "ca-west-1", "eu-central-1", "eu-central-2", "eu-north-1",
    "eu-south-1", "eu-south-2", "eu-west-1", "eu-west-2", "eu-west-3", "il-central-1", "me-central-1", "me-south-1",
    "mx-central-1", "sa-east-1", "us-east-1", "us-east-2", "us-west-1", "us-west-2",
})


def aws_regions() -> frozenset[str]:
    """Region names of the commercial partition (no network)."""
    return AWS_REGIONS


def _check_region(value: str) -> str:
    if value not in aws_regions():
        raise ValueError(f"not an AWS region; expected one of {', '.join(sorted(aws_regions()))}")
    return value


_DIGEST = re.compile(r"^sha256:[0-9a-f]{64}$")
_MAJOR = re.compile(r"^\d+$")
_MAJOR_MINOR = re.compile(r"^\d+\.\d+$")
_TAG = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$")


def image_tag(image: str) -> str | None:
    """The tag of an image reference (None when it has none); a registry port is not a tag."""
    name = image.split("@", 1)[0]
    last_segment = name.rsplit("/", 1)[-1]
    return last_segment.split(":", 1)[1] if ":" in last_segment else None


def check_pinned_image(value: str) -> str:
    """An image pinned by content: `registry/repo:1.2.3@sha256:<64 hex>`.

    A tag alone can be moved to other content; only the digest pins what runs (the checkov checks
    CKV_K8S_43 and the policy `k8s-pinned-images` ask for it too). The tag stays for the humans reading it.
    """
    name, _, digest = value.partition("@")
    if not name or any(c.isspace() for c in value):
        raise ValueError("must be an image reference like registry/repo:1.2.3@sha256:<64 hex characters>")
    if not digest:
        raise ValueError("image is not pinned by digest; use registry/repo:1.2.3@sha256:<64 hex characters>")
    if not _DIGEST.match(digest):
        raise ValueError("digest must be sha256:<64 lowercase hex characters>")
    tag = image_tag(value)
    if tag is not None and (tag == "latest" or not _TAG.match(tag)):
        raise ValueError("tag 'latest' or a malformed tag is not allowed; pin a release tag and a sha256 digest")
    return value


def _check_k8s_cron(value: str) -> str:
    if len(value.split()) != 5 or not croniter.is_valid(value) or re.search(r"[#LW]", value):
        raise ValueError("must be a standard 5-field cron expression (minute hour day month weekday), UTC")
    return value


# The KEDA Helm chart release installed for each Kubernetes minor version: the newest KEDA release whose tested
# window includes it (KEDA docs, "Operate > Cluster > Kubernetes Compatibility": v2.20 tests 1.33-1.35, v2.19
# 1.32-1.34, v2.18 1.31-1.33, v2.17 1.30-1.32, v2.16 1.29-1.31, v2.15 1.28-1.30, v2.14 1.27-1.29). Chart versions are
# kedacore/charts releases. Kubernetes 1.26 and older would need KEDA 2.12 or older, which lacks the `aws` pod
# identity provider the TriggerAuthentication uses (added in 2.13), so they are refused.
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


MIN_REPLICA_BACKUP_MAJOR = 14
IDENTIFIER_SUFFIX = r"^(-[a-z0-9]+)*$"


class DatabaseConfig(_Model):
    auto_minor_version_upgrade: bool = True
    """let RDS apply minor engine upgrades in the maintenance window"""
    # With automatic minor upgrades the stack names only the major version ("16"): RDS upgrades the minor in the
    # maintenance window, and a pinned "16.4" would then read as drift that the next update tries to downgrade.
    # The provider accepts a version prefix in that case (Terraform AWS provider, aws_db_instance
    # `engine_version`: "If auto_minor_version_upgrade is enabled, you can provide a prefix of the version").
    engine_version: str = Field(default="16")
    """PostgreSQL version: major only (`16`) with automatic minor upgrades, full (`16.4`) without"""
    # Bump to rotate the master password: a new random value is written (write-only) to the instance and to the
    # stack's Secrets Manager secret in the same update.
    master_password_version: int = Field(default=1, ge=1)
    """bump to rotate the master password (write-only, through the stack's secret)"""
    instance_class: str = Field(default="db.r6g.large", pattern=r"^db\.[a-z0-9]+\.[a-z0-9]+$")
    """RDS instance class of the primary"""
    allocated_storage_gb: int = Field(default=100, ge=20, le=65536)
    """initial storage in GiB"""
    max_allocated_storage_gb: int = Field(default=500, ge=20, le=65536)
    """storage autoscaling ceiling in GiB (at least allocatedStorageGb)"""
    backup_retention_days: int = Field(default=14, ge=1, le=35)
    """automated backup retention, 1-35 days"""
    backup_window: str = Field(default="00:30-01:30", pattern=r"^\d\d:\d\d-\d\d:\d\d$")
    """daily automated backup window, UTC (`hh:mm-hh:mm`)"""
    maintenance_window: str = Field(default="sun:02:00-sun:04:00", pattern=r"^[a-z]{3}:\d\d:\d\d-[a-z]{3}:\d\d:\d\d$")
    """RDS maintenance window, UTC (`ddd:hh:mm-ddd:hh:mm`)"""
    multi_az: bool = True
    """a standby in a second availability zone"""
    db_name: str = Field(default="scraper", pattern=r"^[A-Za-z][A-Za-z0-9_]{0,62}$")
    """the database's name"""
    username: str = Field(default="scraper", pattern=r"^[A-Za-z][A-Za-z0-9_]{0,15}$")
    """the master user's name"""
    subnet_group_name: str = Field(min_length=1)
    """existing DB subnet group of the primary"""
    security_group_ids: tuple[str, ...] = Field(min_length=1)
    """security groups of the primary"""
    # After `dr failback --switch` the writer is `scraper-<stack>-failback`: "-failback" here makes the stack declare
    # that instance once it is imported (README, "Adopting the failback instance"). RDS identifiers are letters,
    # digits and single hyphens (RDS API Reference, CreateDBInstance, DBInstanceIdentifier).
    instance_suffix: str = Field(default="", pattern=IDENTIFIER_SUFFIX, max_length=24)
    """appended to the primary's identifier: `-failback` once the stack adopts the failback instance"""

    @field_validator("engine_version")
    @classmethod
    def _version_matches_upgrades(cls, value: str, info: ValidationInfo) -> str:
        automatic = info.data.get("auto_minor_version_upgrade", True)
        if automatic and not _MAJOR.match(value):
            raise ValueError(
                "with autoMinorVersionUpgrade (the default) give the major version only, e.g. \"16\"; "
                "RDS moves the minor and a pinned minor would drift"
            )
        if not automatic and not _MAJOR_MINOR.match(value):
            raise ValueError('with autoMinorVersionUpgrade false give the full version, e.g. "16.4"')
        return value

    @field_validator("engine_version")
    @classmethod
    def _replica_keeps_backups(cls, value: str) -> str:
        """The DR replica keeps automated backups (and AWS Backup snapshots it on a standby stack): RDS supports
        automated backups of PostgreSQL read replicas from 14.1 only, manual snapshots on every version (RDS User
        Guide, "Working with read replicas for Amazon RDS for PostgreSQL", limitations; "Differences among read
        replicas for DB engines", backups)."""
        if int(value.split(".")[0]) < MIN_REPLICA_BACKUP_MAJOR:
            raise ValueError(f"must be PostgreSQL {MIN_REPLICA_BACKUP_MAJOR} or later: the DR read replica keeps "
                             "automated backups, which RDS supports on PostgreSQL read replicas from 14.1 only")
        return value

    @field_validator("max_allocated_storage_gb")
    @classmethod
    def _max_storage_not_below_allocated(cls, value: int, info: ValidationInfo) -> int:
        allocated = info.data.get("allocated_storage_gb")
        if allocated is not None and value < allocated:
            raise ValueError(f"must be >= allocatedStorageGb ({allocated})")
        return value


class DrConfig(_Model):
    replica_instance_class: str = Field(default="db.r6g.large", pattern=r"^db\.[a-z0-9]+\.[a-z0-9]+$")
    """instance class of the cross-region read replica"""
    rpo_minutes: int = Field(default=guide.RPO_MINUTES, gt=0)
    """recovery point objective; the replica-lag alarm fires beyond it"""
    rto_minutes: int = Field(default=guide.RTO_MINUTES, gt=0)
    """recovery time objective the DR drill and failover are measured against"""
    backup_copy_retention_days: int = Field(default=14, ge=1, le=35)
    """retention of the backup copies in the DR region, 1-35 days"""
    subnet_group_name: str = Field(min_length=1)
    """DB subnet group in the DR region (replica and restore tests)"""
    security_group_ids: tuple[str, ...] = Field(min_length=1)
    """security groups in the DR region"""
    # The replica's identifier is `scraper-<stack>` + this; a new one ("-failback-dr") after a failback, since the
    # promoted old replica keeps its name until someone deletes it.
    replica_suffix: str = Field(default="-dr", pattern=IDENTIFIER_SUFFIX, min_length=2, max_length=24)
    """appended to the replica's identifier (`-dr`; a new one, e.g. `-failback-dr`, after a failback)"""


class SchedulesConfig(_Model):
    backup: str = "0 3 * * *"
    """CronJob: database snapshot, UTC cron"""
    backup_verify: str = "0 5 * * 1"
    """CronJob: backup verification with a restore test"""
    smoke_tests: str = "*/5 * * * *"
    """CronJob: smoke tests"""
    metrics: str = "0 * * * *"
    """CronJob: operational metrics"""
    backup_plan: str = "0 5 * * *"  # the AWS Backup plan's rule, apart from the snapshot CronJob
    """the AWS Backup plan's daily rule (also expressible as an AWS cron)"""
    # The guide's weekly and monthly duties. The DR test runs on the 8th, which is never the first Sunday, so it
    # never meets the maintenance window; the cost review on the 3rd, once Cost Explorer has the closed month.
    dr_test: str = "0 6 8 * *"
    """CronJob: the monthly DR drill (on the 8th: never the first Sunday's window)"""
    capacity_report: str = "0 6 * * 1"
    """CronJob: the weekly capacity report"""
    cost_review: str = "0 7 3 * *"
    """CronJob: the monthly cost review (on the 3rd, once Cost Explorer has the closed month)"""

    @field_validator("backup", "backup_verify", "smoke_tests", "metrics", "backup_plan", "dr_test", "capacity_report",
                     "cost_review")
    @classmethod
    def _cron(cls, value: str) -> str:
        return _check_k8s_cron(value)

    @field_validator("backup_plan")
    @classmethod
    def _aws_cron(cls, value: str) -> str:
        aws_cron(value)
        return value


class SnapshotRetentionConfig(_Model):
    """Expiry of the manual snapshots `scraper-ops backup create` makes, and of their DR-region copies.

    35 days by default: maintenance windows (the first Sunday of the month) are 28 or 35 days apart, so the
    previous window's pre-maintenance snapshot is kept until the next window has taken its own. The value
    must be at least `database.backupRetentionDays` (checked in StackConfig): a manual snapshot, the only
    restore point with a copy in the DR region made by this tool, never expires before the automated backups
    of the same day do. 7 newest are always kept (a week of daily backups), whatever their age; at most 100,
    the default RDS quota of manual DB snapshots per region
    (https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/CHAP_Limits.html).
    """

    manual_retention_days: int = Field(default=35, ge=1, le=3650)
    """age at which `backup expire` deletes a manual snapshot and its DR copy (at least database.backupRetentionDays)"""
    keep_newest: int = Field(default=7, ge=1, le=100)
    """manual snapshots always kept, whatever their age (at most 100, the RDS quota)"""


class AlarmsConfig(_Model):
    error_rate_percent: float = Field(default=guide.ERROR_RATE_PERCENT, gt=0, le=100)
    """error-rate alarm threshold, percent of requests answered 5xx"""
    db_cpu_percent: int = Field(default=80, ge=1, le=100)
    """database CPU alarm threshold"""
    db_free_storage_gb: int = Field(default=10, gt=0)
    """database free-storage alarm threshold in GiB"""
    backup_max_age_hours: int = Field(default=26, gt=0)
    """backup-stale alarm: age of the newest snapshot"""
    dead_letter_messages: int = Field(default=0, ge=0)
    """dead-letter alarm: messages tolerated in the dead-letter queue"""
    emails: tuple[str, ...] = ()
    """addresses the alerts topic pages (a production stack needs one, or an endpoint)"""
    https_endpoints: tuple[str, ...] = ()
    """https:// endpoints the alerts topic pages"""

    @field_validator("emails")
    @classmethod
    def _emails(cls, values: tuple[str, ...]) -> tuple[str, ...]:
        bad = [v for v in values if not re.match(r"^[^@\s]+@[^@\s]+\.[^@\s]+$", v)]
        if bad:
            raise ValueError(f"not an email address: {', '.join(bad)}")
        return values

    @field_validator("https_endpoints")
    @classmethod
    def _https(cls, values: tuple[str, ...]) -> tuple[str, ...]:
        bad = [v for v in values if not v.startswith("https://")]
        if bad:
            raise ValueError(f"notification endpoints must be https:// URLs: {', '.join(bad)}")
        return values


class MaintenanceConfig(_Model):
    window_start: str = guide.MAINTENANCE_WINDOW_START
    """start of the maintenance window, 5-field UTC cron (guide: first Sunday 02:00, `0 2 * * 0#1`)"""
    duration_minutes: int = Field(default=guide.MAINTENANCE_DURATION_MINUTES, gt=0, le=24 * 60)
    """length of the window (guide: 2 hours)"""
    cutoff_minutes: int = Field(default=15, ge=0)
    """no new step starts this close to the window's end"""

    @field_validator("window_start")
    @classmethod
    def _cron(cls, value: str) -> str:
        if len(value.split()) != 5 or not croniter.is_valid(value):
            raise ValueError("must be a 5-field cron expression in UTC (for example '0 2 * * 0#1', first Sunday 02:00)")
        return value

    @field_validator("cutoff_minutes")
    @classmethod
    def _cutoff_inside_window(cls, value: int, info: ValidationInfo) -> int:
        duration = info.data.get("duration_minutes")
        if duration is not None and value >= duration:
            raise ValueError(f"must be less than durationMinutes ({duration})")
        return value


class SloConfig(_Model):
    availability_percent: float = Field(default=guide.AVAILABILITY_PERCENT, gt=0, le=100)
    """availability objective over 30 days (guide: 99.9)"""
    latency_p95_seconds: float = Field(default=guide.LATENCY_P95_SECONDS, gt=0)
    """p95 response-time objective (guide: 2 s)"""
    scraper_success_percent: float = Field(default=guide.SCRAPER_SUCCESS_PERCENT, ge=1, le=100)
    """scraper success objective (guide's daily checklist: 95)"""


class CostConfig(_Model):
    monthly_budget_usd: float = Field(default=3000.0, gt=0)
    """the cost review's monthly budget"""
    tags: Mapping[str, str] = Field(
        default_factory=lambda: {"Project": PROJECT, "Environment": "prod", "CostCenter": "data-platform"}
    )
    """cost-allocation tags on every AWS resource (the `Environment` value decides whether the stack must page someone)"""

    @field_validator("tags")
    @classmethod
    def _tags(cls, tags: Mapping[str, str]) -> dict[str, str]:
        if not tags:
            raise ValueError("at least one cost-allocation tag is required")
        bad = [k for k in tags if not re.match(r"^[\w .:/=+\-@]{1,128}$", k) or k.startswith("aws:")]
        if bad:
            raise ValueError(f"invalid tag keys: {', '.join(bad)}")
        return dict(tags)


class SiteConfig(_Model):
    """The stack's part in the warm-standby DR design (README, "Disaster recovery").

    `primary` (the default) owns the database and its cross-region read replica. `standby` is the same program run
    in the primary's DR region (regions swapped): it declares no database and no replica of its own; its app runs
    on the primary's replica (`databaseInstanceId`, promoted by `scraper-ops dr failover`) with the primary's master
    secret as Secrets Manager replicates it into this region, and stays scaled to zero while `serving` is false.
    """

    role: Literal["primary", "standby"] = "primary"
    """`primary` owns the database and its replica; `standby` is the warm standby in the DR region"""
    serving: bool = True
    """whether the app serves (only a standby waits with false, at zero replicas)"""
    primary_stack: str | None = Field(default=None, validate_default=True)
    """standby only: the primary stack it takes over from"""
    database_instance_id: str | None = Field(default=None, validate_default=True)
    """standby only: the primary's replica it runs on once promoted"""

    @field_validator("serving")
    @classmethod
    def _primary_serves(cls, value: bool, info: ValidationInfo) -> bool:
        if not value and info.data.get("role") == "primary":
            raise ValueError("a primary stack always serves; only role standby waits with serving false")
        return value

    @field_validator("primary_stack", "database_instance_id")
    @classmethod
    def _standby_only(cls, value: str | None, info: ValidationInfo) -> str | None:
        standby = info.data.get("role") == "standby"
        if standby and not value:
            raise ValueError("required with role standby: the stack and the replica the standby takes over")
        if value and not standby:
            raise ValueError("only for role standby; a primary owns its database")
        if value and not re.match(r"^[a-z][a-z0-9-]{0,62}$", value):
            raise ValueError("must be lowercase letters, digits and hyphens, starting with a letter (at most 63)")
        return value

    data_bucket: str | None = Field(default=None, validate_default=True)
    """standby only: the primary's `dataReplicaBucket` its app uses (auto-named: read it once the primary is up)"""

    @field_validator("data_bucket")
    @classmethod
    def _primary_replica_bucket(cls, value: str | None, info: ValidationInfo) -> str | None:
        standby = info.data.get("role") == "standby"
        if standby and not value:
            raise ValueError("required with role standby: the primary's dataReplicaBucket, which holds what the "
                             "primary scraped (pulumi stack output dataReplicaBucket --stack <primaryStack>)")
        if value and not standby:
            raise ValueError("only for role standby; a primary owns its data bucket")
        # S3 User Guide, "General purpose bucket naming rules": 3-63 characters, lower-case letters, digits, dots
        # and hyphens, beginning and ending with a letter or digit.
        if value and not re.match(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$", value):
            raise ValueError("must be an S3 bucket name: 3-63 lower-case letters, digits, dots and hyphens, beginning "
                             "and ending with a letter or digit")
        return value


class ReleaseConfig(_Model):
    """Staging before production: a stack with `promotedFrom` deploys only images that passed a soak of at least
    `soakMinutes` there (`scraper-ops release promote`)."""

    promoted_from: str | None = Field(default=None, pattern=r"^[A-Za-z0-9_.-]+$")
    """the stack whose soaked releases this one deploys (staging for prod)"""
    soak_minutes: int = Field(default=30, ge=1, le=24 * 60)
    """how long a release soaks there before it may be promoted"""


# Route 53 hosted zone ids are up to 32 characters (Route 53 API Reference, ResourceId) of upper-case letters and
# digits, given without the "/hostedzone/" prefix some API answers carry.
_HOSTED_ZONE_ID = re.compile(r"^[A-Z0-9]{1,32}$")
_DNS_LABEL = re.compile(r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")


class DnsConfig(_Model):
    """The app's public name as a Route 53 failover record (README, "Disaster recovery"): a primary stack declares
    the PRIMARY record with a health check, its standby the SECONDARY one, both aliases of their own ALB."""

    hosted_zone_id: str
    """the Route 53 hosted zone of the public name (`Z...`, without `/hostedzone/`)"""
    record_name: str
    """the public name, e.g. `scraper.example.com`"""

    @field_validator("hosted_zone_id")
    @classmethod
    def _zone_id(cls, value: str) -> str:
        if not _HOSTED_ZONE_ID.match(value):
            raise ValueError("must be a Route 53 hosted zone id: up to 32 upper-case letters and digits, like "
                             "Z0123456789ABCDEFGHIJ, without /hostedzone/")
        return value

    @field_validator("record_name")
    @classmethod
    def _record_name(cls, value: str) -> str:
        labels = value.split(".")
        if len(value) > 253 or len(labels) < 2 or not all(_DNS_LABEL.match(label) for label in labels):
            raise ValueError("must be a lower-case DNS name like scraper.example.com (labels of letters, digits and "
                             "inner hyphens, at most 63 characters each), without the trailing dot")
        return value


class StackConfig(_Model):
    region: str
    """primary region"""
    dr_region: str
    """DR region, different from the primary"""
    cluster: ClusterConfig
    """the EKS cluster"""
    namespace: str = Field(default=PROJECT, pattern=r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")
    """the app's namespace (never default or a system namespace)"""
    app: AppConfig
    """the app"""
    ops_image: str
    """the image the ops CronJobs run, pinned by digest"""
    autoscaling: AutoscalingConfig = AutoscalingConfig()
    """the HPA (KEDA ScaledObject)"""
    database: DatabaseConfig
    """the RDS primary"""
    dr: DrConfig
    """disaster recovery"""
    schedules: SchedulesConfig = SchedulesConfig()
    """the ops CronJobs' schedules, UTC"""
    alarms: AlarmsConfig = AlarmsConfig()
    """alarm thresholds and who they page"""
    maintenance: MaintenanceConfig = MaintenanceConfig()
    """the maintenance window"""
    slo: SloConfig = SloConfig()
    """service level objectives"""
    cost: CostConfig = CostConfig()
    """budget and cost tags"""
    snapshots: SnapshotRetentionConfig = SnapshotRetentionConfig()
    """manual snapshot expiry"""
    site: SiteConfig = SiteConfig()
    """the stack's part in the warm-standby design"""
    release: ReleaseConfig = ReleaseConfig()
    """staging before production"""
    dns: DnsConfig | None = None
    """the app's public name as a Route 53 failover record (none: no DNS switch)"""

    @field_validator("region")
    @classmethod
    def _region(cls, value: str) -> str:
        return _check_region(value)

    @field_validator("ops_image")
    @classmethod
    def _pinned(cls, value: str) -> str:
        return check_pinned_image(value)

    @field_validator("namespace")
    @classmethod
    def _not_default(cls, value: str) -> str:
        if value in {"default", "kube-system", "kube-public"}:
            raise ValueError("workloads must not run in a system or the default namespace")
        return value

    @field_validator("dr_region")
    @classmethod
    def _dr_region(cls, value: str, info: ValidationInfo) -> str:
        _check_region(value)
        if value == info.data.get("region"):
            raise ValueError(f"must differ from {REGION_KEY} ({value}): DR replicas need a second region")
        return value

    @field_validator("snapshots")
    @classmethod
    def _snapshots_outlive_automated_backups(cls, value: SnapshotRetentionConfig,
                                             info: ValidationInfo) -> SnapshotRetentionConfig:
        database = info.data.get("database")
        if database is not None and value.manual_retention_days < database.backup_retention_days:
            raise ValueError(f"manualRetentionDays ({value.manual_retention_days}) must be >= "
                             f"database.backupRetentionDays ({database.backup_retention_days})")
        return value


    @model_validator(mode="after")
    def _production_pages_someone(self) -> StackConfig:
        environment = self.cost.tags.get("Environment", "")
        if environment in PRODUCTION_ENVIRONMENTS and not (self.alarms.emails or self.alarms.https_endpoints):
            raise ValueError(
                f"{PROJECT}:alarms.emails = []: a production stack (cost tag Environment={environment}) must page "
                "someone; give at least one address in alarms.emails or an endpoint in alarms.httpsEndpoints")
        return self


def _key_of(loc: tuple[Any, ...]) -> str:
    parts = [str(p) for p in loc]
    if parts and parts[0] == "region":
        return REGION_KEY
    return f"{PROJECT}:{'.'.join(parts)}"


def _known_keys(loc: tuple[Any, ...]) -> list[str]:
    """The keys allowed beside the unknown key at `loc`."""
    model: type[BaseModel] = StackConfig
    for part in loc[:-1]:
        field = next((f for f in model.model_fields.values() if f.alias == part), None)
        if field is None or not (isinstance(field.annotation, type) and issubclass(field.annotation, BaseModel)):
            return []
        model = field.annotation
    return sorted(f.alias for f in model.model_fields.values() if f.alias != "region")


def _describe(error: Mapping[str, Any]) -> str:
    if not error["loc"]:  # a rule across groups: its message names the keys
        return error["msg"].removeprefix("Value error, ")
    key = _key_of(error["loc"])
    if error["type"] == "extra_forbidden":
        return f"{key}: unknown key (a typo?); allowed: {', '.join(_known_keys(error['loc']))}"
    if error["type"] == "missing":
        return f"{key}: required but not set"
    message = error["msg"].removeprefix("Value error, ")
    value = error["input"]
    if isinstance(value, BaseModel):
        value = value.model_dump(by_alias=True)
    return f"{key} = {json.dumps(value, default=str)}: {message}"


def _decode(value: Any) -> Any:
    """Pulumi hands object and list values to the program as JSON text; scalars stay strings."""
    if isinstance(value, str) and value[:1] in "{[":
        try:
            return json.loads(value)
        except json.JSONDecodeError:
            return value
    return value


def parse_stack_config(raw: Mapping[str, Any]) -> StackConfig:
    """Validate raw config (fully qualified keys like `social-media-scraper:app`) into a StackConfig."""
    values: dict[str, Any] = {}
    problems: list[str] = []
    for key, value in raw.items():
        if key == REGION_KEY:
            values["region"] = value
        elif key.startswith(f"{PROJECT}:"):
            name = key.split(":", 1)[1]
            if name == "region":
                problems.append(f"{key}: unknown key; the primary region is {REGION_KEY}")
                continue
            values[name] = _decode(value)
    try:
        config = StackConfig.model_validate(values)
    except ValidationError as error:
        problems.extend(_describe(e) for e in error.errors(include_url=False))
        raise ConfigError(problems) from None
    if problems:
        raise ConfigError(problems)
    return config


def load_from_pulumi() -> StackConfig:
    """Read the running program's config once.

    `pulumi.Config` can only look keys up, so unknown keys (typos) would pass
    silently; the runtime's config map is enumerated instead.
    """
    from pulumi.runtime import config as runtime_config

    raw = {**runtime_config.get_config_env(), **runtime_config.CONFIG.get()}
    return parse_stack_config(raw)
