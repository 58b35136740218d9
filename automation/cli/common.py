"""What the command modules share: the consoles, the common options, their checks, and the rendering helpers.

Light on purpose (typer, rich and the project's own small modules): every command imports it, `--help` too.
"""

from __future__ import annotations

import json
import os
import sys
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Optional

import typer

from automation import reports
from automation.aws import Aws
from automation.console import OpsConsole, Table, WaitReporter
from automation.errors import BadInput
from automation.reports import FORMATS, Report, Verdict
from automation.reports import Table as ReportTable

if TYPE_CHECKING:
    from automation.backup import WaitPolicy
    from contract.outputs import Maintenance, StackOutputs
    from infra.config import StackConfig

stdout = OpsConsole()
stderr = OpsConsole(stderr=True)
waits = WaitReporter(stderr)  # long waits: a live line on a terminal, a line a minute in pipes and CI


def write_report(report: Report, formats: tuple[str, ...], out: Optional[Path], s3, bucket: str,
                 basename: str | None = None) -> list[str]:
    """Every local file first, then the ops bucket: a failed upload is a warning naming the local files."""
    written = reports.write_report(report, formats, out, s3, bucket, basename=basename)
    if written.upload_failure:
        stderr.print(f"warning: {written.upload_failure}", markup=False, highlight=False)
    return written


def check_url(url: str | None) -> None:
    from urllib.parse import urlsplit

    if url is None:
        return
    try:
        parts = urlsplit(url)
        usable = parts.scheme in ("http", "https") and bool(parts.hostname) and (parts.port or 1) > 0
    except ValueError:
        usable = False
    if not usable or any(c.isspace() for c in url):
        raise BadInput(f"--url {url!r}: not an http(s) URL with a host; give one like https://scraper.example.com")


StackOption = typer.Option("prod", "--stack", help="Pulumi stack name (reads Pulumi.<stack>.yaml).")
OutputsOption = typer.Option(
    None, "--outputs", help="Stack outputs JSON (`pulumi stack output --json`); default: $SCRAPER_OPS_OUTPUTS."
)
OpsStackOption = typer.Option(None, "--stack", help="Read the outputs of this stack through the stack runner.")
BackendOption = typer.Option("pulumi", "--backend", help="Stack runner backend: pulumi or offline.")
JsonOption = typer.Option(False, "--json", help="Print the result as JSON.")


def _out_dir(out: Optional[Path]) -> Optional[Path]:
    """Checked before any work, so that a job's record always has somewhere to go."""
    if out is not None:
        reports.check_output_dir(out, "--out")
    else:
        reports.check_output_dir(reports.default_report_dir(), f"${reports.REPORT_DIR_ENV} (or the default)")
    return out


OutDirOption = typer.Option(None, "--out", callback=_out_dir,
                            help="Directory for local report files (default $SCRAPER_OPS_REPORT_DIR or reports/).")


def ops_context(stack: Optional[str], outputs_file: Optional[Path], backend: str) -> tuple[StackOutputs, Aws]:
    from automation.outputs import resolve_outputs
    outputs = resolve_outputs(outputs_file, stack, backend)
    return outputs, Aws(outputs.region, outputs.drRegion)


def emit(as_json: bool, document: dict, table: Table | None, lines: list[str] = ()) -> None:
    if as_json:
        sys.stdout.write(json.dumps(document, indent=2, default=str) + "\n")
        return
    for line in lines:
        stdout.print(line, markup=False, highlight=False)
    if table is not None:
        stdout.print(table)


def mark(ok: bool | None) -> str:
    return {True: "✓", False: "✗", None: "-"}[ok]


def wait_delay_seconds() -> int | None:
    """$SCRAPER_OPS_WAIT_DELAY_SECONDS: the polling delay of the commands that wait for AWS (backups, DR), or None
    for each wait's own default."""
    delay = os.environ.get("SCRAPER_OPS_WAIT_DELAY_SECONDS")
    if not delay:
        return None
    if not delay.isdigit() or int(delay) < 1:
        raise BadInput(f"SCRAPER_OPS_WAIT_DELAY_SECONDS={delay!r}: must be a whole number of seconds, 1 or more")
    return int(delay)


