"""Rules for autoscaling: HPA bounds and targets no looser than the guide, and disruption budgets."""

from __future__ import annotations

from typing import Any

from pulumi_policy import (
    EnforcementLevel,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationArgs,
    StackValidationPolicy,
)

from .common import (
    EKS_ADDON,
    HELM_RELEASE,
    K8S_DEPLOYMENT,
    K8S_HPA,
    K8S_PDB,
    KEDA_SCALED_OBJECT,
    KEDA_TRIGGER_AUTHENTICATION,
    count,
    field,
    in_production,
    known,
    mapping,
    mappings,
    only,
    parse_quantity,
    short_type,
    stack_of,
    text,
)
from .thresholds import schema

MANDATORY = EnforcementLevel.MANDATORY
SCALERS = (K8S_HPA, KEDA_SCALED_OBJECT)


def _bounds(resource_type: str, spec: Any) -> tuple[Any, Any]:
    """Replica bounds at their documented defaults when unset; None where a bound is not a number."""
    if resource_type == KEDA_SCALED_OBJECT:  # KEDA's defaults: minReplicaCount 0, maxReplicaCount 100
        return count(field(spec, "minReplicaCount"), 0), count(field(spec, "maxReplicaCount"), 100)
    return count(field(spec, "minReplicas"), 1), count(field(spec, "maxReplicas"), 0)


