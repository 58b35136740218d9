"""`scraper-ops metrics collect`: the guide's operational metrics and KPIs from CloudWatch."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from automation.aws import aws_errors
from automation.cli.common import (
    BackendOption,
    JsonOption,
    OpsStackOption,
    OutDirOption,
    OutputsOption,
    emit,
    mark,
    ops_context,
    write_report,
)
from automation.console import Table
from automation.errors import CheckFailed
from automation.reports import Report, utcnow

metrics_app = typer.Typer(help="Operational metrics.", no_args_is_help=True)


@metrics_app.command("collect")
def metrics_collect(
    hours: int = typer.Option(24, "--hours", min=1, max=24 * 31, help="Window, in hours, ending now."),
    out: Optional[Path] = OutDirOption,
    as_json: bool = JsonOption,
    stack: Optional[str] = OpsStackOption,
    outputs_file: Optional[Path] = OutputsOption,
    backend: str = BackendOption,
) -> None:
    """The guide's operational metrics and KPIs from CloudWatch; exit 1 when an objective is missed."""
    from automation import metrics as metrics_job
    from automation.backup import newest_backup
    outputs, aws = ops_context(stack, outputs_file, backend)
    now = utcnow()
    with aws_errors():
        newest = newest_backup(aws.client("rds"), outputs.dbInstanceId)
        age = (now - newest["SnapshotCreateTime"]).total_seconds() / 3600 if newest else None
        cloudwatch = aws.client("cloudwatch")
        if age is not None:
            metrics_job.publish_backup_age(cloudwatch, outputs, age)
        data, verdicts = metrics_job.collect(cloudwatch, outputs, hours, now, age)
        missed = [o for o in verdicts if not o.met]
        report = Report("metrics", "Operational metrics", outputs.stack, not missed, data)
        written = write_report(report, ("json",), out, aws.client("s3"), outputs.opsBucket,
                               basename=f"operational-metrics-{now:%Y%m%d}")
    table = Table(title=f"Operational metrics, last {hours} h")
    for column in ("", "metric", "value", "objective"):
        table.add_column(column)
    targets = {o.name: o for o in verdicts}
    from automation.slo import summary
    for key, value in {**data, **summary(data)}.items():
        if key in ("timestamp", "window_hours", "objectives") or isinstance(value, dict):
            continue
        objective = targets.get(key)
        table.add_row(mark(objective.met if objective else None), key,
                      "no data" if value is None else f"{value:,.3f}", f"{objective.target:g}" if objective else "")
    emit(as_json, data, table, [f"written: {', '.join(written)}"])
    if missed:
        raise CheckFailed("objectives missed: " + ", ".join(
            f"{o.name} {'no data' if o.value is None else f'{o.value:.3f}'} (target {o.target:g})" for o in missed))
