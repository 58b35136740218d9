"""Staging before production, end to end: `release promote` on the staging stack and `maintenance run` on prod,
both through the CLI with the offline backend, against a moto server and a fake app. The soak's clock and sleep
are injected: no test waits."""

from __future__ import annotations

import json
import shutil
from datetime import datetime, timedelta, timezone

import pytest

from automation.cli import release as release_commands
from automation.engine import run_program
from automation.runner import OfflineRunner
from automation.stack_files import read_stack_file
from infra import signals
from tests.support.cli import run_cli
from tests.support.moto_stack import client, deploy
from tests.support.programs import NEW_IMAGE, OLD_IMAGE, REPO_ROOT

DIGEST = NEW_IMAGE.partition("@")[2]


class FakeClock:
    """The soak's clock and sleep: sleeping moves the clock; `on_sleep(n)` runs after the n-th sleep."""

    def __init__(self):
        self.now = datetime.now(timezone.utc)
        self.slept: list[float] = []
        self.on_sleep = lambda count: None

    def __call__(self) -> datetime:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += timedelta(seconds=seconds)
        self.on_sleep(len(self.slept))


@pytest.fixture
def clock(monkeypatch) -> FakeClock:
    fake = FakeClock()
    monkeypatch.setattr(release_commands, "CLOCK", fake)
    monkeypatch.setattr(release_commands, "SLEEP", fake.sleep)
    return fake


@pytest.fixture
def project(tmp_path, monkeypatch):
    """Both stacks' files; prod's window is open now (a daily window from the current hour), staging's opens in
    12 hours, whatever the day the suite runs."""
    for name in ("Pulumi.yaml", "Pulumi.prod.yaml", "Pulumi.staging.yaml"):
        shutil.copy(REPO_ROOT / name, tmp_path / name)
    hour = datetime.now(timezone.utc).hour
    for stack, start, duration in (("prod", hour, 240), ("staging", (hour + 12) % 24, 120)):
        path = tmp_path / f"Pulumi.{stack}.yaml"
        path.write_text(path.read_text().replace('windowStart: "0 2 * * 0#1"', f'windowStart: "0 {start} * * *"')
                        .replace("durationMinutes: 120", f"durationMinutes: {duration}"))
    monkeypatch.setenv("SCRAPER_OPS_PROJECT_DIR", str(tmp_path))
    for stack in ("staging", "prod"):
        OfflineRunner(stack, tmp_path).up("initial deploy")
    return tmp_path


@pytest.fixture
def stacks(aws_env, project, prod_plan):
    """Both stacks deployed into moto; their outputs files."""
    staging_plan = run_program("staging", read_stack_file("staging", REPO_ROOT))
    files = {}
    for stack, outputs in zip(("prod", "staging"), deploy(prod_plan, staging_plan)):
        files[stack] = project / f"{stack}-outputs.json"
        files[stack].write_text(json.dumps(outputs))
        files[f"{stack}Outputs"] = outputs
    return files


def traffic(at: datetime, requests: int, errors: int, latency_seconds: float, stack: str = "staging") -> None:
    """What staging's ALB publishes: request and target 5xx counts, and TargetResponseTime per request."""
    balancer = run_program(stack, read_stack_file(stack, REPO_ROOT)).outputs["loadBalancer"]
    dimensions = [{"Name": signals.ALB_DIMENSION, "Value": balancer}]
    data = [{"MetricName": signals.ALB_REQUESTS, "Dimensions": dimensions, "Timestamp": at, "Value": requests},
            {"MetricName": signals.ALB_TARGET_5XX, "Dimensions": dimensions, "Timestamp": at, "Value": errors}]
    data += [{"MetricName": signals.ALB_RESPONSE_TIME, "Dimensions": dimensions, "Timestamp": at,
              "Value": latency_seconds} for _ in range(20)]
    client("cloudwatch").put_metric_data(Namespace=signals.ALB_NAMESPACE, MetricData=data)


def promote(capsys, stacks, fake_app, *extra: str):
    return run_cli(capsys, "release", "promote", "--image", NEW_IMAGE, "--backend", "offline", "--url", fake_app.url,
                   "--from-outputs", str(stacks["staging"]), "--to-outputs", str(stacks["prod"]),
                   "--out", str(stacks["prod"].parent / "records"), "--json", *extra)


def prod_maintenance(capsys, stacks, fake_app, *extra: str):
    return run_cli(capsys, "maintenance", "run", "--stack", "prod", "--backend", "offline", "--image", NEW_IMAGE,
                   "--url", fake_app.url, "--outputs", str(stacks["prod"]), "--out",
                   str(stacks["prod"].parent / "records"), "--json", *extra)


def records(stacks, stack: str, prefix: str) -> list[dict]:
    bucket = stacks[f"{stack}Outputs"]["opsBucket"]
    s3 = client("s3")
    keys = sorted(o["Key"] for o in s3.list_objects_v2(Bucket=bucket, Prefix=prefix).get("Contents", [])
                  if o["Key"].endswith(".json"))
    return [json.loads(s3.get_object(Bucket=bucket, Key=key)["Body"].read()) for key in keys]


