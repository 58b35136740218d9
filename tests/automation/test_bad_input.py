"""A corpus of bad inputs, one of each class the trial found: every one is refused with exit 2 and one line on
stderr that names the input and what is allowed, nothing on stdout, no traceback, and nothing written anywhere in
the project (stack file, offline state, reports, manifests)."""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import pytest

from tests.support.cli import run_cli, scraper_ops
from tests.support.programs import REPO_ROOT

STACK_FILE = "Pulumi.prod.yaml"


@dataclass(frozen=True)
class Case:
    id: str
    argv: tuple[str, ...]
    names: tuple[str, ...]  # what the one line must say: the input and what is allowed
    setup: Callable[[Path], None] = lambda project: None
    absent: tuple[str, ...] = ()  # what it must not say (blaming the wrong input, a hint to the failing command)
    env: dict[str, str] = field(default_factory=dict)


def edit_stack(old: str, new: str) -> Callable[[Path], None]:
    def change(project: Path) -> None:
        path = project / STACK_FILE
        text = path.read_text()
        assert old in text, f"the prod stack file no longer has {old!r}"
        path.write_text(text.replace(old, new, 1))

    return change


def write(name: str, content: bytes | str) -> Callable[[Path], None]:
    def change(project: Path) -> None:
        path = project / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content if isinstance(content, bytes) else content.encode())

    return change


NOT_UTF8 = "config:\n  aws:region: us-east-1 \xe9t\xe9\n".encode("latin-1")
OUTPUTS = ("--outputs", "outputs.json")
OFFLINE_RUN = ("maintenance", "run", "--stack", "prod", "--backend", "offline", "--force", "--reason", "test")

