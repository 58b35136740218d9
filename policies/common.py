"""Type tokens and small helpers shared by the rule modules."""

from __future__ import annotations

import json
import re
from decimal import Decimal
from typing import Any, Callable, Iterable, Iterator, Mapping

from pulumi_policy import ReportViolation, ResourceValidationArgs

AWS_PROVIDER = "pulumi:providers:aws"
RDS_INSTANCE = "aws:rds/instance:Instance"
RDS_BACKUP_REPLICATION = "aws:rds/instanceAutomatedBackupsReplication:InstanceAutomatedBackupsReplication"
S3_BUCKET = "aws:s3/bucket:Bucket"
S3_VERSIONING = "aws:s3/bucketVersioning:BucketVersioning"
S3_ENCRYPTION = "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration"
S3_PUBLIC_ACCESS_BLOCK = "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock"
S3_REPLICATION = "aws:s3/bucketReplicationConfig:BucketReplicationConfig"
SQS_QUEUE = "aws:sqs/queue:Queue"
SNS_TOPIC = "aws:sns/topic:Topic"
KMS_KEY = "aws:kms/key:Key"
DYNAMODB_TABLE = "aws:dynamodb/table:Table"
BACKUP_VAULT = "aws:backup/vault:Vault"
BACKUP_PLAN = "aws:backup/plan:Plan"
METRIC_ALARM = "aws:cloudwatch/metricAlarm:MetricAlarm"
IAM_ROLE = "aws:iam/role:Role"
IAM_ROLE_POLICY = "aws:iam/rolePolicy:RolePolicy"
IAM_POLICY = "aws:iam/policy:Policy"

K8S_DEPLOYMENT = "kubernetes:apps/v1:Deployment"
K8S_STATEFULSET = "kubernetes:apps/v1:StatefulSet"
K8S_DAEMONSET = "kubernetes:apps/v1:DaemonSet"
K8S_JOB = "kubernetes:batch/v1:Job"
K8S_CRONJOB = "kubernetes:batch/v1:CronJob"
K8S_POD = "kubernetes:core/v1:Pod"
K8S_HPA = "kubernetes:autoscaling/v2:HorizontalPodAutoscaler"
K8S_PDB = "kubernetes:policy/v1:PodDisruptionBudget"
K8S_NAMESPACE = "kubernetes:core/v1:Namespace"

WORKLOADS = (K8S_DEPLOYMENT, K8S_STATEFULSET, K8S_DAEMONSET, K8S_JOB, K8S_CRONJOB, K8S_POD)
STATEFUL = (RDS_INSTANCE, S3_BUCKET, BACKUP_VAULT, KMS_KEY, DYNAMODB_TABLE)

ResourceCheck = Callable[[ResourceValidationArgs, ReportViolation], None]


def only(types: Iterable[str], check: ResourceCheck) -> ResourceCheck:
    """A resource validation that runs `check` for the given types only."""
    wanted = frozenset(types)

    def validate(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
        if args.resource_type in wanted:
            check(args, report_violation)

    return validate


def stack_of(urn: str) -> str:
    return urn.split("::", 1)[0].removeprefix("urn:pulumi:")


def in_production(urn: str, config: Mapping[str, Any]) -> bool:
    return stack_of(urn) in config.get("productionStacks", ["prod"])


def short_type(type_token: str) -> str:
    return type_token.rsplit(":", 1)[-1]


def label(resource_type: str, name: str) -> str:
    return f"{short_type(resource_type)} {name}"


def provider_region(provider: Any) -> str | None:
    return (provider.props or {}).get("region") if provider is not None else None


def arn_region(arn: str) -> str | None:
    parts = arn.split(":")
    return parts[3] if len(parts) > 3 and parts[0] == "arn" else None


def pod_spec_of(resource_type: str, props: Mapping[str, Any]) -> Mapping[str, Any] | None:
    """The pod spec inside a workload manifest."""
    spec = props.get("spec") or {}
    if resource_type == K8S_POD:
        return spec
    if resource_type == K8S_CRONJOB:
        spec = (spec.get("jobTemplate") or {}).get("spec") or {}
    return (spec.get("template") or {}).get("spec")


def containers_of(pod_spec: Mapping[str, Any]) -> Iterator[Mapping[str, Any]]:
    yield from pod_spec.get("initContainers") or []
    yield from pod_spec.get("containers") or []


def policy_statements(document: Any) -> list[Mapping[str, Any]]:
    if isinstance(document, str):
        document = json.loads(document)
    statements = (document or {}).get("Statement") or []
    return [statements] if isinstance(statements, Mapping) else list(statements)


def as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return list(value) if isinstance(value, (list, tuple)) else [value]


def depends_on(resource: Any, prop: str, target_urn: str) -> bool:
    """Whether `resource`'s property `prop` was computed from the resource `target_urn`."""
    return any(dep.urn == target_urn for dep in (resource.property_dependencies or {}).get(prop, []))


def image_tag(image: str) -> str | None:
    """The tag of an image reference (None when it has none); a registry port is not a tag."""
    name = image.split("@", 1)[0]
    last_segment = name.rsplit("/", 1)[-1]
    return last_segment.split(":", 1)[1] if ":" in last_segment else None


_QUANTITY = re.compile(r"^(?P<number>\d+(\.\d+)?)(?P<suffix>m|k|M|G|T|P|Ki|Mi|Gi|Ti|Pi)?$")
_QUANTITY_FACTORS = {
    None: Decimal(1), "m": Decimal("0.001"),
    "k": Decimal(10) ** 3, "M": Decimal(10) ** 6, "G": Decimal(10) ** 9, "T": Decimal(10) ** 12, "P": Decimal(10) ** 15,
    "Ki": Decimal(2) ** 10, "Mi": Decimal(2) ** 20, "Gi": Decimal(2) ** 30, "Ti": Decimal(2) ** 40, "Pi": Decimal(2) ** 50,
}


def parse_quantity(value: str) -> Decimal:
    """A Kubernetes resource quantity (`500m`, `1000`, `512Mi`) as a number."""
    match = _QUANTITY.match(str(value).strip())
    if not match:
        raise ValueError(f"not a Kubernetes quantity: {value!r} (examples: 500m, 2, 512Mi, 1Gi)")
    return Decimal(match["number"]) * _QUANTITY_FACTORS[match["suffix"]]
