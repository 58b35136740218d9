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
from typing import Any, Callable

from botocore.exceptions import ClientError

from automation.aws import Aws
from automation.backup import Check, RestoreTest, WaitPolicy, restore_test, stack_snapshots
from automation.errors import BadInput
from automation.metrics import Query, get_metric_data
from automation.progress import Observer, Waiting, unobserved
from contract.outputs import StackOutputs

SENTINEL_PREFIX = "dr-sentinel/"


@dataclass(frozen=True)
class Polling:
    """How the sentinel is watched: a HEAD request every `interval_seconds`, so the replication time is known to
    within one interval plus one request. Clock and sleep are injectable: tests run on a simulated clock. `observe`
    is told how long the sentinel has been awaited, against the deadline (automation/progress.py)."""

    interval_seconds: float = 1.0
    clock: Callable[[], float] = time.monotonic
    sleep: Callable[[float], None] = time.sleep
    observe: Observer = unobserved


@dataclass
class Replication:
    """When the sentinel reached the replica bucket, as an interval: after `lower_seconds`, by `upper_seconds`."""

    lower_seconds: float
    upper_seconds: float
    interval_seconds: float

    @property
    def resolution_seconds(self) -> float:
        return self.upper_seconds - self.lower_seconds


@dataclass
class DrResult:
    checks: list[Check]
    replica_lag_seconds: float | None = None
    replication: Replication | None = None
    rpo_unknown_because: list[str] = field(default_factory=list)
    measured_rto_seconds: float | None = None
    restore: RestoreTest | None = None
    cleanup: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(c.ok for c in self.checks)

    @property
    def measured_rpo_seconds(self) -> float | None:
        """The worst of the database's and the bucket's replication delay; None (unknown) unless both were
        measured: a partial figure would understate what a failover loses."""
        if self.rpo_unknown_because or self.replica_lag_seconds is None or self.replication is None:
            return None
        return max(self.replica_lag_seconds, self.replication.upper_seconds)

    @property
    def rpo_resolution_seconds(self) -> float | None:
        return self.replication.resolution_seconds if self.measured_rpo_seconds is not None else None

    def to_json(self, outputs: StackOutputs) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "targets": {"rpoSeconds": outputs.objectives.rpoMinutes * 60, "rtoSeconds": outputs.objectives.rtoMinutes * 60},
            "measured": {
                "rpoSeconds": self.measured_rpo_seconds,
                "rpoResolutionSeconds": self.rpo_resolution_seconds,
                "rpoUnknownBecause": self.rpo_unknown_because,
                "replicaLagSeconds": self.replica_lag_seconds,
                "sentinelReplication": asdict(self.replication) if self.replication else None,
                "rtoSeconds": self.measured_rto_seconds,
            },
            "checks": [asdict(c) for c in self.checks],
            "restoreTest": asdict(self.restore) if self.restore else None,
            "cleanup": self.cleanup,
        }

    def rpo_line(self, target_seconds: int) -> str:
        if self.measured_rpo_seconds is None:
            return f"RPO target {target_seconds} s, measured: unknown ({'; '.join(self.rpo_unknown_because)})"
        return (f"RPO target {target_seconds} s, measured {self.measured_rpo_seconds:.1f} s "
                f"(resolution {self.rpo_resolution_seconds:.1f} s)")


def check_replica(aws: Aws, outputs: StackOutputs, now: datetime, result: DrResult) -> None:
    rpo = outputs.objectives.rpoMinutes * 60
    try:
        replica = aws.dr("rds").describe_db_instances(DBInstanceIdentifier=outputs.dbReplicaId)["DBInstances"][0]
    except ClientError:
        result.checks.append(Check("replica", False, f"no instance {outputs.dbReplicaId} in {outputs.drRegion}"))
        result.rpo_unknown_because.append(f"no replica {outputs.dbReplicaId} to measure the lag of")
        return
    source = replica.get("ReadReplicaSourceDBInstanceIdentifier")
    result.checks.append(Check(
        "replica", bool(source) and replica.get("DBInstanceStatus") == "available",
        f"{outputs.dbReplicaId} in {outputs.drRegion}: status {replica.get('DBInstanceStatus')}, source {source or 'none'}",
    ))
    if not source:
        result.rpo_unknown_because.append(f"{outputs.dbReplicaId} is not a replica (promoted?): nothing replicates")
        return
    lag = get_metric_data(
        aws.dr("cloudwatch"),
        [Query("lag", "AWS/RDS", "ReplicaLag", "Maximum", (("DBInstanceIdentifier", outputs.dbReplicaId),))],
        now - timedelta(minutes=15), now, 60,
    )["lag"]
    if not lag:
        result.checks.append(Check("replica lag", False, "no ReplicaLag datapoints in the last 15 minutes"))
        result.rpo_unknown_because.append("no ReplicaLag datapoints in the last 15 minutes")
        return
    worst = max(value for _, value in lag)
    result.replica_lag_seconds = worst
    result.checks.append(Check("replica lag", worst <= rpo, f"max ReplicaLag {worst:.0f} s over 15 min (RPO {rpo} s)"))