CASES = [
    # the stack file
    Case("duplicate-yaml-key", ("plan", "--stack", "prod"), ("Pulumi.prod.yaml", "duplicate key 'minReplicas'", "line"),
         edit_stack("    minReplicas: 3\n", "    minReplicas: 3\n    minReplicas: 4\n")),
    Case("duplicate-top-level-key", ("maintenance", "next", "--stack", "prod"),
         ("duplicate key 'social-media-scraper:drRegion'", "give each key once"),
         edit_stack("  social-media-scraper:drRegion: us-west-2\n",
                    "  social-media-scraper:drRegion: us-west-2\n  social-media-scraper:drRegion: eu-west-1\n")),
    Case("boolean-for-a-number", ("plan", "--stack", "prod"),
         ("social-media-scraper:autoscaling.minReplicas = true", "must be a number, not a boolean"),
         edit_stack("minReplicas: 3", "minReplicas: true")),
    Case("boolean-for-a-float", ("plan", "--stack", "prod"),
         ("social-media-scraper:cost.monthlyBudgetUsd = false", "must be a number"),
         edit_stack("monthlyBudgetUsd: 3000", "monthlyBudgetUsd: false")),
    Case("int32-overflow-replicas", ("plan", "--stack", "prod", "--manifests", "manifests"),
         ("social-media-scraper:autoscaling.maxReplicas = 2147483648", "less than or equal to 2147483647"),
         edit_stack("maxReplicas: 12", "maxReplicas: 2147483648")),
    Case("int32-overflow-hpa-policy", ("plan", "--stack", "prod", "--manifests", "manifests"),
         ("social-media-scraper:autoscaling.scaleDownPodsPerMinute = 4294967296", "2147483647"),
         edit_stack("    scaleUpStabilizationSeconds: 300\n",
                    "    scaleUpStabilizationSeconds: 300\n    scaleDownPodsPerMinute: 4294967296\n")),
    Case("infinity", ("plan", "--stack", "prod"), ("social-media-scraper:slo.latencyP95Seconds = Infinity", "finite number"),
         edit_stack("latencyP95Seconds: 2", "latencyP95Seconds: .inf")),
    Case("nan", ("plan", "--stack", "prod"), ("social-media-scraper:slo.availabilityPercent = NaN", "finite number"),
         edit_stack("availabilityPercent: 99.9", "availabilityPercent: .nan")),
    Case("production-pages-nobody", ("plan", "--stack", "prod"),
         ("social-media-scraper:alarms.emails = []", "production", "alarms.emails", "alarms.httpsEndpoints"),
         edit_stack("    emails:\n      - sre-oncall@example.com\n", "    emails: []\n")),
    Case("top-level-a-list", ("plan", "--stack", "prod"), ("Pulumi.prod.yaml", "top level must be a mapping", "not a list"),
         write(STACK_FILE, "- config\n- aws:region\n")),
    Case("config-a-string", ("maintenance", "next", "--stack", "prod"), ("`config` must be a mapping", "not a string"),
         write(STACK_FILE, "config: us-east-1\n")),
    Case("stack-file-not-yaml", ("plan", "--stack", "prod"), ("Pulumi.prod.yaml is not valid YAML", "line 2"),
         write(STACK_FILE, "config:\n  aws:region: [us-east-1\n")),
    Case("stack-file-not-utf8", ("plan", "--stack", "prod"), ("stack file", "Pulumi.prod.yaml", "not UTF-8", "0xe9"),
         write(STACK_FILE, NOT_UTF8)),
    Case("stack-file-not-utf8-scale", ("scale", "--stack", "prod", "--min", "4", "--backend", "offline"),
         ("Pulumi.prod.yaml", "not UTF-8"), write(STACK_FILE, NOT_UTF8)),
    # files handed in
    Case("plan-not-utf8", ("policy", "check", "--plan", "plan.json"), ("plan file", "plan.json", "not UTF-8"),
         write("plan.json", b'{"project": "\xff"}')),
    Case("plan-with-nan", ("policy", "check", "--plan", "plan.json"), ("plan file", "NaN is not JSON", "finite number"),
         write("plan.json", '{"project": "p", "stack": "s", "resources": [], "outputs": {"x": NaN}}')),
    Case("outputs-not-utf8", ("smoke", "--no-publish", *OUTPUTS), ("outputs file", "outputs.json", "not UTF-8"),
         write("outputs.json", b"\xfe\xff{}")),
    Case("outputs-with-infinity", ("smoke", "--no-publish", *OUTPUTS), ("outputs file", "Infinity is not JSON"),
         write("outputs.json", '{"region": Infinity}')),
    Case("policy-config-not-utf8", ("plan", "--stack", "prod", "--policy-config", "pc.json"),
         ("policy config", "pc.json", "not UTF-8"), write("pc.json", b'{"\x80": 1}')),
    # where output goes
    Case("manifests-at-a-file", ("plan", "--stack", "prod", "--manifests", "notes.txt"),
         ("--manifests notes.txt", "is a file, not a directory", "created when missing"), write("notes.txt", "notes")),
    Case("manifests-under-a-file", ("plan", "--stack", "prod", "--manifests", "notes.txt/manifests"),
         ("--manifests notes.txt/manifests", "notes.txt is a file", "give a directory"), write("notes.txt", "notes")),
    Case("out-at-a-file", ("metrics", "collect", "--out", "notes.txt", *OUTPUTS), ("--out notes.txt", "is a file"),
         write("notes.txt", "notes")),
    Case("dr-out-at-a-file", ("dr", "failover", "--stack", "prod", "--reason", "drill", "--backend", "offline",
                              "--out", "notes.txt"), ("--out notes.txt", "is a file"), write("notes.txt", "notes")),
    Case("release-out-at-a-file", ("release", "promote", "--image", f"app:1@sha256:{'1' * 64}", "--backend", "offline",
                                   "--out", "notes.txt"), ("--out notes.txt", "is a file"), write("notes.txt", "notes")),
    Case("report-dir-variable-at-a-file", ("backup", "verify", *OUTPUTS),
         ("$SCRAPER_OPS_REPORT_DIR", "notes.txt", "is a file"), write("notes.txt", "notes"),
         env={"SCRAPER_OPS_REPORT_DIR": "notes.txt"}),
    # the offline state
    Case("offline-state-not-json", ("smoke", "--stack", "prod", "--backend", "offline", "--no-publish"),
         ("offline state", ".scraper-ops/prod.json", "not JSON"), write(".scraper-ops/prod.json", '{"resources": [')),
    Case("offline-state-wrong-shape", ("maintenance", "rehearse", "--stack", "prod", "--backend", "offline"),
         ("offline state", ".scraper-ops/prod.json", "is corrupt", "resources", "move it away"),
         write(".scraper-ops/prod.json", '{"project": "p", "stack": "prod", "resources": 5, "outputs": {}, "history": []}')),
    # options
    Case("url-without-scheme", ("smoke", "--no-publish", "--url", "scraper.example.com", *OUTPUTS),
         ("--url 'scraper.example.com'", "http(s) URL", "https://")),
    Case("url-other-scheme", (*OFFLINE_RUN, "--url", "ftp://scraper.example.com", *OUTPUTS),
         ("--url 'ftp://scraper.example.com'", "http(s) URL")),
    Case("url-bad-port", ("smoke", "--no-publish", "--url", "http://127.0.0.1:99999", *OUTPUTS), ("--url", "http(s) URL")),
    Case("scale-unknown-stack", ("scale", "--stack", "nope", "--min", "4", "--backend", "offline"),
         ("Pulumi.nope.yaml", "stacks in this project: prod")),
    Case("scale-min-zero", ("scale", "--stack", "prod", "--min", "0", "--backend", "offline"),
         ("--min 0", "greater than or equal to 1"), absent=("social-media-scraper:", "config of stack")),
    Case("scale-max-below-min", ("scale", "--stack", "prod", "--min", "8", "--max", "4", "--backend", "offline"),
         ("--max 4", "must be >= --min (8)"), absent=("social-media-scraper:",)),
    Case("scale-max-int32", ("scale", "--stack", "prod", "--min", "3", "--max", "3000000000", "--backend", "offline"),
         ("--max 3000000000", "2147483647"), absent=("social-media-scraper:",)),
    Case("wait-delay-variable", ("backup", "create", *OUTPUTS), ("SCRAPER_OPS_WAIT_DELAY_SECONDS='soon'", "whole number"),
         env={"SCRAPER_OPS_WAIT_DELAY_SECONDS": "soon"}),
    Case("dr-wait-delay-zero", ("dr", "failover", "--stack", "prod", "--reason", "drill", "--backend", "offline"),
         ("SCRAPER_OPS_WAIT_DELAY_SECONDS='0'", "whole number"), env={"SCRAPER_OPS_WAIT_DELAY_SECONDS": "0"}),
    Case("unlock-without-reason", ("maintenance", "unlock", *OUTPUTS), ("--reason TEXT",)),
    Case("option-out-of-range", ("maintenance", "next", "--stack", "prod", "--count", "0"),
         ("Invalid value for '--count'", "greater than or equal to 1", "maintenance next --help")),
    Case("unknown-option", ("plan", "--stack", "prod", "--nope"), ("No such option: --nope", "plan --help")),
    Case("yaml-date-for-a-region", ("plan", "--stack", "prod"),
         ('social-media-scraper:drRegion = "2024-01-01"', "not an AWS region", "us-west-2"),
         edit_stack("drRegion: us-west-2", "drRegion: 2024-01-01")),
    Case("outputs-a-directory", ("smoke", "--no-publish", "--outputs", "records"),
         ("cannot read outputs file records", "Is a directory"), write("records/x", "x")),
    # hints and the environment
    Case("offline-run-without-state", OFFLINE_RUN, ("no state for stack prod", "--outputs FILE"),
         absent=("maintenance run",)),
    Case("wrong-project-dir", ("plan", "--stack", "prod"), ("SCRAPER_OPS_PROJECT_DIR=", "nowhere", "no Pulumi.yaml there"),
         env={"SCRAPER_OPS_PROJECT_DIR": "nowhere"}),
]