def hpa_bounds(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    """HPAs and KEDA ScaledObjects (which KEDA turns into an HPA with the same bounds)."""
    kind = short_type(args.resource_type)
    minimum, maximum = _bounds(args.resource_type, field(args.props, "spec"))
    if minimum is None or maximum is None:
        report_violation(f"{kind} {args.name} has replica bounds that are not numbers; set both bounds.")
        return
    floor = args.get_config()["minReplicasInProduction"]
    if in_production(args.urn, args.get_config()) and minimum < floor:
        report_violation(
            f"{kind} {args.name} allows {minimum} replica(s) in production; set the minimum to at least {floor} "
            "so one pod's loss or eviction is not an outage."
        )
    if maximum <= minimum:
        report_violation(f"{kind} {args.name} cannot scale (maximum {maximum} <= minimum {minimum}); raise the maximum.")


def _targets(resource_type: str, spec: Any) -> tuple[dict[str, Any], Any]:
    """What a scaler scales on (cpu and memory utilization, queue depth) and its scale-up window."""
    found: dict[str, Any] = {}
    if resource_type == KEDA_SCALED_OBJECT:
        for trigger in mappings(field(spec, "triggers")):
            kind = text(field(trigger, "type"))
            metric_type = text(field(trigger, "metricType"))
            if kind in ("cpu", "memory"):
                # Utilization is a percent of the request; AverageValue would make `value` an absolute quantity.
                found[kind] = known(field(trigger, "metadata", "value")) if metric_type == "Utilization" else None
            elif kind == "aws-sqs-queue":
                # Value compares the whole queue with the target; KEDA's default AverageValue divides it by the
                # replicas (1000 per pod), which is looser than the guide. KEDA's default queueLength is 5.
                length = known(field(trigger, "metadata", "queueLength")) or "5"
                found["queue"] = length if metric_type == "Value" else None
        behavior = field(spec, "advanced", "horizontalPodAutoscalerConfig", "behavior")
    else:
        for metric in mappings(field(spec, "metrics")):
            kind = text(field(metric, "type"))
            if kind == "Resource":  # target type Utilization: averageUtilization, percent of the request
                found[text(field(metric, "resource", "name"))] = known(
                    field(metric, "resource", "target", "averageUtilization")
                )
            elif kind == "External":
                target = field(metric, "external", "target")
                found["queue"] = known(field(target, "value") or field(target, "averageValue"))
        behavior = field(spec, "behavior")
    return found, count(field(behavior, "scaleUp", "stabilizationWindowSeconds"), 0)


def _quantity(value: Any) -> Any:
    try:
        return parse_quantity(str(value))
    except ValueError:
        return None


def hpa_targets(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    config = args.get_config()
    kind = short_type(args.resource_type)
    found, window = _targets(args.resource_type, field(args.props, "spec"))
    limits = {"cpu": config["maxCpuTargetPercent"], "memory": config["maxMemoryTargetPercent"],
              "queue": config["maxQueueDepth"]}
    for name, limit in limits.items():
        if name not in found:
            continue
        target = _quantity(found[name]) if found[name] is not None else None
        if target is None or target > limit:
            what = "queue depth" if name == "queue" else f"{name} utilization"
            form = "metricType Value, " if name == "queue" and args.resource_type == KEDA_SCALED_OBJECT else (
                "metricType Utilization, " if args.resource_type == KEDA_SCALED_OBJECT else "")
            report_violation(
                f"{kind} {args.name} scales on {what} at {found[name]}; the guide scales at {limit}"
                f"{'' if name == 'queue' else '%'}, set {form}a target <= {limit}."
            )
    missing = [m for m in ("cpu", "memory", "queue") if m not in found]
    if missing:
        report_violation(f"{kind} {args.name} ignores {', '.join(missing)}; the guide scales on CPU, memory and queue depth.")
    if window is None or window > config["maxScaleUpStabilizationSeconds"]:
        report_violation(
            f"{kind} {args.name} waits {window} s before scaling up; the guide acts after "
            f"{config['maxScaleUpStabilizationSeconds']} s."
        )


def queue_scaling_has_source(args: StackValidationArgs, report_violation: ReportViolation) -> None:
    """A queue-depth trigger must be served by something the stack installs.

    A plain HPA's External metric needs a metrics adapter this stack does not install, and while a metric is
    unavailable the HPA controller does not scale down (Kubernetes docs, "Horizontal Pod Autoscaling"). A KEDA
    ScaledObject needs KEDA itself (its Helm release), the TriggerAuthentication it names, and for cpu/memory
    triggers the resource metrics API (metrics-server, which EKS does not install).
    """
    resources = args.resources
    keda_installed = any(
        r.resource_type == HELM_RELEASE and text(field(r.props, "chart")) == "keda" for r in resources
    )
    metrics_server = any(
        r.resource_type == EKS_ADDON and text(field(r.props, "addonName")) == "metrics-server"
        or r.resource_type == HELM_RELEASE and text(field(r.props, "chart")) == "metrics-server"
        for r in resources
    )
    authentications = {
        (text(field(r.props, "metadata", "namespace")), text(field(r.props, "metadata", "name")))
        for r in resources
        if r.resource_type == KEDA_TRIGGER_AUTHENTICATION
    }
    for resource in resources:
        spec = field(resource.props, "spec")
        if resource.resource_type == K8S_HPA:
            if any(text(field(m, "type")) == "External" for m in mappings(field(spec, "metrics"))):
                report_violation(
                    f"HPA {resource.name} scales on an External metric that nothing in the stack serves; use a KEDA "
                    "ScaledObject with the aws-sqs-queue trigger.",
                    resource.urn,
                )
        elif resource.resource_type == KEDA_SCALED_OBJECT:
            if not keda_installed:
                report_violation(
                    f"ScaledObject {resource.name} needs KEDA, which the stack does not install; add the keda Helm "
                    "release.",
                    resource.urn,
                )
            resource_triggers = {"cpu", "memory"} & {text(field(t, "type")) for t in mappings(field(spec, "triggers"))}
            if resource_triggers and not metrics_server:
                report_violation(
                    f"ScaledObject {resource.name} scales on {' and '.join(sorted(resource_triggers))}, which need "
                    "the resource metrics API; EKS does not install it: add the metrics-server EKS add-on.",
                    resource.urn,
                )
            namespace = text(field(resource.props, "metadata", "namespace"))
            for trigger in mappings(field(spec, "triggers")):
                reference = text(field(trigger, "authenticationRef", "name"))
                if reference and (namespace, reference) not in authentications:
                    report_violation(
                        f"ScaledObject {resource.name} trigger {text(field(trigger, 'type'))} names the "
                        f"TriggerAuthentication {reference}, which the stack does not declare in {namespace}.",
                        resource.urn,
                    )


def _selects(selector: Any, labels: Any) -> bool:
    wanted = mapping(field(selector, "matchLabels"))
    pod_labels = mapping(labels)
    return bool(wanted) and all(known(pod_labels.get(k)) == known(v) for k, v in wanted.items())


def pdb_allows_eviction(args: StackValidationArgs, report_violation: ReportViolation) -> None:
    """Each Deployment has a PDB covering its pods that still allows one eviction at the HPA's minimum."""
    resources = args.resources
    deployments = [r for r in resources if r.resource_type == K8S_DEPLOYMENT]
    if not deployments:
        return
    scalers: dict[tuple[str | None, str | None], Any] = {}
    pdbs: dict[str | None, list[Any]] = {}
    for resource in resources:
        if resource.resource_type in SCALERS or resource.resource_type == K8S_PDB:
            namespace = text(field(resource.props, "metadata", "namespace"))
            if resource.resource_type == K8S_PDB:
                pdbs.setdefault(namespace, []).append(resource)
            else:
                target = text(field(resource.props, "spec", "scaleTargetRef", "name"))
                scalers.setdefault((namespace, target), resource)
    for deployment in deployments:
        metadata, spec = field(deployment.props, "metadata"), field(deployment.props, "spec")
        labels = field(spec, "template", "metadata", "labels")
        namespace = text(field(metadata, "namespace"))
        covering = [p for p in pdbs.get(namespace, []) if _selects(field(p.props, "spec", "selector"), labels)]
        if not covering:
            report_violation(
                f"Deployment {deployment.name} has no PodDisruptionBudget; node drains could take all its pods "
                "at once. Add one with maxUnavailable: 1.",
                deployment.urn,
            )
            continue
        scaler = scalers.get((namespace, text(field(metadata, "name"))))
        floor = (
            _bounds(scaler.resource_type, field(scaler.props, "spec"))[0] if scaler else count(field(spec, "replicas"), 1)
        )
        for pdb in covering:
            min_available = known(field(pdb.props, "spec", "minAvailable"))
            max_unavailable = known(field(pdb.props, "spec", "maxUnavailable"))
            blocked = (isinstance(min_available, int) and min_available >= floor) or max_unavailable in (0, "0%") or (
                isinstance(min_available, str) and min_available == "100%"
            )
            if blocked:
                report_violation(
                    f"PodDisruptionBudget {pdb.name} allows no eviction at {floor} replicas of {deployment.name}, "
                    "so node drains and upgrades block; use maxUnavailable: 1.",
                    pdb.urn,
                )


# KEDA stops autoscaling a ScaledObject that carries either annotation, holding the target at the given count or
# where it is (KEDA docs, "Scaling Deployments, StatefulSets & Custom Resources", Pausing autoscaling).
PAUSE_ANNOTATIONS = ("autoscaling.keda.sh/paused-replicas", "autoscaling.keda.sh/paused")


def paused_only_on_standby(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    """A warm standby's app waits paused at zero replicas; anywhere else a paused scaler is an app that does not
    scale (or does not run) without anyone noticing."""
    annotations = mapping(field(args.props, "metadata", "annotations"))
    paused = [name for name in PAUSE_ANNOTATIONS if name in annotations]
    if paused and stack_of(args.urn) not in args.get_config()["standbyStacks"]:
        report_violation(
            f"ScaledObject {args.name} is paused ({', '.join(paused)}) in a stack that is not a warm standby; remove "
            "the annotation, or list the stack in the pack's standbyStacks if it is one."
        )


POLICIES = [
    ResourceValidationPolicy(
        name="hpa-bounds", description="HPAs and ScaledObjects keep at least two replicas in production and can scale.",
        validate=only(SCALERS, hpa_bounds), enforcement_level=MANDATORY,
        config_schema=schema("minReplicasInProduction", "productionStacks"),
    ),
    ResourceValidationPolicy(
        name="hpa-targets-within-guide",
        description="HPAs and ScaledObjects scale on CPU, memory and queue depth at targets no looser than the guide.",
        validate=only(SCALERS, hpa_targets), enforcement_level=MANDATORY,
        config_schema=schema("maxCpuTargetPercent", "maxMemoryTargetPercent", "maxQueueDepth",
                             "maxScaleUpStabilizationSeconds"),
    ),
    StackValidationPolicy(
        name="queue-scaling-has-metric-source",
        description="Queue-depth scaling is served by what the stack installs (KEDA), never by a missing adapter.",
        validate=queue_scaling_has_source, enforcement_level=MANDATORY,
    ),
    StackValidationPolicy(
        name="pdb-allows-eviction",
        description="Every Deployment has a PodDisruptionBudget that still allows an eviction at HPA minimum.",
        validate=pdb_allows_eviction, enforcement_level=MANDATORY,
    ),
    ResourceValidationPolicy(
        name="scaler-paused-only-on-standby",
        description="Only a warm-standby stack's ScaledObject may be paused (its app waits at zero replicas).",
        validate=only([KEDA_SCALED_OBJECT], paused_only_on_standby), enforcement_level=MANDATORY,
        config_schema=schema("standbyStacks"),
    ),
]
