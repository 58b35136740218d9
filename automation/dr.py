"""`scraper-ops dr test`: the monthly disaster-recovery drill, measured against the RPO and RTO.

Nothing in production is promoted or changed: the only things written are a
sentinel object (removed with all its versions from both buckets) and a
temporary restored instance (always deleted).
"""

from __future__ import annotations

import time
import uuid
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from typing import Any

from botocore.exceptions import ClientError

from automation.aws import Aws
from automation.backup import Check, RestoreTest, WaitPolicy, restore_test, stack_snapshots
from automation.metrics import Query, get_metric_data
from automation.outputs import StackOutputs

SENTINEL_PREFIX = "dr-sentinel/"


@dataclass
class DrResult:
    checks: list[Check]
    measured_rpo_seconds: float | None = None
    measured_rto_seconds: float | None = None
    restore: RestoreTest | None = None
    cleanup: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(c.ok for c in self.checks)

    def to_json(self, outputs: StackOutputs) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "targets": {"rpoSeconds": outputs.objectives.rpoMinutes * 60, "rtoSeconds": outputs.objectives.rtoMinutes * 60},
            "measured": {"rpoSeconds": self.measured_rpo_seconds, "rtoSeconds": self.measured_rto_seconds},
            "checks": [asdict(c) for c in self.checks],
            "restoreTest": asdict(self.restore) if self.restore else None,
            "cleanup": self.cleanup,
        }


def check_replica(aws: Aws, outputs: StackOutputs, now: datetime, result: DrResult) -> None:
    rpo = outputs.objectives.rpoMinutes * 60
    try:
        replica = aws.dr("rds").describe_db_instances(DBInstanceIdentifier=outputs.dbReplicaId)["DBInstances"][0]
    except ClientError:
        result.checks.append(Check("replica", False, f"no instance {outputs.dbReplicaId} in {outputs.drRegion}"))
        return
    source = replica.get("ReadReplicaSourceDBInstanceIdentifier")
    result.checks.append(Check(
        "replica", bool(source) and replica.get("DBInstanceStatus") == "available",
        f"{outputs.dbReplicaId} in {outputs.drRegion}: status {replica.get('DBInstanceStatus')}, source {source or 'none'}",
    ))
    lag = get_metric_data(
        aws.dr("cloudwatch"),
        [Query("lag", "AWS/RDS", "ReplicaLag", "Maximum", (("DBInstanceIdentifier", outputs.dbReplicaId),))],
        now - timedelta(minutes=15), now, 60,
    )["lag"]
    if not lag:
        result.checks.append(Check("replica lag", False, "no ReplicaLag datapoints in the last 15 minutes"))
        return
    worst = max(value for _, value in lag)
    result.measured_rpo_seconds = worst
    result.checks.append(Check("replica lag", worst <= rpo, f"max ReplicaLag {worst:.0f} s over 15 min (RPO {rpo} s)"))


def check_bucket_replication(aws: Aws, outputs: StackOutputs, now: datetime, result: DrResult,
                             timeout_seconds: float, poll_seconds: float) -> None:
    s3, dr_s3 = aws.client("s3"), aws.dr("s3")
    destination = f"arn:aws:s3:::{outputs.dataReplicaBucket}"
    try:
        rules = s3.get_bucket_replication(Bucket=outputs.dataBucket)["ReplicationConfiguration"]["Rules"]
    except ClientError as error:
        rules = []
        result.checks.append(Check("bucket replication", False, f"{outputs.dataBucket}: {error.response['Error']['Code']}"))
    configured = [r for r in rules if r.get("Status") == "Enabled" and r.get("Destination", {}).get("Bucket") == destination]
    if rules:
        result.checks.append(Check("bucket replication", bool(configured),
                                   f"{outputs.dataBucket} -> {outputs.dataReplicaBucket}: "
                                   f"{'enabled' if configured else 'no enabled rule to the replica bucket'}"))
    if not configured:
        return
    key = f"{SENTINEL_PREFIX}{now:%Y%m%dT%H%M%SZ}-{uuid.uuid4().hex[:8]}.txt"
    s3.put_object(Bucket=outputs.dataBucket, Key=key, Body=f"dr test {now.isoformat()}".encode())
    started = time.monotonic()
    delay = min(0.5, poll_seconds)
    try:
        while True:
            try:
                dr_s3.head_object(Bucket=outputs.dataReplicaBucket, Key=key)
                seconds = time.monotonic() - started
                result.measured_rpo_seconds = max(result.measured_rpo_seconds or 0.0, seconds)
                result.checks.append(Check("sentinel replicated", True, f"{key} reached the replica in {seconds:.0f} s"))
                return
            except ClientError as error:
                if error.response["Error"]["Code"] not in ("404", "NoSuchKey", "NotFound"):
                    raise
            if time.monotonic() - started >= timeout_seconds:
                result.checks.append(Check("sentinel replicated", False,
                                           f"{key} not replicated in time ({timeout_seconds:.0f} s)"))
                return
            time.sleep(delay)
            delay = min(delay * 2, poll_seconds)
    finally:
        for bucket, client in ((outputs.dataBucket, s3), (outputs.dataReplicaBucket, dr_s3)):
            result.cleanup.append(_remove_all_versions(client, bucket, key))


def _remove_all_versions(s3: Any, bucket: str, key: str) -> str:
    """Delete every version and delete marker of one key: a versioned bucket keeps no trace of the sentinel."""
    response = s3.list_object_versions(Bucket=bucket, Prefix=key)
    versions = [
        {"Key": v["Key"], "VersionId": v["VersionId"]}
        for v in response.get("Versions", []) + response.get("DeleteMarkers", [])
        if v["Key"] == key
    ]
    if versions:
        s3.delete_objects(Bucket=bucket, Delete={"Objects": versions, "Quiet": True})
    return f"removed {len(versions)} version(s) of {key} from {bucket}"


def run_dr_test(aws: Aws, outputs: StackOutputs, now: datetime, wait: WaitPolicy,
                replication_timeout_seconds: float | None = None, poll_seconds: float = 5.0) -> DrResult:
    result = DrResult(checks=[])
    check_replica(aws, outputs, now, result)
    timeout = replication_timeout_seconds if replication_timeout_seconds is not None else outputs.objectives.rpoMinutes * 60
    check_bucket_replication(aws, outputs, now, result, timeout, poll_seconds)
    copies = [s for s in stack_snapshots(aws.dr("rds")) if s["DBSnapshotIdentifier"].startswith(f"{outputs.dbInstanceId}-")]
    if not copies:
        result.checks.append(Check("restore test", False, f"no snapshot of {outputs.dbInstanceId} in {outputs.drRegion}"))
        return result
    result.restore = restore_test(aws, outputs, copies[0]["DBSnapshotIdentifier"], now, wait)
    rto = outputs.objectives.rtoMinutes * 60
    result.measured_rto_seconds = result.restore.seconds
    within = result.restore.ok and result.restore.seconds is not None and result.restore.seconds <= rto
    result.checks.append(Check("restore within RTO", within, f"{result.restore.detail} (RTO {rto} s)"))
    result.cleanup.append(
        f"temporary instance {result.restore.instance_id} "
        + ("deleted" if result.restore.cleaned_up else "NOT deleted: delete it by hand")
    )
    return result
