"""The AWS-model stage where it runs: `policy check` and `plan --json` report it; botocore's models are read once
and cached per botocore version and model file."""

from __future__ import annotations

import copy
import json

import pytest

from automation.aws_model import check_plan
from tests.support.aws_model_cases import (
    SHAPE_CASES,
    inputs_of,
    plan_of,
)
from tests.support.cli import run_cli


def save(tmp_path, document, name="plan.json"):
    path = tmp_path / name
    path.write_text(json.dumps(document))
    return path


def policy_check(capsys, tmp_path, document, *options):
    return run_cli(capsys, "policy", "check", "--plan", str(save(tmp_path, document)), *options)


def test_policy_check_runs_the_stage_and_passes_a_clean_plan(capsys, tmp_path, baseline):
    code, out, _ = policy_check(capsys, tmp_path, baseline, "--json")
    assert code == 0
    stage = json.loads(out)["awsModel"]
    assert stage["violations"] == [] and stage["unmapped"] == []
    assert stage["resourcesChecked"] > 60 and stage["requestsValidated"] >= stage["resourcesChecked"]


def test_policy_check_fails_on_an_aws_model_violation_and_names_the_rule(capsys, tmp_path, baseline):
    inputs_of(baseline, "monitoring-db-cpu-high")["period"] = 45
    code, out, err = policy_check(capsys, tmp_path, baseline, "--json")
    assert code == 1
    assert json.loads(out)["violations"] == []
    [violation] = json.loads(out)["awsModel"]["violations"]
    assert violation["rule"] == "cw-alarm-period" and violation["member"] == "Period"
    assert violation["operation"] == "PutMetricAlarm" and violation["doc"].startswith("https://docs.aws.amazon.com/")
    assert "1 AWS-model violations" in err


def test_policy_check_fails_on_an_unmapped_input(capsys, tmp_path, baseline):
    inputs_of(baseline, "messaging-alerts")["archivePolicy"] = "{}"
    code, out, err = policy_check(capsys, tmp_path, baseline)
    assert code == 1
    assert "0 mandatory" in out and "aws-unmapped-input" in out and "1 unmapped" in out
    assert "cannot check" in err


def test_plan_json_carries_the_stage_and_prints_its_counts(capsys, prod_plan):
    code, out, err = run_cli(capsys, "plan", "--stack", "prod", "--json")
    stage = json.loads(out)["awsModel"]
    assert stage["resourcesChecked"] == sum(r.type.startswith("aws:") for r in prod_plan.resources)
    assert "AWS-model stage:" in err and f"{stage['resourcesChecked']} AWS resources checked" in err
    assert code == (1 if stage["violations"] or stage["unmapped"] else 0)


@pytest.fixture
def model_cache(tmp_path, monkeypatch):
    """The user cache enabled in a temporary directory; `new_process()` forgets the models this process loaded, as
    a new process starts with none (also before and after the test)."""
    from types import SimpleNamespace

    from automation import user_cache
    from automation.aws_model import models

    loaded = (models.request_model, models.service_description, models._cache_entry, models._loader)

    def new_process() -> None:
        for cached in loaded:
            cached.cache_clear()

    new_process()
    monkeypatch.setattr(user_cache, "directory", tmp_path / "cache")
    yield SimpleNamespace(directory=tmp_path / "cache", new_process=new_process)
    new_process()


def test_the_cached_models_find_what_the_whole_models_find(baseline, model_cache, monkeypatch):
    """The stage over the user cache reports exactly what it reports over botocore's whole models, and a second run
    (a new process) reads the cache only: loading any whole model fails the test."""
    from automation import user_cache
    from automation.aws_model import models

    for _, mutate, _, _ in SHAPE_CASES:
        mutate(baseline)
    findings = [f.to_json() for f in check_plan(plan_of(baseline)).findings]
    assert {f["rule"] for f in findings} == {case[2] for case in SHAPE_CASES}
    written = {p.name for p in (model_cache.directory / "aws-models").iterdir()}
    assert written >= {"cloudwatch.json", "iam.json", "s3.json"}

    model_cache.new_process()
    monkeypatch.setattr(models, "service_description", lambda service: pytest.fail(f"read the whole {service} model"))
    assert [f.to_json() for f in check_plan(plan_of(baseline)).findings] == findings

    monkeypatch.undo()  # no cache: the whole models
    assert user_cache.directory is None
    model_cache.new_process()
    assert [f.to_json() for f in check_plan(plan_of(baseline)).findings] == findings


def test_a_changed_model_file_or_botocore_version_is_read_again(tmp_path, model_cache, monkeypatch):
    """The cache key holds the size and mtime of each model file and botocore's version: a model edited in place
    (here a copy on AWS_DATA_PATH, which botocore's loader searches first) is read again, not served stale."""
    import gzip
    import os

    import botocore

    from automation.aws_model import models

    bundled = models._loader().load_service_model("cloudwatch", "service-2")
    version = models._loader().determine_latest_version("cloudwatch", "service-2")
    data_path = tmp_path / "models"
    model_file = data_path / "cloudwatch" / version / "service-2.json.gz"
    model_file.parent.mkdir(parents=True)
    monkeypatch.setenv("AWS_DATA_PATH", str(data_path))

    def install(description_max: int, mtime_ns: int) -> None:
        edited = copy.deepcopy(bundled)
        edited["shapes"]["AlarmDescription"]["max"] = description_max
        model_file.write_bytes(gzip.compress(json.dumps(edited).encode()))
        os.utime(model_file, ns=(mtime_ns, mtime_ns))

    def description_max() -> int:
        model_cache.new_process()
        shape = models.request_model("cloudwatch", "PutMetricAlarm").input_shape.members["AlarmDescription"]
        return shape.metadata["max"]

    install(100, 1_000_000_000_000_000_000)
    assert description_max() == 100
    install(200, 2_000_000_000_000_000_000)
    assert description_max() == 200
    entry = json.loads((model_cache.directory / "aws-models" / "cloudwatch.json").read_text())
    assert [str(model_file), model_file.stat().st_size, 2_000_000_000_000_000_000] in entry["key"]["files"]

    reads = []
    whole_model = models.service_description
    monkeypatch.setattr(models, "service_description", lambda service: reads.append(service) or whole_model(service))
    assert description_max() == 200 and reads == []
    monkeypatch.setattr(botocore, "__version__", botocore.__version__ + ".other")
    assert description_max() == 200 and reads == ["cloudwatch"]
