"""`scraper-ops smoke` against a real HTTP server on 127.0.0.1: healthy, slow, failing, hanging and dead."""

from __future__ import annotations

import json
import time
from datetime import datetime, timedelta, timezone

import pytest

from tests.support.cli import run_cli, scraper_ops
from tests.support.fake_app import SLOW_SECONDS
from tests.support.moto_stack import client


def smoke(capsys, deployed, *args):
    return run_cli(capsys, "smoke", *args, "--outputs", str(deployed["file"]), "--json")


def published(metric: str) -> list[float]:
    now = datetime.now(timezone.utc)
    response = client("cloudwatch").get_metric_statistics(
        Namespace="SocialMediaScraper", MetricName=metric, Dimensions=[{"Name": "Stack", "Value": "prod"}],
        StartTime=now - timedelta(minutes=10), EndTime=now + timedelta(minutes=1), Period=60, Statistics=["Minimum", "Maximum"],
    )
    return [p["Minimum"] for p in response["Datapoints"]]


def test_a_healthy_app_passes_every_check_and_publishes_success(capsys, deployed, fake_app):
    code, out, _ = smoke(capsys, deployed, "all", "--url", fake_app.url)
    result = json.loads(out)
    assert code == 0 and result["ok"] is True
    assert [c["name"] for c in result["checks"]] == ["health", "readiness", "api", "scrapers"]
    assert all(c["status"] == 200 and c["latency_seconds"] < 1 for c in result["checks"])
    assert result["p95Seconds"] <= 2
    assert fake_app.requests == ["/health", "/health/ready", "/api/v1/status", "/api/v1/scrapers/status"]
    assert published("SmokeTestSuccess") == [1.0]
    assert len(published("SmokeTestLatency")) == 1


@pytest.mark.parametrize(("suite", "paths"), [
    ("health", ["/health", "/health/ready"]), ("api", ["/api/v1/status"]), ("scrapers", ["/api/v1/scrapers/status"]),
])
def test_each_suite_runs_only_its_checks(capsys, deployed, fake_app, suite, paths):
    code, _, _ = smoke(capsys, deployed, suite, "--url", fake_app.url, "--no-publish")
    assert code == 0
    assert fake_app.requests == paths
    assert published("SmokeTestSuccess") == []


def test_a_failing_readiness_endpoint_fails_after_bounded_retries(capsys, deployed, fake_app, simulated_clock):
    fake_app.mode = "failing"
    code, out, err = smoke(capsys, deployed, "health", "--url", fake_app.url, "--retries", "2")
    result = json.loads(out)
    assert code == 1
    assert simulated_clock.slept == [0.5, 1.0], "two retries, with exponential backoff from 0.5 s"
    readiness = result["checks"][1]
    assert (readiness["ok"], readiness["status"], readiness["attempts"]) == (False, 503, 3)
    assert f"readiness ({fake_app.url}/health/ready): HTTP 503" in err
    assert published("SmokeTestSuccess") == [0.0]


def test_failing_scrapers_are_named(capsys, deployed, fake_app):
    fake_app.mode = "scrapers-failing"
    code, out, _ = smoke(capsys, deployed, "scrapers", "--url", fake_app.url, "--no-publish")
    assert code == 1
    assert json.loads(out)["checks"][0]["detail"] == "scrapers failing: reddit=rate-limited"


def test_a_slow_app_fails_the_latency_objective(capsys, deployed, fake_app, tmp_path):
    outputs = json.loads(deployed["file"].read_text())
    outputs["objectives"]["latencyP95Seconds"] = 0.1
    strict = tmp_path / "strict.json"
    strict.write_text(json.dumps(outputs))
    fake_app.mode = "slow"
    code, out, err = run_cli(capsys, "smoke", "health", "--url", fake_app.url, "--outputs", str(strict), "--json")
    assert code == 1
    result = json.loads(out)
    assert all(c["ok"] for c in result["checks"])
    assert result["p95Seconds"] >= SLOW_SECONDS
    assert "p95 latency" in err and "above the objective of 0.1 s" in err


def test_a_hanging_app_fails_fast_on_the_timeout(capsys, deployed, fake_app):
    fake_app.mode = "hanging"
    started = time.monotonic()
    code, out, err = smoke(capsys, deployed, "health", "--url", fake_app.url, "--timeout", "0.2", "--retries", "1",
                           "--no-publish")
    elapsed = time.monotonic() - started
    assert code == 1
    assert "health" in err and "no answer within 0.2 s" in err
    assert elapsed < 10, "a hanging app must not hang the smoke tests"


def test_a_dead_app_fails_with_connection_refused(capsys, deployed, dead_url):
    code, out, err = smoke(capsys, deployed, "all", "--url", dead_url, "--retries", "0")
    assert code == 1
    assert json.loads(out)["checks"][0]["detail"] == "cannot connect: Connection refused"
    assert published("SmokeTestSuccess") == [0.0]


def test_an_unknown_suite_is_bad_input(capsys, deployed):
    code, _, err = smoke(capsys, deployed, "everything")
    assert code == 2
    assert "unknown smoke suite 'everything'; use one of: all, health, api, scrapers" in err


def test_smoke_end_to_end_through_the_console_script(deployed, fake_app, aws_env):
    result = scraper_ops("smoke", "all", "--url", fake_app.url, "--outputs", str(deployed["file"]), env=aws_env)
    assert result.returncode == 0, result.stderr
    assert "published to CloudWatch" in result.stdout
    assert published("SmokeTestSuccess") == [1.0]
