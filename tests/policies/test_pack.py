"""The pack as the Pulumi CLI loads it, and its config schema."""

from __future__ import annotations

import ast
import importlib.metadata
import json
import runpy
import shutil
import subprocess
import sys
import sysconfig
from decimal import Decimal
from pathlib import Path

import pulumi_policy
import pytest
import yaml
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from automation.errors import BadInput
from contract import guide as contract_guide
from contract import metrics
from infra import signals
from infra.config import AlarmsConfig, AutoscalingConfig, CostConfig, DrConfig, SloConfig, image_tag
from infra.quantities import parse_quantity
from policies import common, guide
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


@pytest.mark.slow  # runs git, an external tool
def test_pack_metadata_names_a_virtualenv_inside_the_pack_that_git_ignores():
    metadata = yaml.safe_load((PACK_DIR / "PulumiPolicy.yaml").read_text())
    assert metadata["runtime"]["name"] == "python"
    virtualenv = metadata["runtime"]["options"]["virtualenv"]
    assert (PACK_DIR / virtualenv).resolve().parent == PACK_DIR  # published packs carry no `..`
    ignored = subprocess.run(
        ["git", "check-ignore", "-q", f"policies/{virtualenv}/bin/python"], cwd=PACK_DIR.parent, check=False
    )
    assert ignored.returncode == 0


# Runs the pack the way the CLI does (`python -u -m pulumi.policy <engine> <pack dir>`), the gRPC server
# replaced by a recorder that prints what would be registered.
RECORDING_ENTRY = """
import json, runpy, sys
import pulumi_policy

class RecordingPack:
    def __init__(self, name, policies, enforcement_level=None, **_):
        print(json.dumps({"name": name, "policies": [p.name for p in policies], "level": enforcement_level.value}))

pulumi_policy.PolicyPack = RecordingPack
sys.argv = ["pulumi.policy", "127.0.0.1:0", "."]
runpy.run_module("pulumi.policy", run_name="__main__", alter_sys=True)
"""


def isolated_python(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    """The venv's interpreter without this repo: -S skips site, so .pth files (the editable install) are not
    processed; PYTHONPATH gives it the installed packages alone."""
    env = {"PYTHONPATH": sysconfig.get_paths()["purelib"], "PATH": "/usr/bin:/bin"}
    return subprocess.run([sys.executable, "-S", *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=120)


@pytest.mark.slow
@pytest.mark.parametrize("published_name", ["pack", "social-media-scraper-0.1.0"])
def test_a_copy_of_the_pack_directory_alone_registers_every_policy(tmp_path, published_name):
    pack_copy = tmp_path / published_name
    shutil.copytree(PACK_DIR, pack_copy, ignore=shutil.ignore_patterns("__pycache__", "venv"))
    for module in ("infra", "automation", "policies"):
        probe = isolated_python("-c", f"import {module}", cwd=tmp_path)
        assert "ModuleNotFoundError" in probe.stderr, f"{module} is importable: the isolation does not hold"
    (tmp_path / "entry.py").write_text(RECORDING_ENTRY)

    run = isolated_python(str(tmp_path / "entry.py"), cwd=pack_copy)

    assert run.returncode == 0, run.stderr
    registered = json.loads(run.stdout.strip().splitlines()[-1])
    assert registered == {"name": "social-media-scraper", "policies": [p.name for p in POLICIES], "level": "mandatory"}


def third_party_imports() -> set[str]:
    """Top-level names of the absolute imports in the pack's modules, standard library excluded."""
    names = set()
    for path in PACK_DIR.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                names |= {alias.name.split(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.level == 0:
                names.add(node.module.split(".")[0])
    return {n for n in names if n not in sys.stdlib_module_names and n != "__future__"}


def test_requirements_name_exactly_the_distributions_the_pack_imports():
    distributions = importlib.metadata.packages_distributions()
    imported = {canonicalize_name(distributions[name][0]) for name in third_party_imports()}
    lines = (PACK_DIR / "requirements.txt").read_text().splitlines()
    required = [Requirement(line) for line in lines if line.strip() and not line.startswith("#")]
    assert imported == {canonicalize_name(r.name) for r in required}
    for requirement in required:  # the pack runs with the versions this repo is tested with
        assert importlib.metadata.version(requirement.name) in requirement.specifier


def test_the_packs_copy_of_the_guide_is_the_contracts():
    """The pack is published alone, so it keeps a copy (policies/guide.py); it must be the contract's values."""
    for name in ("CPU_TARGET_PERCENT", "MEMORY_TARGET_PERCENT", "QUEUE_DEPTH_TARGET", "SCALE_UP_STABILIZATION_SECONDS",
                 "LATENCY_P95_SECONDS", "SCRAPER_SUCCESS_PERCENT", "ERROR_RATE_PERCENT", "RPO_MINUTES",
                 "COST_TAG_KEYS"):
        assert getattr(guide, name) == getattr(contract_guide, name), name
    for name in ("SCRAPE_ATTEMPTS", "SCRAPE_SUCCESSES", "SMOKE_SUCCESS", "BACKUP_AGE"):
        assert getattr(guide, name) == getattr(metrics, name), name
    assert guide.POD_OVER_LIMIT == signals.POD_OVER_LIMIT
    assert (guide.ALB_TARGET_5XX, guide.ALB_RESPONSE_TIME) == (signals.ALB_TARGET_5XX, signals.ALB_RESPONSE_TIME)


@pytest.mark.parametrize(
    "image", ["repo", "repo:1.2", "registry:5000/repo", "registry:5000/team/repo:v1@sha256:" + "a" * 64, "r@sha256:x"]
)
def test_the_packs_image_parsing_agrees_with_the_stacks(image):
    assert common.image_tag(image) == image_tag(image)


@pytest.mark.parametrize("quantity", ["1000", "500m", "1.5", "512Mi", "1G", "2Ki"])
def test_the_packs_quantities_agree_with_the_stacks(quantity):
    assert common.parse_quantity(quantity) == parse_quantity(quantity)
    assert isinstance(common.parse_quantity(quantity), Decimal)


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
