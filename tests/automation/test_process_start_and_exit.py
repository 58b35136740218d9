"""The console script's start and exit: commands load only what they use, and the exit skips only the teardown.

Both run in child processes, since what a process has imported and how it exits is the subject. The speed these
buy is measured by benchmarks/plan_time.py, never asserted here.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import textwrap

import pytest

from tests.support.cli import run_cli
from tests.support.programs import REPO_ROOT

pytestmark = pytest.mark.slow  # every test here starts a Python process (the fast tier leaves those out)

def run_python(code: str, cwd=REPO_ROOT) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, cwd=cwd,
                          env=env, timeout=180)


def test_each_command_loads_only_the_stacks_it_uses(tmp_path, prod_plan):
    """--help and `maintenance next` load no Pulumi SDK and no boto3; `policy check` no pulumi-aws (the cost rule
    reads its type tables). What `plan` loads is checked on the console script's own run below."""
    saved = tmp_path / "plan.json"
    saved.write_text(json.dumps(prod_plan.to_json()))
    result = run_python(f"""
        import contextlib, io, json, sys
        from automation.cli import main

        def loaded(*args):
            with contextlib.redirect_stdout(io.StringIO()):
                code = main(list(args))
            prefixes = ("pulumi", "pulumi_aws", "pulumi_kubernetes", "boto3", "kubernetes_validate")
            return {{"code": code, "modules": sorted(p for p in prefixes if p in sys.modules)}}

        print(json.dumps({{
            "help": loaded("--help"),
            "maintenance next": loaded("maintenance", "next", "--stack", "prod"),
            "policy check": loaded("policy", "check", "--plan", {str(saved)!r}),
        }}))
    """)
    assert result.returncode == 0, result.stderr
    steps = json.loads(result.stdout.splitlines()[-1])
    assert all(step["code"] == 0 for step in steps.values()), steps
    assert steps["help"]["modules"] == []
    assert steps["maintenance next"]["modules"] == []
    assert "pulumi_aws" not in steps["policy check"]["modules"]


def test_the_exit_keeps_threads_exit_handlers_output_and_the_exit_code(tmp_path):
    """What the interpreter's own exit guarantees, without its teardown: a non-daemon thread finishes its work,
    atexit handlers run, buffered stdout and stderr reach the reader, the command's exit code is the process's."""
    result = run_python(f"""
        import atexit, pathlib, sys, threading
        from automation.__main__ import exit_without_teardown

        out = pathlib.Path({str(tmp_path)!r})
        go = threading.Event()

        def work():
            go.wait()
            out.joinpath("thread").write_text("finished")

        threading.Thread(target=work).start()
        atexit.register(lambda: out.joinpath("atexit").write_text("ran"))
        sys.stdout.write("no newline, still buffered")
        sys.stderr.write("a warning")
        go.set()
        exit_without_teardown(3)
        out.joinpath("after").write_text("exit_without_teardown returned")
    """)
    assert result.returncode == 3
    assert result.stdout == "no newline, still buffered"
    assert result.stderr == "a warning"
    assert (tmp_path / "thread").read_text() == "finished"
    assert (tmp_path / "atexit").read_text() == "ran"
    assert not (tmp_path / "after").exists()


def test_the_console_script_exits_with_the_commands_code_and_all_its_output(tmp_path):
    ok = subprocess.run([sys.executable, "-m", "automation", "maintenance", "next", "--count", "24", "--json"],
                        capture_output=True, text=True, cwd=REPO_ROOT, timeout=180)
    assert ok.returncode == 0, ok.stderr
    assert len(json.loads(ok.stdout)["windows"]) == 24  # the whole document, flushed before the exit
    bad = subprocess.run([sys.executable, "-m", "automation", "maintenance", "next", "--stack", "nowhere"],
                         capture_output=True, text=True, cwd=REPO_ROOT, timeout=180)
    assert bad.returncode == 2
    assert bad.stderr.startswith("scraper-ops: no stack config Pulumi.nowhere.yaml")


def test_the_console_script_plans_without_the_manifest_validator_and_keeps_its_aws_models_in_the_user_cache(
        tmp_path, capsys):
    """`plan` through the console script, as a user runs it: its first run loads the program's SDKs and not
    kubernetes-validate, which only --manifests needs (what it imports, from `-X importtime` on stderr), and stores
    the AWS models it validated against under $XDG_CACHE_HOME. A second run, which reads them from there, prints
    the plan and the AWS-model findings the library prints from botocore's own models (`main()` in this process,
    which enables no cache and imports the SDKs as shipped, where the console script loads their service packages
    lazily: automation/sdk_imports.py)."""
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT), "XDG_CACHE_HOME": str(tmp_path / "cache")}

    def plan(*options: str, interpreter_options: tuple[str, ...] = ()) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, *interpreter_options, "-m", "automation", "plan", "--stack", "prod",
                               *options], capture_output=True, text=True, cwd=REPO_ROOT, env=env, timeout=180)

    cold = plan(interpreter_options=("-X", "importtime"))
    imports, messages = [], []
    for line in cold.stderr.splitlines():
        (imports if line.startswith("import time:") else messages).append(line)
    assert cold.returncode == 0, "\n".join(messages)
    assert "HPA social-media-scraper-app: " in cold.stdout
    imported = {line.rpartition("|")[2].strip() for line in imports}
    assert {"pulumi", "pulumi_aws", "pulumi_kubernetes", "automation.cli.plan"} <= imported
    assert not {name for name in imported if name.split(".")[0] == "kubernetes_validate"}
    # pulumi-aws' S3 package through automation/sdk_imports.py: the buckets' module ran, its 60-odd neighbours did not
    assert {"pulumi_aws.s3.bucket", "pulumi_aws.s3.bucket_versioning"} <= imported
    assert "pulumi_aws.s3.access_point" not in imported
    entries = {p.name for p in (tmp_path / "cache" / "scraper-ops" / "aws-models").iterdir()}
    assert {"cloudwatch.json", "iam.json", "rds.json", "s3.json"} <= entries

    warm = plan("--json")
    assert warm.returncode == 0, warm.stderr
    in_process = run_cli(capsys, "plan", "--stack", "prod", "--json")

    def without_timing(code: int, out: str, err: str) -> tuple[int, dict, str]:
        document = json.loads(out)
        assert document["awsModel"].pop("seconds") >= 0
        return code, document, re.sub(r"\(\d+\.\d+ s\)", "(seconds)", err)

    assert without_timing(warm.returncode, warm.stdout, warm.stderr) == without_timing(*in_process)
    assert json.loads(warm.stdout)["awsModel"]["requestsValidated"] > 0
