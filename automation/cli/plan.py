"""`scraper-ops plan` and `policy check`: the offline plan, the policy pack and the AWS-model stage."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Optional

import typer
from rich.console import Console
from rich.markup import escape

from automation import reports
from automation.cli.common import StackOption, stderr, stdout
from automation.console import Table
from automation.errors import CheckFailed

if TYPE_CHECKING:
    from automation import aws_model, policy_check
    from automation import plan as planning

PolicyConfigOption = typer.Option(
    None, "--policy-config", help="Policy pack config JSON, as for `pulumi preview --policy-pack-config`."
)


def plan(
    stack: str = StackOption,
    as_json: bool = typer.Option(False, "--json", help="Print the plan as one JSON document."),
    manifests: Optional[Path] = typer.Option(
        None, "--manifests", help="Write every Kubernetes object as YAML here, validated in strict mode."
    ),
    policy_config: Optional[Path] = PolicyConfigOption,
) -> None:
    """Offline plan of a stack: run the program under the mock engine and the policy pack; nothing is deployed."""
    from automation import aws_model, policy_check
    from automation import plan as planning
    if manifests is not None:
        reports.check_output_dir(manifests, "--manifests")
    config = policy_check.load_policy_config(policy_config)
    result = planning.offline_plan(stack)
    violations = policy_check.evaluate(result, config)
    aws_report = aws_model.check_plan(result)
    checks = planning.check_manifests(result, result.config.cluster.kubernetes_version) if manifests else []
    invalid = [check for check in checks if check.errors]
    written = planning.write_manifests(checks, manifests) if manifests else []
    if as_json:
        sys.stdout.write(json.dumps({**result.to_json(), "awsModel": aws_report.to_json()}, indent=2) + "\n")
        _print_violations(stderr, violations, result)
        _print_aws_model(stderr, aws_report)
    else:
        _print_plan(result)
        _print_violations(stdout, violations, result)
        _print_aws_model(stdout, aws_report)
        if manifests and not invalid:
            stdout.print(f"Wrote {len(written)} Kubernetes manifests to {manifests}, all valid against "
                         f"Kubernetes {result.config.cluster.kubernetes_version} (strict).", markup=False)
    for check in invalid:
        for error in check.errors:
            stderr.print(f"invalid manifest {check.filename}: {error}", markup=False, highlight=False)
    failures = []
    if invalid:
        failures.append(f"{len(invalid)} of {len(checks)} Kubernetes manifests are invalid; none was written")
    mandatory = [v for v in violations if v.level == "mandatory"]
    if mandatory:
        failures.append(f"{len(mandatory)} mandatory policy violations")
    failures.extend(_aws_model_failures(aws_report))
    if failures:
        raise CheckFailed("; ".join(failures))


policy_app = typer.Typer(help="The CrossGuard policy pack, run offline.", no_args_is_help=True)


@policy_app.command("check")
def policy_check_command(
    plan_file: Path = typer.Option(..., "--plan", help="A plan saved with `scraper-ops plan --json`."),
    as_json: bool = typer.Option(False, "--json", help='Print {"violations": [...]} as JSON.'),
    policy_config: Optional[Path] = PolicyConfigOption,
) -> None:
    """Evaluate the policy pack over a saved plan; exit 1 on a mandatory violation."""
    from automation import aws_model, policy_check
    config = policy_check.load_policy_config(policy_config)
    saved = policy_check.load_plan(plan_file)
    violations = policy_check.evaluate(saved, config)
    aws_report = aws_model.check_plan(saved)
    if as_json:
        document = {"violations": [v.to_json() for v in violations], "awsModel": aws_report.to_json()}
        sys.stdout.write(json.dumps(document, indent=2) + "\n")
    else:
        _print_violations(stdout, violations, saved)
        _print_aws_model(stdout, aws_report)
    mandatory = [v for v in violations if v.level == "mandatory"]
    failures = [f"{len(mandatory)} mandatory policy violations"] if mandatory else []
    failures.extend(_aws_model_failures(aws_report))
    if failures:
        raise CheckFailed("; ".join(failures) + f" in {plan_file}")


def _aws_model_failures(report: aws_model.AwsModelReport) -> list[str]:
    failures = []
    if report.violations:
        failures.append(f"{len(report.violations)} AWS-model violations")
    if report.unmapped:
        failures.append(f"{len(report.unmapped)} AWS inputs or types the AWS-model stage cannot check")
    return failures


def _print_aws_model(console: Console, report: aws_model.AwsModelReport) -> None:
    console.print(
        f"AWS-model stage: {report.resources_checked} AWS resources checked, {len(report.requests)} API requests "
        f"validated against botocore's models: {len(report.violations)} violations, {len(report.unmapped)} unmapped "
        f"({report.seconds:.2f} s)."
    )
    if report.findings:
        table = Table(title="AWS-model findings")
        table.add_column("rule")
        for column in ("resource", "request", "message"):
            table.add_column(column, overflow="fold")
        for f in report.findings:
            where = f"{f.operation}.{f.member}" if f.member else f.operation
            table.add_row(f.rule, f.resource, where, f"{f.message} (see {f.doc})")
        console.print(table)


def _print_violations(console: Console, violations: list[policy_check.Violation], plan: planning.Plan) -> None:
    from automation.policy_check import POLICIES
    resources = sum(r.custom and not r.type.startswith("pulumi:providers:") for r in plan.resources)
    mandatory = sum(v.level == "mandatory" for v in violations)
    console.print(
        f"Policy pack: {len(POLICIES)} policies over {resources} resources: "
        f"{mandatory} mandatory, {len(violations) - mandatory} advisory violations."
    )
    if violations:
        table = Table(title="Policy violations")
        for column in ("level", "policy", "resource", "message"):
            table.add_column(column, overflow="fold")
        for v in violations:
            table.add_row(v.level, v.policy, (v.urn or "(stack)").rsplit("::", 1)[-1], v.message)
        console.print(table)


def _print_plan(result: planning.Plan) -> None:
    from automation.plan import summarize
    summary = summarize(result)
    stdout.print(
        f"[bold]Offline plan[/bold] of stack [bold]{escape(result.stack)}[/bold] (project {escape(result.project)}): "
        f"{summary['resources']} resources, nothing deployed."
    )
    providers = ", ".join(f"{name} ({region})" if region else name for name, region in summary["providers"])
    stdout.print(f"Providers: {providers}", markup=False)
    components = Table(title="Resources by component")
    for column in ("component", "type", "resources"):
        components.add_column(column, justify="right" if column == "resources" else "left")
    for component in summary["components"]:
        components.add_row(component.name, component.type, str(component.resources))
    stdout.print(components)
    types = Table(title="Resources by type")
    types.add_column("type")
    types.add_column("count", justify="right")
    for type_, count in sorted(summary["types"].items()):
        types.add_row(type_, str(count))
    stdout.print(types)
    settings = summary["settings"]
    if "hpa" in settings:
        hpa = settings["hpa"]
        targets = ", ".join(f"{name} {value}" for name, value in hpa["targets"].items())
        stdout.print(
            f"HPA {hpa['name']}: {hpa['minReplicas']}-{hpa['maxReplicas']} replicas; targets {targets}; "
            f"scale-up stabilization {hpa['scaleUpStabilizationSeconds']} s", markup=False
        )
    for name, schedule in settings["cronJobs"].items():
        stdout.print(f"CronJob {name}: '{schedule}' (UTC)", markup=False)
    for db in settings["databases"]:
        stdout.print(
            f"Database {db['role']} {db['identifier']} in {db['region']}"
            + (f", multi-AZ {db['multiAz']}, backups kept {db['backupRetentionDays']} days" if db["role"] == "primary" else ""),
            markup=False,
        )
    stdout.print(f"CloudWatch alarms: {settings['alarms']}")
