"""Records and faults: the maintenance lock's lease and heartbeat, taking over a lapsed lock, `maintenance unlock`,
records written locally before any upload, plain-text tables, a stdout that closes early, and smoke without AWS
credentials. AWS is the moto server; the Pulumi CLI the recording one; clocks are injected (no sleeps)."""

from __future__ import annotations

import io
import json
import os
import re
import subprocess
import sys
import threading
from datetime import datetime, timedelta

import pytest
from rich.console import Console

from automation.console import Table
from automation.maintenance import HEARTBEAT_SECONDS, LEASE, Heartbeat, MaintenanceRun, OperationsLock, Options
from automation.runner import OfflineRunner
from contract import alarms as alarm_keys
from tests.automation.test_maintenance import FAST, WINDOW, Harness, outside_the_window
from tests.automation.test_offline_backend import project  # noqa: F401 - the fixture
from tests.support.cli import run_cli
from tests.support.moto_stack import client
from tests.support.programs import NEW_IMAGE, OLD_IMAGE, REPO_ROOT

LOCK_KEY = {"lockId": {"S": "maintenance/prod"}}


class Clock:
    """Moves `step` (a minute) each time it is read: a run of a dozen steps spans longer than one lease."""

    def __init__(self, step: timedelta = timedelta(minutes=1)):
        self.now, self.step = outside_the_window(), step

    def __call__(self) -> datetime:
        self.now += self.step
        return self.now


class Gate:
    """The heartbeat's wait, opened by the test: one beat per `beat()`, then `finish()` ends the thread."""

    def __init__(self):
        self.go, self.beaten = threading.Semaphore(0), threading.Semaphore(0)
        self.waits: list[float] = []
        self.stopped = False

    def wait(self, seconds: float) -> bool:
        if self.waits:
            self.beaten.release()
        self.waits.append(seconds)
        self.go.acquire()
        return self.stopped

    def beat(self) -> None:
        self.go.release()
        assert self.beaten.acquire(timeout=30), "the heartbeat thread did not beat"

    def finish(self) -> None:
        self.stopped = True
        self.go.release()


def lock_item(outputs) -> dict:
    return client("dynamodb").get_item(TableName=outputs.lockTableName, Key=LOCK_KEY).get("Item", {})


def epoch(item: dict, name: str) -> int:
    return int(item[name]["N"])


@pytest.fixture
def harness(deployed, fake_app):
    return Harness(deployed, fake_app)


def run(harness, clock, gate=None, **options):
    options = {"force": True, "reason": "test", "smoke_url": harness.fake_app.url, **options}
    return MaintenanceRun(harness.runner, harness.aws, harness.outputs, WINDOW, OLD_IMAGE,
                          Options(image=NEW_IMAGE, **options), clock=clock, wait=FAST, say=lambda line: None,
                          heartbeat_wait=gate.wait if gate else None).run()


# ---- the lease ------------------------------------------------------------------------------------------------

def test_the_lease_is_short_and_renewed_by_every_step_and_by_the_heartbeat_during_a_long_one(harness):
    clock, gate, seen = Clock(), Gate(), {}

    def during_the_update(count):
        seen["before"] = lock_item(harness.outputs)
        gate.beat()  # the update blocks the run's thread: only the heartbeat thread can renew now
        seen["beat at"], seen["after"] = clock.now, lock_item(harness.outputs)
        gate.finish()

    harness.pulumi.on_up = during_the_update
    record = run(harness, clock, gate)
    assert record.outcome == "succeeded", record.problems
    acquired = epoch(seen["before"], "acquiredAt")
    assert epoch(seen["before"], "expiresAt") - epoch(seen["before"], "renewedAt") == LEASE.total_seconds() <= 600
    assert gate.waits[0] == HEARTBEAT_SECONDS < LEASE.total_seconds()
    # by the update, the first lease has long lapsed: the steps renewed it, then the heartbeat
    assert acquired + LEASE.total_seconds() < epoch(seen["before"], "renewedAt")
    assert epoch(seen["after"], "renewedAt") == int(seen["beat at"].timestamp())
    assert epoch(seen["after"], "expiresAt") == int((seen["beat at"] + LEASE).timestamp())
    assert "1 heartbeat renewals" in record.steps[-1].detail
    assert lock_item(harness.outputs) == {}


