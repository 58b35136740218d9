"""`scraper-ops plan`: the offline plan of a stack, its summary and its Kubernetes manifests."""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from automation import custom_resources
from automation.engine import Plan, PlannedResource, run_program
from automation.errors import BadInput
from automation.stack_files import invalid_config, project_dir, read_stack_file
from infra.config import ConfigError


def offline_plan(stack: str) -> Plan:
    """Run the program offline for `stack`; bad or missing config becomes BadInput (exit 2)."""
    try:
        return run_program(stack, read_stack_file(stack, project_dir()))
    except ConfigError as error:
        raise invalid_config(stack, error) from None


def is_kubernetes_object(resource: PlannedResource) -> bool:
    """A manifest the cluster stores (a Helm release is a Pulumi resource that renders many, not one)."""
    return (
        resource.custom
        and resource.type.startswith("kubernetes:")
        and "apiVersion" in resource.inputs
        and "kind" in resource.inputs
    )


def component_of(resource: PlannedResource, by_urn: dict[str, PlannedResource]) -> PlannedResource | None:
    """The nearest component resource above `resource`."""
    parent = by_urn.get(resource.parent or "")
    while parent is not None and parent.custom:
        parent = by_urn.get(parent.parent or "")
    return parent


@dataclass(frozen=True)
class ComponentSummary:
    name: str
    type: str
    resources: int


def summarize(plan: Plan) -> dict[str, Any]:
    by_urn = {r.urn: r for r in plan.resources}
    custom = [r for r in plan.resources if r.custom and not r.type.startswith("pulumi:providers:")]
    per_component: dict[str, int] = defaultdict(int)
    for resource in custom:
        component = component_of(resource, by_urn)
        per_component[component.urn if component else ""] += 1
    components = [
        ComponentSummary(by_urn[urn].name, by_urn[urn].type, count) if urn else ComponentSummary("(stack)", "", count)
        for urn, count in sorted(per_component.items(), key=lambda item: by_urn[item[0]].name if item[0] else "")
    ]
    return {
        "resources": len(custom),
        "providers": sorted(
            (r.name, r.region or "") for r in plan.resources if r.type.startswith("pulumi:providers:")
        ),
        "components": components,
        "types": Counter(r.type for r in custom),
        "settings": key_settings(plan),
    }


def _first(plan: Plan, type_: str) -> list[PlannedResource]:
    return [r for r in plan.resources if r.type == type_]


SCALED_OBJECT_TYPE = "kubernetes:keda.sh/v1alpha1:ScaledObject"


@dataclass(frozen=True)
class Scaling:
    """What the app's ScaledObject declares: the bounds and triggers of the HPA that KEDA derives from it."""

    resource: PlannedResource
    name: str
    target: str
    min_replicas: int
    max_replicas: int
    targets: dict[str, str]
    scale_up_stabilization_seconds: int


def scaling_of(plan: Plan, deployment_name: str | None = None) -> Scaling | None:
    """The ScaledObject scaling `deployment_name` (or the first one)."""
    for resource in _first(plan, SCALED_OBJECT_TYPE):
        spec = resource.inputs.get("spec") or {}
        target = (spec.get("scaleTargetRef") or {}).get("name", "")
        if deployment_name is not None and target != deployment_name:
            continue
        triggers = {}
        for trigger in spec.get("triggers") or []:
            metadata = trigger.get("metadata") or {}
            if trigger.get("type") in ("cpu", "memory"):
                triggers[trigger["type"]] = f"{metadata.get('value')}%"
            elif trigger.get("type") == "aws-sqs-queue":
                triggers["queue depth"] = str(metadata.get("queueLength"))
        hpa = (spec.get("advanced") or {}).get("horizontalPodAutoscalerConfig") or {}
        return Scaling(
            resource=resource,
            name=hpa.get("name") or f"keda-hpa-{resource.inputs['metadata']['name']}",
            target=target,
            min_replicas=int(spec.get("minReplicaCount", 1)),
            max_replicas=int(spec.get("maxReplicaCount", 100)),
            targets=triggers,
            scale_up_stabilization_seconds=int(
                ((hpa.get("behavior") or {}).get("scaleUp") or {}).get("stabilizationWindowSeconds", 0)
            ),
        )
    return None


