"""`scraper-ops plan`: the offline plan of a stack, its summary and its Kubernetes manifests."""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import kubernetes_validate
import yaml

from automation.engine import Plan, PlannedResource, StackNotFound, project_dir, read_stack_file, run_program
from automation.errors import BadInput
from infra.config import ConfigError


def offline_plan(stack: str) -> Plan:
    """Run the program offline for `stack`; bad or missing config becomes BadInput (exit 2)."""
    try:
        return run_program(stack, read_stack_file(stack, project_dir()))
    except StackNotFound as error:
        raise BadInput(str(error)) from None
    except ConfigError as error:
        raise BadInput(f"invalid config of stack {stack}:\n" + "\n".join(error.problems)) from None
    except ValueError as error:
        raise BadInput(str(error)) from None


def is_kubernetes_object(resource: PlannedResource) -> bool:
    return resource.custom and resource.type.startswith("kubernetes:")


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


def key_settings(plan: Plan) -> dict[str, Any]:
    """What the SRE wants to see at a glance, read from the declared resources themselves."""
    settings: dict[str, Any] = {}
    for hpa in _first(plan, "kubernetes:autoscaling/v2:HorizontalPodAutoscaler"):
        spec = hpa.inputs["spec"]
        targets = {}
        for metric in spec["metrics"]:
            if metric["type"] == "Resource":
                targets[metric["resource"]["name"]] = f"{metric['resource']['target']['averageUtilization']}%"
            else:
                external = metric["external"]
                targets[external["metric"]["name"]] = external["target"].get("value") or external["target"].get(
                    "averageValue"
                )
        settings["hpa"] = {
            "name": hpa.inputs["metadata"]["name"],
            "minReplicas": spec["minReplicas"],
            "maxReplicas": spec["maxReplicas"],
            "targets": targets,
            "scaleUpStabilizationSeconds": spec["behavior"]["scaleUp"]["stabilizationWindowSeconds"],
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
    """Validate every Kubernetes object in strict mode against the cluster's version."""
    checks = []
    for resource in plan.resources:
        if not is_kubernetes_object(resource):
            continue
        manifest = resource.inputs
        try:
            kubernetes_validate.validate(manifest, kubernetes_version, strict=True)
            errors: tuple[str, ...] = ()
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


def write_manifests(checks: list[ManifestCheck], directory: Path) -> list[Path]:
    """Write one YAML file per object, and only when every object is valid: a half-valid set is never written."""
    if any(check.errors for check in checks):
        return []
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for check in checks:
        path = directory / check.filename
        path.write_text(yaml.safe_dump(_conventional_order(check.manifest), sort_keys=False))
        written.append(path)
    return written
