"""`scraper-ops dr test` against moto: replica lag, bucket replication with a sentinel, a timed restore."""

from __future__ import annotations

import functools
import json
from datetime import datetime, timedelta, timezone

import pytest

from automation import dr
from automation.aws import Aws
from automation.dr import DrResult, Polling, check_bucket_replication
from automation.outputs import parse_outputs
from tests.support.cli import run_cli, scraper_ops
from tests.support.moto_stack import DR_REGION, REGION, client


def put_lag(values: list[float]):
    when = datetime.now(timezone.utc) - timedelta(minutes=5)
    client("cloudwatch", DR_REGION).put_metric_data(Namespace="AWS/RDS", MetricData=[
        {"MetricName": "ReplicaLag", "Dimensions": [{"Name": "DBInstanceIdentifier", "Value": "scraper-prod-dr"}],
         "Value": v, "Timestamp": when + timedelta(seconds=i)} for i, v in enumerate(values)
    ])


def replicate(monkeypatch, outputs: dict, delay: float = 3.0) -> None:
    """S3 replication, which moto stores but never performs, delivering each sentinel `delay` simulated seconds
    after the drill wrote it."""
    simulated = SimulatedReplication(outputs["dataBucket"], outputs["dataReplicaBucket"], delay)
    monkeypatch.setattr(dr, "Polling", functools.partial(Polling, clock=simulated.clock, sleep=simulated.sleep))


@pytest.fixture
def ready(capsys, deployed):
    """A backup with its DR copy exists and the replica reports a small lag."""
    assert run_cli(capsys, "backup", "create", "--outputs", str(deployed["file"]))[0] == 0
    put_lag([3.0, 12.0, 5.0])
    return deployed


def sentinel_versions(bucket: str, region: str = "us-east-1") -> list:
    response = client("s3", region).list_object_versions(Bucket=bucket, Prefix="dr-sentinel/")
    return response.get("Versions", []) + response.get("DeleteMarkers", [])


def test_dr_drill_measures_rpo_and_rto_and_leaves_nothing_behind(capsys, ready, tmp_path, monkeypatch):
    outputs = ready["outputs"]
    replicate(monkeypatch, outputs)
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
    measured = json.loads(out)["measured"]
    assert measured["replicaLagSeconds"] == 12.0, "the lag was measured..."
    assert measured["rpoSeconds"] is None, "...but it is not the RPO: the bucket's delay is unknown"
    assert measured["rpoUnknownBecause"] == [f"the sentinel did not reach {ready['outputs']['dataReplicaBucket']} within 1 s"]
    assert "sentinel replicated" in err
    assert sentinel_versions(ready["outputs"]["dataBucket"]) == []
    markdown = next(tmp_path.glob("dr-*.md")).read_text()
    verdict = markdown.split("## Verdict: ", 1)[1].split("\n## ", 1)[0]
    assert verdict.startswith("FAILED") or verdict.startswith("CRITICAL")
    assert "- **CRITICAL** sentinel replicated failed: " in verdict and "not replicated in time (1 s)" in verdict


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
    assert json.loads(out)["measured"]["rpoSeconds"] is None
    assert "no ReplicaLag datapoints in the last 15 minutes" in json.loads(out)["measured"]["rpoUnknownBecause"]
    assert checks["restore test"]["evidence"] == "no snapshot of scraper-prod in us-west-2"


def test_dr_drill_end_to_end_through_the_console_script(ready, aws_env, tmp_path, monkeypatch):
    replicate(monkeypatch, ready["outputs"])
    result = scraper_ops("dr", "test", "--outputs", str(ready["file"]), "--out", str(tmp_path),
                         "--replication-timeout", "30", env=aws_env)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "RPO target 900 s" in result.stdout


class SimulatedReplication:
    """A clock for the drill's polling in which S3 replication takes exactly `delay` seconds: the true arrival time
    is known, so the reported time can be checked against it. moto stores replication rules but never replicates,
    so this copies the sentinel into the replica bucket (in moto) once the simulated time passes its arrival."""

    def __init__(self, source: str, destination: str, delay: float):
        self.source, self.destination, self.delay = source, destination, delay
        self.now = 1000.0
        self.written_at: dict[str, float] = {}

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        s3, dr_s3 = client("s3"), client("s3", DR_REGION)
        for item in s3.list_objects_v2(Bucket=self.source, Prefix="dr-sentinel/").get("Contents", []):
            self.written_at.setdefault(item["Key"], self.now)
        self.now += seconds
        for key, written in self.written_at.items():
            if self.now >= written + self.delay:
                dr_s3.put_object(Bucket=self.destination, Key=key, Body=b"replicated")


@pytest.mark.parametrize("delay", [2.0, 4.0, 7.3])
def test_the_replication_time_is_exact_within_the_stated_resolution(deployed, delay):
    """The old exponential backoff reported a 2 s replication as 4 s and a 4 s one as 8 s."""
    outputs = parse_outputs(deployed["outputs"], "test")
    simulated = SimulatedReplication(outputs.dataBucket, outputs.dataReplicaBucket, delay)
    result = DrResult(checks=[], replica_lag_seconds=1.0)
    check_bucket_replication(Aws(REGION, DR_REGION), outputs, datetime.now(timezone.utc), result, 60,
                             Polling(0.5, clock=simulated.clock, sleep=simulated.sleep))
    replication = result.replication
    assert replication.lower_seconds < delay <= replication.upper_seconds
    assert replication.resolution_seconds == replication.interval_seconds == 0.5
    assert result.measured_rpo_seconds == replication.upper_seconds and result.rpo_resolution_seconds == 0.5
    evidence = next(c.evidence for c in result.checks if c.name == "sentinel replicated")
    assert "polled every 0.5 s: resolution 0.5 s" in evidence
    assert sentinel_versions(outputs.dataReplicaBucket, DR_REGION) == [], "the sentinel is removed from both buckets"


def test_an_rpo_that_could_not_be_measured_is_unknown_with_why(capsys, ready, tmp_path):
    """The replica is gone and the sentinel never arrives: no partial figure is printed as the RPO."""
    gone = tmp_path / "outputs-replica-gone.json"
    gone.write_text(json.dumps({**ready["outputs"], "dbReplicaId": "scraper-prod-gone"}))
    code, out, _ = run_cli(capsys, "dr", "test", "--outputs", str(gone), "--out", str(tmp_path),
                           "--replication-timeout", "1")
    assert code == 1
    assert ("RPO target 900 s, measured: unknown (no replica scraper-prod-gone to measure the lag of; the sentinel did "
            f"not reach {ready['outputs']['dataReplicaBucket']} within 1 s)") in " ".join(out.split())
    document = json.loads(next(tmp_path.glob("dr-*.json")).read_text())
    assert document["measured"]["rpoSeconds"] is None and document["measured"]["replicaLagSeconds"] is None
