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

from .common import K8S_DEPLOYMENT, K8S_HPA, K8S_PDB, in_production, only, parse_quantity
from .thresholds import schema

MANDATORY = EnforcementLevel.MANDATORY


def hpa_bounds(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    spec = args.props.get("spec") or {}
    minimum, maximum = spec.get("minReplicas", 1), spec.get("maxReplicas", 0)
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
    spec = args.props.get("spec") or {}
    limits = {"cpu": config["maxCpuTargetPercent"], "memory": config["maxMemoryTargetPercent"]}
    seen = set()
    for metric in spec.get("metrics") or []:
        if metric.get("type") == "Resource":
            resource = metric.get("resource") or {}
            name, target = resource.get("name"), (resource.get("target") or {}).get("averageUtilization")
            seen.add(name)
            if name in limits and (target is None or target > limits[name]):
                report_violation(
                    f"HPA {args.name} scales on {name} at {target}%; the guide scales at {limits[name]}%, "
                    f"set averageUtilization <= {limits[name]}."
                )
        elif metric.get("type") == "External":
            target = (metric.get("external") or {}).get("target") or {}
            value = target.get("value") or target.get("averageValue")
            seen.add("external")
            if value is None or parse_quantity(str(value)) > config["maxQueueDepth"]:
                report_violation(
                    f"HPA {args.name} scales on queue depth at {value}; the guide scales at "
                    f"{config['maxQueueDepth']} messages."
                )
    missing = [m for m in ("cpu", "memory", "external") if m not in seen]
    if missing:
        report_violation(
            f"HPA {args.name} ignores {', '.join(missing)}; the guide scales on CPU, memory and queue depth."
        )
    window = ((spec.get("behavior") or {}).get("scaleUp") or {}).get("stabilizationWindowSeconds", 0)
    if window > config["maxScaleUpStabilizationSeconds"]:
        report_violation(
            f"HPA {args.name} waits {window} s before scaling up; the guide acts after "
            f"{config['maxScaleUpStabilizationSeconds']} s."
        )


def _selects(selector: Mapping[str, Any], labels: Mapping[str, str]) -> bool:
    wanted = selector.get("matchLabels") or {}
    return bool(wanted) and all(labels.get(k) == v for k, v in wanted.items())


def pdb_allows_eviction(args: StackValidationArgs, report_violation: ReportViolation) -> None:
    """Each Deployment has a PDB covering its pods that still allows one eviction at the HPA's minimum."""
    resources = args.resources
    hpas = [r for r in resources if r.resource_type == K8S_HPA]
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
        floor = (scaler.props["spec"].get("minReplicas", 1) if scaler else spec.get("replicas", 1))
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