def key_settings(plan: Plan) -> dict[str, Any]:
    """What the SRE wants to see at a glance, read from the declared resources themselves."""
    settings: dict[str, Any] = {}
    scaling = scaling_of(plan)
    if scaling is not None:
        settings["hpa"] = {
            "name": scaling.name,
            "minReplicas": scaling.min_replicas,
            "maxReplicas": scaling.max_replicas,
            "targets": scaling.targets,
            "scaleUpStabilizationSeconds": scaling.scale_up_stabilization_seconds,
        }
    settings["cronJobs"] = {
        c.inputs["metadata"]["name"]: c.inputs["spec"]["schedule"] for c in _first(plan, "kubernetes:batch/v1:CronJob")
    }
    settings["databases"] = [
        {
            "identifier": db.inputs.get("identifier"),
            "region": db.region,
            "role": "replica" if db.inputs.get("replicateSourceDb") else "primary",
            "multiAz": bool(db.inputs.get("multiAz")),
            "backupRetentionDays": db.inputs.get("backupRetentionPeriod"),
        }
        for db in _first(plan, "aws:rds/instance:Instance")
    ]
    settings["alarms"] = len(_first(plan, "aws:cloudwatch/metricAlarm:MetricAlarm"))
    return settings


def manifest_filename(manifest: dict[str, Any]) -> str:
    metadata = manifest.get("metadata", {})
    parts = [manifest["kind"], metadata.get("namespace", ""), metadata["name"]]
    return re.sub(r"[^a-z0-9.-]+", "-", "-".join(p for p in parts if p).lower()) + ".yaml"


@dataclass(frozen=True)
class ManifestCheck:
    filename: str
    manifest: dict[str, Any]
    errors: tuple[str, ...]


def check_manifests(plan: Plan, kubernetes_version: str) -> list[ManifestCheck]:
    """Validate every Kubernetes object in strict mode against the cluster's version (custom resources against
    their documented schemas)."""
    import kubernetes_validate  # loads its schemas: only when manifests are asked for

    from automation import k8s_schemas

    checks = []
    for resource in plan.resources:
        if not is_kubernetes_object(resource):
            continue
        manifest = resource.inputs
        if custom_resources.has_schema(manifest):
            errors = tuple(custom_resources.validate(manifest, kubernetes_version))
            checks.append(ManifestCheck(manifest_filename(manifest), manifest, errors))
            continue
        try:
            errors: tuple[str, ...] = tuple(k8s_schemas.validate(manifest, kubernetes_version))
        except kubernetes_validate.ValidationError as error:
            where = ".".join(str(p) for p in error.path) or "(top level)"
            errors = (f"{where}: {error.message}",)
        except kubernetes_validate.SchemaNotFoundError as error:
            errors = (f"no schema for {manifest.get('apiVersion')}/{manifest.get('kind')}: {error}",)
        checks.append(ManifestCheck(manifest_filename(manifest), manifest, errors))
    return checks


def _conventional_order(manifest: dict[str, Any]) -> dict[str, Any]:
    head = ("apiVersion", "kind", "metadata")
    return {**{k: manifest[k] for k in head if k in manifest}, **{k: v for k, v in manifest.items() if k not in head}}


# PyYAML's "fast LibYAML-based emitter" when PyYAML was built with it (https://github.com/yaml/pyyaml, README):
# a quarter of the pure-Python SafeDumper's time, and for these manifests the same text (tests/automation/test_plan.py).
SAFE_DUMPER = getattr(yaml, "CSafeDumper", yaml.SafeDumper)


def manifest_yaml(manifest: dict[str, Any]) -> str:
    return yaml.dump(_conventional_order(manifest), Dumper=SAFE_DUMPER, sort_keys=False)


def write_manifests(checks: list[ManifestCheck], directory: Path) -> list[Path]:
    """Write one YAML file per object, and only when every object is valid: a half-valid set is never written."""
    if any(check.errors for check in checks):
        return []
    written = []
    try:
        directory.mkdir(parents=True, exist_ok=True)
        for check in checks:
            path = directory / check.filename
            path.write_text(manifest_yaml(check.manifest), encoding="utf-8")
            written.append(path)
    except OSError as error:
        raise BadInput(f"--manifests {directory}: cannot write {error.filename}: {error.strerror}") from None
    return written
