"""`scraper-ops backup create|expire|verify`: snapshots, their DR copies and their expiry."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Optional

import typer

from automation.aws import aws_errors
from automation.cli.common import (
    BackendOption,
    JsonOption,
    OpsStackOption,
    OutDirOption,
    OutputsOption,
    check_report,
    checks_table,
    emit,
    mark,
    ops_context,
    wait_policy,
    write_report,
)
from automation.console import Table
from automation.errors import BadInput, CheckFailed
from automation.reports import utcnow

if TYPE_CHECKING:
    from automation.snapshot_expiry import ExpiryResult

backup_app = typer.Typer(help="Database backups.", no_args_is_help=True)


@backup_app.command("create")
def backup_create(
    reason: str = typer.Option("manual", "--reason", help="Why: recorded as a tag on the snapshot."),
    as_json: bool = JsonOption,
    stack: Optional[str] = OpsStackOption,
    outputs_file: Optional[Path] = OutputsOption,
    backend: str = BackendOption,
) -> None:
    """Snapshot the database, copy the snapshot to the DR region under the DR key, then expire old snapshots."""
    from automation import backup as backup_job
    from automation import snapshot_expiry
    outputs, aws = ops_context(stack, outputs_file, backend)
    now = utcnow()
    with aws_errors():
        result = backup_job.create_backup(aws, outputs, reason, now, wait_policy())
        # Only after a snapshot and its DR copy are available: a failed backup expires nothing.
        try:
            expiry = (snapshot_expiry.expire_snapshots(aws, outputs, outputs.snapshotRetention, now, dry_run=False)
                      if result.ok and outputs.snapshotRetention else None)
        except CheckFailed as error:
            raise CheckFailed(f"backup {result.snapshot_id} and its DR copy are available, but {error}") from None
    table = Table(title=f"Backup {result.snapshot_id}")
    for column in ("", "step", "seconds", "detail"):
        table.add_column(column)
    for step in result.steps:
        table.add_row(mark(step.ok), step.name, f"{step.seconds:.1f}", step.detail)
    if expiry is not None:
        _expiry_rows(table, expiry)
    lines = [] if expiry or not result.ok else [
        "snapshot expiry skipped: the stack outputs have no snapshotRetention (update the stack)"]
    emit(as_json, {**result.to_json(), "expiry": expiry.to_json() if expiry else None}, table, lines)
    if not result.ok:
        exists = [s.detail for s in result.steps if s.ok]
        failed = [f"{s.name} failed: {s.detail}" for s in result.steps if not s.ok]
        raise CheckFailed("; ".join(failed) + ". Exists: " + ("; ".join(exists) if exists else "nothing")
                          + ". No snapshot was expired")
    if expiry is not None and not expiry.ok:
        raise CheckFailed(f"backup {result.snapshot_id} and its DR copy are available, but " + _expiry_failures(expiry))


def _expiry_rows(table: Table, expiry: ExpiryResult) -> None:
    for decision in expiry.decisions:
        if decision.action != "kept":
            table.add_row(mark(decision.action != "failed"), f"expire ({decision.region})", "",
                          f"{decision.snapshot_id} {decision.action}: {decision.reason}")


def _expiry_failures(expiry: ExpiryResult) -> str:
    return (f"{len(expiry.failures)} expired snapshots could not be deleted: "
            + "; ".join(f"{d.snapshot_id} in {d.region}: {d.reason}" for d in expiry.failures))


@backup_app.command("expire")
def backup_expire(
    dry_run: bool = typer.Option(False, "--dry-run", help="List what would be deleted; delete nothing."),
    as_json: bool = JsonOption,
    stack: Optional[str] = OpsStackOption,
    outputs_file: Optional[Path] = OutputsOption,
    backend: str = BackendOption,
) -> None:
    """Delete the manual snapshots `backup create` made, in both regions, once past the stack's retention."""
    from automation import snapshot_expiry
    outputs, aws = ops_context(stack, outputs_file, backend)
    if outputs.snapshotRetention is None:
        raise BadInput("the stack outputs have no snapshotRetention: update the stack so that it exports its "
                       "snapshot retention, then expire")
    with aws_errors():
        expiry = snapshot_expiry.expire_snapshots(aws, outputs, outputs.snapshotRetention, utcnow(), dry_run)
    retention = outputs.snapshotRetention
    table = Table(title=f"Snapshot expiry of {outputs.stack}" + (" (dry run: nothing deleted)" if dry_run else ""))
    for column in ("", "region", "snapshot", "created", "action", "reason"):
        table.add_column(column)
    for d in expiry.decisions:
        table.add_row(mark(d.action != "failed"), d.region, d.snapshot_id, d.created, d.action, d.reason)
    removed = [f"{d.snapshot_id} ({d.region})" for d in expiry.decisions if d.action in ("deleted", "would delete")]
    emit(as_json, expiry.to_json(), table, [
        f"retention {retention.manualRetentionDays} days, {retention.keepNewest} newest always kept; "
        f"kept for maintenance records: {', '.join(expiry.referenced) or 'none'}",
        ("dry run: nothing deleted; would delete: " if dry_run else "deleted: ") + (", ".join(removed) or "none")])
    if not expiry.ok:
        raise CheckFailed(_expiry_failures(expiry))


@backup_app.command("verify")
def backup_verify(
    restore_test: bool = typer.Option(False, "--restore-test", help="Restore the newest DR copy to a temporary instance."),
    out: Optional[Path] = OutDirOption,
    as_json: bool = JsonOption,
    stack: Optional[str] = OpsStackOption,
    outputs_file: Optional[Path] = OutputsOption,
    backend: str = BackendOption,
) -> None:
    """Newest snapshot fresh and encrypted, its DR copy present under the DR key, retention, AWS Backup plan."""
    from automation import backup as backup_job
    outputs, aws = ops_context(stack, outputs_file, backend)
    now = utcnow()
    with aws_errors():
        result = backup_job.verify_backups(aws, outputs, now, restore_test, wait_policy())
        report = check_report("backups", "Backup verification", outputs.stack, result.ok, result.to_json(), now,
                              result.checks)
        written = write_report(report, ("json", "md"), out, aws.client("s3"), outputs.opsBucket,
                               basename=f"verify-{report.stamp}")
    table = checks_table("Backup verification", result.checks)
    if result.restore:
        table.add_row(mark(result.restore.ok), "restore test", result.restore.detail)
    emit(as_json, result.to_json(), table, [f"written: {', '.join(written)}"])
    if not result.ok:
        raise CheckFailed("backup verification failed")
