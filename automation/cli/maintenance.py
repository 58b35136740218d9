"""`scraper-ops maintenance next|run|unlock|rehearse`: the monthly maintenance window."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from automation.aws import Aws, aws_errors
from automation.cli.common import (
    BackendOption,
    JsonOption,
    OpsStackOption,
    OutDirOption,
    OutputsOption,
    StackOption,
    check_image_option,
    check_url,
    emit,
    ops_context,
    parsed_config,
    progress,
    stack_config,
    wait_policy,
    window_model,
    write_report,
)
from automation.cli.release import gate_for_maintenance, window_already_maintained
from automation.console import Table, table_of
from automation.errors import BadInput, CheckFailed
from automation.reports import utcnow

maintenance_app = typer.Typer(help="The monthly maintenance window.", no_args_is_help=True)


@maintenance_app.command("next")
def maintenance_next(
    count: int = typer.Option(3, "--count", min=1, max=24, help="How many windows."),
    stack: str = StackOption,
    as_json: bool = JsonOption,
) -> None:
    """The next maintenance windows of a stack, in UTC and in local time, how long until each, and the cutoff."""
    from automation.stack_files import project_dir, read_stack_file
    from automation.windows import STEP_BUDGET_MINUTES, next_windows
    config = parsed_config(stack, read_stack_file(stack, project_dir()))
    now = utcnow()
    windows = next_windows(window_model(config), now, count)
    table = Table(title=f"Next maintenance windows of {stack}")
    for column in ("start (UTC)", "starts in", "end (UTC)", "cutoff (UTC)", "start (local)"):
        table.add_column(column)
    for w in windows:
        table.add_row(f"{w.start:%a %Y-%m-%d %H:%M}", _time_until((w.start - now).total_seconds()), f"{w.end:%H:%M}",
                      f"{w.cutoff:%H:%M}", f"{w.start.astimezone():%a %Y-%m-%d %H:%M %Z}")
    budgets = STEP_BUDGET_MINUTES
    cutoff = (f"cutoff = the window's end minus {config.maintenance.cutoff_minutes} min: a run starts no step that "
              "could not end before it (" + ", ".join(f"{step} {minutes} min" for step, minutes in budgets.items())
              + "); it stops instead, re-arms the alarms and announces the end")
    emit(as_json, {"windows": [{"start": w.start.isoformat(), "end": w.end.isoformat(), "cutoff": w.cutoff.isoformat(),
                                 "startLocal": w.start.astimezone().isoformat(),
                                 "startsInSeconds": int((w.start - now).total_seconds())} for w in windows],
                    "cutoff": cutoff}, table,
          [f"the next window of {stack} starts in {_time_until((windows[0].start - now).total_seconds())}", cutoff])


def _time_until(seconds: float) -> str:
    """`6 d 23 h 40 min`: a wait in the units an SRE plans with (the hours and minutes when under a day)."""
    minutes = max(0, int(seconds // 60))
    parts = [(minutes // 1440, "d"), (minutes % 1440 // 60, "h"), (minutes % 60, "min")]
    return " ".join(f"{n} {unit}" for n, unit in parts if n) or "under a minute"


@maintenance_app.command("run")
def maintenance_run(
    stack: str = typer.Option(..., "--stack", help="The stack to maintain."),
    image: Optional[str] = typer.Option(None, "--image", help="Deploy this app image, pinned by digest: repo:tag@sha256:<digest>."),
    backend: str = BackendOption,
    force: bool = typer.Option(False, "--force", help="Run outside the window (emergency maintenance); needs --reason."),
    reason: str = typer.Option("", "--reason", help="Why: in the notices, the audit message and the record."),
    allow_replace: list[str] = typer.Option([], "--allow-replace", help="Logical name of a stateful resource that may be replaced (unprotected after the backup; needs --reason)."),
    url: Optional[str] = typer.Option(None, "--url", help="Smoke-test this base URL instead of the serviceUrl output."),
    outputs_file: Optional[Path] = OutputsOption,
    out: Optional[Path] = OutDirOption,
    as_json: bool = JsonOption,
    scheduled: bool = typer.Option(False, "--scheduled", help="The weekly trigger: outside the window, exit 0 and do nothing."),
) -> None:
    """The maintenance window: lock, notice, backup, preview, update, smoke test, rollback on failure, record."""
    from automation import maintenance as maintenance_job
    from automation.outputs import outputs_of
    from automation.runner import stack_runner
    from automation.windows import current_window, next_windows
    if force and not reason.strip():
        raise BadInput("--force needs --reason TEXT: emergency maintenance must say why")
    if allow_replace and not reason.strip():
        raise BadInput("--allow-replace needs --reason TEXT: a protected resource is unprotected for its replacement "
                       "only with the reason in the maintenance record")
    if scheduled and force:
        raise BadInput("--scheduled and --force exclude each other: the trigger runs only in the window")
    check_image_option(image)
    check_url(url)
    runner = stack_runner(stack, backend, on_event=progress)
    config = stack_config(runner)
    if scheduled and current_window(window_model(config), utcnow()) is None:
        upcoming = next_windows(window_model(config), utcnow(), 1)[0]
        emit(as_json, {"outcome": "not the window", "nextWindow": upcoming.start.isoformat()}, None,
              [f"not the maintenance window of {stack}; the next one starts {upcoming.start:%Y-%m-%d %H:%M} UTC. "
               "Nothing was done."])
        return
    outputs = outputs_of(outputs_file, runner)
    aws = Aws(outputs.region, outputs.drRegion)
    if scheduled and window_already_maintained(outputs, aws, window_model(config), utcnow()):
        emit(as_json, {"outcome": "window already maintained"}, None,
              [f"this window of {stack} already has a maintenance record; nothing was done"])
        return
    gate = gate_for_maintenance(config, stack, outputs, aws, image or config.app.image, force, reason)
    run = maintenance_job.MaintenanceRun(
        runner, aws, outputs, window_model(config), config.app.image,
        maintenance_job.Options(image=image, force=force, reason=reason, allow_replace=tuple(allow_replace),
                                smoke_url=url, release_gate=gate),
        wait=wait_policy(), say=progress,
    )
    with aws_errors():
        try:
            record = run.run()
        except maintenance_job.Aborted as error:
            raise CheckFailed(str(error)) from None
        written = write_report(record.report(utcnow()), ("json", "md"), out, aws.client("s3"), outputs.opsBucket,
                               basename=f"maintenance-{record.run_id}")
    table = Table(title=f"Maintenance {record.run_id} of {stack} ({backend} backend): {record.outcome}")
    for column in ("step", "outcome", "detail"):
        table.add_column(column)
    for step in record.steps:
        table.add_row(step.name, step.outcome, step.detail)
    lines = [f"written: {', '.join(written)}"]
    if backend == "offline":
        lines.insert(0, "offline backend: the update was recorded under .scraper-ops/, nothing was deployed")
    emit(as_json, record.to_json(), table, lines)
    if record.outcome != "succeeded" or record.problems:
        raise CheckFailed(f"maintenance {record.outcome}: " + "; ".join(record.problems))


@maintenance_app.command("unlock")
def maintenance_unlock(
    reason: str = typer.Option("", "--reason", help="Why: in the record, the notice and the lock's history."),
    out: Optional[Path] = OutDirOption,
    as_json: bool = JsonOption,
    stack: Optional[str] = OpsStackOption,
    outputs_file: Optional[Path] = OutputsOption,
    backend: str = BackendOption,
) -> None:
    """Remove the maintenance lock (a run that died holding it) and re-arm the alarms it left silenced."""
    from automation import maintenance as maintenance_job
    if not reason.strip():
        raise BadInput("maintenance unlock needs --reason TEXT: removing a lock is recorded with why")
    outputs, aws = ops_context(stack, outputs_file, backend)
    with aws_errors():
        result = maintenance_job.unlock(aws, outputs, reason, utcnow())
        record = result.report()
        written = write_report(record, ("json", "md"), out, aws.client("s3"), outputs.opsBucket,
                               basename=f"unlock-{record.stamp}")
    emit(as_json, result.to_json(), None, [*result.summary(), f"written: {', '.join(written)}"])


@maintenance_app.command("rehearse")
def maintenance_rehearse(
    stack: str = typer.Option(..., "--stack", help="The stack to rehearse."),
    image: Optional[str] = typer.Option(None, "--image", help="Rehearse deploying this image (repo:tag@sha256:<digest>)."),
    backend: str = BackendOption,
    as_json: bool = JsonOption,
) -> None:
    """Everything up to the preview, nothing changed: no lock kept, no backup, no update."""
    from automation import maintenance as maintenance_job
    from automation.runner import is_change_event, stack_runner
    check_image_option(image)
    # Each resource step is a row of the table below: only the engine's warnings and errors stream while it runs.
    runner = stack_runner(stack, backend, on_event=lambda line: None if is_change_event(line) else progress(line))
    config = stack_config(runner)
    result = maintenance_job.rehearse(runner, window_model(config), config.app.image, image, utcnow())
    table = table_of(f"Rehearsal of maintenance on {stack} ({backend} backend): changes the update would make",
                     ("op", "type", "name", "changed keys"),
                     [(c["op"], c["type"], c["name"], ", ".join(c["keys"])) for c in result["preview"]["changes"]])
    counts = result["preview"]["counts"]
    lines = [", ".join(f"{counts.get(op, 0)} {op}" for op in ("create", "update", "replace", "delete"))
             + f" ({counts.get('same', 0)} unchanged)",
             f"{'in' if result['inWindow'] else 'outside'} the maintenance window; next window {result['nextWindow']}",
             "steps a run would take:", *[f"  {i}. {step}" for i, step in enumerate(result["steps"], 1)]]
    if result["drift"]:
        lines.append("drift between the state and the cloud (a refresh would change): "
                     + ", ".join(f"{n} to {op}" for op, n in result["drift"].items()))
    if result["wouldStop"]:
        lines.append("the run would STOP at the preview: " + "; ".join(result["wouldStop"]))
    if backend == "offline":
        lines.insert(0, "offline backend: nothing is deployed")
    emit(as_json, result, table, lines)
