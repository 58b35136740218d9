"""Rules for CronJobs: no overlapping runs, deadlines, bounded retries and history, valid schedules,
and the guide's four scheduled jobs present."""

from __future__ import annotations

from croniter import croniter
from pulumi_policy import (
    EnforcementLevel,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationArgs,
    StackValidationPolicy,
)

from .common import K8S_CRONJOB, only, pod_spec_of
from .thresholds import schema

MANDATORY = EnforcementLevel.MANDATORY

# The guide's scheduled scripts and the scraper-ops commands that replace them.
GUIDE_JOBS = {
    ("backup", "create"): "database backup (backup_db.sh)",
    ("backup", "verify"): "backup verification (automated-backup.sh)",
    ("smoke",): "smoke tests (smoke-tests.sh all)",
    ("metrics", "collect"): "operational metrics (operational-metrics.sh)",
}


def _spec(args: ResourceValidationArgs):
    return args.props.get("spec") or {}


def forbid_concurrency(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    if _spec(args).get("concurrencyPolicy") != "Forbid":
        report_violation(f"CronJob {args.name} may run twice at once; set concurrencyPolicy: Forbid.")


def deadlines(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    spec = _spec(args)
    job = (spec.get("jobTemplate") or {}).get("spec") or {}
    if not spec.get("startingDeadlineSeconds"):
        report_violation(
            f"CronJob {args.name} has no startingDeadlineSeconds; missed runs could all start at once. Set one."
        )
    if not job.get("activeDeadlineSeconds"):
        report_violation(
            f"CronJob {args.name} has no activeDeadlineSeconds; a hung run would block every later one. Set one."
        )


def bounded_retries_and_history(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    config = args.get_config()
    spec = _spec(args)
    job = (spec.get("jobTemplate") or {}).get("spec") or {}
    retries = job.get("backoffLimit", 6)
    if retries > config["maxJobRetries"]:
        report_violation(f"CronJob {args.name} retries {retries} times; set backoffLimit <= {config['maxJobRetries']}.")
    for key, default in (("successfulJobsHistoryLimit", 3), ("failedJobsHistoryLimit", 1)):
        if spec.get(key, default) > config["maxJobHistory"]:
            report_violation(f"CronJob {args.name} keeps {spec[key]} jobs; set {key} <= {config['maxJobHistory']}.")
    pod = pod_spec_of(K8S_CRONJOB, args.props) or {}
    if pod.get("restartPolicy") not in ("Never", "OnFailure"):
        report_violation(f"CronJob {args.name} pods need restartPolicy Never or OnFailure.")


def valid_schedule(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    schedule = _spec(args).get("schedule") or ""
    if len(schedule.split()) != 5 or not croniter.is_valid(schedule) or any(c in schedule for c in "#LW"):
        report_violation(f"CronJob {args.name} has the invalid schedule '{schedule}'; use 5-field standard cron.")
    if not _spec(args).get("timeZone"):
        report_violation(f"CronJob {args.name} runs in the controller's local time; set timeZone: Etc/UTC.")


def guide_jobs_present(args: StackValidationArgs, report_violation: ReportViolation) -> None:
    commands = set()
    for cron in (r for r in args.resources if r.resource_type == K8S_CRONJOB):
        for container in (pod_spec_of(K8S_CRONJOB, cron.props) or {}).get("containers") or []:
            words = [*(container.get("command") or []), *(container.get("args") or [])]
            if words and words[0] == "scraper-ops":
                commands.add(tuple(words[1:3]))
    for command, what in GUIDE_JOBS.items():
        if not any(found[: len(command)] == command for found in commands):
            report_violation(
                f"No CronJob runs the guide's {what}; add one running `scraper-ops {' '.join(command)}`.", None
            )


POLICIES = [
    ResourceValidationPolicy(
        name="cronjob-forbid-concurrency", description="CronJobs never overlap.",
        validate=only([K8S_CRONJOB], forbid_concurrency), enforcement_level=MANDATORY,
    ),
    ResourceValidationPolicy(
        name="cronjob-deadlines", description="CronJobs have starting and active deadlines.",
        validate=only([K8S_CRONJOB], deadlines), enforcement_level=MANDATORY,
    ),
    ResourceValidationPolicy(
        name="cronjob-bounded-retries-and-history", description="CronJobs bound their retries and history.",
        validate=only([K8S_CRONJOB], bounded_retries_and_history), enforcement_level=MANDATORY,
        config_schema=schema("maxJobRetries", "maxJobHistory"),
    ),
    ResourceValidationPolicy(
        name="cronjob-valid-schedule", description="CronJob schedules are valid standard cron in UTC.",
        validate=only([K8S_CRONJOB], valid_schedule), enforcement_level=MANDATORY,
    ),
    StackValidationPolicy(
        name="ops-cronjobs-present",
        description="The guide's scheduled jobs (backup, backup verification, smoke tests, metrics) exist.",
        validate=guide_jobs_present, enforcement_level=MANDATORY,
    ),
]
