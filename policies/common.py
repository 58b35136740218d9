"""Type tokens and small helpers shared by the rule modules.

Rules read resource properties only through `field` and the typed readers below, which makes them total:
an absent field, None, or a value of the wrong type reads as "not set" (None, {} or []), never as an exception.
Unknown values (during `pulumi preview`, outputs of resources not created yet and inputs computed from them)
reach a policy as pulumi-policy's sentinels behind `unknown_checking_proxy`, which raises UnknownValueError on
reading one. `field` turns that into an `Unknown`, and each rule decides:
- a presence check ("is a KMS key set?") counts an Unknown as set: the program wired an output in, the engine
  fills it at update time;
- a value check (compare, parse, match) cannot be decided: `known` re-raises UnknownValueError, which
  pulumi-policy reports as "can't run policy during preview" (advisory), and the engine runs the rule again
  with the real values on `pulumi up`. Never a silent pass.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from decimal import Decimal
from typing import Any

from pulumi_policy import ReportViolation, ResourceValidationArgs
from pulumi_policy import proxy
from pulumi_policy.proxy import UnknownValueError

RDS_INSTANCE = "aws:rds/instance:Instance"
RDS_BACKUP_REPLICATION = "aws:rds/instanceAutomatedBackupsReplication:InstanceAutomatedBackupsReplication"
S3_BUCKET = "aws:s3/bucket:Bucket"
S3_VERSIONING = "aws:s3/bucketVersioning:BucketVersioning"
S3_ENCRYPTION = "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration"
S3_PUBLIC_ACCESS_BLOCK = "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock"
S3_REPLICATION = "aws:s3/bucketReplicationConfig:BucketReplicationConfig"
SQS_QUEUE = "aws:sqs/queue:Queue"
SNS_TOPIC = "aws:sns/topic:Topic"
SNS_SUBSCRIPTION = "aws:sns/topicSubscription:TopicSubscription"
KMS_KEY = "aws:kms/key:Key"
DYNAMODB_TABLE = "aws:dynamodb/table:Table"
BACKUP_VAULT = "aws:backup/vault:Vault"
BACKUP_PLAN = "aws:backup/plan:Plan"
METRIC_ALARM = "aws:cloudwatch/metricAlarm:MetricAlarm"
COMPOSITE_ALARM = "aws:cloudwatch/compositeAlarm:CompositeAlarm"
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
KEDA_SCALED_OBJECT = "kubernetes:keda.sh/v1alpha1:ScaledObject"
KEDA_TRIGGER_AUTHENTICATION = "kubernetes:keda.sh/v1alpha1:TriggerAuthentication"
HELM_RELEASE = "kubernetes:helm.sh/v3:Release"
EKS_ADDON = "aws:eks/addon:Addon"
SECRET = "aws:secretsmanager/secret:Secret"
SECRET_VERSION = "aws:secretsmanager/secretVersion:SecretVersion"
ROUTE53_RECORD = "aws:route53/record:Record"
ROUTE53_HEALTH_CHECK = "aws:route53/healthCheck:HealthCheck"

BACKUP_SELECTION = "aws:backup/selection:Selection"
DASHBOARD = "aws:cloudwatch/dashboard:Dashboard"
IAM_ROLE_POLICY_ATTACHMENT = "aws:iam/rolePolicyAttachment:RolePolicyAttachment"
KMS_ALIAS = "aws:kms/alias:Alias"
S3_LIFECYCLE = "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration"
S3_OWNERSHIP_CONTROLS = "aws:s3/bucketOwnershipControls:BucketOwnershipControls"
S3_BUCKET_POLICY = "aws:s3/bucketPolicy:BucketPolicy"
SQS_REDRIVE_ALLOW_POLICY = "aws:sqs/redriveAllowPolicy:RedriveAllowPolicy"

# AWS types by whether the pulumi-aws resource takes a `tags` argument, as pulumi-aws 7 declares them
# (tests/policies/test_cost_tags.py reads each from the installed SDK). The cost rule looks types up here rather than
# importing pulumi-aws, whose packages for these types hold over 500 modules (about a second to import).
TAGGABLE = frozenset({
    RDS_INSTANCE, S3_BUCKET, SQS_QUEUE, SNS_TOPIC, KMS_KEY, DYNAMODB_TABLE, BACKUP_VAULT, BACKUP_PLAN, METRIC_ALARM,
    COMPOSITE_ALARM, IAM_ROLE, IAM_POLICY, EKS_ADDON, SECRET, ROUTE53_HEALTH_CHECK,
})
UNTAGGED = frozenset({
    RDS_BACKUP_REPLICATION, S3_VERSIONING, S3_ENCRYPTION, S3_PUBLIC_ACCESS_BLOCK, S3_REPLICATION, S3_LIFECYCLE,
    S3_OWNERSHIP_CONTROLS, S3_BUCKET_POLICY, SNS_SUBSCRIPTION, SQS_REDRIVE_ALLOW_POLICY, IAM_ROLE_POLICY,
    IAM_ROLE_POLICY_ATTACHMENT, KMS_ALIAS, SECRET_VERSION, BACKUP_SELECTION, DASHBOARD, ROUTE53_RECORD,
})

WORKLOADS = (K8S_DEPLOYMENT, K8S_STATEFULSET, K8S_DAEMONSET, K8S_JOB, K8S_CRONJOB, K8S_POD)
STATEFUL = (RDS_INSTANCE, S3_BUCKET, BACKUP_VAULT, KMS_KEY, DYNAMODB_TABLE, SECRET)

UNKNOWN_SENTINELS = frozenset({
    proxy.UNKNOWN_BOOLEAN_VALUE, proxy.UNKNOWN_NUMBER_VALUE, proxy.UNKNOWN_STRING_VALUE, proxy.UNKNOWN_ARRAY_VALUE,
    proxy.UNKNOWN_ASSET_VALUE, proxy.UNKNOWN_ARCHIVE_VALUE, proxy.UNKNOWN_OBJECT_VALUE,
})


class Unknown:
    """A value the engine will know only at update time; truthy, because the field it stands for is set."""

    def __init__(self, error: UnknownValueError):
        self.error = error

    def __bool__(self) -> bool:
        return True

    def __repr__(self) -> str:
        return "<unknown until update>"


def field(value: Any, *path: str | int) -> Any:
    """`value[path[0]][path[1]]...`: None where a step is absent or of the wrong type, Unknown where unknown."""
    for key in path:
        if isinstance(value, Unknown):
            return value
        try:
            if isinstance(key, str) and isinstance(value, Mapping):
                value = value.get(key)
            elif isinstance(key, int) and is_sequence(value) and -len(value) <= key < len(value):
                value = value[key]
            else:
                return None
        except UnknownValueError as error:
            return Unknown(error)
        if isinstance(value, str) and value in UNKNOWN_SENTINELS:  # a raw sentinel, outside the proxy
            return Unknown(UnknownValueError(value, [str(k) for k in path]))
    return value


def known(value: Any) -> Any:
    """The value, for a rule that must look at it; an Unknown re-raises the engine's UnknownValueError."""
    if isinstance(value, Unknown):
        raise value.error
    return value


