"""`scraper-ops dr test` against moto: replica lag, bucket replication with a sentinel, a timed restore."""

from __future__ import annotations

import json
import threading
from datetime import datetime, timedelta, timezone

import pytest

from tests.conftest import DR_REGION, client, run_cli, scraper_ops


def put_lag(values: list[float]):
    when = datetime.now(timezone.utc) - timedelta(minutes=5)
    client("cloudwatch", DR_REGION).put_metric_data(Namespace="AWS/RDS", MetricData=[
        {"MetricName": "ReplicaLag", "Dimensions": [{"Name": "DBInstanceIdentifier", "Value": "scraper-prod-dr"}],
         "Value": v, "Timestamp": when + timedelta(seconds=i)} for i, v in enumerate(values)
    ])


class Replication:
    """Stands in for S3 replication, which moto stores but never performs: copies new sentinels across."""

    def __init__(self, source: str, destination: str):
        self.source, self.destination = source, destination
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)

    def run(self):
        s3, dr_s3 = client("s3"), client("s3", DR_REGION)
        while not self.stop.wait(0.1):
            for item in s3.list_objects_v2(Bucket=self.source, Prefix="dr-sentinel/").get("Contents", []):
                body = s3.get_object(Bucket=self.source, Key=item["Key"])["Body"].read()
                dr_s3.put_object(Bucket=self.destination, Key=item["Key"], Body=body)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *_):
        self.stop.set()
        self.thread.join()


@pytest.fixture
def ready(capsys, deployed):
    """A backup with its DR copy exists and the replica reports a small lag."""
    assert run_cli(capsys, "backup", "create", "--outputs", str(deployed["file"]))[0] == 0
    put_lag([3.0, 12.0, 5.0])
    return deployed


def sentinel_versions(bucket: str, region: str = "us-east-1") -> list:
    response = client("s3", region).list_object_versions(Bucket=bucket, Prefix="dr-sentinel/")
    return response.get("Versions", []) + response.get("DeleteMarkers", [])


def test_dr_drill_measures_rpo_and_rto_and_leaves_nothing_behind(capsys, ready, tmp_path):
    outputs = ready["outputs"]
    with Replication(outputs["dataBucket"], outputs["dataReplicaBucket"]):
        code, out, _ = run_cli(capsys, "dr", "test", "--outputs", str(ready["file"]), "--out", str(tmp_path),
                               "--replication-timeout", "20", "--json")
    report = json.loads(out)
    assert code == 0, out
    assert {c["name"]: c["ok"] for c in report["checks"]} == {
        "replica": True, "replica lag": True, "bucket replication": True, "sentinel replicated": True,
        "restore within RTO": True,
    }
    assert report["targets"] == {"rpoSeconds": 900, "rtoSeconds": 3600}
    assert 12.0 <= report["measured"]["rpoSeconds"] < 20 and report["measured"]["rtoSeconds"] is not None
    assert sentinel_versions(outputs["dataBucket"]) == []
    assert sentinel_versions(outputs["dataReplicaBucket"], DR_REGION) == []
    instances = [i["DBInstanceIdentifier"] for i in client("rds", DR_REGION).describe_db_instances()["DBInstances"]]
    assert instances == ["scraper-prod-dr"]
    markdown = next(tmp_path.glob("dr-*.md")).read_text()
    assert "RPO target 900 s, measured" in markdown and "RTO target 3600 s" in markdown
    keys = [o["Key"] for o in client("s3").list_objects_v2(Bucket=outputs["opsBucket"], Prefix="dr/")["Contents"]]
    assert {k.rsplit(".", 1)[1] for k in keys} == {"md", "json"}


def test_replication_that_does_not_arrive_fails_and_the_sentinel_is_removed(capsys, ready, tmp_path):
    code, out, err = run_cli(capsys, "dr", "test", "--outputs", str(ready["file"]), "--out", str(tmp_path),
                             "--replication-timeout", "1", "--json")
    checks = {c["name"]: c for c in json.loads(out)["checks"]}
    assert code == 1
    assert checks["sentinel replicated"]["ok"] is False
    assert "not replicated in time (1 s)" in checks["sentinel replicated"]["evidence"]
    assert "sentinel replicated" in err
    assert sentinel_versions(ready["outputs"]["dataBucket"]) == []


def test_replica_lag_beyond_the_rpo_fails(capsys, ready, tmp_path):
    put_lag([1200.0])
    code, out, _ = run_cli(capsys, "dr", "test", "--outputs", str(ready["file"]), "--out", str(tmp_path),
                           "--replication-timeout", "1", "--json")
    lag = next(c for c in json.loads(out)["checks"] if c["name"] == "replica lag")
    assert code == 1 and lag == {"name": "replica lag", "ok": False, "evidence": "max ReplicaLag 1200 s over 15 min (RPO 900 s)"}


def test_no_lag_data_fails(capsys, deployed, tmp_path):
    code, out, _ = run_cli(capsys, "dr", "test", "--outputs", str(deployed["file"]), "--out", str(tmp_path),
                           "--replication-timeout", "1", "--json")
    checks = {c["name"]: c for c in json.loads(out)["checks"]}
    assert code == 1
    assert checks["replica lag"]["evidence"] == "no ReplicaLag datapoints in the last 15 minutes"
    assert checks["restore test"]["evidence"] == "no snapshot of scraper-prod in us-west-2"


def test_dr_drill_end_to_end_through_the_console_script(ready, aws_env, tmp_path):
    outputs = ready["outputs"]
    with Replication(outputs["dataBucket"], outputs["dataReplicaBucket"]):
        result = scraper_ops("dr", "test", "--outputs", str(ready["file"]), "--out", str(tmp_path),
                             "--replication-timeout", "30", env=aws_env)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "RPO target 900 s" in result.stdout
