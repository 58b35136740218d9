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

from .common import (
    K8S_DEPLOYMENT,
    K8S_HPA,
    K8S_PDB,
    count,
    field,
    in_production,
    known,
    mapping,
    mappings,
    number,
    only,
    parse_quantity,
    text,
)
from .thresholds import schema

MANDATORY = EnforcementLevel.MANDATORY


def hpa_bounds(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    spec = mapping(field(args.props, "spec"))
    minimum, maximum = count(field(spec, "minReplicas"), 1), count(field(spec, "maxReplicas"), 0)
    if minimum is None or maximum is None:
        report_violation(f"HPA {args.name} has replica bounds that are not numbers; set minReplicas and maxReplicas.")
        return
    floor = args.get_config()["minReplicasInProduction"]
    if in_production(args.urn, args.get_config()) and minimum < floor:
        report_violation(
            f"HPA {args.name} allows {minimum} replica(s) in production; set minReplicas to at least {floor} "
            "so one pod's loss or eviction is not an outage."
        )
    if maximum <= minimum:
        report_violation(f"HPA {args.name} cannot scale (maxReplicas {maximum} <= minReplicas {minimum}); raise maxReplicas.")


def hpa_targets(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    config = args.get_config()
    spec = mapping(field(args.props, "spec"))
    limits = {"cpu": config["maxCpuTargetPercent"], "memory": config["maxMemoryTargetPercent"]}
    seen = set()
    for metric in mappings(field(spec, "metrics")):
        kind = text(field(metric, "type"))
        if kind == "Resource":
            name = text(field(metric, "resource", "name"))
            target = number(field(metric, "resource", "target", "averageUtilization"))
            seen.add(name)
            if name in limits and (target is None or target > limits[name]):
                report_violation(
                    f"HPA {args.name} scales on {name} at {target}%; the guide scales at {limits[name]}%, "
                    f"set averageUtilization <= {limits[name]}."
                )
        elif kind == "External":
            target = field(metric, "external", "target")
            value = known(field(target, "value") or field(target, "averageValue"))
            seen.add("external")
            if value is None or _quantity(value) is None or _quantity(value) > config["maxQueueDepth"]:
                report_violation(
                    f"HPA {args.name} scales on queue depth at {value}; the guide scales at "
                    f"{config['maxQueueDepth']} messages."
                )
    missing = [m for m in ("cpu", "memory", "external") if m not in seen]
    if missing:
        report_violation(
            f"HPA {args.name} ignores {', '.join(missing)}; the guide scales on CPU, memory and queue depth."
        )
    window = count(field(spec, "behavior", "scaleUp", "stabilizationWindowSeconds"), 0)
    if window is None or window > config["maxScaleUpStabilizationSeconds"]:
        report_violation(
            f"HPA {args.name} waits {window} s before scaling up; the guide acts after "
            f"{config['maxScaleUpStabilizationSeconds']} s."
        )


def _quantity(value: Any):
    """A metric target as a number; None when it is not a Kubernetes quantity."""
    try:
        return parse_quantity(str(value))
    except ValueError:
        return None


def _selects(selector: Any, labels: Any) -> bool:
    wanted = mapping(field(selector, "matchLabels"))
    return bool(wanted) and all(text(field(labels, k)) == text(field(wanted, k)) for k in wanted)


def pdb_allows_eviction(args: StackValidationArgs, report_violation: ReportViolation) -> None:
    """Each Deployment has a PDB covering its pods that still allows one eviction at the HPA's minimum."""
    resources = args.resources
    hpas = [r for r in resources if r.resource_type == K8S_HPA]
    pdbs = [r for r in resources if r.resource_type == K8S_PDB]
    for deployment in (r for r in resources if r.resource_type == K8S_DEPLOYMENT):
        metadata, spec = field(deployment.props, "metadata"), field(deployment.props, "spec")
        labels = field(spec, "template", "metadata", "labels")
        namespace = text(field(metadata, "namespace"))
        covering = [
            p for p in pdbs
            if text(field(p.props, "metadata", "namespace")) == namespace
            and _selects(field(p.props, "spec", "selector"), labels)
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
             if text(field(h.props, "spec", "scaleTargetRef", "name")) == text(field(metadata, "name"))
             and text(field(h.props, "metadata", "namespace")) == namespace),
            None,
        )
        floor = count(field(scaler.props, "spec", "minReplicas"), 1) if scaler else count(field(spec, "replicas"), 1)
        floor = 1 if floor is None else floor  # not a number: hpa-bounds reports it
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


POLICIES = [
    ResourceValidationPolicy(
        name="hpa-bounds", description="HPAs keep at least two replicas in production and can scale.",
        validate=only([K8S_HPA], hpa_bounds), enforcement_level=MANDATORY,
        config_schema=schema("minReplicasInProduction", "productionStacks"),
    ),
    ResourceValidationPolicy(
        name="hpa-targets-within-guide",
        description="HPAs scale on CPU, memory and queue depth at targets no looser than the guide.",
        validate=only([K8S_HPA], hpa_targets), enforcement_level=MANDATORY,
        config_schema=schema("maxCpuTargetPercent", "maxMemoryTargetPercent", "maxQueueDepth",
                             "maxScaleUpStabilizationSeconds"),
    ),
    StackValidationPolicy(
        name="pdb-allows-eviction",
        description="Every Deployment has a PodDisruptionBudget that still allows an eviction at HPA minimum.",
        validate=pdb_allows_eviction, enforcement_level=MANDATORY,
    ),
]
