"""Rules for autoscaling: HPA bounds and targets no looser than the guide, and disruption budgets."""

from __future__ import annotations

from typing import Any, Mapping

from pulumi_policy import (
    EnforcementLevel,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationArgs,
    StackValidationPolicy,
)

from infra.quantities import parse_quantity
from policies.common import (
    HELM_RELEASE,
    K8S_DEPLOYMENT,
    K8S_HPA,
    K8S_PDB,
    KEDA_SCALED_OBJECT,
    KEDA_TRIGGER_AUTHENTICATION,
    in_production,
    only,
    short_type,
)
from policies.thresholds import schema

MANDATORY = EnforcementLevel.MANDATORY
SCALERS = (K8S_HPA, KEDA_SCALED_OBJECT)


def _bounds(resource_type: str, spec: Mapping[str, Any]) -> tuple[Any, Any]:
    if resource_type == KEDA_SCALED_OBJECT:
        return spec.get("minReplicaCount", 1), spec.get("maxReplicaCount", 100)  # KEDA's documented defaults
    return spec.get("minReplicas", 1), spec.get("maxReplicas", 0)


def hpa_bounds(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    """HPAs and KEDA ScaledObjects (which KEDA turns into an HPA with the same bounds)."""
    spec = args.props.get("spec") or {}
    minimum, maximum = _bounds(args.resource_type, spec)
    if not isinstance(minimum, int) or not isinstance(maximum, int):
        return  # unknown during a preview; checked again with the real values at update time
    floor = args.get_config()["minReplicasInProduction"]
    if in_production(args.urn, args.get_config()) and minimum < floor:
        report_violation(
            f"{short_type(args.resource_type)} {args.name} allows {minimum} replica(s) in production; set the "
            f"minimum to at least {floor} so one pod's loss or eviction is not an outage."
        )
    if maximum <= minimum:
        report_violation(
            f"{short_type(args.resource_type)} {args.name} cannot scale (maximum {maximum} <= minimum {minimum}); "
            "raise the maximum."
        )


def _targets(resource_type: str, spec: Mapping[str, Any]) -> tuple[dict[str, Any], Any]:
    """What a scaler scales on (cpu and memory utilization, queue depth) and its scale-up window."""
    found: dict[str, Any] = {}
    if resource_type == KEDA_SCALED_OBJECT:
        for trigger in spec.get("triggers") or []:
            metadata = trigger.get("metadata") or {}
            if trigger.get("type") in ("cpu", "memory"):
                found[trigger["type"]] = metadata.get("value")
            elif trigger.get("type") == "aws-sqs-queue":
                found["queue"] = metadata.get("queueLength", "5")  # KEDA's documented default
        config = (spec.get("advanced") or {}).get("horizontalPodAutoscalerConfig") or {}
        behavior = config.get("behavior") or {}
    else:
        for metric in spec.get("metrics") or []:
            if metric.get("type") == "Resource":
                resource = metric.get("resource") or {}
                found[resource.get("name")] = (resource.get("target") or {}).get("averageUtilization")
            elif metric.get("type") == "External":
                target = (metric.get("external") or {}).get("target") or {}
                found["queue"] = target.get("value") or target.get("averageValue")
        behavior = spec.get("behavior") or {}
    return found, (behavior.get("scaleUp") or {}).get("stabilizationWindowSeconds", 0)


def hpa_targets(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    config = args.get_config()
    kind = short_type(args.resource_type)
    found, window = _targets(args.resource_type, args.props.get("spec") or {})
    limits = {"cpu": config["maxCpuTargetPercent"], "memory": config["maxMemoryTargetPercent"],
              "queue": config["maxQueueDepth"]}
    for name, limit in limits.items():
        if name not in found:
            continue
        try:
            target = parse_quantity(str(found[name]))
        except ValueError:
            target = None
        if target is None or target > limit:
            what = "queue depth" if name == "queue" else f"{name} utilization"
            report_violation(
                f"{kind} {args.name} scales on {what} at {found[name]}; the guide scales at {limit}"
                f"{'' if name == 'queue' else '%'}, set a target <= {limit}."
            )
    missing = [m for m in ("cpu", "memory", "queue") if m not in found]
    if missing:
        report_violation(f"{kind} {args.name} ignores {', '.join(missing)}; the guide scales on CPU, memory and queue depth.")
    if isinstance(window, int) and window > config["maxScaleUpStabilizationSeconds"]:
        report_violation(
            f"{kind} {args.name} waits {window} s before scaling up; the guide acts after "
            f"{config['maxScaleUpStabilizationSeconds']} s."
        )


def queue_scaling_has_source(args: StackValidationArgs, report_violation: ReportViolation) -> None:
    """A queue-depth trigger must be served by something the stack installs.

    A plain HPA's External metric needs a metrics adapter this stack does not install, and while a metric is
    unavailable the HPA controller does not scale down (Kubernetes docs, "Horizontal Pod Autoscaling"). A KEDA
    ScaledObject needs KEDA itself (its Helm release) and the TriggerAuthentication it names.
    """
    resources = args.resources
    keda_installed = any(r.resource_type == HELM_RELEASE and r.props.get("chart") == "keda" for r in resources)
    authentications = {
        ((r.props.get("metadata") or {}).get("namespace"), (r.props.get("metadata") or {}).get("name"))
        for r in resources
        if r.resource_type == KEDA_TRIGGER_AUTHENTICATION
    }
    for resource in resources:
        spec = resource.props.get("spec") or {}
        if resource.resource_type == K8S_HPA:
            if any(m.get("type") == "External" for m in spec.get("metrics") or []):
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
            namespace = (resource.props.get("metadata") or {}).get("namespace")
            for trigger in spec.get("triggers") or []:
                reference = (trigger.get("authenticationRef") or {}).get("name")
                if reference and (namespace, reference) not in authentications:
                    report_violation(
                        f"ScaledObject {resource.name} trigger {trigger.get('type')} names the TriggerAuthentication "
                        f"{reference}, which the stack does not declare in {namespace}.",
                        resource.urn,
                    )


def _selects(selector: Mapping[str, Any], labels: Mapping[str, str]) -> bool:
    wanted = selector.get("matchLabels") or {}
    return bool(wanted) and all(labels.get(k) == v for k, v in wanted.items())


def pdb_allows_eviction(args: StackValidationArgs, report_violation: ReportViolation) -> None:
    """Each Deployment has a PDB covering its pods that still allows one eviction at the HPA's minimum."""
    resources = args.resources
    hpas = [r for r in resources if r.resource_type in SCALERS]
    pdbs = [r for r in resources if r.resource_type == K8S_PDB]
    for deployment in (r for r in resources if r.resource_type == K8S_DEPLOYMENT):
        metadata = deployment.props.get("metadata") or {}
        spec = deployment.props.get("spec") or {}
        labels = ((spec.get("template") or {}).get("metadata") or {}).get("labels") or {}
        namespace = metadata.get("namespace")
        covering = [
            p for p in pdbs
            if (p.props.get("metadata") or {}).get("namespace") == namespace
            and _selects((p.props.get("spec") or {}).get("selector") or {}, labels)
        ]
        if not covering:
            report_violation(
                f"Deployment {deployment.name} has no PodDisruptionBudget; node drains could take all its pods "
                "at once. Add one with maxUnavailable: 1.",
                deployment.urn,
            )
            continue
        scaler = next(
            (h for h in hpas
             if ((h.props.get("spec") or {}).get("scaleTargetRef") or {}).get("name") == metadata.get("name")
             and (h.props.get("metadata") or {}).get("namespace") == namespace),
            None,
        )
        floor = _bounds(scaler.resource_type, scaler.props.get("spec") or {})[0] if scaler else spec.get("replicas", 1)
        for pdb in covering:
            budget = pdb.props.get("spec") or {}
            min_available = budget.get("minAvailable")
            max_unavailable = budget.get("maxUnavailable")
            blocked = (isinstance(min_available, int) and min_available >= floor) or max_unavailable in (0, "0%") or (
                isinstance(min_available, str) and min_available == "100%"
            )
            if blocked:
                report_violation(
                    f"PodDisruptionBudget {pdb.name} allows no eviction at {floor} replicas of {deployment.name}, "
                    "so node drains and upgrades block; use maxUnavailable: 1.",
                    pdb.urn,
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
]
