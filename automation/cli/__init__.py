"""The `scraper-ops` command: the operations guide's scripts as one CLI.

Command modules are imported inside their commands, so that `plan` (the main
job, with a start-up budget) does not load the HTTP, Automation API and
charting stacks it does not use.

Exit codes (DESIGN.md): 0 done and healthy, 1 a check failed, 2 bad input or
usage, 3 the environment is missing something.
"""

from __future__ import annotations

import json
import os
import sys
import traceback
from pathlib import Path
from typing import TYPE_CHECKING, Optional

import typer
from rich.console import Console
from rich.markup import escape

from automation import reports
from automation.aws import Aws, aws_errors
from automation.console import OpsConsole, ReaderMayLeave, Table, WaitReporter, table_of
from automation.errors import BadInput, CheckFailed, MissingEnvironment, OpsError
from automation.reports import FORMATS, Report, Verdict, utcnow
from automation.reports import Table as ReportTable

if TYPE_CHECKING:
    from automation import aws_model, policy_check
    from automation import plan as planning
    from automation.backup import WaitPolicy
    from automation.snapshot_expiry import ExpiryResult
    from contract.outputs import Maintenance, StackOutputs
    from infra.config import StackConfig

app = typer.Typer(
    name="scraper-ops",
    help="Operations of the Social Media Scraper: plans, maintenance, backups, DR, reports.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,  # Click's plain help: flags read `--json`, not `--json <bool>`; help text is never markup
)
stdout = OpsConsole()
stderr = OpsConsole(stderr=True)
waits = WaitReporter(stderr)  # long waits: a live line on a terminal, a line a minute in pipes and CI



_session = {"debug": False}


def _version(asked: bool) -> None:
    if asked:
        stdout.print(f"scraper-ops {_installed_version()}", markup=False)
        raise typer.Exit()


def _installed_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("social-media-scraper-ops")
    except PackageNotFoundError:  # run from a checkout that was never installed
        import tomllib
        return tomllib.loads((Path(__file__).parents[2] / "pyproject.toml").read_text())["project"]["version"]


@app.callback()
def _root(debug: bool = typer.Option(False, "--debug", help="On an unexpected error, print its traceback."),
          version: bool = typer.Option(False, "--version", callback=_version, is_eager=True,
                                       help="Print the version of scraper-ops and exit.")) -> None:
    """Operations of the Social Media Scraper: plans, maintenance, backups, DR, reports."""
    _session["debug"] = debug


def write_report(report: Report, formats: tuple[str, ...], out: Optional[Path], s3, bucket: str,
                 basename: str | None = None) -> list[str]:
    """Every local file first, then the ops bucket: a failed upload is a warning naming the local files."""
    written = reports.write_report(report, formats, out, s3, bucket, basename=basename)
    if written.upload_failure:
        stderr.print(f"warning: {written.upload_failure}", markup=False, highlight=False)
    return written


def _check_url(url: str | None) -> None:
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
app.add_typer(policy_app, name="policy")


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


def _ops_context(stack: Optional[str], outputs_file: Optional[Path], backend: str) -> tuple[StackOutputs, Aws]:
    from automation.outputs import resolve_outputs
    outputs = resolve_outputs(outputs_file, stack, backend)
    return outputs, Aws(outputs.region, outputs.drRegion)


def _emit(as_json: bool, document: dict, table: Table | None, lines: list[str] = ()) -> None:
    if as_json:
        sys.stdout.write(json.dumps(document, indent=2, default=str) + "\n")
        return
    for line in lines:
        stdout.print(line, markup=False, highlight=False)
    if table is not None:
        stdout.print(table)


def _mark(ok: bool | None) -> str:
    return {True: "✓", False: "✗", None: "-"}[ok]


@app.command()
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
    _check_url(url)
    outputs, aws = _ops_context(stack, outputs_file, backend)
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
        table.add_row(_mark(check.ok), check.name, str(check.status or "-"), latency, str(check.attempts), check.detail)
    p95 = f"{result.p95_seconds * 1000:.0f} ms" if result.p95_seconds is not None else "n/a"
    _emit(as_json, result.to_json(), table,
          [f"p95 latency {p95} (objective {result.objective_seconds:g} s); "
           + published])
    if not result.ok:
        raise CheckFailed("smoke tests failed: " + "; ".join(result.problems))


