"""`pulumi up` runs infra/ through the Python language host: `runpy.run_path("infra")` in the venv that
Pulumi.yaml names, with only infra/ itself on sys.path. The program must import from the checkout there,
without the editable install of this project (issue 9 item 12)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import sysconfig
import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement

from tests.support.programs import REPO_ROOT, prod_config

# What the language host does (pulumi-language-python-exec): configure the runtime, then run the program dir.
# Here the runtime is the SDK's mock engine, answering the program's invokes as AWS would.
HARNESS = """
import json, runpy, sys
import pulumi
from pulumi.runtime import mocks

class Cloud(mocks.Mocks):
    def new_resource(self, args):
        arn = f"arn:aws:x:us-east-1:123456789012:{args.name}"
        return f"{args.name}-id", {**args.inputs, "arn": arn, "secretArn": arn, "name": args.name}
    def call(self, args):
        token = args.token
        if token.endswith("getCallerIdentity"):
            return {"accountId": "123456789012"}
        if token.endswith("getPartition"):
            return {"partition": "aws"}
        if token.endswith("getCluster"):
            return {"name": "c", "endpoint": "https://e", "certificateAuthorities": [{"data": "x"}],
                    "identities": [{"oidcs": [{"issuer": "https://oidc.eks.us-east-1.amazonaws.com/id/X"}]}],
                    "vpcConfig": {"vpcId": "vpc-1"}}
        if token.endswith("getLoadBalancer"):
            return {"arnSuffix": "app/scraper-prod/0123456789abcdef", "name": args.args["name"],
                    "dnsName": "internal-scraper-prod-1.us-east-1.elb.amazonaws.com", "zoneId": "Z35SXDOTRQ7X7K"}
        if token.endswith("getOpenIdConnectProvider"):
            return {"arn": "arn:aws:iam::123456789012:oidc-provider/oidc.eks.us-east-1.amazonaws.com/id/X"}
        if token.endswith("getSecretVersion"):
            return {"secretString": json.dumps({"password": "p" * 40})}
        if token.endswith("getRandomPassword"):
            return {"randomPassword": "p" * 40}
        raise NotImplementedError(token)

pulumi.runtime.set_mocks(Cloud(), project="social-media-scraper", stack="prod", preview=False)

@pulumi.runtime.test
def program():
    runpy.run_path("infra", run_name="__main__")

program()
print(json.dumps({"infra": sys.modules["infra"].__file__}))
"""


@pytest.mark.slow
def test_the_program_runs_from_a_fresh_checkout_without_the_editable_install(tmp_path):
    checkout = tmp_path / "checkout"
    for package in ("infra", "contract"):  # the program and the facts it shares with the ops jobs
        shutil.copytree(REPO_ROOT / package, checkout / package, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(REPO_ROOT / "Pulumi.yaml", checkout)
    host = tmp_path / "language-host"  # the exec script lives with the CLI, not in the project
    host.mkdir()
    (host / "harness.py").write_text(HARNESS)
    # -S: no site processing, so the editable install's .pth finder is not loaded; site-packages by PYTHONPATH.
    env = {"PYTHONPATH": sysconfig.get_paths()["purelib"], "PULUMI_CONFIG": json.dumps(prod_config())}
    cannot = subprocess.run([sys.executable, "-S", "-c", "import infra"], cwd=tmp_path, env=env, capture_output=True)
    assert cannot.returncode != 0, "the interpreter must not see this repo's infra package"
    result = subprocess.run([sys.executable, "-S", str(host / "harness.py")], cwd=checkout, env=env, capture_output=True,
                            text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    loaded = json.loads(result.stdout.strip().splitlines()[-1])["infra"]
    assert Path(loaded).resolve().is_relative_to(checkout.resolve()), loaded


def test_requirements_txt_names_what_the_program_imports_with_the_project_ranges():
    """`pulumi install` fills the venv from requirements.txt; its ranges must be pyproject's."""
    declared = {Requirement(r).name.lower(): str(Requirement(r).specifier) for r in tomllib.loads(
        (REPO_ROOT / "pyproject.toml").read_text())["project"]["dependencies"]}
    lines = [line for line in (REPO_ROOT / "requirements.txt").read_text().splitlines() if line and line[0] != "#"]
    required = {Requirement(line).name.lower(): str(Requirement(line).specifier) for line in lines}
    assert {"pulumi", "pulumi-aws", "pulumi-kubernetes", "boto3", "pydantic", "croniter"} <= set(required)
    for name, specifier in required.items():
        assert declared[name] == specifier, name