def is_sequence(value: Any) -> bool:
    return isinstance(value, Sequence) and not isinstance(value, (str, bytes))


def number(value: Any) -> int | float | None:
    value = known(value)
    return value if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def count(value: Any, default: int) -> int | float | None:
    """A Kubernetes integer field: its documented default when unset, None when it is not a number."""
    return default if value is None else number(value)


def is_true(value: Any) -> bool:
    """A boolean flag that must be set to true (a string "true" is not true)."""
    return known(value) is True


def text(value: Any) -> str | None:
    value = known(value)
    return value if isinstance(value, str) else None


def mapping(value: Any) -> Mapping[str, Any]:
    value = known(value)
    return value if isinstance(value, Mapping) else {}


def elements(value: Any) -> list[Any]:
    """The elements of a list field ([] when absent or not a list); unknown elements as Unknown."""
    value = known(value)
    return [field(value, index) for index in range(len(value))] if is_sequence(value) else []


def mappings(value: Any) -> list[Mapping[str, Any]]:
    """The objects of a list-of-objects field; an unknown element cannot be looked into, so it raises."""
    return [element for element in map(known, elements(value)) if isinstance(element, Mapping)]


def texts(value: Any) -> list[str]:
    """A string-or-list-of-strings field (IAM Action, Resource) as a list of its known strings."""
    return [text(value)] if isinstance(known(value), str) else [t for t in map(text, elements(value)) if t is not None]


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
    """The region of an AWS provider; an unknown region cannot be compared, so it raises."""
    return text(field(provider.props, "region")) if provider is not None else None