def test_the_heartbeat_renews_until_stopped(deployed):
    clock = Clock()
    lock = OperationsLock(client("dynamodb"), deployed["outputs"]["lockTableName"], "maintenance/prod", "me")
    lock.acquire(clock(), "test")
    answers = iter([False, False, True])
    heartbeat = Heartbeat(lock, clock, wait=lambda seconds: next(answers))
    heartbeat.beat_until_stopped()
    item = client("dynamodb").get_item(TableName=deployed["outputs"]["lockTableName"], Key=LOCK_KEY)["Item"]
    assert heartbeat.beats == 2 and heartbeat.failure is None
    assert epoch(item, "expiresAt") == int((clock.now + LEASE).timestamp())


def test_a_lease_longer_than_the_default_keeps_a_second_run_out_until_it_lapses(deployed):
    """A DR runbook renews nothing: it takes the lock for twice its RTO (automation/dr_runbook.py). A second run
    started after the default lease must still be refused, and taken over only once the long lease has lapsed."""
    from automation.maintenance import Aborted

    clock, table = Clock(), deployed["outputs"]["lockTableName"]
    first = OperationsLock(client("dynamodb"), table, "maintenance/prod", "run-a/failover")
    second = OperationsLock(client("dynamodb"), table, "maintenance/prod", "run-b/failover")
    started = clock()
    assert first.acquire(started, "drill", lease=timedelta(minutes=120) + LEASE) is None
    with pytest.raises(Aborted, match="held by run-a/failover"):
        second.acquire(started + LEASE + timedelta(minutes=1), "drill")
    takeover = second.acquire(started + timedelta(minutes=126), "drill")
    assert takeover is not None and takeover.owner == "run-a/failover"


def test_a_heartbeat_that_lost_the_lock_says_so_and_the_run_stops_at_its_next_step(harness):
    clock = Clock()

    def unlocked_by_an_operator(count):
        client("dynamodb").delete_item(TableName=harness.outputs.lockTableName, Key=LOCK_KEY)

    harness.pulumi.on_up = unlocked_by_an_operator
    record = run(harness, clock)
    steps = {s.name: (s.outcome, s.detail) for s in record.steps}
    assert steps["update"][0] == "ok"
    assert steps["smoke"] == ("failed", "operations lock maintenance/prod is no longer held by this run (taken over "
                                        "or unlocked by an operator)")
    assert record.outcome != "succeeded"
    assert "rollback-update" not in steps, "a run that lost its lock changes nothing more"
    assert steps["unlock"][0] == "ok" and steps["restore-alarms"][0] == "ok"


def test_a_run_takes_over_a_lock_whose_holder_stopped_renewing(harness):
    clock = Clock()
    stopped = clock.now - LEASE - timedelta(minutes=1)
    client("dynamodb").put_item(TableName=harness.outputs.lockTableName, Item={
        **LOCK_KEY, "owner": {"S": "ci@runner-7:412/20261206T020000Z-abc123"}, "reason": {"S": "scheduled"},
        "acquiredAt": {"N": str(int(stopped.timestamp()) - 600)}, "renewedAt": {"N": str(int(stopped.timestamp()))},
        "expiresAt": {"N": str(int((stopped + LEASE).timestamp()))}})
    record = run(harness, clock)
    lock = record.steps[0]
    assert lock.outcome == "ok" and lock.ids["takenOverFrom"] == "ci@runner-7:412/20261206T020000Z-abc123"
    assert f"last renewal {stopped:%Y-%m-%d %H:%M:%S} UTC" in lock.detail
    assert record.outcome == "succeeded"


