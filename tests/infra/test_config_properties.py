"""Issue 9, "Done when": every config the model accepts gives a plan that passes the policy pack, the manifest
validation and the AWS-model stage; every value it refuses is refused with one line naming the key.

The accepted space is drawn across the model's own bounds. Values the guide governs (the HPA targets, the
alarm thresholds, retention...) are drawn within the guide's limits, because a looser value is meant to be
refused by the pack with a named violation (a team may tighten or loosen the pack's config), not by the model.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from automation.aws_model import check_plan
from automation.engine import run_program
from automation.plan import check_manifests
from automation.policy_check import evaluate
from infra.config import KEDA_CHART_FOR_KUBERNETES, ConfigError, parse_stack_config
from tests.support.programs import prod_config, with_changes
from tests.support.properties import HealthCheck, given, settings, st

CRONS = ["0 3 * * *", "15 */6 * * *", "0 5 * * 1", "*/10 * * * *", "30 1 1 * *", "0 4 * * 1-5"]
INSTANCE_CLASSES = ["db.t4g.large", "db.r6g.large", "db.r6g.xlarge", "db.m7g.large"]


@st.composite
def accepted_changes(draw: st.DrawFn) -> dict[str, Any]:
    min_replicas = draw(st.integers(2, 10))
    allocated = draw(st.integers(20, 2000))
    retention = draw(st.integers(7, 35))
    automatic = draw(st.booleans())
    duration = draw(st.integers(30, 240))
    return {
        "cluster": {"name": "scraper-prod", "kubernetesVersion": draw(st.sampled_from(sorted(KEDA_CHART_FOR_KUBERNETES)))},
        "autoscaling": {
            "minReplicas": min_replicas,
            "maxReplicas": draw(st.integers(min_replicas + 1, 60)),
            "cpuTargetPercent": draw(st.integers(30, 70)),
            "memoryTargetPercent": draw(st.integers(40, 80)),
            "queueDepthTarget": draw(st.integers(1, 1000)),
            "scaleUpStabilizationSeconds": 60 * draw(st.integers(1, 5)),
            "scaleDownStabilizationSeconds": draw(st.integers(60, 3600)),
            "scaleDownPodsPerMinute": draw(st.integers(1, 5)),
        },
        "database": {
            "autoMinorVersionUpgrade": automatic,
            "engineVersion": draw(st.sampled_from(["15", "16", "17"])) if automatic
            else draw(st.sampled_from(["15.8", "16.4", "17.2"])),
            "instanceClass": draw(st.sampled_from(INSTANCE_CLASSES)),
            "allocatedStorageGb": allocated,
            "maxAllocatedStorageGb": draw(st.integers(allocated + 1, 4000)),
            "backupRetentionDays": retention,
            "masterPasswordVersion": draw(st.integers(1, 1000)),
            "instanceSuffix": draw(st.sampled_from(["", "-failback", "-failback-failback"])),
        },
        "dr": {
            "rpoMinutes": draw(st.integers(5, 15)),
            "rtoMinutes": draw(st.integers(15, 240)),
            "backupCopyRetentionDays": draw(st.integers(7, 35)),
            "replicaSuffix": draw(st.sampled_from(["-dr", "-failback-dr", "-dr-2"])),
        },
        "schedules": {
            "backup": draw(st.sampled_from(CRONS)),
            "smokeTests": draw(st.sampled_from(["*/5 * * * *", "*/2 * * * *", "*/10 * * * *"])),
            "metrics": draw(st.sampled_from(CRONS)),
        },
        "alarms": {
            "errorRatePercent": draw(st.floats(0.5, 5.0)),
            "dbCpuPercent": draw(st.integers(50, 95)),
            "dbFreeStorageGb": draw(st.integers(1, 19)),
            "backupMaxAgeHours": draw(st.integers(25, 48)),
        },
        "maintenance": {"durationMinutes": duration, "cutoffMinutes": draw(st.integers(0, duration - 1))},
        "slo": {"latencyP95Seconds": draw(st.floats(0.1, 2.0)), "scraperSuccessPercent": draw(st.floats(95.0, 100.0))},
        "snapshots": {"manualRetentionDays": draw(st.integers(retention, 90)), "keepNewest": draw(st.integers(1, 100))},
        "dns": {"hostedZoneId": draw(st.sampled_from(["Z0123456789ABCDEFGHIJ", "Z1D633PJN98FT9", "Z" + "9" * 31])),
                "recordName": draw(st.sampled_from(["scraper.example.com", "a.b.example.org", f"{'x' * 63}.example.io"]))},
    }


@pytest.mark.slow
@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(changes=accepted_changes())
def test_every_accepted_config_deploys_past_every_check(changes):
    raw = with_changes(prod_config(), **changes)
    plan = run_program("prod", raw)
    assert [f"{v.policy}: {v.message}" for v in evaluate(plan)] == []
    assert [c.errors for c in check_manifests(plan, changes["cluster"]["kubernetesVersion"]) if c.errors] == []
    report = check_plan(plan)
    assert [f"{f.rule} {f.resource}: {f.message}" for f in report.findings] == []


def _numeric_fields() -> list[tuple[str, str, dict[str, Any]]]:
    """(group, key, bounds) of every bounded integer or number field of the config groups."""
    from infra.config import StackConfig

    fields = []
    for group_name, group in StackConfig.model_fields.items():
        model = group.annotation
        if not isinstance(model, type) or not hasattr(model, "model_fields"):
            continue
        for name, info in model.model_fields.items():
            bounds: dict[str, Any] = {}
            for item in info.metadata:
                for attribute in ("ge", "gt", "le", "lt"):
                    if getattr(item, attribute, None) is not None:
                        bounds[attribute] = getattr(item, attribute)
            if bounds and info.annotation in (int, float):
                fields.append((group.alias or group_name, info.alias or name, bounds))
    return fields


NUMERIC_FIELDS = _numeric_fields()


@st.composite
def refused_value(draw: st.DrawFn) -> tuple[str, str, Any]:
    group, key, bounds = draw(st.sampled_from(NUMERIC_FIELDS))
    candidates = []
    if "ge" in bounds:
        candidates.append(bounds["ge"] - draw(st.integers(1, 1000)))
    if "gt" in bounds:
        candidates.append(bounds["gt"] - draw(st.integers(0, 1000)))
    if "le" in bounds:
        candidates.append(bounds["le"] + draw(st.integers(1, 1000)))
    if "lt" in bounds:
        candidates.append(bounds["lt"] + draw(st.integers(0, 1000)))
    candidates.append(draw(st.sampled_from(["many", "", "1e3x", None])))
    return group, key, draw(st.sampled_from(candidates))


def test_the_refusal_corpus_covers_every_bounded_field():
    assert len(NUMERIC_FIELDS) >= 25
    assert ("autoscaling", "scaleUpStabilizationSeconds", {"le": 3600}) in NUMERIC_FIELDS


@settings(max_examples=200, deadline=None)
@given(case=refused_value())
def test_every_refused_value_is_one_line_naming_its_key(case):
    group, key, value = case
    raw = with_changes(prod_config(), **{group: {key: value}})
    with pytest.raises(ConfigError) as refused:
        parse_stack_config(raw)
    problems = refused.value.problems
    assert len(problems) == 1, problems
    assert problems[0].startswith(f"social-media-scraper:{group}.{key}"), problems[0]
    assert "\n" not in problems[0]
    if value is not None:
        assert json.dumps(value) in problems[0]
