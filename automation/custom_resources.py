"""Offline schemas of the custom resources the stack declares (KEDA's ScaledObject and TriggerAuthentication).

kubernetes-validate knows only the built-in kinds. These schemas are written from KEDA's documented
`keda.sh/v1alpha1` specification ("ScaledObject specification", "TriggerAuthentication specification"): required
fields, types, enums and no unknown keys in the parts the stack uses. The HPA behaviour inside a ScaledObject is
checked with the real `autoscaling/v2` schema by wrapping it in an HPA.
"""

from __future__ import annotations

from typing import Any

KEDA_API_VERSION = "keda.sh/v1alpha1"

_STRING_MAP = {"type": "object", "additionalProperties": {"type": "string"}}
_METADATA = {
    "type": "object",
    "required": ["name"],
    "properties": {
        "name": {"type": "string", "pattern": r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$", "maxLength": 253},
        "namespace": {"type": "string", "pattern": r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$", "maxLength": 63},
        "labels": _STRING_MAP,
        "annotations": _STRING_MAP,
    },
}
_REPLICAS = {"type": "integer", "minimum": 0, "maximum": 2**31 - 1}

SCALED_OBJECT = {
    "type": "object",
    "required": ["apiVersion", "kind", "metadata", "spec"],
    "additionalProperties": False,
    "properties": {
        "apiVersion": {"const": KEDA_API_VERSION},
        "kind": {"const": "ScaledObject"},
        "metadata": _METADATA,
        "spec": {
            "type": "object",
            "required": ["scaleTargetRef", "triggers"],
            "additionalProperties": False,
            "properties": {
                "scaleTargetRef": {
                    "type": "object",
                    "required": ["name"],
                    "additionalProperties": False,
                    "properties": {
                        "apiVersion": {"type": "string"},
                        "kind": {"type": "string"},
                        "name": {"type": "string", "minLength": 1},
                        "envSourceContainerName": {"type": "string"},
                    },
                },
                "pollingInterval": {"type": "integer", "minimum": 1},
                "cooldownPeriod": {"type": "integer", "minimum": 0},
                "initialCooldownPeriod": {"type": "integer", "minimum": 0},
                "idleReplicaCount": _REPLICAS,
                "minReplicaCount": _REPLICAS,
                "maxReplicaCount": {**_REPLICAS, "minimum": 1},
                "fallback": {
                    "type": "object",
                    "required": ["failureThreshold", "replicas"],
                    "properties": {"failureThreshold": {"type": "integer"}, "replicas": {"type": "integer"}},
                },
                "advanced": {
                    "type": "object",
                    "additionalProperties": False,
                    "properties": {
                        "restoreToOriginalReplicaCount": {"type": "boolean"},
                        "horizontalPodAutoscalerConfig": {
                            "type": "object",
                            "additionalProperties": False,
                            "properties": {"name": {"type": "string"}, "behavior": {"type": "object"}},
                        },
                    },
                },
                "triggers": {
                    "type": "array",
                    "minItems": 1,
                    "items": {
                        "type": "object",
                        "required": ["type", "metadata"],
                        "additionalProperties": False,
                        "properties": {
                            "type": {"type": "string", "minLength": 1},
                            "name": {"type": "string"},
                            "metadata": _STRING_MAP,
                            "metricType": {"enum": ["AverageValue", "Value", "Utilization"]},
                            "useCachedMetrics": {"type": "boolean"},
                            "authenticationRef": {
                                "type": "object",
                                "required": ["name"],
                                "additionalProperties": False,
                                "properties": {
                                    "name": {"type": "string", "minLength": 1},
                                    "kind": {"enum": ["TriggerAuthentication", "ClusterTriggerAuthentication"]},
                                },
                            },
                        },
                    },
                },
            },
        },
    },
}

TRIGGER_AUTHENTICATION = {
    "type": "object",
    "required": ["apiVersion", "kind", "metadata", "spec"],
    "additionalProperties": False,
    "properties": {
        "apiVersion": {"const": KEDA_API_VERSION},
        "kind": {"const": "TriggerAuthentication"},
        "metadata": _METADATA,
        "spec": {
            "type": "object",
            "additionalProperties": False,
            "properties": {
                "podIdentity": {
                    "type": "object",
                    "required": ["provider"],
                    "additionalProperties": False,
                    "properties": {
                        # `aws` since KEDA 2.13; `aws-eks` and `aws-kiam` are deprecated or removed.
                        "provider": {"enum": ["none", "aws", "azure-workload", "gcp"]},
                        "roleArn": {"type": "string", "pattern": r"^arn:aws[a-z-]*:iam::\d{12}:role/"},
                        "identityOwner": {"enum": ["keda", "workload"]},
                    },
                    # KEDA docs: roleArn and identityOwner are mutually exclusive.
                    "not": {"required": ["roleArn", "identityOwner"]},
                },
                "secretTargetRef": {"type": "array"},
                "env": {"type": "array"},
            },
        },
    },
}

SCHEMAS = {("keda.sh/v1alpha1", "ScaledObject"): SCALED_OBJECT, ("keda.sh/v1alpha1", "TriggerAuthentication"): TRIGGER_AUTHENTICATION}


def has_schema(manifest: dict[str, Any]) -> bool:
    return (manifest.get("apiVersion"), manifest.get("kind")) in SCHEMAS


def _scaled_object_rules(manifest: dict[str, Any]) -> list[str]:
    """What KEDA's CRD checks beyond the schema (its CEL rules and the admission webhook)."""
    spec = manifest.get("spec") or {}
    problems = []
    minimum, maximum = spec.get("minReplicaCount", 0), spec.get("maxReplicaCount", 100)
    if isinstance(minimum, int) and isinstance(maximum, int) and minimum > maximum:
        problems.append(f"spec: minReplicaCount {minimum} is above maxReplicaCount {maximum}")
    for index, trigger in enumerate(spec.get("triggers") or []):
        if trigger.get("type") in ("cpu", "memory") and trigger.get("metricType") not in (None, "Utilization", "AverageValue"):
            problems.append(f"spec.triggers.{index}.metricType: {trigger['type']} takes Utilization or AverageValue")
    return problems


def validate(manifest: dict[str, Any], kubernetes_version: str) -> list[str]:
    """Problems of a custom resource, each as `path: message`; the HPA behaviour with the cluster's own schema."""
    import jsonschema
    import kubernetes_validate

    from automation import k8s_schemas

    schema = SCHEMAS[(manifest.get("apiVersion"), manifest.get("kind"))]
    problems = [
        f"{'.'.join(str(p) for p in error.path) or '(top level)'}: {error.message}"
        for error in jsonschema.Draft202012Validator(schema).iter_errors(manifest)
    ]
    if manifest.get("kind") == "ScaledObject":
        problems.extend(_scaled_object_rules(manifest))
    behavior = (((manifest.get("spec") or {}).get("advanced") or {}).get("horizontalPodAutoscalerConfig") or {}).get(
        "behavior"
    )
    if behavior is not None:
        hpa = {
            "apiVersion": "autoscaling/v2",
            "kind": "HorizontalPodAutoscaler",
            "metadata": {"name": "behavior-check"},
            "spec": {
                "scaleTargetRef": {"kind": "Deployment", "name": "behavior-check"},
                "maxReplicas": 1,
                "behavior": behavior,
            },
        }
        try:
            problems += [f"spec.advanced.horizontalPodAutoscalerConfig.{problem.removeprefix('spec.')}"
                         for problem in k8s_schemas.validate(hpa, kubernetes_version)]
        except kubernetes_validate.ValidationError as error:
            where = ".".join(str(p) for p in error.path if p not in ("spec",))
            problems.append(f"spec.advanced.horizontalPodAutoscalerConfig.{where}: {error.message}")
    return problems
