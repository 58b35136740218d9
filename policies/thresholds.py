"""The pack's config schema. Defaults are the operations guide's values, read from the stack config model
so that the pack and the stack cannot drift apart."""

from __future__ import annotations

from typing import Any

from pulumi_policy import PolicyConfigSchema

from infra.config import AlarmsConfig, AutoscalingConfig, CostConfig, DrConfig, SloConfig


def _default(model: type, field: str) -> Any:
    info = model.model_fields[field]
    return info.default_factory() if info.default_factory else info.default


PROPERTIES: dict[str, dict[str, Any]] = {
    "productionStacks": {
        "type": "array", "items": {"type": "string"}, "default": ["prod"],
        "description": "Stacks held to production rules (multi-AZ, HPA minimum).",
    },
    "maxCpuTargetPercent": {"type": "integer", "minimum": 1, "maximum": 100,
                            "default": _default(AutoscalingConfig, "cpu_target_percent")},
    "maxMemoryTargetPercent": {"type": "integer", "minimum": 1, "maximum": 100,
                               "default": _default(AutoscalingConfig, "memory_target_percent")},
    "maxQueueDepth": {"type": "integer", "minimum": 1, "default": _default(AutoscalingConfig, "queue_depth_target")},
    "maxScaleUpStabilizationSeconds": {"type": "integer", "minimum": 0,
                                       "default": _default(AutoscalingConfig, "scale_up_stabilization_seconds")},
    "minReplicasInProduction": {"type": "integer", "minimum": 1, "default": 2},
    "maxLatencyP95Seconds": {"type": "number", "default": _default(SloConfig, "latency_p95_seconds")},
    "minScraperSuccessPercent": {"type": "number", "default": _default(SloConfig, "scraper_success_percent")},
    "maxErrorRatePercent": {"type": "number", "default": _default(AlarmsConfig, "error_rate_percent")},
    "rpoMinutes": {"type": "integer", "minimum": 1, "default": _default(DrConfig, "rpo_minutes")},
    "minBackupRetentionDays": {"type": "integer", "minimum": 1, "default": 7},
    "maxJobRetries": {"type": "integer", "minimum": 0, "default": 3},
    "maxJobHistory": {"type": "integer", "minimum": 1, "default": 5},
    "requiredTags": {"type": "array", "items": {"type": "string"}, "default": sorted(_default(CostConfig, "tags"))},
    "unreplicatedBuckets": {
        "type": "array", "items": {"type": "string"}, "default": ["storage-ops"],
        "description": "Logical names of buckets allowed without cross-region replication (reports only).",
    },
}


def schema(*names: str) -> PolicyConfigSchema:
    return PolicyConfigSchema(properties={name: PROPERTIES[name] for name in names})


def defaults(policy_schema: PolicyConfigSchema | None) -> dict[str, Any]:
    """The config a policy sees when none is given: its schema's defaults, as the engine applies them."""
    if policy_schema is None:
        return {}
    return {name: spec["default"] for name, spec in policy_schema.properties.items() if "default" in spec}