metrics_app = typer.Typer(help="Operational metrics.", no_args_is_help=True)
app.add_typer(metrics_app, name="metrics")


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
    outputs, aws = _ops_context(stack, outputs_file, backend)
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
        table.add_row(_mark(objective.met if objective else None), key,
                      "no data" if value is None else f"{value:,.3f}", f"{objective.target:g}" if objective else "")
    _emit(as_json, data, table, [f"written: {', '.join(written)}"])
    if missed:
        raise CheckFailed("objectives missed: " + ", ".join(
            f"{o.name} {'no data' if o.value is None else f'{o.value:.3f}'} (target {o.target:g})" for o in missed))


backup_app = typer.Typer(help="Database backups.", no_args_is_help=True)
app.add_typer(backup_app, name="backup")


def _wait_policy() -> WaitPolicy:
    from automation.backup import WaitPolicy
    delay = os.environ.get("SCRAPER_OPS_WAIT_DELAY_SECONDS")
    if not delay:
        return WaitPolicy(observe=waits)
    if not delay.isdigit() or int(delay) < 1:
        raise BadInput(f"SCRAPER_OPS_WAIT_DELAY_SECONDS={delay!r}: must be a whole number of seconds, 1 or more")
    return WaitPolicy(delay_seconds=int(delay), observe=waits)


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
    outputs, aws = _ops_context(stack, outputs_file, backend)
    now = utcnow()
    with aws_errors():
        result = backup_job.create_backup(aws, outputs, reason, now, _wait_policy())
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
        table.add_row(_mark(step.ok), step.name, f"{step.seconds:.1f}", step.detail)
    if expiry is not None:
        _expiry_rows(table, expiry)
    lines = [] if expiry or not result.ok else [
        "snapshot expiry skipped: the stack outputs have no snapshotRetention (update the stack)"]
    _emit(as_json, {**result.to_json(), "expiry": expiry.to_json() if expiry else None}, table, lines)
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
            table.add_row(_mark(decision.action != "failed"), f"expire ({decision.region})", "",
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
    outputs, aws = _ops_context(stack, outputs_file, backend)
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
        table.add_row(_mark(d.action != "failed"), d.region, d.snapshot_id, d.created, d.action, d.reason)
    removed = [f"{d.snapshot_id} ({d.region})" for d in expiry.decisions if d.action in ("deleted", "would delete")]
    _emit(as_json, expiry.to_json(), table, [
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
    outputs, aws = _ops_context(stack, outputs_file, backend)
    now = utcnow()
    with aws_errors():
        result = backup_job.verify_backups(aws, outputs, now, restore_test, _wait_policy())
        report = Report("backups", "Backup verification", outputs.stack, result.ok, result.to_json(), created=now,
                        verdicts=_failed_checks(result.checks),
                        tables=[ReportTable("Checks", ("check", "ok", "evidence"),
                                      [(c.name, _mark(c.ok), c.evidence) for c in result.checks])])
        written = write_report(report, ("json", "md"), out, aws.client("s3"), outputs.opsBucket,
                               basename=f"verify-{report.stamp}")
    table = Table(title="Backup verification")
    for column in ("", "check", "evidence"):
        table.add_column(column)
    for check in result.checks:
        table.add_row(_mark(check.ok), check.name, check.evidence)
    if result.restore:
        table.add_row(_mark(result.restore.ok), "restore test", result.restore.detail)
    _emit(as_json, result.to_json(), table, [f"written: {', '.join(written)}"])
    if not result.ok:
        raise CheckFailed("backup verification failed")


def _failed_checks(checks) -> list:
    """A check report's verdict block: each failed check, critical; none when all passed (the outcome says so)."""
    return [Verdict("critical", f"{c.name} failed: {c.evidence}") for c in checks if not c.ok]


dr_app = typer.Typer(help="Disaster recovery.", no_args_is_help=True)
app.add_typer(dr_app, name="dr")


@dr_app.command("test")
def dr_test(
    replication_timeout: Optional[float] = typer.Option(
        None, "--replication-timeout", min=1, help="Seconds to wait for the sentinel (default: the RPO)."
    ),
    poll_interval: float = typer.Option(
        1.0, "--poll-interval", min=0.1, max=60, help="Seconds between sentinel checks: the replication time's resolution."
    ),
    out: Optional[Path] = OutDirOption,
    as_json: bool = JsonOption,
    stack: Optional[str] = OpsStackOption,
    outputs_file: Optional[Path] = OutputsOption,
    backend: str = BackendOption,
) -> None:
    """The monthly DR drill: replica lag, bucket replication with a sentinel, a timed restore; RPO and RTO measured."""
    from automation import dr as dr_job
    outputs, aws = _ops_context(stack, outputs_file, backend)
    now = utcnow()
    with aws_errors():
        result = dr_job.run_dr_test(aws, outputs, now, _wait_policy(), replication_timeout,
                                    dr_job.Polling(poll_interval, observe=waits))
        document = result.to_json(outputs)
        report = Report(
            "dr", "Disaster recovery test", outputs.stack, result.ok, document, created=now,
            verdicts=_failed_checks(result.checks),
            summary=[
                result.rpo_line(outputs.objectives.rpoMinutes * 60),
                f"RTO target {outputs.objectives.rtoMinutes * 60} s, measured {_seconds(result.measured_rto_seconds)}",
                *result.cleanup,
            ],
            tables=[ReportTable("Checks", ("check", "ok", "evidence"), [(c.name, _mark(c.ok), c.evidence) for c in result.checks])],
        )
        written = write_report(report, ("md", "json"), out, aws.client("s3"), outputs.opsBucket)
    table = Table(title="Disaster recovery test")
    for column in ("", "check", "evidence"):
        table.add_column(column)
    for check in result.checks:
        table.add_row(_mark(check.ok), check.name, check.evidence)
    _emit(as_json, document, table, [*report.summary, f"written: {', '.join(written)}"])
    if not result.ok:
        raise CheckFailed("disaster recovery test failed: " + "; ".join(c.name for c in result.checks if not c.ok))


def _seconds(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.0f} s"


from automation.cli import dr as dr_commands  # noqa: E402 - the runbook commands join the dr group here

dr_app.command("failover")(dr_commands.failover)
dr_app.command("failback")(dr_commands.failback)


@app.command()
def checklist(
    name: str = typer.Argument(..., help="daily, weekly or monthly"),
    as_json: bool = JsonOption,
    stack: Optional[str] = OpsStackOption,
    outputs_file: Optional[Path] = OutputsOption,
    backend: str = BackendOption,
) -> None:
    """The guide's operational checklists, each item checked with its evidence."""
    from automation import checklist as checklists
    if name not in checklists.CHECKLISTS:
        raise BadInput(f"unknown checklist {name!r}; use one of: {', '.join(checklists.CHECKLISTS)}")
    outputs, aws = _ops_context(stack, outputs_file, backend)
    with aws_errors():
        items = checklists.run_checklist(name, checklists.Context(aws, outputs, utcnow()))
    table = Table(title=f"{name.capitalize()} checklist ({outputs.stack})")
    for column in ("", "item", "evidence"):
        table.add_column(column)
    symbols = {checklists.PASS: "✓", checklists.FAIL: "✗", checklists.MANUAL: "manual"}
    for item in items:
        table.add_row(symbols[item.state], item.text, item.evidence)
    _emit(as_json, {"checklist": name, "items": [i.to_json() for i in items]}, table)
    failed = [i.text for i in items if i.state == checklists.FAIL]
    if failed:
        raise CheckFailed(f"{name} checklist: failed: {', '.join(failed)}")


maintenance_app = typer.Typer(help="The monthly maintenance window.", no_args_is_help=True)
app.add_typer(maintenance_app, name="maintenance")


def _stack_config(runner) -> StackConfig:
    return _parsed_config(runner.stack_name, runner.get_config())


def _parsed_config(stack: str, raw: dict[str, str]) -> StackConfig:
    from automation.stack_files import invalid_config
    from infra.config import ConfigError, parse_stack_config
    try:
        return parse_stack_config(raw)
    except ConfigError as error:
        raise invalid_config(stack, error) from None


def _window_model(config: StackConfig) -> Maintenance:
    from contract.outputs import Maintenance
    window = config.maintenance
    return Maintenance(windowStart=window.window_start, durationMinutes=window.duration_minutes,
                       cutoffMinutes=window.cutoff_minutes)


def _progress(line: str) -> None:
    stderr.print(line, markup=False, highlight=False)


@maintenance_app.command("next")
def maintenance_next(
    count: int = typer.Option(3, "--count", min=1, max=24, help="How many windows."),
    stack: str = StackOption,
    as_json: bool = JsonOption,
) -> None:
    """The next maintenance windows of a stack, in UTC and in local time, how long until each, and the cutoff."""
    from automation.stack_files import project_dir, read_stack_file
    from automation.windows import STEP_BUDGET_MINUTES, next_windows
    config = _parsed_config(stack, read_stack_file(stack, project_dir()))
    now = utcnow()
    windows = next_windows(_window_model(config), now, count)
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
    _emit(as_json, {"windows": [{"start": w.start.isoformat(), "end": w.end.isoformat(), "cutoff": w.cutoff.isoformat(),
                                 "startLocal": w.start.astimezone().isoformat(),
                                 "startsInSeconds": int((w.start - now).total_seconds())} for w in windows],
                    "cutoff": cutoff}, table,
          [f"the next window of {stack} starts in {_time_until((windows[0].start - now).total_seconds())}", cutoff])


def _time_until(seconds: float) -> str:
    """`6 d 23 h 40 min`: a wait in the units an SRE plans with (the hours and minutes when under a day)."""
    minutes = max(0, int(seconds // 60))
    parts = [(minutes // 1440, "d"), (minutes % 1440 // 60, "h"), (minutes % 60, "min")]
    return " ".join(f"{n} {unit}" for n, unit in parts if n) or "under a minute"


def _check_image_option(image: str | None) -> None:
    """The same rule as the stack config's `app.image`: pinned by digest, so what is tested is what runs."""
    from infra.config import check_pinned_image

    if image is None:
        return
    try:
        check_pinned_image(image)
    except ValueError as error:
        raise BadInput(f"--image {image!r}: {error}") from None


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
    from automation.outputs import parse_outputs, read_outputs_file
    from automation.runner import stack_runner
    from automation.windows import current_window, next_windows
    if force and not reason.strip():
        raise BadInput("--force needs --reason TEXT: emergency maintenance must say why")
    if allow_replace and not reason.strip():
        raise BadInput("--allow-replace needs --reason TEXT: a protected resource is unprotected for its replacement "
                       "only with the reason in the maintenance record")
    if scheduled and force:
        raise BadInput("--scheduled and --force exclude each other: the trigger runs only in the window")
    _check_image_option(image)
    _check_url(url)
    runner = stack_runner(stack, backend, on_event=_progress)
    config = _stack_config(runner)
    if scheduled and current_window(_window_model(config), utcnow()) is None:
        upcoming = next_windows(_window_model(config), utcnow(), 1)[0]
        _emit(as_json, {"outcome": "not the window", "nextWindow": upcoming.start.isoformat()}, None,
              [f"not the maintenance window of {stack}; the next one starts {upcoming.start:%Y-%m-%d %H:%M} UTC. "
               "Nothing was done."])
        return
    outputs = read_outputs_file(outputs_file) if outputs_file else parse_outputs(runner.outputs(), f"stack {stack}")
    aws = Aws(outputs.region, outputs.drRegion)
    if scheduled and release_commands.window_already_maintained(outputs, aws, _window_model(config), utcnow()):
        _emit(as_json, {"outcome": "window already maintained"}, None,
              [f"this window of {stack} already has a maintenance record; nothing was done"])
        return
    gate = release_commands.gate_for_maintenance(config, stack, outputs, aws, image or config.app.image, force, reason)
    run = maintenance_job.MaintenanceRun(
        runner, aws, outputs, _window_model(config), config.app.image,
        maintenance_job.Options(image=image, force=force, reason=reason, allow_replace=tuple(allow_replace),
                                smoke_url=url, release_gate=gate),
        wait=_wait_policy(), say=_progress,
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
    _emit(as_json, record.to_json(), table, lines)
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
    outputs, aws = _ops_context(stack, outputs_file, backend)
    with aws_errors():
        result = maintenance_job.unlock(aws, outputs, reason, utcnow())
        record = result.report()
        written = write_report(record, ("json", "md"), out, aws.client("s3"), outputs.opsBucket,
                               basename=f"unlock-{record.stamp}")
    _emit(as_json, result.to_json(), None, [*result.summary(), f"written: {', '.join(written)}"])


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
    _check_image_option(image)
    # Each resource step is a row of the table below: only the engine's warnings and errors stream while it runs.
    runner = stack_runner(stack, backend, on_event=lambda line: None if is_change_event(line) else _progress(line))
    config = _stack_config(runner)
    result = maintenance_job.rehearse(runner, _window_model(config), config.app.image, image, utcnow())
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
    _emit(as_json, result, table, lines)


@app.command("scale")
def scale_command(
    stack: str = typer.Option(..., "--stack", help="The stack whose HPA bounds change."),
    minimum: int = typer.Option(..., "--min", help="New HPA minReplicas."),
    maximum: Optional[int] = typer.Option(None, "--max", help="New HPA maxReplicas."),
    backend: str = BackendOption,
    as_json: bool = JsonOption,
) -> None:
    """The guide's scale.sh as IaC: change the HPA bounds in stack config and update only the HPA."""
    from automation import maintenance as maintenance_job
    from automation import scale as scale_job
    from automation.runner import stack_runner
    runner = stack_runner(stack, backend, on_event=_progress)
    result = scale_job.scale(runner, minimum, maximum,
                             f"scraper-ops scale by {maintenance_job.lock_owner()}: min {minimum}"
                             + (f", max {maximum}" if maximum is not None else ""))
    _emit(as_json, result, None, [
        f"HPA bounds of {stack}: {result['previous']['minReplicas']}-{result['previous']['maxReplicas']} -> "
        f"{result['minReplicas']}-{result['maxReplicas']} (update {result['update']}, {backend} backend)"
    ])


capacity_app = typer.Typer(help="Capacity planning.", no_args_is_help=True)
app.add_typer(capacity_app, name="capacity")
cost_app = typer.Typer(help="Cost reviews and estimates.", no_args_is_help=True)
app.add_typer(cost_app, name="cost")
FormatOption = typer.Option(list(FORMATS), "--format", help="Report format: md, html or json (repeatable).")


def _formats(formats: list[str]) -> tuple[str, ...]:
    unknown = [f for f in formats if f not in FORMATS]
    if unknown:
        raise BadInput(f"unknown report format {', '.join(unknown)}; use md, html or json")
    return tuple(dict.fromkeys(formats))


def _sized_outputs(stack: Optional[str], outputs_file: Optional[Path], backend: str) -> tuple[StackOutputs, Aws]:
    """The stack's outputs (--outputs, --stack, or the in-cluster mount) with the `sizing` the reports measure
    against: no stack file needed, so the ops image's CronJobs run the reports from the mounted outputs alone."""
    outputs, aws = _ops_context(stack, outputs_file, backend)
    if outputs.sizing is None:
        raise BadInput(f"the outputs of stack {outputs.stack} have no `sizing` (a stack updated before the reports "
                       "read it from the outputs): run `pulumi up` on the stack, then try again")
    return outputs, aws


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
    chosen = _formats(formats)
    outputs, aws = _sized_outputs(stack, outputs_file, backend)
    now = utcnow()
    with aws_errors():
        result = capacity_job.build_report(aws.client("cloudwatch"), outputs, outputs.sizing, days, now)
        report = capacity_job.report_of(result, outputs.stack, now, _savings(outputs, result),
                                        bool({"md", "html"} & set(chosen)))
        written = write_report(report, chosen, out, aws.client("s3"), outputs.opsBucket)
    table = Table(title=report.title)
    for column in ("metric", "p50", "p95", "max", "trend/day", "threshold", "reaches threshold"):
        table.add_column(column)
    for title, unit, p50, p95, peak, slope, threshold, reached in capacity_job.threshold_table(result, now):
        table.add_row(f"{title} ({unit})", *(_num(v) for v in (p50, p95, peak, slope, threshold)), reached)
    _print_verdicts(report)
    stdout.print(table)
    for line in [*report.summary, *report.footer, f"written: {', '.join(written)}"]:
        stdout.print(line, markup=False, highlight=False)
    critical = [v.text for v in report.findings if v.severity == "critical"]
    if critical:
        raise CheckFailed("capacity critical: " + "; ".join(critical))


def _print_verdicts(report: Report) -> None:
    """The verdict block first, most urgent first, as the report files open."""
    stdout.print(f"Verdict: {report.outcome}", markup=False, highlight=False)
    for verdict in report.findings:
        stdout.print(f"  {verdict.severity.upper():8} {verdict.text}", markup=False, highlight=False)


def _savings(outputs: StackOutputs, capacity) -> list[dict]:
    """What the capacity analysis would save a month, from the price table."""
    from automation import cost as cost_job
    db_cpu = next(s for s in capacity.series if s.key == "db_cpu")
    sizing = outputs.sizing
    return cost_job.savings_from_capacity(
        capacity.rightsizing, sizing.minReplicas, outputs.region, db_cpu.p95, sizing.dbInstanceClass,
        sizing.dbInstances, sizing.nodeInstanceType)


def _num(value: Optional[float]) -> str:
    return "-" if value is None else f"{value:,.2f}"


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
    chosen = _formats(formats)
    outputs, aws = _sized_outputs(stack, outputs_file, backend)
    now = utcnow()
    with aws_errors():
        capacity = capacity_job.build_report(aws.client("cloudwatch"), outputs, outputs.sizing, 30, now)
        result = cost_job.review(aws.client("ce", "us-east-1"), aws.client("cloudwatch"), outputs,
                                 outputs.sizing.monthlyBudgetUsd, months, now.date(), _savings(outputs, capacity))
        report = cost_job.review_report(result, outputs.stack, now, bool({"md", "html"} & set(chosen)))
        written = write_report(report, chosen, out, aws.client("s3"), outputs.opsBucket)
    _print_verdicts(report)
    for table in report.tables:
        rich_table = Table(title=table.title)
        for column in table.columns:
            rich_table.add_column(str(column))
        for row in table.rows:
            rich_table.add_row(*(_num(v) if isinstance(v, float) or v is None else str(v) for v in row))
        stdout.print(rich_table)
    for line in [*report.summary, *report.footer, f"written: {', '.join(written)}"]:
        stdout.print(line, markup=False, highlight=False)
    if result.over_budget:
        raise CheckFailed("over budget: " + "; ".join(result.over_budget))


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
    _emit(as_json, document, table, lines)
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
    config = _stack_config(OfflineRunner(stack))
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


from automation.cli import release as release_commands  # noqa: E402 - the release commands, after the helpers they use

app.add_typer(release_commands.release_app, name="release")


def main(argv: list[str] | None = None) -> int:
    """Console-script entry: runs the app and turns every error into its exit code and one clear line.

    An error no code path expected is one line too, with its traceback only under `--debug`. stdout may close
    early (piped into `head`): the command still runs to its end and its exit code is its own.
    """
    _session["debug"] = False
    real_stdout = sys.stdout
    sys.stdout = ReaderMayLeave(real_stdout)
    try:
        return _run(argv)
    finally:
        waits.close()
        sys.stdout.flush()
        sys.stdout = real_stdout


def _run(argv: list[str] | None) -> int:
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
    except typer.TyperException as error:  # usage errors: unknown option, missing argument, out of range...
        context, message = getattr(error, "ctx", None), " ".join(error.format_message().split())
        if message:  # empty after a group's help was shown (no command given)
            help_hint = f"; see `{context.command_path} --help`" if context is not None else ""
            stderr.print(f"scraper-ops: {message}{help_hint}", markup=False, highlight=False)
        return 2 if error.exit_code == 1 else error.exit_code
    except Exception as error:  # noqa: BLE001 - the top-level handler: one line, the traceback only on request
        if _session["debug"]:
            traceback.print_exc()
        stderr.print(f"scraper-ops: unexpected error: {type(error).__name__}: {error} "
                     "(run with --debug before the command for the traceback)", markup=False, highlight=False)
        return 1
    return 0