@pytest.fixture
def project(tmp_path, monkeypatch, prod_plan):
    """A copy of the project, the current directory (reports/ lands here by default), with saved outputs."""
    for name in ("Pulumi.yaml", STACK_FILE):
        shutil.copy(REPO_ROOT / name, tmp_path / name)
    (tmp_path / "outputs.json").write_text(json.dumps(prod_plan.outputs))
    monkeypatch.setenv("SCRAPER_OPS_PROJECT_DIR", str(tmp_path))
    for name in ("SCRAPER_OPS_REPORT_DIR", "SCRAPER_OPS_WAIT_DELAY_SECONDS", "SCRAPER_OPS_OUTPUTS"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def tree(root: Path) -> dict[str, bytes | None]:
    """Every file and directory under root, with file contents: 'nothing written' is this, unchanged."""
    return {str(p.relative_to(root)): (p.read_bytes() if p.is_file() else None) for p in sorted(root.rglob("*"))}


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_bad_input_is_one_line_exit_2_and_nothing_written(case, project, capsys, monkeypatch):
    case.setup(project)
    for name, value in case.env.items():
        monkeypatch.setenv(name, value)
    before = tree(project)
    code, out, err = run_cli(capsys, *case.argv)
    lines = err.splitlines()
    assert code == 2, err
    assert len(lines) == 1 and lines[0].startswith("scraper-ops: "), err
    for expected in case.names:
        assert expected in lines[0], f"{expected!r} not in: {lines[0]}"
    for unwanted in case.absent:
        assert unwanted not in lines[0]
    assert "Traceback" not in err and out == ""
    assert tree(project) == before


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into any directory whatever its mode; the check "
                    "needs an ordinary user to be exercised")