def image_of(project, stack: str) -> str:
    return json.loads(OfflineRunner(stack, project).get_config()["social-media-scraper:app"])["image"]


def soak_traffic(clock: FakeClock, errors_after_sleep: int | None = None, latency: float = 0.2) -> None:
    """Healthy traffic a minute into the soak; from the given sleep on, one request in five fails."""
    traffic(clock.now + timedelta(minutes=1), 1000, 2, latency)

    def degrade(count: int) -> None:
        if errors_after_sleep is not None and count >= errors_after_sleep:
            traffic(clock.now - timedelta(seconds=30), 1000, 200, latency)

    clock.on_sleep = degrade


# ---- promotion, then production ---------------------------------------------------------------------------------


def test_a_release_soaks_on_staging_then_production_deploys_it_with_the_evidence(capsys, stacks, fake_app, clock):
    soak_traffic(clock)
    code, out, err = promote(capsys, stacks, fake_app)
    record = json.loads(out)
    assert code == 0, err
    assert (record["outcome"], record["digest"], record["source"], record["target"]) == ("passed", DIGEST, "staging", "prod")
    staging_run = record["staging_maintenance"]
    assert staging_run["outcome"] == "succeeded"
    assert [staging_run["steps"][s] for s in ("backup", "preview", "update", "smoke")] == ["ok"] * 4
    assert image_of(stacks["prod"].parent, "staging") == NEW_IMAGE, "staging runs the release"
    assert image_of(stacks["prod"].parent, "prod") == OLD_IMAGE, "promotion deploys nothing to production"
    # the soak: the prod-required 30 minutes, sampled without waiting, every sample within the SLO
    soak = record["soak"]
    assert soak["minutes"] == 30 and soak["breach"] is None
    assert sum(clock.slept) == 30 * 60 and len(soak["samples"]) == len(clock.slept) + 1
    final = soak["samples"][-1]
    assert final["requests"] == 1000 and final["error_rate_percent"] == pytest.approx(0.2)
    assert final["p95_seconds"] == pytest.approx(0.2) and final["smoke_ok"]
    # where the gate and a reader look: the promotion in prod's bucket, staging's maintenance in staging's
    assert [r["digest"] for r in records(stacks, "prod", "promotions/")] == [DIGEST]
    assert records(stacks, "staging", "maintenance/")[0]["kind"] == "promotion"

    code, out, err = prod_maintenance(capsys, stacks, fake_app)
    prod_record = json.loads(out)
    assert code == 0, err
    assert prod_record["outcome"] == "succeeded" and prod_record["kind"] == "scheduled"
    gate = prod_record["release_gate"]
    assert gate["refusal"] is None and not gate["overridden"]
    assert gate["record"].startswith(f"s3://{stacks['prodOutputs']['opsBucket']}/promotions/{DIGEST.replace(':', '-')}-")
    assert image_of(stacks["prod"].parent, "prod") == NEW_IMAGE

    # the Sunday trigger's backup run in the same window finds the window maintained and does nothing
    code, out, _ = run_cli(capsys, "maintenance", "run", "--stack", "prod", "--backend", "offline", "--scheduled",
                           "--outputs", str(stacks["prod"]), "--json")
    assert code == 0 and json.loads(out)["outcome"] == "window already maintained"
    assert len(records(stacks, "prod", "maintenance/")) == 1


def test_production_refuses_a_digest_that_never_passed_staging_and_changes_nothing(capsys, stacks, fake_app):
    before = (stacks["prod"].parent / "Pulumi.prod.yaml").read_text()
    code, out, err = prod_maintenance(capsys, stacks, fake_app)
    assert code == 1
    assert f"prod deploys only images that passed on staging: no promotion record of {DIGEST}" in err
    assert "scraper-ops release promote --image" in err and "--force --reason TEXT" in err
    assert out == ""
    assert (stacks["prod"].parent / "Pulumi.prod.yaml").read_text() == before
    assert records(stacks, "prod", "maintenance/") == []
    assert client("rds").describe_db_snapshots(DBInstanceIdentifier="scraper-prod", SnapshotType="manual")["DBSnapshots"] == []


def test_emergency_maintenance_overrides_the_gate_and_says_so(capsys, stacks, fake_app):
    sqs = client("sqs")
    notices = sqs.create_queue(QueueName="notices")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=notices, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    client("sns").subscribe(TopicArn=stacks["prodOutputs"]["maintenanceTopicArn"], Protocol="sqs", Endpoint=arn)
    code, out, err = prod_maintenance(capsys, stacks, fake_app, "--force", "--reason", "CVE-2026-1234 in the parser")
    record = json.loads(out)
    assert code == 0, err
    assert record["release_gate"]["overridden"] and record["release_gate"]["reason"] == "CVE-2026-1234 in the parser"
    assert record["release_gate"]["refusal"].startswith(f"no promotion record of {DIGEST}")
    saved = records(stacks, "prod", "maintenance/")[0]
    assert saved["release_gate"]["overridden"] is True
    bodies = [json.loads(m["Body"]) for m in sqs.receive_message(QueueUrl=notices, MaxNumberOfMessages=10)["Messages"]]
    start = next(b for b in bodies if b["Subject"].endswith("starting: prod"))
    assert start["Subject"] == "EMERGENCY maintenance starting: prod"
    assert "Urgency assessed by" in start["Message"] and "CVE-2026-1234 in the parser" in start["Message"]
    assert "EMERGENCY maintenance" in start["Message"] and "past the release gate" in start["Message"]
    assert "release gate OVERRIDDEN by --force" in start["Message"]


