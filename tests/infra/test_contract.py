"""The contract package: what the program exports is what the ops jobs read, the README says so, and the package
stays cheap enough for every part (and the in-cluster jobs) to import."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from automation.engine import run_program
from automation.stack_files import read_stack_file
from contract import guide
from contract.outputs import StackOutputs, markdown_table
from infra.config import CostConfig
from tests.support.programs import REPO_ROOT


@pytest.fixture(scope="module", params=["prod", "staging", "prod-dr"])
def exported(request) -> dict:
    """A stack's outputs as `pulumi stack output --json` prints them (the plan's outputs through JSON)."""
    plan = run_program(request.param, read_stack_file(request.param, REPO_ROOT))
    return json.loads(json.dumps(plan.outputs, default=str))


def test_every_stack_exports_exactly_the_contract(exported):
    StackOutputs.model_validate(exported)
    declared = set(StackOutputs.model_fields)
    assert set(exported) - declared == set(), "exported but not in the contract (add it to contract/outputs.py)"
    missing = {name for name, field in StackOutputs.model_fields.items() if name not in exported}
    assert missing == set(), "in the contract but never exported"


def test_nested_outputs_have_no_keys_the_contract_lacks(exported):
    outputs = StackOutputs.model_validate(exported)
    for name in ("cronJobs", "smokeChecks", "objectives", "maintenance", "snapshotRetention", "site"):
        value = getattr(outputs, name)
        assert value is not None and value.model_extra == {}, f"{name}: {value.model_extra if value else None}"
        assert None not in value.model_dump().values() or name == "site", name


def test_the_readme_outputs_table_is_the_contracts():
    readme = (REPO_ROOT / "README.md").read_text()
    assert markdown_table() in readme, "regenerate it: python -m contract.outputs"


@pytest.mark.slow  # starts a process
def test_the_readme_table_can_be_printed_from_the_module():
    printed = subprocess.run([sys.executable, "-m", "contract.outputs"], capture_output=True, text=True, check=True,
                             cwd=REPO_ROOT).stdout
    assert printed == markdown_table()
    assert all(f"| `{name}` |" in printed for name in StackOutputs.model_fields)


def test_the_default_cost_tags_are_the_guides_keys():
    assert set(CostConfig().tags) == set(guide.COST_TAG_KEYS)


@pytest.mark.slow  # starts a process
def test_the_contract_package_imports_neither_pulumi_nor_boto3():
    probe = ("import sys, contract.guide, contract.metrics, contract.outputs; "
             "print(sorted(m for m in sys.modules if m.split('.')[0] in ('pulumi', 'boto3', 'botocore')))")
    loaded = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True,
                            cwd=REPO_ROOT).stdout.strip()
    assert loaded == "[]"
