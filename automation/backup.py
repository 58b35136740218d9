"""`scraper-ops backup create|verify`: the guide's backup_db.sh and automated-backup.sh.

A backup is an RDS snapshot of the primary, tagged, then copied to the DR region
under the DR key. Nothing here deletes a snapshot (expiry is automation/snapshot_expiry.py);
the restore test deletes only the temporary instance it created, on every path.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any, Callable

from botocore.exceptions import ClientError, WaiterError

from automation.aws import Aws
from automation.progress import Observer, Waiting, unobserved
from contract.outputs import StackOutputs

CREATED_BY = "scraper-ops"
RESTORE_TEST_CLASS = "db.t4g.medium"


@dataclass
class WaitPolicy:
    """How long to wait for RDS (snapshots and restores take minutes in AWS), on which clock, and who watches.

    Clock and sleep are injectable, so tests wait on a simulated clock; `observe` is told about every wait
    (automation/progress.py): the CLI shows it, a job never prints."""

    delay_seconds: int = 30
    snapshot_timeout_seconds: int = 3 * 3600
    instance_timeout_seconds: int = 3 * 3600
    clock: Callable[[], float] = time.monotonic
    sleep: Callable[[float], None] = time.sleep
    observe: Observer = unobserved


def wait_until(client: Any, waiter_name: str, what: str, wait: WaitPolicy, timeout_seconds: int, **request: Any) -> None:
    """botocore's waiter `waiter_name`, one check at a time: its acceptors decide success and failure, and between
    checks the wait is reported to `wait.observe` with its elapsed time and deadline. WaiterError as the waiter's own
    on a failure state, an error response, or when the deadline has passed."""
    started = wait.clock()
    waiter = client.get_waiter(waiter_name)
    while True:
        try:
            # One attempt: botocore then raises "Max attempts exceeded" while the resource is not ready, without
            # sleeping (botocore/waiter.py, Waiter.wait).
            waiter.wait(**request, WaiterConfig={"Delay": wait.delay_seconds, "MaxAttempts": 1})
        except WaiterError as error:
            if not str(error.kwargs.get("reason", "")).startswith("Max attempts exceeded"):
                raise
            elapsed = wait.clock() - started
            if elapsed + wait.delay_seconds > timeout_seconds:
                raise WaiterError(name=error.kwargs.get("name", waiter_name),
                                  reason=f"not ready within the deadline of {timeout_seconds} s",
                                  last_response=error.last_response) from None
            wait.observe(Waiting(what, elapsed, timeout_seconds))
            wait.sleep(wait.delay_seconds)
            continue
        wait.observe(Waiting(what, wait.clock() - started, timeout_seconds, done=True))
        return


def snapshot_id(db_instance_id: str, when: datetime) -> str:
    return f"{db_instance_id}-{when:%Y%m%d-%H%M%S}"


@dataclass
class Step:
    name: str
    ok: bool
    seconds: float
    detail: str
    ids: dict[str, str] = field(default_factory=dict)


@dataclass
class BackupResult:
    snapshot_id: str
    steps: list[Step]

    @property
    def ok(self) -> bool:
        return all(step.ok for step in self.steps) and len(self.steps) == 2

    def to_json(self) -> dict[str, Any]:
        return {"snapshotId": self.snapshot_id, "ok": self.ok, "steps": [asdict(s) for s in self.steps]}


def _timed(name: str, action: Callable[[], tuple[str, dict[str, str]]], clock: Callable[[], float]) -> Step:
    started = clock()
    try:
        detail, ids = action()
        return Step(name, True, clock() - started, detail, ids)
    except (ClientError, WaiterError) as error:
        return Step(name, False, clock() - started, describe_error(error))


def describe_error(error: Exception) -> str:
    if isinstance(error, ClientError):
        info = error.response.get("Error", {})
        return f"{info.get('Code')}: {info.get('Message')}"
    if isinstance(error, WaiterError):
        return f"did not become ready: {error.last_response.get('Error', {}).get('Message') or error.kwargs.get('reason')}"
    return str(error)


def create_backup(aws: Aws, outputs: StackOutputs, reason: str, now: datetime, wait: WaitPolicy) -> BackupResult:
    """Snapshot the primary, wait until available, copy it to the DR region encrypted with the DR key, wait."""
    rds, dr_rds = aws.client("rds"), aws.dr("rds")
    identifier = snapshot_id(outputs.dbInstanceId, now)
    tags = [
        {"Key": "reason", "Value": reason[:256]},
        {"Key": "created-at", "Value": now.strftime("%Y-%m-%dT%H:%M:%SZ")},
        {"Key": "stack", "Value": outputs.stack},
        {"Key": "created-by", "Value": CREATED_BY},
        *({"Key": k, "Value": v} for k, v in outputs.costTags.items()),
    ]
    snapshot_arn: dict[str, str] = {}

    def snapshot() -> tuple[str, dict[str, str]]:
        created = rds.create_db_snapshot(
            DBSnapshotIdentifier=identifier, DBInstanceIdentifier=outputs.dbInstanceId, Tags=tags
        )["DBSnapshot"]
        wait_until(rds, "db_snapshot_available", f"snapshot {identifier} in {outputs.region}", wait,
                   wait.snapshot_timeout_seconds, DBSnapshotIdentifier=identifier)
        snapshot_arn["arn"] = created["DBSnapshotArn"]
        return f"snapshot {identifier} available in {outputs.region}", {"snapshot": identifier}

    def copy() -> tuple[str, dict[str, str]]:
        dr_rds.copy_db_snapshot(
            SourceDBSnapshotIdentifier=snapshot_arn["arn"],
            TargetDBSnapshotIdentifier=identifier,
            KmsKeyId=outputs.drKmsKeyArn,
            CopyTags=True,
            SourceRegion=outputs.region,
        )
        wait_until(dr_rds, "db_snapshot_available", f"copy of {identifier} to {outputs.drRegion}", wait,
                   wait.snapshot_timeout_seconds, DBSnapshotIdentifier=identifier)
        return f"copy {identifier} available in {outputs.drRegion}, encrypted with the DR key", {"drCopy": identifier}

    steps = [_timed("snapshot", snapshot, wait.clock)]
    if steps[0].ok:
        steps.append(_timed("dr-copy", copy, wait.clock))
    return BackupResult(identifier, steps)


def stack_snapshots(rds: Any, db_instance_id: str | None = None) -> list[dict[str, Any]]:
    """Available snapshots (newest first); of one instance, or all snapshots in the region."""
    paginator = rds.get_paginator("describe_db_snapshots")
    query = {"DBInstanceIdentifier": db_instance_id} if db_instance_id else {}
    snapshots = [s for page in paginator.paginate(**query) for s in page["DBSnapshots"] if s.get("Status") == "available"]
    return sorted(snapshots, key=lambda s: s["SnapshotCreateTime"], reverse=True)


def newest_backup(rds: Any, db_instance_id: str) -> dict[str, Any] | None:
    return next(iter(stack_snapshots(rds, db_instance_id)), None)


def _made_by_backup_create(snapshot: dict[str, Any], outputs: StackOutputs) -> bool:
    return snapshot.get("SnapshotType") == "manual" and snapshot["DBSnapshotIdentifier"].startswith(
        f"{outputs.dbInstanceId}-"
    )


@dataclass
class Check:
    name: str
    ok: bool
    evidence: str


@dataclass
class RestoreTest:
    instance_id: str
    snapshot_id: str
    ok: bool
    seconds: float | None
    detail: str
    cleaned_up: bool


def restore_test(aws: Aws, outputs: StackOutputs, snapshot: str, now: datetime, wait: WaitPolicy) -> RestoreTest:
    """Restore a DR snapshot to a temporary instance in the DR region, time it, and always delete the instance."""
    dr_rds = aws.dr("rds")
    instance_id = f"{outputs.dbInstanceId}-restore-test-{now:%Y%m%d%H%M%S}"
    started = wait.clock()
    created = False
    outcome = RestoreTest(instance_id, snapshot, False, None, "", cleaned_up=False)
    try:
        dr_rds.restore_db_instance_from_db_snapshot(
            DBInstanceIdentifier=instance_id,
            DBSnapshotIdentifier=snapshot,
            DBInstanceClass=RESTORE_TEST_CLASS,
            DBSubnetGroupName=outputs.drSubnetGroupName,
            VpcSecurityGroupIds=outputs.drSecurityGroupIds,
            PubliclyAccessible=False,
            MultiAZ=False,
            DeletionProtection=False,
            Tags=[{"Key": "purpose", "Value": "restore-test"}, {"Key": "created-by", "Value": CREATED_BY},
                  {"Key": "stack", "Value": outputs.stack}],
        )
        created = True
        wait_until(dr_rds, "db_instance_available", f"restore of {snapshot} to {instance_id}", wait,
                   wait.instance_timeout_seconds, DBInstanceIdentifier=instance_id)
        outcome.seconds = wait.clock() - started
        outcome.ok = True
        outcome.detail = f"{snapshot} restored to {instance_id} in {outcome.seconds:.0f} s"
    except (ClientError, WaiterError) as error:
        outcome.detail = f"restore of {snapshot} failed: {describe_error(error)}"
        created = created or _exists(dr_rds, instance_id)
    finally:
        outcome.cleaned_up = _delete_instance(dr_rds, instance_id, wait) if created else True
        if not outcome.cleaned_up:
            outcome.ok = False
            outcome.detail += f"; the temporary instance {instance_id} could NOT be deleted: delete it by hand"
    return outcome


def _exists(rds: Any, instance_id: str) -> bool:
    try:
        rds.describe_db_instances(DBInstanceIdentifier=instance_id)
        return True
    except ClientError:
        return False


def _delete_instance(rds: Any, instance_id: str, wait: WaitPolicy) -> bool:
    try:
        rds.delete_db_instance(DBInstanceIdentifier=instance_id, SkipFinalSnapshot=True, DeleteAutomatedBackups=True)
        wait_until(rds, "db_instance_deleted", f"deletion of {instance_id}", wait, wait.instance_timeout_seconds,
                   DBInstanceIdentifier=instance_id)
        return True
    except (ClientError, WaiterError) as error:
        if isinstance(error, ClientError) and error.response.get("Error", {}).get("Code") == "DBInstanceNotFound":
            return True
        return False


@dataclass
class VerifyResult:
    checks: list[Check]
    restore: RestoreTest | None = None

    @property
    def ok(self) -> bool:
        return all(c.ok for c in self.checks) and (self.restore is None or self.restore.ok)

    def to_json(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "checks": [asdict(c) for c in self.checks],
            "restoreTest": asdict(self.restore) if self.restore else None,
        }


def verify_backups(aws: Aws, outputs: StackOutputs, now: datetime, restore: bool, wait: WaitPolicy) -> VerifyResult:
    rds, dr_rds = aws.client("rds"), aws.dr("rds")
    checks: list[Check] = []
    newest = newest_backup(rds, outputs.dbInstanceId)
    max_age = outputs.objectives.backupMaxAgeHours
    if newest is None:
        checks.append(Check("newest snapshot", False, f"no available snapshot of {outputs.dbInstanceId}"))
    else:
        age = (now - newest["SnapshotCreateTime"]).total_seconds() / 3600
        checks.append(Check("newest snapshot age", age <= max_age,
                            f"{newest['DBSnapshotIdentifier']} is {age:.1f} h old (limit {max_age:g} h)"))
        checks.append(Check("newest snapshot encrypted", bool(newest.get("Encrypted")),
                            f"{newest['DBSnapshotIdentifier']} encrypted={newest.get('Encrypted')} "
                            f"key={newest.get('KmsKeyId', '-')}"))
    # Automated snapshots reach the DR region through backup replication; the copies checked here are the
    # ones `backup create` makes, so the newest of those is the one that must have its DR copy.
    ours = next((s for s in stack_snapshots(rds, outputs.dbInstanceId) if _made_by_backup_create(s, outputs)), None)
    copies = {s["DBSnapshotIdentifier"]: s for s in stack_snapshots(dr_rds)}
    copy = copies.get(ours["DBSnapshotIdentifier"]) if ours else None
    if ours is None:
        checks.append(Check("DR copy", False, f"no snapshot made by `backup create` for {outputs.dbInstanceId}"))
    elif copy is None:
        checks.append(Check("DR copy", False, f"no copy of {ours['DBSnapshotIdentifier']} in {outputs.drRegion}"))
    else:
        encrypted = bool(copy.get("Encrypted")) and copy.get("KmsKeyId") == outputs.drKmsKeyArn
        checks.append(Check("DR copy", encrypted,
                            f"{copy['DBSnapshotIdentifier']} in {outputs.drRegion}, key {copy.get('KmsKeyId', 'none')}"
                            + ("" if encrypted else f" (expected {outputs.drKmsKeyArn})")))
    instance = rds.describe_db_instances(DBInstanceIdentifier=outputs.dbInstanceId)["DBInstances"][0]
    retention = instance.get("BackupRetentionPeriod", 0)
    checks.append(Check("retention", retention >= outputs.dbBackupRetentionDays,
                        f"automated backups kept {retention} days (configured {outputs.dbBackupRetentionDays})"))
    checks.append(_backup_plan_check(aws, outputs))
    restore_result = None
    if restore:
        if copy is None:
            checks.append(Check("restore test", False, "no DR copy to restore"))
        else:
            restore_result = restore_test(aws, outputs, copy["DBSnapshotIdentifier"], now, wait)
    return VerifyResult(checks, restore_result)


def _backup_plan_check(aws: Aws, outputs: StackOutputs) -> Check:
    try:
        plan = aws.client("backup").get_backup_plan(BackupPlanId=outputs.backupPlanId)["BackupPlan"]
    except ClientError as error:
        return Check("AWS Backup plan", False, f"plan {outputs.backupPlanId}: {describe_error(error)}")
    copies = [
        action.get("DestinationBackupVaultArn", "")
        for rule in plan.get("Rules", [])
        for action in rule.get("CopyActions", [])
    ]
    to_dr = [arn for arn in copies if f":{outputs.drRegion}:" in arn]
    return Check("AWS Backup plan", bool(to_dr),
                 f"plan {plan.get('BackupPlanName')} copies to {', '.join(copies) or 'nowhere'}")