# ---- what stops a promotion -------------------------------------------------------------------------------------


def test_a_staging_failure_stops_the_promotion_before_the_soak(capsys, stacks, fake_app, clock):
    fake_app.mode = "failing"
    code, out, err = promote(capsys, stacks, fake_app)
    record = json.loads(out)
    assert code == 1
    assert record["outcome"] == "failed" and record["soak"] is None and clock.slept == []
    assert record["staging_maintenance"]["steps"]["smoke"] == "failed"
    assert "promotion stopped before the soak" in err
    assert records(stacks, "prod", "promotions/")[0]["ok"] is False
    code, _, err = prod_maintenance(capsys, stacks, fake_app)
    assert code == 1 and "FAILED" in err and "nothing was changed" in err.lower()


def test_a_soak_that_breaches_the_error_rate_stops_at_the_breach_and_blocks_production(capsys, stacks, fake_app, clock):
    soak_traffic(clock, errors_after_sleep=2)
    code, out, err = promote(capsys, stacks, fake_app)
    record = json.loads(out)
    assert code == 1
    soak = record["soak"]
    assert soak["breach"].startswith("error rate") and f"> {stacks['stagingOutputs']['objectives']['errorRatePercent']:g}%" in soak["breach"]
    assert len(soak["samples"]) == 3 and sum(clock.slept) < 30 * 60, "stopped at the breach, not at the end"
    assert [s["problems"] == [] for s in soak["samples"]] == [True, True, False]
    assert "staging SLO breached during the soak" in err
    code, _, err = prod_maintenance(capsys, stacks, fake_app)
    assert code == 1 and "FAILED: staging SLO breached during the soak" in err


def test_a_soak_with_slow_responses_breaches_the_p95_objective(capsys, stacks, fake_app, clock):
    soak_traffic(clock, latency=3.0)
    code, out, _ = promote(capsys, stacks, fake_app)
    assert code == 1
    assert json.loads(out)["soak"]["breach"] == "p95 latency 3.000 s > 2 s"


def test_a_soak_without_traffic_proves_nothing(capsys, stacks, fake_app, clock):
    code, out, _ = promote(capsys, stacks, fake_app)
    assert code == 1
    assert "no RequestCount recorded for staging during the soak" in json.loads(out)["soak"]["breach"]


@pytest.mark.parametrize(("args", "message"), [
    (["--soak", "5"], "--soak 5: prod requires a soak of at least 30 minutes (release.soakMinutes)"),
    (["--from", "prod", "--to", "staging"], "--to staging: the stack takes no promotions"),
    (["--from", "dev"], "--from dev: prod takes releases from staging only"),
])
def test_bad_promotions_exit_2_and_write_nothing(capsys, stacks, fake_app, clock, args, message):
    code, out, err = promote(capsys, stacks, fake_app, *args)
    assert code == 2 and message in err and out == ""
    assert records(stacks, "prod", "promotions/") == [] and clock.slept == []


def test_an_image_without_a_digest_is_refused(capsys, stacks, fake_app):
    code, _, err = run_cli(capsys, "release", "promote", "--image", "ghcr.io/social-media-scraper/app:2.5.0")
    assert code == 2 and "not pinned by digest" in err


# ---- the weekly trigger ------------------------------------------------------------------------------------------


def test_the_scheduled_trigger_outside_the_window_does_nothing_and_succeeds(capsys, stacks, fake_app, project):
    staging = (project / "Pulumi.staging.yaml").read_text()
    code, out, _ = run_cli(capsys, "maintenance", "run", "--stack", "staging", "--backend", "offline", "--scheduled",
                           "--outputs", str(stacks["staging"]), "--json")
    assert code == 0 and json.loads(out)["outcome"] == "not the window"
    assert (project / "Pulumi.staging.yaml").read_text() == staging
    assert records(stacks, "staging", "maintenance/") == []


def test_a_staging_stack_without_its_alb_output_is_refused_before_anything_changes(capsys, stacks, fake_app):
    """Stacks deployed before the ALB existed export no loadBalancer: the soak could not read its signals."""
    outputs = json.loads(stacks["staging"].read_text())
    del outputs["loadBalancer"]
    stacks["staging"].write_text(json.dumps(outputs))
    before = (stacks["staging"].parent / "Pulumi.staging.yaml").read_text()
    code, out, err = promote(capsys, stacks, fake_app)
    assert code == 2 and "name no loadBalancer" in err and out == ""
    assert (stacks["staging"].parent / "Pulumi.staging.yaml").read_text() == before
    records = stacks["prod"].parent / "records"
    assert not records.exists() or not any(records.iterdir()), "no record: nothing ran"
