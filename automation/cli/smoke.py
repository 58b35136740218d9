"""`scraper-ops smoke`: the guide's smoke tests, with their latency, published to CloudWatch."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from automation.aws import aws_errors
from automation.cli.common import (
    BackendOption,
    JsonOption,
    OpsStackOption,
    OutputsOption,
    check_url,
    emit,
    mark,
    ops_context,
    stderr,
)
from automation.console import Table
from automation.errors import BadInput, CheckFailed, OpsError


def smoke(
    suite: str = typer.Argument("all", help="all, health, api or scrapers"),
    url: Optional[str] = typer.Option(None, "--url", help="Base URL of the app (default: the serviceUrl output)."),
    no_publish: bool = typer.Option(False, "--no-publish", help="Do not publish the result to CloudWatch."),
    timeout: float = typer.Option(5.0, "--timeout", min=0.1, max=60, help="Seconds per request."),
    retries: int = typer.Option(2, "--retries", min=0, max=5, help="Retries on connection errors, timeouts, 5xx."),
    as_json: bool = JsonOption,
    stack: Optional[str] = OpsStackOption,
    outputs_file: Optional[Path] = OutputsOption,
    backend: str = BackendOption,
) -> None:
    """The guide's smoke tests: health, readiness, an API round trip and scraper status, with latency."""
    from automation import smoke as smoke_checks
    if suite not in smoke_checks.SUITES:
        raise BadInput(f"unknown smoke suite {suite!r}; use one of: {', '.join(smoke_checks.SUITES)}")
    check_url(url)
    outputs, aws = ops_context(stack, outputs_file, backend)
    result = smoke_checks.run_smoke(url or outputs.serviceUrl, outputs.smokeChecks, suite,
                                    outputs.objectives.latencyP95Seconds, timeout=timeout, retries=retries)
    published = "not published"
    if not no_publish:
        try:
            with aws_errors():
                smoke_checks.publish(aws.client("cloudwatch"), outputs.metricsNamespace, outputs.stack, result)
            published = "published to CloudWatch"
        except OpsError as error:  # the verdict stands; only its publication failed
            published = "not published: see the warning"
            stderr.print(f"warning: the smoke result was not published to CloudWatch: {error}",
                         markup=False, highlight=False)
    table = Table(title=f"Smoke tests ({suite}) against {result.base_url}")
    for column in ("", "check", "status", "latency", "attempts", "detail"):
        table.add_column(column)
    for check in result.checks:
        latency = f"{check.latency_seconds * 1000:.0f} ms" if check.latency_seconds is not None else "-"
        table.add_row(mark(check.ok), check.name, str(check.status or "-"), latency, str(check.attempts), check.detail)
    p95 = f"{result.p95_seconds * 1000:.0f} ms" if result.p95_seconds is not None else "n/a"
    emit(as_json, result.to_json(), table,
          [f"p95 latency {p95} (objective {result.objective_seconds:g} s); "
           + published])
    if not result.ok:
        raise CheckFailed("smoke tests failed: " + "; ".join(result.problems))
