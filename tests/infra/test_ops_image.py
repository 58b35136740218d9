"""The ops image that the CronJobs run: pinned base, non-root user matching the pods, scraper-ops entry point."""

from __future__ import annotations

import re

from infra.components.workloads import RUN_AS_USER
from tests.support.programs import REPO_ROOT


def instructions() -> list[tuple[str, str]]:
    text = (REPO_ROOT / "Dockerfile").read_text().replace("\\\n", " ")
    return [tuple(line.split(None, 1)) for line in text.splitlines() if line.strip() and not line.startswith("#")]


def test_base_image_is_pinned():
    base = next(arg for op, arg in instructions() if op == "FROM")
    assert re.fullmatch(r"python:3\.11\.\d+-slim-bookworm(@sha256:[0-9a-f]{64})?", base), base


def test_runs_scraper_ops_as_the_pods_non_root_user():
    ops = dict(instructions())
    assert ops["USER"] == f"{RUN_AS_USER}:{RUN_AS_USER}"
    assert ops["ENTRYPOINT"] == '["scraper-ops"]'
    assert f"--uid {RUN_AS_USER}" in ops["RUN"]
    environment = " ".join(arg for op, arg in instructions() if op == "ENV").split()
    assert {"HOME=/tmp", "SCRAPER_OPS_REPORT_DIR=/tmp/reports"} <= set(environment), "the root filesystem is read-only"


def test_the_image_installs_every_package_the_console_script_needs():
    copied = {arg.split()[0] for op, arg in instructions() if op == "COPY"}
    assert {"infra", "automation", "policies", "pyproject.toml"} <= copied
