"""`scraper-ops capacity report`: usage against the thresholds, trends, rightsizing."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from automation.aws import aws_errors
from automation.cli.common import (
    BackendOption,
    FormatOption,
    OutDirOption,
    OutputsOption,
    num,
    print_report,
    report_formats,
    sized_outputs,
    write_report,
)
from automation.console import Table
from automation.errors import CheckFailed
from automation.reports import utcnow

capacity_app = typer.Typer(help="Capacity planning.", no_args_is_help=True)


@capacity_app.command("report")
def capacity_report(
    stack: Optional[str] = typer.Option(None, "--stack", help="Read the stack's outputs through the stack runner."),
    days: int = typer.Option(30, "--days", min=2, max=455, help="Window in days, ending now."),
    formats: list[str] = FormatOption,
    out: Optional[Path] = OutDirOption,
    outputs_file: Optional[Path] = OutputsOption,
    backend: str = BackendOption,
) -> None:
    """Usage percentiles, trends and days to each threshold, time at HPA max, triggers, rightsizing, charts."""
    from automation import capacity as capacity_job
    from automation import cost as cost_job
    chosen = report_formats(formats)
    outputs, aws = sized_outputs(stack, outputs_file, backend)
    now = utcnow()
    with aws_errors():
        result = capacity_job.build_report(aws.client("cloudwatch"), outputs, outputs.sizing, days, now)
        report = capacity_job.report_of(result, outputs.stack, now, cost_job.savings_of_capacity(outputs, result),
                                        bool({"md", "html"} & set(chosen)))
        written = write_report(report, chosen, out, aws.client("s3"), outputs.opsBucket)
    table = Table(title=report.title)
    for column in ("metric", "p50", "p95", "max", "trend/day", "threshold", "reaches threshold"):
        table.add_column(column)
    for title, unit, p50, p95, peak, slope, threshold, reached in capacity_job.threshold_table(result, now):
        table.add_row(f"{title} ({unit})", *(num(v) for v in (p50, p95, peak, slope, threshold)), reached)
    print_report(report, [table], written)
    critical = [v.text for v in report.findings if v.severity == "critical"]
    if critical:
        raise CheckFailed("capacity critical: " + "; ".join(critical))

