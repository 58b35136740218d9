"""Rules for pods: resources, probes, the restricted Pod Security Standard, pinned images, namespaces, tokens."""

from __future__ import annotations

from pulumi_policy import EnforcementLevel, ReportViolation, ResourceValidationArgs, ResourceValidationPolicy

from .common import (
    HELM_RELEASE,
    K8S_DEPLOYMENT,
    K8S_STATEFULSET,
    WORKLOADS,
    containers_of,
    field,
    in_production,
    image_tag,
    is_true,
    known,
    label,
    mappings,
    only,
    pod_spec_of,
    short_type,
    text,
    texts,
)
from .thresholds import schema

MANDATORY = EnforcementLevel.MANDATORY
NEEDS_API_TOKEN = "scraper.io/needs-api-token"
SYSTEM_NAMESPACES = {"", "default", "kube-system", "kube-public", "kube-node-lease"}
CLUSTER_SCOPED_KINDS = {
    "Namespace", "ClusterRole", "ClusterRoleBinding", "CustomResourceDefinition", "StorageClass", "PriorityClass",
    "PersistentVolume", "MutatingWebhookConfiguration", "ValidatingWebhookConfiguration", "IngressClass",
}


def _pod(args: ResourceValidationArgs):
    return pod_spec_of(args.resource_type, args.props)


def resources_set(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    for container in containers_of(_pod(args)):
        requests, limits = field(container, "resources", "requests"), field(container, "resources", "limits")
        missing = [f"requests.{k}" for k in ("cpu", "memory") if field(requests, k) is None] + [
            f"limits.{k}" for k in ("cpu", "memory") if field(limits, k) is None
        ]
        if missing:
            report_violation(
                f"{label(args.resource_type, args.name)} container {field(container, 'name')} has no "
                f"{', '.join(missing)}; set CPU and memory requests and limits."
            )


def probes_set(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    for container in mappings(field(_pod(args), "containers")):
        missing = [p for p in ("readinessProbe", "livenessProbe") if not field(container, p)]
        if missing:
            report_violation(
                f"{label(args.resource_type, args.name)} container {field(container, 'name')} has no "
                f"{' or '.join(missing)}; add HTTP probes on the health endpoints."
            )


def restricted_pod_security(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    pod = _pod(args)
    pod_context = field(pod, "securityContext")
    where = label(args.resource_type, args.name)
    if any(known(field(pod, shared)) for shared in ("hostNetwork", "hostPID", "hostIPC")):
        report_violation(f"{where} shares host namespaces; remove hostNetwork/hostPID/hostIPC.")
    for container in containers_of(pod):
        context = field(container, "securityContext")
        name = field(container, "name")
        problems = []
        # A container setting overrides the pod's (Kubernetes SecurityContext docs).
        non_root = field(context, "runAsNonRoot")
        if not is_true(field(pod_context, "runAsNonRoot") if non_root is None else non_root):
            problems.append("runAsNonRoot: true")
        if known(field(context, "allowPrivilegeEscalation")) is not False:
            problems.append("allowPrivilegeEscalation: false")
        if known(field(context, "privileged")):
            problems.append("privileged: false")
        if not is_true(field(context, "readOnlyRootFilesystem")):
            problems.append("readOnlyRootFilesystem: true")
        if "ALL" not in texts(field(context, "capabilities", "drop")):
            problems.append("capabilities.drop: [ALL]")
        profile = field(context, "seccompProfile")
        seccomp = text(field(field(pod_context, "seccompProfile") if profile is None else profile, "type"))
        if seccomp not in ("RuntimeDefault", "Localhost"):
            problems.append("seccompProfile.type: RuntimeDefault")
        if problems:
            report_violation(
                f"{where} container {name} breaks the restricted pod security standard; set "
                f"{', '.join(problems)} in its securityContext."
            )


def pinned_images(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    """Production runs images pinned by content (`repo:tag@sha256:...`): a tag can be moved to other content.
    Other stacks may run a release tag; no stack runs `latest` or an untagged image."""
    production = in_production(args.urn, args.get_config())
    for container in containers_of(_pod(args)):
        image = text(field(container, "image")) or ""
        digest = "@sha256:" in image
        if production and not digest:
            report_violation(
                f"{label(args.resource_type, args.name)} container {text(field(container, 'name'))} runs '{image}' "
                "in production without a digest; pin it as repo:tag@sha256:<digest>."
            )
        elif not digest and image_tag(image) in (None, "latest"):
            report_violation(
                f"{label(args.resource_type, args.name)} container {field(container, 'name')} runs the unpinned image "
                f"'{image}'; pin a release tag or a sha256 digest."
            )


def not_in_default_namespace(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    if not args.resource_type.startswith("kubernetes:") or short_type(args.resource_type) in CLUSTER_SCOPED_KINDS:
        return
    if args.resource_type == HELM_RELEASE:
        namespace = text(field(args.props, "namespace")) or ""
    else:
        namespace = text(field(args.props, "metadata", "namespace")) or ""
    if namespace in SYSTEM_NAMESPACES:
        report_violation(
            f"{label(args.resource_type, args.name)} is in the '{namespace or 'default'}' namespace; "
            "put it in the application's namespace."
        )


def no_service_account_token(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    if text(field(args.props, "metadata", "annotations", NEEDS_API_TOKEN)) == "true":
        return
    if known(field(_pod(args), "automountServiceAccountToken")) is not False:
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
        name="k8s-pinned-images",
        description="Images are pinned by digest in production, to a release tag or digest elsewhere, never latest.",
        validate=only(WORKLOADS, pinned_images), enforcement_level=MANDATORY,
        config_schema=schema("productionStacks"),
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