def test_a_live_lease_is_never_taken_over(harness):
    clock = Clock(step=timedelta(seconds=1))
    client("dynamodb").put_item(TableName=harness.outputs.lockTableName, Item={
        **LOCK_KEY, "owner": {"S": "alice"}, "reason": {"S": "hotfix"},
        "expiresAt": {"N": str(int((clock.now + timedelta(minutes=3)).timestamp()))}})
    record = run(harness, clock)
    assert [(s.name, s.outcome) for s in record.steps] == [("lock", "failed")]
    assert lock_item(harness.outputs)["owner"]["S"] == "alice"


# ---- maintenance unlock ---------------------------------------------------------------------------------------

def test_unlock_removes_a_dead_runs_lock_rearms_its_alarms_and_records_why(capsys, deployed, tmp_path):
    outputs = deployed["outputs"]
    silenced = [outputs["alarms"][key] for key in (alarm_keys.APP_CPU_HIGH, alarm_keys.LATENCY_P95_HIGH)]
    client("cloudwatch").disable_alarm_actions(AlarmNames=silenced)
    client("dynamodb").put_item(TableName=outputs["lockTableName"], Item={
        **LOCK_KEY, "owner": {"S": "killed-run"}, "reason": {"S": "scheduled"}, "expiresAt": {"N": "9999999999"},
        "silencedAlarms": {"SS": silenced}})
    code, out, err = run_cli(capsys, "maintenance", "unlock", "--reason", "run OOM-killed at 02:14, see INC-42",
                             "--outputs", str(deployed["file"]), "--out", str(tmp_path / "records"), "--json")
    result = json.loads(out)
    assert code == 0, err
    assert (result["held_by"], result["lease_was_live"], sorted(result["rearmed"])) == ("killed-run", True, sorted(silenced))
    assert lock_item(parse(deployed)) == {}
    actions = {a["AlarmName"]: a["ActionsEnabled"] for a in
               client("cloudwatch").describe_alarms(AlarmNames=silenced)["MetricAlarms"]}
    assert actions == {name: True for name in silenced}
    record = json.loads(next((tmp_path / "records").glob("unlock-*.json")).read_text())
    assert record["reason"] == "run OOM-killed at 02:14, see INC-42" and record["held_by"] == "killed-run"
    keys = [o["Key"] for o in client("s3").list_objects_v2(Bucket=outputs["opsBucket"])["Contents"]]
    assert sorted(k.rsplit(".", 1)[1] for k in keys if k.startswith("maintenance/unlock-")) == ["json", "md"]


def test_unlock_without_a_lock_changes_nothing_and_says_so(capsys, deployed, tmp_path):
    code, out, _ = run_cli(capsys, "maintenance", "unlock", "--reason", "checking", "--outputs", str(deployed["file"]),
                           "--out", str(tmp_path))
    assert code == 0 and "no lock on maintenance/prod: nothing to remove" in out


def parse(deployed):
    from automation.outputs import parse_outputs

    return parse_outputs(deployed["outputs"], "test")


# ---- records --------------------------------------------------------------------------------------------------

def test_a_missing_ops_bucket_is_a_named_warning_the_local_record_is_whole_and_the_table_prints(
        capsys, project, deployed, fake_app, tmp_path):  # noqa: F811 - the fixture
    OfflineRunner("prod", project).up("initial deploy")
    outputs = {**deployed["outputs"], "opsBucket": "scraper-ops-bucket-that-was-deleted"}
    outputs_file = tmp_path / "outputs-missing-bucket.json"
    outputs_file.write_text(json.dumps(outputs))
    code, out, err = run_cli(capsys, "maintenance", "run", "--stack", "prod", "--backend", "offline", "--force",
                             "--reason", "test", "--image", NEW_IMAGE, "--url", fake_app.url,
                             "--outputs", str(outputs_file), "--out", str(project / "records"))
    assert code == 0, err
    local = sorted((project / "records").glob("maintenance-*"))
    assert sorted(p.suffix for p in local) == [".json", ".md"]
    record = json.loads(next(p for p in local if p.suffix == ".json").read_text())
    assert record["outcome"] == "succeeded"
    assert "the promotion records could not be read" in record["release_gate"]["refusal"], "the forced run says why"
    markdown = next(p for p in local if p.suffix == ".md").read_text()
    assert "## Steps" in markdown and "## Verdict: OK" in markdown
    assert re.search(r"update \d+ succeeded: (\d+ \w+, )*\d+ unchanged", markdown), "change counts in words"
    assert "{'" not in markdown and "': " not in markdown, "no Python repr in the record"
    warning = next(line for line in err.splitlines() if line.startswith("warning: "))
    assert "ops-bucket upload failed: s3://scraper-ops-bucket-that-was-deleted/maintenance/" in warning
    assert "NoSuchBucket" in warning and all(str(p) in warning for p in local)
    assert "announce-end" in out and "unlock" in out  # the step table


