"""Maintenance windows through the Automation API: the real driver against a recording Pulumi CLI and moto,
with a fault matrix where each fault is a test of its own."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import pytest

from automation import backup
from automation.aws import Aws
from automation.maintenance import MaintenanceRun, Options
from automation.outputs import parse_outputs
from automation.runner import LockRetry, PulumiRunner
from automation.windows import current_window, next_windows
from contract import alarms as alarm_keys
from contract.outputs import Maintenance
from infra.config import parse_stack_config
from tests.support.fake_pulumi import RecordingPulumi
from tests.support.moto_stack import client
from tests.support.programs import NEW_IMAGE, OLD_IMAGE, REPO_ROOT, prod_config

FAST = backup.WaitPolicy(delay_seconds=1, snapshot_timeout_seconds=5, instance_timeout_seconds=5)
WINDOW = Maintenance(windowStart="0 2 * * 0#1", durationMinutes=120, cutoffMinutes=15)


def outside_the_window() -> datetime:
    """Now, or a week later when the tests happen to run inside a real window: forced runs get a window of
    their own, and the refusal outside the window must not depend on the day the suite runs."""
    now = datetime.now(timezone.utc)
    return now if current_window(WINDOW, now) is None else now + timedelta(days=7)


class Harness:
    def __init__(self, deployed, fake_app):
        self.outputs = parse_outputs(deployed["outputs"], "test")
        self.fake_app = fake_app
        self.pulumi = RecordingPulumi("prod", prod_config(), deployed["outputs"])
        self.sleeps: list[float] = []
        self.runner = PulumiRunner("prod", pulumi_command=self.pulumi, work_dir=REPO_ROOT,
                                   lock_retry=LockRetry(attempts=3, first_delay_seconds=30), sleep=self.sleeps.append)
        self.aws = Aws("us-east-1", "us-west-2")
        sqs = client("sqs")
        self.notices = sqs.create_queue(QueueName="maintenance-notices")["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=self.notices, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        client("sns").subscribe(TopicArn=self.outputs.maintenanceTopicArn, Protocol="sqs", Endpoint=arn)

    def run(self, image=NEW_IMAGE, window=WINDOW, outputs=None, **options):
        options = {"force": True, "reason": "test", "smoke_url": self.fake_app.url, **options}
        return MaintenanceRun(self.runner, self.aws, outputs or self.outputs, window, OLD_IMAGE,
                              Options(image=image, **options), clock=outside_the_window,
                              wait=FAST, say=lambda line: None).run()

    def subjects(self) -> list[str]:
        messages = client("sqs").receive_message(QueueUrl=self.notices, MaxNumberOfMessages=10).get("Messages", [])
        return [json.loads(m["Body"])["Subject"] for m in messages]

    def lock_released(self) -> bool:
        item = client("dynamodb").get_item(TableName=self.outputs.lockTableName, Key={"lockId": {"S": "maintenance/prod"}})
        return "Item" not in item

    def app_alarm_actions(self) -> dict[str, bool]:
        alarms = client("cloudwatch").describe_alarms(AlarmNames=list(self.outputs.alarms.values()))["MetricAlarms"]
        app = {self.outputs.alarms[key] for key in alarm_keys.APP_BEHAVIOUR}
        return {a["AlarmName"]: a["ActionsEnabled"] for a in alarms if a["AlarmName"] in app}

    def steps(self, record) -> dict[str, str]:
        return {s.name: s.outcome for s in record.steps}

    def snapshots(self) -> list[str]:
        return [s["DBSnapshotIdentifier"] for s in client("rds").describe_db_snapshots(SnapshotType="manual")["DBSnapshots"]]

    def assert_safe_exit(self, record):
        """What every exit path guarantees."""
        assert self.lock_released()
        assert self.app_alarm_actions() and all(self.app_alarm_actions().values())
        assert record.steps[-1].name == "unlock" and record.steps[-1].outcome == "ok"


@pytest.fixture
def harness(deployed, fake_app):
    return Harness(deployed, fake_app)


def test_a_full_window_backs_up_deploys_smoke_tests_and_announces(harness):
    record = harness.run()
    assert record.outcome == "succeeded" and record.problems == []
    assert list(harness.steps(record)) == [
        "lock", "announce-start", "silence-alarms", "backup", "preview", "update", "smoke",
        "restore-alarms", "announce-end", "unlock",
    ]
    assert record.snapshot_id in harness.snapshots()
    assert record.snapshot_id in [s["DBSnapshotIdentifier"] for s in client("rds", "us-west-2").describe_db_snapshots()["DBSnapshots"]]
    assert (record.previous_image, record.new_image) == (OLD_IMAGE, NEW_IMAGE)
    assert record.diff["counts"] == {"update": 1, "replace": 1}
    assert record.update_version == 1
    assert json.loads(harness.pulumi.config["social-media-scraper:app"])["image"] == NEW_IMAGE
    assert harness.subjects() == ["EMERGENCY maintenance starting: prod", "EMERGENCY maintenance succeeded: prod"]
    harness.assert_safe_exit(record)


def test_the_exact_pulumi_calls_carry_stack_policy_pack_and_audit_message(harness):
    record = harness.run()
    calls = harness.pulumi.calls
    pack = str(REPO_ROOT / "policies")
    assert calls[0] == ["stack", "select", "--stack", "prod"]
    assert ["config", "set", "--path", "social-media-scraper:app.image", "--plaintext", "--stack", "prod",
            "--non-interactive", "--", NEW_IMAGE] in calls
    preview = harness.pulumi.of("preview")[0]
    up = harness.pulumi.of("up")[0]
    for call in (preview, up):
        assert call[call.index("--policy-pack") + 1] == pack
        assert call[call.index("--stack") + 1] == "prod"
        message = call[call.index("--message") + 1]
        assert message.startswith(f"scraper-ops maintenance {record.run_id}") and "test" in message
    assert "--diff" in preview
    assert up[:3] == ["up", "--yes", "--skip-preview"] and "--target" not in up
    assert not any(call[0] == "cancel" for call in calls)


def test_outside_the_window_it_refuses_and_touches_nothing(harness):
    from automation.maintenance import Aborted

    with pytest.raises(Aborted, match="outside the maintenance window; the next one starts"):
        harness.run(force=False)
    assert harness.pulumi.calls == [] and harness.snapshots() == [] and harness.lock_released()


def test_windows_are_the_first_sunday_of_each_month_from_2_to_4_utc():
    windows = next_windows(WINDOW, datetime(2026, 11, 28, tzinfo=timezone.utc), 3)
    assert [w.start.isoformat() for w in windows] == [
        "2026-12-06T02:00:00+00:00", "2027-01-03T02:00:00+00:00", "2027-02-07T02:00:00+00:00"]
    assert (windows[0].end.hour, windows[0].cutoff.strftime("%H:%M")) == (4, "03:45")
    assert current_window(WINDOW, datetime(2026, 12, 6, 3, 59, tzinfo=timezone.utc)) == windows[0]
    assert current_window(WINDOW, datetime(2026, 12, 6, 4, 0, tzinfo=timezone.utc)) is None
    assert current_window(WINDOW, datetime(2026, 12, 13, 2, 30, tzinfo=timezone.utc)) is None


# ---- the fault matrix -----------------------------------------------------------------------------------------


def test_fault_lock_held(harness):
    client("dynamodb").put_item(TableName=harness.outputs.lockTableName, Item={
        "lockId": {"S": "maintenance/prod"}, "owner": {"S": "alice@laptop"}, "reason": {"S": "hotfix"},
        "expiresAt": {"N": str(int(datetime.now(timezone.utc).timestamp()) + 3600)}})
    record = harness.run()
    assert record.outcome == "failed"
    assert harness.steps(record) == {"lock": "failed"}
    assert "held by alice@laptop" in record.problems[0] and "reason: hotfix" in record.problems[0]
    assert harness.pulumi.calls == [] and harness.snapshots() == []
    assert not harness.lock_released(), "someone else's lock is left alone"


def test_fault_backup_fails(harness, deployed):
    outputs = parse_outputs({**deployed["outputs"], "dbInstanceId": "scraper-gone"}, "t")
    record = harness.run(outputs=outputs)
    assert record.outcome == "failed" and harness.steps(record)["backup"] == "failed"
    assert "DBInstanceNotFound" in record.problems[0]
    assert harness.pulumi.of("up") == [] and harness.pulumi.of("preview") == []
    assert record.snapshot_id is None
    harness.assert_safe_exit(record)


def test_fault_dr_copy_fails(harness, deployed):
    outputs = parse_outputs({**deployed["outputs"], "drKmsKeyArn": "arn:aws:kms:us-west-2:123456789012:key/gone"}, "t")
    record = harness.run(outputs=outputs)
    assert harness.steps(record)["backup"] == "failed"
    assert record.problems[0].startswith("backup failed: dr-copy:")
    assert "no change is made without an available snapshot and its DR copy" in record.problems[0]
    assert harness.pulumi.of("up") == []
    harness.assert_safe_exit(record)


def test_fault_preview_shows_a_replace_of_the_database(harness):
    harness.pulumi.preview_changes.append(("replace", "aws:rds/instance:Instance", "database-primary", True))
    record = harness.run()
    assert harness.steps(record)["preview"] == "failed" and "update" not in harness.steps(record)
    assert "would replace aws:rds/instance:Instance database-primary" in record.problems[0]
    assert harness.pulumi.of("up") == []
    assert json.loads(harness.pulumi.config["social-media-scraper:app"])["image"] == OLD_IMAGE, "config put back"
    harness.assert_safe_exit(record)


def test_an_allowed_replace_goes_ahead(harness):
    harness.pulumi.preview_changes.append(("replace", "aws:rds/instance:Instance", "database-primary", True))
    record = harness.run(allow_replace=("database-primary",))
    assert record.outcome == "succeeded"


def test_fault_update_fails_and_is_rolled_back(harness):
    harness.pulumi.up_outcomes = ["error: update failed: 1 error occurred: aws:rds throttled"]
    record = harness.run()
    assert record.outcome == "rolled back"
    assert harness.steps(record)["update"] == "failed"
    assert [harness.steps(record)[s] for s in ("rollback-config", "rollback-update", "rollback-smoke")] == ["ok"] * 3
    assert json.loads(harness.pulumi.config["social-media-scraper:app"])["image"] == OLD_IMAGE
    assert len(harness.pulumi.of("up")) == 2
    assert "rollback to " + OLD_IMAGE in harness.pulumi.of("up")[1][harness.pulumi.of("up")[1].index("--message") + 1]
    assert record.snapshot_id in harness.snapshots()
    assert harness.subjects()[-1] == "EMERGENCY maintenance rolled back: prod"
    harness.assert_safe_exit(record)


def test_fault_migration_fails_and_is_rolled_back(harness):
    harness.pulumi.up_outcomes = [
        "error: kubernetes:batch/v1:Job social-media-scraper-migrate-ab12: Job failed: BackoffLimitExceeded"]
    record = harness.run()
    assert record.outcome == "rolled back"
    assert "migrate" in record.rollback["cause"] and "BackoffLimitExceeded" in record.rollback["cause"]
    assert record.rollback["outcome"] == "rolled back"
    harness.assert_safe_exit(record)


def test_fault_smoke_fails_and_the_rollback_restores_service(harness):
    harness.fake_app.mode = "failing"
    harness.pulumi.on_up = lambda count: setattr(harness.fake_app, "mode", "failing" if count == 1 else "healthy")
    record = harness.run()
    assert harness.steps(record)["smoke"] == "failed" and "HTTP 503" in record.problems[0]
    assert record.outcome == "rolled back" and harness.steps(record)["rollback-smoke"] == "ok"
    harness.assert_safe_exit(record)


def test_fault_rollback_fails(harness):
    harness.fake_app.mode = "failing"
    harness.pulumi.up_outcomes = ["ok", "error: update failed: the cluster is unreachable"]
    record = harness.run()
    assert record.outcome == "failed"
    assert harness.steps(record)["rollback-update"] == "failed"
    assert record.rollback["outcome"].startswith("ROLLBACK FAILED")
    assert any(p.startswith("ROLLBACK FAILED") and record.snapshot_id in p and "not restored automatically" in p
               for p in record.problems)
    harness.assert_safe_exit(record)


def test_fault_notify_fails(harness, deployed):
    outputs = parse_outputs({**deployed["outputs"], "maintenanceTopicArn": "arn:aws:sns:us-east-1:123456789012:gone"}, "t")
    record = harness.run(outputs=outputs)
    assert harness.steps(record)["announce-start"] == "failed"
    assert "silence-alarms" not in harness.steps(record) and "backup" not in harness.steps(record)
    assert harness.pulumi.calls == [], "nothing is previewed or changed without the notice"
    assert harness.steps(record)["announce-end"] == "failed"
    assert harness.lock_released()


def test_fault_window_cutoff_reached(harness):
    short = Maintenance(windowStart=WINDOW.windowStart, durationMinutes=30, cutoffMinutes=15)
    record = harness.run(window=short)
    assert harness.steps(record)["backup"] == "skipped"
    assert "backup not started: it cannot end before the cutoff" in record.problems[0]
    assert harness.snapshots() == [] and harness.pulumi.of("up") == []
    harness.assert_safe_exit(record)


def test_fault_stack_locked_by_another_update_is_retried_never_cancelled(harness):
    harness.pulumi.conflicts = 2
    record = harness.run()
    assert record.outcome == "succeeded"
    assert harness.sleeps == [30, 60]
    assert not any(call[0] == "cancel" for call in harness.pulumi.calls)


def test_a_stack_that_stays_locked_is_named_and_left_alone(harness):
    harness.pulumi.conflicts = 10
    record = harness.run()
    assert record.outcome == "failed" and harness.steps(record)["preview"] == "failed"
    assert "is locked by another update" in record.problems[0] and "never cancel" in record.problems[0]
    harness.assert_safe_exit(record)


def test_unknown_stack_lists_the_stacks(harness):
    from automation.errors import BadInput

    runner = PulumiRunner("staging", pulumi_command=harness.pulumi, work_dir=REPO_ROOT)
    with pytest.raises(BadInput, match="no stack staging; stacks: prod"):
        runner.outputs()


def test_no_pulumi_cli_says_how_to_install_it(monkeypatch, tmp_path):
    from automation.errors import MissingEnvironment

    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(MissingEnvironment, match="install the Pulumi CLI"):
        PulumiRunner("prod", work_dir=REPO_ROOT).outputs()


def test_config_of_the_stack_parses(harness):
    assert parse_stack_config(harness.runner.get_config()).app.image == OLD_IMAGE


def test_a_killed_run_is_repaired_by_the_next_one(harness):
    """A run killed after silencing the alarms leaves an expired lock naming them; the next run re-arms them."""
    cloudwatch = client("cloudwatch")
    silenced = ["scraper-prod-app-cpu-high", "scraper-prod-error-rate-high"]
    cloudwatch.disable_alarm_actions(AlarmNames=silenced)
    client("dynamodb").put_item(TableName=harness.outputs.lockTableName, Item={
        "lockId": {"S": "maintenance/prod"}, "owner": {"S": "killed-run"}, "expiresAt": {"N": "1"},
        "silencedAlarms": {"SS": silenced}})
    record = harness.run()
    assert record.steps[0].ids["rearmed"] == silenced
    assert "re-armed scraper-prod-app-cpu-high, scraper-prod-error-rate-high" in record.steps[0].detail
    assert record.outcome == "succeeded" and record.problems == []
    harness.assert_safe_exit(record)


# ---- protected resources: Pulumi refuses to replace them; the run unprotects what the operator allowed -------

DATABASE = ("aws:rds/instance:Instance", "database-primary")


def test_pulumi_refuses_a_protected_replacement_in_preview_and_up(harness):
    """The double refuses as the engine does: the preview reports the step and fails, the update does nothing."""
    from automation.errors import OpsError
    from automation.runner import ProtectedResources

    harness.pulumi.preview_changes.append(("replace", *DATABASE, True))
    urn = harness.pulumi.urn(*DATABASE)
    with pytest.raises(ProtectedResources) as refused:
        harness.runner.preview("p")
    assert refused.value.preview.refused[urn].startswith(f'unable to replace resource "{urn}"\nas it is currently '
                                                          "marked for protection")
    assert {c.name: (c.op, c.protected) for c in refused.value.preview.changes}["database-primary"] == ("replace", True)
    with pytest.raises(OpsError, match="unable to replace resource"):
        harness.runner.up("u")
    assert harness.pulumi.history == []


def test_an_allowed_protected_replace_is_unprotected_after_the_backup_with_the_reason_then_updated(harness):
    harness.pulumi.preview_changes.append(("replace", *DATABASE, True))
    urn = harness.pulumi.urn(*DATABASE)
    record = harness.run(allow_replace=("database-primary",), reason="storage type change, reviewed in CHG-42")
    assert record.outcome == "succeeded" and record.problems == []
    assert list(harness.steps(record))[3:7] == ["backup", "preview", "unprotect", "update"]
    assert record.unprotected == [{"urn": urn, "type": DATABASE[0], "name": "database-primary",
                                   "reason": "storage type change, reviewed in CHG-42", "snapshot": record.snapshot_id}]
    assert record.snapshot_id in harness.snapshots(), "the replacement is preceded by a fresh snapshot"
    calls = harness.pulumi.calls
    unprotect = ["state", "unprotect", "--yes", "--stack", "prod", "--", urn]
    assert calls.index(unprotect) < calls.index(harness.pulumi.of("up")[0])
    assert harness.pulumi.unprotected == set(), "the update re-protected the replacement"
    summary = record.report(datetime.now(timezone.utc)).summary
    assert ("unprotected for replacement: database-primary (aws:rds/instance:Instance), reason: storage type "
            "change, reviewed in CHG-42") in summary
    harness.assert_safe_exit(record)


def test_a_protected_replace_without_a_reason_is_refused_and_nothing_is_unprotected(harness):
    harness.pulumi.preview_changes.append(("replace", *DATABASE, True))
    record = harness.run(allow_replace=("database-primary",), reason="")
    assert record.outcome == "failed" and harness.steps(record)["preview"] == "failed"
    assert "database-primary is protected and Pulumi refuses to replace a protected resource; unprotecting it " \
           "needs --reason TEXT" in record.problems[0]
    assert harness.pulumi.of("state") == [] and harness.pulumi.of("up") == [] and record.unprotected == []
    assert json.loads(harness.pulumi.config["social-media-scraper:app"])["image"] == OLD_IMAGE, "config put back"
    harness.assert_safe_exit(record)


def test_allow_replace_never_allows_deleting_a_protected_resource(harness):
    harness.pulumi.preview_changes.append(("delete", *DATABASE, True))
    record = harness.run(allow_replace=("database-primary",))
    assert "would delete aws:rds/instance:Instance database-primary" in record.problems[0]
    assert harness.pulumi.of("state") == [] and harness.pulumi.of("up") == []


def test_a_failed_update_after_unprotecting_protects_again_before_the_rollback(harness):
    harness.pulumi.preview_changes.append(("replace", *DATABASE, True))
    harness.pulumi.up_outcomes = ["error: update failed: aws:rds creating replacement: InsufficientDBInstanceCapacity"]
    urn = harness.pulumi.urn(*DATABASE)
    record = harness.run(allow_replace=("database-primary",), reason="CHG-42")
    steps = list(harness.steps(record))
    assert steps.index("update") < steps.index("re-protect") < steps.index("rollback-config")
    assert harness.steps(record)["re-protect"] == "ok"
    assert ["state", "protect", "--yes", "--stack", "prod", "--", urn] in harness.pulumi.calls
    assert harness.pulumi.unprotected == set()
    harness.assert_safe_exit(record)
