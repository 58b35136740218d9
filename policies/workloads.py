"""Rules for pods: resources, probes, the restricted Pod Security Standard, pinned images, namespaces, tokens."""

from __future__ import annotations

from pulumi_policy import EnforcementLevel, ReportViolation, ResourceValidationArgs, ResourceValidationPolicy

from .common import (
    K8S_DEPLOYMENT,
    K8S_STATEFULSET,
    WORKLOADS,
    containers_of,
    image_tag,
    label,
    only,
    pod_spec_of,
    short_type,
)

MANDATORY = EnforcementLevel.MANDATORY
NEEDS_API_TOKEN = "scraper.io/needs-api-token"
SYSTEM_NAMESPACES = {"", "default", "kube-system", "kube-public", "kube-node-lease"}
CLUSTER_SCOPED_KINDS = {
    "Namespace", "ClusterRole", "ClusterRoleBinding", "CustomResourceDefinition", "StorageClass", "PriorityClass",
    "PersistentVolume", "MutatingWebhookConfiguration", "ValidatingWebhookConfiguration", "IngressClass",
}


def _pod(args: ResourceValidationArgs):
    return pod_spec_of(args.resource_type, args.props) or {}


def resources_set(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    for container in containers_of(_pod(args)):
        resources = container.get("resources") or {}
        requests, limits = resources.get("requests") or {}, resources.get("limits") or {}
        missing = [f"requests.{k}" for k in ("cpu", "memory") if k not in requests] + [
            f"limits.{k}" for k in ("cpu", "memory") if k not in limits
        ]
        if missing:
            report_violation(
                f"{label(args.resource_type, args.name)} container {container.get('name')} has no "
                f"{', '.join(missing)}; set CPU and memory requests and limits."
            )


def probes_set(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    for container in (_pod(args).get("containers") or []):
        missing = [p for p in ("readinessProbe", "livenessProbe") if not container.get(p)]
        if missing:
            report_violation(
                f"{label(args.resource_type, args.name)} container {container.get('name')} has no "
                f"{' or '.join(missing)}; add HTTP probes on the health endpoints."
            )


def restricted_pod_security(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    pod = _pod(args)
    pod_context = pod.get("securityContext") or {}
    where = label(args.resource_type, args.name)
    if pod.get("hostNetwork") or pod.get("hostPID") or pod.get("hostIPC"):
        report_violation(f"{where} shares host namespaces; remove hostNetwork/hostPID/hostIPC.")
    for container in containers_of(pod):
        context = container.get("securityContext") or {}
        name = container.get("name")
        problems = []
        if not (context.get("runAsNonRoot", pod_context.get("runAsNonRoot"))):
            problems.append("runAsNonRoot: true")
        if context.get("allowPrivilegeEscalation") is not False:
            problems.append("allowPrivilegeEscalation: false")
        if context.get("privileged"):
            problems.append("privileged: false")
        if not context.get("readOnlyRootFilesystem"):
            problems.append("readOnlyRootFilesystem: true")
        if "ALL" not in ((context.get("capabilities") or {}).get("drop") or []):
            problems.append("capabilities.drop: [ALL]")
        seccomp = (context.get("seccompProfile") or pod_context.get("seccompProfile") or {}).get("type")
        if seccomp not in ("RuntimeDefault", "Localhost"):
            problems.append("seccompProfile.type: RuntimeDefault")
        if problems:
            report_violation(
                f"{where} container {name} breaks the restricted pod security standard; set "
                f"{', '.join(problems)} in its securityContext."
            )


def pinned_images(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    for container in containers_of(_pod(args)):
        image = container.get("image") or ""
        if "@sha256:" not in image and (image_tag(image) in (None, "latest")):
            report_violation(
                f"{label(args.resource_type, args.name)} container {container.get('name')} runs the unpinned image "
                f"'{image}'; pin a release tag or a sha256 digest."
            )


def not_in_default_namespace(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    if not args.resource_type.startswith("kubernetes:") or short_type(args.resource_type) in CLUSTER_SCOPED_KINDS:
        return
    namespace = (args.props.get("metadata") or {}).get("namespace") or ""
    if namespace in SYSTEM_NAMESPACES:
        report_violation(
            f"{label(args.resource_type, args.name)} is in the '{namespace or 'default'}' namespace; "
            "put it in the application's namespace."
        )


def no_service_account_token(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    annotations = (args.props.get("metadata") or {}).get("annotations") or {}
    if annotations.get(NEEDS_API_TOKEN) == "true":
        return
    if _pod(args).get("automountServiceAccountToken") is not False:
        report_violation(
            f"{label(args.resource_type, args.name)} mounts a Kubernetes API token it does not need; set "
            f"automountServiceAccountToken: false (or annotate {NEEDS_API_TOKEN}: \"true\")."
        )


POLICIES = [
    ResourceValidationPolicy(
        name="k8s-resources-set", description="Every container sets CPU and memory requests and limits.",
        validate=only(WORKLOADS, resources_set), enforcement_level=MANDATORY,
    ),
    ResourceValidationPolicy(
        name="k8s-probes-set", description="Long-running containers have readiness and liveness probes.",
        validate=only([K8S_DEPLOYMENT, K8S_STATEFULSET], probes_set), enforcement_level=MANDATORY,
    ),
    ResourceValidationPolicy(
        name="k8s-restricted-pod-security",
        description="Pods meet the restricted Pod Security Standard and have a read-only root filesystem.",
        validate=only(WORKLOADS, restricted_pod_security), enforcement_level=MANDATORY,
    ),
    ResourceValidationPolicy(
        name="k8s-pinned-images", description="Images are pinned to a release tag or digest, never latest.",
        validate=only(WORKLOADS, pinned_images), enforcement_level=MANDATORY,
    ),
    ResourceValidationPolicy(
        name="k8s-not-default-namespace", description="Namespaced objects are not in default or system namespaces.",
        validate=not_in_default_namespace, enforcement_level=MANDATORY,
    ),
    ResourceValidationPolicy(
        name="k8s-no-service-account-token", description="Pods do not mount an API token they do not need.",
        validate=only(WORKLOADS, no_service_account_token), enforcement_level=MANDATORY,
    ),
]
