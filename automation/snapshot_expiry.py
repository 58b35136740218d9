"""`scraper-ops backup expire`, also run by `backup create` after a successful snapshot and DR copy.

The manual snapshots `backup create` makes, and their DR-region copies, expire under the
stack's `snapshotRetention` output. In each region, independently, a snapshot is kept when
it is one of the `keepNewest` newest, or younger than `manualRetentionDays`, or the
pre-maintenance snapshot of a maintenance record (ops bucket, `maintenance/`) younger than
the retention. Only snapshots this tool made are ever candidates: manual, named
`<dbInstanceId>-YYYYmmdd-HHMMSS`, tagged created-by=scraper-ops and stack=<stack>.
Only `available` ones are deleted: RDS refuses others, and deleting a snapshot that is being
copied terminates the copy (DeleteDBSnapshot, Amazon RDS API Reference).
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

from botocore.exceptions import ClientError

from automation.aws import Aws
from automation.backup import CREATED_BY, describe_error, stack_snapshots
from automation.errors import CheckFailed
from contract.outputs import SnapshotRetention, StackOutputs

RECORDS_PREFIX = "maintenance/"
CREATED_AT_FORMAT = "%Y-%m-%dT%H:%M:%SZ"  # the created-at tag `backup create` writes


@dataclass
class Decision:
    region: str
    snapshot_id: str
    created: str
    action: str  # kept, deleted, would delete, failed
    reason: str


@dataclass
class ExpiryResult:
    dry_run: bool
    retention: SnapshotRetention
    referenced: list[str]
    decisions: list[Decision]

    @property
    def failures(self) -> list[Decision]:
        return [d for d in self.decisions if d.action == "failed"]

    @property
    def ok(self) -> bool:
        return not self.failures

    def to_json(self) -> dict[str, Any]:
        return {"dryRun": self.dry_run, "ok": self.ok, "retention": self.retention.model_dump(),
                "referencedByMaintenance": self.referenced, "snapshots": [asdict(d) for d in self.decisions]}


def _tags(snapshot: dict[str, Any]) -> dict[str, str]:
    return {tag["Key"]: tag["Value"] for tag in snapshot.get("TagList", [])}


def _created_by_this_tool(snapshot: dict[str, Any], outputs: StackOutputs) -> datetime | None:
    """When `backup create` made this snapshot for this stack; None when it is not one of its snapshots."""
    tags = _tags(snapshot)
    named = re.fullmatch(rf"{re.escape(outputs.dbInstanceId)}-\d{{8}}-\d{{6}}", snapshot["DBSnapshotIdentifier"])
    if not (named and snapshot.get("SnapshotType") == "manual" and tags.get("created-by") == CREATED_BY
            and tags.get("stack") == outputs.stack):
        return None
    try:
        return datetime.strptime(tags.get("created-at", ""), CREATED_AT_FORMAT).replace(tzinfo=timezone.utc)
    except ValueError:
        return None


def referenced_snapshots(s3: Any, bucket: str, since: datetime) -> list[str]:
    """Snapshot ids named by maintenance records created since `since`.

    A record that cannot be read stops the expiry: the snapshot it names cannot be told apart from the others.
    """
    referenced: set[str] = set()
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=RECORDS_PREFIX):
        for item in page.get("Contents", []):
            if not item["Key"].endswith(".json") or item["LastModified"] < since:
                continue  # written before `since`, so created before it
            try:
                record = json.loads(s3.get_object(Bucket=bucket, Key=item["Key"])["Body"].read())
                created = datetime.fromisoformat(record["created"])
            except (ValueError, KeyError, TypeError) as error:
                raise CheckFailed(f"maintenance record s3://{bucket}/{item['Key']} cannot be read ({error!r}); "
                                  "no snapshot was expired, since the one it may name is unknown") from None
            if created >= since and record.get("snapshot_id"):
                referenced.add(record["snapshot_id"])
    return sorted(referenced)


def _keep_reason(index: int, created: datetime, snapshot_id: str, cutoff: datetime,
                 retention: SnapshotRetention, referenced: list[str]) -> str | None:
    if index < retention.keepNewest:
        return f"one of the {retention.keepNewest} newest"
    if created >= cutoff:
        return f"younger than {retention.manualRetentionDays} days"
    if snapshot_id in referenced:
        return "pre-maintenance snapshot of a maintenance record younger than the retention"
    return None


def _expire_region(rds: Any, region: str, outputs: StackOutputs, retention: SnapshotRetention, cutoff: datetime,
                   referenced: list[str], dry_run: bool) -> list[Decision]:
    ours = [(created, s["DBSnapshotIdentifier"]) for s in stack_snapshots(rds)
            if (created := _created_by_this_tool(s, outputs)) is not None]
    decisions = []
    for index, (created, snapshot_id) in enumerate(sorted(ours, reverse=True)):
        when = created.strftime(CREATED_AT_FORMAT)
        reason = _keep_reason(index, created, snapshot_id, cutoff, retention, referenced)
        if reason is not None:
            decisions.append(Decision(region, snapshot_id, when, "kept", reason))
            continue
        expired = f"older than {retention.manualRetentionDays} days"
        if dry_run:
            decisions.append(Decision(region, snapshot_id, when, "would delete", expired))
            continue
        try:
            rds.delete_db_snapshot(DBSnapshotIdentifier=snapshot_id)
            decisions.append(Decision(region, snapshot_id, when, "deleted", expired))
        except ClientError as error:
            decisions.append(Decision(region, snapshot_id, when, "failed", describe_error(error)))
    return decisions


def expire_snapshots(aws: Aws, outputs: StackOutputs, retention: SnapshotRetention, now: datetime,
                     dry_run: bool) -> ExpiryResult:
    """Apply the retention in the primary region, then in the DR region; a failed delete does not stop the rest."""
    cutoff = now - timedelta(days=retention.manualRetentionDays)
    referenced = referenced_snapshots(aws.client("s3"), outputs.opsBucket, cutoff)
    decisions = [
        *_expire_region(aws.client("rds"), outputs.region, outputs, retention, cutoff, referenced, dry_run),
        *_expire_region(aws.dr("rds"), outputs.drRegion, outputs, retention, cutoff, referenced, dry_run),
    ]
    return ExpiryResult(dry_run, retention, referenced, decisions)
