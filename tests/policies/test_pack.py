"""The pack as the Pulumi CLI loads it, and its config schema."""

from __future__ import annotations

import runpy
from pathlib import Path

import pulumi_policy
import pytest
import yaml

from automation.errors import BadInput
from policies.pack import POLICIES
from tests.policies.conftest import violated

PACK_DIR = Path(__file__).resolve().parents[2] / "policies"


def test_the_pack_registers_exactly_the_policies_the_evaluator_runs(monkeypatch):
    """policies/__main__.py as `pulumi preview --policy-pack policies` runs it; the gRPC server is the edge."""
    registered = {}

    class RecordingPack:
        def __init__(self, name, policies, enforcement_level=None, **_):
            registered.update(name=name, policies=policies, level=enforcement_level)

    monkeypatch.setattr(pulumi_policy, "PolicyPack", RecordingPack)
    runpy.run_path(str(PACK_DIR / "__main__.py"), run_name="__main__")
    assert registered["name"] == "social-media-scraper"
    assert registered["policies"] is POLICIES
    assert registered["level"] == pulumi_policy.EnforcementLevel.MANDATORY


def test_pack_metadata_points_at_the_project_virtualenv():
    metadata = yaml.safe_load((PACK_DIR / "PulumiPolicy.yaml").read_text())
    assert metadata["runtime"]["name"] == "python"
    assert metadata["runtime"]["options"]["virtualenv"] == "../.venv"


def test_policy_names_are_stable_kebab_case_and_levels_follow_the_domains():
    advisory = {p.name for p in POLICIES if p.enforcement_level == pulumi_policy.EnforcementLevel.ADVISORY}
    assert advisory == {"cost-allocation-tags"}
    for policy in POLICIES:
        assert policy.name.replace("-", "").isalnum() and policy.name == policy.name.lower()


def test_thresholds_default_to_the_guide_and_can_be_tightened(editor):
    hpa = next(p for p in POLICIES if p.name == "hpa-targets-within-guide")
    schema = hpa.config_schema.properties
    assert (schema["maxCpuTargetPercent"]["default"], schema["maxMemoryTargetPercent"]["default"]) == (70, 80)
    assert schema["maxQueueDepth"]["default"] == 1000
    tightened = {"hpa-targets-within-guide": {"maxCpuTargetPercent": 60}, "alarms-cover-guide": {"maxCpuTargetPercent": 60}}
    assert violated(editor.plan, tightened) == {
        "hpa-targets-within-guide": {"autoscaling-scaled-object"},
        "alarms-cover-guide": {"(stack)"},
    }


def test_enforcement_levels_can_be_overridden(editor):
    from automation.policy_check import evaluate

    editor.inputs("database-primary")["publiclyAccessible"] = True
    assert [v.level for v in evaluate(editor.plan)] == ["mandatory"]
    assert [v.level for v in evaluate(editor.plan, {"rds-not-public": "advisory"})] == ["advisory"]
    assert evaluate(editor.plan, {"rds-not-public": {"enforcementLevel": "disabled"}}) == []


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({"rds-is-public": "advisory"}, "policy config names unknown policies: rds-is-public"),
        ({"hpa-bounds": {"minReplicasInProduction": "two"}}, "policy config hpa-bounds.minReplicasInProduction: 'two' is not of type 'integer'"),
        ({"hpa-bounds": {"minReplica": 2}}, "policy config hpa-bounds: Additional properties are not allowed ('minReplica' was unexpected)"),
        ({"rds-not-public": {"strict": True}}, "policy config rds-not-public: this policy takes no properties (strict)"),
        ({"all": "sometimes"}, "policy config all: unknown enforcementLevel 'sometimes'"),
    ],
)
def test_bad_policy_config_is_refused_by_name(prod_plan, config, message):
    from automation.policy_check import evaluate

    with pytest.raises(BadInput) as caught:
        evaluate(prod_plan, config)
    assert str(caught.value) == message