def check_bucket_replication(aws: Aws, outputs: StackOutputs, now: datetime, result: DrResult,
                             timeout_seconds: float, polling: Polling) -> None:
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
        result.rpo_unknown_because.append(f"no enabled replication from {outputs.dataBucket} to {outputs.dataReplicaBucket}")
        return
    key = f"{SENTINEL_PREFIX}{now:%Y%m%dT%H%M%SZ}-{uuid.uuid4().hex[:8]}.txt"
    s3.put_object(Bucket=outputs.dataBucket, Key=key, Body=f"dr test {now.isoformat()}".encode())
    written = polling.clock()  # the object can replicate only once its PUT has completed
    missed_at = written  # the object was not in the replica bucket when this last HEAD started
    awaited = f"replication of {key} to {outputs.dataReplicaBucket}"
    try:
        while True:
            probe = polling.clock()
            if _exists(dr_s3, outputs.dataReplicaBucket, key):
                arrived = Replication(missed_at - written, polling.clock() - written, polling.interval_seconds)
                result.replication = arrived
                polling.observe(Waiting(awaited, arrived.upper_seconds, timeout_seconds, done=True))
                result.checks.append(Check(
                    "sentinel replicated", True,
                    f"{key} reached the replica after {arrived.lower_seconds:.1f} s and by {arrived.upper_seconds:.1f} s "
                    f"(polled every {polling.interval_seconds:g} s: resolution {arrived.resolution_seconds:.1f} s)"))
                return
            missed_at = probe
            if polling.clock() - written >= timeout_seconds:
                result.checks.append(Check("sentinel replicated", False,
                                           f"{key} not replicated in time ({timeout_seconds:.0f} s)"))
                result.rpo_unknown_because.append(
                    f"the sentinel did not reach {outputs.dataReplicaBucket} within {timeout_seconds:.0f} s")
                polling.observe(Waiting(awaited, polling.clock() - written, timeout_seconds, done=True))
                return
            polling.observe(Waiting(awaited, polling.clock() - written, timeout_seconds))
            polling.sleep(polling.interval_seconds)
    finally:
        for bucket, client in ((outputs.dataBucket, s3), (outputs.dataReplicaBucket, dr_s3)):
            result.cleanup.append(_remove_all_versions(client, bucket, key))


def _exists(s3: Any, bucket: str, key: str) -> bool:
    try:
        s3.head_object(Bucket=bucket, Key=key)
        return True
    except ClientError as error:
        if error.response["Error"]["Code"] not in ("404", "NoSuchKey", "NotFound"):
            raise
        return False


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
                replication_timeout_seconds: float | None = None, polling: Polling = Polling()) -> DrResult:
    if outputs.dbReplicaId is None or outputs.dataReplicaBucket is None:
        primary = outputs.site.primaryStack if outputs.site and outputs.site.primaryStack else "its primary"
        raise BadInput(f"{outputs.stack} is a standby stack: it has no replica database or replica bucket of its "
                       f"own to drill; run `scraper-ops dr test` on {primary}, whose drill covers what it runs on")
    result = DrResult(checks=[])
    check_replica(aws, outputs, now, result)
    timeout = replication_timeout_seconds if replication_timeout_seconds is not None else outputs.objectives.rpoMinutes * 60
    check_bucket_replication(aws, outputs, now, result, timeout, polling)
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
