"""checkov, a Kubernetes scanner no one here wrote, on the manifests `scraper-ops plan --manifests` writes.

checkov is not a dependency of the project. The test runs the executable named by `$CHECKOV`, else `checkov` on
the PATH, else /opt/checkov/bin/checkov (README, "checkov"), and is skipped, saying so, when there is none.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from automation import cli
from infra.components.workloads import OPS_JOBS

pytestmark = pytest.mark.integration

DEFAULT_CHECKOV = Path("/opt/checkov/bin/checkov")

# Failed checks accepted on purpose: check id -> why. Each entry is justified in the README too ("checkov").
ALLOWED_FAILURES: dict[str, str] = {}

WORKLOAD_KINDS = ("Deployment", "Job", "CronJob")


def checkov_executable() -> Path:
    named = os.environ.get("CHECKOV")
    if named:
        if not os.access(named, os.X_OK):
            pytest.fail(f"$CHECKOV is {named!r}, which is not an executable file")
        return Path(named)
    on_path = shutil.which("checkov")
    if on_path:
        return Path(on_path)
    if os.access(DEFAULT_CHECKOV, os.X_OK):
        return DEFAULT_CHECKOV
    pytest.skip(f"checkov not found: set $CHECKOV, put checkov on the PATH or install it at {DEFAULT_CHECKOV}")


def scan(checkov: Path, directory: Path) -> dict[str, Any]:
    """checkov's JSON report of every Kubernetes check over the directory, offline: nothing is downloaded, and no
    update check, which asks PyPI for checkov's latest version and caches the answer in the user's home."""
    completed = subprocess.run(
        [str(checkov), "--directory", str(directory), "--framework", "kubernetes",
         "--compact", "--skip-download", "--output", "json"],
        capture_output=True, text=True, timeout=300, env={**os.environ, "CKV_SKIP_PACKAGE_UPDATE_CHECK": "true"},
    )
    # checkov exits 0 when every check passed and 1 when some failed; anything else is checkov failing to run.
    assert completed.returncode in (0, 1), f"checkov exited {completed.returncode}: {completed.stderr[-2000:]}"
    report = json.loads(completed.stdout)
    assert report["summary"]["parsing_errors"] == 0, report["results"]["parsing_errors"]
    return report


def directory_results(report: dict[str, Any], directory: str) -> dict[str, list[dict[str, Any]]]:
    """The passed and failed checks of the files under `directory` of the scanned root (checkov names each file by
    its path from the root, with a leading slash)."""
    prefix = f"/{directory}/"
    return {
        outcome: [check for check in report["results"][outcome] if check["file_path"].startswith(prefix)]
        for outcome in ("passed_checks", "failed_checks")
    }


def scanned_resources(results: dict[str, list[dict[str, Any]]]) -> set[str]:
    return {check["resource"] for check in results["passed_checks"] + results["failed_checks"]}


def failures(results: dict[str, list[dict[str, Any]]]) -> list[str]:
    return sorted(
        f"{check['check_id']} {check['resource']}: {check['check_name']}"
        for check in results["failed_checks"]
        if check["check_id"] not in ALLOWED_FAILURES
    )


def workload_resource_ids(directory: Path) -> set[str]:
    """The ids checkov gives the prod workloads: `Kind.namespace.name`."""
    manifests = [yaml.safe_load(path.read_text()) for path in directory.glob("*.yaml")]
    return {
        f"{m['kind']}.{m['metadata']['namespace']}.{m['metadata']['name']}"
        for m in manifests
        if m["kind"] in WORKLOAD_KINDS
    }


@pytest.fixture(scope="module")
def scanned(tmp_path_factory) -> tuple[Path, dict[str, Any]]:
    """One checkov run per test process (its start is most of its cost) over two directories of one root: `prod/`,
    the manifests `plan --manifests` writes, and `tag-only/`, the prod Deployment with its image by tag alone."""
    checkov = checkov_executable()  # skips (or fails) before anything is planned
    root = tmp_path_factory.mktemp("checkov")
    prod = root / "prod"
    assert cli.main(["plan", "--stack", "prod", "--manifests", str(prod)]) == 0
    deployment_file = next(prod.glob("deployment-*.yaml"))
    deployment = yaml.safe_load(deployment_file.read_text())
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    container["image"] = container["image"].split("@")[0]
    (root / "tag-only").mkdir()
    (root / "tag-only" / deployment_file.name).write_text(yaml.safe_dump(deployment))
    return root, scan(checkov, root)


def test_prod_manifests_have_no_failed_checkov_check(scanned):
    root, report = scanned
    results = directory_results(report, "prod")
    workloads = workload_resource_ids(root / "prod")
    assert len(workloads) == 2 + len(OPS_JOBS), "the app Deployment, its migration Job and one CronJob per ops job"
    assert workloads <= scanned_resources(results), "checkov did not scan every workload"
    failed = failures(results)
    assert not failed, f"{len(failed)} failed checkov checks:\n" + "\n".join(failed)


def test_an_image_by_tag_alone_fails_the_scan(scanned):
    """The scan can fail: the Deployment with its image by tag only is reported (CKV_K8S_43, image by digest)."""
    root, report = scanned
    deployment = yaml.safe_load(next((root / "tag-only").glob("deployment-*.yaml")).read_text())
    deployment_id = f"Deployment.{deployment['metadata']['namespace']}.{deployment['metadata']['name']}"
    assert f"CKV_K8S_43 {deployment_id}: Image should use digest" in failures(directory_results(report, "tag-only"))
