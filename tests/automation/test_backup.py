"""`scraper-ops backup create|verify` against moto, through the CLI, with the failure paths."""

from __future__ import annotations

import json
from datetime import datetime, timezone

import pytest
from botocore.stub import Stubber

from automation import backup
from automation.aws import Aws
from automation.outputs import parse_outputs
from tests.support.cli import run_cli, scraper_ops
from tests.support.moto_stack import DR_REGION, client

FAST = backup.WaitPolicy(delay_seconds=1, snapshot_timeout_seconds=5, instance_timeout_seconds=5)


def outputs_of(deployed):
    return parse_outputs(deployed["outputs"], "test")


def snapshots(region: str = "us-east-1") -> dict[str, dict]:
    return {s["DBSnapshotIdentifier"]: s for s in client("rds", region).describe_db_snapshots()["DBSnapshots"]}


def test_backup_create_snapshots_tags_and_copies_to_dr_under_the_dr_key(capsys, deployed):
    code, out, _ = run_cli(capsys, "backup", "create", "--reason", "before 2.5.0", "--outputs", str(deployed["file"]), "--json")
    result = json.loads(out)
    assert code == 0, out
    identifier = result["snapshotId"]
    assert identifier.startswith("scraper-prod-")
    assert [s["name"] for s in result["steps"]] == ["snapshot", "dr-copy"] and all(s["ok"] for s in result["steps"])
    primary = snapshots()[identifier]
    tags = {t["Key"]: t["Value"] for t in client("rds").list_tags_for_resource(ResourceName=primary["DBSnapshotArn"])["TagList"]}
    assert tags["reason"] == "before 2.5.0" and tags["stack"] == "prod" and tags["created-by"] == "scraper-ops"
    assert tags["CostCenter"] == "data-platform"
    copy = snapshots(DR_REGION)[identifier]
    assert copy["Encrypted"] is True and copy["KmsKeyId"] == deployed["outputs"]["drKmsKeyArn"]


def test_a_failing_snapshot_exits_1_and_says_nothing_exists(capsys, deployed, tmp_path):
    outputs = dict(deployed["outputs"], dbInstanceId="scraper-missing")
    path = tmp_path / "o.json"
    path.write_text(json.dumps(outputs))
    code, _, err = run_cli(capsys, "backup", "create", "--outputs", str(path))
    assert code == 1
    assert "snapshot failed: DBInstanceNotFound" in err and "Exists: nothing" in err


def test_a_failing_dr_copy_reports_what_exists(deployed):
    aws = Aws("us-east-1", DR_REGION)
    stubber = Stubber(aws.dr("rds"))
    stubber.add_client_error("copy_db_snapshot", "KMSKeyNotAccessibleFault", "the DR key is disabled")
    with stubber:
        result = backup.create_backup(aws, outputs_of(deployed), "test", datetime.now(timezone.utc), FAST)
    assert not result.ok
    snapshot_step, copy_step = result.steps
    assert snapshot_step.ok and snapshot_step.ids == {"snapshot": result.snapshot_id}
    assert not copy_step.ok and copy_step.detail == "KMSKeyNotAccessibleFault: the DR key is disabled"
    assert result.snapshot_id in snapshots() and result.snapshot_id not in snapshots(DR_REGION)


def test_a_failing_dr_copy_exits_1_through_the_cli(capsys, deployed, tmp_path):
    outputs = dict(deployed["outputs"], drKmsKeyArn="arn:aws:kms:us-west-2:123456789012:key/does-not-exist")
    path = tmp_path / "o.json"
    path.write_text(json.dumps(outputs))
    code, _, err = run_cli(capsys, "backup", "create", "--outputs", str(path))
    assert code == 1
    assert "dr-copy failed" in err and "Exists: snapshot scraper-prod-" in err and "available in us-east-1" in err


def test_verify_passes_after_a_backup_and_writes_its_record(capsys, deployed, tmp_path):
    assert run_cli(capsys, "backup", "create", "--outputs", str(deployed["file"]))[0] == 0
    code, out, _ = run_cli(capsys, "backup", "verify", "--outputs", str(deployed["file"]), "--out", str(tmp_path), "--json")
    result = json.loads(out)
    assert code == 0, out
    assert {c["name"]: c["ok"] for c in result["checks"]} == {
        "newest snapshot age": True, "newest snapshot encrypted": True, "DR copy": True, "retention": True,
        "AWS Backup plan": True,
    }
    keys = [o["Key"] for o in client("s3").list_objects_v2(Bucket=deployed["outputs"]["opsBucket"], Prefix="backups/")["Contents"]]
    assert any(k.startswith("backups/verify-") and k.endswith(".json") for k in keys)
    assert list(tmp_path.glob("verify-*.md"))


