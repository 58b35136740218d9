"""The pack's config schema. Defaults are the operations guide's values (`guide`), the same the stack's
config model takes as its defaults."""

from __future__ import annotations

from typing import Any

from pulumi_policy import PolicyConfigSchema

from . import guide

PROPERTIES: dict[str, dict[str, Any]] = {
    "productionStacks": {
        "type": "array", "items": {"type": "string"}, "default": ["prod", "prod-dr"],
        "description": "Stacks held to production rules (multi-AZ, HPA minimum, pinned images); a warm standby "
                       "is production too: it serves after a failover.",
    },
    "standbyStacks": {
        "type": "array", "items": {"type": "string"}, "default": ["prod-dr", "staging-dr"],
        "description": "Warm-standby stacks (site.role standby): only their app may wait paused at zero replicas.",
    },
    "maxCpuTargetPercent": {"type": "integer", "minimum": 1, "maximum": 100,
                            "default": guide.CPU_TARGET_PERCENT},
    "maxMemoryTargetPercent": {"type": "integer", "minimum": 1, "maximum": 100,
                               "default": guide.MEMORY_TARGET_PERCENT},
    "maxQueueDepth": {"type": "integer", "minimum": 1, "default": guide.QUEUE_DEPTH_TARGET},
    "maxScaleUpStabilizationSeconds": {"type": "integer", "minimum": 0,
                                       "default": guide.SCALE_UP_STABILIZATION_SECONDS},
    "minReplicasInProduction": {"type": "integer", "minimum": 1, "default": 2},
    "maxLatencyP95Seconds": {"type": "number", "default": guide.LATENCY_P95_SECONDS},
    "minScraperSuccessPercent": {"type": "number", "default": guide.SCRAPER_SUCCESS_PERCENT},
    "maxErrorRatePercent": {"type": "number", "default": guide.ERROR_RATE_PERCENT},
    "rpoMinutes": {"type": "integer", "minimum": 1, "default": guide.RPO_MINUTES},
    "minBackupRetentionDays": {"type": "integer", "minimum": 1, "default": 7},
    "maxJobRetries": {"type": "integer", "minimum": 0, "default": 3},
    "maxJobHistory": {"type": "integer", "minimum": 1, "default": 5},
    "requiredTags": {"type": "array", "items": {"type": "string"}, "default": list(guide.COST_TAG_KEYS)},
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
