"""The `scraper-ops` command: the operations guide's scripts as one CLI.

Exit codes (DESIGN.md): 0 done and healthy, 1 a check failed, 2 bad input or
usage, 3 the environment is missing something.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Optional

import typer
from rich.console import Console
from rich.table import Table

from automation import plan as planning
from automation import policy_check
from automation.errors import CheckFailed, OpsError

app = typer.Typer(
    name="scraper-ops",
    help="Operations of the Social Media Scraper: plans, maintenance, backups, DR, reports.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
stdout = Console(soft_wrap=True)
stderr = Console(stderr=True, soft_wrap=True)



@app.callback()
def _root() -> None:
    """Operations of the Social Media Scraper: plans, maintenance, backups, DR, reports."""


StackOption = typer.Option("prod", "--stack", help="Pulumi stack name (reads Pulumi.<stack>.yaml).")
PolicyConfigOption = typer.Option(
    None, "--policy-config", help="Policy pack config JSON, as for `pulumi preview --policy-pack-config`."
)


@app.command()
def plan(
    stack: str = StackOption,
    as_json: bool = typer.Option(False, "--json", help="Print the plan as one JSON document."),
    manifests: Optional[Path] = typer.Option(
        None, "--manifests", help="Write every Kubernetes object as YAML here, validated in strict mode."
    ),
    policy_config: Optional[Path] = PolicyConfigOption,
) -> None:
    """Offline plan of a stack: run the program under the mock engine and the policy pack; nothing is deployed."""
    config = policy_check.load_policy_config(policy_config)
    result = planning.offline_plan(stack)
    violations = policy_check.evaluate(result, config)
    checks = planning.check_manifests(result, result.config.cluster.kubernetes_version) if manifests else []
    invalid = [check for check in checks if check.errors]
    written = planning.write_manifests(checks, manifests) if manifests else []
    if as_json:
        sys.stdout.write(json.dumps(result.to_json(), indent=2) + "\n")
        _print_violations(stderr, violations, result)
    else:
        _print_plan(result)
        _print_violations(stdout, violations, result)
        if manifests and not invalid:
            stdout.print(f"Wrote {len(written)} Kubernetes manifests to {manifests}, all valid against "
                         f"Kubernetes {result.config.cluster.kubernetes_version} (strict).")
    for check in invalid:
        for error in check.errors:
            stderr.print(f"invalid manifest {check.filename}: {error}", markup=False, highlight=False)
    failures = []
    if invalid:
        failures.append(f"{len(invalid)} of {len(checks)} Kubernetes manifests are invalid; none was written")
    mandatory = [v for v in violations if v.level == "mandatory"]
    if mandatory:
        failures.append(f"{len(mandatory)} mandatory policy violations")
    if failures:
        raise CheckFailed("; ".join(failures))


policy_app = typer.Typer(help="The CrossGuard policy pack, run offline.", no_args_is_help=True)
app.add_typer(policy_app, name="policy")


@policy_app.command("check")
def policy_check_command(
    plan_file: Path = typer.Option(..., "--plan", help="A plan saved with `scraper-ops plan --json`."),
    as_json: bool = typer.Option(False, "--json", help='Print {"violations": [...]} as JSON.'),
    policy_config: Optional[Path] = PolicyConfigOption,
) -> None:
    """Evaluate the policy pack over a saved plan; exit 1 on a mandatory violation."""
    config = policy_check.load_policy_config(policy_config)
    saved = policy_check.load_plan(plan_file)
    violations = policy_check.evaluate(saved, config)
    if as_json:
        sys.stdout.write(json.dumps({"violations": [v.to_json() for v in violations]}, indent=2) + "\n")
    else:
        _print_violations(stdout, violations, saved)
    mandatory = [v for v in violations if v.level == "mandatory"]
    if mandatory:
        raise CheckFailed(f"{len(mandatory)} mandatory policy violations in {plan_file}")


def _print_violations(console: Console, violations: list[policy_check.Violation], plan: planning.Plan) -> None:
    resources = sum(r.custom and not r.type.startswith("pulumi:providers:") for r in plan.resources)
    mandatory = sum(v.level == "mandatory" for v in violations)
    console.print(
        f"Policy pack: {len(policy_check.POLICIES)} policies over {resources} resources: "
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
    summary = planning.summarize(result)
    stdout.print(
        f"[bold]Offline plan[/bold] of stack [bold]{result.stack}[/bold] (project {result.project}): "
        f"{summary['resources']} resources, nothing deployed."
    )
    providers = ", ".join(f"{name} ({region})" if region else name for name, region in summary["providers"])
    stdout.print(f"Providers: {providers}")
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
            f"scale-up stabilization {hpa['scaleUpStabilizationSeconds']} s"
        )
    for name, schedule in settings["cronJobs"].items():
        stdout.print(f"CronJob {name}: '{schedule}' (UTC)")
    for db in settings["databases"]:
        stdout.print(
            f"Database {db['role']} {db['identifier']} in {db['region']}"
            + (f", multi-AZ {db['multiAz']}, backups kept {db['backupRetentionDays']} days" if db["role"] == "primary" else "")
        )
    stdout.print(f"CloudWatch alarms: {settings['alarms']}")


def main(argv: list[str] | None = None) -> int:
    """Console-script entry: runs the app and turns every error into its exit code and one clear message."""
    try:
        app(args=argv, standalone_mode=False)
    except OpsError as error:
        stderr.print(f"scraper-ops: {error}", markup=False, highlight=False)
        return error.exit_code
    except typer.Exit as error:
        return error.exit_code
    except typer.Abort:
        stderr.print("scraper-ops: aborted", markup=False)
        return 130
    except typer.TyperException as error:  # usage errors: unknown option, missing argument...
        show = getattr(error, "show", None)
        if show:
            show()
        else:
            stderr.print(f"scraper-ops: {error.format_message()}", markup=False)
        return 2 if error.exit_code == 1 else error.exit_code
    return 0
