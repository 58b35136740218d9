"""`scraper-ops release promote`, and the release gate `maintenance run` applies to a production stack.

The gate and the window check are used by `maintenance run` (automation/cli/maintenance.py) as well.
"""

from __future__ import annotations

import time
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Optional

import typer

from automation.aws import Aws, aws_errors
from automation.cli.common import (
    BackendOption,
    OutDirOption,
    check_image_option,
    emit,
    progress,
    stack_config,
    wait_policy,
    window_model,
    write_report,
)
from automation.console import Table
from automation.errors import BadInput, CheckFailed
from automation.reports import utcnow

if TYPE_CHECKING:
    from contract.outputs import Maintenance, StackOutputs
    from infra.config import StackConfig

release_app = typer.Typer(help="Releases: staging before production.", no_args_is_help=True)


def gate_for_maintenance(config: StackConfig, stack: str, outputs: StackOutputs, aws: Aws, image: str,
                         force: bool, reason: str) -> Optional[dict]:
    """On a stack with `release.promotedFrom`: the image must have a passed promotion record, or the run is forced
    (emergency maintenance, the override in the record). None on a stack that takes no promotions."""
    from automation import promotion

    release = config.release
    if not release.promoted_from:
        return None
    with aws_errors():
        verdict = promotion.release_gate(aws.client("s3"), outputs.opsBucket, image, stack, release.promoted_from,
                                         release.soak_minutes, force, reason)
    if verdict.refusal and not force:
        raise CheckFailed(
            f"{stack} deploys only images that passed on {release.promoted_from}: {verdict.refusal}. Run "
            f"`scraper-ops release promote --image {image} --from {release.promoted_from} --to {stack}` first; for "
            "emergency maintenance pass --force --reason TEXT (the record says the gate was overridden). Nothing "
            "was changed")
    return verdict.to_json()


def window_already_maintained(outputs: StackOutputs, aws: Aws, window: Maintenance, now: datetime) -> bool:
    """Whether the newest maintenance record in the ops bucket is of the window open now: the trigger fires more
    than once per window (GitHub may delay or drop a scheduled run), and only the first of them maintains."""
    from automation.reports import latest_report
    from automation.windows import current_window

    current = current_window(window, now)
    with aws_errors():
        found = latest_report(aws.client("s3"), outputs.opsBucket, "maintenance")
    return bool(current and found and (found[0].get("window") or {}).get("start") == current.start.isoformat())


def promote(
    image: str = typer.Option(..., "--image", help="The release, pinned by digest: repo:tag@sha256:<digest>."),
    source: Optional[str] = typer.Option(None, "--from", help="Staging stack (default: the target's release.promotedFrom)."),
    target: str = typer.Option("prod", "--to", help="The production stack the release is promoted to."),
    soak_minutes: Optional[int] = typer.Option(
        None, "--soak", min=1, max=24 * 60, help="Soak minutes on staging (default and minimum: the target's "
        "release.soakMinutes)."),
    url: Optional[str] = typer.Option(None, "--url", help="Smoke-test this base URL of staging instead of its serviceUrl."),
    source_outputs: Optional[Path] = typer.Option(None, "--from-outputs", help="Staging's outputs JSON."),
    target_outputs: Optional[Path] = typer.Option(None, "--to-outputs", help="The target's outputs JSON."),
    backend: str = BackendOption,
    out: Optional[Path] = OutDirOption,
    as_json: bool = typer.Option(False, "--json", help="Print the promotion record as JSON."),
) -> None:
    """Run the maintenance flow on staging with the image, soak while staging's SLO signals hold, and record the
    promotion (digest and evidence) in the target's ops bucket, where `maintenance run` on it looks."""
    from automation import maintenance as maintenance_job
    from automation import promotion
    from automation.outputs import outputs_of
    from automation.runner import OfflineRunner, stack_runner

    check_image_option(image)
    target_config = stack_config(OfflineRunner(target))
    required = target_config.release.promoted_from
    if not required:
        raise BadInput(f"--to {target}: the stack takes no promotions (its release.promotedFrom is not set)")
    source = source or required
    if source != required:
        raise BadInput(f"--from {source}: {target} takes releases from {required} only (release.promotedFrom)")
    minimum = target_config.release.soak_minutes
    minutes = minimum if soak_minutes is None else soak_minutes
    if minutes < minimum:
        raise BadInput(f"--soak {minutes}: {target} requires a soak of at least {minimum} minutes (release.soakMinutes)")
    runner = stack_runner(source, backend, on_event=progress)
    source_config = stack_config(runner)
    staging = outputs_of(source_outputs, runner)
    production = outputs_of(target_outputs, None if target_outputs else stack_runner(target, backend))
    aws = Aws(staging.region, staging.drRegion)
    staging_run = maintenance_job.MaintenanceRun(
        runner, aws, staging, window_model(source_config), source_config.app.image,
        maintenance_job.Options(image=image, force=True, reason=f"release promotion of {image} to {target}",
                                smoke_url=url, purpose="promotion"),
        wait=wait_policy(), say=progress,
    )
    watch = promotion.SoakWatch(aws.client("cloudwatch"), staging, url or staging.serviceUrl)
    with aws_errors():
        record, staging_record = promotion.promote(
            image, source, target, staging_run, watch, minutes, CLOCK, SLEEP, progress,
            maintenance_job.lock_owner())
        created = utcnow()
        written = []
        if staging_record is not None:
            written += write_report(staging_record.report(created), ("json", "md"), out, aws.client("s3"),
                                    staging.opsBucket, basename=f"maintenance-{staging_record.run_id}")
        target_aws = Aws(production.region, production.drRegion)
        written += write_report(record.report(created), ("json", "md"), out, target_aws.client("s3"),
                                production.opsBucket, basename=promotion.record_basename(image, created))
    table = Table(title=f"Promotion of {record.digest} from {source} to {target}: {record.outcome}")
    for column in ("stage", "outcome", "detail"):
        table.add_column(column)
    maintenance = record.staging_maintenance
    table.add_row(f"{source} maintenance", maintenance["outcome"] if maintenance else "refused",
                  maintenance["run_id"] if maintenance else "")
    if record.soak:
        table.add_row(f"soak {record.soak.minutes} min", "held" if record.soak.held else "BREACHED",
                      record.soak.breach or f"{len(record.soak.samples)} samples")
    lines = [f"written: {', '.join(written)}"]
    if backend == "offline":
        lines.insert(0, "offline backend: the staging update was recorded under .scraper-ops/, nothing was deployed")
    emit(as_json, record.to_json(), table, lines)
    if not record.passed:
        raise CheckFailed(f"promotion of {record.digest} failed: " + "; ".join(record.problems))


CLOCK: Callable[[], datetime] = lambda: datetime.now(timezone.utc)  # noqa: E731 - replaced by tests
SLEEP: Callable[[float], None] = time.sleep

release_app.command("promote")(promote)
