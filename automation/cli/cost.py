"""`scraper-ops cost review|estimate|prices refresh`: cost reviews, plan estimates and the price table."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from automation.aws import Aws, aws_errors
from automation.cli.common import (
    BackendOption,
    FormatOption,
    JsonOption,
    OutDirOption,
    OutputsOption,
    emit,
    num,
    print_report,
    report_formats,
    sized_outputs,
    stack_config,
    stdout,
    write_report,
)
from automation.console import Table
from automation.errors import BadInput, CheckFailed, MissingEnvironment
from automation.reports import Table as ReportTable
from automation.reports import utcnow

cost_app = typer.Typer(help="Cost reviews and estimates.", no_args_is_help=True)


@cost_app.command("review")
def cost_review(
    stack: Optional[str] = typer.Option(None, "--stack", help="Read the stack's outputs through the stack runner."),
    months: int = typer.Option(3, "--months", min=1, max=12, help="Full months to review before this one."),
    formats: list[str] = FormatOption,
    out: Optional[Path] = OutDirOption,
    outputs_file: Optional[Path] = OutputsOption,
    backend: str = BackendOption,
) -> None:
    """Cost by service and by cost tag, month over month, forecast, cost per 1,000 scrapes; exit 1 over budget."""
    from automation import capacity as capacity_job
    from automation import cost as cost_job
    chosen = report_formats(formats)
    outputs, aws = sized_outputs(stack, outputs_file, backend)
    now = utcnow()
    with aws_errors():
        capacity = capacity_job.build_report(aws.client("cloudwatch"), outputs, outputs.sizing, 30, now)
        savings = cost_job.savings_of_capacity(outputs, capacity)
        result = cost_job.review(aws.client("ce", "us-east-1"), aws.client("cloudwatch"), outputs,
                                 outputs.sizing.monthlyBudgetUsd, months, now.date(), savings)
        report = cost_job.review_report(result, outputs.stack, now, bool({"md", "html"} & set(chosen)))
        written = write_report(report, chosen, out, aws.client("s3"), outputs.opsBucket)
    print_report(report, [_terminal_table(table) for table in report.tables], written)
    if result.over_budget:
        raise CheckFailed("over budget: " + "; ".join(result.over_budget))


def _terminal_table(table: ReportTable) -> Table:
    shown = Table(title=table.title)
    for column in table.columns:
        shown.add_column(str(column))
    for row in table.rows:
        shown.add_row(*(num(v) if isinstance(v, float) or v is None else str(v) for v in row))
    return shown


@cost_app.command("estimate")
def cost_estimate(
    stack: str = typer.Option("prod", "--stack", help="Price the offline plan of this stack."),
    plan_file: Optional[Path] = typer.Option(None, "--plan", help="Price a saved plan instead of planning the stack."),
    against: Optional[Path] = typer.Option(None, "--against", help="An earlier plan JSON: show the cost difference."),
    as_json: bool = JsonOption,
) -> None:
    """Monthly cost of the planned resources, every unpriced one with why; exit 3 when a fixed cost has no price."""
    from automation import cost as cost_job
    from automation import plan as planning
    from automation import policy_check
    current = policy_check.load_plan(plan_file) if plan_file else planning.offline_plan(stack)
    priced = cost_job.estimate(current)
    earlier = cost_job.estimate(policy_check.load_plan(against)) if against is not None else None
    document: dict = {"estimate": priced}
    if earlier is not None:
        document["diff"] = cost_job.estimate_diff(earlier, priced)
    table = Table(title=f"Monthly estimate of {priced['stack']}: {priced['totalMonthlyUsd']:,.2f} USD "
                        f"(prices of {priced['prices']['date']})")
    for column in ("component", "resource", "type", "region", "USD/month", "basis"):
        table.add_column(column)
    for line in sorted(priced["resources"], key=lambda l: (l["component"], -l["monthlyUsd"])):
        table.add_row(line["component"], line["name"], line["type"].rsplit(":", 1)[-1], line["region"] or "-",
                      f"{line['monthlyUsd']:,.2f}", line["basis"])
    free_types = sorted({line["type"].rsplit(":", 1)[-1] for line in priced["free"]})
    lines = ["by component: " + ", ".join(f"{c} {v:,.2f}" for c, v in sorted(priced["byComponent"].items())),
             f"prices: {priced['prices']['origin']}, dated {priced['prices']['date']} ({priced['prices']['source']})",
             *[f"{'NOT PRICED (fixed cost)' if u['fixedCost'] else 'not estimated'}: {u['name']} "
               f"({u['type'].rsplit(':', 1)[-1]}): {u['why']}" for u in priced["unpriced"]],
             f"no charge of their own: {len(priced['free'])} resources ({', '.join(free_types)})"]
    if "diff" in document:
        diff = document["diff"]
        lines.append(f"against {against}: {diff['fromUsd']:,.2f} -> {diff['toUsd']:,.2f} USD/month "
                     f"({diff['changeUsd']:+,.2f})")
        lines += [f"  {c['name']}: {c['fromUsd']:,.2f} -> {c['toUsd']:,.2f} ({c['changeUsd']:+,.2f}) {c['basis']}"
                  for c in diff["changes"]]
    emit(as_json, document, table, lines)
    missing = [f"{u['name']} ({u['why']})" for e in (priced, earlier) if e for u in e["unpriced"] if u["fixedCost"]]
    if missing:
        raise MissingEnvironment(f"estimate incomplete, {len(missing)} fixed cost(s) without a price: " + "; ".join(missing))


prices_app = typer.Typer(help="The price table of `cost estimate`.", no_args_is_help=True)
cost_app.add_typer(prices_app, name="prices")


@prices_app.command("refresh")
def cost_prices_refresh(
    stack: str = typer.Option("prod", "--stack", help="Fetch the prices of this stack's region and DR region."),
    regions: list[str] = typer.Option([], "--region", help="Another region to fetch prices for (repeatable)."),
) -> None:
    """Fetch on-demand prices from the AWS Price List Query API and cache them in the project (needs credentials)."""
    from automation import prices
    from automation.runner import OfflineRunner
    from infra.config import aws_regions
    unknown = [region for region in regions if region not in aws_regions()]
    if unknown:
        raise BadInput(f"--region {unknown[0]} is not an AWS region; expected one of {', '.join(sorted(aws_regions()))}")
    config = stack_config(OfflineRunner(stack))
    chosen = list(dict.fromkeys([config.region, config.dr_region, *regions]))
    with aws_errors():
        table = prices.fetch(Aws(config.region, config.dr_region).client("pricing", prices.PRICING_REGION), chosen,
                             utcnow().date())
    path = prices.write_cache(table)
    for region, regional in table["regions"].items():
        stdout.print(f"{region}: {len(regional['rdsInstanceHour'])} database classes, "
                     f"{len(regional['ec2InstanceHour'])} EC2 instance types", markup=False, highlight=False)
    stdout.print(f"prices dated {table['date']} from the {table['source']}: cached in {path}", markup=False,
                 highlight=False)