def test_manifests_in_an_unwritable_directory(project, capsys):
    locked = project / "locked"
    locked.mkdir(mode=0o555)
    before = tree(project)
    code, out, err = run_cli(capsys, "plan", "--stack", "prod", "--manifests", str(locked / "m"))
    assert code == 2 and "is not writable by this user" in err and len(err.splitlines()) == 1
    assert tree(project) == before


def test_an_unexpected_error_is_one_line_and_its_traceback_only_with_debug(project, capsys, monkeypatch):
    """The top-level handler, fed an error no code path expects (the plan job failing for no known reason)."""
    from automation import plan

    def broken(stack):
        raise RuntimeError("the engine lost its mind")

    monkeypatch.setattr(plan, "offline_plan", broken)
    code, _, err = run_cli(capsys, "plan", "--stack", "prod")
    assert code == 1 and "Traceback" not in err
    assert err.splitlines() == ["scraper-ops: unexpected error: RuntimeError: the engine lost its mind "
                                "(run with --debug before the command for the traceback)"]
    code, _, err = run_cli(capsys, "--debug", "plan", "--stack", "prod")
    assert code == 1 and "Traceback (most recent call last)" in err and 'raise RuntimeError("the engine lost' in err


def test_the_console_script_refuses_bad_input_without_a_traceback(project):
    """The same through the console script's entry point (`automation.__main__.run`: main, then sys.exit)."""
    (project / STACK_FILE).write_text((project / STACK_FILE).read_text().replace("minReplicas: 3", "minReplicas: true"))
    result = scraper_ops("plan", "--stack", "prod", cwd=project, env={"SCRAPER_OPS_PROJECT_DIR": str(project)})
    assert result.returncode == 2 and result.stdout == ""
    assert result.stderr.splitlines() == [
        "scraper-ops: invalid config of stack prod: social-media-scraper:autoscaling.minReplicas = true: "
        "must be a number, not a boolean"]


def test_int32_overflow_in_a_manifest_fails_strict_validation(prod_plan):
    """kubernetes-validate alone checks types, not formats; the plan's strict check also refuses 2**31 in an
    int32 field, as the API server does."""
    import copy

    from automation.plan import check_manifests

    plan = copy.deepcopy(prod_plan)
    deployment = next(r for r in plan.resources if r.type == "kubernetes:apps/v1:Deployment")
    deployment.inputs["spec"]["replicas"] = 2**31
    errors = [(c.manifest["kind"], error) for c in check_manifests(plan, "1.31") for error in c.errors]
    assert errors == [("Deployment", "spec.replicas: 2147483648 is out of range for int32")]
    deployment.inputs["spec"]["replicas"] = 2**31 - 1
    assert not any(c.errors for c in check_manifests(plan, "1.31"))