def test_verify_fails_when_the_dr_copy_is_missing(capsys, deployed):
    client("rds").create_db_snapshot(DBSnapshotIdentifier="scraper-prod-20261101-030000", DBInstanceIdentifier="scraper-prod")
    code, out, _ = run_cli(capsys, "backup", "verify", "--outputs", str(deployed["file"]), "--json")
    checks = {c["name"]: c for c in json.loads(out)["checks"]}
    assert code == 1
    assert checks["DR copy"] == {"name": "DR copy", "ok": False,
                                 "evidence": "no copy of scraper-prod-20261101-030000 in us-west-2"}


def test_verify_fails_on_a_stale_backup(capsys, deployed, tmp_path):
    assert run_cli(capsys, "backup", "create", "--outputs", str(deployed["file"]))[0] == 0
    outputs = json.loads(deployed["file"].read_text())
    outputs["objectives"]["backupMaxAgeHours"] = 1e-9
    path = tmp_path / "strict.json"
    path.write_text(json.dumps(outputs))
    code, out, _ = run_cli(capsys, "backup", "verify", "--outputs", str(path), "--json")
    age = next(c for c in json.loads(out)["checks"] if c["name"] == "newest snapshot age")
    assert code == 1 and age["ok"] is False and "limit 1e-09 h" in age["evidence"]


def test_restore_test_restores_times_and_removes_the_instance(capsys, deployed):
    assert run_cli(capsys, "backup", "create", "--outputs", str(deployed["file"]))[0] == 0
    code, out, _ = run_cli(capsys, "backup", "verify", "--restore-test", "--outputs", str(deployed["file"]), "--json")
    restore = json.loads(out)["restoreTest"]
    assert code == 0, out
    assert restore["ok"] and restore["cleaned_up"] and restore["seconds"] is not None
    assert restore["instance_id"].startswith("scraper-prod-restore-test-")
    remaining = [i["DBInstanceIdentifier"] for i in client("rds", DR_REGION).describe_db_instances()["DBInstances"]]
    assert remaining == ["scraper-prod-dr"]


def test_a_failed_restore_still_removes_the_temporary_instance(deployed):
    """The restored instance comes up 'failed': the waiter gives up, and the instance is deleted anyway."""
    aws = Aws("us-east-1", DR_REGION)
    outputs = outputs_of(deployed)
    created = backup.create_backup(aws, outputs, "test", datetime.now(timezone.utc), FAST)
    dr_rds = aws.dr("rds")

    deleted = []

    def report_failed_instance(params, **_):
        """AWS's answer to DescribeDBInstances until the instance is deleted: the restored instance has failed."""
        if not deleted and params["body"].get("DBInstanceIdentifier", "").startswith("scraper-prod-restore-test-"):
            return _http_ok(), {"DBInstances": [{"DBInstanceStatus": "failed"}]}
        return None

    dr_rds.meta.events.register("before-call.rds.DescribeDBInstances", report_failed_instance)
    dr_rds.meta.events.register("before-call.rds.DeleteDBInstance", lambda **_: deleted.append(True))
    result = backup.restore_test(aws, outputs, created.snapshot_id, datetime.now(timezone.utc), FAST)
    assert deleted
    assert not result.ok and "restore of" in result.detail and "failed" in result.detail
    assert result.cleaned_up
    remaining = [i["DBInstanceIdentifier"] for i in client("rds", DR_REGION).describe_db_instances()["DBInstances"]]
    assert remaining == ["scraper-prod-dr"]


def _http_ok():
    from botocore.awsrequest import AWSResponse

    return AWSResponse("https://rds", 200, {}, None)


def test_backup_end_to_end_through_the_console_script(deployed, aws_env):
    created = scraper_ops("backup", "create", "--reason", "e2e", "--outputs", str(deployed["file"]), env=aws_env)
    assert created.returncode == 0, created.stderr
    verified = scraper_ops("backup", "verify", "--restore-test", "--outputs", str(deployed["file"]), "--out",
                           str(deployed["file"].parent), env=aws_env)
    assert verified.returncode == 0, verified.stdout + verified.stderr


@pytest.mark.parametrize("content, message", [
    ("{", "outputs file {path} is not JSON"),
    ('{"region": "us-east-1"}', "outputs from {path} do not follow the contract: drRegion: Field required"),
])
def test_missing_or_malformed_outputs_exit_2_named(capsys, tmp_path, aws_env, content, message):
    path = tmp_path / "outputs.json"
    path.write_text(content)
    code, _, err = run_cli(capsys, "backup", "create", "--outputs", str(path))
    assert code == 2
    assert message.format(path=path) in err
    code, _, err = run_cli(capsys, "backup", "verify", "--outputs", str(tmp_path / "absent.json"))
    assert code == 2 and "cannot read outputs file" in err


def test_no_outputs_at_all_is_bad_input(capsys, aws_env):
    code, _, err = run_cli(capsys, "backup", "verify")
    assert code == 2
    assert "no stack outputs: pass --outputs FILE" in err


def test_outputs_come_from_the_in_cluster_path_variable(capsys, deployed, monkeypatch):
    monkeypatch.setenv("SCRAPER_OPS_OUTPUTS", str(deployed["file"]))
    code, _, _ = run_cli(capsys, "backup", "create")
    assert code == 0