def provider_default_tags(provider: Any) -> Mapping[str, Any]:
    """The tags an AWS provider applies to every taggable resource it manages (its `defaultTags.tags`); {} if none.

    Provider inputs travel JSON-encoded: pulumi-aws's Provider sends `default_tags` through
    `pulumi.runtime.to_json` (pulumi_aws/provider.py), so a policy gets the text `{"tags": {...}}`, not an object
    (pulumi/pulumi#15477, "aws:defaultTags has wrong type when used within a policy"). Both forms read the same.
    """
    if provider is None:
        return {}
    return mapping(field(decoded(field(provider.props, "defaultTags")), "tags"))


def arn_region(arn: Any) -> str | None:
    parts = (text(arn) or "").split(":")
    return parts[3] if len(parts) > 3 and parts[0] == "arn" else None


def pod_spec_of(resource_type: str, props: Mapping[str, Any]) -> Mapping[str, Any]:
    """The pod spec inside a workload manifest ({} when there is none)."""
    spec = field(props, "spec")
    if resource_type == K8S_POD:
        return mapping(spec)
    if resource_type == K8S_CRONJOB:
        spec = field(spec, "jobTemplate", "spec")
    return mapping(field(spec, "template", "spec"))


def containers_of(pod_spec: Mapping[str, Any]) -> Iterator[Mapping[str, Any]]:
    yield from mappings(field(pod_spec, "initContainers"))
    yield from mappings(field(pod_spec, "containers"))


def decoded(value: Any) -> Any:
    """A known value, JSON text decoded (None when the text is not JSON): what travels as text or as an object."""
    value = known(value)
    if not isinstance(value, str):
        return value
    try:
        return json.loads(value)
    except ValueError:
        return None


def policy_statements(document: Any) -> list[Mapping[str, Any]]:
    """The statements of an IAM policy document (JSON text or object); [] when it is not one."""
    statements = field(decoded(document), "Statement")
    return [mapping(statements)] if isinstance(known(statements), Mapping) else mappings(statements)


def computed_from(resource: Any, prop: str) -> list[str]:
    """The URNs of the resources `resource`'s property `prop` was computed from, each once, in the engine's order."""
    return list(dict.fromkeys(dep.urn for dep in (resource.property_dependencies or {}).get(prop, [])))


class StackIndex:
    """A stack's resources indexed once per rule: by type, and by the resources each property was computed from.

    A stack rule that relates resources (the alarms watching a queue, the versioning of a bucket) looks the other
    side up here instead of scanning the stack once per resource, so its time grows linearly with the stack.
    Lists keep the stack's order, so violations come in the order a scan would find them.
    """

    def __init__(self, resources: Iterable[Any]):
        self._by_type: dict[str, list[Any]] = {}
        self._dependents: dict[tuple[str, str], list[Any]] = {}
        for resource in resources:
            self._by_type.setdefault(resource.resource_type, []).append(resource)
            for prop in resource.property_dependencies or {}:
                for urn in computed_from(resource, prop):
                    self._dependents.setdefault((urn, prop), []).append(resource)

    def of_type(self, resource_type: str) -> list[Any]:
        return self._by_type.get(resource_type, [])

    def dependents(self, urn: str, prop: str, resource_type: str) -> list[Any]:
        """The resources of `resource_type` whose property `prop` was computed from the resource `urn`."""
        return [r for r in self._dependents.get((urn, prop), []) if r.resource_type == resource_type]


def image_tag(image: str) -> str | None:
    """The tag of an image reference (None when it has none); a registry port is not a tag."""
    name = image.split("@", 1)[0]
    last_segment = name.rsplit("/", 1)[-1]
    return last_segment.split(":", 1)[1] if ":" in last_segment else None


_QUANTITY = re.compile(r"^(?P<number>\d+(\.\d+)?)(?P<suffix>m|k|M|G|T|P|Ki|Mi|Gi|Ti|Pi)?$")
_QUANTITY_FACTORS = {
    None: Decimal(1), "m": Decimal("0.001"),
    "k": Decimal(10) ** 3, "M": Decimal(10) ** 6, "G": Decimal(10) ** 9, "T": Decimal(10) ** 12, "P": Decimal(10) ** 15,
    "Ki": Decimal(2) ** 10, "Mi": Decimal(2) ** 20, "Gi": Decimal(2) ** 30,
    "Ti": Decimal(2) ** 40, "Pi": Decimal(2) ** 50,
}


def parse_quantity(value: str) -> Decimal:
    """A Kubernetes resource quantity (`500m`, `1000`, `512Mi`) as a number."""
    match = _QUANTITY.match(str(value).strip())
    if not match:
        raise ValueError(f"not a Kubernetes quantity: {value!r} (examples: 500m, 2, 512Mi, 1Gi)")
    return Decimal(match["number"]) * _QUANTITY_FACTORS[match["suffix"]]
