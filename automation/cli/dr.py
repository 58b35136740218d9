"""`scraper-ops dr test|failover|failback`: option wiring and output; the runbooks are automation/dr.py,
automation/failover.py and automation/failback.py."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from automation.cli import common
from automation.console import Table
from automation.errors import BadInput, CheckFailed

PrimaryStackOption = typer.Option(..., "--stack", help="The primary stack (its replica is promoted).")
StandbyStackOption = typer.Option(None, "--standby-stack", help="The standby stack in the DR region (default: STACK-dr).")
ReasonOption = typer.Option("", "--reason", help="Why: in the record, the notice and the update messages.")
DryRunOption = typer.Option(False, "--dry-run", help="Show every step and its preconditions; change nothing.")
UrlOption = typer.Option(None, "--url", help="Smoke-test this base URL instead of the standby's serviceUrl output.")
PrimaryOutputsOption = typer.Option(None, "--outputs", help="The primary stack's outputs JSON.")
JsonOption = typer.Option(False, "--json", help="Print the record as JSON.")
StandbyOutputsOption = typer.Option(None, "--standby-outputs", help="The standby stack's outputs JSON (default: read "
                                    "through the stack runner).")


def _run(kind: str, stack: str, standby_stack: Optional[str], reason: str, dry_run: bool, backend: str,
         outputs_file: Optional[Path], standby_outputs: Optional[Path], out: Optional[Path], as_json: bool,
         build) -> None:
    from automation.aws import Aws, aws_errors
    from automation.maintenance import Aborted
    from automation.outputs import outputs_of
    from automation.reports import utcnow
    from automation.runner import stack_runner

    if not dry_run and not reason.strip():
        raise BadInput(f"--reason TEXT is required: a {kind} must say why (or use --dry-run)")
    standby_name = standby_stack or f"{stack}-dr"
    primary_runner = None if outputs_file else stack_runner(stack, backend)
    runner = stack_runner(standby_name, backend, on_event=common.progress)
    primary = outputs_of(outputs_file, primary_runner)
    standby = outputs_of(standby_outputs, runner)
    aws = Aws(primary.region, primary.drRegion)
    with aws_errors():
        job = build(aws, primary, standby, runner)
        try:
            record = job.run()
        except Aborted as error:
            raise CheckFailed(str(error)) from None
        written = [] if dry_run else common.write_report(record.report(utcnow()), ("json", "md"), out, aws.dr("s3"),
                                                         standby.opsBucket, basename=f"{kind}-{record.run_id}")
    table = Table(title=f"DR {kind} {record.run_id}: {stack} -> {standby_name} ({backend} backend): {record.outcome}")
    for column in ("step", "outcome", "detail"):
        table.add_column(column, overflow="fold")
    for step in record.steps:
        table.add_row(step.name, step.outcome, step.detail)
    report = record.report(utcnow())
    lines = [*report.summary, *(f"written: {', '.join(written)}",) * bool(written)]
    if dry_run:
        lines.insert(0, "dry run: nothing was changed, locked or recorded")
    common.emit(as_json, record.to_json(), table, lines)
    if record.outcome not in ("completed", "dry run"):
        problems = [f"{s.name} {s.outcome}: {s.detail}" for s in record.steps if s.outcome in ("refused", "failed")]
        raise CheckFailed(f"{kind} {record.outcome}: " + "; ".join(problems))


def failover(
    stack: str = PrimaryStackOption,
    standby_stack: Optional[str] = StandbyStackOption,
    reason: str = ReasonOption,
    dry_run: bool = DryRunOption,
    force: bool = typer.Option(False, "--force", help="Fail over although the primary database looks healthy."),
    accept_data_loss: bool = typer.Option(False, "--accept-data-loss", help="Promote although ReplicaLag exceeds the "
                                          "RPO or is unknown; the reason is recorded."),
    url: Optional[str] = UrlOption,
    backend: str = common.BackendOption,
    outputs_file: Optional[Path] = PrimaryOutputsOption,
    standby_outputs: Optional[Path] = StandbyOutputsOption,
    out: Optional[Path] = common.OutDirOption,
    as_json: bool = JsonOption,
) -> None:
    """Promote the DR replica and move the app to the standby stack; resumable, never touches the old primary."""
    waits = _waits()  # a bad $SCRAPER_OPS_WAIT_DELAY_SECONDS is refused before anything is read

    def build(aws, primary, standby, runner):
        from automation.dr_record import Options
        from automation.failover import Failover

        options = Options(reason=reason, force=force, accept_data_loss=accept_data_loss, dry_run=dry_run,
                          smoke_url=url)
        return Failover(aws, primary, standby, runner, options, waits=waits, say=common.progress)

    _run("failover", stack, standby_stack, reason, dry_run, backend, outputs_file, standby_outputs, out, as_json,
         build)


def failback(
    stack: str = typer.Option(..., "--stack", help="The primary stack whose region is taken back."),
    standby_stack: Optional[str] = StandbyStackOption,
    reason: str = ReasonOption,
    switch: bool = typer.Option(False, "--switch", help="After the catch-up, switch back (in a maintenance window)."),
    force: bool = typer.Option(False, "--force", help="Switch back outside the maintenance window."),
    dry_run: bool = DryRunOption,
    backend: str = common.BackendOption,
    outputs_file: Optional[Path] = PrimaryOutputsOption,
    standby_outputs: Optional[Path] = StandbyOutputsOption,
    out: Optional[Path] = common.OutDirOption,
    as_json: bool = JsonOption,
) -> None:
    """Replicate the promoted instance back to the original region, wait for it to catch up, then switch back."""
    waits = _waits()  # a bad $SCRAPER_OPS_WAIT_DELAY_SECONDS is refused before anything is read

    def build(aws, primary, standby, runner):
        from automation.dr_record import Options
        from automation.failback import Failback

        options = Options(reason=reason, force=force, dry_run=dry_run)
        return Failback(aws, primary, standby, runner, options, waits=waits, say=common.progress, switch=switch)

    _run("failback", stack, standby_stack, reason, dry_run, backend, outputs_file, standby_outputs, out, as_json,
         build)


def _waits():
    """$SCRAPER_OPS_WAIT_DELAY_SECONDS shortens the polling, checked as for the backup commands."""
    from automation.dr_record import Waits

    delay = common.wait_delay_seconds()
    return Waits() if delay is None else Waits(delay_seconds=delay)


dr_app = typer.Typer(help="Disaster recovery.", no_args_is_help=True)


@dr_app.command("test")
def dr_test(
    replication_timeout: Optional[float] = typer.Option(
        None, "--replication-timeout", min=1, help="Seconds to wait for the sentinel (default: the RPO)."
    ),
    poll_interval: float = typer.Option(
        1.0, "--poll-interval", min=0.1, max=60, help="Seconds between sentinel checks: the replication time's resolution."
    ),
    out: Optional[Path] = common.OutDirOption,
    as_json: bool = common.JsonOption,
    stack: Optional[str] = common.OpsStackOption,
    outputs_file: Optional[Path] = common.OutputsOption,
    backend: str = common.BackendOption,
) -> None:
    """The monthly DR drill: replica lag, bucket replication with a sentinel, a timed restore; RPO and RTO measured."""
    from automation import dr as dr_job
    from automation.aws import aws_errors
    from automation.reports import utcnow

    outputs, aws = common.ops_context(stack, outputs_file, backend)
    now = utcnow()
    with aws_errors():
        result = dr_job.run_dr_test(aws, outputs, now, common.wait_policy(), replication_timeout,
                                    dr_job.Polling(poll_interval, observe=common.waits))
        document = result.to_json(outputs)
        summary = [result.rpo_line(outputs.objectives.rpoMinutes * 60),
                   f"RTO target {outputs.objectives.rtoMinutes * 60} s, measured {_seconds(result.measured_rto_seconds)}",
                   *result.cleanup]
        report = common.check_report("dr", "Disaster recovery test", outputs.stack, result.ok, document, now,
                                     result.checks, summary)
        written = common.write_report(report, ("md", "json"), out, aws.client("s3"), outputs.opsBucket)
    common.emit(as_json, document, common.checks_table("Disaster recovery test", result.checks),
                [*summary, f"written: {', '.join(written)}"])
    if not result.ok:
        raise CheckFailed("disaster recovery test failed: " + "; ".join(c.name for c in result.checks if not c.ok))


def _seconds(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.0f} s"


dr_app.command("failover")(failover)
dr_app.command("failback")(failback)