def wait_policy() -> WaitPolicy:
    from automation.backup import WaitPolicy
    delay = wait_delay_seconds()
    return WaitPolicy(observe=waits) if delay is None else WaitPolicy(delay_seconds=delay, observe=waits)


def check_report(kind: str, title: str, stack: str, ok: bool, data: dict, created: datetime, checks: list,
                 summary: list[str] | None = None) -> Report:
    """The report of a check job (each check has a name, ok and evidence): its verdict block names each failed
    check, critical (none when all passed: the outcome says so), and its table lists every check."""
    return Report(kind, title, stack, ok, data, created=created, summary=summary or [],
                  verdicts=[Verdict("critical", f"{c.name} failed: {c.evidence}") for c in checks if not c.ok],
                  tables=[ReportTable("Checks", ("check", "ok", "evidence"),
                                      [(c.name, mark(c.ok), c.evidence) for c in checks])])


def checks_table(title: str, checks: list) -> Table:
    """A check job's checks on the terminal: a mark, the check, its evidence."""
    table = Table(title=title)
    for column in ("", "check", "evidence"):
        table.add_column(column)
    for check in checks:
        table.add_row(mark(check.ok), check.name, check.evidence)
    return table


def stack_config(runner) -> StackConfig:
    return parsed_config(runner.stack_name, runner.get_config())


def parsed_config(stack: str, raw: dict[str, str]) -> StackConfig:
    from automation.stack_files import invalid_config
    from infra.config import ConfigError, parse_stack_config
    try:
        return parse_stack_config(raw)
    except ConfigError as error:
        raise invalid_config(stack, error) from None


def window_model(config: StackConfig) -> Maintenance:
    from contract.outputs import Maintenance
    window = config.maintenance
    return Maintenance(windowStart=window.window_start, durationMinutes=window.duration_minutes,
                       cutoffMinutes=window.cutoff_minutes)


def progress(line: str) -> None:
    stderr.print(line, markup=False, highlight=False)


def check_image_option(image: str | None) -> None:
    """The same rule as the stack config's `app.image`: pinned by digest, so what is tested is what runs."""
    from infra.config import check_pinned_image

    if image is None:
        return
    try:
        check_pinned_image(image)
    except ValueError as error:
        raise BadInput(f"--image {image!r}: {error}") from None


FormatOption = typer.Option(list(FORMATS), "--format", help="Report format: md, html or json (repeatable).")


def report_formats(formats: list[str]) -> tuple[str, ...]:
    unknown = [f for f in formats if f not in FORMATS]
    if unknown:
        raise BadInput(f"unknown report format {', '.join(unknown)}; use md, html or json")
    return tuple(dict.fromkeys(formats))


def sized_outputs(stack: Optional[str], outputs_file: Optional[Path], backend: str) -> tuple[StackOutputs, Aws]:
    """The stack's outputs (--outputs, --stack, or the in-cluster mount) with the `sizing` the reports measure
    against: no stack file needed, so the ops image's CronJobs run the reports from the mounted outputs alone."""
    outputs, aws = ops_context(stack, outputs_file, backend)
    if outputs.sizing is None:
        raise BadInput(f"the outputs of stack {outputs.stack} have no `sizing` (a stack updated before the reports "
                       "read it from the outputs): run `pulumi up` on the stack, then try again")
    return outputs, aws


def print_report(report: Report, tables: list[Table], written: list[str]) -> None:
    """A report on the terminal as its files open: the verdict block (most urgent first), the tables, the summary
    and footer, and where it was written."""
    stdout.print(f"Verdict: {report.outcome}", markup=False, highlight=False)
    for verdict in report.findings:
        stdout.print(f"  {verdict.severity.upper():8} {verdict.text}", markup=False, highlight=False)
    for table in tables:
        stdout.print(table)
    for line in [*report.summary, *report.footer, f"written: {', '.join(written)}"]:
        stdout.print(line, markup=False, highlight=False)


def num(value: Optional[float]) -> str:
    return "-" if value is None else f"{value:,.2f}"