def test_aws_text_in_a_table_is_shown_as_is_not_read_as_markup():
    table = Table(title="Maintenance [bold]of[/bold] prod")
    table.add_column("detail")
    detail = "AccessDenied: [arn:aws:sts::123456789012:assumed-role/ops/alice] is not authorized; reason [red]x"
    table.add_row(detail)
    rendered = io.StringIO()
    Console(file=rendered, width=400, color_system=None).print(table)
    assert detail in rendered.getvalue() and "Maintenance [bold]of[/bold] prod" in rendered.getvalue()


def test_a_path_with_brackets_is_printed_as_is(capsys, tmp_path):
    manifests = tmp_path / "manifests[prod]"
    code, out, _ = run_cli(capsys, "plan", "--stack", "prod", "--manifests", str(manifests))
    assert code == 0 and f"manifests to {manifests}, all valid" in out and list(manifests.glob("*.yaml"))


def test_a_run_whose_stdout_closes_finishes_its_steps_and_writes_its_record(project, deployed, fake_app, aws_env):  # noqa: F811
    """`scraper-ops maintenance run ... | head -0`: a real pipe whose reader is gone before the run prints."""
    OfflineRunner("prod", project).up("initial deploy")
    process = subprocess.Popen(
        [sys.executable, "-m", "automation", "maintenance", "run", "--stack", "prod", "--backend", "offline", "--force",
         "--reason", "test", "--image", NEW_IMAGE, "--url", fake_app.url, "--outputs", str(deployed["file"]),
         "--out", str(project / "records")],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=REPO_ROOT,
        env={**os.environ, **aws_env, "SCRAPER_OPS_PROJECT_DIR": str(project), "PYTHONPATH": str(REPO_ROOT)})
    process.stdout.close()  # the reader leaves at once: every write to stdout meets a closed pipe
    stderr = process.stderr.read().decode()
    assert process.wait(timeout=300) == 0, stderr
    assert "Traceback" not in stderr and "BrokenPipeError" not in stderr and "Exception ignored" not in stderr
    record = json.loads(next((project / "records").glob("maintenance-*.json")).read_text())
    assert record["outcome"] == "succeeded"
    assert [s["name"] for s in record["steps"]][-3:] == ["restore-alarms", "announce-end", "unlock"]
    assert list((project / "records").glob("maintenance-*.md"))


# ---- smoke without credentials --------------------------------------------------------------------------------

@pytest.fixture
def no_credentials(deployed, monkeypatch, tmp_path):
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE",
                 "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "AWS_CONTAINER_CREDENTIALS_FULL_URI",
                 "AWS_WEB_IDENTITY_TOKEN_FILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-credentials"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-config"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")  # no instance metadata to ask, on any machine
    return deployed


@pytest.mark.parametrize(("mode", "exit_code"), [("healthy", 0), ("failing", 1)])
def test_smoke_without_credentials_keeps_its_verdict_and_warns_about_publishing(
        capsys, no_credentials, fake_app, mode, exit_code):
    fake_app.mode = mode
    code, out, err = run_cli(capsys, "smoke", "--url", fake_app.url, "--retries", "0",
                             "--outputs", str(no_credentials["file"]))
    assert code == exit_code
    assert "not published: see the warning" in out and "readiness" in out
    warning = [line for line in err.splitlines() if line.startswith("warning: ")]
    assert warning == [next(line for line in warning if "no AWS credentials" in line)]
    assert "the smoke result was not published to CloudWatch" in warning[0]
    assert "Traceback" not in err
