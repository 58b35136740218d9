"""Expiry of the manual snapshots `backup create` makes, in both regions, against moto.

moto cannot back-date a snapshot's SnapshotCreateTime; the age expiry reads is the `created-at` tag that
`backup create` writes (and CopyDBSnapshot CopyTags=True carries to the DR copy), so the seeds below are
tagged with their ages.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import pytest
from botocore.awsrequest import AWSResponse

from automation.aws import Aws
from tests.support.cli import run_cli
from tests.support.moto_stack import DR_REGION, REGION, client

DAY = timedelta(days=1)
SEEDED_AT = datetime.now(timezone.utc).replace(microsecond=0)  # ages are days apart; minutes of test run don't matter
OURS = {1: "newest", 2: "second newest", 40: "named by a recent maintenance record", 50: "expired",
        60: "expired, named by an old record"}


def _stamp(age_days: int) -> datetime:
    return SEEDED_AT - age_days * DAY


def _tags(created: datetime, stack: str = "prod", created_by: str = "scraper-ops") -> list[dict[str, str]]:
    return [{"Key": "created-at", "Value": created.strftime("%Y-%m-%dT%H:%M:%SZ")},
            {"Key": "stack", "Value": stack}, {"Key": "created-by", "Value": created_by},
            {"Key": "reason", "Value": "scheduled"}]


def snapshot_ids(region: str) -> set[str]:
    return {s["DBSnapshotIdentifier"] for s in client("rds", region).describe_db_snapshots(SnapshotType="manual")["DBSnapshots"]}


def ours(age_days: int) -> str:
    return f"scraper-prod-{_stamp(age_days):%Y%m%d-%H%M%S}"


def _record(key: str, created: datetime, snapshot_id: str, bucket: str) -> None:
    body = {"kind": "maintenance", "stack": "prod", "created": created.isoformat(), "snapshot_id": snapshot_id}
    client("s3").put_object(Bucket=bucket, Key=key, Body=json.dumps(body).encode())


@pytest.fixture
def seeded(deployed, tmp_path):
    """Five snapshots of ours, each copied to the DR region; snapshots this tool did not make; two records."""
    outputs = dict(deployed["outputs"], snapshotRetention={"manualRetentionDays": 35, "keepNewest": 2})
    rds, dr_rds = client("rds"), client("rds", DR_REGION)
    for age in OURS:
        created = rds.create_db_snapshot(DBSnapshotIdentifier=ours(age), DBInstanceIdentifier="scraper-prod",
                                         Tags=_tags(_stamp(age)))["DBSnapshot"]
        dr_rds.copy_db_snapshot(SourceDBSnapshotIdentifier=created["DBSnapshotArn"], TargetDBSnapshotIdentifier=ours(age),
                                KmsKeyId=outputs["drKmsKeyArn"], CopyTags=True, SourceRegion=REGION)
    foreign = {
        "scraper-prod-20240101-000000": [],  # our naming, no tags: made by hand
        "scraper-prod-20240102-000000": _tags(_stamp(400), stack="staging"),  # another stack's
        "scraper-prod-before-upgrade": _tags(_stamp(400)),  # our tags, not our naming
    }
    for identifier, tags in foreign.items():
        rds.create_db_snapshot(DBSnapshotIdentifier=identifier, DBInstanceIdentifier="scraper-prod", Tags=tags)
    dr_rds.create_db_snapshot(DBSnapshotIdentifier="scraper-prod-dr-20240101-000000", DBInstanceIdentifier="scraper-prod-dr")
    bucket = outputs["opsBucket"]
    _record("maintenance/maintenance-recent.json", _stamp(10), ours(40), bucket)
    _record("maintenance/maintenance-old.json", _stamp(50), ours(60), bucket)
    client("s3").put_object(Bucket=bucket, Key="maintenance/maintenance-recent.md", Body=b"# not JSON")
    path = tmp_path / "retention-outputs.json"
    path.write_text(json.dumps(outputs))
    return {"outputs": outputs, "file": path, "foreign": set(foreign)}


def test_expire_deletes_exactly_the_expired_snapshots_in_both_regions(capsys, seeded):
    code, out, err = run_cli(capsys, "backup", "expire", "--outputs", str(seeded["file"]), "--json")
    result = json.loads(out)
    assert code == 0, err
    kept = {ours(1), ours(2), ours(40)}
    assert snapshot_ids(REGION) == kept | seeded["foreign"]
    assert snapshot_ids(DR_REGION) == kept | {"scraper-prod-dr-20240101-000000"}
    assert result["referencedByMaintenance"] == [ours(40)]
    actions = {(d["region"], d["snapshot_id"]): (d["action"], d["reason"]) for d in result["snapshots"]}
    for region in (REGION, DR_REGION):
        assert actions[(region, ours(1))] == ("kept", "one of the 2 newest")
        assert actions[(region, ours(40))] == (
            "kept", "pre-maintenance snapshot of a maintenance record younger than the retention")
        assert actions[(region, ours(50))] == actions[(region, ours(60))] == ("deleted", "older than 35 days")
    assert not any(snapshot in seeded["foreign"] for _, snapshot in actions), "never even considered"


def test_dry_run_deletes_nothing_and_lists_what_it_would_delete(capsys, seeded):
    before = (snapshot_ids(REGION), snapshot_ids(DR_REGION))
    code, out, _ = run_cli(capsys, "backup", "expire", "--dry-run", "--outputs", str(seeded["file"]), "--json")
    assert code == 0
    assert (snapshot_ids(REGION), snapshot_ids(DR_REGION)) == before
    would = sorted((d["region"], d["snapshot_id"]) for d in json.loads(out)["snapshots"] if d["action"] == "would delete")
    assert would == sorted((r, ours(a)) for r in (REGION, DR_REGION) for a in (50, 60))
    code, out, _ = run_cli(capsys, "backup", "expire", "--dry-run", "--outputs", str(seeded["file"]))
    assert "dry run: nothing deleted" in out and ours(50) in out and "would delete" in out


def test_backup_create_expires_after_a_successful_snapshot_and_copy(capsys, seeded):
    code, out, err = run_cli(capsys, "backup", "create", "--outputs", str(seeded["file"]), "--json")
    result = json.loads(out)
    assert code == 0, err
    new = result["snapshotId"]
    assert {ours(50), ours(60)}.isdisjoint(snapshot_ids(REGION) | snapshot_ids(DR_REGION))
    assert {new, ours(1), ours(40)} <= snapshot_ids(REGION) and {new, ours(1), ours(40)} <= snapshot_ids(DR_REGION)
    reasons = {d["snapshot_id"]: d["reason"] for d in result["expiry"]["snapshots"] if d["region"] == REGION}
    assert reasons[new] == "one of the 2 newest" and reasons[ours(2)] == "younger than 35 days"
    assert sum(d["action"] == "deleted" for d in result["expiry"]["snapshots"]) == 4  # 50 and 60 days, both regions


def test_a_failed_backup_expires_nothing(capsys, seeded, tmp_path):
    path = tmp_path / "broken-dr-key.json"
    path.write_text(json.dumps(dict(seeded["outputs"], drKmsKeyArn="arn:aws:kms:us-west-2:123456789012:key/gone")))
    before = (snapshot_ids(REGION), snapshot_ids(DR_REGION))
    code, out, err = run_cli(capsys, "backup", "create", "--outputs", str(path), "--json")
    assert code == 1 and "dr-copy failed" in err and "No snapshot was expired" in err
    assert json.loads(out)["expiry"] is None
    assert before[0] <= snapshot_ids(REGION) and snapshot_ids(DR_REGION) == before[1]


def _refuse_delete_of(snapshot_id: str):
    """What RDS answers for a snapshot that is not `available` (moto's snapshots are always available)."""
    def handler(params, **_):
        if params["body"].get("DBSnapshotIdentifier") == snapshot_id:
            return AWSResponse("https://rds", 400, {}, None), {
                "Error": {"Code": "InvalidDBSnapshotState", "Message": "Cannot delete the snapshot because it is being copied"},
                "ResponseMetadata": {"HTTPStatusCode": 400}}
        return None
    return handler


def test_a_failed_delete_is_reported_exit_1_and_the_rest_still_processed(capsys, seeded, monkeypatch):
    original = Aws.client

    def client_with_refusal(self, service, region=None):
        made = original(self, service, region)
        if service == "rds" and (region or self.region) == REGION and not getattr(made, "_refusing", False):
            made.meta.events.register("before-call.rds.DeleteDBSnapshot", _refuse_delete_of(ours(50)))
            made._refusing = True
        return made

    monkeypatch.setattr(Aws, "client", client_with_refusal)
    code, out, err = run_cli(capsys, "backup", "expire", "--outputs", str(seeded["file"]), "--json")
    assert code == 1
    assert f"1 expired snapshots could not be deleted: {ours(50)} in {REGION}: InvalidDBSnapshotState" in err
    assert ours(50) in snapshot_ids(REGION)
    assert ours(60) not in snapshot_ids(REGION), "the next one in the same region was still deleted"
    assert {ours(50), ours(60)}.isdisjoint(snapshot_ids(DR_REGION)), "and the DR region was still processed"


def test_an_unreadable_maintenance_record_stops_the_expiry(capsys, seeded):
    client("s3").put_object(Bucket=seeded["outputs"]["opsBucket"], Key="maintenance/maintenance-torn.json", Body=b"{")
    before = (snapshot_ids(REGION), snapshot_ids(DR_REGION))
    code, _, err = run_cli(capsys, "backup", "expire", "--outputs", str(seeded["file"]))
    assert code == 1 and "maintenance-torn.json cannot be read" in err and "no snapshot was expired" in err
    assert (snapshot_ids(REGION), snapshot_ids(DR_REGION)) == before


def test_outputs_without_a_retention(capsys, seeded, tmp_path):
    outputs = dict(seeded["outputs"])
    del outputs["snapshotRetention"]
    path = tmp_path / "old-stack.json"
    path.write_text(json.dumps(outputs))
    code, _, err = run_cli(capsys, "backup", "expire", "--outputs", str(path))
    assert code == 2 and "the stack outputs have no snapshotRetention" in err
    code, out, _ = run_cli(capsys, "backup", "create", "--outputs", str(path))
    assert code == 0 and "snapshot expiry skipped" in out
    assert ours(60) in snapshot_ids(REGION)


def test_backup_create_with_an_unreadable_record_keeps_the_backup_and_expires_nothing(capsys, seeded):
    client("s3").put_object(Bucket=seeded["outputs"]["opsBucket"], Key="maintenance/maintenance-torn.json", Body=b"{")
    code, _, err = run_cli(capsys, "backup", "create", "--outputs", str(seeded["file"]))
    assert code == 1
    assert "and its DR copy are available, but maintenance record" in err and "no snapshot was expired" in err
    assert {ours(50), ours(60)} <= snapshot_ids(REGION) and {ours(50), ours(60)} <= snapshot_ids(DR_REGION)
